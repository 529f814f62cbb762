"""Reconciliation through the CLI: a bronze that no longer adds up is an error.

Bronze is tampered with through a direct DuckDB connection, as a user's stray SQL or a half-done
manual repair would; `status` then exits 1 with one line naming the count that does not add up.
`ingest` rebuilds bronze from raw_events (the hint says so), so after it everything adds up again.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from test_report_schema import validate


def tamper(home: Path, *statements: str) -> None:
    con = duckdb.connect(str(home / "ecommerce.duckdb"))
    try:
        for statement in statements:
            con.execute(statement)
    finally:
        con.close()


def failed_status_line(cli) -> str:
    """`status` exits 1 with one line (no traceback) saying the reconciliation failed."""
    result = cli("status")
    assert result.exit_code == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert "reconciliation failed" in lines[0] and "Traceback" not in result.output
    return lines[0]


def assert_ingest_repairs(cli) -> None:
    """The hint is true: ingest --full-refresh rebuilds bronze from raw_events and it adds up again."""
    repaired = cli("ingest", "--full-refresh")
    assert repaired.exit_code == 0, repaired.output
    assert cli("status").exit_code == 0


@pytest.fixture
def ran(cli):
    result = cli("run-all", "--count", "60", "--seed", "5", "--as-of", "2026-11-01")
    assert result.exit_code == 0, result.output
    return result


def test_a_clean_run_adds_up_in_status(cli, ran):
    result = cli("--json", "status")
    assert result.exit_code == 0, result.stderr
    r = json.loads(result.stdout)["reconciliation"]
    assert r["balanced"] is True and r["problems"] == []
    assert r["valid_orders"] == 60 and r["total_landed"] == 60


def test_orders_deleted_from_bronze_fail_status_with_one_line(cli, home, ran):
    tamper(home, "DELETE FROM bronze.orders WHERE order_id IN "
                 "(SELECT order_id FROM bronze.orders ORDER BY order_id LIMIT 3)")
    line = failed_status_line(cli)
    assert "bronze.orders has 57" in line and "60 orders" in line  # the table and both numbers

    report = json.loads(cli("--json", "status").stdout)
    assert report["ok"] is False and report["reconciliation"]["balanced"] is False
    assert "bronze.orders has 57" in report["error"]
    validate(report)  # the counts that do not add up are in the report, as documented
    assert any("bronze.orders has 57" in p for p in report["reconciliation"]["problems"])

    assert_ingest_repairs(cli)


def test_a_bogus_rejected_event_fails_status_naming_the_partition(cli, home, ran):
    tamper(home,  # one made-up rejected event in a partition that exists, copied from a landed row
           "INSERT INTO bronze.rejected_events (source, partition_id, sequence_number, "
           "body, reason) SELECT source, partition_id, sequence_number + 1000000, 'not json', "
           "'not JSON' FROM bronze.raw_events ORDER BY partition_id, sequence_number LIMIT 1")
    line = failed_status_line(cli)
    assert "rejected 1 " in line and "partition " in line
    assert_ingest_repairs(cli)


def test_an_order_of_this_runs_batch_missing_fails_the_ingest_check_without_the_audit(cli, home, ran):
    """After each ingest the check is cheap: the orders of the run's merge batch must be in
    bronze.orders (no distinct count over the history); `status` adds the audit of every order."""
    from ecomctl.config import Settings
    from ecomctl.reconciliation import Reconciler
    from ecomctl.targets import make_target

    assert cli("generate", "--count", "20", "--seed", "6", "--as-of", "2026-11-02").exit_code == 0
    ingested = cli("--json", "ingest")
    assert ingested.exit_code == 0 and json.loads(ingested.stdout)["reconciliation"]["balanced"]
    tamper(home, "DELETE FROM bronze.orders WHERE order_id IN "
                 "(SELECT order_id FROM bronze.merge_batch ORDER BY order_id LIMIT 2)")

    with make_target(Settings.load({"home": home}, environ={})).warehouse() as warehouse:
        reconciler = Reconciler(warehouse, warehouse.names)
        quick = reconciler.reconcile()
        audited = reconciler.reconcile(audit=True)
    assert not quick["balanced"]
    assert quick["problems"] == ["2 orders of this run's valid events are missing from "
                                 "ecommerce.bronze.orders"]
    assert any("the valid events name 80 orders but ecommerce.bronze.orders has 78" in p
               for p in audited["problems"])
    assert "bronze.orders has 78" in failed_status_line(cli)
    assert_ingest_repairs(cli)
