"""What every Transport must do, run against each one: the embedded log always, Azure Event Hubs
only when live settings are present.

Live run: ECOMCTL_LIVE_EVENTHUBS=1 plus the usual EVENTHUB_CONNECTION_STRING (or KEYVAULT_URL and
KEYVAULT_SECRET_NAME, or EVENTHUB_NAMESPACE with an Azure login) and EVENTHUB_NAME, pointing at a
hub the tests may write to (they send a few dozen small events tagged with a run id). The tests
only read from the sequence numbers they recorded before sending, so older events do not matter.
"""

from __future__ import annotations

import json
import os
import uuid
from datetime import timedelta

import pytest

from ecomctl.errors import TransportError
from ecomctl.events.transport import PartitionState, Transport

# Read at import: the autouse fixture in conftest.py clears these variables for every test.
_LIVE_ENV = {k: v for k, v in os.environ.items() if k.startswith(("EVENTHUB_", "KEYVAULT_", "AZURE_"))}
_LIVE = os.environ.get("ECOMCTL_LIVE_EVENTHUBS") == "1" and any(
    _LIVE_ENV.get(name) for name in ("EVENTHUB_CONNECTION_STRING", "KEYVAULT_URL", "EVENTHUB_NAMESPACE"))
_SKIP_LIVE = ("live Event Hubs contract: set ECOMCTL_LIVE_EVENTHUBS=1 and EVENTHUB_CONNECTION_STRING "
              "(or KEYVAULT_URL + KEYVAULT_SECRET_NAME, or EVENTHUB_NAMESPACE) for a hub the tests may write to")


@pytest.fixture(params=["embedded-log", pytest.param("azure-event-hubs", marks=pytest.mark.live)])
def transport(request, tmp_path, monkeypatch):
    if request.param == "embedded-log":
        from ecomctl.events.eventlog import EmbeddedEventLog

        hub = EmbeddedEventLog(tmp_path / "eventhub.db", partitions=4, hub="orders",
                               max_batch_bytes=64 * 1024)
    else:
        hub = _live_event_hubs(monkeypatch)
    yield hub
    hub.close()


def _live_event_hubs(monkeypatch):
    if not _LIVE:
        pytest.skip(_SKIP_LIVE)
    from ecomctl.config import Settings
    from ecomctl.events.eventhubs import EventHubsConfig, EventHubsTransport

    for name, value in _LIVE_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("EVENTHUB_IDLE_SECONDS", os.environ.get("EVENTHUB_IDLE_SECONDS", "15"))
    return EventHubsTransport(EventHubsConfig.from_settings(Settings.load({"target": "databricks"})))


def tagged_messages(count: int, run: str, keys: int = 7) -> list[tuple[str, bytes]]:
    return [(f"C{run[:6]}{i % keys}", json.dumps({"run": run, "n": i}).encode()) for i in range(count)]


def ours(events, run: str):
    return [e for e in events if json.loads(e.body).get("run") == run]


def read_all(transport, pid: str, after: int, end: int, batch: int = 1000):
    """What ingest does: read from a checkpoint until the end seen before, batch by batch."""
    events = []
    while after < end:
        got = transport.read(pid, after, min(batch, end - after))
        if not got:
            break
        events += got
        after = got[-1].sequence_number
    return events


def test_is_a_transport_with_a_source_and_a_batch_limit(transport):
    assert isinstance(transport, Transport)
    transport.check()
    assert "/" in transport.source and transport.source.endswith("/" + transport.source.split("/")[-1])
    assert isinstance(transport.max_batch_bytes, int) and transport.max_batch_bytes > 1024


def test_partitions_have_ids_and_a_consistent_state(transport):
    ids = transport.partition_ids()
    assert ids and len(set(ids)) == len(ids) and all(isinstance(pid, str) for pid in ids)
    for pid in ids:
        state = transport.partition_state(pid)
        assert isinstance(state, PartitionState) and state.partition_id == pid
        if state.last_sequence_number < 0:
            assert state.is_empty and state.last_enqueued_time is None
        else:
            assert 0 <= state.beginning_sequence_number <= state.last_sequence_number + 1
            assert state.last_enqueued_time.utcoffset() == timedelta(0)


def test_sent_events_come_back_once_in_order_with_their_keys(transport):
    run = uuid.uuid4().hex
    before = {pid: transport.partition_state(pid).last_sequence_number for pid in transport.partition_ids()}
    messages = tagged_messages(60, run)
    progress = []
    result = transport.send(iter(messages), on_progress=lambda n, b: progress.append((n, b)))
    assert (result.events, result.bytes) == (60, sum(len(body) for _, body in messages))
    assert result.batches >= 1 and result.seconds >= 0
    assert progress[-1] == (60, result.bytes) and progress == sorted(progress)

    received = []
    partition_of_key = {}
    for pid in transport.partition_ids():
        end = transport.partition_state(pid).last_sequence_number
        assert end >= before[pid]
        events = read_all(transport, pid, before[pid], end)
        sequences = [e.sequence_number for e in events]
        assert sequences == sorted(set(sequences)) and all(s > before[pid] for s in sequences)
        for event in ours(events, run):
            assert event.partition_id == pid and isinstance(event.offset, str)
            assert event.enqueued_time.utcoffset() == timedelta(0)
            assert partition_of_key.setdefault(event.partition_key, pid) == pid  # a key stays on one partition
            received.append(event)
    assert sorted(json.loads(e.body)["n"] for e in received) == list(range(60))
    by_n = {json.loads(e.body)["n"]: e for e in received}
    assert all(by_n[i].partition_key == key for i, (key, _) in enumerate(messages))
    # Within a key, events keep the order they were sent in.
    for key in partition_of_key:
        ns = [json.loads(e.body)["n"] for e in sorted(received, key=lambda e: e.sequence_number)
              if e.partition_key == key]
        assert ns == sorted(ns)


def test_read_respects_max_events_and_the_checkpoint(transport):
    run = uuid.uuid4().hex
    before = {pid: transport.partition_state(pid).last_sequence_number for pid in transport.partition_ids()}
    # One key: all ten events go to one partition, in order.
    transport.send(iter([(f"K{run}", json.dumps({"run": run, "n": i}).encode()) for i in range(10)]))
    target = next(pid for pid in transport.partition_ids()
                  if ours(read_all(transport, pid, before[pid], transport.partition_state(pid).last_sequence_number), run))
    after = before[target]
    first = transport.read(target, after, 3)
    assert len(first) == 3 and first[0].sequence_number > after
    assert [e.sequence_number for e in first] == sorted({e.sequence_number for e in first})
    rest = transport.read(target, first[-1].sequence_number, 1000)
    assert rest and rest[0].sequence_number > first[-1].sequence_number
    assert [json.loads(e.body)["n"] for e in ours(first + rest, run)] == list(range(10))
    assert transport.read(target, after, 0) == []
    last = transport.partition_state(target).last_sequence_number
    assert transport.read(target, last, 10) == []  # nothing after the end: returns, does not wait


def test_an_event_larger_than_any_batch_is_a_transport_error(transport):
    too_big = b"x" * (transport.max_batch_bytes + 1)
    with pytest.raises(TransportError, match="does not fit"):
        transport.send(iter([("C1", too_big)]))


@pytest.mark.live
def test_event_hubs_puts_a_key_where_the_sender_does(monkeypatch):
    """What ecomctl/events/eventhubs/partitioning.py assumes, asked of the hub itself: events sent
    through the gateway with a partition key and no partition (the SDK's create_batch(partition_key=...))
    land in the partition that partition_for_key names, the one the sender fills for that key."""
    from azure.eventhub import EventData

    from ecomctl.events.eventhubs import partition_for_key

    hub = _live_event_hubs(monkeypatch)
    try:
        run = uuid.uuid4().hex
        ids = hub.partition_ids()
        before = {pid: hub.partition_state(pid).last_sequence_number for pid in ids}
        keys = [f"C{run[:6]}{n}" for n in range(16)]  # some hash below zero, where floored % differs
        producer = hub.new_producer()
        try:
            for key in keys:
                batch = producer.create_batch(partition_key=key)
                batch.add(EventData(json.dumps({"run": run, "key": key}).encode()))
                producer.send_batch(batch)
        finally:
            producer.close()
        landed = {}
        for pid in ids:
            for event in ours(read_all(hub, pid, before[pid], hub.partition_state(pid).last_sequence_number), run):
                landed[json.loads(event.body)["key"]] = pid
        assert landed == {key: partition_for_key(key, ids) for key in keys}
    finally:
        hub.close()
