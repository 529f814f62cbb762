"""Real ecomctl processes for the crash, concurrency and error tests: run, start, kill, verify.

Everything is checked from outside: the test knows what it sent (the seeded generator, its own
bad lines), runs the CLI in subprocesses, kills them with SIGKILL, and reads the DuckDB file with
its own read-only connection. Nothing here depends on how ingest works inside.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from reference import validate

_PREFIXES = ("ECOMCTL_", "DATABRICKS_", "EVENTHUB_", "KEYVAULT_", "AZURE_", "GITHUB_STEP_SUMMARY")
AS_OF = "2026-11-20"
AS_OF_DT = datetime(2026, 11, 20, tzinfo=timezone.utc)


def clean_env(**extra: str) -> dict[str, str]:
    """The machine's environment without any ecomctl / cloud setting, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_PREFIXES)}
    env.update(extra)
    return env


def command(home: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "ecomctl", "--home", str(home), *args]


def run(home: Path, *args: str, env: dict | None = None, timeout: float = 300,
        input: bytes | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(command(home, *args), env=env or clean_env(), capture_output=True,
                          timeout=timeout, input=input, cwd=cwd)


def start(home: Path, *args: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen(command(home, *args), env=env or clean_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def kill_after(proc: subprocess.Popen, seconds: float) -> bool:
    """SIGKILL `proc` after `seconds` unless it ended first; True when it was killed."""
    try:
        proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.out_text, proc.err_text = (b.decode(errors="replace") for b in proc.communicate())
        return True
    proc.out_text, proc.err_text = (b.decode(errors="replace") for b in proc.communicate())
    return False


def ok(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert result.returncode == 0, (result.stdout.decode(errors="replace")[-2000:],
                                    result.stderr.decode(errors="replace")[-3000:])
    return result


@dataclass
class Expected:
    """What bronze must hold after everything sent was ingested, from the bodies alone."""

    bodies: list[bytes]

    def __post_init__(self) -> None:
        self.order_ids: set[str] = set()
        self.rejected: Counter = Counter()
        for body in self.bodies:
            try:
                text, encoding = body.decode("utf-8"), None
            except UnicodeDecodeError:
                text, encoding = "", "base64"
            fields, reason = validate(text, encoding)
            if reason is None:
                self.order_ids.add(fields["order_id"])
            else:
                self.rejected[reason] += 1


def warehouse_counts(home: Path) -> dict:
    """Read bronze with a connection of our own (read only): exact facts, not ecomctl's summary."""
    import duckdb

    con = duckdb.connect(str(home / "ecommerce.duckdb"), read_only=True)
    try:
        q = lambda sql: con.execute(sql).fetchall()  # noqa: E731
        return {
            "orders": Counter(r[0] for r in q("SELECT order_id FROM bronze.orders")),
            "received_keys": q("SELECT COUNT(*), COUNT(DISTINCT (source, partition_id, sequence_number)) "
                               "FROM bronze.received_events")[0],
            "raw_keys": q("SELECT COUNT(DISTINCT (source, partition_id, sequence_number)) "
                          "FROM bronze.raw_events")[0][0],
            "rejected": Counter(r[0] for r in q("SELECT reason FROM bronze.rejected_events")),
            "valid_events": q("SELECT COUNT(*) FROM bronze.received_events WHERE reason IS NULL")[0][0],
        }
    finally:
        con.close()


def assert_exact(home: Path, expected: Expected, events_sent: int) -> None:
    """Every valid order exactly once, every received event counted once, rejects with reasons."""
    got = warehouse_counts(home)
    assert set(got["orders"]) == expected.order_ids
    assert max(got["orders"].values()) == 1
    assert got["received_keys"] == (events_sent, events_sent)
    assert got["raw_keys"] == events_sent
    assert got["rejected"] == expected.rejected
    assert got["valid_events"] + sum(got["rejected"].values()) == events_sent


def report(result: subprocess.CompletedProcess) -> dict:
    return json.loads(result.stdout)


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


def child_pids(pid: int) -> set[int]:
    """The processes whose parent is `pid`, from /proc (Linux)."""
    children = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces and parentheses, so split after the last ')'
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            children.add(int(entry.name))
    return children


def alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie, dead but not yet reaped, does not count)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    except OSError:  # no /proc: ask the kernel
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def events_in_log(home: Path) -> int:
    """How many events the embedded event log holds, read through its own API."""
    from ecomctl.events.eventlog import EmbeddedEventLog

    log = EmbeddedEventLog(home / "eventhub.db", retention=None)
    try:
        return sum(log.partition_state(p).last_sequence_number + 1 for p in log.partition_ids())
    finally:
        log.close()
