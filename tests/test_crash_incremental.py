"""An incremental ingest or transform killed before any of its statements leaves a warehouse that
the next run completes to exactly the full-refresh result.

A home holds a history (ingested and transformed); then new events arrive: new orders, the same
seed again (producer resends of earlier orders) and invalid events. `ingest` is killed with
SIGKILL before each bronze statement in turn (each killed run repeats what the one before it
finished, so every statement also runs twice), then runs to the end; `transform` likewise before
each silver and gold statement. Every derived table must then equal a full refresh of a copy,
row for row, and the reference.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bad_events import bad_events
from processes import AS_OF, clean_env, ok, run
from reference import COLUMNS, KEYS, RawEvent, compute_reference, sort_rows

pytestmark = pytest.mark.slow

BRONZE_STATEMENTS, SILVER_STATEMENTS, GOLD_STATEMENTS = 9, 5, 4


def _tables(home: Path) -> dict[str, list[tuple]]:
    import duckdb

    con = duckdb.connect(str(home / "ecommerce.duckdb"), read_only=True)
    try:
        return {t: sorted(con.execute(f"SELECT * FROM {t}").fetchall(), key=repr)
                for t in [*KEYS, "bronze.received_events"]}
    finally:
        con.close()


def _assert_equals_reference(home: Path) -> None:
    import duckdb

    con = duckdb.connect(str(home / "ecommerce.duckdb"), read_only=True)
    try:
        raw = [RawEvent(*row) for row in con.execute(
            "SELECT source, partition_id, sequence_number, body, landed_at, landing_file, "
            "body_encoding FROM bronze.raw_events").fetchall()]
        reference = compute_reference(raw)
        for table in KEYS:
            cursor = con.execute(f"SELECT * FROM {table}")
            columns = [d[0] for d in cursor.description]
            rows = [dict(zip(columns, row)) for row in cursor.fetchall()]
            assert sort_rows(table, [{c: r[c] for c in COLUMNS[table]} for r in rows]) == reference[table], table
    finally:
        con.close()


def _killed(home: Path, command: str, point: str) -> None:
    result = run(home, command, env=clean_env(ECOMCTL_FAULT=point))
    assert result.returncode == -9, (point, result.stderr.decode(errors="replace")[-2000:])


def test_incremental_ingest_and_transform_killed_before_every_statement(tmp_path):
    home = tmp_path / "home"
    ok(run(home, "setup"))
    ok(run(home, "generate", "--count", "2000", "--seed", "3", "--as-of", AS_OF))
    for step in ("ingest", "transform", "views"):
        ok(run(home, step))

    ok(run(home, "generate", "--count", "600", "--seed", "3", "--as-of", AS_OF))  # resends
    ok(run(home, "generate", "--count", "400", "--seed", "4", "--as-of", AS_OF))  # new orders
    lines = tmp_path / "bad.jsonl"
    lines.write_bytes(b"\n".join(body for body, _ in bad_events(40)) + b"\n")
    ok(run(home, "send", str(lines)))

    for n in range(1, BRONZE_STATEMENTS + 1):
        _killed(home, "ingest", f"bronze.statement:{n}")
    ok(run(home, "ingest"))
    for layer, count in (("silver", SILVER_STATEMENTS), ("gold", GOLD_STATEMENTS)):
        for n in range(1, count + 1):
            _killed(home, "transform", f"{layer}.statement:{n}")
    ok(run(home, "transform"))
    ok(run(home, "views"))

    refreshed = tmp_path / "refreshed"
    shutil.copytree(home, refreshed)
    for step in ("ingest", "transform", "views"):
        ok(run(refreshed, step, "--full-refresh"))
    incremental, full = _tables(home), _tables(refreshed)
    for table in full:
        assert incremental[table] == full[table], table
    _assert_equals_reference(home)
    assert len(incremental["bronze.rejected_events"]) == 40
