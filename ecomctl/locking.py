"""One process at a time on the local warehouse: an OS file lock beside the DuckDB file.

DuckDB itself lets one process open a database file for writing; a second one fails with an
engine error. ecomctl takes this lock before it opens the warehouse and keeps it until it closes
it, so two commands that use the warehouse (two `ingest`, a cron `run-all` and a `status`) take
turns: the second one says who it waits for and waits up to ECOMCTL_LOCK_WAIT seconds, then
stops with a clear line. The lock is flock(2): the kernel drops it when its process dies, even
by SIGKILL, so a crashed run never leaves a stale lock behind. `generate` and `send` use only the
event log (SQLite in WAL mode, safe for a producer and a consumer at once) and never wait here.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Callable

from ecomctl.errors import EcomctlError

_POLL_SECONDS = 0.1


class LockTimeout(EcomctlError):
    """Another process held the lock for longer than we were willing to wait."""


class ProcessLock:
    def __init__(self, path: Path, what: str) -> None:
        self.path = Path(path)
        self.what = what
        self._handle = None

    def acquire(self, wait_seconds: float, on_wait: Callable[[str], None] | None = None, *,
                shared: bool = False) -> "ProcessLock":
        """Take the lock, waiting up to `wait_seconds`. A `shared` lock (a reader's) is held by any
        number of readers at once and only waits for a writer, which waits for all of them."""
        try:
            import fcntl
        except ImportError:  # Windows: DuckDB's own file lock still keeps the data safe
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+", encoding="utf-8")
        deadline = time.monotonic() + max(wait_seconds, 0)
        told = False
        while True:
            try:
                fcntl.flock(handle.fileno(), (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                holder = _holder(handle)
                if time.monotonic() >= deadline:
                    handle.close()
                    if shared and wait_seconds <= 0:  # a reader that must not wait: a writer holds it
                        raise LockTimeout(f"another ecomctl process ({holder}) is writing {self.what}",
                                          hint="run this again when it has finished") from None
                    raise LockTimeout(
                        f"another ecomctl process ({holder}) is using {self.what}; "
                        f"gave up after waiting {wait_seconds:g}s",
                        hint="let it finish and run again, or raise ECOMCTL_LOCK_WAIT") from None
                if not told and on_wait is not None:
                    on_wait(f"waiting for another ecomctl process ({holder}) to finish with "
                            f"{self.what} (up to {wait_seconds:g}s, ECOMCTL_LOCK_WAIT)")
                    told = True
                time.sleep(_POLL_SECONDS)
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._handle = handle
        return self

    def release(self) -> None:
        if self._handle is not None:
            import fcntl

            fcntl.flock(self._handle.fileno(), fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None


def _holder(handle) -> str:
    handle.seek(0)
    pid = handle.read().strip()
    return f"pid {pid}" if pid.isdigit() else "pid unknown"
