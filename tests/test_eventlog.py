"""The embedded event log on real SQLite files: partitions, sequence numbers, durability,
batches, retention, and a producer in another process."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
import time
import zlib
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import ecomctl
from ecomctl.errors import TransportError
from ecomctl.events.eventlog import EVENT_OVERHEAD_BYTES, EmbeddedEventLog
from ecomctl.events.generator import generate_messages
from ecomctl.events.transport import Transport

AS_OF = datetime(2026, 11, 20, tzinfo=timezone.utc)


@pytest.fixture
def log_path(tmp_path) -> Path:
    return tmp_path / "home" / "eventhub.db"


@pytest.fixture
def log(log_path):
    with EmbeddedEventLog(log_path) as event_log:
        yield event_log


def read_all(log: EmbeddedEventLog, partition_id: str, after: int = -1, page: int = 1000):
    events = []
    while batch := log.read(partition_id, after, page):
        events.extend(batch)
        after = batch[-1].sequence_number
    return events


def messages(count: int, prefix: str = "e", keys: int = 50):
    return [(f"K{i % keys}", json.dumps({"id": f"{prefix}{i}"}).encode()) for i in range(count)]


def test_is_a_transport_named_after_its_hub(log, log_path):
    assert isinstance(log, Transport)
    assert log.source == "local/orders"
    assert log.partition_ids() == ["0", "1", "2", "3"]
    assert not log_path.exists()  # opened lazily
    log.check()
    assert log_path.exists()
    assert [log.partition_state(p) for p in log.partition_ids()][0].last_sequence_number == -1


def test_a_key_always_lands_in_the_same_partition(log, log_path):
    log.send(generate_messages(400, seed=1, as_of=AS_OF))
    seen: dict[str, set[str]] = {}
    for pid in log.partition_ids():
        for event in read_all(log, pid):
            assert event.partition_key == json.loads(event.body)["customer_id"]
            seen.setdefault(event.partition_key, set()).add(pid)
    assert all(len(pids) == 1 for pids in seen.values())
    assert len({pid for pids in seen.values() for pid in pids}) == 4
    # Stable across processes and restarts: crc32, not Python's salted hash().
    for key, (pid,) in seen.items():
        assert pid == str(zlib.crc32(key.encode()) % 4)
        assert EmbeddedEventLog(log_path).partition_for_key(key) == pid


def test_events_without_a_key_go_round_robin(log):
    log.send([(None, b"x")] * 8)
    assert [len(read_all(log, pid)) for pid in log.partition_ids()] == [2, 2, 2, 2]


def test_sequence_numbers_and_offsets_are_contiguous_per_partition(log):
    sent = messages(1000)
    result = log.send(sent)
    assert (result.events, result.bytes) == (1000, sum(len(b) for _, b in sent))
    total = 0
    for pid in log.partition_ids():
        events = read_all(log, pid, page=97)
        assert [e.sequence_number for e in events] == list(range(len(events)))
        offsets = [int(e.offset) for e in events]
        assert offsets == [sum(len(e.body) for e in events[:i]) for i in range(len(events))]
        assert all(e.enqueued_time.tzinfo is not None and e.enqueued_time.utcoffset() == timedelta(0)
                   for e in events)
        state = log.partition_state(pid)
        assert (state.beginning_sequence_number, state.last_sequence_number) == (0, len(events) - 1)
        assert state.last_enqueued_time == events[-1].enqueued_time
        total += len(events)
    assert total == 1000
    # Order within a partition is the order sent.
    ids = [json.loads(e.body)["id"] for e in read_all(log, "0")]
    assert ids == sorted(ids, key=lambda i: int(i[1:]))


def test_read_starts_after_the_given_sequence_number(log):
    log.send([("K", f"{i}".encode()) for i in range(20)])
    pid = log.partition_for_key("K")
    events = log.read(pid, 4, 3)
    assert [(e.sequence_number, e.body) for e in events] == [(5, b"5"), (6, b"6"), (7, b"7")]
    assert log.read(pid, 19, 10) == []
    assert len(log.read(pid, -1, 100)) == 20
    assert log.read(pid, -1, 0) == []
    with pytest.raises(TransportError, match="unknown partition '4'"):
        log.read("4", -1, 10)


def test_events_survive_reopening_and_numbering_continues(log_path):
    with EmbeddedEventLog(log_path) as log:
        log.send([("K", b"first"), ("K", b"second")])
        pid = log.partition_for_key("K")
    with EmbeddedEventLog(log_path) as log:
        assert [e.body for e in read_all(log, pid)] == [b"first", b"second"]
        log.send([("K", b"third")])
        third = read_all(log, pid)[-1]
        assert (third.sequence_number, third.offset, third.body) == (2, str(len(b"firstsecond")), b"third")


def test_partition_count_of_an_existing_log_cannot_change(log_path):
    EmbeddedEventLog(log_path, partitions=4).check()
    with pytest.raises(TransportError, match="ECOMCTL_PARTITIONS") as error:
        EmbeddedEventLog(log_path, partitions=3).check()
    assert "has 4 partitions but 3" in str(error.value) and str(log_path) in str(error.value)


def test_batches_are_filled_up_to_the_size_limit(log_path):
    progress = []
    with EmbeddedEventLog(log_path, max_batch_bytes=1000) as log:
        result = log.send([("K", b"x" * 300)] * 10, on_progress=lambda n, size: progress.append((n, size)))
    assert 1000 // (300 + EVENT_OVERHEAD_BYTES) == 3  # events per batch
    assert (result.events, result.batches, result.bytes) == (10, 4, 3000)
    assert progress == [(3, 900), (6, 1800), (9, 2700), (10, 3000)]


def test_an_event_larger_than_a_batch_is_refused(log):
    big = b"x" * log.max_batch_bytes
    with pytest.raises(TransportError, match=rf"{len(big)} bytes .* at most {log.max_batch_bytes} bytes") as error:
        log.send([("K", b"small"), ("K", big), ("K", b"never")])
    assert "1 events were sent before it" in str(error.value)
    assert [e.body for e in read_all(log, log.partition_for_key("K"))] == [b"small"]


def test_retention_expires_old_events_and_keeps_numbering(log_path):
    with EmbeddedEventLog(log_path, retention=None) as log:
        log.send([("K", b"old")] * 5)
        time.sleep(0.01)
        log.send([("K", b"new")] * 3)
        pid = log.partition_for_key("K")
        new_since = read_all(log, pid)[5].enqueued_time
        assert log.purge_before(new_since) == 5
        state = log.partition_state(pid)
        assert (state.beginning_sequence_number, state.last_sequence_number) == (5, 7)
        assert [e.sequence_number for e in read_all(log, pid)] == [5, 6, 7]
    # A log with a short retention expires everything older on its next send.
    with EmbeddedEventLog(log_path, retention=timedelta(microseconds=1)) as log:
        assert log.partition_for_key("other") != pid
        log.send([("other", b"x")])
        state = log.partition_state(pid)
        # Everything expired: like Event Hubs, beginning = last + 1 and last stays.
        assert (state.beginning_sequence_number, state.last_sequence_number) == (8, 7)
        assert state.is_empty and state.last_enqueued_time is not None
        log.send([("K", b"again")])
        assert read_all(log, pid)[-1].sequence_number == 8


def age(log_path: Path, days: int) -> None:
    """Move every event back in time by `days`, as if it had been sent then."""
    con = sqlite3.connect(log_path)
    try:
        shift = days * 86_400 * 1_000_000
        con.execute("UPDATE events SET enqueued_time = enqueued_time - ?", (shift,))
        con.execute("UPDATE log_partitions SET last_enqueued_time = last_enqueued_time - ?", (shift,))
        con.commit()
    finally:
        con.close()


def file_bytes(log_path: Path) -> int:
    """The log on disk: its file and SQLite's side files."""
    return sum(p.stat().st_size for p in log_path.parent.glob(log_path.name + "*"))


def test_retention_gives_the_space_of_expired_events_back_to_the_file_system(log_path):
    with EmbeddedEventLog(log_path) as log:
        log.send(generate_messages(20_000, seed=1, as_of=AS_OF))
    full = file_bytes(log_path)
    assert full > 10_000_000
    age(log_path, 8)
    with EmbeddedEventLog(log_path) as log:  # the default retention: 7 days
        log.send(generate_messages(500, seed=2, as_of=AS_OF))
        assert sum(len(read_all(log, pid)) for pid in log.partition_ids()) == 500
    assert file_bytes(log_path) < full / 10  # the pages of the 20,000 are gone, not just free


def test_asking_for_a_partition_state_applies_retention_without_a_send(log_path):
    """Nothing may be sent for days: ingest and status still see what expired."""
    with EmbeddedEventLog(log_path) as log:
        log.send([("K", b"old")] * 5)
        pid = log.partition_for_key("K")
    age(log_path, 8)
    with EmbeddedEventLog(log_path) as log:
        state = log.partition_state(pid)
        assert (state.beginning_sequence_number, state.last_sequence_number) == (5, 4)
        assert read_all(log, pid) == []
    with EmbeddedEventLog(log_path, retention=None) as log:  # ECOMCTL_RETENTION_DAYS=0: forever
        log.send([("K", b"kept")])
        age(log_path, 800)
        assert log.expire() == 0 and len(read_all(log, pid)) == 1


def test_a_log_made_without_auto_vacuum_is_vacuumed_once_when_half_of_it_expired(log_path):
    log_path.parent.mkdir(parents=True)
    con = sqlite3.connect(log_path)  # what an older ecomctl created: no auto_vacuum
    con.execute("PRAGMA page_size = 16384")
    con.execute("PRAGMA journal_mode = WAL")
    con.close()
    with EmbeddedEventLog(log_path) as log:
        log.send(generate_messages(20_000, seed=1, as_of=AS_OF))
    full = file_bytes(log_path)
    age(log_path, 8)
    with EmbeddedEventLog(log_path) as log:
        assert log.expire() == 20_000
    assert file_bytes(log_path) < full / 10
    con = sqlite3.connect(log_path)
    assert con.execute("PRAGMA auto_vacuum").fetchone() == (2,)  # incremental from now on
    con.close()


def test_an_unusable_path_is_a_transport_error_naming_it(tmp_path):
    with pytest.raises(TransportError, match="is a directory") as error:
        EmbeddedEventLog(tmp_path).check()
    assert str(tmp_path) in str(error.value)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(TransportError, match="cannot open the event log") as error:
        EmbeddedEventLog(blocker / "eventhub.db").check()
    assert str(blocker / "eventhub.db") in str(error.value)
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not SQLite" * 100)
    with pytest.raises(TransportError, match="garbage.db"):
        EmbeddedEventLog(garbage).check()


PRODUCER = """
import json, sys, time
from pathlib import Path
from ecomctl.events.eventlog import EmbeddedEventLog

path, name, count = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
messages = ((f"{name}-K{i % 13}", json.dumps({"id": f"{name}-{i}"}).encode()) for i in range(count))
with EmbeddedEventLog(path, max_batch_bytes=4096) as log:
    # Pause between batches so the reader in the other process sees the log grow.
    result = log.send(messages, on_progress=lambda events, size: time.sleep(0.002))
print(result.events)
"""


@pytest.mark.slow
def test_producers_in_other_processes_while_this_one_reads(log_path):
    """Two producer processes and a reader at once: nothing lost, nothing duplicated, no gaps."""
    count = 6000
    EmbeddedEventLog(log_path).check()
    env = {**os.environ, "PYTHONPATH": str(Path(ecomctl.__file__).parents[1])}
    producers = [subprocess.Popen([sys.executable, "-c", PRODUCER, str(log_path), name, str(count)],
                                  env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for name in ("a", "b")]
    received: list[str] = []
    checkpoints = {}
    reads_while_producing = 0
    deadline = time.monotonic() + 120
    with EmbeddedEventLog(log_path) as log:
        checkpoints = dict.fromkeys(log.partition_ids(), -1)
        while len(received) < 2 * count and time.monotonic() < deadline:
            producing = any(p.poll() is None for p in producers)
            for pid in log.partition_ids():
                events = log.read(pid, checkpoints[pid], 500)
                if events:
                    # Each read continues exactly where the last one stopped: no gaps.
                    assert [e.sequence_number for e in events] == list(
                        range(checkpoints[pid] + 1, checkpoints[pid] + 1 + len(events)))
                    checkpoints[pid] = events[-1].sequence_number
                    received.extend(json.loads(e.body)["id"] for e in events)
                    reads_while_producing += producing
            time.sleep(0.001)
    for producer in producers:
        out, err = producer.communicate(timeout=60)
        assert producer.returncode == 0, err
        assert out.strip() == str(count)
    assert len(received) == len(set(received)) == 2 * count
    assert set(received) == {f"{name}-{i}" for name in ("a", "b") for i in range(count)}
    assert reads_while_producing > 1


def test_events_that_expire_before_ingest_are_reported_and_leave_the_disk(cli, home):
    """Through the CLI, with the default retention (7 days): 3,000 events sent eight days ago
    and never ingested are counted as expired by status and ingest, not as lag and not silently
    skipped, and the event log gives their space back."""
    assert cli("setup").exit_code == 0
    assert cli("generate", "--count", "3000", "--seed", "1").exit_code == 0
    log_path = home / "eventhub.db"
    full = file_bytes(log_path)
    age(log_path, 8)
    assert cli("generate", "--count", "200", "--seed", "2").exit_code == 0

    status = json.loads(cli("--json", "status").stdout)["steps"][0]["details"]
    assert sum(p["expired"] for p in status["partitions"]) == 3000
    assert status["total_lag"] == 200
    assert file_bytes(log_path) < full / 3
    assert {p["part"]: p for p in status["disk"]}["event log"]["bytes"] < full / 3

    result = cli("ingest")
    assert result.exit_code == 0, result.stderr
    assert re.search(r"^ingest: finished in [\d.]+s \(200 events landed, 3,000 expired before ingest\)$",
                     result.stdout, re.M)
    assert re.search(r"^│ expired before ingest +│ +3,000 │", result.stdout, re.M)
    assert re.search(r"^│ landed in raw_events +│ +200 │ +200 │", result.stdout, re.M)
