"""Filling EventDataBatch objects per partition up to the hub's size limit."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ecomctl.events.transport import EventTooLargeError, ProgressCallback


@dataclass
class BatchStats:
    """What a send did, batch by batch; fill is size_in_bytes / max_size_in_bytes."""

    events: int = 0
    batches: int = 0
    body_bytes: int = 0
    batch_sizes: list[tuple[int, int, bool]] = field(default_factory=list)  # (size, limit, was_full)


def fill_batches(messages: Iterable[tuple[str | None, bytes]],
                 partition_for: Callable[[str | None], str],
                 new_batch: Callable[[str], Any],
                 send_batch: Callable[[Any], None],
                 on_progress: ProgressCallback | None = None) -> BatchStats:
    """Fill one EventDataBatch per partition until `add` says it is full, send it, start the next.

    Each event keeps its partition key (customer_id) as the AMQP annotation the service uses, and
    goes to the partition the SDK's resolver computes for that key (the same routing as the SDK's
    buffered mode), so batches mix customers and fill up instead of holding one customer each.
    """
    from azure.eventhub import EventData
    from azure.eventhub._transport._pyamqp_transport import PyamqpTransport
    from azure.eventhub._utils import set_event_partition_key

    stats = BatchStats()
    open_batches: dict[str, Any] = {}
    open_bytes: dict[str, int] = {}

    def send(pid: str, was_full: bool) -> None:
        batch = open_batches.pop(pid)
        nbytes = open_bytes.pop(pid)
        send_batch(batch)
        stats.events += len(batch)
        stats.batches += 1
        stats.body_bytes += nbytes
        stats.batch_sizes.append((batch.size_in_bytes, batch.max_size_in_bytes, was_full))
        if on_progress is not None:
            on_progress(stats.events, stats.body_bytes)

    for key, body in messages:
        if type(body) is not bytes:
            raise TypeError(f"event bodies must be bytes, got {type(body).__name__}")
        pid = partition_for(key)
        event = EventData(body)
        set_event_partition_key(event, key, PyamqpTransport)
        batch = open_batches.get(pid)
        if batch is None:
            batch = open_batches[pid] = new_batch(pid)
            open_bytes[pid] = 0
        try:
            batch.add(event)
        except ValueError:
            if len(batch) == 0:
                raise EventTooLargeError(len(body), key, batch.max_size_in_bytes, stats.events) from None
            send(pid, was_full=True)
            batch = open_batches[pid] = new_batch(pid)
            open_bytes[pid] = 0
            try:
                batch.add(event)
            except ValueError:
                raise EventTooLargeError(len(body), key, batch.max_size_in_bytes, stats.events) from None
        open_bytes[pid] += len(body)
    for pid in sorted(open_batches):
        send(pid, was_full=False)
    return stats
