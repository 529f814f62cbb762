"""Fixtures: a fresh home per test, no settings leaking in from the machine, a CLI runner."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).parent
# The independent reference lives beside the tests, not in the package.
sys.path.insert(0, str(TESTS_DIR))

_PREFIXES = ("ECOMCTL_", "DATABRICKS_", "EVENTHUB_", "KEYVAULT_", "AZURE_", "GITHUB_STEP_SUMMARY")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch, tmp_path):
    """Each test starts in an empty folder with no ecomctl, Azure or Databricks settings."""
    for name in list(os.environ):
        if name.startswith(_PREFIXES):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    yield


@pytest.fixture
def home(tmp_path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def cli(home):
    """Run ecomctl in-process through Typer's runner; returns the Result."""
    from typer.testing import CliRunner

    from ecomctl.cli.main import app

    runner = CliRunner()

    def invoke(*args: str, env: dict | None = None, use_home: bool = True):
        argv = (["--home", str(home)] if use_home else []) + list(args)
        return runner.invoke(app, argv, env=env, catch_exceptions=False)

    return invoke
