"""Every exit code docs/commands.md documents, through the real CLI in a subprocess.

The rule: 0 when the command did what it was asked; 1 when it ran and failed (a failed step, a
setting from the environment or a .env file that cannot work); 2 when the command line cannot
run as given (an unknown command or option, a bad option value, a missing or unreadable
--env-file, something the target cannot do); 130 and 143 when Ctrl-C or SIGTERM stopped it
(tests/test_signals.py).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from processes import clean_env, run

REPO = Path(__file__).resolve().parents[1]

CASES = {
    0: [
        (["--version"], {}),
        (["status"], {}),
        (["generate", "--count", "0"], {}),
        (["generate"], {"ECOMCTL_EVENT_COUNT": "0"}),  # the setting takes what the flag takes
        (["--target", "databricks", "setup", "--dry-run"], {}),
    ],
    1: [
        (["transform"], {}),  # a step before setup: run `ecomctl setup` first
        (["status"], {"ECOMCTL_CATALOG": "not-an-identifier"}),
        (["status"], {"ECOMCTL_TARGET": "nope"}),
        (["generate"], {"ECOMCTL_EVENT_COUNT": "-1"}),
        (["--target", "databricks", "setup"], {}),  # no warehouse configured
    ],
    2: [
        (["no-such-command"], {}),
        (["status", "--no-such-option"], {}),
        (["generate", "--count", "lots"], {}),
        (["generate", "--count", "-1"], {}),
        (["--target", "nope", "status"], {}),
        (["status", "--target", "nope"], {}),
        (["--env-file", "missing.env", "status"], {}),
        (["status", "--env-file", "missing.env"], {}),
        (["status", "--env-file", "."], {}),  # a folder
        (["ingest", "--mode", "kafka"], {}),  # the local target cannot
        (["query", "DELETE FROM ecommerce.bronze.orders"], {}),
        (["query", "SELECT 1; SELECT 2"], {}),
        (["--home", "a-file", "status"], {}),
    ],
}


@pytest.mark.slow
@pytest.mark.parametrize("code, args, env", [(code, args, env) for code, cases in CASES.items()
                                              for args, env in cases])
def test_exit_code(tmp_path, code, args, env):
    (tmp_path / "a-file").write_text("not a folder")
    result = run(tmp_path / "home", *args, env=clean_env(**env), cwd=tmp_path)
    stderr = result.stderr.decode(errors="replace")
    assert result.returncode == code, (args, env, stderr[-2000:])
    if code:
        assert "Traceback" not in stderr
        # A usage error Typer finds shows its box; every other failure is one `Error:` line.
        assert "Error" in stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_an_unreadable_env_file_is_a_usage_error_like_a_missing_one(tmp_path):
    unreadable = tmp_path / "secret.env"
    unreadable.write_text("ECOMCTL_EVENT_COUNT=5\n")
    unreadable.chmod(0)
    result = run(tmp_path / "home", "--env-file", str(unreadable), "status", cwd=tmp_path)
    assert result.returncode == 2, result.stderr.decode(errors="replace")


def test_the_documented_exit_codes_are_the_ones_tested():
    """docs/commands.md and the README state the rule; each code they name is tested here."""
    reference = (REPO / "docs" / "commands.md").read_text(encoding="utf-8")
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    documented = {int(code) for code in re.findall(r"\*\*(\d+)\*\*", reference.split("**Exit codes", 1)[1]
                                                  .split("\n- **", 1)[0])}
    assert documented == set(CASES) | {130, 143}
    for code in documented:
        assert str(code) in readme.split("## In CI and cron", 1)[1].split("\n## ", 1)[0], code
