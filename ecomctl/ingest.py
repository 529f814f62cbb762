"""Ingestion: read each partition from its checkpoint, land a file, load it, repeat.

The checkpoint of a partition is the largest sequence number already in
bronze.raw_events for that source and partition; there is no second store to
drift from the data. A crash anywhere is repaired by running ingest again:
files written but not loaded are loaded first (COPY INTO skips files already
loaded), and events landed twice are removed by the bronze dedupe.
"""

from __future__ import annotations

import base64
import os
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from json.encoder import encode_basestring  # type: ignore[attr-defined]
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator, Sequence

from ecomctl.errors import EcomctlError
from ecomctl.faults import fault_point
from ecomctl.events.transport import PartitionState, ReceivedEvent, Transport

if TYPE_CHECKING:
    from ecomctl.warehouse.base import Warehouse

# A landing file being written: hidden from COPY INTO (a dot file; the local adapter reads *.json),
# named .<name>.<writer pid>.tmp so that a later ingest removes only what a dead process left.
TMP_PREFIX, TMP_SUFFIX = ".", ".tmp"

# Queries whose values change from run to run take them as parameters: on the local target the
# text, and so its translation kept between runs, is then the same every run.
CHECKPOINTS_SQL = """
SELECT partition_id, MAX(sequence_number) AS checkpoint
FROM ${catalog}.${bronze}.raw_events
WHERE source = ${source}
GROUP BY partition_id
"""
PARTITION_CHECKPOINT_SQL = """
SELECT partition_id, MAX(sequence_number) AS checkpoint
FROM ${catalog}.${bronze}.raw_events
WHERE source = ${source} AND partition_id = ${partition_id} AND sequence_number > ${after}
GROUP BY partition_id
"""

# Which of some landing files raw_events holds rows of: only the names asked about, a chunk at a time.
LOADED_FILES_SQL = """
SELECT DISTINCT landing_file
FROM ${catalog}.${bronze}.raw_events
WHERE landing_file IN (${names})
"""
LOADED_FILES_PER_QUERY = 500

# The names landing_file_name() gives (and nothing hidden): the only files retention may remove.
LANDING_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*\.json$")


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
    landing_files_removed: int = 0

    @property
    def received(self) -> int:
        return sum(p.received for p in self.partitions)

    @property
    def expired(self) -> int:
        return sum(p.expired for p in self.partitions)

    @property
    def files(self) -> int:
        return sum(p.files for p in self.partitions)


def read_checkpoints(warehouse: "Warehouse", source: str, partition_id: str | None = None,
                     after: int = -1) -> dict[str, int]:
    """Checkpoint per partition, derived from what has landed in raw_events.

    With a partition_id, only that partition's rows above sequence number `after` are read: the
    check after each batch then filters instead of grouping all of raw_events (a missing entry
    means nothing above `after` has landed).
    """
    if partition_id is None:
        result = warehouse.query(CHECKPOINTS_SQL, params={"source": source})
    else:
        result = warehouse.query(PARTITION_CHECKPOINT_SQL, params={
            "source": source, "partition_id": partition_id, "after": int(after)})
    return {str(pid): int(seq) for pid, seq in result.rows}


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


@dataclass
class PreparedLandingFile:
    """A landing file written and fsynced under a hidden .tmp name; publish() renames it into the
    landing folder, where COPY INTO sees it. Until then no load can pick it up."""

    tmp: Path
    path: Path

    def publish(self) -> Path:
        fault_point("ingest.landing_tmp_written")
        os.replace(self.tmp, self.path)
        return self.path


def prepare_landing_file(directory: Path, source: str, partition_id: str,
                         events: Sequence[ReceivedEvent]) -> PreparedLandingFile:
    """Write one landing file under a hidden temporary name (see PreparedLandingFile)."""
    directory.mkdir(parents=True, exist_ok=True)
    name = landing_file_name(source, partition_id, events)
    tmp = directory / f"{TMP_PREFIX}{name}.{os.getpid()}{TMP_SUFFIX}"
    try:
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.writelines(landing_lines(source, name, events))
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        tmp.unlink(missing_ok=True)  # e.g. a full disk: leave no partial file behind
        from ecomctl.errors import DISK_FULL_HINT, is_disk_full

        raise EcomctlError(f"cannot write the landing file {tmp}: {exc.strerror or exc}",
                           hint=DISK_FULL_HINT if is_disk_full(exc) else None) from exc
    return PreparedLandingFile(tmp, directory / name)


def remove_unpublished_landing_files(directory: Path) -> int:
    """Delete the .tmp landing files that a process which is gone left behind (killed while
    writing one, or between writing and publishing it). No load has read them, and their events
    are read again from the checkpoint. A file of a live process is another ingest still writing
    it (the databricks target has no lock between two ingests): left alone. This process's own
    are from an earlier ingest of it that failed: removed."""
    removed = 0
    if not directory.is_dir():
        return removed
    for leftover in directory.glob(f"{TMP_PREFIX}*{TMP_SUFFIX}"):
        writer = leftover.name[:-len(TMP_SUFFIX)].rpartition(".")[2]
        if writer.isdigit() and int(writer) != os.getpid() and _process_alive(int(writer)):
            continue
        leftover.unlink(missing_ok=True)
        removed += 1
    return removed


def loaded_landing_files(warehouse: "Warehouse", names: Sequence[str]) -> set[str]:
    """Those of `names` that raw_events holds rows of: queried for these names only, in chunks
    of LOADED_FILES_PER_QUERY, never by reading every landing_file of raw_events."""
    loaded: set[str] = set()
    for start in range(0, len(names), LOADED_FILES_PER_QUERY):
        chunk = names[start:start + LOADED_FILES_PER_QUERY]
        rows = warehouse.query(LOADED_FILES_SQL, file="<loaded landing files>",
                               params={"names": list(chunk)}).rows
        loaded.update(str(row[0]) for row in rows)
    return loaded


def remove_loaded_landing_files(warehouse: "Warehouse", directory: Path, retention_hours: int,
                                now: float | None = None) -> int:
    """Remove the landing files older than the retention whose rows are in raw_events; returns how
    many. Loaded is read from the data: a file whose name no raw_events row carries is events not
    ingested yet and stays, whatever its age; so do hidden (.tmp) files and anything not named as
    a landing file. COPY INTO skips files it loaded by its own record, not by finding them in the
    Volume, so removing a loaded file never loads it again or loses a row. 0 hours keeps every file."""
    if retention_hours <= 0:
        return 0
    cutoff = (time.time() if now is None else now) - retention_hours * 3600
    old = [f.name for f in warehouse.landing_files(directory)
           if LANDING_NAME.match(f.name) and f.modified < cutoff]
    if not old:
        return 0
    loaded = loaded_landing_files(warehouse, old)
    removed = 0
    for name in old:
        if name in loaded:
            warehouse.remove_landing_file(directory, name)
            removed += 1
    return removed


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: it exists, as another user's
        return True
    return True


def landing_lines(source: str, name: str, events: Sequence[ReceivedEvent]) -> Iterator[str]:
    """One JSON object per event and line: the raw_events row of the event, landing file included.

    Built from pre-encoded fragments with the C string encoder: a json.dumps of a dict per event
    and a strftime per event were half of ingest's Python time. The text is the same as
    json.dumps(row, ensure_ascii=False, separators=(",", ":")) of the row dict. Lines are
    yielded, not collected, so a batch is not held twice in memory (events and text).
    """
    quote = encode_basestring  # the C encoder json uses for ensure_ascii=False
    landed_at = quote(datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
    head = f'{{"source":{quote(source)},"partition_id":'
    tail = f',"landing_file":{quote(name)},"landed_at":{landed_at}}}\n'
    times: dict[datetime, str] = {}  # a batch shares a few enqueued times: format each once
    keys: dict[str | None, str] = {None: "null"}
    partitions: dict[str, str] = {}
    for event in events:
        enqueued = times.get(event.enqueued_time)
        if enqueued is None:
            enqueued = times[event.enqueued_time] = quote(
                event.enqueued_time.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
        key = keys.get(event.partition_key)
        if key is None:
            key = keys[event.partition_key] = quote(event.partition_key)
        body = landing_body_members(event.body)
        partition = partitions.get(event.partition_id)
        if partition is None:
            partition = partitions[event.partition_id] = quote(event.partition_id)
        yield (f'{head}{partition},"sequence_number":{int(event.sequence_number)},'
               f'"offset":{quote(event.offset)},"enqueued_time":{enqueued},'
               f'"partition_key":{key},{body}{tail}')


def landing_body_members(body: bytes) -> str:
    """The body members of a landing line, as JSON text: `"body":"...","body_encoding":null` for a
    UTF-8 body; for any other bytes `"body":"<base64>","body_encoding":"base64"` (a JSON line holds
    text only, and replacing the bad bytes would lose them). Bronze rejects a base64 body as
    `invalid UTF-8`, keeping it as is. body_encoding is on every line, null or not, because the
    COPY INTO casts it by name and Databricks infers a file's fields from the lines it reads."""
    try:
        return '"body":' + encode_basestring(body.decode("utf-8")) + ',"body_encoding":null'
    except UnicodeDecodeError:
        return f'"body":"{base64.b64encode(body).decode("ascii")}","body_encoding":"base64"'


@dataclass
class _Batch:
    """A batch read from a partition and written to a landing file not yet published."""

    plan: PartitionIngest
    before: int  # the partition's position before it
    count: int
    last: int  # its last sequence number
    publish: Callable[[], object]


def ingest_partitions(transport: Transport, checkpoints: Callable[[], dict[str, int]],
                      prepare: Callable[[str, Sequence[ReceivedEvent]], Callable[[], object]],
                      load: Callable[[], int], batch_size: int,
                      on_progress: Callable[[int, int], None] | None = None,
                      partition_checkpoints: Callable[[str, int], dict[str, int]] | None = None,
                      ) -> IngestSummary:
    """Drain every partition up to the end it had when ingest started.

    Each batch is landed, loaded and checked: after its load, the checkpoint derived from
    raw_events must have reached the batch's last sequence number. `checkpoints()` gives every
    partition's; `partition_checkpoints(partition_id, after)`, when given, that partition's from
    the rows above `after` only, which is what the check after each batch needs.

    `prepare(partition_id, events)` writes a batch's landing file where no load sees it yet and
    returns `publish()`, which makes it visible to the next `load() -> rows` (that loads every
    published file not loaded yet). Batches are loaded in groups of at most `batch_size` events:
    a full read alone, the small last reads of several partitions together, so a run of a few
    hundred new events makes one load rather than one per partition. Loads run in a worker
    thread (the warehouse works without the GIL), one group at a time and in order, so the next
    batch is read and its file written while the previous group loads; a group is published and
    loaded only once the one before it is loaded and checked.
    """
    from concurrent.futures import Future, ThreadPoolExecutor

    after_batch = partition_checkpoints or (lambda partition_id, after: checkpoints())
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
    if on_progress:  # the bar shows its total before the first batch lands
        on_progress(0, total)

    def settle(batches: list[_Batch], loading: "Future[int]") -> None:
        """Wait for a group's load (its error is raised here) and check each checkpoint moved."""
        nonlocal done
        summary.landed_rows += loading.result()
        fault_point("ingest.loaded")
        for batch in batches:
            batch.plan.received += batch.count
            batch.plan.files += 1
            done += batch.count
            if on_progress:
                on_progress(done, total)
            pid = batch.plan.partition_id
            position = after_batch(pid, batch.before).get(pid, batch.before)
            if position < batch.last:
                raise EcomctlError(
                    f"partition {pid}: events up to sequence number {batch.last} were landed "
                    f"but raw_events stops at {position}",
                    hint="check the landing folder and run ingest again")

    def publish_and_load(batches: list[_Batch]) -> int:  # runs in ingest's load thread
        for batch in batches:
            batch.publish()
        return load()

    # Leaving the with block waits for a load in flight, also when a read or a check failed.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ecomctl-load") as loader:
        pending: tuple | None = None
        group: list[_Batch] = []
        grouped = 0  # events in the group

        def submit() -> None:
            nonlocal pending, group, grouped
            if pending is not None:
                settle(*pending)
            pending = (group, loader.submit(publish_and_load, group))
            group, grouped = [], 0

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
                if group and grouped + len(events) > batch_size:
                    submit()  # this batch does not fit the group: load the group first
                publish = prepare(plan.partition_id, events)
                group.append(_Batch(plan, position, len(events), events[-1].sequence_number, publish))
                grouped += len(events)
                position = events[-1].sequence_number
                # The file holds the batch now: drop it before the next read, so that one batch
                # of events is in memory at a time, not the loading one and the next.
                del events
                if grouped >= batch_size:
                    submit()
        if group:
            submit()
        if pending is not None:
            settle(*pending)
    return summary
