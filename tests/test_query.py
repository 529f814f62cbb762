"""`ecomctl query`: one read-only Databricks SQL query on the target's warehouse, through the real
CLI; and the local warehouse file, named after the catalog, opened directly by DuckDB with the
names ecomctl prints."""

from __future__ import annotations

import json
import shutil

import duckdb
import pytest

from processes import AS_OF, clean_env, ok, run

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A home after run-all (200 events, two of them bad lines sent on top)."""
    home = tmp_path_factory.mktemp("query") / "home"
    ok(run(home, "setup"))
    ok(run(home, "send", "-", input=b'{"order_id": 1}\nnot json\n'))
    ok(run(home, "run-all", "--count", "200", "--seed", "9", "--as-of", AS_OF))
    return home


def test_query_prints_rows_in_a_table(built):
    result = ok(run(built, "query", "SELECT reason, COUNT(*) AS events FROM ecommerce.bronze.rejected_events "
                                    "GROUP BY reason ORDER BY reason"))
    out = result.stdout.decode()
    assert "result (2 rows)" in out and "invalid JSON" in out and "events" in out


def test_query_json_gives_the_rows_and_names_are_substituted(built):
    result = ok(run(built, "--json", "query", "SELECT order_id, quantity FROM ${catalog}.${silver}.order_details "
                                              "ORDER BY order_id", "--limit", "3"))
    step = json.loads(result.stdout)["steps"][0]
    details = step["details"]
    assert step["step"] == "query" and details["columns"] == ["order_id", "quantity"]
    assert [row[0] for row in details["rows"]] == ["ORD-S9-000001", "ORD-S9-000002", "ORD-S9-000003"]
    assert isinstance(details["rows"][0][1], int)
    assert details["truncated"] is True and details["limit"] == 3
    assert "more rows than --limit 3" in result.stderr.decode()


def test_limit_bounds_the_rows_and_a_query_keeps_its_own_limit(built):
    default = json.loads(ok(run(built, "--json", "query", "SELECT * FROM ecommerce.bronze.orders")).stdout)
    assert len(default["steps"][0]["details"]["rows"]) == 50
    own = json.loads(ok(run(built, "query", "SELECT order_id FROM ecommerce.bronze.orders LIMIT 4 -- four",
                            "--json")).stdout)["steps"][0]["details"]
    assert len(own["rows"]) == 4 and own["truncated"] is False
    stdin = ok(run(built, "query", "-", "--json", input=b"SELECT 1 AS one\n-- a comment\n;\n"))
    assert json.loads(stdin.stdout)["steps"][0]["details"]["rows"] == [[1]]


@pytest.mark.parametrize("sql, word", [
    ("DELETE FROM ecommerce.bronze.orders", "DELETE"),
    ("INSERT INTO ecommerce.bronze.orders SELECT * FROM ecommerce.bronze.orders", "INSERT"),
    ("WITH o AS (SELECT * FROM ecommerce.bronze.orders) INSERT INTO ecommerce.bronze.orders "
     "SELECT * FROM o", "INSERT"),
    ("CREATE OR REPLACE TABLE ecommerce.gold.x AS SELECT 1 AS one", "REPLACE TABLE"),
    ("DROP TABLE ecommerce.bronze.orders", "DROP TABLE"),
])
def test_a_statement_that_writes_is_refused(built, sql, word):
    before = _count(built)
    result = run(built, "query", sql)
    assert result.returncode == 2
    (line,) = result.stderr.decode().splitlines()
    assert line.startswith(f"Error: query only reads, and this statement writes ({word})")
    assert _count(built) == before


def test_the_warehouse_file_opens_in_duckdb_with_the_names_ecomctl_prints(built):
    """`duckdb .ecomctl/ecommerce.duckdb`, then the names of every output: the file is named after
    the catalog, which is how DuckDB names a database it opens."""
    con = duckdb.connect(str(built / "ecommerce.duckdb"), read_only=True)
    try:
        assert con.execute("SELECT COUNT(*) FROM ecommerce.bronze.rejected_events").fetchone() == (2,)
        assert con.execute("SELECT COUNT(*) FROM ecommerce.gold.mv_top_brands").fetchone()[0] > 0
    finally:
        con.close()
    assert not (built / "warehouse.duckdb").exists()


def test_a_home_with_the_old_file_name_is_read_then_renamed_by_the_next_writer(built, tmp_path):
    home = tmp_path / "old-home"
    shutil.copytree(built, home)
    (home / "ecommerce.duckdb").rename(home / "warehouse.duckdb")
    # A reader reads the old file as it is.
    rows = json.loads(ok(run(home, "--json", "query", "SELECT COUNT(*) AS n FROM ecommerce.bronze.orders")).stdout)
    assert rows["steps"][0]["details"]["rows"] == [[200]]
    assert (home / "warehouse.duckdb").exists() and not (home / "ecommerce.duckdb").exists()
    # A writer renames it, with everything in it.
    ok(run(home, "ingest"))
    assert (home / "ecommerce.duckdb").exists() and not (home / "warehouse.duckdb").exists()
    assert _count(home) == 200


def test_a_query_does_not_wait_behind_a_writer(built, tmp_path):
    """A DuckDB file being written cannot be read from another process: query says so at once
    instead of waiting ECOMCTL_LOCK_WAIT seconds; two readers share the file."""
    import time

    from ecomctl.locking import ProcessLock

    lock = ProcessLock(built / "warehouse.lock", "the warehouse").acquire(0)
    try:
        started = time.monotonic()
        result = run(built, "query", "SELECT 1 AS one", env=clean_env(ECOMCTL_LOCK_WAIT="300"))
        assert time.monotonic() - started < 60
        assert result.returncode == 1
        assert "is writing the warehouse" in result.stderr.decode()
    finally:
        lock.release()
    reader = ProcessLock(built / "warehouse.lock", "the warehouse").acquire_shared()
    try:
        ok(run(built, "query", "SELECT 1 AS one"))
    finally:
        reader.release()


def test_a_query_before_setup_says_what_to_run(tmp_path):
    result = run(tmp_path / "home", "query", "SELECT 1 AS one")
    assert result.returncode == 1
    assert "does not exist yet" in result.stderr.decode() and "ecomctl setup" in result.stderr.decode()


def test_a_dry_run_prints_the_statement_it_would_send(tmp_path):
    result = ok(run(tmp_path / "home", "--target", "databricks", "--json", "query", "--dry-run",
                    "SELECT order_id FROM ${catalog}.${bronze}.orders"))
    *_, statement = json.loads(result.stdout)["plan"]  # after the warehouse's start
    assert statement["kind"] == "sql"
    assert statement["text"] == "SELECT order_id FROM ecommerce.bronze.orders\nLIMIT 51"
    assert not (tmp_path / "home" / "ecommerce.duckdb").exists()


def _count(home) -> int:
    con = duckdb.connect(str(home / "ecommerce.duckdb"), read_only=True)
    try:
        return con.execute("SELECT COUNT(*) FROM ecommerce.bronze.orders").fetchone()[0]
    finally:
        con.close()


