"""Versioned setup files on a real DuckDB file: applied once, recorded, edits detected."""

from __future__ import annotations

from pathlib import Path

import pytest

from ecomctl.errors import MigrationError, SqlError
from ecomctl.warehouse import migrations
from ecomctl.warehouse.base import Names
from ecomctl.warehouse.duckdb import DuckDBWarehouse
from ecomctl.warehouse.sqlfiles import load_step

pytest.importorskip("duckdb")


@pytest.fixture()
def sql(tmp_path) -> Path:
    root = tmp_path / "sql"
    (root / "setup").mkdir(parents=True)
    (root / "setup" / "V001__schemas.sql").write_text(
        "CREATE SCHEMA IF NOT EXISTS ${catalog}.${bronze} COMMENT 'bronze';\n")
    (root / "setup" / "V002__tables.sql").write_text(
        "-- the raw table\nCREATE TABLE IF NOT EXISTS ${catalog}.${bronze}.raw (id BIGINT, body STRING)\n"
        "USING DELTA COMMENT 'raw';\n\nINSERT INTO ${catalog}.${bronze}.raw VALUES (1, 'seed');\n")
    return root


def open_warehouse(tmp_path: Path) -> DuckDBWarehouse:
    return DuckDBWarehouse(tmp_path / "home" / "warehouse.duckdb", Names(),
                           volumes_root=tmp_path / "home" / "landing")


def test_apply_records_history_and_reapply_is_a_noop(tmp_path, sql):
    files = load_step("setup", sql)
    with open_warehouse(tmp_path) as wh:
        assert [s.state for s in migrations.status(wh, files)] == ["pending", "pending"]
        results = migrations.apply_pending(wh, files)
        assert [(r.file, r.statement, r.line, r.action) for r in results] == [
            ("setup/V001__schemas.sql", 1, 1, "create schema"),
            ("setup/V002__tables.sql", 1, 2, "create table"),
            ("setup/V002__tables.sql", 2, 5, "insert"),
        ]
        history = wh.query("SELECT version, file, checksum FROM ${catalog}.${meta}.schema_history "
                           "ORDER BY version").rows
        assert history == [("001", "setup/V001__schemas.sql", files[0].checksum),
                           ("002", "setup/V002__tables.sql", files[1].checksum)]
    with open_warehouse(tmp_path) as wh:  # another run, another process
        assert migrations.apply_pending(wh, load_step("setup", sql)) == []
        statuses = migrations.status(wh, load_step("setup", sql))
        assert [s.state for s in statuses] == ["applied", "applied"]
        assert all(s.applied_at is not None for s in statuses)
        assert wh.table_rows("ecommerce.bronze.raw") == 1  # the INSERT ran once


def test_new_file_is_applied_alone(tmp_path, sql):
    with open_warehouse(tmp_path) as wh:
        migrations.apply_pending(wh, load_step("setup", sql))
        (sql / "setup" / "V003__more.sql").write_text(
            "CREATE SCHEMA IF NOT EXISTS ${catalog}.${gold};")
        results = migrations.apply_pending(wh, load_step("setup", sql))
        assert [(r.file, r.object) for r in results] == [("setup/V003__more.sql", "ecommerce.gold")]


def test_edited_file_is_a_migration_error_naming_it(tmp_path, sql):
    with open_warehouse(tmp_path) as wh:
        migrations.apply_pending(wh, load_step("setup", sql))
        path = sql / "setup" / "V002__tables.sql"
        path.write_text(path.read_text() + "\n-- an innocent comment\n")
        (sql / "setup" / "V003__more.sql").write_text("CREATE SCHEMA IF NOT EXISTS ${catalog}.${gold};")
        files = load_step("setup", sql)
        assert [s.state for s in migrations.status(wh, files)] == ["applied", "changed", "pending"]
        with pytest.raises(MigrationError, match=r"setup/V002__tables\.sql: edited after it was "
                                                 r"applied on \d{4}-\d\d-\d\d.*restore it or add a new V file"):
            migrations.apply_pending(wh, files)
        assert wh.tables("gold") == [] and wh.table_rows("ecommerce.gold.x") is None
        assert len(wh.query("SELECT * FROM ${catalog}.${meta}.schema_history").rows) == 2


def test_crlf_checkout_is_not_an_edit(tmp_path, sql):
    with open_warehouse(tmp_path) as wh:
        migrations.apply_pending(wh, load_step("setup", sql))
        path = sql / "setup" / "V001__schemas.sql"
        path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
        assert migrations.apply_pending(wh, load_step("setup", sql)) == []


def test_deleted_applied_file_is_a_migration_error(tmp_path, sql):
    with open_warehouse(tmp_path) as wh:
        migrations.apply_pending(wh, load_step("setup", sql))
        (sql / "setup" / "V002__tables.sql").unlink()
        with pytest.raises(MigrationError, match=r"setup/V002__tables\.sql: version 002 .* missing"):
            migrations.apply_pending(wh, load_step("setup", sql))


def test_failing_file_is_not_recorded_and_names_the_statement(tmp_path, sql):
    (sql / "setup" / "V003__broken.sql").write_text(
        "CREATE SCHEMA IF NOT EXISTS ${catalog}.${gold};\nCREATE TABLE ${catalog}.${gold}.t (a NOSUCHTYPE);\n")
    with open_warehouse(tmp_path) as wh:
        with pytest.raises(SqlError, match=r"setup/V003__broken\.sql, statement 2 \(line 2\)"):
            migrations.apply_pending(wh, load_step("setup", sql))
        assert [s.state for s in migrations.status(wh, load_step("setup", sql))] == [
            "applied", "applied", "pending"]


def test_repository_setup_files_apply_twice(tmp_path):
    files = load_step("setup")
    if not files:
        pytest.skip("no setup files yet")
    with open_warehouse(tmp_path) as wh:
        assert migrations.apply_pending(wh, files)
        assert migrations.apply_pending(wh, files) == []
        assert wh.table_rows("ecommerce.bronze.raw_events") == 0
