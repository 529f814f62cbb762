"""--dry-run: the plan of every command, on both targets, with no credentials and no connection."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import sqlglot
from sqlglot import exp

from ecomctl.config import Settings
from ecomctl.errors import ConfigError
from ecomctl.pipeline import Pipeline
from ecomctl.plan import Plan
from ecomctl.warehouse.sqlfiles import load_step, split_statements, sql_root

TOKEN = "dapi0123456789abcdef"
# Statements sqlglot keeps as a Command (it parses them, without a tree): Unity Catalog DDL it lacks.
COMMAND_HEADS = ("CREATE VOLUME", "CREATE CATALOG", "ALTER MATERIALIZED VIEW")


def _plan(target: str, home: Path, steps, **env: str) -> Plan:
    settings = Settings.load({"target": target, "home": home}, environ=env)
    plan = Plan()
    with Pipeline(settings, plan=plan) as pipeline:
        for step in steps:
            step(pipeline)
    return plan


def _up_to_views(count: int = 300):
    return [lambda p: p.setup(), lambda p: p.generate(count, 7), lambda p: p.ingest(),
            lambda p: p.transform(), lambda p: p.views()]


def _parses_as_databricks(text: str) -> None:
    tree = sqlglot.parse_one(text, read="databricks")
    if isinstance(tree, exp.Command):
        assert text.upper().startswith(COMMAND_HEADS), f"only parsed as a Command: {text[:80]}"


def test_databricks_plan_without_credentials(home):
    plan = _plan("databricks", home, _up_to_views())
    kinds = [(e.step, e.kind) for e in plan.entries]
    # setup: warehouse state, catalog check, hub check, bookkeeping (meta schema, history table, its row count), then each setup file's
    # statements and one history record per file
    setup_files = load_step("setup", sql_root())
    statements = sum(len(split_statements(f.text, f.name)) for f in setup_files)
    setup = [e for e in plan.entries if e.step == "setup"]
    assert [e.kind for e in setup] == ["api", "sql", "check", "api"] + ["sql"] * (3 + statements + len(setup_files))
    assert setup[0].text.startswith("GET /api/2.0/sql/warehouses/<DATABRICKS_WAREHOUSE_ID>")
    assert setup[1].text == ("SELECT catalog_name FROM system.information_schema.catalogs "
                             "WHERE catalog_name = 'ecommerce'")
    assert setup[3].text == "check that <EVENTHUB_NAMESPACE>/orders is reachable (read its partitions)"
    assert sum(e.text.startswith("INSERT INTO ecommerce.ecomctl_meta.schema_history") for e in setup) == len(setup_files)
    assert ("generate", "send") in kinds and ("ingest", "receive") in kinds
    ingest = [e for e in plan.entries if e.step == "ingest"]
    # After the round of read, write, upload and COPY INTO: one "api" entry for removing the
    # loaded landing files past the retention from the Volume (listing it, deleting through the
    # Files API), however many files there are; then bronze.
    assert [e.kind for e in ingest] == ["check", "sql", "sql", "sql", "sql", "receive", "write", "upload",
                                        "sql", "check", "api"] + ["sql"] * 13
    assert ingest[10].text.startswith("remove the landing files older than 24 hours whose rows are loaded")
    assert "GET /api/2.0/fs/directories/Volumes/ecommerce/bronze/landing/" in ingest[10].text
    assert "DELETE /api/2.0/fs/files/Volumes/ecommerce/bronze/landing/<name>" in ingest[10].text
    # Whether bronze was built by these files (its record, else whether its tables exist), the
    # incremental bronze (the new events appended, then a merge per table), then the record.
    bronze = [e.text.split("\n")[0] for e in ingest[11:]]
    assert bronze[0] == "CREATE TABLE IF NOT EXISTS ecommerce.ecomctl_meta.layer_builds ("
    assert bronze[1] == "SELECT checksum FROM ecommerce.ecomctl_meta.layer_builds WHERE layer = 'bronze'"
    assert bronze[2].startswith("SELECT table_name FROM `ecommerce`.information_schema.tables")
    assert [b for b in bronze if b.startswith(("INSERT", "MERGE"))] == [
        "INSERT INTO ecommerce.bronze.received_events", "MERGE INTO ecommerce.bronze.products AS t",
        "MERGE INTO ecommerce.bronze.orders AS t", "MERGE INTO ecommerce.bronze.rejected_events AS t",
        "MERGE INTO ecommerce.ecomctl_meta.layer_builds AS t"]
    copies = [e for e in ingest if e.text.startswith("COPY INTO ecommerce.bronze.raw_events")]
    assert len(copies) == 2  # files an interrupted run left, then the new ones
    upload = next(e for e in ingest if e.kind == "upload")
    assert upload.text.startswith("PUT /api/2.0/fs/files/Volumes/ecommerce/bronze/landing/")
    assert ingest.index(upload) < ingest.index(copies[1])
    views = [e for e in plan.entries if e.step == "views" and e.kind == "sql"]
    assert sum(e.text.startswith("CREATE MATERIALIZED VIEW ecommerce.gold.mv_") for e in views) == 8
    assert sum(e.text.startswith("DROP MATERIALIZED VIEW IF EXISTS") for e in views) == 8
    # check, 2 queries; per layer: its build record and (none yet) its tables, its statements
    # (silver: 2 tables if missing, the changed orders, the merge, the product snapshot; gold: 4
    # tables), the record (the table of build records was created by ingest earlier in the plan);
    # before them, the check that bronze is built (a listing of its schema)
    assert Counter(e.step for e in plan.entries)["transform"] == 3 + 2 + 2 + 5 + 1 + 2 + 4 + 1
    assert [e.number for e in plan.entries] == list(range(1, len(plan.entries) + 1))


def test_every_databricks_statement_of_the_plan_parses_as_databricks_sql(home):
    plan = _plan("databricks", home, _up_to_views() + [lambda p: p.status()],
                 ECOMCTL_MV_SCHEDULE="EVERY 1 HOUR")
    statements = plan.of_kind("sql")
    assert len(statements) > 60
    for entry in statements:
        _parses_as_databricks(entry.text)
    assert any(e.text.startswith("ALTER MATERIALIZED VIEW") for e in statements)


def test_the_plan_does_not_grow_with_the_events(home):
    small = _plan("databricks", home, _up_to_views(10))
    large = _plan("databricks", home, _up_to_views(1_000_000))
    assert len(small.entries) == len(large.entries)
    assert "send 1,000,000 order events (seed 7)" in large.of_kind("send")[0].text


def test_create_catalog_is_planned_when_asked(home):
    plan = _plan("databricks", home, [lambda p: p.setup(create_catalog=True)])
    assert plan.entries[1].text.startswith("CREATE CATALOG IF NOT EXISTS ecommerce\nCOMMENT")
    assert not any(e.kind == "check" for e in plan.entries)


def test_create_catalog_plans_its_managed_location(home):
    location = "abfss://data@shopstore.dfs.core.windows.net/ecomctl"
    plan = _plan("databricks", home, [lambda p: p.setup(create_catalog=True)],
                 ECOMCTL_CATALOG_MANAGED_LOCATION=location)
    assert plan.entries[1].text.startswith(f"CREATE CATALOG IF NOT EXISTS ecommerce\nMANAGED LOCATION "
                                           f"'{location}'\nCOMMENT")
    _parses_as_databricks(plan.entries[1].text)


@pytest.mark.parametrize("target", ["databricks", "local"])
def test_the_plan_removes_loaded_landing_files_in_one_entry_or_none_with_retention_0(home, target):
    kind = {"databricks": "api", "local": "write"}[target]
    plan = _plan(target, home, [lambda p: p.ingest()], ECOMCTL_LANDING_RETENTION_HOURS="1")
    (removal,) = [e for e in plan.entries if e.text.startswith("remove the landing files")]
    assert removal.kind == kind
    assert removal.text.startswith("remove the landing files older than 1 hour whose rows are loaded")
    assert "raw_events.landing_file" in removal.text
    if target == "local":
        assert f"list {home / 'landing'} and delete each such file there" in removal.text
    kept = _plan(target, home, [lambda p: p.ingest()], ECOMCTL_LANDING_RETENTION_HOURS="0")
    assert len(kept.entries) == len(plan.entries) - 1
    assert not any(e.text.startswith("remove the landing files") for e in kept.entries)


def test_the_plan_says_how_a_landing_file_is_uploaded(home):
    plan = _plan("databricks", home, [lambda p: p.ingest()])
    (upload,) = plan.of_kind("upload")
    assert "when it is under 50 MiB; from 50 MiB a multipart upload instead" in upload.text
    assert "?action=initiate-upload" in upload.text and "?action=complete-upload" in upload.text


def test_the_plan_names_the_configured_warehouse_and_hub(home):
    plan = _plan("databricks", home, [lambda p: p.setup()], DATABRICKS_WAREHOUSE_ID="abc123",
                 EVENTHUB_NAMESPACE="shop.servicebus.windows.net", ECOMCTL_CATALOG="shop")
    assert plan.entries[0].text.startswith("GET /api/2.0/sql/warehouses/abc123:")
    assert "shop.servicebus.windows.net/orders" in plan.entries[3].text
    assert "CREATE SCHEMA IF NOT EXISTS shop.bronze" in [e.text.split("\n")[0] for e in plan.entries]


def test_kafka_ingest_plan_reads_the_secret_on_the_server(home):
    plan = _plan("databricks", home, [lambda p: p.ingest("kafka")],
                 EVENTHUB_NAMESPACE="shop.servicebus.windows.net",
                 ECOMCTL_KAFKA_SECRET_SCOPE="ecomctl", ECOMCTL_KAFKA_SECRET_KEY="eventhub-conn")
    statements = [e.text for e in plan.of_kind("sql")]
    stream = next(s for s in statements if s.startswith("CREATE OR REFRESH STREAMING TABLE"))
    assert "bootstrapServers => 'shop.servicebus.windows.net:9093'" in stream
    assert "secret('ecomctl', 'eventhub-conn')" in stream
    # between them, the query of the offset check (tests/test_kafka_ingest.py)
    merge = statements[statements.index(stream) + 2]
    assert merge.startswith("MERGE INTO ecommerce.bronze.raw_events AS r")
    assert "'shop.servicebus.windows.net/orders' AS source" in merge
    # Then the same incremental bronze as client mode: the append, then a merge per table.
    bronze = [s.split("\n")[0] for s in statements
              if s.startswith(("INSERT INTO ecommerce.bronze", "MERGE INTO ecommerce.bronze"))]
    assert bronze[-4:] == ["INSERT INTO ecommerce.bronze.received_events", "MERGE INTO ecommerce.bronze.products AS t",
                           "MERGE INTO ecommerce.bronze.orders AS t", "MERGE INTO ecommerce.bronze.rejected_events AS t"]
    assert not any(s.startswith("COPY INTO") for s in statements)
    for text in statements:
        _parses_as_databricks(text)


def test_kafka_ingest_needs_its_secret_settings_before_connecting(home):
    settings = Settings.load({"target": "databricks", "home": home}, environ={
        "EVENTHUB_NAMESPACE": "shop.servicebus.windows.net", "DATABRICKS_WAREHOUSE_ID": "abc123",
        "DATABRICKS_HOST": "https://nonexistent.invalid"})
    with Pipeline(settings) as pipeline, pytest.raises(ConfigError, match="setting ECOMCTL_KAFKA_SECRET_SCOPE") as caught:
        pipeline.ingest("kafka")
    assert "ECOMCTL_KAFKA_SERVICE_CREDENTIAL" in str(caught.value)  # the other way, named too


@pytest.mark.parametrize("name", ["a'b", "eh reader", "x);--"])
def test_kafka_names_are_checked_before_they_reach_sql(home, name):
    for setting in ("ECOMCTL_KAFKA_SERVICE_CREDENTIAL", "ECOMCTL_KAFKA_SECRET_SCOPE"):
        env = {"EVENTHUB_NAMESPACE": "shop.servicebus.windows.net", "ECOMCTL_KAFKA_SECRET_KEY": "k", setting: name}
        with pytest.raises(ConfigError, match=f"setting {setting}: .* is not a"):
            _plan("databricks", home, [lambda p: p.ingest("kafka")], **env)


def test_a_service_credential_replaces_the_secret_in_the_kafka_plan(home):
    plan = _plan("databricks", home, [lambda p: p.ingest("kafka")],
                 EVENTHUB_NAMESPACE="shop.servicebus.windows.net",
                 ECOMCTL_KAFKA_SERVICE_CREDENTIAL="eventhubs-reader",
                 ECOMCTL_KAFKA_SECRET_SCOPE="ecomctl", ECOMCTL_KAFKA_SECRET_KEY="eventhub-conn")
    stream = next(e.text for e in plan.of_kind("sql") if e.text.startswith("CREATE OR REFRESH STREAMING"))
    assert stream.endswith("startingOffsets => 'earliest',\n  `databricks.serviceCredential` => 'eventhubs-reader'\n)")
    _parses_as_databricks(stream)


def test_the_kafka_plan_does_not_depend_on_the_hub(home):
    """It reads the partitions before and after the refresh and checks them: one entry each, whatever
    the hub holds (a plan knows no partitions)."""
    plan = _plan("databricks", home, [lambda p: p.ingest("kafka")])
    kinds = [e.kind for e in plan.entries]
    # ... then bronze: its build record, whether its tables exist, its 9 statements, the record
    assert kinds == ["check", "api", "sql", "sql", "api", "sql", "check", "sql", "api", "sql"] + ["sql"] * 13


def test_kafka_dry_run_without_settings_names_them(home):
    plan = _plan("databricks", home, [lambda p: p.ingest("kafka")])
    stream = next(e.text for e in plan.of_kind("sql") if e.text.startswith("CREATE OR REFRESH STREAMING"))
    assert "bootstrapServers => '<EVENTHUB_NAMESPACE>:9093'" in stream
    assert "secret('<ECOMCTL_KAFKA_SECRET_SCOPE>', '<ECOMCTL_KAFKA_SECRET_KEY>')" in stream


def test_local_dry_run_prints_the_sql_and_creates_nothing(cli, home):
    result = cli("--json", "run-all", "--seed", "7", "--dry-run")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] and report["reconciliation"] is None
    plan = report["plan"]
    assert plan[0] == {"number": 1, "step": "setup", "kind": "api",
                       "text": "check that local/orders is reachable (read its partitions)"}
    assert [e["step"] for e in plan][-1] == "dashboards"
    assert plan[-1]["kind"] == "write" and plan[-1]["text"].endswith("index.html: the HTML dashboard "
                                                                      "of the ten queries")
    assert "dry run:" in result.stderr and "[setup] sql:" in result.stderr
    assert not (home / "ecommerce.duckdb").exists() and not (home / "eventhub.db").exists()
    assert not (home / "landing").exists()
    for entry in plan:
        if entry["kind"] == "sql":
            _parses_as_databricks(entry["text"])


def test_every_command_takes_dry_run(cli, home):
    for command in ("setup", "generate", "ingest", "transform", "views", "dashboards", "status"):
        result = cli(command, "--dry-run")
        assert result.exit_code == 0, (command, result.stderr)
        assert "dry run:" in result.stdout
    assert not (home / "ecommerce.duckdb").exists()


@pytest.mark.parametrize("target", ["local", "databricks"])
def test_send_dry_run_plans_the_send_and_reads_nothing(cli, home, tmp_path, target):
    from typer.testing import CliRunner

    from ecomctl.cli.main import app

    lines = tmp_path / "replay.jsonl"
    lines.write_text('{"customer_id": "C1"}\nnot json\n')
    result = cli("--target", target, "--json", "send", str(lines), "--dry-run")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert [e["kind"] for e in report["plan"]] == ["send"]
    assert f"each line of {lines}" in report["plan"][0]["text"]
    assert report["steps"][0]["details"]["events"] == 0
    assert not (home / "eventhub.db").exists() and not (home / "ecommerce.duckdb").exists()
    # standard input is left unread
    stdin = CliRunner().invoke(app, ["--home", str(home), "--target", target, "send", "-", "--dry-run"],
                               input='{"n": 1}\n')
    assert stdin.exit_code == 0 and "each line of <stdin>" in stdin.stdout


def test_kafka_mode_on_the_local_target_is_a_usage_error(cli):
    result = cli("ingest", "--mode", "kafka")
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: ingest --mode kafka needs a warehouse that hosts streaming "
                                    "tables (the databricks target)")


def test_databricks_run_all_dry_run_on_the_command_line(cli):
    pytest.importorskip("ecomctl.dashboards.databricks")  # the dashboards step of the databricks target
    result = cli("--target", "databricks", "--json", "run-all", "--dry-run")
    assert result.exit_code == 0, result.stderr
    plan = json.loads(result.stdout)["plan"]
    assert list(dict.fromkeys(e["step"] for e in plan)) == [
        "setup", "generate", "ingest", "transform", "views", "dashboards"]
    assert any(e["step"] == "dashboards" and e["kind"] == "api" for e in plan)
    for entry in plan:
        if entry["kind"] == "sql":
            _parses_as_databricks(entry["text"])


@pytest.mark.slow
def test_unreachable_workspace_fails_in_seconds_with_one_clean_line(tmp_path):
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ECOMCTL_", "DATABRICKS_", "EVENTHUB_", "KEYVAULT_", "AZURE_"))}
    env.update(DATABRICKS_HOST="https://nonexistent.invalid", DATABRICKS_TOKEN=TOKEN,
               DATABRICKS_WAREHOUSE_ID="abc123", NO_COLOR="1")
    for debug in ([], ["--debug"]):
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "ecomctl", "--home", str(home), "--target",
                               "databricks", *debug, "setup"], env=env, capture_output=True, text=True,
                              timeout=60, cwd=tmp_path)
        assert time.perf_counter() - started < 30
        assert done.returncode == 1
        assert TOKEN not in done.stdout + done.stderr
        if not debug:
            assert done.stderr.strip().splitlines() == [
                "Error: the Databricks workspace https://nonexistent.invalid does not resolve (unknown "
                "host name) (check DATABRICKS_HOST and the network)"]
    written = [p for p in home.rglob("*") if p.is_file()]
    assert written  # the run reports
    for path in written:
        assert TOKEN not in path.read_text(encoding="utf-8", errors="replace")


@pytest.mark.parametrize("env", [
    {"EVENTHUB_CONNECTION_STRING": "Endpoint=sb://MyNs.servicebus.windows.net/;SharedAccessKeyName=k;"
                                   "SharedAccessKey=c2VjcmV0;EntityPath=clicks"},
    {"EVENTHUB_NAMESPACE": "myns"},
    {"EVENTHUB_NAMESPACE": "sb://myns.servicebus.windows.net/", "EVENTHUB_NAME": "orders2"},
])
def test_kafka_mode_names_the_same_source_as_the_event_hubs_transport(home, env):
    # Checkpoints and the transport dedupe key on source: both ingest modes must write the same one.
    from ecomctl.targets import make_target

    settings = Settings.load({"target": "databricks", "home": home}, environ={
        **env, "ECOMCTL_KAFKA_SECRET_SCOPE": "ecomctl", "ECOMCTL_KAFKA_SECRET_KEY": "eventhubs"})
    transport = make_target(settings).transport()
    try:
        assert make_target(settings).kafka_names()["source"] == transport.source
        assert make_target(settings, plan=Plan()).transport().source == transport.source
    finally:
        transport.close()


def test_databricks_run_all_plan_is_printed_in_full_and_does_not_grow_with_count(cli):
    """The benchmark's figure: the statements run-all sends to Databricks, counted from the dry-run plan,
    are as many at 1,000,000 events as at 300."""
    plans = {}
    for count in ("300", "1000000"):
        result = cli("--target", "databricks", "--json", "run-all", "--dry-run", "--count", count)
        assert result.exit_code == 0, result.stderr
        plans[count] = json.loads(result.stdout)["plan"]
        kinds = Counter(e["kind"] for e in plans[count])
        head = ", ".join(f"{n} {kind}" for kind, n in kinds.items())
        assert f"dry run: {len(plans[count])} actions ({head}), nothing was sent" in result.stderr
    small, large = plans["300"], plans["1000000"]
    assert len(small) == len(large) and Counter(e["kind"] for e in small) == Counter(e["kind"] for e in large)

    def statements(plan):  # the same statements; the setup records hold the seconds each file took
        return [re.sub(r"\d+\.\d+\)$", "<seconds>)", e["text"]) for e in plan if e["kind"] == "sql"]

    assert statements(small) == statements(large)
    assert "send 1,000,000 order events" in next(e["text"] for e in large if e["kind"] == "send")

    # Without --json the whole plan goes to stdout, numbered, with the dashboard API calls; exit 0.
    result = cli("--target", "databricks", "run-all", "--dry-run", "--count", "300")
    assert result.exit_code == 0, result.stderr
    printed = [line for line in result.stdout.splitlines() if re.match(r"^\s*\d+\. \[", line)]
    assert len(printed) == len(small)
    assert [int(line.split(".")[0]) for line in printed] == list(range(1, len(small) + 1))
    dashboard_calls = [e["text"] for e in small if e["step"] == "dashboards" and e["kind"] == "api"]
    assert len(dashboard_calls) == 21  # folder, find + save + publish dashboard, list + 10 queries, list + 5 spaces
    for text in dashboard_calls:
        assert text in result.stdout
    assert "POST /api/2.0/lakeview/dashboards" in result.stdout
