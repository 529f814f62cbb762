"""Golden tests of the Databricks -> DuckDB layer: each construct runs on a real DuckDB and must give
the value Databricks gives (written in the case, with the reason)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from ecomctl.warehouse import dialect
from ecomctl.warehouse.base import Names
from ecomctl.warehouse.sqlfiles import STEPS, load_step, render, split_statements

duckdb = pytest.importorskip("duckdb")

OBJ = """'{"s":"O1","n":5,"neg":-3,"d":2.5,"e":1e3,"b":true,"z":null,"o":{"k":1},"a":[1,2],"ts":"2024-01-01T10:00:00+02:00"}'"""


@pytest.fixture()
def con():
    connection = duckdb.connect(":memory:")
    connection.execute("SET TimeZone = 'UTC'")  # as DuckDBWarehouse runs
    yield connection
    connection.close()


def value(con, sql: str):
    rows = con.execute(dialect.to_duckdb(sql)).fetchall()
    assert len(rows) == 1 and len(rows[0]) == 1, rows
    return rows[0][0]


SCALARS = [
    # JSON paths give the scalar unquoted (sqlglot alone gives '"O1"' with the quotes)
    (f"SELECT {OBJ}:s", "O1"),
    (f"SELECT {OBJ}:['s']", "O1"),
    (f"SELECT {OBJ}:a[1]::int", 2),  # Databricks arrays in paths are 0-based
    (f"SELECT {OBJ}:n::int + 1", 6),
    (f"SELECT {OBJ}:o::string", '{"k":1}'),  # an object read as a string is its JSON text
    (f"SELECT {OBJ}:o.k::bigint", 1),
    (f"SELECT {OBJ}:missing", None),
    (f"SELECT {OBJ}:z", None),  # a JSON null read as a string is SQL NULL
    (f"SELECT {OBJ}:d::string", "2.5"),  # <value> of a reason: the number as text
    (f"SELECT parse_json({OBJ}):s::string", "O1"),
    # try_parse_json: NULL for text that is not JSON instead of failing the statement
    ("SELECT try_parse_json('{bad') IS NULL", True),
    ("SELECT try_parse_json('{\"a\": 1}'):a::int", 1),
    # schema_of_variant: integers BIGINT; any other number DOUBLE (Databricks gives DECIMAL(2,1)
    # for 2.5 and DOUBLE for 1e3; the SQL tests `IN ('BIGINT','DOUBLE') OR LIKE 'DECIMAL%'`)
    (f"SELECT schema_of_variant(try_parse_json({OBJ}):n)", "BIGINT"),
    (f"SELECT schema_of_variant(try_parse_json({OBJ}):neg)", "BIGINT"),
    (f"SELECT schema_of_variant(try_parse_json({OBJ}):d) IN ('DOUBLE') OR schema_of_variant(try_parse_json({OBJ}):d) LIKE 'DECIMAL%'", True),
    (f"SELECT schema_of_variant(try_parse_json({OBJ}):e)", "DOUBLE"),
    (f"SELECT schema_of_variant(try_parse_json({OBJ}):s)", "STRING"),
    (f"SELECT schema_of_variant(try_parse_json({OBJ}):b)", "BOOLEAN"),
    (f"SELECT schema_of_variant(try_parse_json({OBJ}):z)", "VOID"),  # JSON null
    (f"SELECT schema_of_variant(try_parse_json({OBJ}):o) LIKE 'OBJECT%'", True),
    (f"SELECT schema_of_variant(try_parse_json({OBJ}):a) LIKE 'ARRAY%'", True),
    (f"SELECT schema_of_variant(try_parse_json({OBJ}):missing)", None),  # missing path: NULL
    (f"SELECT schema_of_variant(try_parse_json({OBJ})) LIKE 'OBJECT%'", True),
    ("SELECT schema_of_variant(try_parse_json('[1]')) LIKE 'OBJECT%'", False),
    ("SELECT schema_of_variant(try_parse_json('{bad'))", None),
    # is_variant_null: true only for a JSON null, false for a missing field
    (f"SELECT is_variant_null(try_parse_json({OBJ}):z)", True),
    (f"SELECT is_variant_null(try_parse_json({OBJ}):missing)", False),
    (f"SELECT is_variant_null(try_parse_json({OBJ}):n)", False),
    (f"SELECT variant_get(try_parse_json({OBJ}), '$.n', 'int')", 5),
    (f"SELECT variant_get(try_parse_json({OBJ}), '$.o.k', 'string')", "1"),
    (f"SELECT try_variant_get(try_parse_json({OBJ}), '$.s', 'int')", None),
    # timestamps: an offset is applied (DuckDB's plain CAST drops it); no offset means UTC
    (f"SELECT try_cast({OBJ}:ts::string AS TIMESTAMP)", datetime(2024, 1, 1, 8, 0)),
    ("SELECT CAST('2024-01-01T10:00:00.5Z' AS TIMESTAMP)", datetime(2024, 1, 1, 10, 0, 0, 500000)),
    ("SELECT CAST('2024-01-01 10:00:00' AS TIMESTAMP)", datetime(2024, 1, 1, 10, 0)),
    ("SELECT try_cast('2024-13-01T10:00:00Z' AS TIMESTAMP)", None),
    ("SELECT from_json('{\"a\":\"x\",\"b\":2}', 'a STRING, b INT').b", 2),
    ("SELECT from_json('{\"ts\":\"2024-01-01T10:00:00+02:00\"}', 'ts TIMESTAMP').ts", datetime(2024, 1, 1, 8, 0)),
    ("SELECT from_json('{bad', 'a INT').a", None),
    # calendar: dayofweek 1 = Sunday ... 7 = Saturday (DuckDB: 0 = Sunday)
    ("SELECT dayofweek(TIMESTAMP '2024-01-07 12:00:00')", 1),
    ("SELECT dayofweek(DATE '2024-01-06')", 7),
    ("SELECT weekday(DATE '2024-01-08')", 0),  # Databricks weekday: 0 = Monday
    ("SELECT date_format(TIMESTAMP '2024-03-05 13:14:15', 'yyyy-MM')", "2024-03"),
    ("SELECT hour(TIMESTAMP '2024-03-05 13:14:15')", 13),
    ("SELECT to_date(TIMESTAMP '2024-03-05 23:59:59')", date(2024, 3, 5)),
    ("SELECT unix_timestamp(TIMESTAMP '2024-01-01 00:00:01.9')", 1704067201),  # whole seconds
    ("SELECT from_utc_timestamp(TIMESTAMP '2024-07-01 09:00:00', 'Europe/Lisbon')", datetime(2024, 7, 1, 10, 0)),
    ("SELECT to_utc_timestamp(TIMESTAMP '2024-07-01 10:00:00', 'Europe/Lisbon')", datetime(2024, 7, 1, 9, 0)),
    ("SELECT typeof(current_timestamp())", "TIMESTAMP"),  # an instant, stored naive in UTC
    # arithmetic: Databricks divides decimals exactly and ROUND / CAST to DECIMAL are HALF_UP
    ("SELECT ROUND(5.35 / 2, 2)", Decimal("2.68")),  # 2.675 -> 2.68 (DuckDB's double: 2.67)
    ("SELECT CAST(5.35 / 2 AS DECIMAL(5, 2))", Decimal("2.68")),
    ("SELECT ROUND(SUM(x) / COUNT(*), 2) FROM VALUES (CAST(1.00 AS DECIMAL(12,2))), (1.01) AS t(x)", Decimal("1.01")),
    ("SELECT CAST(AVG(x) AS DECIMAL(5, 2)) FROM VALUES (CAST(1.00 AS DECIMAL(12,2))), (1.01) AS t(x)", Decimal("1.01")),
    ("SELECT ROUND(AVG(x), 2) FROM VALUES (CAST(2.67 AS DECIMAL(12,2))), (2.68) AS t(x)", Decimal("2.68")),
    ("SELECT CAST(ROUND(CAST(2 AS DECIMAL(18,0)) / 3, 4) AS DECIMAL(5, 4))", Decimal("0.6667")),
    ("SELECT ROUND(-2.5)", Decimal("-3")),  # HALF_UP rounds away from zero
    ("SELECT CAST('120.555' AS DECIMAL(12, 2))", Decimal("120.56")),
    ("SELECT try_divide(1, 0)", None),
    ("SELECT try_divide(5, 2)", 2.5),
    ("SELECT abs(-2.50)", Decimal("2.50")),
    ("SELECT nvl(NULL, 'x')", "x"),
    ("SELECT coalesce(NULL, NULL, 3)", 3),
    ("SELECT nullif('VOID', 'VOID')", None),
    ("SELECT concat('a: ', NULL)", None),  # Databricks concat is NULL when an argument is NULL
    ("SELECT 'ORD000001' RLIKE '^ORD[0-9]{6}$'", True),
    # aggregates
    ("SELECT count_if(x > 1) FROM VALUES (1), (2), (3) AS t(x)", 2),
    ("SELECT max_by(k, v) FROM VALUES ('a', 1), ('b', 3), ('c', 2) AS t(k, v)", "b"),
    ("SELECT COUNT(DISTINCT x) FROM VALUES (1), (1), (2), (NULL) AS t(x)", 2),
    ("SELECT percentile(x, 0.5) FROM VALUES (1), (2), (3), (4) AS t(x)", 2.5),  # interpolated
    ("SELECT percentile_approx(x, 0.5) FROM VALUES (1), (2), (3), (4) AS t(x)", 2),  # a value of x
    # windows
    ("SELECT list(r ORDER BY v DESC, k) FROM (SELECT k, v, RANK() OVER (ORDER BY v DESC) AS r "
     "FROM VALUES ('a', 10), ('b', 10), ('c', 5) AS t(k, v))", [1, 1, 3]),
    ("SELECT k FROM VALUES ('a', 1, 1), ('a', 2, 2), ('b', 3, 1) AS t(k, v, g) "
     "QUALIFY ROW_NUMBER() OVER (PARTITION BY g ORDER BY v DESC) = 1 AND g = 1", "b"),
]


# A VARIANT extracted once into a column (sql/bronze/01_received_events.sql): `v:f AS j_f`, then
# schema_of_variant(j_f) and j_f::type read the column. Locally the column is the JSON fragment.
_J = f"(SELECT try_parse_json({OBJ}) AS v)"
_JF = f"(SELECT v:s AS j_s, v:n AS j_n, v:d AS j_d, v:z AS j_z, v:missing AS j_m, v:o AS j_o, v:b AS j_b FROM {_J})"
VARIANT_COLUMNS = [
    (f"SELECT j_s::string FROM {_JF}", "O1"),  # unquoted (a JSON fragment cast to VARCHAR keeps '"')
    (f"SELECT concat('x: ', j_s::string) FROM {_JF}", "x: O1"),
    (f"SELECT schema_of_variant(j_s) FROM {_JF}", "STRING"),
    (f"SELECT schema_of_variant(j_n) FROM {_JF}", "BIGINT"),
    (f"SELECT j_n::bigint + 1 FROM {_JF}", 6),
    (f"SELECT j_n::string FROM {_JF}", "5"),
    (f"SELECT j_d::decimal(18, 6) FROM {_JF}", Decimal("2.5")),
    (f"SELECT j_d::string FROM {_JF}", "2.5"),
    (f"SELECT schema_of_variant(j_z) FROM {_JF}", "VOID"),  # a JSON null is a VARIANT null ...
    (f"SELECT j_z IS NULL FROM {_JF}", False),  # ... which is not SQL NULL
    (f"SELECT j_z::string FROM {_JF}", None),  # cast: SQL NULL
    (f"SELECT schema_of_variant(j_m) FROM {_JF}", None),  # missing field: SQL NULL
    (f"SELECT j_m IS NULL FROM {_JF}", True),
    (f"SELECT j_o::string FROM {_JF}", '{"k":1}'),  # an object cast to string is its JSON text
    (f"SELECT j_o:k::int FROM {_JF}", 1),
    (f"SELECT j_b::boolean FROM {_JF}", True),
    # a CASE of VARIANTs is a VARIANT: cast after the CASE, as the bronze SQL does
    (f"SELECT CAST(CASE WHEN j_n > 0 THEN j_s END AS STRING) FROM (SELECT v:s AS j_s, v:n::int AS j_n FROM {_J})", "O1"),
    (f"SELECT CAST(CASE WHEN false THEN j_s END AS STRING) FROM {_JF}", None),
    (f"SELECT CAST(IF(true, j_n, NULL) AS INT) FROM {_JF}", 5),
    # a field extracted alone (no group) is the same fragment
    (f"SELECT schema_of_variant(j) FROM (SELECT v:s AS j FROM {_J})", "STRING"),
    (f"SELECT j::string FROM (SELECT v:s AS j FROM {_J})", "O1"),
    # x:path of a STRING column is a STRING (the scalar, unquoted), not a VARIANT
    (f"SELECT j FROM (SELECT {OBJ}:s AS j)", "O1"),
    (f"SELECT j FROM (SELECT b:s AS j FROM (SELECT {OBJ} AS b))", "O1"),
    # a name aliased to a VARIANT and to something else is not treated as a VARIANT: b.j stays text
    ("SELECT concat(b.j::string, schema_of_variant(a.j)) "
     "FROM (SELECT try_parse_json('1') AS j) AS a, (SELECT 'x' AS j) AS b", "xBIGINT"),
    # try_parse_json: NULL exactly where the text is not JSON
    ("SELECT try_parse_json('') IS NULL", True),
    ("SELECT try_parse_json('   ') IS NULL", True),
    ("SELECT try_parse_json('{\"a\":1} x') IS NULL", True),
    ("SELECT schema_of_variant(try_parse_json('null'))", "VOID"),
    ("SELECT schema_of_variant(try_parse_json(' \"s\" '))", "STRING"),
    ("SELECT schema_of_variant(try_parse_json(NULL))", None),
    # try_parse_json: a repeated key at the top level is refused (Databricks: parse_json fails with
    # VARIANT_DUPLICATE_KEY, try_parse_json gives NULL); DuckDB's reader alone accepts it
    ("SELECT try_parse_json('{\"a\":1,\"a\":2}') IS NULL", True),
    ("SELECT try_parse_json('{\"a\":1,\"b\":2,\"a\":1}') IS NULL", True),
    ("SELECT try_parse_json('{\"a\":1,\"b\":{\"a\":2}}'):b.a::int", 2),  # same key, other object
    ("SELECT try_parse_json('{}') IS NULL", False),
    # try_parse_json: DuckDB's reader also takes NaN / Infinity / inf in any case and trailing
    # commas; JSON, Databricks and the reference do not. Inside strings they are plain text.
    ("SELECT try_parse_json('NaN') IS NULL", True),
    ("SELECT try_parse_json('-Infinity') IS NULL", True),
    ("SELECT try_parse_json('{\"a\": iNf}') IS NULL", True),
    ("SELECT try_parse_json('[1, nan]') IS NULL", True),
    ("SELECT try_parse_json('{\"a\":1,}') IS NULL", True),
    ("SELECT try_parse_json('{\"a\":[1, 2 ,\n ]}') IS NULL", True),
    ("SELECT try_parse_json('{\"a\":\"NaN,}\",\"info\":\"Infinity\"}'):a::string", "NaN,}"),
    ("SELECT try_parse_json('{\"nan\":[1, {\"inf\":true}]}'):nan[1].inf::boolean", True),
    ("SELECT schema_of_variant(try_parse_json('[1, 1]'))", "ARRAY<...>"),
    ("SELECT schema_of_variant(try_parse_json('7'))", "BIGINT"),
    # a JSON integer is BIGINT only when it fits a long (DuckDB types 0 .. 2^64-1 UBIGINT);
    # Databricks types a larger one DECIMAL(p,0), locally DECIMAL(20,0) or DOUBLE: not BIGINT
    ("SELECT schema_of_variant(try_parse_json('{\"n\":9223372036854775807}'):n)", "BIGINT"),
    ("SELECT schema_of_variant(try_parse_json('{\"n\":-9223372036854775808}'):n)", "BIGINT"),
    ("SELECT schema_of_variant(try_parse_json('{\"n\":9223372036854775808}'):n)", "DECIMAL(20,0)"),
    ("SELECT schema_of_variant(j) FROM (SELECT v:n AS j FROM (SELECT "
     "try_parse_json('{\"n\":18446744073709551615}') AS v))", "DECIMAL(20,0)"),
    ("SELECT schema_of_variant(try_parse_json('{\"n\":99999999999999999999}'):n) <> 'BIGINT'", True),
    # try_cast of a VARIANT number: NULL where the cast would fail (the bronze range checks), and
    # a cast to a smaller scale rounds HALF_UP instead of failing
    ("SELECT try_cast(j AS DECIMAL(12, 2)) FROM (SELECT v:n AS j FROM (SELECT "
     "try_parse_json('{\"n\":100000000000000000000.0}') AS v))", None),
    ("SELECT try_cast(j AS DECIMAL(12, 2)) FROM (SELECT v:n AS j FROM (SELECT "
     "try_parse_json('{\"n\":9999999999.995}') AS v))", None),
    ("SELECT try_cast(j AS DECIMAL(12, 2)) FROM (SELECT v:n AS j FROM (SELECT "
     "try_parse_json('{\"n\":9999999999.994}') AS v))", Decimal("9999999999.99")),
    ("SELECT try_cast(j AS DECIMAL(12, 2)) FROM (SELECT v:n AS j FROM (SELECT "
     "try_parse_json('{\"n\":1e400}') AS v))", None),
    ("SELECT try_cast(j AS INT) FROM (SELECT v:n AS j FROM (SELECT "
     "try_parse_json('{\"n\":3000000000}') AS v))", None),
    ("SELECT try_cast(j AS INT) FROM (SELECT v:n AS j FROM (SELECT "
     "try_parse_json('{\"n\":2147483647}') AS v))", 2147483647),
    ("SELECT CAST(j AS DECIMAL(18, 6)) FROM (SELECT v:n AS j FROM (SELECT "
     "try_parse_json('{\"n\":10.123456789}') AS v))", Decimal("10.123457")),
    ("SELECT CAST(j AS DECIMAL(12, 2)) FROM (SELECT v:n AS j FROM (SELECT "
     "try_parse_json('{\"n\":-10.125}') AS v))", Decimal("-10.13")),
    # <=> matches NULL to NULL (the transport dedupe joins its keys with it)
    ("SELECT count(*) FROM VALUES (1, NULL), (2, 'a') AS r(k, s) LEFT ANTI JOIN "
     "(SELECT NULL AS s) AS d ON r.s <=> d.s", 1),
    ("SELECT count(*) FROM VALUES (1, NULL), (2, 'a') AS r(k, s) LEFT SEMI JOIN "
     "(SELECT NULL AS s) AS d ON r.s <=> d.s", 1),
]


@pytest.mark.parametrize(("sql", "expected"), VARIANT_COLUMNS, ids=[c[0][:70] for c in VARIANT_COLUMNS])
def test_variant_column_matches_databricks(con, sql, expected):
    assert value(con, sql) == expected


def test_variant_fields_of_one_select_are_parsed_once():
    # One json_extract(v, [paths]) per SELECT list (DuckDB computes it once per row); a separate
    # json_extract per field would parse the whole document again for each.
    sql = dialect.to_duckdb(
        "SELECT v:a AS j_a, v:b.c AS j_c, v:['d e'] AS j_d, w:a AS k_a "
        "FROM (SELECT try_parse_json(x) AS v, try_parse_json(y) AS w FROM t)")
    assert sql.count("JSON_EXTRACT(v, ['$.a', '$.b.c', '$.\"d e\"'])") == 3
    assert "JSON_EXTRACT(w, '$.a') AS k_a" in sql
    for position in (1, 2, 3):
        assert f"['$.a', '$.b.c', '$.\"d e\"']), {position})" in sql


def test_grouped_variant_fields_keep_their_values(con):
    rows = con.execute(dialect.to_duckdb(
        "SELECT schema_of_variant(j_a), j_a::string, schema_of_variant(j_b), j_c::int, j_d "
        "FROM (SELECT v:a AS j_a, v:b AS j_b, v:c.k AS j_c, v:d AS j_d FROM (SELECT "
        "try_parse_json(x) AS v FROM VALUES ('{\"a\":\"q x\",\"b\":null,\"c\":{\"k\":3}}'), "
        "('[1]'), ('bad') AS t(x)))")).fetchall()
    assert sorted(rows, key=str) == sorted([("STRING", "q x", "VOID", 3, None),
                                            (None, None, None, None, None),
                                            (None, None, None, None, None)], key=str)


@pytest.mark.parametrize(("sql", "expected"), SCALARS, ids=[c[0][:60] for c in SCALARS])
def test_scalar_matches_databricks(con, sql, expected):
    assert value(con, sql) == expected


def run_script(con, script: str) -> None:
    for statement in split_statements(script, "<test>"):
        con.execute(dialect.to_duckdb(statement.text))


def test_merge_star_matches_columns_by_name(con):
    # DuckDB's `UPDATE SET *` / `INSERT *` match by position; Databricks matches by name.
    run_script(con, """
        CREATE TABLE t (id INT, a STRING, b INT);
        INSERT INTO t VALUES (1, 'old', 1);
        CREATE TABLE s AS SELECT 9 AS b, 'new' AS a, 1 AS id UNION ALL SELECT 7, 'ins', 2;
        MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *;
    """)
    assert con.execute("SELECT * FROM t ORDER BY id").fetchall() == [(1, "new", 9), (2, "ins", 7)]


def test_qualified_set_columns_are_accepted(con):
    run_script(con, """
        CREATE TABLE t (id INT, a STRING);
        INSERT INTO t VALUES (1, 'x');
        UPDATE t SET t.a = 'y' WHERE t.id = 1;
        MERGE INTO t USING (SELECT 1 AS id, 'z' AS a) AS s ON t.id = s.id
          WHEN MATCHED THEN UPDATE SET t.a = s.a;
    """)
    assert con.execute("SELECT a FROM t").fetchall() == [("z",)]


# The incremental bronze and silver statements, in the forms the Databricks MERGE INTO and INSERT
# references give (docs.databricks.com/sql/language-manual/delta-merge-into.html:
# `WHEN MATCHED [AND matched_condition] THEN UPDATE SET column = expr`,
# `WHEN NOT MATCHED THEN INSERT (column, ...) VALUES (expr, ...)`; sql-ref-syntax-dml-insert-into:
# `INSERT INTO table query`, a query with its common table expressions).

def test_merge_updates_only_when_its_condition_holds_and_inserts_the_rest(con):
    run_script(con, """
        CREATE TABLE t (id STRING, v STRING, ts INT, seq BIGINT);
        INSERT INTO t VALUES ('a', 'stored', 5, 1), ('b', 'stored', 5, 1);
        CREATE TABLE s (id STRING, v STRING, ts INT, seq BIGINT);
        INSERT INTO s VALUES ('a', 'later', 6, 2), ('b', 'older', 4, 9), ('c', 'new', 1, 3);
        MERGE INTO t USING (SELECT * FROM s) AS s ON t.id = s.id
        WHEN MATCHED AND (s.ts > t.ts OR (s.ts = t.ts AND s.seq > t.seq)) THEN UPDATE SET
          v = s.v, ts = s.ts, seq = s.seq
        WHEN NOT MATCHED THEN INSERT (id, v, ts, seq) VALUES (s.id, s.v, s.ts, s.seq);
    """)
    assert con.execute("SELECT id, v FROM t ORDER BY id").fetchall() == [
        ("a", "later"), ("b", "stored"), ("c", "new")]
    # The same source again changes nothing: a crashed run's merge is safe to repeat.
    run_script(con, """
        MERGE INTO t USING (SELECT * FROM s) AS s ON t.id = s.id
        WHEN MATCHED AND (s.ts > t.ts OR (s.ts = t.ts AND s.seq > t.seq)) THEN UPDATE SET
          v = s.v, ts = s.ts, seq = s.seq
        WHEN NOT MATCHED THEN INSERT (id, v, ts, seq) VALUES (s.id, s.v, s.ts, s.seq);
    """)
    assert con.execute("SELECT id, v, seq FROM t ORDER BY id").fetchall() == [
        ("a", "later", 2), ("b", "stored", 1), ("c", "new", 3)]


def test_merge_with_only_an_insert_clause_adds_what_is_missing(con):
    run_script(con, """
        CREATE TABLE t (k STRING, p STRING, n BIGINT);
        INSERT INTO t VALUES ('x', NULL, 1);
        MERGE INTO t USING (SELECT 'x' AS k, NULL AS p, 1 AS n UNION ALL SELECT 'y', '0', 2) AS s
          ON t.k <=> s.k AND t.p <=> s.p AND t.n <=> s.n
        WHEN NOT MATCHED THEN INSERT (k, p, n) VALUES (s.k, s.p, s.n);
    """)
    assert con.execute("SELECT k, n FROM t ORDER BY k").fetchall() == [("x", 1), ("y", 2)]


def test_insert_from_a_query_with_common_table_expressions_appends_only_what_is_new(con):
    append = """
        INSERT INTO t
        WITH done AS (SELECT p, MAX(n) AS n FROM t GROUP BY p)
        SELECT r.p, r.n FROM r LEFT JOIN done AS d ON r.p <=> d.p WHERE r.n > coalesce(d.n, -1);
    """
    run_script(con, "CREATE TABLE t (p STRING, n BIGINT); CREATE TABLE r (p STRING, n BIGINT);"
                    "INSERT INTO r VALUES ('0', 0), ('0', 1), ('1', 0);" + append + append)
    assert con.execute("SELECT p, n FROM t ORDER BY p, n").fetchall() == [("0", 0), ("0", 1), ("1", 0)]


def test_delta_table_ddl_runs_and_keeps_naive_timestamps(con):
    run_script(con, """
        CREATE SCHEMA IF NOT EXISTS memory.bronze COMMENT 'schema comment';
        CREATE TABLE IF NOT EXISTS memory.bronze.e (
          `offset` STRING COMMENT 'backticked', ts TIMESTAMP COMMENT 'UTC', n INT,
          n2 INT GENERATED ALWAYS AS (n * 2)
        ) USING DELTA COMMENT 'table comment' TBLPROPERTIES ('delta.appendOnly' = 'true');
        INSERT INTO memory.bronze.e (`offset`, ts, n) VALUES ('1', '2024-01-01 00:00:00', 21);
    """)
    types = dict(con.execute("SELECT column_name, column_type FROM (DESCRIBE memory.bronze.e)").fetchall())
    assert types["ts"] == "TIMESTAMP"  # Databricks TIMESTAMP is an instant; DuckDB runs in UTC
    assert con.execute("SELECT n2 FROM memory.bronze.e").fetchall() == [(42,)]


def test_materialized_view_becomes_a_replaced_table():
    st = dialect.plan("CREATE MATERIALIZED VIEW c.g.mv COMMENT 'x' AS SELECT 1 AS a")
    assert st.kind == "materialize" and st.action == "materialize view"
    assert st.sql.startswith("CREATE OR REPLACE TABLE c.g.mv AS SELECT")
    assert dialect.plan("REFRESH MATERIALIZED VIEW c.g.mv").kind == "refresh"
    assert dialect.plan("DROP MATERIALIZED VIEW c.g.mv").sql == "DROP TABLE c.g.mv"


@pytest.mark.parametrize("sql", ["COMMENT ON TABLE c.b.t IS 'x'", "OPTIMIZE c.b.t",
                                 "ALTER TABLE c.b.t SET TBLPROPERTIES ('a' = 'b')",
                                 "ANALYZE TABLE c.b.t COMPUTE STATISTICS", "VACUUM c.b.t"])
def test_delta_maintenance_is_a_local_noop(sql):
    assert dialect.plan(sql).kind == "noop"


def test_adapter_statements_are_not_plain_sql():
    assert dialect.plan("CREATE VOLUME IF NOT EXISTS c.b.v COMMENT 'x'").kind == "create_volume"
    assert dialect.plan("COPY INTO c.b.t FROM '/Volumes/c/b/v' FILEFORMAT = JSON").kind == "copy"
    with pytest.raises(dialect.TranslationError):
        dialect.to_duckdb("COPY INTO c.b.t FROM '/Volumes/c/b/v' FILEFORMAT = JSON")


# COPY INTO ... FROM (SELECT CAST(<field> AS <type>) AS <column>, ... FROM '<volume>'), the form of
# sql/bronze/00_load_raw_events.sql: run by the local adapter (warehouse/duckdb/copy_into.py), not
# translated, on the landing lines ingest writes. Each case: the landing line's fields, and the
# raw_events values Databricks gives for them in a UTC session (a JSON integer is read as BIGINT
# exactly; an ISO-8601 string cast to TIMESTAMP is its instant, shown in UTC; null is NULL).
COPY_INTO_FILE = "00_load_raw_events.sql"
COPY_INTO_LINES = [
    ({"source": "local/orders", "partition_id": "3", "sequence_number": 9223372036854775807,
      "offset": "100", "enqueued_time": "2026-11-01T10:30:05.123456Z", "partition_key": None,
      "body": 'caf\u00e9 \u2028 {"a": "q\\"}', "body_encoding": None, "landing_file": "f.json",
      "landed_at": "2026-11-01T12:30:05+02:00"},
     ("local/orders", "3", 9223372036854775807, "100", datetime(2026, 11, 1, 10, 30, 5, 123456), None,
      'caf\u00e9 \u2028 {"a": "q\\"}', None, "f.json", datetime(2026, 11, 1, 10, 30, 5))),
    ({"source": "local/orders", "partition_id": "0", "sequence_number": 0, "offset": "0",
      "enqueued_time": "2026-02-28T23:59:59.999999Z", "partition_key": "C1", "body": "/w==",
      "body_encoding": "base64", "landing_file": "f.json", "landed_at": "2026-03-01T00:00:00Z"},
     ("local/orders", "0", 0, "0", datetime(2026, 2, 28, 23, 59, 59, 999999), "C1", "/w==", "base64",
      "f.json", datetime(2026, 3, 1))),
]


def copy_into_statement() -> str:
    """The COPY INTO statement of the bronze step, with the default names."""
    root = Path(__file__).resolve().parents[1] / "sql"
    sql_file = next(f for f in load_step("bronze", root if root.is_dir() else None) if f.name.endswith(COPY_INTO_FILE))
    (statement,) = split_statements(render(sql_file.text, Names().as_mapping(), sql_file.name), sql_file.name)
    return statement.text


def test_copy_into_select_casts_the_landing_fields_as_databricks_does(tmp_path):
    import json

    from ecomctl.warehouse.duckdb import DuckDBWarehouse

    text = copy_into_statement()
    assert text.startswith("COPY INTO ecommerce.bronze.raw_events\nFROM (\n  SELECT")
    with DuckDBWarehouse(tmp_path / "w.duckdb", Names(), volumes_root=tmp_path / "landing") as warehouse:
        for setup_file in load_step("setup"):
            warehouse.run_sql(setup_file.text, file=setup_file.name)
        (tmp_path / "landing" / "f.json").write_text(
            "".join(json.dumps(line, ensure_ascii=False) + "\n" for line, _ in COPY_INTO_LINES), encoding="utf-8")
        assert warehouse.run_sql(text)[0].rows == len(COPY_INTO_LINES)
        rows = warehouse.query("SELECT source, partition_id, sequence_number, `offset`, enqueued_time, "
                               "partition_key, body, body_encoding, landing_file, landed_at "
                               "FROM ${catalog}.${bronze}.raw_events ORDER BY partition_id DESC").rows
    assert rows == [expected for _, expected in COPY_INTO_LINES]


def test_every_landing_line_carries_every_field_the_copy_into_casts(tmp_path):
    """Databricks reads a JSON file's fields from its lines, so a field the SELECT names but no line of
    a load carries fails the load there (unresolved column), while locally it would read as NULL:
    every line must carry every field, null or not, and the SELECT must name every raw_events column."""
    import json
    from datetime import timezone

    import sqlglot
    from sqlglot import exp

    from ecomctl.events.transport import ReceivedEvent
    from ecomctl.ingest import landing_lines
    from ecomctl.warehouse.duckdb import DuckDBWarehouse

    copy = sqlglot.parse_one(copy_into_statement(), read="databricks")
    select = copy.args["files"][0].this
    fields = [item.this.this.name for item in select.expressions]
    assert all(type(item.this) is exp.Cast for item in select.expressions)
    with DuckDBWarehouse(tmp_path / "w.duckdb", Names(), volumes_root=tmp_path / "landing") as warehouse:
        for setup_file in load_step("setup"):
            warehouse.run_sql(setup_file.text, file=setup_file.name)
        columns = [r[0] for r in warehouse.query("SELECT column_name FROM information_schema.columns "
                                                 "WHERE table_name = 'raw_events' ORDER BY ordinal_position").rows]
    assert [item.alias for item in select.expressions] == columns == fields
    moment = datetime(2026, 11, 1, tzinfo=timezone.utc)
    events = [ReceivedEvent("0", 1, "1", moment, None, b'{"a":1}'), ReceivedEvent("0", 2, "2", moment, "C1", b"\xff")]
    for line in landing_lines("local/orders", "f.json", events):
        assert set(json.loads(line)) == set(fields)


def test_unparseable_sql_is_a_translation_error():
    with pytest.raises(dialect.TranslationError, match="does not parse"):
        dialect.plan("SELECT FROM WHERE (")


def _all_statements():
    root = Path(__file__).resolve().parents[1] / "sql"
    mapping = Names().as_mapping()
    cases = []
    for step in STEPS:
        for f in load_step(step, root if root.is_dir() else None):
            for st in split_statements(render(f.text, mapping, f.name), f.name):
                cases.append(pytest.param(st, id=f"{f.name}#{st.index}"))
    return cases or [pytest.param(None, marks=pytest.mark.skip(reason="no SQL files yet"))]


@pytest.mark.parametrize("statement", _all_statements())
def test_every_sql_file_statement_parses_and_translates(statement):
    import sqlglot

    assert sqlglot.parse_one(statement.text, read="databricks") is not None
    planned = dialect.plan(statement.text)
    if planned.kind in ("sql", "materialize", "drop_materialized"):
        assert dialect.to_duckdb(statement.text)
