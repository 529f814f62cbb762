"""Ingestion's promise (docs/design.md, "Ingestion") with real processes: ingest killed with
SIGKILL at many moments, then run again, ends with every valid order exactly once and every
received event counted once.

A backlog of 20,000 generated events plus 200 bad ones is built once into a template home; each
round copies it, kills `ecomctl ingest` several times in a row (at named fault points, see
ecomctl/faults.py, and at seeded random times), runs ingest once more to completion and checks
bronze in the DuckDB file, with a connection of its own, against what was sent and the reference.
Small landing batches (1,000 events) make many batches, so the kills land in every phase: reading,
writing a landing file, loading it, between batches, and during the bronze SQL.
"""

from __future__ import annotations

import random
import shutil
import time
from pathlib import Path

import pytest

from bad_events import bad_events
from ecomctl.events.generator import generate_messages
from processes import (AS_OF, AS_OF_DT, Expected, assert_exact, clean_env, kill_after, ok,
                       report, run, start)
from reference import RawEvent, compute_reference, sort_rows

pytestmark = pytest.mark.slow

EVENTS, BAD, SEED = 20_000, 200, 11
BATCH = "1000"

# Named moments: (fault point, which pass through it), six kills in a row on one home, so later
# kills often hit a run that is still repairing what the previous kill left.
FAULT_ROUNDS = [
    [("ingest.read", 1), ("ingest.landing_tmp_written", 2), ("ingest.landing_written", 3),
     ("copy_into.inserted", 2), ("ingest.loaded", 4), ("bronze.statement", 4)],
    [("ingest.landing_written", 1), ("copy_into.inserted", 1), ("ingest.loaded", 2),
     ("ingest.landing_tmp_written", 5), ("ingest.read", 3), ("bronze.statement", 8)],
]
RANDOM_ROUNDS, KILLS_PER_RANDOM_ROUND = 2, 6


@pytest.fixture(scope="module")
def backlog(tmp_path_factory):
    """Template home: set up, 20,000 generated events and 200 bad ones in the log, nothing ingested."""
    home = tmp_path_factory.mktemp("crash") / "template"
    ok(run(home, "setup"))
    ok(run(home, "generate", "--count", str(EVENTS), "--seed", str(SEED), "--as-of", AS_OF))
    bad = bad_events(BAD)
    lines = tmp_path_factory.mktemp("bad") / "bad.jsonl"
    lines.write_bytes(b"\n".join(body for body, _ in bad) + b"\n")
    ok(run(home, "send", str(lines)))
    bodies = [body for _, body in generate_messages(EVENTS, seed=SEED, as_of=AS_OF_DT)]
    expected = Expected(bodies + [body for body, _ in bad])
    assert len(expected.order_ids) == EVENTS and sum(expected.rejected.values()) == BAD
    return home, expected


def _copy(template: Path, to: Path) -> Path:
    shutil.copytree(template, to)
    return to


def _recover_and_check(home: Path, expected: Expected) -> dict:
    """Run ingest to the end (it must succeed and balance) and check bronze exactly."""
    result = ok(run(home, "--json", "ingest", env=clean_env(ECOMCTL_INGEST_BATCH=BATCH)))
    reconciliation = report(result)["reconciliation"]
    assert reconciliation["balanced"], reconciliation
    assert_exact(home, expected, EVENTS + BAD)
    return reconciliation


def test_ingest_killed_at_named_moments_then_rerun_is_exact(backlog, tmp_path):
    template, expected = backlog
    kills = 0
    for n, round_ in enumerate(FAULT_ROUNDS):
        home = _copy(template, tmp_path / f"fault-{n}")
        for point, nth in round_:
            result = run(home, "ingest", env=clean_env(ECOMCTL_INGEST_BATCH=BATCH,
                                                       ECOMCTL_FAULT=f"{point}:{nth}"))
            assert result.returncode == -9, (point, nth, result.stderr.decode()[-2000:])
            kills += 1
        _recover_and_check(home, expected)
        if n == 0:
            _assert_orders_equal_reference(home)
    assert kills == 12


def test_ingest_killed_at_random_moments_then_rerun_is_exact(backlog, tmp_path):
    """Kill times are seeded and spread over a run; a run that ends before its kill time (the
    backlog is drained, or the machine is fast) makes the window shorter, and does not count."""
    template, expected = backlog
    rng = random.Random(20261126)
    window = 4.0
    kills = attempts = 0
    for n in range(RANDOM_ROUNDS):
        home = _copy(template, tmp_path / f"random-{n}")
        round_kills = 0
        while round_kills < KILLS_PER_RANDOM_ROUND and attempts < 40:
            attempts += 1
            proc = start(home, "ingest", env=clean_env(ECOMCTL_INGEST_BATCH=BATCH))
            started = time.monotonic()
            if kill_after(proc, rng.uniform(0.5, window)):
                round_kills += 1
            else:
                assert proc.returncode == 0, proc.err_text[-2000:]
                window = max(0.6, 0.8 * (time.monotonic() - started))
        kills += round_kills
        _recover_and_check(home, expected)
    assert kills == RANDOM_ROUNDS * KILLS_PER_RANDOM_ROUND


def _assert_orders_equal_reference(home: Path) -> None:
    """The orders after crashes and a re-run, column by column, equal the independent reference
    computed from raw_events (which may hold an event twice: a file landed again after a crash)."""
    import duckdb

    con = duckdb.connect(str(home / "ecommerce.duckdb"), read_only=True)
    try:
        raw = [RawEvent(*row) for row in con.execute(
            "SELECT source, partition_id, sequence_number, body, landed_at, landing_file, "
            "body_encoding FROM bronze.raw_events").fetchall()]
        cursor = con.execute("SELECT * FROM bronze.orders")
        columns = [d[0] for d in cursor.description]
        orders = [dict(zip(columns, row)) for row in cursor.fetchall()]
    finally:
        con.close()
    assert sort_rows("bronze.orders", orders) == compute_reference(raw)["bronze.orders"]
    assert len(orders) == EVENTS
