"""`ecomctl --target databricks generate` failing the way a user sees it: a real process, real SDK,
no Azure reachable. Each failure is one line, exit 1, within 30 s, and no key anywhere."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

KEY = "c2VjcmV0a2V5"
DEMO = ("Endpoint=sb://nonexistent-ns.servicebus.windows.net/;SharedAccessKeyName=k;"
        f"SharedAccessKey={KEY};EntityPath=orders")


def run_ecomctl(home: Path, *args: str, env: dict[str, str]) -> tuple[subprocess.CompletedProcess, float]:
    full_env = {**os.environ, "PATH": "/nonexistent", **env}  # no az / azd / pwsh: "not logged in"
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "ecomctl", "--home", str(home), "--target", "databricks", *args],
                            env=full_env, capture_output=True, text=True, timeout=60)
    return result, time.monotonic() - started


def files_text(home: Path) -> str:
    return "".join(p.read_text(errors="replace") for p in home.rglob("*") if p.is_file())


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.strip()]


def test_the_issue_demo_fails_in_one_line_without_the_key(tmp_path):
    home = tmp_path / "home"
    result, seconds = run_ecomctl(home, "generate", "--count", "10", env={"EVENTHUB_CONNECTION_STRING": DEMO})
    assert result.returncode == 1, result.stderr
    assert seconds < 30
    [line] = error_lines(result.stderr)
    assert line.startswith("Error: ") and "nonexistent-ns.servicebus.windows.net" in line
    assert "cannot resolve the namespace" in line
    assert "Traceback" not in result.stderr + result.stdout
    for text in (result.stdout, result.stderr, files_text(home)):
        assert KEY not in text
    assert list((home / "runs").glob("*_generate.json"))


def test_the_issue_demo_with_json_and_debug_keeps_the_key_out(tmp_path):
    home = tmp_path / "home"
    result, seconds = run_ecomctl(home, "--json", "--debug", "generate", "--count", "10",
                                  env={"EVENTHUB_CONNECTION_STRING": DEMO, "EVENTHUB_RETRIES": "0"})
    assert result.returncode == 1 and seconds < 30
    report = json.loads(result.stdout)
    assert report["ok"] is False and "cannot resolve the namespace" in report["error"]
    assert report["settings"]["eventhub_connection_string"] == "(set)"
    assert "Traceback" in result.stderr  # --debug shows it, scrubbed
    for text in (result.stdout, result.stderr, files_text(home)):
        assert KEY not in text


def test_entra_id_without_a_login_fails_in_one_line(tmp_path):
    result, seconds = run_ecomctl(tmp_path / "home", "generate", "--count", "10",
                                  env={"EVENTHUB_NAMESPACE": "nonexistent-ns"})
    assert result.returncode == 1 and seconds < 30
    [line] = error_lines(result.stderr)
    assert "no Azure credential" in line and "az login" in line


def test_an_unresolvable_key_vault_fails_in_one_line(tmp_path):
    result, seconds = run_ecomctl(tmp_path / "home", "generate", "--count", "10",
                                  env={"KEYVAULT_URL": "https://nonexistent-vault.vault.azure.net",
                                       "KEYVAULT_SECRET_NAME": "eventhub-conn"})
    assert result.returncode == 1 and seconds < 30
    [line] = error_lines(result.stderr)
    assert line.startswith("Error: setting KEYVAULT_URL: cannot resolve the Key Vault host")


def test_generate_progress_counts_events_and_bytes():
    from ecomctl.cli.console import PipelineConsole

    console = PipelineConsole(interactive=True)
    console.step_started("generate", "send order events")
    try:
        console.progress("generate", 250, 1000, 2_048_000)
        [task] = console._live.progress.tasks
        assert (task.completed, task.total, task.fields["extra"]) == (250, 1000, "2.0 MB")
    finally:
        console._stop_progress()


def test_generate_summary_shows_events_batches_bytes_and_seconds(cli):
    import re

    result = cli("generate", "--count", "25", "--seed", "3")
    assert result.exit_code == 0, result.stderr
    assert re.search(r"sent 25 events in 1 batch \([\d,]+ bytes, \d+\.\d\d s, [\d,]+ events/s\)", result.stdout)
