"""Dashboards on Databricks, offline: the Lakeview JSON, the saved queries and the Genie payloads are
built from the repository's files as the SDK's real objects and checked for shape; publishing runs the
real WorkspaceClient against a local HTTP server standing in for the REST API; the dry run records
its calls without connecting."""

from __future__ import annotations

import json
import os
import re
import socket
from dataclasses import asdict, dataclass
from pathlib import Path
from types import SimpleNamespace

import pytest
import sqlglot
from databricks.sdk import WorkspaceClient
from databricks.sdk.service.dashboards import Dashboard, GenieSpace
from databricks.sdk.service.sql import CreateQueryRequestQuery, UpdateQueryRequestQuery
from fake_workspace import FakeWorkspace

from ecomctl.config import Settings
from ecomctl.dashboards.databricks import (
    DRY_RUN_WAREHOUSE,
    QUERY_UPDATE_MASK,
    DashboardApi,
    build_publication,
    publish_databricks,
    warehouse_id,
)
from ecomctl.dashboards.definitions import load_genie_spaces, load_queries
from ecomctl.dashboards.lakeview import GRID_COLUMNS, SPEC_VERSIONS, output_columns, render_queries
from ecomctl.errors import ConfigError, EcomctlError, SqlError
from ecomctl.results import StepResult
from ecomctl.targets import make_target

SQL_ROOT = Path(__file__).resolve().parents[1] / "sql"
TOKEN = "dapi-test-0123456789abcdef"
WAREHOUSE = "abc123def456"
# Names that differ from the defaults, so a default leaking into a payload would show.
ENV = {"DATABRICKS_WAREHOUSE_ID": WAREHOUSE, "ECOMCTL_CATALOG": "shop", "ECOMCTL_GOLD_SCHEMA": "marts",
       "ECOMCTL_SILVER_SCHEMA": "refined", "ECOMCTL_WORKSPACE_FOLDER": "/Shared/ecomctl-test"}
HEX32 = re.compile(r"^[0-9a-f]{32}$")


@dataclass
class PipelineSurface:
    """The part of ecomctl.pipeline.Pipeline that publish_databricks reads: its settings, the sql
    folder, and the warehouse's configured names (Pipeline.warehouse.names)."""

    settings: Settings
    sql_root: Path
    warehouse: SimpleNamespace


def surface(env: dict[str, str] | None = None) -> PipelineSurface:
    settings = Settings.load(environ=dict(ENV if env is None else env))
    return PipelineSurface(settings, SQL_ROOT, SimpleNamespace(names=make_target(settings).names))


@pytest.fixture
def pipeline() -> PipelineSurface:
    return surface()


@pytest.fixture
def publication(pipeline):
    return build_publication(pipeline.settings, SQL_ROOT, pipeline.warehouse.names, WAREHOUSE)


def content_of(dashboard: Dashboard) -> dict:
    return json.loads(dashboard.serialized_dashboard)


def parse_databricks(sql: str, where: str) -> sqlglot.exp.Expression:
    statements = [s for s in sqlglot.parse(sql, read="databricks") if s is not None]
    assert len(statements) == 1, f"{where}: expected one statement"
    return statements[0]


# -- the Lakeview dashboard --------------------------------------------------------------------

def test_dashboard_is_a_real_sdk_object_that_round_trips(publication):
    dashboard = publication.dashboard
    assert isinstance(dashboard, Dashboard)
    assert Dashboard.from_dict(dashboard.as_dict()) == dashboard
    body = dashboard.as_dict()
    assert body["display_name"] == "ecomctl e-commerce"
    assert body["parent_path"] == "/Shared/ecomctl-test"
    assert body["warehouse_id"] == WAREHOUSE
    assert isinstance(body["serialized_dashboard"], str)


def test_one_dataset_per_query_with_the_configured_names(publication):
    content = content_of(publication.dashboard)
    queries = load_queries(SQL_ROOT)
    datasets = content["datasets"]
    assert [d["name"] for d in datasets] == [q.name for q in queries]
    assert [d["displayName"] for d in datasets] == [q.title for q in queries]
    for dataset in datasets:
        sql = "".join(dataset["queryLines"])
        assert "${" not in sql
        assert "shop." in sql and ("shop.marts." in sql or "shop.refined." in sql)
        parse_databricks(sql, dataset["name"])


def _widgets(content: dict) -> list[dict]:
    return [item for page in content["pages"] for item in page["layout"]]


def test_every_widget_reads_an_existing_dataset_and_field(publication):
    content = content_of(publication.dashboard)
    columns = {d["name"]: output_columns("".join(d["queryLines"]), d["name"]) for d in content["datasets"]}
    names = [item["widget"]["name"] for item in _widgets(content)]
    assert len(names) == len(set(names)), "widget names are unique"
    for item in _widgets(content):
        widget = item["widget"]
        if "multilineTextboxSpec" in widget:
            assert "queries" not in widget and "spec" not in widget
            assert all(isinstance(line, str) for line in widget["multilineTextboxSpec"]["lines"])
            continue
        spec = widget["spec"]
        assert spec["version"] == SPEC_VERSIONS[spec["widgetType"]]
        assert spec["frame"]["showTitle"] is True and spec["frame"]["title"]
        [named] = widget["queries"]
        query = named["query"]
        assert query["datasetName"] in columns, f"{widget['name']} reads a dataset that does not exist"
        field_names = [f["name"] for f in query["fields"]]
        for field in query["fields"]:
            assert field["name"] in columns[query["datasetName"]], f"{widget['name']}: {field['name']} not in the SELECT"
            assert field["expression"] == f"`{field['name']}`"
        encodings = spec["encodings"]
        encoded = ([c["fieldName"] for c in encodings["columns"]] if "columns" in encodings
                   else [e["fieldName"] for e in encodings.values()])
        assert encoded and set(encoded) <= set(field_names), f"{widget['name']} encodes a field it does not query"


def test_widgets_follow_the_chart_headers(publication):
    content = content_of(publication.dashboard)
    by_dataset: dict[str, list[dict]] = {}
    for item in _widgets(content):
        widget = item["widget"]
        if "spec" in widget:
            by_dataset.setdefault(widget["queries"][0]["query"]["datasetName"], []).append(widget["spec"])
    for query in load_queries(SQL_ROOT):
        specs = by_dataset[query.name]
        if query.chart == "counter":
            # One counter per KPI column, the headline (y) first.
            columns = output_columns(query.sql.replace("${", "").replace("}", ""), query.name)
            assert [s["widgetType"] for s in specs] == ["counter"] * len(columns)
            values = [s["encodings"]["value"]["fieldName"] for s in specs]
            assert sorted(values) == sorted(columns) and values[0] == query.y
        else:
            [spec] = specs
            assert spec["widgetType"] == query.chart
            if query.chart in ("bar", "line"):
                assert spec["encodings"]["x"]["fieldName"] == query.x
                assert spec["encodings"]["y"]["fieldName"] == query.y
                assert spec["encodings"]["y"]["scale"] == {"type": "quantitative"}
                assert spec["encodings"]["x"]["scale"]["type"] == ("temporal" if query.chart == "line" else "categorical")
    kinds = [s["widgetType"] for specs in by_dataset.values() for s in specs]
    assert kinds.count("counter") == 9 and kinds.count("line") == 1 and kinds.count("table") == 1
    assert kinds.count("bar") == 7


def test_layout_fits_the_grid_without_overlaps(publication):
    cells: dict[tuple[int, int], str] = {}
    for item in _widgets(content_of(publication.dashboard)):
        pos = item["position"]
        assert set(pos) == {"x", "y", "width", "height"} and all(isinstance(v, int) for v in pos.values())
        assert pos["x"] >= 0 and pos["y"] >= 0 and pos["width"] >= 1 and pos["height"] >= 1
        assert pos["x"] + pos["width"] <= GRID_COLUMNS
        for x in range(pos["x"], pos["x"] + pos["width"]):
            for y in range(pos["y"], pos["y"] + pos["height"]):
                assert (x, y) not in cells, f"{item['widget']['name']} overlaps {cells.get((x, y))}"
                cells[(x, y)] = item["widget"]["name"]


def test_output_columns_rejects_what_a_widget_cannot_name():
    with pytest.raises(SqlError, match="list the columns"):
        output_columns("SELECT * FROM c.g.t", "q.sql")
    with pytest.raises(SqlError, match="a name with AS"):
        output_columns("SELECT a + 1 FROM c.g.t", "q.sql")
    with pytest.raises(SqlError, match="returned twice"):
        output_columns("SELECT a, b AS a FROM c.g.t", "q.sql")
    with pytest.raises(SqlError, match="exactly one SELECT"):
        output_columns("SELECT 1 AS a; SELECT 2 AS b", "q.sql")
    assert output_columns("WITH t AS (SELECT 1 AS a) SELECT t.a, 2 AS b FROM t", "q.sql") == ["a", "b"]


def test_a_chart_axis_missing_from_the_select_names_the_file(tmp_path):
    folder = tmp_path / "dashboards" / "queries"
    folder.mkdir(parents=True)
    (folder / "01_sales.sql").write_text("-- title: Sales\n-- description: d\n-- chart: bar\n-- x: brand\n"
                                         "-- y: revenue\nSELECT brand, net_revenue FROM ${catalog}.${gold}.t\n")
    names = make_target(Settings.load(environ={})).names.as_mapping()
    with pytest.raises(SqlError, match=r"dashboards/queries/01_sales.sql: header '-- y: revenue'"):
        render_queries(load_queries(tmp_path), names, tmp_path)


# -- saved queries and Genie spaces -------------------------------------------------------------

def test_two_queries_with_one_title_are_refused(tmp_path):
    folder = tmp_path / "dashboards" / "queries"
    folder.mkdir(parents=True)
    for number in ("01", "02"):
        (folder / f"{number}_q{number}.sql").write_text("-- title: Sales\n-- description: d\n-- chart: table\n"
                                                      "SELECT brand FROM ${catalog}.${gold}.t\n")
    settings = Settings.load(environ={})
    with pytest.raises(SqlError, match=r"dashboards/queries/02_q02.sql: title 'Sales' is also used by "
                                       r"dashboards/queries/01_q01.sql"):
        build_publication(settings, tmp_path, make_target(settings).names, WAREHOUSE)


def test_saved_queries_are_real_request_objects(publication):
    queries = load_queries(SQL_ROOT)
    assert [name for name, _ in publication.queries] == [q.name for q in queries]
    for (name, request), query in zip(publication.queries, queries):
        assert isinstance(request, CreateQueryRequestQuery)
        assert CreateQueryRequestQuery.from_dict(request.as_dict()).as_dict() == request.as_dict()
        assert request.display_name == query.title and request.description == query.description
        assert request.parent_path == "/Shared/ecomctl-test" and request.warehouse_id == WAREHOUSE
        parse_databricks(request.query_text, name)
        assert "${" not in request.query_text and "shop." in request.query_text
    # An update sends exactly the fields its mask names.
    update = UpdateQueryRequestQuery(display_name="x", description="d", query_text="SELECT 1",
                                     warehouse_id=WAREHOUSE, tags=["ecomctl"])
    assert set(update.as_dict()) == set(QUERY_UPDATE_MASK.split(","))


def test_genie_spaces_are_real_sdk_objects_with_a_version_2_serialized_space(publication):
    spaces = load_genie_spaces(SQL_ROOT)
    assert [name for name, _ in publication.spaces] == [s.name for s in spaces]
    all_ids: list[str] = []
    for (name, space), source in zip(publication.spaces, spaces):
        assert isinstance(space, GenieSpace)
        assert GenieSpace.from_dict(space.as_dict()) == space
        assert space.title == f"ecomctl e-commerce: {source.title}" and space.description == source.description
        assert space.parent_path == "/Shared/ecomctl-test" and space.warehouse_id == WAREHOUSE
        content = json.loads(space.serialized_space)
        assert content["version"] == 2
        assert set(content) == {"version", "config", "data_sources", "instructions"}

        tables = [t["identifier"] for t in content["data_sources"]["tables"]]
        assert tables == sorted(tables) and len(tables) == len(source.tables)
        assert all(re.fullmatch(r"shop\.(marts|refined|bronze)\.[a-z_]+", t) for t in tables), tables

        samples = content["config"]["sample_questions"]
        examples = content["instructions"]["example_question_sqls"]
        [instruction] = content["instructions"]["text_instructions"]
        assert "".join(instruction["content"]) == source.instructions
        for items in (samples, examples):
            ids = [item["id"] for item in items]
            assert ids == sorted(ids), f"{name}: the API rejects lists not sorted by id"
            assert all(HEX32.match(i) for i in ids)
            all_ids += ids
        assert [s["question"] for s in samples] == [[q.question] for q in source.questions]
        for example, question in zip(examples, source.questions):
            assert example["question"] == [question.question]
            assert all(isinstance(line, str) for line in example["sql"])
            sql = "".join(example["sql"])
            assert "${" not in sql
            parse_databricks(sql, f"{name}: {question.question}")
        all_ids.append(instruction["id"])
    assert len(all_ids) == len(set(all_ids)), "ids are unique"


def test_ids_are_stable_between_builds(pipeline):
    first = build_publication(pipeline.settings, SQL_ROOT, pipeline.warehouse.names, WAREHOUSE)
    second = build_publication(pipeline.settings, SQL_ROOT, pipeline.warehouse.names, WAREHOUSE)
    assert first == second


# -- the warehouse id ----------------------------------------------------------------------------

def test_warehouse_id_from_the_id_or_the_http_path():
    assert warehouse_id(Settings.load(environ={"DATABRICKS_WAREHOUSE_ID": "w1"})) == "w1"
    assert warehouse_id(Settings.load(environ={"DATABRICKS_HTTP_PATH": "/sql/1.0/warehouses/ab12cd"})) == "ab12cd"
    with pytest.raises(ConfigError, match="DATABRICKS_HTTP_PATH: .*not a SQL warehouse HTTP path"):
        warehouse_id(Settings.load(environ={"DATABRICKS_HTTP_PATH": "/sql/protocolv1/o/1/0123-abc"}))
    # the same rules as the warehouse the statements run on: one id, letters and digits
    with pytest.raises(ConfigError, match="DATABRICKS_HTTP_PATH: names warehouse ab12cd, but "
                                          "DATABRICKS_WAREHOUSE_ID is w1"):
        warehouse_id(Settings.load(environ={"DATABRICKS_WAREHOUSE_ID": "w1",
                                            "DATABRICKS_HTTP_PATH": "/sql/1.0/warehouses/ab12cd"}))
    with pytest.raises(ConfigError, match="DATABRICKS_WAREHOUSE_ID: 'w-1' is not a SQL warehouse id"):
        warehouse_id(Settings.load(environ={"DATABRICKS_WAREHOUSE_ID": "w-1"}))
    assert warehouse_id(Settings.load(environ={"DATABRICKS_WAREHOUSE_ID": " w1 "})) == "w1"
    with pytest.raises(ConfigError, match="DATABRICKS_WAREHOUSE_ID: not set"):
        warehouse_id(Settings.load(environ={}))


def test_dashboard_settings_are_checked():
    settings = Settings.load(environ={"ECOMCTL_WORKSPACE_FOLDER": "/Users/me@example.com/ecomctl/",
                                      "ECOMCTL_DASHBOARD_EMBED_CREDENTIALS": "false"})
    assert settings.workspace_folder == "/Users/me@example.com/ecomctl"
    assert settings.dashboard_embed_credentials is False
    assert Settings.load(environ={}).dashboard_embed_credentials is True
    for bad in ("Shared/ecomctl", "/", "/Shared/../x", "/Shared//x"):
        with pytest.raises(ConfigError, match="ECOMCTL_WORKSPACE_FOLDER"):
            Settings.load(environ={"ECOMCTL_WORKSPACE_FOLDER": bad})
    with pytest.raises(ConfigError, match="ECOMCTL_DASHBOARD_EMBED_CREDENTIALS: expected true or false"):
        Settings.load(environ={"ECOMCTL_DASHBOARD_EMBED_CREDENTIALS": "maybe"})
    with pytest.raises(ConfigError, match="ECOMCTL_DASHBOARD_NAME"):
        Settings.load(environ={"ECOMCTL_DASHBOARD_NAME": "a/b"})


# -- publishing through the real WorkspaceClient ---------------------------------------------------

@pytest.fixture
def workspace():
    with FakeWorkspace() as fake:
        yield fake


def live_api(workspace: FakeWorkspace, pipeline: PipelineSurface) -> DashboardApi:
    client = WorkspaceClient(host=workspace.host, token=TOKEN)
    return DashboardApi.live(client, pipeline.settings)


def publish(workspace, pipeline) -> StepResult:
    step = StepResult("dashboards")
    publish_databricks(pipeline.settings, pipeline.sql_root, pipeline.warehouse.names, step, live_api(workspace, pipeline))
    return step


def test_first_run_creates_and_second_run_updates_in_place(workspace, pipeline):
    folder = "/Shared/ecomctl-test"
    # Same names elsewhere in the workspace must be left alone.
    other_query = workspace.add_query("Total KPIs", "/Users/someone/old")
    other_space = workspace.add_space("ecomctl e-commerce: Sales", "/Users/someone/old")

    first = publish(workspace, pipeline)
    calls = [r.line for r in workspace.api_requests()]
    assert calls[:5] == ["POST /api/2.0/workspace/mkdirs", "GET /api/2.0/workspace/get-status",
                         "POST /api/2.0/lakeview/dashboards",
                         f"POST /api/2.0/lakeview/dashboards/{first.details['dashboard']['id']}/published",
                         "GET /api/2.0/sql/queries"]
    assert calls.count("POST /api/2.0/sql/queries") == 10
    assert calls.count("POST /api/2.0/genie/spaces") == 5
    assert {o.action for o in first.objects if o.object.startswith(("query", "genie", "dashboard"))} \
        == {"create", "publish"}

    state = workspace.state
    assert len(state.dashboards) == 1 and len(state.queries) == 11 and len(state.spaces) == 6
    [dashboard] = state.dashboards.values()
    assert dashboard["path"] == f"{folder}/ecomctl e-commerce.lvdash.json"
    assert state.published == {dashboard["dashboard_id"]: {"embed_credentials": True, "warehouse_id": WAREHOUSE}}
    ours = {q["display_name"]: q for q in state.queries.values() if q.get("parent_path") == folder}
    assert len(ours) == 10 and all(q["warehouse_id"] == WAREHOUSE and q["tags"] == ["ecomctl"] for q in ours.values())
    assert state.queries[other_query]["query_text"] == "SELECT 1"
    assert state.spaces[other_space]["serialized_space"] == "{}"

    workspace.clear_requests()
    state.dashboards[dashboard["dashboard_id"]]["serialized_dashboard"] = "{}"  # edited by hand meanwhile
    second = publish(workspace, pipeline)
    calls = [r.line for r in workspace.api_requests()]
    assert not any(c.startswith("POST /api/2.0/sql/queries") or c == "POST /api/2.0/genie/spaces"
                   or c == "POST /api/2.0/lakeview/dashboards" for c in calls), "nothing is created twice"
    assert calls.count(f"PATCH /api/2.0/lakeview/dashboards/{dashboard['dashboard_id']}") == 1
    assert sum(c.startswith("PATCH /api/2.0/sql/queries/") for c in calls) == 10
    assert sum(c.startswith("PATCH /api/2.0/genie/spaces/") for c in calls) == 5
    assert len(state.dashboards) == 1 and len(state.queries) == 11 and len(state.spaces) == 6
    assert json.loads(state.dashboards[dashboard["dashboard_id"]]["serialized_dashboard"])["datasets"]
    assert [o.action for o in second.objects if o.object.startswith("query")] == ["update"] * 10
    assert [o.action for o in second.objects if o.object.startswith("genie")] == ["update"] * 5
    assert second.details["dashboard"]["id"] == first.details["dashboard"]["id"]
    assert [q["id"] for q in second.details["queries"]] == [q["id"] for q in first.details["queries"]]
    assert [s["id"] for s in second.details["genie_spaces"]] == [s["id"] for s in first.details["genie_spaces"]]


def test_a_space_whose_folder_the_api_does_not_report_is_never_updated(workspace, pipeline):
    """parent_path is a Public Preview field of the Genie API: when neither the list nor the space
    itself gives it, a same-titled space may be anyone's, so ours is created beside it."""
    folder = "/Shared/ecomctl-test"
    workspace.state.genie_folder_in = set()
    stranger = workspace.add_space("ecomctl e-commerce: Sales", "/Users/someone/old")

    first = publish(workspace, pipeline)
    calls = [r.line for r in workspace.api_requests()]
    assert f"GET /api/2.0/genie/spaces/{stranger}" in calls  # asked, and still no folder
    assert not any(c.startswith("PATCH /api/2.0/genie/spaces/") for c in calls)
    assert calls.count("POST /api/2.0/genie/spaces") == 5
    assert workspace.state.spaces[stranger]["serialized_space"] == "{}"
    ours = [s for s in workspace.state.spaces.values() if s.get("parent_path") == folder]
    assert len(ours) == 5 and all(s["warehouse_id"] == WAREHOUSE for s in ours)
    sales = next(s for s in first.details["genie_spaces"] if s["title"] == "ecomctl e-commerce: Sales")
    assert sales["action"] == "create" and sales["same_title_folder_unknown"] == [stranger]
    assert sum("same_title_folder_unknown" in s for s in first.details["genie_spaces"]) == 1

    # Nor are our own spaces told apart from anyone's on the next run: they are created again, and
    # the run's report lists the earlier ones (docs/databricks.md says how to clean up).
    workspace.clear_requests()
    second = publish(workspace, pipeline)
    assert not any(r.method == "PATCH" and "/genie/" in r.path for r in workspace.api_requests())
    sales = next(s for s in second.details["genie_spaces"] if s["title"] == "ecomctl e-commerce: Sales")
    assert sorted(sales["same_title_folder_unknown"]) == sorted(
        [stranger, next(s["id"] for s in first.details["genie_spaces"] if s["title"] == sales["title"])])


def test_a_folder_only_the_space_itself_reports_is_enough_to_update_in_place(workspace, pipeline):
    workspace.state.genie_folder_in = {"get"}
    stranger = workspace.add_space("ecomctl e-commerce: Sales", "/Users/someone/old")
    first = publish(workspace, pipeline)
    workspace.clear_requests()
    second = publish(workspace, pipeline)
    calls = [r.line for r in workspace.api_requests()]
    assert sum(c.startswith("PATCH /api/2.0/genie/spaces/") for c in calls) == 5
    assert "POST /api/2.0/genie/spaces" not in calls
    assert [s["id"] for s in second.details["genie_spaces"]] == [s["id"] for s in first.details["genie_spaces"]]
    assert not any("same_title_folder_unknown" in s for s in first.details["genie_spaces"] + second.details["genie_spaces"])
    assert workspace.state.spaces[stranger]["serialized_space"] == "{}"


def test_request_bodies_have_the_shape_the_api_expects(workspace, pipeline, publication):
    publish(workspace, pipeline)
    requests = workspace.api_requests()
    for request in requests:
        assert request.headers.get("Authorization") == f"Bearer {TOKEN}"

    [mkdirs] = [r for r in requests if r.line == "POST /api/2.0/workspace/mkdirs"]
    assert mkdirs.body == {"path": "/Shared/ecomctl-test"}
    [create] = [r for r in requests if r.line == "POST /api/2.0/lakeview/dashboards"]
    assert set(create.body) == {"display_name", "parent_path", "warehouse_id", "serialized_dashboard"}
    assert json.loads(create.body["serialized_dashboard"]) == content_of(publication.dashboard)

    query_bodies = [r.body for r in requests if r.line == "POST /api/2.0/sql/queries"]
    assert [set(b) for b in query_bodies] == [{"query"}] * 10
    assert [b["query"] for b in query_bodies] == [q.as_dict() for _, q in publication.queries]

    space_bodies = [r.body for r in requests if r.line == "POST /api/2.0/genie/spaces"]
    assert [set(b) for b in space_bodies] == [{"warehouse_id", "serialized_space", "title", "description",
                                               "parent_path"}] * 5
    assert [json.loads(b["serialized_space"]) for b in space_bodies] == \
        [json.loads(s.serialized_space) for _, s in publication.spaces]

    workspace.clear_requests()
    publish(workspace, pipeline)
    requests = workspace.api_requests()
    [update] = [r for r in requests if r.method == "PATCH" and "/lakeview/" in r.path]
    assert set(update.body) == {"display_name", "warehouse_id", "serialized_dashboard"}
    query_updates = [r.body for r in requests if r.method == "PATCH" and "/sql/queries/" in r.path]
    assert all(b["update_mask"] == QUERY_UPDATE_MASK and set(b["query"]) == set(QUERY_UPDATE_MASK.split(","))
               for b in query_updates)
    space_updates = [r.body for r in requests if r.method == "PATCH" and "/genie/spaces/" in r.path]
    assert all(set(b) == {"title", "description", "serialized_space", "warehouse_id"} for b in space_updates)


def test_every_sql_sent_parses_as_databricks_sql(workspace, pipeline):
    publish(workspace, pipeline)
    sent: list[tuple[str, str]] = []
    for request in workspace.api_requests():
        body = request.body or {}
        if "serialized_dashboard" in body:
            sent += [(d["name"], "".join(d["queryLines"])) for d in json.loads(body["serialized_dashboard"])["datasets"]]
        if "query" in body:
            sent.append((body["query"]["display_name"], body["query"]["query_text"]))
        if "serialized_space" in body:
            space = json.loads(body["serialized_space"])
            sent += [(body["title"], "".join(e["sql"])) for e in space["instructions"]["example_question_sqls"]]
    questions = sum(len(s.questions) for s in load_genie_spaces(SQL_ROOT))
    assert len(sent) == 10 + 10 + questions
    for where, sql in sent:
        assert "${" not in sql, where
        parse_databricks(sql, where)


def test_the_token_never_appears_in_the_step_result(workspace, pipeline):
    step = publish(workspace, pipeline)
    assert TOKEN not in json.dumps(asdict(step), default=str)
    assert step.details["dashboard"]["url"] == f"{workspace.host}/dashboardsv3/{step.details['dashboard']['id']}/published"
    assert all(q["url"].startswith(workspace.host + "/sql/editor/") for q in step.details["queries"])
    assert all(s["url"].startswith(workspace.host + "/genie/rooms/") for s in step.details["genie_spaces"])
    columns, rows = step.tables["published to Databricks"]
    assert columns == ["kind", "name", "id", "url"] and len(rows) == 16


def test_publishing_without_embedded_credentials(workspace):
    pipeline = surface({**ENV, "ECOMCTL_DASHBOARD_EMBED_CREDENTIALS": "false"})
    publish(workspace, pipeline)
    assert list(workspace.state.published.values()) == [{"embed_credentials": False, "warehouse_id": WAREHOUSE}]


def test_a_refused_call_is_one_line_naming_what_failed(workspace, pipeline):
    workspace.state.failures[("POST", r"^/api/2\.0/lakeview/dashboards$")] = (
        403, "PERMISSION_DENIED", "User does not have CAN_MANAGE on /Shared/ecomctl-test")
    with pytest.raises(EcomctlError) as info:
        publish(workspace, pipeline)
    message = str(info.value)
    assert "could not create the dashboard 'ecomctl e-commerce'" in message and "PERMISSION_DENIED" in message
    assert "\n" not in message and TOKEN not in message


def test_an_unreachable_workspace_is_one_line(pipeline):
    from databricks.sdk.core import Config

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = WorkspaceClient(config=Config(host=f"http://127.0.0.1:{port}", token=TOKEN,
                                           retry_timeout_seconds=1, http_timeout_seconds=1))
    with pytest.raises(EcomctlError) as info:
        publish_databricks(pipeline.settings, pipeline.sql_root, pipeline.warehouse.names, StepResult("dashboards"), DashboardApi.live(client, pipeline.settings))
    message = str(info.value)
    assert message.startswith("Databricks: could not create the workspace folder /Shared/ecomctl-test: "
                              "no answer from the workspace")
    assert "DATABRICKS_HOST" in message and TOKEN not in message


def test_a_file_where_the_dashboard_belongs_is_an_error(workspace, pipeline):
    workspace.add_folder("/Shared/ecomctl-test")
    workspace.add_file("/Shared/ecomctl-test/ecomctl e-commerce.lvdash.json")
    with pytest.raises(EcomctlError, match="exists in the workspace and is not a dashboard"):
        publish(workspace, pipeline)


def test_live_publishing_needs_a_warehouse(workspace):
    pipeline = surface({k: v for k, v in ENV.items() if k != "DATABRICKS_WAREHOUSE_ID"})
    with pytest.raises(ConfigError, match="DATABRICKS_WAREHOUSE_ID"):
        publish(workspace, pipeline)
    assert workspace.api_requests() == []


def test_the_pipelines_warehouse_id_wins_over_the_settings(workspace, pipeline):
    """Pipeline.dashboards passes the id its warehouse runs statements on; every payload names it."""
    step = StepResult("dashboards")
    publish_databricks(pipeline.settings, pipeline.sql_root, pipeline.warehouse.names, step, live_api(workspace, pipeline), warehouse="wh9")
    state = workspace.state
    assert step.details["warehouse_id"] == "wh9"
    assert [d["warehouse_id"] for d in state.dashboards.values()] == ["wh9"]
    assert [p["warehouse_id"] for p in state.published.values()] == ["wh9"]
    assert {q["warehouse_id"] for q in state.queries.values()} == {"wh9"}
    assert {s["warehouse_id"] for s in state.spaces.values()} == {"wh9"}


# -- the dry run ---------------------------------------------------------------------------------

def test_dry_run_records_each_call_in_order_without_connecting(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("the dry run opened a connection")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    # No warehouse and no credentials: the plan still prints.
    pipeline = surface({"ECOMCTL_CATALOG": "shop"})
    recorded: list[tuple[str, str]] = []
    step = StepResult("dashboards")
    # Without a warehouse setting the planned target passes the placeholder (targets.py).
    publish_databricks(pipeline.settings, pipeline.sql_root, pipeline.warehouse.names, step,
                       DashboardApi.dry_run(lambda kind, text: recorded.append((kind, text)), pipeline.settings),
                       warehouse=DRY_RUN_WAREHOUSE)

    assert {kind for kind, _ in recorded} == {"api"}
    lines = [text for _, text in recorded]
    assert all("\n" not in line for line in lines)
    assert len(lines) == 1 + 2 + 1 + 1 + 10 + 1 + 5
    assert lines[0] == "POST /api/2.0/workspace/mkdirs  path=/Shared/ecomctl"
    assert lines[1].startswith("GET /api/2.0/workspace/get-status  path=/Shared/ecomctl/ecomctl e-commerce.lvdash.json")
    assert lines[2].startswith("POST /api/2.0/lakeview/dashboards | PATCH /api/2.0/lakeview/dashboards/<id>  "
                               "create or update  display_name=ecomctl e-commerce parent_path=/Shared/ecomctl")
    assert "datasets=10 widgets=19" in lines[2]
    assert lines[3] == ("POST /api/2.0/lakeview/dashboards/<id>/published  embed_credentials=true "
                        "warehouse_id=<DATABRICKS_WAREHOUSE_ID>")
    assert lines[4] == "GET /api/2.0/sql/queries  (find saved queries by name)"
    titles = [q.title for q in load_queries(SQL_ROOT)]
    for line, title in zip(lines[5:15], titles):
        assert line.startswith("POST /api/2.0/sql/queries | PATCH /api/2.0/sql/queries/<id>  create or update  "
                               f"display_name={title} parent_path=/Shared/ecomctl ")
    assert lines[15] == "GET /api/2.0/genie/spaces  (find Genie spaces by title)"
    for line, space in zip(lines[16:], load_genie_spaces(SQL_ROOT)):
        assert line.startswith("POST /api/2.0/genie/spaces | PATCH /api/2.0/genie/spaces/<space_id>  "
                               f"create or update  title=ecomctl e-commerce: {space.title} ")
        assert f"questions={len(space.questions)}" in line
    assert {o.action for o in step.objects[1:] if o.action != "publish"} == {"create or update"}
    assert step.details["dashboard"]["url"] is None and step.details["warehouse_id"] == "<DATABRICKS_WAREHOUSE_ID>"


def test_dry_run_never_shows_the_token():
    pipeline = surface({**ENV, "DATABRICKS_HOST": "https://adb-1.2.azuredatabricks.net", "DATABRICKS_TOKEN": TOKEN})
    recorded: list[str] = []
    step = StepResult("dashboards")
    publish_databricks(pipeline.settings, pipeline.sql_root, pipeline.warehouse.names, step,
                       DashboardApi.dry_run(lambda kind, text: recorded.append(text), pipeline.settings))
    assert TOKEN not in "\n".join(recorded) and TOKEN not in json.dumps(asdict(step), default=str)
    assert f"warehouse_id={WAREHOUSE}" in recorded[3]


# -- live (skipped unless a workspace is configured) ------------------------------------------------

# Read at import: the autouse fixture clears DATABRICKS_* variables before each test runs.
_LIVE_ENV = {k: v for k, v in os.environ.items()
             if k.startswith(("DATABRICKS_", "ECOMCTL_")) and v}
_LIVE = bool(_LIVE_ENV.get("DATABRICKS_HOST") or _LIVE_ENV.get("DATABRICKS_CONFIG_PROFILE")) and bool(
    _LIVE_ENV.get("DATABRICKS_WAREHOUSE_ID") or _LIVE_ENV.get("DATABRICKS_HTTP_PATH"))


@pytest.mark.live
@pytest.mark.skipif(not _LIVE, reason="needs DATABRICKS_HOST (or a profile) and DATABRICKS_WAREHOUSE_ID; "
                                      "the Genie spaces also need the gold tables (run-all first)")
def test_live_workspace_publishes_twice_in_place():
    from databricks.sdk.core import Config

    env = {"ECOMCTL_WORKSPACE_FOLDER": "/Shared/ecomctl-live-test", **_LIVE_ENV}
    pipeline = surface(env)
    settings = pipeline.settings
    client = WorkspaceClient(config=Config(host=settings.databricks_host or None,
                                           token=settings.databricks_token.reveal() or None,
                                           profile=settings.databricks_profile or None,
                                           retry_timeout_seconds=60, http_timeout_seconds=30))
    first, second = StepResult("dashboards"), StepResult("dashboards")
    publish_databricks(pipeline.settings, pipeline.sql_root, pipeline.warehouse.names, first, DashboardApi.live(client, settings))
    publish_databricks(pipeline.settings, pipeline.sql_root, pipeline.warehouse.names, second, DashboardApi.live(client, settings))
    assert second.details["dashboard"]["id"] == first.details["dashboard"]["id"]
    assert [o.action for o in second.objects if o.object.startswith(("query", "genie"))] == ["update"] * 15
    stored = client.lakeview.get(first.details["dashboard"]["id"])
    assert [d["name"] for d in json.loads(stored.serialized_dashboard)["datasets"]] == \
        [q.name for q in load_queries(SQL_ROOT)]

