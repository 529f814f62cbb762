"""`views` and `dashboards` on the databricks target, offline, through the real code path: the CLI, the
Pipeline, make_warehouse's DatabricksWarehouse and LiveSession with its real SDK Config and
WorkspaceClient, against tests/fake_workspace.py (warehouses, Lakeview, queries, Genie over HTTP).
Only the SQL is replaced, at LiveSession.execute (the connector's Thrift protocol has no local
stand-in): a script answers each statement, keeps the materialized-view checksums the warehouse
writes, and answers the dashboard queries with the rows the local target computes for the same
events, so both targets' summaries can be compared."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from fake_workspace import FakeWorkspace

from ecomctl.builds import LAYERS, checksum
from ecomctl.config import Settings
from ecomctl.dashboards.definitions import load_queries
from ecomctl.dashboards.publish import SUMMARY_QUERIES
from ecomctl.pipeline import Pipeline
from ecomctl.targets import make_target
from ecomctl.warehouse.base import single_statement
from ecomctl.warehouse.databricks.access import HTTP_TIMEOUT_SECONDS, RETRY_TIMEOUT_SECONDS
from ecomctl.warehouse.databricks.session import LiveSession, Outcome
from ecomctl.warehouse.sqlfiles import load_step, render
from ecomctl.warehouse.statements import derived_objects

pytest.importorskip("databricks.sdk")
TOKEN = "dapi-e2e-0123456789abcdef"
FOLDER = "/Shared/ecomctl-e2e"
SQL_ROOT = Path(__file__).resolve().parents[1] / "sql"


@pytest.fixture(scope="module")
def local_results(tmp_path_factory):
    """The local target's run-all on 300 events: its dashboards step and the rows of the summary
    queries, as DuckDB computes them from the same SQL files."""
    folder = tmp_path_factory.mktemp("local")
    (folder / ".env").write_text("")  # module scope runs before conftest moves to an empty folder
    settings = Settings.load({"target": "local", "home": folder / "home"}, environ={}, env_file=folder / ".env")
    with Pipeline(settings) as pipeline:
        steps, _ = pipeline.run_all(count=300, seed=7)
        rows = {q.name: pipeline.warehouse.query(q.sql) for q in load_queries(SQL_ROOT)
                if q.name in SUMMARY_QUERIES}
    return steps[-1], rows


class SqlScript:
    """What the warehouse answers, statement by statement, with the state a workspace would keep."""

    MERGE = re.compile(r"SELECT '(?P<name>[^']+)' AS (?:name|layer), '(?P<checksum>[0-9a-f]+)' AS checksum")

    def __init__(self, settings: Settings, summary_rows: dict) -> None:
        names = make_target(settings).names
        self.sent: list[str] = []
        self.checksums: dict[str, str] = {}
        self.history = [(f.version, f.name, f.checksum, None) for f in load_step("setup", SQL_ROOT)]
        # A workspace where every step ran with these SQL files: their tables and views exist and
        # each layer's build record matches (the materialized views' own records start empty).
        warehouse = SimpleNamespace(names=names)
        self.tables = {fqn for layer in LAYERS for fqn in derived_objects(warehouse, load_step(layer, SQL_ROOT))}
        self.checksums.update({layer: checksum(load_step(layer, SQL_ROOT)) for layer in LAYERS})
        # The exact text DatabricksWarehouse.query sends for each summary query.
        self.summary = {single_statement(render(q.sql, names.as_mapping(), q.name), q.name)[0]: summary_rows[q.name]
                        for q in load_queries(SQL_ROOT) if q.name in SUMMARY_QUERIES}

    def execute(self, session: LiveSession, text: str) -> Outcome:
        self.sent.append(text)
        if text in self.summary:
            result = self.summary[text]
            return Outcome(list(result.columns), list(result.rows))
        if text.startswith("SELECT COUNT(*) AS row_count FROM"):
            return Outcome(["row_count"], [(300,)])
        if text.startswith("SELECT version, file, checksum, applied_at"):
            return Outcome(["version", "file", "checksum", "applied_at"], self.history)
        if text.startswith("SELECT checksum FROM"):
            name = text.rsplit("'", 2)[1]
            return Outcome(["checksum"], [(self.checksums[name],)] if name in self.checksums else [])
        if text.startswith("CREATE MATERIALIZED VIEW"):
            self.tables.add(text.split()[3].lower())
        if "information_schema.tables" in text:
            schema = text.rsplit("'", 2)[1]
            return Outcome(["table_name"], [(fqn.split(".")[2],) for fqn in sorted(self.tables)
                                            if fqn.split(".")[1] == schema])
        if text.startswith("MERGE INTO") and ("_materialized_views" in text or "layer_builds" in text):
            found = self.MERGE.search(text)
            self.checksums[found["name"]] = found["checksum"]
            return Outcome(["num_affected_rows"], [(1,)])
        if text.startswith(("SELECT", "WITH")):
            raise AssertionError(f"the script has no answer for {text[:120]!r}")
        return Outcome()


@pytest.fixture
def workspace():
    with FakeWorkspace() as fake:
        yield fake


@pytest.fixture
def env(workspace) -> dict[str, str]:
    return {"DATABRICKS_HOST": workspace.host, "DATABRICKS_TOKEN": TOKEN, "DATABRICKS_WAREHOUSE_ID": "wh1",
            "ECOMCTL_WORKSPACE_FOLDER": FOLDER, "NO_COLOR": "1"}


@pytest.fixture
def script(monkeypatch, home, env, local_results) -> SqlScript:
    settings = Settings.load({"target": "databricks", "home": home}, environ=env)
    sql = SqlScript(settings, local_results[1])
    monkeypatch.setattr(LiveSession, "execute", lambda session, text: sql.execute(session, text))
    return sql


def _report(result) -> dict:
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def _calls(workspace: FakeWorkspace) -> list[str]:
    calls = [r.line for r in workspace.api_requests()]
    workspace.clear_requests()
    return calls


def test_views_and_dashboards_create_then_update_in_place(cli, home, env, workspace, script, local_results, caplog):
    caplog.set_level(logging.DEBUG)
    state = workspace.state
    runs = []
    for _ in range(2):
        views = _report(cli("--target", "databricks", "--json", "views", env=env))
        dashboards = _report(cli("--target", "databricks", "--json", "dashboards", env=env))
        runs.append((views["steps"][0], dashboards["steps"][0], _calls(workspace)))
    (views1, dash1, calls1), (views2, dash2, calls2) = runs

    # views: eight materialized views created, then refreshed (their definitions did not change).
    assert [o["action"] for o in views1["objects"]] == ["create view"] * 8
    assert [o["action"] for o in views2["objects"]] == ["refresh view"] * 8
    assert sum(s.startswith("REFRESH MATERIALIZED VIEW") for s in script.sent) == 8

    # dashboards: created on the first run...
    assert calls1.count("POST /api/2.0/lakeview/dashboards") == 1
    assert calls1.count("POST /api/2.0/sql/queries") == 10
    assert calls1.count("POST /api/2.0/genie/spaces") == 5
    assert len(state.dashboards) == 1 and len(state.queries) == 10 and len(state.spaces) == 5
    [dashboard_id] = state.dashboards
    assert state.published == {dashboard_id: {"embed_credentials": True, "warehouse_id": "wh1"}}
    assert all(q["warehouse_id"] == "wh1" and q["parent_path"] == FOLDER for q in state.queries.values())
    assert all(s["warehouse_id"] == "wh1" and s["parent_path"] == FOLDER for s in state.spaces.values())
    # ...updated in place on the second.
    assert not [c for c in calls2 if c in ("POST /api/2.0/lakeview/dashboards", "POST /api/2.0/sql/queries",
                                           "POST /api/2.0/genie/spaces")]
    assert calls2.count(f"PATCH /api/2.0/lakeview/dashboards/{dashboard_id}") == 1
    assert sum(c.startswith("PATCH /api/2.0/sql/queries/") for c in calls2) == 10
    assert sum(c.startswith("PATCH /api/2.0/genie/spaces/") for c in calls2) == 5
    assert len(state.dashboards) == 1 and len(state.queries) == 10 and len(state.spaces) == 5
    assert dash2["details"]["dashboard"]["id"] == dash1["details"]["dashboard"]["id"] == dashboard_id
    assert dash1["details"]["warehouse_id"] == "wh1"
    assert dash1["details"]["dashboard"]["url"] == f"{workspace.host}/dashboardsv3/{dashboard_id}/published"

    # The warehouse state is read once per command, before its first statement.
    for calls in (calls1, calls2):
        assert calls.count("GET /api/2.0/sql/warehouses/wh1") == 2

    # The summary the local target shows, from the same rows.
    local_dashboards = local_results[0]
    assert dash1["details"]["key_figures"] == local_dashboards.details["key_figures"]
    for title in ("key figures", "top brands by net revenue", "top cities by net revenue"):
        assert dash1["tables"][title] == json.loads(json.dumps(local_dashboards.tables[title], default=str)), title
    assert dash1["charts"] == local_dashboards.charts
    assert [o["object"] for o in dash1["objects"][-3:]] == [f"query {n}" for n in SUMMARY_QUERIES]

    assert not [r for r in caplog.records if "host metadata" in r.getMessage()]


def test_the_dashboards_summary_is_printed_and_no_token_or_warning_appears(cli, home, env, workspace, script,
                                                                          local_results):
    result = cli("--target", "databricks", "dashboards", env=env)
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    for title in ("published to Databricks", "key figures", "top brands by net revenue", "top cities by net revenue"):
        assert title in out, title
    lines = out.splitlines()
    for label, value in local_results[0].details["key_figures"].items():
        assert any(label in line and value in line for line in lines), (label, value)
    assert any("█" in line for line in lines)  # the bars
    assert "host metadata" not in out + result.stderr
    assert TOKEN not in out + result.stderr
    reports = list((home / "runs").glob("*.json"))
    assert reports and all(TOKEN not in p.read_text() for p in reports)
    auth = {r.headers.get("Authorization") for r in workspace.api_requests()}
    assert auth == {f"Bearer {TOKEN}"}


def test_the_pipeline_publishes_with_the_warehouses_own_client(monkeypatch, home, env, workspace, script):
    """Not a second client with default (300 s) retries: the one the warehouse built from its Config."""
    from ecomctl.dashboards import databricks

    clients = []
    live = databricks.DashboardApi.live

    def spy(client, settings):
        clients.append(client)
        return live(client, settings)

    monkeypatch.setattr(databricks.DashboardApi, "live", staticmethod(spy))
    settings = Settings.load({"target": "databricks", "home": home}, environ=env)
    with Pipeline(settings) as pipeline:
        step = pipeline.dashboards()
        session = pipeline.warehouse.session
        assert clients == [session.workspace_client]
        config = clients[0].config
        assert (config.retry_timeout_seconds, config.http_timeout_seconds) == (RETRY_TIMEOUT_SECONDS,
                                                                              HTTP_TIMEOUT_SECONDS)
        assert config.authenticate() == session.config.authenticate()
    assert step.details["warehouse_id"] == "wh1"
    assert {r.headers.get("Authorization") for r in workspace.api_requests()} == {f"Bearer {TOKEN}"}


def test_the_sdk_host_metadata_warning_is_dropped(workspace, caplog, capfd):
    """The fake workspace has no /.well-known/databricks-config, so the SDK warns that it falls
    back to the given configuration; that is the configuration ecomctl means, so nothing is shown."""
    from ecomctl.config import Secret
    from ecomctl.warehouse.databricks import DatabricksAccess

    caplog.set_level(logging.DEBUG)
    session = LiveSession(DatabricksAccess(host=workspace.host, token=Secret(TOKEN), warehouse_id="wh1",
                                           http_path="/sql/1.0/warehouses/wh1"))
    session.ensure_running()
    assert "GET /.well-known/databricks-config" in [r.line for r in workspace.state.requests]
    assert not [r for r in caplog.records if "host metadata" in r.getMessage()]
    captured = capfd.readouterr()
    assert "host metadata" not in captured.err + captured.out


def test_a_dry_run_plans_the_summary_queries_and_shows_no_figures(cli):
    result = cli("--target", "databricks", "--json", "dashboards", "--dry-run")
    report = _report(result)
    dashboards = [e for e in report["plan"] if e["step"] == "dashboards"]
    assert [e["kind"] for e in dashboards[-3:]] == ["sql"] * 3
    names = make_target(Settings.load({"target": "databricks"}, environ={})).names
    expected = [single_statement(render(q.sql, names.as_mapping(), q.name), q.name)[0]
                for q in load_queries(SQL_ROOT) if q.name in SUMMARY_QUERIES]
    assert [e["text"] for e in dashboards[-3:]] == expected
    assert max(i for i, e in enumerate(dashboards) if e["kind"] == "api") < len(dashboards) - 3  # after publishing
    [step] = report["steps"]
    assert step["tables"].keys() == {"published to Databricks"} and not step["charts"]
    assert "key_figures" not in step["details"]
    assert "key figures" not in result.stderr and "top brands" not in result.stderr
