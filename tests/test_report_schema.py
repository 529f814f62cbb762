"""The --json run report matches its documented schema (docs/report.schema.json, docs/report.md),
and the GitHub step summary is written from it."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import jsonschema
import pytest

from ecomctl.results import RunReport, StepResult

DOCS = Path(__file__).resolve().parents[1] / "docs"
SCHEMA = json.loads((DOCS / "report.schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def validate(report: dict) -> None:
    errors = sorted(VALIDATOR.iter_errors(report), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors)


def test_the_schema_is_valid_and_documents_every_field_of_the_code():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert set(SCHEMA["properties"]) == {f.name for f in dataclasses.fields(RunReport)}
    assert set(SCHEMA["$defs"]["step"]["properties"]) == {f.name for f in dataclasses.fields(StepResult)}


def test_report_md_describes_every_field_of_the_schema():
    text = (DOCS / "report.md").read_text()
    names = set(SCHEMA["properties"]) | set(SCHEMA["$defs"]["step"]["properties"]) \
        | set(SCHEMA["$defs"]["object"]["properties"]) | set(SCHEMA["$defs"]["reconciliation"]["properties"])
    missing = [name for name in sorted(names) if f"`{name}`" not in text]
    assert not missing, f"docs/report.md does not describe {missing}"


def test_a_real_run_all_report_validates(cli, home, tmp_path):
    summary = tmp_path / "summary.md"
    result = cli("--json", "run-all", "--count", "60", "--seed", "9", "--as-of", "2026-11-01",
                 env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    validate(report)
    assert report["ok"] is True and report["reconciliation"]["balanced"] is True

    # Every step's details carry the keys docs/report.md lists for it.
    documented = _documented_details()
    for step in report["steps"]:
        assert "started_at" in step["details"]
        assert documented[step["step"]] <= set(step["details"]), step["step"]
    dashboards = report["steps"][-1]
    assert set(dashboards["tables"]) == {"key figures", "top brands by net revenue",
                                         "top cities by net revenue"}
    # the report on disk is the same document
    saved = [json.loads(p.read_text()) for p in (home / "runs").glob("*_run-all.json")]
    assert saved == [report]

    text = summary.read_text()
    assert text.startswith("### ecomctl run-all on local succeeded")
    assert "| dashboards |" in text and "| valid orders | 60 |" in text
    for label, value in dashboards["details"]["key_figures"].items():
        assert f"| {label} | {value} |" in text


def test_send_report_validates_and_carries_the_documented_details(cli, tmp_path):
    lines = tmp_path / "events.jsonl"
    lines.write_text('{"customer_id": "C1"}\n\nnot json\n')
    assert cli("setup").exit_code == 0
    report = json.loads(cli("--json", "send", str(lines)).stdout)
    validate(report)
    (step,) = report["steps"]
    assert step["step"] == report["command"] == "send"
    assert _documented_details()["send"] <= set(step["details"])
    assert (step["details"]["events"], step["details"]["empty_lines_skipped"]) == (2, 1)


def test_status_and_failed_reports_validate(cli, home, tmp_path):
    summary = tmp_path / "summary.md"
    status = cli("--json", "status")
    assert status.exit_code == 0
    validate(json.loads(status.stdout))
    assert cli("setup").exit_code == 0
    assert cli("generate", "--count", "10").exit_code == 0
    report = json.loads(cli("--json", "status").stdout)
    validate(report)
    assert _documented_details()["status"] <= set(report["steps"][0]["details"])
    assert report["steps"][0]["details"]["total_lag"] == 10

    (home / "landing" / "broken.json").write_text("{not json\n")
    failed = cli("--json", "ingest", env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert failed.exit_code == 1
    report = json.loads(failed.stdout)
    validate(report)
    assert report["ok"] is False and "broken.json" in report["error"]
    assert report["steps"][-1]["step"] == "ingest"
    assert summary.read_text().startswith("### ecomctl ingest on local failed\n\n> ")

    unreadable = cli("--json", "status", env={"ECOMCTL_CATALOG": "not-an-identifier"})
    assert unreadable.exit_code == 1
    report = json.loads(unreadable.stdout)
    validate(report)
    assert report["settings"] is None and report["target"] == "?"


def test_query_report_validates_and_carries_the_documented_details(cli):
    assert cli("run-all", "--count", "5").exit_code == 0
    report = json.loads(cli("--json", "query", "SELECT order_id FROM ecommerce.bronze.orders").stdout)
    validate(report)
    (step,) = report["steps"]
    assert step["step"] == report["command"] == "query"
    assert {"started_at"} | _documented_details()["query"] <= set(step["details"])
    assert len(step["details"]["rows"]) == 5


def test_a_dry_run_report_validates_with_its_plan(cli, home):
    result = cli("--json", "--target", "databricks", "run-all", "--dry-run")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    validate(report)
    kinds = {entry["kind"] for entry in report["plan"]}
    assert {"sql", "api", "send", "receive"} <= kinds
    assert [e["number"] for e in report["plan"]] == list(range(1, len(report["plan"]) + 1))


@pytest.mark.parametrize("broken", [
    {"ok": False},                                      # a failure must say what failed
    {"reconciliation": {"sent": 1}},                    # incomplete counts
    {"surprise": 1},                                    # an undocumented field
    {"started_at": "2026-11-01 12:00:00"},              # not the documented timestamp form
])
def test_the_schema_rejects_what_the_docs_rule_out(cli, broken):
    report = json.loads(cli("--json", "status").stdout)
    report.update(broken)
    assert list(VALIDATOR.iter_errors(report))


def _documented_details() -> dict[str, set[str]]:
    """step -> the top-level `details` keys docs/report.md lists for it."""
    text = (DOCS / "report.md").read_text()
    out = {}
    for step, keys in re.findall(r"^\| `(\w+)` \| (.*) \|$", text.split("The other keys:")[1].split("\n\n")[1],
                                 re.M):
        # top-level keys only: what is inside (…) describes the items of a list
        out[step] = set(re.findall(r"`(\w+)`", re.sub(r"\([^)]*\)", "", keys))) \
            - {"key figures", "index"}
    return out
