"""Failures a user meets, each as one clear line (exit 1), the traceback only with --debug (and
offered only for an unexpected error), and never a local variable or a secret in anything
printed or written.

Real conditions, no mocks: a damaged DuckDB file, the warehouse held open by another process, a
disk that is full (a file size limit, RLIMIT_FSIZE, set on the ecomctl process: writes past it fail
with EFBIG exactly as they would with ENOSPC), then a re-run that must lose nothing.
"""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from ecomctl.cli.app import app
from ecomctl.config import SETTINGS
from ecomctl.events.generator import generate_messages
from processes import AS_OF, AS_OF_DT, Expected, assert_exact, clean_env, command, ok, run

DEBUG_HINT = "(run with --debug for the full traceback)"


def _one_error_line(stderr: str) -> str:
    errors = [line for line in stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1, stderr
    assert "Traceback" not in stderr
    return errors[0]


def test_a_damaged_warehouse_file_is_one_clear_line(cli, home):
    assert cli("setup").exit_code == 0
    (home / "ecommerce.duckdb").write_bytes(os.urandom(300_000))
    result = cli("status")
    assert result.exit_code == 1
    line = _one_error_line(result.stderr)
    assert f"the DuckDB warehouse {home / 'ecommerce.duckdb'} is damaged or not a DuckDB file" in line
    assert "move it away and run `ecomctl setup` and `ecomctl ingest`" in line
    assert DEBUG_HINT not in line  # a handled failure's message is the whole story
    debug = cli("--debug", "status")
    assert debug.exit_code == 1
    assert "Traceback (most recent call last)" in debug.stderr
    assert DEBUG_HINT not in debug.stderr


def test_a_truncated_warehouse_file_is_one_clear_line(cli, home):
    assert cli("run-all", "--count", "50", "--seed", "1").exit_code == 0
    path = home / "ecommerce.duckdb"
    with open(path, "r+b") as handle:
        handle.truncate(path.stat().st_size // 3)
    result = cli("ingest")
    assert result.exit_code == 1
    line = _one_error_line(result.stderr)
    # found on open, or only when a statement reads the missing part (then the statement is named)
    assert "is damaged or not a DuckDB file" in line or "the warehouse file looks damaged" in line
    assert "restore ecommerce.duckdb from a backup" in line


def test_a_warehouse_held_by_another_program_names_its_pid(cli, home):
    assert cli("setup").exit_code == 0
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
         "print('open', flush=True); time.sleep(60)", str(home / "ecommerce.duckdb")],
        stdout=subprocess.PIPE)
    try:
        assert holder.stdout.readline().strip() == b"open"
        result = cli("ingest")
    finally:
        holder.kill()
        holder.wait()
    assert result.exit_code == 1
    line = _one_error_line(result.stderr)
    assert f"is locked by another process (pid {holder.pid})" in line
    assert cli("ingest").exit_code == 0  # and once it is gone, all is well


def _with_file_size_limit(limit: int, home: Path, *args: str, env: dict) -> subprocess.CompletedProcess:
    def limit_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return subprocess.run(command(home, *args), env=env, capture_output=True, timeout=300,
                          preexec_fn=limit_files)


def _duckdb_major() -> int:
    import duckdb

    return int(duckdb.__version__.split(".")[0])


@pytest.mark.slow
@pytest.mark.skipif(_duckdb_major() < 2, reason=(
    "RLIMIT_FSIZE fails writes at offsets past the limit even inside an existing file, which a "
    "full disk never does; DuckDB 1.x (what pip installs on Python 3.10) checkpoints in place "
    "at close and is left with half-written blocks by that simulation. DuckDB 2 is tested."))
def test_a_full_disk_is_one_clear_line_and_the_rerun_loses_nothing(tmp_path):
    home = tmp_path / "home"
    ok(run(home, "setup"))
    ok(run(home, "generate", "--count", "3000", "--seed", "4", "--as-of", AS_OF))
    expected = Expected([b for _, b in generate_messages(3000, seed=4, as_of=AS_OF_DT)])

    # No room for a landing file: nothing partial is left behind.
    landing = _with_file_size_limit(64 * 1024, home, "ingest", env=clean_env(ECOMCTL_INGEST_BATCH="1000"))
    assert landing.returncode == 1
    line = _one_error_line(landing.stderr.decode())
    assert "cannot write the landing file" in line and "File too large" in line
    assert "the disk (or a file size limit) is full" in line
    assert not [p for p in (home / "landing").iterdir() if p.name.endswith(".tmp")]

    # Room for landing files, none for the warehouse to grow: the failing statement is named.
    size = (home / "ecommerce.duckdb").stat().st_size + 32 * 1024
    warehouse = _with_file_size_limit(size, home, "ingest", env=clean_env(ECOMCTL_INGEST_BATCH="100"))
    assert warehouse.returncode == 1
    line = _one_error_line(warehouse.stderr.decode())
    assert "File too large" in line and "the disk (or a file size limit) is full" in line
    assert "bronze/" in line and "statement" in line

    ok(run(home, "ingest", env=clean_env(ECOMCTL_INGEST_BATCH="1000")))
    assert_exact(home, expected, 3000)


def test_debug_tracebacks_never_show_local_variables(cli):
    """Typer's pretty tracebacks (which can print locals) are off; --debug prints a plain one."""
    assert app.pretty_exceptions_enable is False
    assert app.pretty_exceptions_show_locals is False
    result = cli("--debug", "status", env={"ECOMCTL_PARTITIONS": "many",
                                           "DATABRICKS_TOKEN": "dapiLOCALSshouldNEVERshow"})
    assert result.exit_code == 1
    assert "Traceback (most recent call last)" in result.stderr
    assert "setting ECOMCTL_PARTITIONS: expected a whole number, got 'many'" in result.stderr
    # a local variable of a frame on the stack holds the token; a plain traceback shows code only
    assert "dapiLOCALSshouldNEVERshow" not in result.stderr + result.stdout
    assert "environ =" not in result.stderr and "overrides =" not in result.stderr


# -- secrets -------------------------------------------------------------------------------------

def _needle(env_name: str) -> str:
    """The text searched for in everything ecomctl prints and writes: the fake secret of a setting."""
    return f"FAKE{env_name.replace('_', '')}doNotLeak"


def _fake_secrets() -> tuple[dict[str, str], list[str]]:
    """A fake value for every secret setting in config.SETTINGS (so a new one cannot be missed),
    built from the setting's own example with each placeholder replaced by a needle to search for."""
    env, needles = {}, []
    for setting in SETTINGS:
        if setting.kind != "secret":
            continue
        needle = _needle(setting.env)
        value = re.sub(r"<namespace>", "nonexistent-ns", setting.example or "")
        value = re.sub(r"<name>", "RootManageSharedAccessKey", value)
        value = re.sub(r"<[^<>]+>|\.\.\.", needle, value)
        assert needle in value, f"give {setting.env}'s example a <placeholder> for its secret part"
        env[setting.env], needles = value, needles + [needle]
    return env, needles


_SETTING_SECRETS, _SETTING_NEEDLES = _fake_secrets()
SECRETS = {
    **_SETTING_SECRETS,
    # secrets the cloud SDKs read themselves, not ecomctl settings
    "AZURE_CLIENT_SECRET": "FAKEazureCLIENTsecret~doNotLeak",
    "DATABRICKS_CLIENT_SECRET": "doseFAKEdatabricksCLIENTsecretDoNotLeak",
    "HTTPS_PROXY": "http://proxyuser:FAKEproxyPASSWORDdoNotLeak@proxy.invalid:3128",
}
NEEDLES = _SETTING_NEEDLES + ["FAKEazureCLIENTsecret~doNotLeak", "doseFAKEdatabricksCLIENTsecretDoNotLeak",
                              "FAKEproxyPASSWORDdoNotLeak"]


def test_every_secret_setting_has_a_fake_value_in_the_scan():
    secret_settings = {s.env for s in SETTINGS if s.kind == "secret"}
    assert {"EVENTHUB_CONNECTION_STRING", "EVENTHUB_PROXY_PASSWORD", "DATABRICKS_TOKEN"} <= secret_settings
    assert secret_settings <= set(SECRETS)
    # the key part of the connection string is the needle, so a leak of the key alone is found
    assert f"SharedAccessKey={_needle('EVENTHUB_CONNECTION_STRING')}" in SECRETS["EVENTHUB_CONNECTION_STRING"]


# The databricks target, offline: a workspace and a namespace that do not resolve, with the proxy
# settings in force (its password goes to the SDK).
DATABRICKS = {"DATABRICKS_HOST": "https://nonexistent.invalid", "DATABRICKS_WAREHOUSE_ID": "abc123",
              "EVENTHUB_TRANSPORT": "websockets", "EVENTHUB_PROXY_HOST": "proxy.invalid",
              "EVENTHUB_PROXY_USER": "proxyuser"}
DRY_RUN_COMMANDS = [("setup",), ("generate", "--count", "20"), ("ingest",), ("transform",), ("views",),
                    ("dashboards",), ("status",), ("run-all", "--count", "20")]


@pytest.mark.slow
def test_no_secret_in_any_output_log_report_or_file(tmp_path):
    """Every command, plain and --json, successful and failing (with --debug), with fake secrets
    in the environment; stdout, stderr, the GitHub step summary and every file under --home
    (run reports, landing files, the event log, the warehouse, the dashboard) are searched."""
    home = tmp_path / "home"
    summary = tmp_path / "step-summary.md"
    env = clean_env(**SECRETS, GITHUB_STEP_SUMMARY=str(summary), ECOMCTL_INGEST_BATCH="100")
    lines = tmp_path / "replay.jsonl"
    lines.write_bytes(b'{"customer_id": "C1"}\nnot json\n')
    # every command, plain or --json in turn; run-all and status both ways
    runs = [
        ("setup",), ("--json", "generate", "--count", "200", "--seed", "3"),
        ("send", str(lines)), ("--json", "ingest"), ("transform",), ("--json", "views"),
        ("dashboards",), ("status",), ("--json", "status"),
        ("run-all", "--count", "100", "--seed", "4"), ("--json", "run-all", "--count", "50"),
    ]
    printed = []
    for args in runs:
        result = run(home, *args, env=env)
        assert result.returncode == 0, (args, result.stderr.decode()[-2000:])
        printed.append(result.stdout + result.stderr)
    stdin = run(home, "--json", "send", "-", env=env, input=b'{"n": 1}\n')
    assert stdin.returncode == 0, stdin.stderr.decode()[-2000:]
    printed.append(stdin.stdout + stdin.stderr)
    # failures, with tracebacks: a bad setting, a damaged warehouse
    bad_setting = run(home, "--debug", "ingest", env={**env, "ECOMCTL_INGEST_BATCH": "zero"})
    assert bad_setting.returncode == 1 and b"Traceback" in bad_setting.stderr
    printed.append(bad_setting.stdout + bad_setting.stderr)
    # --dry-run on every command, on both targets; the databricks target's plan and its failures
    for target in ("local", "databricks"):
        for args in DRY_RUN_COMMANDS + [("send", str(lines))] + \
                [("ingest", "--mode", "kafka")] * (target == "databricks"):
            for json_flag in ((), ("--json",)):
                dry = run(home, "--target", target, *json_flag, *args, "--dry-run",
                          env={**env, **DATABRICKS})
                assert dry.returncode == 0, (target, args, dry.stderr.decode()[-2000:])
                printed.append(dry.stdout + dry.stderr)
    for args, kafka in ((("generate", "--count", "10"), {}), (("setup",), {}), (("ingest",), {}),
                        (("ingest", "--mode", "kafka"), {}),
                        (("ingest", "--mode", "kafka"), {"ECOMCTL_KAFKA_SECRET_SCOPE": "scope",
                                                         "ECOMCTL_KAFKA_SECRET_KEY": "key"})):
        for flags in (("--debug",), ("--debug", "--json")):
            failed = run(home, "--target", "databricks", *flags, *args,
                         env={**env, **DATABRICKS, **kafka}, timeout=60)
            assert failed.returncode == 1, (args, failed.stderr.decode()[-2000:])
            printed.append(failed.stdout + failed.stderr)
    (home / "ecommerce.duckdb").write_bytes(b"not a database" * 1000)
    for args in (("--debug", "status"), ("--debug", "--json", "run-all", "--count", "5")):
        failed = run(home, *args, env=env)
        assert failed.returncode == 1 and b"Traceback" in failed.stderr
        printed.append(failed.stdout + failed.stderr)

    written = {p: p.read_bytes() for p in home.rglob("*") if p.is_file()}
    written[summary] = summary.read_bytes()
    assert any(p.parent.name == "runs" for p in written) and any(p.suffix == ".json" and
                                                                  p.parent.name == "landing" for p in written)
    for needle in NEEDLES:
        data = needle.encode()
        assert not [i for i, text in enumerate(printed) if data in text], needle
        assert not [str(p) for p, content in written.items() if data in content], needle


def test_an_unexpected_error_is_one_line_and_its_traceback_only_with_debug(cli, monkeypatch):
    """A bug (here: status raising a multi-line RuntimeError) still ends in one line and exit 1."""
    from ecomctl.pipeline import Pipeline

    def broken(self):
        raise RuntimeError("first line of the problem\n  LINE 1: SELECT ...\n          ^")

    monkeypatch.setattr(Pipeline, "status", broken)
    result = cli("status")
    assert result.exit_code == 1
    assert _one_error_line(result.stderr) == \
        f"Error: unexpected RuntimeError: first line of the problem {DEBUG_HINT}"
    assert [line for line in result.stderr.splitlines() if line.strip()] == \
        [_one_error_line(result.stderr)]
    debug = cli("--debug", "status")
    assert debug.exit_code == 1
    assert "Traceback (most recent call last)" in debug.stderr and "LINE 1: SELECT" in debug.stderr


def test_a_long_sdk_message_is_cut_to_its_first_sentence_with_the_settings_to_check(cli, tmp_path):
    """With only a warehouse id set, the Databricks SDK explains at length (a link, the config it
    saw); the one line keeps what failed and names the settings to set."""
    pytest.importorskip("databricks.sdk")
    result = cli("--target", "databricks", "setup",
                 env={"DATABRICKS_WAREHOUSE_ID": "abc123", "HOME": str(tmp_path)})
    assert result.exit_code == 1
    line = _one_error_line(result.stderr)
    assert line.startswith("Error: cannot configure Databricks authentication for ")
    assert "set DATABRICKS_HOST and DATABRICKS_TOKEN, or DATABRICKS_CONFIG_PROFILE" in line
    assert "https://" not in line and "Config:" not in line and len(line) < 300
    assert DEBUG_HINT not in line


def test_first_sentence_cuts_only_long_lines_and_never_inside_a_name():
    from ecomctl.errors import first_sentence

    assert first_sentence("Short. Two sentences.") == "Short. Two sentences."
    sdk = ("default auth: cannot configure default credentials, please check https://docs.example.com/"
           "auth.html#unified to configure credentials for your preferred authentication method. "
           "Config: warehouse_id=abc123, http_timeout_seconds=10.0. Env: DATABRICKS_WAREHOUSE_ID")
    assert first_sentence(sdk) == "default auth: cannot configure default credentials"
    long = "the table ecommerce.bronze.orders (version 1.2.3) failed " * 4 + "here. And then more"
    assert first_sentence(long) == long.split(". And")[0].rstrip(".")
    assert first_sentence(RuntimeError("line one\nline two")) == "line one"
