"""ingest --mode kafka: the warehouse reads the hub through its Kafka endpoint (sql/kafka), and ecomctl
checks, between the streaming table's refresh and the merge into raw_events, that the Kafka offsets it
read are the hub's sequence numbers, which every checkpoint of raw_events counts in.

Why the check: Microsoft's Kafka mapping table says only "Offset: Offset", and the Event Hubs offset
of the AMQP side is a byte position, not a sequence number; the Event Hubs team's own answer is that
the Kafka offset is the sequence number (docs/databricks.md has both sources). One wrong assumption
would put every kafka-mode checkpoint, and the transport dedupe, on the wrong scale.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping

from ecomctl.errors import EcomctlError

if TYPE_CHECKING:  # pragma: no cover
    from ecomctl.events.transport import PartitionState, Transport
    from ecomctl.plan import Checks
    from ecomctl.warehouse.base import StatementResult, Warehouse
    from ecomctl.warehouse.sqlfiles import SqlFile

STREAM_FILE_PREFIX = "kafka/01_"  # refreshes the streaming table; the files after it land its events
LAST_OFFSETS_SQL = ("SELECT partition_id, MAX(sequence_number) AS last_offset "
                    "FROM ${catalog}.${bronze}.raw_events_kafka GROUP BY partition_id")
CHECK = ("stop unless each partition's last Kafka offset in raw_events_kafka lies between the Event Hubs "
         "sequence numbers of its last event before and after the refresh (the offsets are sequence numbers)")


def ingest_through_kafka(warehouse: "Warehouse", transport: "Transport", checks: "Checks",
                         files: list["SqlFile"], names: Mapping[str, str]) -> list["StatementResult"]:
    """Refresh the streaming table, check its offsets against the hub, then run the rest of sql/kafka."""
    stream = [f for f in files if f.name.startswith(STREAM_FILE_PREFIX)]
    if not stream:
        raise EcomctlError(f"sql/kafka has no {STREAM_FILE_PREFIX.split('/')[1]} file that refreshes "
                           "the streaming table")
    rest = [f for f in files if not f.name.startswith(STREAM_FILE_PREFIX)]
    before = partition_ends(transport)  # read first: the refresh must reach at least these
    results = [r for f in stream for r in warehouse.run_file(f, names)]
    checks.verify(CHECK, lambda: check_offsets(warehouse, transport, before, names["source"]))
    results += [r for f in rest for r in warehouse.run_file(f, names)]
    return results


def partition_ends(transport: "Transport") -> dict[str, "PartitionState"]:
    """Each partition's state as the hub reports it (last sequence number, whether any event is retained)."""
    return {pid: transport.partition_state(pid) for pid in transport.partition_ids()}


def check_offsets(warehouse: "Warehouse", transport: "Transport", before: Mapping[str, "PartitionState"],
                  source: str) -> None:
    """Raise unless every partition's last offset in the streaming table is a sequence number the hub
    could have given it: at least the last one the hub reported before the refresh (the refresh reads
    all that was there when it started), at most the last one it reports now (events may arrive
    meanwhile). Byte offsets, or any other numbering, fall outside that window as soon as a partition
    holds two events."""
    landed = {str(pid): int(last) for pid, last in warehouse.query(LAST_OFFSETS_SQL).rows}
    after = partition_ends(transport)
    problems = []
    for pid in sorted(set(before) | set(landed), key=_partition_order):
        first = before.get(pid)
        last = after.get(pid, first)
        offset = landed.get(pid)
        low = first.last_sequence_number if first is not None and not first.is_empty else None
        high = last.last_sequence_number if last is not None else None
        if offset is None:
            if low is not None:
                problems.append(f"partition {pid}: Event Hubs held events up to sequence number {low} before "
                                "the refresh, and the streaming table has none of them")
        elif (low is not None and offset < low) or (high is not None and offset > high):
            window = f"{low if low is not None else '-'}..{high if high is not None else '-'}"
            problems.append(f"partition {pid}: last Kafka offset {offset}, Event Hubs sequence numbers "
                            f"{window} (last event before and after the refresh)")
    if problems:
        raise EcomctlError(
            f"the Kafka offsets of {source} are not its Event Hubs sequence numbers, so raw_events' "
            f"checkpoints would be wrong; nothing was merged into raw_events: {'; '.join(problems)}",
            hint="ingest with --mode client, which reads sequence numbers through the Event Hubs API; "
                 "docs/databricks.md, \"Ingest without the client\", has the sources of this assumption")


def _partition_order(partition_id: str) -> tuple[int, str]:
    return (int(partition_id), "") if partition_id.isdigit() else (1 << 30, partition_id)
