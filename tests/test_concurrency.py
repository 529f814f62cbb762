"""Two processes at once, for real: a producer while ingest runs, and two ingests at once.

The event log is SQLite in WAL mode (a producer and a consumer may work at the same time); the
warehouse is one DuckDB file that one process at a time may open, so ecomctl processes take turns
on it through a file lock (ecomctl/locking.py) with a clear message.
"""

from __future__ import annotations

import shutil
import threading

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
    seeds, per_run = (101, 102, 103, 104), 3_000
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


def test_a_command_that_may_not_wait_says_who_holds_the_warehouse(backlog, tmp_path):
    template, expected = backlog
    home = shutil.copytree(template, tmp_path / "home")
    holder = start(home, "ingest", env=BATCH)
    lock = home / "warehouse.lock"
    assert wait_for(lambda: lock.exists() and lock.read_text().strip() == str(holder.pid))
    result = run(home, "status", env=clean_env(ECOMCTL_LOCK_WAIT="0"))
    stderr = result.stderr.decode()
    holder.communicate(timeout=300)
    assert holder.returncode == 0
    assert result.returncode == 1
    assert f"another ecomctl process (pid {holder.pid}) is using the warehouse" in stderr
    assert "Traceback" not in stderr and len(stderr.strip().splitlines()) <= 3
    assert_exact(home, expected, 6000)
