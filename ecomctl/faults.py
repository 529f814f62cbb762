"""Fault points: named moments where a test can make ecomctl die as if killed.

`ECOMCTL_FAULT=<name>[:<n>]` makes the process SIGKILL itself the n-th time (default the first)
it passes `fault_point(<name>)`: no cleanup, no atexit, no flush, exactly what a crash, an OOM kill
or a pulled plug does at that moment. Unset (always, outside tests) a fault point costs one
environment lookup. The crash tests in tests/test_crash_safety.py use every point below.

Points: ingest.read (events read, nothing landed), ingest.landing_tmp_written (the temporary
landing file is complete, not yet renamed), ingest.landing_written (landed, not loaded),
copy_into.inserted (rows inserted, transaction not committed), ingest.loaded (loaded, the next
read not started), <step>.statement (before each statement of a SQL file of that step: bronze,
silver, gold, views; e.g. bronze.statement:4 is before the MERGE into bronze.orders).
"""

from __future__ import annotations

import os
import signal

ENV = "ECOMCTL_FAULT"
_hits: dict[str, int] = {}


def fault_point(name: str) -> None:
    spec = os.environ.get(ENV)
    if not spec:
        return
    target, _, nth = spec.partition(":")
    if target != name:
        return
    _hits[name] = _hits.get(name, 0) + 1
    if _hits[name] >= int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)
