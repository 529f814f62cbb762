"""The CI files: the example pipeline workflow a user copies, the tests workflow, and .ci/run."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import yaml

from ecomctl.config import SETTINGS

REPO = Path(__file__).resolve().parents[1]
WORKFLOW = REPO / ".github" / "workflows" / "pipeline.yml"
TESTS_WORKFLOW = REPO / ".github" / "workflows" / "tests.yml"
SECRETS = ["EVENTHUB_CONNECTION_STRING", "DATABRICKS_HOST", "DATABRICKS_TOKEN", "DATABRICKS_WAREHOUSE_ID"]


def load_workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def test_workflow_runs_on_a_schedule_and_on_demand():
    workflow = load_workflow()
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    crons = [entry["cron"] for entry in triggers["schedule"]]
    assert crons and all(len(cron.split()) == 5 for cron in crons)
    assert "workflow_dispatch" in triggers
    assert workflow["permissions"] == {"contents": "read"}


def test_workflow_takes_secrets_from_repository_secrets_and_names_only_real_settings():
    (job,) = load_workflow()["jobs"].values()
    env = job["env"]
    for name in SECRETS:
        assert env[name] == f"${{{{ secrets.{name} }}}}", name
    known = {s.env for s in SETTINGS}
    assert set(env) <= known, f"not settings: {set(env) - known}"
    assert env["ECOMCTL_TARGET"] == "databricks"
    # No secret value or secret expression anywhere but the job's env.
    text = WORKFLOW.read_text()
    assert text.count("secrets.") == len(SECRETS)


def test_workflow_runs_run_all_with_a_json_report_kept_as_an_artifact(cli):
    (job,) = load_workflow()["jobs"].values()
    steps = job["steps"]
    run = next(s for s in steps if "ecomctl" in s.get("run", "") and "run-all" in s["run"])
    command, redirect = run["run"].split(">")
    assert redirect.strip() == "report.json"
    argv = shlex.split(command.replace('"$COUNT"', "300"))
    assert argv[0] == "ecomctl" and "--json" in argv and argv[argv.index("--target") + 1] == "databricks"
    # The command line is one ecomctl accepts (parsed up to --help, so nothing runs).
    assert cli(*argv[1:], "--help", use_home=False).exit_code == 0
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["with"]["path"] == "report.json" and upload["if"] == "always()"
    installs = [s["run"] for s in steps if s.get("run", "").startswith("pip install")]
    assert installs == ["pip install ."]


def test_ci_run_requires_the_browser_and_runs_the_readme_test_command():
    script = (REPO / ".ci" / "run").read_text()
    assert "export ECOMCTL_REQUIRE_BROWSER=1" in script
    assert re.search(r"if ! command -v chromium .*\n(.*\n)*?.*apt-get install -y -qq .*chromium", script)
    assert re.search(r'python3 -m venv "\$VENV"', script) and "mktemp -d" in script
    test_command = script.split("# -- the README's test command --\n", 1)[1].strip()
    assert test_command == "pip install '.[test]' && python -m pytest -q"
    readme = (REPO / "README.md").read_text()
    assert test_command in readme.split("\n## ", 1)[0], "the README's first lines carry another test command"


def test_the_tests_workflow_runs_on_push_what_ci_runs():
    """tests.yml runs .ci/run (the README's test command in a fresh virtual environment, the
    browser test required) on every push and pull request, on the lowest supported Python too."""
    workflow = yaml.safe_load(TESTS_WORKFLOW.read_text())
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    assert "push" in triggers and "pull_request" in triggers
    assert workflow["permissions"] == {"contents": "read"}
    (job,) = workflow["jobs"].values()
    runs = [s["run"] for s in job["steps"] if "run" in s]
    assert runs == ["bash .ci/run"]
    assert any(s.get("uses", "").startswith("actions/checkout@") for s in job["steps"])
    # .ci/run installs Debian's chromium when it is missing: the job runs in a Debian image.
    assert job["container"] == "python:${{ matrix.python }}-bookworm"
    pythons = job["strategy"]["matrix"]["python"]
    floor = re.search(r'requires-python = ">=(\d+\.\d+)"', (REPO / "pyproject.toml").read_text())[1]
    assert floor in pythons
    assert "timeout-minutes" in job


def test_ci_run_proves_the_dependency_floors():
    """A second fresh environment gets every direct dependency at its declared minimum, on Python
    3.10 (the oldest requires-python allows), and runs the tests that exercise them."""
    script = (REPO / ".ci" / "run").read_text()
    floors = script.split("# -- every direct dependency at its declared minimum", 1)[1].split(
        "# -- the README's test command --", 1)[0]
    assert "--resolution lowest-direct '.[test]'" in floors and "python3.10" in floors
    for test in ["test_dialect.py", "test_dialect_coverage.py", "test_reference.py", "test_layers.py",
                 "test_installed_cli.py", "test_databricks_warehouse.py", "test_eventhubs.py", "test_dry_run.py"]:
        assert f"tests/{test}" in floors, test
    assert "--target databricks run-all --dry-run" in floors
    assert 'requires-python = ">=3.10"' in (REPO / "pyproject.toml").read_text()
