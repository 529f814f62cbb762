"""The installed command does the work it is asked for, on whatever Typer/Click the floors allow.

With Typer 0.12 and Click >= 8.3 (a pairing pyproject.toml used to allow), every unset flag reached
its callback as the string 'False': the eager --version callback fired, so every command printed
`ecomctl 0.1.0` and exited 0 without doing anything. These tests fail on any such silent no-op.
.ci/run runs them with every direct dependency at its declared minimum.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from ecomctl import __version__
from reference import KEYS, RawEvent, compute_reference, reconciliation, sort_rows

COMMANDS = ["setup", "generate", "send", "ingest", "transform", "views", "dashboards", "run-all", "status"]
VERSION_LINE = f"ecomctl {__version__}"


def _ecomctl(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """The console script pip installed (the real entry point), else `python -m ecomctl`."""
    script = Path(sys.executable).with_name("ecomctl")
    argv = [str(script)] if script.is_file() else [sys.executable, "-m", "ecomctl"]
    return subprocess.run(argv + list(args), capture_output=True, text=True, timeout=120, cwd=cwd)


def test_the_version_callback_fires_only_for_version(cli):
    assert cli("--version", use_home=False).stdout.strip() == VERSION_LINE
    for command in COMMANDS:
        result = cli(command, "--help", use_home=False)
        assert result.exit_code == 0
        assert VERSION_LINE not in result.stdout, f"`{command} --help` printed the version"
        assert "Usage:" in result.stdout and command in result.stdout


def test_status_through_the_entry_point_reports_status(tmp_path):
    done = _ecomctl("--home", str(tmp_path / "home"), "--json", "status", cwd=tmp_path)
    assert done.stdout.strip() != VERSION_LINE, "status printed only the version"
    report = json.loads(done.stdout)
    assert report["command"] == "status" and report["target"] == "local"


def test_databricks_dry_run_through_the_entry_point_prints_a_plan(tmp_path):
    pytest.importorskip("ecomctl.dashboards.databricks")
    done = _ecomctl("--home", str(tmp_path / "home"), "--target", "databricks", "run-all", "--dry-run",
                    cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() != VERSION_LINE, "the dry run printed only the version"
    for step in ("setup", "generate", "ingest", "transform", "views", "dashboards"):
        assert step in done.stdout, f"the plan does not mention {step}"


@pytest.mark.slow
def test_run_all_on_the_command_line_equals_the_reference(cli, home):
    result = cli("--json", "run-all", "--count", "150", "--seed", "5", "--as-of", "2026-11-01")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] is True and report["reconciliation"]["balanced"] is True
    con = duckdb.connect(str(home / "ecommerce.duckdb"), read_only=True)
    try:
        raw = [RawEvent(*row) for row in con.execute(
            "SELECT source, partition_id, sequence_number, body, landed_at, landing_file "
            "FROM bronze.raw_events").fetchall()]
        tables = {}
        for table in KEYS:
            cursor = con.execute(f"SELECT * FROM {table}")
            columns = [d[0] for d in cursor.description]
            tables[table] = [dict(zip(columns, row)) for row in cursor.fetchall()]
    finally:
        con.close()
    assert len(raw) == 150 and reconciliation(raw)["orders"] == 150
    expected_tables = compute_reference(raw)
    for table in KEYS:
        expected = sort_rows(table, expected_tables[table])
        actual = sort_rows(table, tables[table])
        assert len(actual) == len(expected), table
        if expected and table == "bronze.rejected_events":
            actual = [{k: row[k] for k in expected[0]} for row in actual]
        for got, want in zip(actual, expected):
            assert got == want, table
