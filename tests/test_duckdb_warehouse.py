"""DuckDBWarehouse on real DuckDB files: names, errors, COPY INTO semantics, materialized views."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest

from ecomctl.errors import ConfigError, SqlError
from ecomctl.warehouse.base import Names
from ecomctl.warehouse.duckdb import DuckDBWarehouse
from ecomctl.warehouse.sqlfiles import load_step

pytest.importorskip("duckdb")

EVENTS = "${catalog}.${bronze}.events"
COPY = ("COPY INTO ${catalog}.${bronze}.events FROM '${landing_path}/' FILEFORMAT = JSON "
        "FORMAT_OPTIONS ('mode' = 'FAILFAST') COPY_OPTIONS ('mergeSchema' = 'false')")
# The explicit form sql/bronze/00_load_raw_events.sql uses: every column cast, one renamed.
COPY_SELECT = ("COPY INTO ${catalog}.${bronze}.events FROM (SELECT CAST(id AS BIGINT) AS id, "
               "CAST(o AS STRING) AS `offset`, CAST(body AS STRING) AS body, "
               "CAST(amount AS DECIMAL(12, 2)) AS amount, CAST(at AS TIMESTAMP) AS at "
               "FROM '${landing_path}/') FILEFORMAT = JSON "
               "FORMAT_OPTIONS ('mode' = 'FAILFAST', 'dropFieldIfAllNull' = 'false') "
               "COPY_OPTIONS ('mergeSchema' = 'false')")


@pytest.fixture()
def home(tmp_path) -> Path:
    return tmp_path / "home"


@pytest.fixture()
def warehouse(home):
    with DuckDBWarehouse(home / "ecommerce.duckdb", Names(), volumes_root=home / "landing",
                         memory_limit="256MB", threads=1) as wh:
        yield wh


@pytest.fixture()
def events_table(warehouse):
    warehouse.run_sql(f"""
        CREATE SCHEMA IF NOT EXISTS ${{catalog}}.${{bronze}};
        CREATE TABLE IF NOT EXISTS {EVENTS} (
          id BIGINT, `offset` STRING, body STRING, amount DECIMAL(12, 2), at TIMESTAMP
        ) USING DELTA COMMENT 'test' TBLPROPERTIES ('delta.appendOnly' = 'true');
        CREATE VOLUME IF NOT EXISTS ${{catalog}}.${{bronze}}.${{volume}};
    """)
    return warehouse


def land(home: Path, name: str, rows: list[dict] | str) -> Path:
    path = home / "landing" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    text = rows if isinstance(rows, str) else "".join(json.dumps(r) + "\n" for r in rows)
    path.write_text(text, encoding="utf-8")
    return path


def rows_of(warehouse, sql: str) -> list[tuple]:
    return warehouse.query(sql).rows


# -- names and connection ------------------------------------------------------------------------

def test_three_part_names_resolve_on_the_file(home):
    names = Names(catalog="dev", bronze="b1")
    with DuckDBWarehouse(home / "w.duckdb", names, volumes_root=home / "landing") as wh:
        results = wh.run_sql("CREATE SCHEMA IF NOT EXISTS ${catalog}.${bronze};"
                             "CREATE OR REPLACE TABLE ${catalog}.${bronze}.t AS SELECT 1 AS a "
                             "UNION ALL SELECT 2")
        assert [(r.object, r.action, r.rows) for r in results] == [
            ("dev.b1", "create schema", None), ("dev.b1.t", "replace table", 2)]
    with DuckDBWarehouse(home / "w.duckdb", names, volumes_root=home / "landing") as wh:
        assert wh.table_rows("dev.b1.t") == 2  # persisted in the file
        assert wh.table_rows("b1.t") == 2
        assert wh.table_rows("dev.b1.missing") is None
        assert wh.tables("b1") == ["t"]


@pytest.mark.parametrize("catalog", ["main", "system", "temp", "memory"])
def test_reserved_catalog_names_are_a_config_error(home, catalog):
    with pytest.raises(ConfigError, match="ECOMCTL_CATALOG"):
        DuckDBWarehouse(home / "w.duckdb", Names(catalog=catalog), volumes_root=home)


def test_session_runs_in_utc(warehouse):
    assert rows_of(warehouse, "SELECT current_setting('TimeZone')") == [("UTC",)]


def test_create_if_not_exists_reports_skip_the_second_time(warehouse):
    sql = "CREATE SCHEMA IF NOT EXISTS ${catalog}.${silver} COMMENT 'x'"
    assert warehouse.run_sql(sql)[0].action == "create schema"
    assert warehouse.run_sql(sql)[0].action == "skip"


def test_metadata_statements_are_noops(events_table):
    results = events_table.run_sql(f"""
        COMMENT ON TABLE {EVENTS} IS 'x';
        ALTER TABLE {EVENTS} SET TBLPROPERTIES ('a' = 'b');
        OPTIMIZE {EVENTS};
        ANALYZE TABLE {EVENTS} COMPUTE STATISTICS;
    """)
    assert {(r.object, r.action) for r in results} == {("ecommerce.bronze.events", "skip")}


def test_query_renders_names_and_returns_columns(events_table):
    result = events_table.query("SELECT COUNT(*) AS n, 'x' AS s FROM ${catalog}.${bronze}.events")
    assert result.columns == ["n", "s"] and result.rows == [(0, "x")]


# -- errors name file, statement and line --------------------------------------------------------

def test_bad_statement_names_file_statement_and_line(warehouse, tmp_path):
    root = tmp_path / "sql"
    (root / "gold").mkdir(parents=True)
    (root / "gold" / "01_bad.sql").write_text(
        "-- header\nCREATE SCHEMA IF NOT EXISTS ${catalog}.${gold};\n\n"
        "CREATE OR REPLACE TABLE ${catalog}.${gold}.t AS\nSELECT no_such_column FROM (SELECT 1 AS a);\n")
    (sql_file,) = load_step("gold", root)
    with pytest.raises(SqlError) as info:
        warehouse.run_file(sql_file)
    error = info.value
    assert (error.file, error.statement, error.line) == ("gold/01_bad.sql", 2, 4)
    assert str(error).startswith("gold/01_bad.sql, statement 2 (line 4): ")
    assert "no_such_column" in str(error)


def test_unparseable_statement_is_a_sql_error(warehouse):
    with pytest.raises(SqlError, match=r"<inline>, statement 1 \(line 1\): does not parse"):
        warehouse.run_statement("SELECT FROM WHERE (")


def test_unknown_placeholder_in_query(warehouse):
    with pytest.raises(SqlError, match=r"unknown placeholder \$\{glod\}"):
        warehouse.query("SELECT * FROM ${glod}.t")


# -- volumes and COPY INTO -------------------------------------------------------------------------

def test_create_volume_makes_the_landing_folder(warehouse, home):
    result = warehouse.run_sql("CREATE VOLUME IF NOT EXISTS ${catalog}.${bronze}.${volume} COMMENT 'x'")[0]
    assert (result.object, result.action) == ("ecommerce.bronze.landing", "create volume")
    assert (home / "landing").is_dir()
    with pytest.raises(SqlError, match="only the configured volume"):
        warehouse.run_sql("CREATE VOLUME ${catalog}.${bronze}.other")


def test_copy_into_loads_new_files_once(events_table, home):
    land(home, "a.json", [{"id": 1, "offset": "o1", "body": "{}", "amount": 1.5,
                           "at": "2024-01-01T10:00:00.123456Z", "unknown_key": 1},
                          {"id": 2, "offset": "o2", "body": "x"}])
    land(home, ".b.json.tmp", [{"id": 99}])  # a file being written is invisible
    first = events_table.run_sql(COPY)[0]
    assert (first.object, first.action, first.rows) == ("ecommerce.bronze.events", "copy into", 2)

    assert events_table.run_sql(COPY)[0].rows == 0  # re-run: a.json is skipped
    land(home, "b.json", [{"id": 3, "at": "2024-01-01T10:00:00+02:00"}])
    assert events_table.run_sql(COPY)[0].rows == 1  # only the new file
    assert rows_of(events_table, f"SELECT id, `offset`, amount, at FROM {EVENTS} ORDER BY id") == [
        (1, "o1", Decimal("1.50"), datetime(2024, 1, 1, 10, 0, 0, 123456)),
        (2, "o2", None, None),  # missing keys are NULL
        (3, None, None, datetime(2024, 1, 1, 8, 0)),  # an offset is converted to UTC
    ]
    log = rows_of(events_table, "SELECT target, file_name, rows FROM ${catalog}.${meta}._copy_into_log "
                                "ORDER BY file_name")
    assert log == [("ecommerce.bronze.events", "a.json", 2), ("ecommerce.bronze.events", "b.json", 1)]


def test_copy_into_keeps_the_table_column_types(events_table, home):
    land(home, "a.json", [{"id": 12345678901, "amount": 2.675, "body": "{\"a\": 1}"}])
    events_table.run_sql(COPY)
    types = dict(rows_of(events_table, f"SELECT column_name, column_type FROM (DESCRIBE {EVENTS})"))
    assert types == {"id": "BIGINT", "offset": "VARCHAR", "body": "VARCHAR",
                     "amount": "DECIMAL(12,2)", "at": "TIMESTAMP"}
    assert rows_of(events_table, f"SELECT id, body FROM {EVENTS}") == [(12345678901, '{"a": 1}')]


def test_copy_into_several_new_files_in_one_load(events_table, home):
    for n in range(3):
        land(home, f"sub/f{n}.json", [{"id": n * 10 + i} for i in range(n + 1)])
    result = events_table.run_sql(COPY)[0]
    assert result.rows == 6
    log = rows_of(events_table, "SELECT file_name, rows FROM ${catalog}.${meta}._copy_into_log ORDER BY 1")
    assert log == [("sub/f0.json", 1), ("sub/f1.json", 2), ("sub/f2.json", 3)]


def test_copy_into_malformed_line_names_the_landing_file_and_loads_nothing(events_table, home):
    land(home, "good.json", [{"id": 1}])
    land(home, "bad.json", '{"id": 2}\n{"id": 3,\n')
    with pytest.raises(SqlError, match=r"landing file /Volumes/ecommerce/bronze/landing/bad\.json"):
        events_table.run_sql(COPY, file="bronze/00_load.sql")
    assert events_table.table_rows("ecommerce.bronze.events") == 0
    (home / "landing" / "bad.json").unlink()
    assert events_table.run_sql(COPY)[0].rows == 1


def test_copy_into_wrong_type_names_the_landing_file(events_table, home):
    land(home, "typed.json", [{"id": "not a number"}])
    with pytest.raises(SqlError, match=r"typed\.json"):
        events_table.run_sql(COPY)


def test_copy_into_force_reloads(events_table, home):
    land(home, "a.json", [{"id": 1}])
    events_table.run_sql(COPY)
    forced = COPY.replace("'mergeSchema' = 'false'", "'force' = 'true'")
    assert events_table.run_sql(forced)[0].rows == 1
    assert events_table.table_rows("ecommerce.bronze.events") == 2


@pytest.mark.parametrize(("sql", "message"), [
    ("COPY INTO {t} FROM '/Volumes/ecommerce/bronze/landing' FILEFORMAT = CSV", "FILEFORMAT = CSV"),
    ("COPY INTO {t} FROM '/Volumes/ecommerce/bronze/landing' FILEFORMAT = JSON "
     "COPY_OPTIONS ('mergeSchema' = 'true')", "mergeSchema"),
    ("COPY INTO {t} FROM '/Volumes/ecommerce/bronze/landing' FILEFORMAT = JSON "
     "FORMAT_OPTIONS ('multiLine' = 'true')", "multiLine"),
    ("COPY INTO {t} FROM '/Volumes/other/bronze/landing' FILEFORMAT = JSON", "outside the configured volume"),
    ("COPY INTO {t} FROM 's3://bucket/x' FILEFORMAT = JSON", "not a Volume path"),
    ("COPY INTO {t} FROM (SELECT id + 1 AS id FROM '/Volumes/ecommerce/bronze/landing') FILEFORMAT = JSON",
     r"id \+ 1 AS id is not supported locally"),
    ("COPY INTO {t} FROM (SELECT TRY_CAST(id AS BIGINT) AS id FROM '/Volumes/ecommerce/bronze/landing') "
     "FILEFORMAT = JSON", "not supported locally"),
    ("COPY INTO {t} FROM (SELECT id FROM '/Volumes/ecommerce/bronze/landing' WHERE id > 1) "
     "FILEFORMAT = JSON", "more than a list of columns"),
    ("COPY INTO {t} FROM (SELECT CAST(id AS BIGINT) AS nope FROM '/Volumes/ecommerce/bronze/landing') "
     "FILEFORMAT = JSON", "nope is not a column of ecommerce.bronze.events"),
    ("COPY INTO {t} FROM '/Volumes/ecommerce/bronze/landing' FILEFORMAT = JSON "
     "FORMAT_OPTIONS ('inferSchema' = 'false')", "inferSchema"),  # a CSV option
])
def test_unsupported_copy_into_is_a_clear_error(events_table, home, sql, message):
    land(home, "a.json", [{"id": 1}])
    with pytest.raises(SqlError, match=message):
        events_table.run_sql(sql.format(t=EVENTS))


def test_copy_into_select_reads_each_field_as_its_cast(events_table, home):
    """Each field is read as the type its CAST names and stored in the column the item names;
    a field no line carries is NULL, and the result is what the plain form gives."""
    land(home, "a.json", [{"id": 12345678901, "o": "o1", "body": "caf\u00e9 {\"a\": 1}", "amount": 1.5,
                           "at": "2024-01-01T10:00:00.123456Z", "unknown_key": 1},
                          {"id": 2, "o": None, "body": "x", "at": "2024-01-01T10:00:00+02:00"}])
    result = events_table.run_sql(COPY_SELECT)[0]
    assert (result.object, result.action, result.rows) == ("ecommerce.bronze.events", "copy into", 2)
    assert events_table.run_sql(COPY_SELECT)[0].rows == 0  # loaded once, as with the plain form
    assert rows_of(events_table, f"SELECT id, `offset`, body, amount, at FROM {EVENTS} ORDER BY id") == [
        (2, None, "x", None, datetime(2024, 1, 1, 8, 0)),
        (12345678901, "o1", 'caf\u00e9 {"a": 1}', Decimal("1.50"), datetime(2024, 1, 1, 10, 0, 0, 123456)),
    ]


def test_copy_into_select_names_the_landing_file_of_a_value_its_cast_refuses(events_table, home):
    land(home, "typed.json", [{"id": "not a number"}])
    with pytest.raises(SqlError, match=r"landing file /Volumes/ecommerce/bronze/landing/typed\.json"):
        events_table.run_sql(COPY_SELECT)


def test_copy_into_skips_hidden_and_in_progress_files_and_folders_as_spark_does(events_table, home):
    land(home, "a.json", [{"id": 1}])
    land(home, "B.JSON", [{"id": 2}])  # the extension in any case
    land(home, "deep/x/c.json", [{"id": 3}])
    land(home, "notes.txt", [{"id": 90}])
    land(home, "_started.json", [{"id": 91}])
    land(home, ".hidden/d.json", [{"id": 92}])
    land(home, "_temporary/e.json", [{"id": 93}])
    land(home, "deep/.f.json", [{"id": 94}])
    assert events_table.run_sql(COPY)[0].rows == 3
    assert rows_of(events_table, f"SELECT id FROM {EVENTS} ORDER BY id") == [(1,), (2,), (3,)]
    log = rows_of(events_table, "SELECT file_name FROM ${catalog}.${meta}._copy_into_log ORDER BY 1")
    assert log == [("B.JSON",), ("a.json",), ("deep/x/c.json",)]


def test_copy_into_from_a_folder_of_the_volume_logs_names_from_the_volume_root(events_table, home):
    land(home, "top.json", [{"id": 1}])
    land(home, "sub/a.json", [{"id": 2}])
    sql = f"COPY INTO {EVENTS} FROM '${{landing_path}}/sub' FILEFORMAT = JSON"
    assert events_table.run_sql(sql)[0].rows == 1
    assert events_table.run_sql(sql)[0].rows == 0  # found in the log under its Volume name
    log = rows_of(events_table, "SELECT file_name FROM ${catalog}.${meta}._copy_into_log ORDER BY 1")
    assert log == [("sub/a.json",)]
    assert events_table.run_sql(COPY)[0].rows == 1  # the whole Volume: only top.json is new


def test_copy_into_pattern(events_table, home):
    land(home, "a.json", [{"id": 1}])
    land(home, "b.jsonl", [{"id": 2}])
    sql = (f"COPY INTO {EVENTS} FROM '${{landing_path}}' FILEFORMAT = JSON PATTERN = '*.jsonl'")
    assert events_table.run_sql(sql)[0].rows == 1


def test_copy_into_a_million_lines_is_one_fast_load(events_table, home):
    import time

    line = '{"id": %d, "offset": "o", "body": "{\\"order_id\\": \\"ORD1\\"}", "amount": 1.25, "at": "2024-01-01T00:00:00Z"}\n'
    path = home / "landing" / "big.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        handle.writelines(line % i for i in range(200_000))
    started = time.perf_counter()
    assert events_table.run_sql(COPY)[0].rows == 200_000
    assert time.perf_counter() - started < 15


# -- materialized views ----------------------------------------------------------------------------

def test_materialized_view_is_a_table_and_refresh_reruns_it(home):
    names = Names()
    mv = "${catalog}.${gold}.mv_totals"
    with DuckDBWarehouse(home / "w.duckdb", names, volumes_root=home / "landing") as wh:
        assert wh.SUPPORTS_MATERIALIZED_VIEWS is False
        wh.run_sql("CREATE SCHEMA IF NOT EXISTS ${catalog}.${gold};"
                   "CREATE OR REPLACE TABLE ${catalog}.${gold}.src AS SELECT 1 AS x;")
        created = wh.run_sql(f"CREATE OR REPLACE MATERIALIZED VIEW {mv} COMMENT 'totals' AS "
                             "SELECT SUM(x) AS total FROM ${catalog}.${gold}.src")[0]
        assert (created.object, created.action, created.rows) == (
            "ecommerce.gold.mv_totals", "materialize view", 1)
        wh.run_sql("INSERT INTO ${catalog}.${gold}.src VALUES (41)")
        assert wh.query(f"SELECT total FROM {mv}").rows == [(1,)]  # a snapshot until refreshed
    with DuckDBWarehouse(home / "w.duckdb", names, volumes_root=home / "landing") as wh:
        refreshed = wh.run_sql(f"REFRESH MATERIALIZED VIEW {mv}")[0]  # a new process: definition kept
        assert (refreshed.action, refreshed.rows) == ("refresh view", 1)
        assert wh.query(f"SELECT total FROM {mv}").rows == [(42,)]
        assert wh.run_sql(f"DROP MATERIALIZED VIEW {mv}")[0].action == "drop view"
        assert wh.table_rows("ecommerce.gold.mv_totals") is None
        with pytest.raises(SqlError, match="does not exist"):
            wh.run_sql(f"REFRESH MATERIALIZED VIEW {mv}")


def test_insert_and_merge_report_rows(warehouse):
    results = warehouse.run_sql("""
        CREATE SCHEMA IF NOT EXISTS ${catalog}.${silver};
        CREATE OR REPLACE TABLE ${catalog}.${silver}.t (id INT, a STRING);
        INSERT INTO ${catalog}.${silver}.t VALUES (1, 'x'), (2, 'y');
        MERGE INTO ${catalog}.${silver}.t AS t
        USING (SELECT 'z' AS a, 2 AS id UNION ALL SELECT 'w', 3) AS s ON t.id = s.id
        WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *;
        SELECT * FROM ${catalog}.${silver}.t;
    """)
    assert [(r.action, r.rows) for r in results] == [
        ("create schema", None), ("replace table", None), ("insert", 2), ("merge", 2), ("select", 3)]
    assert [r.statement for r in results] == [1, 2, 3, 4, 5]
    assert warehouse.query("SELECT a FROM ${catalog}.${silver}.t ORDER BY id").rows == [
        ("x",), ("z",), ("w",)]


def test_no_duckdb_progress_bar_on_stdout(warehouse):
    """DuckDB's own bar goes to stdout, which is the JSON report under --json."""
    (enabled,) = warehouse.session.connection.execute(
        "SELECT current_setting('enable_progress_bar')").fetchone()
    assert enabled is False
