"""The warehouse lock in one process: who holds it and in which step, readers beside readers,
and a reader told at once who writes (two opens of the file conflict as two processes do)."""

from __future__ import annotations

import os
import sys
from datetime import datetime, timedelta, timezone

import pytest

from ecomctl import locking
from ecomctl.locking import LockBusy, LockHolder, LockTimeout, ProcessLock, note_step


@pytest.fixture
def lock_path(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["/venv/bin/ecomctl", "--home", "demo", "ingest"])
    monkeypatch.setattr(locking, "_activity", {"step": None, "step_started": None})
    return tmp_path / "warehouse.lock"


def test_the_holder_names_its_command_and_step_and_keeps_the_step_current(lock_path):
    writer = ProcessLock(lock_path, "the warehouse").acquire(0)
    try:
        with open(lock_path, encoding="utf-8") as handle:
            assert locking.read_holder(handle) == LockHolder(os.getpid(), "ecomctl --home demo ingest")
        note_step("ingest")
        with open(lock_path, encoding="utf-8") as handle:
            holder = locking.read_holder(handle)
        assert (holder.pid, holder.step, holder.mode) == (os.getpid(), "ingest", "write")
        with pytest.raises(LockBusy) as busy:
            ProcessLock(lock_path, "the warehouse").acquire_shared()
        assert busy.value.holder.step == "ingest"
        assert str(busy.value).startswith(f"another ecomctl process (pid {os.getpid()}, "
                                          "ecomctl --home demo ingest, step ingest for 0 s) is writing "
                                          "the warehouse")
        with pytest.raises(LockTimeout, match=r"\(pid \d+, ecomctl --home demo ingest, step ingest"):
            ProcessLock(lock_path, "the warehouse").acquire(0)
    finally:
        writer.release()
    assert lock_path.read_text() == ""  # the next holder does not inherit a stale description


def test_readers_share_the_lock_and_a_writer_is_told_which_reader_holds_it(lock_path):
    first = ProcessLock(lock_path, "the warehouse").acquire_shared()
    second = ProcessLock(lock_path, "the warehouse").acquire_shared()
    try:
        with pytest.raises(LockTimeout, match=rf"\(pid {os.getpid()}, ecomctl --home demo ingest\)"):
            ProcessLock(lock_path, "the warehouse").acquire(0)
    finally:
        second.release()
        first.release()
    ProcessLock(lock_path, "the warehouse").acquire(0).release()  # free again


def test_a_lock_file_of_an_older_ecomctl_or_half_written_still_names_what_it_can():
    import io

    assert locking.read_holder(io.StringIO("4242\n")) == LockHolder(4242)
    assert locking.read_holder(io.StringIO('{"pid": 42, "comm')) == LockHolder(None)
    started = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)
    holder = LockHolder(7, "ecomctl run-all", "ingest", started.isoformat())
    assert holder.describe(now=started + timedelta(seconds=1_234)) == \
        "pid 7, ecomctl run-all, step ingest for 1,234 s"
    assert LockHolder(None).describe() == "pid unknown"
