"""`ecomctl --help` stays fast: the CLI imports no heavy package until a command needs it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("azure", "databricks", "duckdb", "sqlglot", "faker")

PROBE = """
import contextlib, io, json, sys
from typer.testing import CliRunner
from ecomctl.cli.main import app
runner = CliRunner()
helps = [runner.invoke(app, args) for args in {args!r}]
assert all(r.exit_code == 0 for r in helps), [r.output for r in helps]
print(json.dumps(sorted({{name.split(".")[0] for name in sys.modules}})))
"""


@pytest.mark.parametrize("args", [
    [["--help"]],
    [["--help"], *[[command, "--help"] for command in
                   ("setup", "generate", "send", "ingest", "transform", "views", "dashboards",
                    "run-all", "status", "query")]],
    [["--version"]],
])
def test_help_imports_no_heavy_package(args):
    # A fresh interpreter: this test process has imported everything already.
    out = subprocess.run([sys.executable, "-c", PROBE.format(args=args)], capture_output=True,
                         text=True, timeout=60, check=True).stdout
    loaded = set(json.loads(out.splitlines()[-1]))
    assert "ecomctl" in loaded and "typer" in loaded  # the probe did import the CLI
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


COMMAND_PROBE = """
import json, sys
from typer.testing import CliRunner
from ecomctl.cli.main import app
result = CliRunner().invoke(app, {args!r})
assert result.exit_code == 0, result.output
print(json.dumps(sorted({{name.split(".")[0] for name in sys.modules}})))
"""


def test_a_command_does_not_coerce_its_options_through_pydantic(tmp_path):
    # Typer 0.29 validates every parameter with a pydantic TypeAdapter: importing pydantic and
    # building the adapters cost ~0.15 s per command, which a run every few minutes pays each
    # time (pyproject.toml caps Typer below it). The options here are a path, an int, an enum, flags.
    args = ["--home", str(tmp_path), "--target", "local", "generate", "--count", "5", "--dry-run"]
    out = subprocess.run([sys.executable, "-c", COMMAND_PROBE.format(args=args)], capture_output=True,
                         text=True, timeout=60, check=True).stdout
    loaded = set(json.loads(out.splitlines()[-1]))
    assert "ecomctl" in loaded and "typer" in loaded
    assert "pydantic" not in loaded
