"""The local warehouse keeps each statement it translated (ecomctl/warehouse/duckdb/prepared.py):
a run of statements seen before neither imports nor runs sqlglot, and what it keeps is exactly
what translating again would give."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ecomctl.warehouse.base import Names
from ecomctl.warehouse.duckdb import DuckDBWarehouse
from ecomctl.warehouse.duckdb import prepared as prepared_module
from ecomctl.warehouse.duckdb.prepared import SUFFIX, Prepared, StatementCache, prepare
from ecomctl.warehouse.sqlfiles import STEPS, load_step, render, split_statements

pytest.importorskip("duckdb")

SQL_ROOT = Path(__file__).parents[1] / "sql"

PROBE = """
import json, sys
from typer.testing import CliRunner
from ecomctl.cli.main import app
result = CliRunner().invoke(app, {args!r})
assert result.exit_code == 0, result.output
print(json.dumps(sorted({{name.split(".")[0] for name in sys.modules}})))
"""


def _modules_after(args: list[str]) -> set[str]:
    out = subprocess.run([sys.executable, "-c", PROBE.format(args=args)], capture_output=True,
                         text=True, timeout=300, check=True).stdout
    return set(json.loads(out.splitlines()[-1]))


def test_a_run_of_statements_seen_before_does_not_import_sqlglot(tmp_path):
    home = str(tmp_path / "home")
    first = _modules_after(["--home", home, "run-all", "--count", "40", "--seed", "1"])
    assert "sqlglot" in first and "duckdb" in first  # the first run translated
    assert (tmp_path / "home" / f"ecommerce.duckdb{SUFFIX}").is_file()
    # New events, an incremental run of every step, then status: all from the cache.
    again = _modules_after(["--home", home, "run-all", "--count", "25", "--seed", "2"])
    assert "duckdb" in again and "sqlglot" not in again
    _modules_after(["--home", home, "status"])  # its audit query is its own: translated once
    assert "sqlglot" not in _modules_after(["--home", home, "status"])


def _statements() -> list[str]:
    names = Names().as_mapping()
    return [s.text for step in STEPS for f in load_step(step, SQL_ROOT)
            for s in split_statements(render(f.text, names, f.name), f.name)]


def test_what_is_kept_is_what_translating_gives():
    """Every statement of every SQL file: its prepared form survives the file's JSON unchanged,
    COPY INTO's source, options and casts included."""
    statements = _statements()
    assert any(s.lstrip().upper().startswith("COPY INTO") for s in statements)
    for text in statements:
        fresh = prepare(text)
        assert Prepared.from_json(json.loads(json.dumps(fresh.to_json()))) == fresh, text[:80]


def test_cached_statements_give_the_same_tables(tmp_path):
    def build(cache_dir: Path) -> dict[str, list[tuple]]:
        with DuckDBWarehouse(cache_dir / "ecommerce.duckdb", Names(), volumes_root=cache_dir / "landing",
                             threads=1) as wh:
            wh.run_sql("CREATE SCHEMA IF NOT EXISTS ${catalog}.${bronze};"
                       "CREATE OR REPLACE TABLE ${catalog}.${bronze}.t (k STRING, v STRING);"
                       "INSERT INTO ${catalog}.${bronze}.t VALUES ('a', '{\"x\": 1}'), ('b', '{\"x\": 2.5}')")
            rows = wh.query("SELECT k, schema_of_variant(parse_json(v):x) AS t FROM ${catalog}.${bronze}.t "
                            "ORDER BY k").rows
            return {"rows": rows, "hits": [wh.session.statements.hits]}

    first = build(tmp_path / "a")
    again = build(tmp_path / "a")  # the same file: every statement from the cache
    assert first["rows"] == again["rows"] == [("a", "BIGINT"), ("b", "DOUBLE")]
    assert first["hits"] == [0] and again["hits"] == [4]


def test_a_cache_of_other_code_or_unreadable_is_ignored_and_rewritten(tmp_path, monkeypatch):
    path = tmp_path / f"x.duckdb{SUFFIX}"
    cache = StatementCache(path)
    cache.prepare("SELECT 1 AS a")
    cache.save()
    data = json.loads(path.read_text())
    assert len(data["statements"]) == 1

    monkeypatch.setattr(prepared_module, "_STAMP", "other code")
    stale = StatementCache(path)
    stale.prepare("SELECT 1 AS a")
    assert (stale.hits, stale.misses) == (0, 1)
    stale.save()
    assert json.loads(path.read_text())["stamp"] == "other code"

    path.write_text("{not json")
    broken = StatementCache(path)
    assert broken.prepare("SELECT 1 AS a").sql == "SELECT 1 AS a"
    broken.save()
    assert len(json.loads(path.read_text())["statements"]) == 1


def test_the_cache_keeps_the_statements_used_last_and_no_more(tmp_path):
    path = tmp_path / f"x.duckdb{SUFFIX}"
    cache = StatementCache(path, capacity=3)
    for n in range(5):
        cache.prepare(f"SELECT {n} AS a")
    cache.prepare("SELECT 2 AS a")  # used again: kept over 3
    cache.prepare("SELECT 5 AS a")
    cache.save()
    kept = StatementCache(path, capacity=3)
    for n in (2, 4, 5):
        kept.prepare(f"SELECT {n} AS a")
    assert (kept.hits, kept.misses) == (3, 0)
    assert len(json.loads(path.read_text())["statements"]) == 3


def test_query_parameters_are_bound_and_one_translation_serves_every_value(tmp_path):
    with DuckDBWarehouse(tmp_path / "ecommerce.duckdb", Names(), volumes_root=tmp_path / "landing",
                         threads=1) as wh:
        wh.run_sql("CREATE SCHEMA IF NOT EXISTS ${catalog}.${bronze};"
                   "CREATE TABLE ${catalog}.${bronze}.t (k STRING, n BIGINT);"
                   "INSERT INTO ${catalog}.${bronze}.t VALUES ('it\\'s', 1), ('b', 2), ('c', 3)")
        sql = "SELECT k FROM ${catalog}.${bronze}.t WHERE (k = ${k} OR k IN (${ks})) AND n > ${after} ORDER BY k"
        misses = wh.session.statements.misses
        assert wh.query(sql, params={"k": "it's", "ks": ["c"], "after": 0}).rows == [("c",), ("it's",)]
        assert wh.query(sql, params={"k": "b", "ks": ["x", "y"], "after": 1}).rows == [("b",)]
        assert wh.session.statements.misses == misses + 1
