"""The CLI as a user meets it: commands, exit codes, output modes, idempotent re-runs."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from ecomctl import __version__
from ecomctl.cli.app import app

COMMANDS = ["setup", "generate", "send", "ingest", "transform", "views", "dashboards", "run-all", "status"]
REPO = Path(__file__).resolve().parents[1]

TABLES = [
    "bronze.raw_events", "bronze.orders", "bronze.products", "bronze.rejected_events",
    "silver.order_details",
    "gold.sales_by_brand_category", "gold.location_performance", "gold.product_performance",
    "gold.customer_insights",
    "gold.mv_top_brands", "gold.mv_category_summary", "gold.mv_location_ranking",
    "gold.mv_product_ranking", "gold.mv_customer_segments", "gold.mv_vip_customers",
    "gold.mv_brand_location_matrix", "gold.mv_discount_analysis",
]


def snapshot(home: Path) -> dict[str, list[tuple]]:
    """Every table's rows, sorted, from the DuckDB file (raw_events without its landing columns)."""
    con = duckdb.connect(str(home / "ecommerce.duckdb"), read_only=True)
    try:
        out = {}
        for table in TABLES:
            if table == "bronze.raw_events":
                continue
            rows = con.execute(f"SELECT * FROM {table}").fetchall()
            out[table] = sorted(rows, key=repr)
        return out
    finally:
        con.close()


def count(home: Path, table: str) -> int:
    con = duckdb.connect(str(home / "ecommerce.duckdb"), read_only=True)
    try:
        return con.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
    finally:
        con.close()


def test_version(cli):
    result = cli("--version", use_home=False)
    assert result.exit_code == 0
    assert result.stdout.strip() == f"ecomctl {__version__}"


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_and_is_in_the_readme(cli, command):
    result = cli(command, "--help", use_home=False)
    assert result.exit_code == 0
    click_command = next(c for c in app.registered_commands
                         if (c.name or c.callback.__name__.replace("_", "-")) == command)
    assert click_command.callback.__doc__.strip()
    readme = (REPO / "README.md").read_text()
    assert f"ecomctl {command}" in readme, f"README has no line for `ecomctl {command}`"


def test_usage_error_exits_2(cli):
    assert cli("generate", "--count", "lots").exit_code == 2
    assert cli("no-such-command").exit_code == 2


def test_bad_setting_is_one_line_naming_it_and_exit_1(cli):
    result = cli("status", env={"ECOMCTL_CATALOG": "not-an-identifier"})
    assert result.exit_code == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1
    assert "ECOMCTL_CATALOG" in lines[0] and "not-an-identifier" in lines[0]


def test_steps_before_setup_say_what_to_do(cli):
    result = cli("transform")
    assert result.exit_code == 1
    assert "ecomctl setup" in result.stderr


def test_run_all_then_unseeded_then_same_seed(cli, home):
    first = cli("run-all", "--seed", "7", "--as-of", "2026-11-01")
    assert first.exit_code == 0, first.output
    for table in TABLES:  # every table is shown with its row count
        row = re.search(rf"│ ecommerce\.{re.escape(table)} +│ [a-z ]+ +│ +([\d,]+) │", first.stdout)
        assert row, f"{table} is not in the output"
        shown = int(row.group(1).replace(",", ""))
        assert shown == count(home, table), table
    assert "reconciliation" in first.stdout
    assert count(home, "bronze.orders") == 300
    assert (home / "dashboards" / "index.html").is_file()
    before = snapshot(home)

    second = cli("run-all")
    assert second.exit_code == 0, second.output
    assert count(home, "bronze.orders") == 600  # 300 more, none of the first duplicated
    assert count(home, "bronze.raw_events") == 600

    third = cli("run-all", "--seed", "7", "--as-of", "2026-11-01")
    assert third.exit_code == 0, third.output
    assert count(home, "bronze.orders") == 600
    after_second = snapshot(home)
    fourth = cli("run-all", "--seed", "7", "--as-of", "2026-11-01")
    assert fourth.exit_code == 0
    after_fourth = snapshot(home)
    # The same seed again changes no derived table, except which copy of each resent event won
    # (the last three columns of bronze.orders, bronze.products and silver.order_details: source,
    # partition, sequence number): by the rule (same event_time, later sequence number in the
    # same partition) the copy just sent.
    lineage_tables = ("bronze.orders", "bronze.products", "silver.order_details")
    for table in lineage_tables:
        assert sorted(r[:-3] for r in after_fourth[table]) == sorted(r[:-3] for r in after_second[table]), table
    assert {t: rows for t, rows in after_fourth.items() if t not in lineage_tables} == \
        {t: rows for t, rows in after_second.items() if t not in lineage_tables}
    lineage = {r[0]: r[-3:] for r in after_fourth["bronze.orders"]}
    lineage_before = {r[0]: r[-3:] for r in after_second["bronze.orders"]}
    resent = [k for k in lineage if k.startswith("ORD-S7-")]
    assert resent and all(lineage[k][2] > lineage_before[k][2] for k in resent)
    assert [r[:5] for r in before["bronze.products"]] == [r[:5] for r in after_fourth["bronze.products"]]


def test_json_report_on_stdout_and_human_output_on_stderr(cli, home):
    result = cli("--json", "run-all", "--seed", "3", "--count", "50", "--as-of", "2026-11-01")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] is True and report["command"] == "run-all"
    assert [s["step"] for s in report["steps"]] == [
        "setup", "generate", "ingest", "transform", "views", "dashboards"]
    r = report["reconciliation"]
    assert r["sent"] == r["received"] == r["landed"] == 50
    assert r["valid_orders"] == 50 and r["rejected"] == 0 and r["balanced"] is True
    assert "reconciliation" in result.stderr
    reports = list((home / "runs").glob("*_run-all.json"))
    assert len(reports) == 1 and json.loads(reports[0].read_text())["ok"] is True


def test_without_a_terminal_each_step_prints_start_and_finish_lines(cli):
    result = cli("run-all", "--count", "20", "--seed", "1")
    assert result.exit_code == 0
    for step in ("setup", "generate", "ingest", "transform", "views", "dashboards"):
        assert re.search(rf"^{step}: started", result.stdout, re.M)
        assert re.search(rf"^{step}: finished in \d+\.\d\ds", result.stdout, re.M)


def test_status_shows_tables_lag_and_versions(cli):
    assert cli("setup").exit_code == 0
    assert cli("generate", "--count", "40", "--seed", "2").exit_code == 0
    result = cli("--json", "status")
    assert result.exit_code == 0
    details = json.loads(result.stdout)["steps"][0]["details"]
    assert details["total_lag"] == 40
    assert {v["state"] for v in details["sql_versions"]} == {"applied"}
    assert cli("ingest").exit_code == 0
    details = json.loads(cli("--json", "status").stdout)["steps"][0]["details"]
    assert details["total_lag"] == 0


def test_secrets_are_scrubbed_from_output_reports_and_summaries(cli, home, tmp_path):
    """A secret value that ends up in output (here: the hub name equals the token) is masked everywhere."""
    secret = "topsecret-hub-c2VjcmV0a2V5"
    summary = tmp_path / "summary.md"
    env = {"DATABRICKS_TOKEN": secret, "EVENTHUB_NAME": secret, "GITHUB_STEP_SUMMARY": str(summary)}
    result = cli("--json", "run-all", "--count", "5", "--seed", "1", env=env)
    assert result.exit_code == 0
    assert "local/**********" in result.stderr  # the source name was shown, masked
    reports = list((home / "runs").glob("*.json"))
    assert reports
    for text in (result.stdout, result.stderr, summary.read_text(),
                 *(p.read_text() for p in reports)):
        assert secret not in text
    assert json.loads(result.stdout)["settings"]["databricks_token"] == "(set)"


def test_debug_traceback_is_scrubbed(cli):
    # The catalog name equals the token, so the error and its traceback carry the secret.
    secret = "dapi0123456789abcdef"
    result = cli("--debug", "transform", env={"DATABRICKS_TOKEN": secret, "ECOMCTL_CATALOG": secret})
    assert result.exit_code == 1
    assert "Traceback" in result.stderr and "**********.bronze.raw_events" in result.stderr
    assert secret not in result.stderr and secret not in result.stdout


def test_home_that_is_a_file_is_a_usage_error_from_the_flag_and_a_failure_from_the_environment(cli, tmp_path):
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("x")
    result = cli("--home", str(not_a_folder), "setup", use_home=False)
    assert result.exit_code == 2  # the command line is at fault
    assert result.stderr.startswith("Error: setting --home:") and "not a folder" in result.stderr
    result = cli("setup", use_home=False, env={"ECOMCTL_HOME": str(not_a_folder)})
    assert result.exit_code == 1  # the run failed on a setting
    assert result.stderr.startswith("Error: setting ECOMCTL_HOME:") and "not a folder" in result.stderr


def test_databricks_without_a_warehouse_names_the_setting(cli):
    result = cli("--target", "databricks", "setup")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: setting DATABRICKS_WAREHOUSE_ID: the databricks target "
                                    "needs a SQL warehouse")
    assert len(result.stderr.strip().splitlines()) == 1


def test_databricks_target_without_event_hubs_settings_names_them(cli):
    result = cli("--target", "databricks", "generate")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: setting EVENTHUB_CONNECTION_STRING:")
    assert "KEYVAULT_URL" in result.stderr and "EVENTHUB_NAMESPACE" in result.stderr


def test_failed_step_prints_a_failure_line(cli, home):
    cli("setup")
    (home / "landing" / "broken.json").write_text("{not json\n")
    result = cli("ingest")
    assert result.exit_code == 1
    assert "ingest: started" in result.stdout and "ingest: failed after" in result.stdout
    assert "broken.json" in result.stderr


def test_status_of_a_fresh_home_creates_nothing(cli, home):
    result = cli("status")
    assert result.exit_code == 0
    assert "not set up" in result.stdout
    assert not home.exists() or not any(home.iterdir()) or \
        {p.name for p in home.iterdir()} == {"runs"}


def test_edited_setup_file_stops_later_steps(cli, home, tmp_path, monkeypatch):
    import shutil

    from ecomctl.warehouse import sqlfiles

    root = tmp_path / "sql"
    shutil.copytree(sqlfiles.sql_root(), root)
    real_sql_root = sqlfiles.sql_root
    monkeypatch.setattr(sqlfiles, "sql_root", lambda r=None: real_sql_root(r or root))
    assert cli("setup").exit_code == 0
    v2 = root / "setup" / "V002__raw_events.sql"
    v2.write_text(v2.read_text() + "\n-- edited\n")
    result = cli("transform")
    assert result.exit_code == 1
    assert "setup/V002__raw_events.sql" in result.stderr and "edited" in result.stderr


def test_github_step_summary_is_appended(cli, tmp_path):
    summary = tmp_path / "summary.md"
    result = cli("run-all", "--count", "30", "--seed", "4", env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert result.exit_code == 0
    text = summary.read_text()
    assert text.startswith("### ecomctl run-all on local succeeded\n")
    assert "| ingest | 30 events landed |" in text and "| valid orders | 30 |" in text


def test_a_failed_runs_summary_has_a_short_heading_the_error_below_and_the_steps_that_ran(cli, home, tmp_path):
    summary = tmp_path / "summary.md"
    assert cli("setup").exit_code == 0
    (home / "landing" / "broken.json").write_text("{not json\n")
    result = cli("run-all", "--count", "5", env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert result.exit_code == 1
    heading, blank, error, *rest = summary.read_text().splitlines()
    assert heading == "### ecomctl run-all on local failed" and blank == ""
    assert error.startswith("> ") and "broken.json" in error
    table = "\n".join(rest)
    assert "| setup | setup SQL up to date |" in table and "| generate | 5 events sent |" in table
    assert "| ingest | failed |" in table

    summary.unlink()
    result = cli("run-all", env={"GITHUB_STEP_SUMMARY": str(summary), "ECOMCTL_TARGET": "nope"})
    assert result.exit_code == 1
    text = summary.read_text()
    # The target is not known: the heading does not name it, and there is no empty table.
    assert text.splitlines()[0] == "### ecomctl run-all failed" and "nope" in text.splitlines()[2]
    assert "| step |" not in text




def test_the_warehouse_file_is_named_after_the_catalog_and_an_old_home_is_renamed(cli, home):
    """DuckDB names a database after its file: `duckdb <home>/shop.duckdb` knows shop.bronze.orders,
    the name ecomctl prints. A home from before keeps warehouse.duckdb until a command writes."""
    env = {"ECOMCTL_CATALOG": "shop"}
    assert cli("run-all", "--count", "20", env=env).exit_code == 0
    assert (home / "shop.duckdb").exists() and not (home / "warehouse.duckdb").exists()
    con = duckdb.connect(str(home / "shop.duckdb"), read_only=True)
    assert con.execute("SELECT COUNT(*) FROM shop.bronze.orders").fetchone() == (20,)
    con.close()

    (home / "shop.duckdb").rename(home / "warehouse.duckdb")
    assert cli("ingest", env=env).exit_code == 0
    assert (home / "shop.duckdb").exists() and not (home / "warehouse.duckdb").exists()
    con = duckdb.connect(str(home / "shop.duckdb"), read_only=True)
    assert con.execute("SELECT COUNT(*) FROM shop.bronze.orders").fetchone() == (20,)
    con.close()


def test_each_step_names_the_step_to_run_before_it(cli):
    assert cli("setup").exit_code == 0
    for command, first in (("transform", "ingest"), ("views", "transform"), ("dashboards", "views")):
        result = cli(command)
        assert result.exit_code == 1 and f"run `ecomctl {first}` first" in result.output, result.output
    assert cli("ingest").exit_code == 0
    assert "run `ecomctl transform` first" in cli("views").output




# -- what the output says ----------------------------------------------------------------------

def test_each_step_says_what_it_did_in_its_own_unit_never_rows_of_tables_added(cli, tmp_path):
    """300 events used to finish ingest with "910 rows": raw_events + received_events + orders +
    products + rejected_events added together. Each table keeps its own count; a step's line and
    the summaries say one figure with its unit."""
    summary = tmp_path / "summary.md"
    result = cli("run-all", "--count", "300", "--seed", "4", env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert result.exit_code == 0
    out = result.stdout
    for step, said in (("setup", "4 setup files applied"), ("generate", "300 events sent"),
                       ("ingest", "300 events landed"), ("transform", "7 tables built"),
                       ("views", "8 views built"), ("dashboards", "10 queries run")):
        assert re.search(rf"^{step}: finished in \d+\.\d\ds \({said}\)$", out, re.M), step
        assert re.search(rf"^│ {step} +│ {said} +│ +\d+\.\d\d │$", out, re.M), step  # the summary
        assert f"| {step} | {said} | " in summary.read_text()
    assert not re.search(r"\d rows\b", out) and "910" not in out
    assert re.search(r"^│ ecommerce\.bronze\.products +│ merge +│ +10 │", out, re.M)


def test_counts_have_separators_and_their_words_agree_with_them(cli):
    assert cli("setup").exit_code == 0
    one = cli("generate", "--count", "1")
    assert re.search(r"^sent 1 event in 1 batch \([\d,]+ bytes, ", one.stdout, re.M), one.stdout
    assert "(1 event sent)" in one.stdout
    many = cli("generate", "--count", "2500", "--seed", "1")
    assert re.search(r"^sent 2,500 events in \d batches \(1,\d{3},\d{3} bytes, ", many.stdout, re.M)
    assert "(2,500 events sent)" in many.stdout


def test_status_shows_empty_partitions_as_a_dash_and_has_no_empty_column(cli):
    assert cli("setup").exit_code == 0
    Path("one.jsonl").write_text(json.dumps({"customer_id": "C1"}) + "\n")
    assert cli("send", "one.jsonl").exit_code == 0
    result = cli("status")
    assert result.exit_code == 0
    table = result.stdout.split("partitions of local/orders", 1)[1].split("└", 1)[0]
    rows = [[cell.strip() for cell in line.split("│")[1:-1]] for line in table.splitlines()
            if line.startswith("│")]
    assert len(rows) == 4, result.stdout
    assert "-1" not in {cell for row in rows for cell in row}
    assert sorted(r[1] for r in rows) == ["-", "-", "-", "0"]  # last enqueued: one event in one partition
    assert {r[2] for r in rows} == {"-"}                     # nothing landed yet
    assert cli("ingest").exit_code == 0
    result = cli("status")
    assert "reconciliation (all runs)" in result.stdout and "this run" not in result.stdout
    assert re.search(r"^│ landed in raw_events +│ +1 │$", result.stdout, re.M)


@pytest.mark.slow
def test_without_a_terminal_every_table_fits_80_columns(home):
    """A log or a cron mail has no width: the tables fit 80 columns, as the README says, the top
    cities and their bars included."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("ECOMCTL_") and k not in ("COLUMNS", "NO_COLOR", "FORCE_COLOR")}
    for args in (["run-all", "--count", "300", "--seed", "6"], ["status"], ["dashboards"]):
        result = subprocess.run([sys.executable, "-m", "ecomctl", "--home", str(home), *args],
                                capture_output=True, text=True, env=env, timeout=300)
        assert result.returncode == 0, result.stderr
        table_lines = [line for line in result.stdout.splitlines() if set(line) & set("│┃┏┗└┡")]
        assert table_lines, args
        assert max(len(line) for line in table_lines) <= 80, (args, max(table_lines, key=len))
    assert "top cities by net revenue" in result.stdout


def test_status_shows_what_each_part_of_the_home_takes_on_disk(cli, home):
    assert cli("run-all", "--count", "200", "--seed", "3").exit_code == 0
    result = cli("--json", "status")
    assert result.exit_code == 0
    disk = {p["part"]: p for p in json.loads(result.stdout)["steps"][0]["details"]["disk"]}
    assert list(disk) == ["event log", "warehouse", "landing files", "dashboards", "run reports"]

    def on_disk(*paths: Path) -> tuple[int, int]:
        files = [f for p in paths for f in ([p] if p.is_file() else p.rglob("*")) if f.is_file()]
        return len(files), sum(f.stat().st_blocks * 512 for f in files)

    # Counted as du counts them, from the same files the test finds itself.
    assert (disk["landing files"]["files"], disk["landing files"]["bytes"]) == on_disk(home / "landing")
    assert (disk["dashboards"]["files"], disk["dashboards"]["bytes"]) == on_disk(home / "dashboards")
    assert disk["warehouse"]["bytes"] >= (home / "ecommerce.duckdb").stat().st_blocks * 512 > 0
    assert disk["event log"]["bytes"] >= (home / "eventhub.db").stat().st_blocks * 512 > 0
    assert disk["run reports"]["files"] == 1  # run-all's; status writes its own after counting
    shown = result.stderr
    assert f"disk use of {home.relative_to(Path.cwd())}" in shown  # under the current folder
    assert re.search(r"^│ event log +│ eventhub\.db\* +│ +\d+ │ +[\d.]+ (kB|MB) │$", shown, re.M)
    assert re.search(r"^│ total +│ +│ +\d+ │ +[\d.]+ (kB|MB) │$", shown, re.M)


def test_run_all_ends_with_the_paths_of_its_dashboard_and_run_report(cli, home):
    result = cli("run-all", "--count", "20", "--seed", "2")
    assert result.exit_code == 0
    assert result.stdout.rstrip().splitlines()[-1] == f"dashboard: {home / 'dashboards' / 'index.html'}"
    (report,) = (home / "runs").glob("*_run-all.json")
    assert result.stderr.splitlines() == [f"run report: {report}"]
    assert json.loads(report.read_text())["command"] == "run-all"
    failed = cli("--home", str(home / "fresh"), "transform", use_home=False)
    assert failed.exit_code == 1
    assert len(failed.stderr.strip().splitlines()) == 1  # a failure is still one line
