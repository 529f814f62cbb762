"""The global options work before and after the command, through the real CLI: `ecomctl run-all
--json` is `ecomctl --json run-all`; given in both places, the one after the command wins (as
for any option given twice: the last one on the command line). Every command's --help lists
them, and help reads as the command line is typed."""

from __future__ import annotations

import json
import re

import pytest
import typer.main

from ecomctl.cli.main import app
from processes import clean_env, run

GLOBAL = ("--target", "--home", "--env-file", "--json", "--debug")
GROUP = typer.main.get_command(app)


def report(result) -> dict:
    assert result.returncode == 0, result.stderr.decode(errors="replace")[-2000:]
    return json.loads(result.stdout)


@pytest.mark.slow
def test_json_and_home_after_the_command_are_the_same_as_before_it(tmp_path):
    before = report(run(tmp_path / "a", "--json", "run-all", "--count", "20", "--seed", "3",
                        "--as-of", "2026-11-01"))
    after = report(run(tmp_path / "unused", "run-all", "--count", "20", "--seed", "3",
                       "--as-of", "2026-11-01", "--json", "--home", str(tmp_path / "b")))
    assert after["home"] == str(tmp_path / "b") and (tmp_path / "b" / "runs").is_dir()
    assert not (tmp_path / "unused").exists()
    for key in ("command", "target", "ok", "reconciliation"):
        assert before[key] == after[key], key
    assert [s["step"] for s in before["steps"]] == [s["step"] for s in after["steps"]]


@pytest.mark.slow
def test_target_and_env_file_after_the_command_and_the_later_one_wins(tmp_path):
    settings = tmp_path / "settings.env"
    settings.write_text("ECOMCTL_CATALOG=shop\n")
    home = tmp_path / "home"
    dry = report(run(home, "run-all", "--dry-run", "--target", "databricks", "--json",
                     "--env-file", str(settings)))
    assert dry["target"] == "databricks" and dry["settings"]["catalog"] == "shop"
    assert any(e["step"] == "setup" and "shop" in e["text"] for e in dry["plan"])
    # Given twice, the one after the command wins.
    both = report(run(home, "-t", "databricks", "--json", "status", "--dry-run", "-t", "local"))
    assert both["target"] == "local"
    # --debug after the command shows the traceback of a failure.
    failed = run(home, "transform", "--debug", env=clean_env(ECOMCTL_CATALOG="not-an-identifier"))
    assert failed.returncode == 1 and b"Traceback (most recent call last)" in failed.stderr


@pytest.mark.parametrize("command", sorted(GROUP.commands))
def test_every_command_takes_and_lists_the_global_options(cli, command):
    params = {p.opts[0] for p in GROUP.commands[command].params if p.param_type_name == "option"}
    assert set(GLOBAL) <= params
    text = cli(command, "--help", use_home=False, env={"COLUMNS": "200"}).stdout
    assert "Global options (before or after the command)" in text
    for option in GLOBAL:
        assert option in text, option


def test_help_shows_no_value_for_flags_choices_and_defaults(cli):
    env = {"COLUMNS": "200", "NO_COLOR": "1"}
    top = cli("--help", use_home=False, env=env).stdout
    assert "<bool>" not in top and "BOOLEAN" not in top
    target = next(line for line in top.splitlines() if "--target" in line)
    assert "local|databricks" in target and "default: local" in target
    generate = cli("generate", "--help", use_home=False, env=env).stdout
    assert "<bool>" not in generate
    assert re.search(r"--seed .*\[default: none", generate)
    send = cli("send", "--help", use_home=False, env=env).stdout
    assert "Usage: ecomctl send [OPTIONS] FILE" in send and "{FILE}" not in send
    query = cli("query", "--help", use_home=False, env=env).stdout
    assert "Usage: ecomctl query [OPTIONS] SQL" in query and re.search(r"--limit .*\[default: 50\]", query)
