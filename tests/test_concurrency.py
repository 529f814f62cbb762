"""Two processes at once, for real: a producer while ingest runs, and two ingests at once.

The event log is SQLite in WAL mode (a producer and a consumer may work at the same time); the
warehouse is one DuckDB file that one process at a time may open, so ecomctl processes take turns
on it through a file lock (ecomctl/locking.py) with a clear message.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time

import pytest

from ecomctl.events.generator import generate_messages
from processes import (AS_OF, AS_OF_DT, Expected, assert_exact, clean_env, ok, run, start,
                       wait_for)

pytestmark = pytest.mark.slow

BATCH = clean_env(ECOMCTL_INGEST_BATCH="500")


def _bodies(count: int, seed: int) -> list[bytes]:
    return [body for _, body in generate_messages(count, seed=seed, as_of=AS_OF_DT)]


def test_generate_while_ingest_runs_loses_nothing(tmp_path):
    home = tmp_path / "home"
    ok(run(home, "setup"))
    # An ingest of the empty log first: it builds bronze and fills the statement cache, so the
    # ingests below are a few of the producer's length, not one ingest as long as all of it.
    ok(run(home, "ingest", env=BATCH))
    seeds, per_run = tuple(range(101, 109)), 3_000
    produced = threading.Event()
    producer_errors: list = []

    def produce() -> None:
        try:
            for seed in seeds:
                ok(run(home, "generate", "--count", str(per_run), "--seed", str(seed), "--as-of", AS_OF))
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            producer_errors.append(exc)
        finally:
            produced.set()

    producer = threading.Thread(target=produce)
    producer.start()
    ingests_during_production = 0
    while not produced.is_set():
        ok(run(home, "ingest", env=BATCH))
        ingests_during_production += 1
    producer.join()
    assert not producer_errors, producer_errors
    assert ingests_during_production >= 2, "the ingests did not overlap the producer"
    ok(run(home, "ingest", env=BATCH))  # what arrived after the last concurrent ingest started
    expected = Expected([b for seed in seeds for b in _bodies(per_run, seed)])
    assert len(expected.order_ids) == len(seeds) * per_run
    assert_exact(home, expected, len(seeds) * per_run)


@pytest.fixture(scope="module")
def backlog(tmp_path_factory):
    home = tmp_path_factory.mktemp("concurrent") / "template"
    ok(run(home, "setup"))
    ok(run(home, "generate", "--count", "6000", "--seed", "7", "--as-of", AS_OF))
    return home, Expected(_bodies(6000, 7))


def test_two_ingests_at_once_take_turns(backlog, tmp_path):
    template, expected = backlog
    home = shutil.copytree(template, tmp_path / "home")
    first = start(home, "ingest", env=BATCH)
    second = start(home, "ingest", env=BATCH)
    outputs = [p.communicate(timeout=300) for p in (first, second)]
    assert [p.returncode for p in (first, second)] == [0, 0], [o[1][-2000:] for o in outputs]
    printed = [(out + err).decode() for out, err in outputs]
    waited = [text for text in printed if "waiting for another ecomctl process" in text]
    assert len(waited) == 1, [text[-1500:] for text in printed]
    assert "(pid " in waited[0]
    assert_exact(home, expected, 6000)


def _lock_holder(lock) -> dict:
    try:
        return json.loads(lock.read_text())
    except (OSError, ValueError):
        return {}


def test_a_writer_that_may_not_wait_says_who_holds_the_warehouse_and_its_step(backlog, tmp_path):
    template, expected = backlog
    home = shutil.copytree(template, tmp_path / "home")
    holder = start(home, "ingest", env=BATCH)
    lock = home / "warehouse.lock"
    assert wait_for(lambda: _lock_holder(lock).get("pid") == holder.pid)
    result = run(home, "transform", env=clean_env(ECOMCTL_LOCK_WAIT="0"))
    stderr = result.stderr.decode()
    holder.communicate(timeout=300)
    assert holder.returncode == 0
    assert result.returncode == 1
    assert f"another ecomctl process (pid {holder.pid}, ecomctl --home {home} ingest, step ingest" \
        in stderr
    assert "Traceback" not in stderr and len(stderr.strip().splitlines()) <= 3
    assert_exact(home, expected, 6000)
    assert lock.read_text() == ""  # released: no stale description for the next holder


# Holds the warehouse as a command would: the lock (exclusive to write, shared to read), the step
# it runs, and the DuckDB file itself; then waits for its standard input to close.
HOLDER = """
import sys, duckdb
from pathlib import Path
from ecomctl.locking import ProcessLock, note_step
home, mode = Path(sys.argv[1]), sys.argv[2]
sys.argv = ["ecomctl", "run-all", "--count", "300000"]
note_step("ingest")
lock = ProcessLock(home / "warehouse.lock", "the warehouse")
lock.acquire(0) if mode == "write" else lock.acquire_shared()
con = duckdb.connect(str(home / "ecommerce.duckdb"), read_only=mode == "read")
print("holding", flush=True)
sys.stdin.read()
"""


def hold_warehouse(home, mode: str):
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(home), mode], env=clean_env(),
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert holder.stdout.readline() == b"holding\n", holder.stderr.read()
    return holder


def test_status_does_not_wait_for_a_writer_it_shows_the_event_log_and_who_writes(backlog, tmp_path):
    """status while another process writes the warehouse: at once, exit 0, the event log's side
    (6,000 events over the partitions), and which command writes, in which step; not a wait of
    up to ECOMCTL_LOCK_WAIT (300 s by default)."""
    template, _ = backlog
    home = shutil.copytree(template, tmp_path / "home")
    holder = hold_warehouse(home, "write")
    try:
        started = time.monotonic()
        result = run(home, "--json", "status", timeout=60)
        took = time.monotonic() - started
    finally:
        holder.communicate(b"")
    out, err = result.stdout.decode(), result.stderr.decode()
    assert result.returncode == 0, err
    assert took < 30
    said = " ".join(err.split())
    assert (f"another ecomctl process (pid {holder.pid}, ecomctl run-all --count 300000, step ingest "
            "for ") in said
    assert "is writing the warehouse: its row counts, lag, SQL versions and reconciliation show " \
           "once it is done" in said
    assert "waiting" not in err
    assert "status: finished in" not in out  # --json: the human lines are on stderr
    assert "(the event log only: another process writes the warehouse)" in err
    report = json.loads(out)
    step = report["steps"][0]
    assert step["details"]["warehouse_busy"]["pid"] == holder.pid
    assert step["details"]["warehouse_busy"]["step"] == "ingest"
    assert step["objects"] == [] and report["reconciliation"] is None
    partitions = step["details"]["partitions"]
    assert sum(p["last_enqueued_sequence"] + 1 for p in partitions) == 6000
    assert {p["lag"] for p in partitions} == {None}  # unknown, not 0
    assert "partitions of local/orders (the event log alone)" in step["tables"]


def test_readers_share_the_warehouse_and_a_writer_waits_for_them(backlog, tmp_path):
    template, _ = backlog
    home = shutil.copytree(template, tmp_path / "home")
    ok(run(home, "ingest"))
    reader = hold_warehouse(home, "read")
    try:
        status = run(home, "--json", "status", timeout=60)
        writer = run(home, "transform", env=clean_env(ECOMCTL_LOCK_WAIT="0"))
    finally:
        reader.communicate(b"")
    assert status.returncode == 0, status.stderr.decode()
    assert json.loads(status.stdout)["reconciliation"]["total_landed"] == 6000
    assert writer.returncode == 1
    assert f"another ecomctl process (pid {reader.pid}, ecomctl run-all --count 300000, step ingest" \
        in writer.stderr.decode()
    ok(run(home, "transform"))  # the reader is gone: the writer goes ahead
