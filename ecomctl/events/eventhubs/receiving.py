"""Reading a partition with receive_batch, which never returns by itself, and stopping it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timezone
from typing import Any

from ecomctl.events.transport import PartitionState, ReceivedEvent

# How long one receive_batch call waits before handing an empty batch to the callback; it bounds
# how late an idle timeout or a close is noticed.
RECEIVE_POLL_SECONDS = 1.0
# How long to wait for the receive thread after closing its client.
RECEIVE_JOIN_SECONDS = 10.0


def starting_position(after_sequence: int, beginning_sequence_number: int | None) -> tuple[str | int, bool]:
    """Where receive_batch starts: right after the checkpoint, or at the earliest retained event.

    The SDK's default is "@latest", which would skip everything already in the hub. "-1" is the
    start of the stream; it is also used when the events after the checkpoint have expired, so
    the read starts at what is left instead of at a sequence number the hub no longer has.
    """
    if after_sequence < 0:
        return "-1", False
    if beginning_sequence_number is not None and beginning_sequence_number >= 0 \
            and after_sequence + 1 < beginning_sequence_number:
        return "-1", False
    return after_sequence, False


def to_received_event(partition_id: str, event: Any) -> ReceivedEvent:
    """A received azure.eventhub.EventData as the transport-neutral ReceivedEvent."""
    body = event.body
    if not isinstance(body, (bytes, bytearray)):
        body = b"".join(bytes(part) for part in body)
    key = event.partition_key
    if isinstance(key, (bytes, bytearray)):
        key = bytes(key).decode("utf-8", errors="replace")
    enqueued = event.enqueued_time
    if enqueued is not None and enqueued.tzinfo is None:
        enqueued = enqueued.replace(tzinfo=timezone.utc)
    return ReceivedEvent(partition_id, int(event.sequence_number), str(event.offset), enqueued,
                         key, bytes(body))


@dataclass
class DrainResult:
    events: list[ReceivedEvent]
    stopped_by: str  # "max events" | "end of partition" | "idle" | "receiver ended"
    seconds: float


class PartitionDrain:
    """Runs a blocking receive in a thread and stops it when the read is complete.

    `receive(on_event_batch, on_error)` must block like EventHubConsumerClient.receive_batch;
    `stop()` must make it return (closing the client does). The read is complete when
    max_events are in, when the partition reaches end_sequence (its last sequence number when
    ingest started), when no event arrived for idle_seconds, or on the first error.
    """

    def __init__(self, partition_id: str, *, after_sequence: int, end_sequence: int | None,
                 max_events: int, idle_seconds: float,
                 poll_seconds: float = RECEIVE_POLL_SECONDS,
                 join_seconds: float = RECEIVE_JOIN_SECONDS) -> None:
        self.partition_id = partition_id
        self.after_sequence = after_sequence
        self.end_sequence = end_sequence
        self.max_events = max_events
        self.idle_seconds = idle_seconds
        self.poll_seconds = poll_seconds
        self.join_seconds = join_seconds
        self._events: list[ReceivedEvent] = []
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._stopped_by = ""
        self._error: BaseException | None = None
        self._last_event_at = 0.0
        self._answered = False  # any callback, even an empty batch, means the receiver is connected

    def on_event_batch(self, partition_context: Any, batch: list) -> None:
        with self._lock:
            self._answered = True
            if self._done.is_set():
                return
            if batch:
                self._last_event_at = time.monotonic()
            for event in batch:
                sequence = event.sequence_number
                if sequence is None or sequence <= self.after_sequence:
                    continue  # at-least-once delivery: already landed
                if self.end_sequence is not None and sequence > self.end_sequence:
                    self._finish("end of partition")
                    return
                self._events.append(to_received_event(self.partition_id, event))
                if len(self._events) >= self.max_events:
                    self._finish("max events")
                    return
                if self.end_sequence is not None and sequence >= self.end_sequence:
                    self._finish("end of partition")
                    return

    def on_error(self, partition_context: Any, error: BaseException) -> None:
        with self._lock:
            if self._done.is_set():
                return  # e.g. the client reporting its own close: the read is already complete
            if self._error is None:
                self._error = error
            self._finish("error")

    def _finish(self, reason: str) -> None:
        if not self._done.is_set():
            self._stopped_by = reason
            self._done.set()

    def run(self, receive: Callable[[Callable, Callable], None], stop: Callable[[], None]) -> DrainResult:
        started = time.monotonic()
        if self.max_events <= 0 or (self.end_sequence is not None and self.after_sequence >= self.end_sequence):
            return DrainResult([], "end of partition", 0.0)
        self._last_event_at = started

        def target() -> None:
            try:
                receive(self.on_event_batch, self.on_error)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
                self.on_error(None, exc)
            finally:
                with self._lock:
                    self._finish("receiver ended")

        thread = threading.Thread(target=target, name=f"eventhubs-receive-{self.partition_id}", daemon=True)
        thread.start()
        try:
            while not self._done.wait(self.poll_seconds):
                if time.monotonic() - self._last_event_at >= self.idle_seconds:
                    with self._lock:
                        self._finish("idle")
        finally:
            # Closing a client whose connection is stuck can block as well: bound it too.
            stopper = threading.Thread(target=stop, name=f"eventhubs-stop-{self.partition_id}", daemon=True)
            stopper.start()
            stopper.join(self.join_seconds)
            thread.join(self.join_seconds)
        with self._lock:
            if self._error is not None:
                raise self._error
            if self._stopped_by == "idle" and not self._answered:
                raise TimeoutError(f"the receiver of partition {self.partition_id} got no answer "
                                   f"within {self.idle_seconds:g} s")
            return DrainResult(list(self._events), self._stopped_by, time.monotonic() - started)


def partition_state_from_properties(partition_id: str, props: dict) -> PartitionState:
    """get_partition_properties() as a PartitionState (-1 / -1 / None for a partition never written)."""
    last = int(props["last_enqueued_sequence_number"])
    beginning = int(props["beginning_sequence_number"])
    if last < 0:
        return PartitionState(partition_id, -1, -1, None)
    if props.get("is_empty"):
        # Everything expired: the hub keeps the head, like the embedded log.
        beginning = max(beginning, last + 1)
    enqueued = props.get("last_enqueued_time_utc")
    if enqueued is not None and enqueued.tzinfo is None:
        enqueued = enqueued.replace(tzinfo=timezone.utc)
    return PartitionState(partition_id, beginning, last, enqueued)
