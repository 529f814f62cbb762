"""One writer at a time on the local warehouse: an OS file lock beside the DuckDB file.

DuckDB lets one process open a database file for writing, or several for reading; a second
writer fails with an engine error. ecomctl takes this lock before it opens the warehouse and
keeps it until it closes it, so two commands that write the warehouse (two `ingest`, a cron
`run-all` and a `transform`) take turns: the second one says who it waits for and waits up to
ECOMCTL_LOCK_WAIT seconds, then stops with a clear line. A reader (`status`) takes the lock
shared, beside other readers, and never waits: when a writer holds it, the reader is told who at
once (LockBusy) and shows what it can without the warehouse.

The holder writes into the lock file who it is: its pid, its command line and the step it runs
(`note_step`), so that whoever finds the lock taken can say what it waits for. The lock is
flock(2): the kernel drops it when its process dies, even by SIGKILL, so a crashed run never
leaves a stale lock behind. `generate` and `send` use only the event log (SQLite in WAL mode,
safe for a producer and a consumer at once) and never wait here.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from ecomctl.errors import EcomctlError

_POLL_SECONDS = 0.1
_COMMAND_CHARS = 120

# This process's step (note_step) and the locks it holds, which carry it.
_activity: dict[str, str | None] = {"step": None, "step_started": None}
_held: list["ProcessLock"] = []


class LockTimeout(EcomctlError):
    """Another process held the lock for longer than we were willing to wait."""


class LockBusy(EcomctlError):
    """A reader found the lock held by a writer, and readers do not wait."""

    def __init__(self, message: str, holder: "LockHolder", **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.holder = holder


@dataclass
class LockHolder:
    """Who holds a lock, as its lock file says: any field may be unknown."""

    pid: int | None
    command: str | None = None
    step: str | None = None
    step_started: str | None = None  # ISO-8601, UTC
    mode: str = "write"  # or "read"

    def describe(self, now: datetime | None = None) -> str:
        """`pid 4242, ecomctl run-all --count 300000, step ingest for 41 s`."""
        parts = [f"pid {self.pid}" if self.pid is not None else "pid unknown"]
        if self.command:
            parts.append(self.command)
        if self.step:
            parts.append(f"step {self.step}{_running_for(self.step_started, now)}")
        return ", ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def note_step(step: str) -> None:
    """Record the step this process runs now, in every lock it holds and in those it takes later."""
    _activity.update(step=step, step_started=datetime.now(timezone.utc).isoformat(timespec="seconds"))
    for lock in list(_held):
        lock._write_holder()


class ProcessLock:
    def __init__(self, path: Path, what: str) -> None:
        self.path = Path(path)
        self.what = what
        self.mode = "write"
        self._handle = None

    def acquire(self, wait_seconds: float,
                on_wait: Callable[[str], None] | None = None) -> "ProcessLock":
        """Take the lock alone (a writer), waiting up to `wait_seconds` for its holder."""
        fcntl = _fcntl()
        if fcntl is None:  # Windows: DuckDB's own file lock still keeps the data safe
            return self
        handle = self._open()
        deadline = time.monotonic() + max(wait_seconds, 0)
        told = False
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                holder = read_holder(handle).describe()
                if time.monotonic() >= deadline:
                    handle.close()
                    raise LockTimeout(
                        f"another ecomctl process ({holder}) is using {self.what}; "
                        f"gave up after waiting {wait_seconds:g}s",
                        hint="let it finish and run again, or raise ECOMCTL_LOCK_WAIT") from None
                if not told and on_wait is not None:
                    on_wait(f"waiting for another ecomctl process ({holder}) to finish with "
                            f"{self.what} (up to {wait_seconds:g}s, ECOMCTL_LOCK_WAIT)")
                    told = True
                time.sleep(_POLL_SECONDS)
        return self._hold(handle, "write")

    def acquire_shared(self) -> "ProcessLock":
        """Take the lock beside other readers, at once; a writer holding it raises LockBusy
        naming the writer and its step (a reader never waits)."""
        fcntl = _fcntl()
        if fcntl is None:
            return self
        handle = self._open()
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = read_holder(handle)
            handle.close()
            raise LockBusy(f"another ecomctl process ({holder.describe()}) is writing {self.what}",
                           holder, hint="run this again when that process is done") from None
        return self._hold(handle, "read")

    def release(self) -> None:
        if self._handle is not None:
            import fcntl

            if self in _held:
                _held.remove(self)
            if self.mode == "write" or read_holder(self._handle).pid == os.getpid():
                # The next holder starts from an empty file, not from a stale description.
                self._handle.seek(0)
                self._handle.truncate()
                self._handle.flush()
            fcntl.flock(self._handle.fileno(), fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None

    def _open(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return open(self.path, "a+", encoding="utf-8")

    def _hold(self, handle, mode: str) -> "ProcessLock":
        self._handle, self.mode = handle, mode
        _held.append(self)
        self._write_holder()
        return self

    def _write_holder(self) -> None:
        if self._handle is None:
            return
        if self.mode == "read":
            # Readers share the lock and the file: the first one alive keeps its description.
            named = read_holder(self._handle).pid
            if named is not None and named != os.getpid() and _alive(named):
                return
        holder = LockHolder(os.getpid(), _command_line(), _activity["step"], _activity["step_started"],
                            self.mode)
        # One short write: a reader of the file sees it empty or whole.
        self._handle.seek(0)
        self._handle.truncate()
        self._handle.write(json.dumps(holder.as_dict()) + "\n")
        self._handle.flush()


def read_holder(handle) -> LockHolder:
    """The holder a lock file names; an empty or unreadable file (between two writes, or written
    by an older ecomctl, which wrote its pid alone) gives what it can."""
    handle.seek(0)
    text = handle.read().strip()
    if text.isdigit():
        return LockHolder(int(text))
    try:
        data = json.loads(text)
        return LockHolder(**{k: data.get(k) for k in ("pid", "command", "step", "step_started")},
                          mode=data.get("mode") or "write")
    except (ValueError, TypeError, AttributeError):
        return LockHolder(None)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process
        return True
    return True


def _fcntl():
    try:
        import fcntl
    except ImportError:
        return None
    return fcntl


def _command_line() -> str:
    """This process's command as typed (`ecomctl run-all --count 300000`); settings that are
    secrets are never options, so the command line carries none."""
    text = " ".join(["ecomctl", *sys.argv[1:]])
    return text if len(text) <= _COMMAND_CHARS else text[: _COMMAND_CHARS - 1] + "…"


def _running_for(started: str | None, now: datetime | None) -> str:
    if not started:
        return ""
    try:
        since = datetime.fromisoformat(started)
    except ValueError:
        return ""
    seconds = int(((now or datetime.now(timezone.utc)) - since).total_seconds())
    return f" for {seconds:,} s" if seconds >= 0 else ""
