"""Every construct the SQL files use has a golden test (docs/design.md, "SQL files").

The SQL of every file, dashboard query and Genie example is parsed; each
function, window, cast target and JSON path it uses must also appear in a
golden case that runs on DuckDB and checks the value Databricks gives. A new
construct in a SQL file without a golden case fails here.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import sqlglot
from sqlglot import exp

from ecomctl.dashboards.definitions import load_genie_spaces
from ecomctl.warehouse import dialect
from ecomctl.warehouse.base import Names
from ecomctl.warehouse.sqlfiles import STEPS, load_step, render, split_statements, sql_root
from test_dialect import SCALARS, VARIANT_COLUMNS, copy_into_statement

duckdb = pytest.importorskip("duckdb")

ROOT = Path(__file__).resolve().parents[1] / "sql"
if not ROOT.is_dir():
    ROOT = sql_root()

# Constructs of the SQL files not already in test_dialect's cases, each with the Databricks value.
GOLDEN = [
    # SUM(SUM(x)) OVER (): the grand total beside each group (mv_category_summary's share)
    ("SELECT CAST(ROUND(100 * s / SUM(s) OVER (), 2) AS DECIMAL(5,2)) FROM "
     "(SELECT k, SUM(v) AS s FROM VALUES ('a', 1.00), ('b', 2.00) AS t(k, v) GROUP BY k) "
     "ORDER BY k LIMIT 1", Decimal("33.33")),
    ("SELECT SUM(SUM(v)) OVER () FROM VALUES ('a', 1), ('b', 2) AS t(k, v) GROUP BY k LIMIT 1", 3),
    # A predicate cast to BOOLEAN (is_revenue, is_delivered)
    ("SELECT CAST('placed' IN ('placed', 'shipped', 'delivered') AS BOOLEAN)", True),
    # The total rule on the numbers as sent: exactly 0.01 off is accepted, 0.011 is not
    ("SELECT abs(CAST('10.01' AS DECIMAL(18,6)) - ROUND(2 * CAST('5.00' AS DECIMAL(18,6)) "
     "* (100 - CAST('0' AS DECIMAL(18,6))) / 100, 2)) > 0.01", False),
    ("SELECT abs(CAST('10.011' AS DECIMAL(18,6)) - ROUND(2 * CAST('5.00' AS DECIMAL(18,6)) "
     "* (100 - CAST('0' AS DECIMAL(18,6))) / 100, 2)) > 0.01", True),
    # HALF_UP on an exact decimal quotient: 224.10 x 75 / 100 = 168.075 -> 168.08
    ("SELECT ROUND(CAST(224.10 AS DECIMAL(18,6)) * 75 / 100, 2)", Decimal("168.08")),
    ("SELECT ROUND(CAST(5.35 AS DECIMAL(18,2)) / 2, 2)", Decimal("2.68")),
    # Dates and times from order_ts (UTC), Databricks numbering of days: 1 = Sunday
    ("SELECT dayofweek(TIMESTAMP '2026-11-01 10:00:00')", 1),
    ("SELECT dayofweek(TIMESTAMP '2026-11-07 23:59:59')", 7),
    ("SELECT date_format(TIMESTAMP '2026-03-05 01:02:03', 'yyyy-MM')", "2026-03"),
    ("SELECT hour(TIMESTAMP '2026-03-05 17:02:03')", 17),
    ("SELECT to_date(TIMESTAMP '2026-03-05 23:59:59')", date(2026, 3, 5)),
    ("SELECT CAST('2026-03-05T10:00:00+02:00' AS TIMESTAMP)", datetime(2026, 3, 5, 8, 0)),
    ("SELECT try_cast('not a time' AS TIMESTAMP)", None),
    # Text helpers used in reasons and dashboards
    ("SELECT concat('quantity below 1: ', '0')", "quantity below 1: 0"),
    ("SELECT '2026-01-01T00:00:00Z' RLIKE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T'", True),
    ("SELECT nullif('VOID', 'VOID')", None),
    ("SELECT concat_ws(', ', 'Austin', 'TX')", "Austin, TX"),
    # octet_length: bytes of the UTF-8 text, not characters (the 1 MB body rule)
    ("SELECT octet_length('h\u00e9llo \u20ac')", 10),
    ("SELECT octet_length('')", 0),
    # base64 of bytes (a Kafka value that is not UTF-8): standard alphabet, padded. Databricks follows
    # RFC 2045, which breaks lines at 76 characters; sql/kafka removes the breaks, so the text is the one
    # client mode lands (Python's b64encode), whichever way the runtime encodes.
    ("SELECT base64(CAST('Spark SQL' AS BINARY))", "U3BhcmsgU1FM"),
    ("SELECT regexp_replace(base64(X'" + "ff" * 60 + "'), '[\\r\\n]', '')", "/" * 80),
    # A huge number compared as DOUBLE instead of failing a DECIMAL cast
    ("SELECT CAST('1e40' AS DOUBLE) > 100", True),
    ("SELECT max(t) FROM VALUES (TIMESTAMP '2026-01-02 00:00:00'), (TIMESTAMP '2026-01-01 00:00:00') AS x(t)",
     datetime(2026, 1, 2)),
    ("SELECT min(t) FROM VALUES (TIMESTAMP '2026-01-02 00:00:00'), (TIMESTAMP '2026-01-01 00:00:00') AS x(t)",
     datetime(2026, 1, 1)),
    ("SELECT coalesce(NULL, 0.00)", Decimal("0.00")),
    ("SELECT count_if(x > 1) FROM VALUES (1), (2), (3) AS t(x)", 2),
    ("SELECT COUNT(DISTINCT x) FROM VALUES (1), (1), (2) AS t(x)", 2),
    # max_by over a struct: the value of the greatest (ts, id), compared field by field (the
    # latest order's name in customer_insights; a tie on ts goes to the greater id)
    ("SELECT max_by(k, struct(ts, id)) FROM VALUES ('a', 2, 'x'), ('b', 2, 'y'), ('c', 1, 'z') "
     "AS t(k, ts, id)", "b"),
    # Ranks: ties share a rank, the next rank skips (RANK); ROW_NUMBER has no ties
    ("SELECT list(r ORDER BY v DESC, k) FROM (SELECT k, v, RANK() OVER (ORDER BY v DESC) AS r "
     "FROM VALUES ('a', 5), ('b', 5), ('c', 3) AS t(k, v))", [1, 1, 3]),
]


def _golden_sql() -> list[str]:
    # The bronze COPY INTO runs on the adapter, with its golden case in test_dialect.py
    # (test_copy_into_select_casts_the_landing_fields_as_databricks_does).
    return [case[0] for case in (*SCALARS, *VARIANT_COLUMNS, *GOLDEN)] + [copy_into_statement()]


def constructs(sql: str) -> set[str]:
    """The names of what a statement uses: functions, windows, cast targets, JSON paths, QUALIFY."""
    found: set[str] = set()
    for node in sqlglot.parse_one(sql, read="databricks").walk():
        if isinstance(node, exp.Anonymous):
            found.add(f"function {node.name.lower()}")
        elif isinstance(node, exp.Cast):
            found.add(f"{type(node).__name__.lower()} to {node.to.this.name.lower()}")
        elif isinstance(node, exp.Copy):
            source = (node.args.get("files") or [None])[0]
            found.add("copy into from (select)" if isinstance(source, exp.Subquery) else "copy into")
        elif isinstance(node, exp.Window):
            found.add(f"window {type(node.this).__name__.lower()}")
        elif isinstance(node, (exp.Func, exp.JSONExtract, exp.Qualify, exp.NullSafeEQ)) \
                and not isinstance(node, (exp.Cast, exp.Column)):
            found.add(type(node).__name__.lower())
    return found


def _project_sql() -> list[tuple[str, str]]:
    names = Names().as_mapping()
    out = []
    for step in STEPS:
        for sql_file in load_step(step, ROOT):
            for st in split_statements(render(sql_file.text, names, sql_file.name), sql_file.name):
                out.append((f"{sql_file.name}#{st.index}", st.text))
    for space in load_genie_spaces(ROOT):
        for n, q in enumerate(space.questions, 1):
            out.append((f"{space.name} example {n}", render(q.sql, names, str(space.file))))
    return out


def test_every_construct_of_the_sql_files_has_a_golden_case():
    covered = set().union(*(constructs(sql) for sql in _golden_sql()))
    missing: dict[str, list[str]] = {}
    for where, sql in _project_sql():
        for construct in sorted(constructs(sql) - covered):
            missing.setdefault(construct, []).append(where)
    assert not missing, "constructs without a golden case: " + "; ".join(
        f"{c} (in {', '.join(w[:3])})" for c, w in sorted(missing.items()))


@pytest.mark.parametrize(("sql", "expected"), GOLDEN, ids=[c[0][:60] for c in GOLDEN])
def test_golden_construct_matches_databricks(sql, expected):
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    try:
        rows = con.execute(dialect.to_duckdb(sql)).fetchall()
    finally:
        con.close()
    assert rows == [(expected,)]


# sql/kafka runs only on Databricks (`ingest --mode kafka`, a streaming table over read_kafka): it is
# excluded from the local runs (load_step's SERVER_STEPS, never in STEPS) and so from the golden
# cases on DuckDB. Each construct of it that no golden case covers is listed here, with why.
DATABRICKS_ONLY = {
    "function read_kafka": "the Kafka streaming source; only Databricks reads Event Hubs over Kafka",
    "secret": "reads the connection string from a Databricks secret scope, on the server",
    "function is_valid_utf8": "tests a Kafka value's bytes on the server; client mode makes the same "
                              "test in Python (ecomctl/ingest.py, landing_body_members)",
}
# Both ways of signing in to the hub that ecomctl renders (ecomctl/targets.py, _kafka_auth).
KAFKA_AUTH = {
    "secret": "`kafka.security.protocol` => 'SASL_SSL',\n  `kafka.sasl.mechanism` => 'PLAIN',\n"
              "  `kafka.sasl.jaas.config` => concat('kafkashaded.org.apache.kafka.common.security.plain."
              "PlainLoginModule required username=\"$ConnectionString\" password=\"', "
              "secret('ecomctl', 'eventhub-conn'), '\";')",
    "service credential": "`databricks.serviceCredential` => 'eventhubs-reader'",
}
KAFKA_NAMES = {"kafka_bootstrap": "shop.servicebus.windows.net:9093", "eventhub_name": "orders",
               "source": "shop.servicebus.windows.net/orders"}


def test_databricks_only_sql_parses_and_lists_what_has_no_golden_case():
    from ecomctl.warehouse.sqlfiles import SERVER_STEPS

    covered = set().union(*(constructs(sql) for sql in _golden_sql()))
    uncovered: set[str] = set()
    files = [f for step in SERVER_STEPS for f in load_step(step, ROOT)]
    assert files, "sql/kafka is missing"
    for sql_file in files:
        for auth in KAFKA_AUTH.values():
            names = {**Names().as_mapping(), **KAFKA_NAMES, "kafka_auth": auth}
            for st in split_statements(render(sql_file.text, names, sql_file.name), sql_file.name):
                assert not isinstance(sqlglot.parse_one(st.text, read="databricks"), exp.Command)
                uncovered |= constructs(st.text) - covered
    assert uncovered == set(DATABRICKS_ONLY)
    assert not any(f.step in STEPS for f in files)
