"""Ingestion: read each partition from its checkpoint, land a file, load it, repeat.

The checkpoint of a partition is the largest sequence number already in
bronze.raw_events for that source and partition; there is no second store to
drift from the data. A crash anywhere is repaired by running ingest again:
files written but not loaded are loaded first (COPY INTO skips files already
loaded), and events landed twice are removed by the bronze dedupe.
"""

from __future__ import annotations

import base64
import json
import os
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

from ecomctl.errors import EcomctlError
from ecomctl.faults import fault_point
from ecomctl.events.transport import PartitionState, ReceivedEvent, Transport
from ecomctl.warehouse.sqlfiles import string_literal

if TYPE_CHECKING:
    from ecomctl.warehouse.base import Warehouse

CHECKPOINTS_SQL = """
SELECT partition_id, MAX(sequence_number) AS checkpoint
FROM ${catalog}.${bronze}.raw_events
WHERE source = {source}
GROUP BY partition_id
"""


@dataclass
class PartitionIngest:
    partition_id: str
    start_checkpoint: int
    end_sequence: int
    received: int = 0
    expired: int = 0
    files: int = 0


@dataclass
class IngestSummary:
    partitions: list[PartitionIngest] = field(default_factory=list)
    landed_rows: int = 0

    @property
    def received(self) -> int:
        return sum(p.received for p in self.partitions)

    @property
    def expired(self) -> int:
        return sum(p.expired for p in self.partitions)

    @property
    def files(self) -> int:
        return sum(p.files for p in self.partitions)


def read_checkpoints(warehouse: "Warehouse", source: str) -> dict[str, int]:
    """Checkpoint per partition, derived from what has landed in raw_events."""
    rows = warehouse.query(CHECKPOINTS_SQL.replace("{source}", string_literal(source))).rows
    return {str(pid): int(seq) for pid, seq in rows}


def expired_unread(state: PartitionState, checkpoint: int) -> int:
    """Events between the checkpoint and the oldest retained one: they expired before landing."""
    if state.last_sequence_number < 0:
        return 0
    return max(state.beginning_sequence_number - (checkpoint + 1), 0)


def landing_file_name(source: str, partition_id: str, events: Sequence[ReceivedEvent]) -> str:
    safe_source = "".join(c if c.isalnum() else "-" for c in source)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    first, last = events[0].sequence_number, events[-1].sequence_number
    return f"{stamp}_{safe_source}_p{partition_id}_{first:012d}-{last:012d}_{uuid.uuid4().hex[:12]}.json"


def landing_body(body: bytes) -> dict[str, str]:
    """The body fields of a landing line: the text of a UTF-8 body; the bytes of any other body
    in base64 with body_encoding = 'base64' (a JSON line holds text only, and replacing the bad
    bytes would lose them). Bronze rejects a base64 body as `invalid UTF-8`, keeping it as is."""
    try:
        return {"body": body.decode("utf-8")}
    except UnicodeDecodeError:
        return {"body": base64.b64encode(body).decode("ascii"), "body_encoding": "base64"}


def write_landing_file(directory: Path, source: str, partition_id: str,
                       events: Sequence[ReceivedEvent]) -> Path:
    """Write one landing file atomically: a reader never sees half a file."""
    directory.mkdir(parents=True, exist_ok=True)
    name = landing_file_name(source, partition_id, events)
    landed_at = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    lines = []
    for event in events:
        lines.append(encode({
            "source": source,
            "partition_id": event.partition_id,
            "sequence_number": event.sequence_number,
            "offset": event.offset,
            "enqueued_time": event.enqueued_time.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "partition_key": event.partition_key,
            **landing_body(event.body),
            "landing_file": name,
            "landed_at": landed_at,
        }))
    tmp = directory / f".{name}.tmp"
    try:
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write("\n".join(lines))
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        tmp.unlink(missing_ok=True)  # e.g. a full disk: leave no partial file behind
        from ecomctl.errors import DISK_FULL_HINT, is_disk_full

        raise EcomctlError(f"cannot write the landing file {tmp}: {exc.strerror or exc}",
                           hint=DISK_FULL_HINT if is_disk_full(exc) else None) from exc
    fault_point("ingest.landing_tmp_written")
    os.replace(tmp, directory / name)
    return directory / name


def ingest_partitions(transport: Transport, checkpoints: Callable[[], dict[str, int]],
                      land_and_load: Callable[[str, Sequence[ReceivedEvent]], int],
                      batch_size: int,
                      on_progress: Callable[[int, int], None] | None = None) -> IngestSummary:
    """Drain every partition up to the end it had when ingest started.

    Each batch is landed and loaded before the next read, which starts after
    the checkpoint derived from raw_events.
    """
    summary = IngestSummary()
    start = checkpoints()
    plans: list[PartitionIngest] = []
    for pid in transport.partition_ids():
        state = transport.partition_state(pid)
        checkpoint = start.get(pid, -1)
        plans.append(PartitionIngest(pid, checkpoint, state.last_sequence_number,
                                     expired=expired_unread(state, checkpoint)))
    total = sum(max(p.end_sequence - p.start_checkpoint - p.expired, 0) for p in plans)
    done = 0
    for plan in plans:
        summary.partitions.append(plan)
        position = plan.start_checkpoint
        while position < plan.end_sequence:
            events = transport.read(plan.partition_id, position,
                                    min(batch_size, plan.end_sequence - position))
            events = [e for e in events if e.sequence_number <= plan.end_sequence]
            if not events:
                break
            fault_point("ingest.read")
            summary.landed_rows += land_and_load(plan.partition_id, events)
            fault_point("ingest.loaded")
            plan.received += len(events)
            plan.files += 1
            done += len(events)
            if on_progress:
                on_progress(done, total)
            position = checkpoints().get(plan.partition_id, position)
            if position < events[-1].sequence_number:
                raise EcomctlError(
                    f"partition {plan.partition_id}: events up to sequence number "
                    f"{events[-1].sequence_number} were landed but raw_events stops at {position}",
                    hint="check the landing folder and run ingest again")
    return summary
