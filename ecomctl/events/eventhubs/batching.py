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

    Each event goes to the partition `partition_for` names for its key (partitioning.py: the one the
    hub itself would pick), so batches mix customers and fill up instead of holding one customer
    each, and keeps its partition key (customer_id) as the AMQP annotation the service reads.
    """
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
        event = keyed_event(body, key)
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


# The message annotation that carries an event's partition key: what the SDK itself sets for
# create_batch(partition_key=...), and what consumers read back as EventData.partition_key.
PARTITION_KEY_ANNOTATION = b"x-opt-partition-key"


def keyed_event(body: bytes, key: str | None):
    """One event as the SDK's public AMQP message type, which EventDataBatch.add takes as it takes
    EventData. With a key: the partition-key annotation and a durable header, the bytes the SDK
    sends for an event of a batch created with that partition_key (tests/test_eventhubs.py
    compares them); without one, the body alone."""
    from azure.eventhub.amqp import AmqpAnnotatedMessage, AmqpMessageHeader

    if not key:
        return AmqpAnnotatedMessage(data_body=body)
    return AmqpAnnotatedMessage(data_body=body, annotations={PARTITION_KEY_ANNOTATION: key},
                                header=AmqpMessageHeader(durable=True))
