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
