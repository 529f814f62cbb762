"""An SQL error through the CLI names the file, the statement and its line.

No test hook: the warehouse is changed under ecomctl with a direct DuckDB connection, the way a
user's own SQL (a renamed column, an edited history) breaks it, and the real SQL files then fail.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

REPO = Path(__file__).resolve().parents[1]


def alter(home: Path, statement: str) -> None:
    con = duckdb.connect(str(home / "ecommerce.duckdb"))
    try:
        con.execute(statement)
    finally:
        con.close()


def first_statement_reading(name: str, table: str) -> tuple[int, int]:
    """(number, line) of the file's first statement that names the table (layer.table)."""
    from ecomctl.warehouse.sqlfiles import split_statements

    layer, table_name = table.split(".")
    for statement in split_statements((REPO / "sql" / name).read_text(), name):
        if f"${{{layer}}}.{table_name}" in statement.text and not statement.text.startswith("CREATE TABLE IF"):
            return statement.index, statement.line
    raise AssertionError((name, table))


@pytest.fixture
def ran(cli):
    result = cli("run-all", "--count", "40", "--seed", "2", "--as-of", "2026-11-01")
    assert result.exit_code == 0, result.output
    return result


@pytest.mark.parametrize("command, table, column, sql_file", [
    ("transform", "bronze.products", "brand", "silver/01_order_details.sql"),
    ("views", "silver.order_details", "brand", "views/01_mv_top_brands.sql"),
])
def test_a_failing_statement_names_file_statement_and_line(cli, home, ran, command, table, column,
                                                            sql_file):
    alter(home, f"ALTER TABLE {table} RENAME COLUMN {column} TO {column}_renamed")
    result = cli(command)
    assert result.exit_code == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    number, line = first_statement_reading(sql_file, table)
    where = f"{sql_file}, statement {number} (line {line}): "
    assert where in lines[0]
    assert f"\"{column}\"" in lines[0]  # the engine's own reason, naming the column
    assert "Traceback" not in result.output

    debug = cli("--debug", command)
    assert debug.exit_code == 1
    assert "Traceback (most recent call last)" in debug.stderr and where in debug.stderr


def test_an_applied_setup_file_that_changed_names_it(cli, home, ran):
    alter(home, "UPDATE ecomctl_meta.schema_history SET checksum = 'edited' WHERE version = '002'")
    result = cli("transform")
    assert result.exit_code == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert "setup/V002__raw_events.sql" in lines[0]
    assert "Traceback" not in result.output
