"""The Databricks warehouse offline: the real SDK Config, WorkspaceClient and connector auth against a
local HTTP server standing in for the workspace's REST API, and the statement logic (retries,
reconnects, materialized views, catalog check) through a scripted session at our own boundary."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from fake_workspace import FakeWorkspace

from ecomctl.config import Secret, Settings
from ecomctl.errors import ConfigError, SqlError, WarehouseError
from ecomctl.warehouse.base import Names
from ecomctl.warehouse.databricks import DatabricksAccess, DatabricksWarehouse
from ecomctl.warehouse.databricks.errors import StatementFailed, translate_connector_error
from ecomctl.warehouse.databricks.session import LiveSession, Outcome
from ecomctl.warehouse.databricks.views import check_schedule
from ecomctl.warehouse.statements import classify

pytest.importorskip("databricks.sdk")
TOKEN = "dapi-offline-test-token"


@pytest.fixture
def workspace():
    """tests/fake_workspace.py: the warehouses and Files API over HTTP, as the dashboards tests use it."""
    with FakeWorkspace() as fake:
        yield fake


def _warehouse_state(workspace: FakeWorkspace, *states: str) -> None:
    workspace.state.warehouse["states"] = list(states)


class Waits:
    def __init__(self) -> None:
        self.texts: list[str | None] = []

    def waiting(self, text: str | None) -> None:
        self.texts.append(text)


def _access(url: str, **overrides) -> DatabricksAccess:
    values = {"host": url, "token": Secret(TOKEN), "warehouse_id": "wh1", "http_path": "/sql/1.0/warehouses/wh1"}
    values.update(overrides)
    return DatabricksAccess(**values)


# -- settings ------------------------------------------------------------------------------------
def _settings(**env: str) -> Settings:
    return Settings.load({"target": "databricks"}, environ=env)


def test_access_from_settings_takes_an_id_or_an_http_path():
    by_id = DatabricksAccess.from_settings(_settings(DATABRICKS_WAREHOUSE_ID="abc123",
                                                     DATABRICKS_HOST="adb-1.2.azuredatabricks.net"))
    assert by_id.http_path == "/sql/1.0/warehouses/abc123"
    assert by_id.host == "https://adb-1.2.azuredatabricks.net"
    by_path = DatabricksAccess.from_settings(_settings(DATABRICKS_HTTP_PATH="/sql/1.0/warehouses/def456"))
    assert by_path.warehouse_id == "def456"


@pytest.mark.parametrize(("env", "names"), [
    ({}, "DATABRICKS_WAREHOUSE_ID"),
    ({"DATABRICKS_WAREHOUSE_ID": "abc-123"}, "DATABRICKS_WAREHOUSE_ID"),
    ({"DATABRICKS_HTTP_PATH": "/sql/protocolv1/o/1/0123-abc"}, "DATABRICKS_HTTP_PATH"),
    ({"DATABRICKS_WAREHOUSE_ID": "a1", "DATABRICKS_HTTP_PATH": "/sql/1.0/warehouses/b2"}, "DATABRICKS_HTTP_PATH"),
])
def test_bad_warehouse_settings_name_the_setting(env, names):
    with pytest.raises(ConfigError, match=f"setting {names}:"):
        DatabricksAccess.from_settings(_settings(**env))


def test_schedule_setting_is_checked():
    assert check_schedule("every  1 hour") == "every 1 hour"
    assert check_schedule("CRON '0 0 6 * * ?' AT TIME ZONE 'UTC'")
    with pytest.raises(ConfigError, match="ECOMCTL_MV_SCHEDULE"):
        check_schedule("hourly; DROP TABLE x")


# EVERY's documented ranges (ALTER MATERIALIZED VIEW, schedule_clause): HOUR 1-72, DAY 1-31, WEEK 1-8.
@pytest.mark.parametrize(("schedule", "accepted"), [
    ("EVERY 1 HOUR", True), ("EVERY 72 HOURS", True), ("EVERY 73 HOURS", False), ("EVERY 0 HOURS", False),
    ("EVERY 31 DAYS", True), ("EVERY 32 DAY", False), ("EVERY 8 WEEKS", True), ("EVERY 9 WEEKS", False),
    ("CRON '0 0 6 * * ?'", True), ("CRON '0 0 6 * * ? 2030' AT TIME ZONE 'Europe/Paris'", True),
    ("CRON '0 6 * * *'", False),  # five fields: a Unix cron, not Quartz
])
def test_schedules_are_checked_against_databricks_ranges(schedule, accepted):
    if accepted:
        assert check_schedule(schedule) == schedule
        return
    with pytest.raises(ConfigError) as info:
        check_schedule(schedule)
    message = str(info.value)
    assert message.startswith(f"setting ECOMCTL_MV_SCHEDULE: {schedule!r}")
    if schedule.startswith("EVERY"):
        unit = schedule.split()[-1].upper().rstrip("S")
        low, high = {"HOUR": (1, 72), "DAY": (1, 31), "WEEK": (1, 8)}[unit]
        assert f"Databricks accepts EVERY {low} to {high} {unit}S" in message
    else:
        assert "6 or 7 fields" in message


def test_a_schedule_out_of_range_stops_the_run_before_anything_starts(cli, home):
    """Checked when the settings load: views --dry-run prints no plan, only the one line."""
    result = cli("--target", "databricks", "views", "--dry-run", env={"ECOMCTL_MV_SCHEDULE": "EVERY 100 HOURS"})
    assert result.exit_code == 1
    assert "ECOMCTL_MV_SCHEDULE: 'EVERY 100 HOURS' is out of range: Databricks accepts EVERY 1 to 72 HOURS" \
        in result.stderr
    assert "CREATE MATERIALIZED VIEW" not in result.stdout + result.stderr
    assert not (home / "runs").exists() or not any((home / "runs").iterdir())


# -- the catalog's managed location ------------------------------------------------------------------
@pytest.mark.parametrize("location", [
    "abfss://data@shopstore.dfs.core.windows.net/ecomctl", "s3://shop-bucket/ecomctl", "gs://shop_bucket",
])
def test_a_managed_location_is_a_cloud_storage_url(location):
    assert Settings.load(environ={"ECOMCTL_CATALOG_MANAGED_LOCATION": location}).catalog_managed_location == location


@pytest.mark.parametrize("location", [
    "/mnt/data", "https://shopstore.blob.core.windows.net/data", "abfss://data@shop/x' COMMENT 'y",
    "s3://bucket/with space", "dbfs:/x", "abfss://shopstore.dfs.core.windows.net/data",
])
def test_a_managed_location_that_is_not_cloud_storage_names_the_setting(location):
    with pytest.raises(ConfigError, match="^setting ECOMCTL_CATALOG_MANAGED_LOCATION: .* is not a cloud storage URL"):
        Settings.load(environ={"ECOMCTL_CATALOG_MANAGED_LOCATION": location})


def test_create_catalog_puts_the_catalog_in_its_managed_location():
    session = ScriptedSession()
    location = "abfss://data@shopstore.dfs.core.windows.net/ecomctl"
    _warehouse(session, managed_location=location)[0].ensure_catalog(create=True)
    assert session.sent == [f"CREATE CATALOG IF NOT EXISTS ecommerce\nMANAGED LOCATION '{location}'\n"
                            "COMMENT 'E-commerce order events: bronze, silver and gold schemas (ecomctl)'"]
    checked = ScriptedSession({"SELECT catalog_name": [Outcome(["catalog_name"], [("ecommerce",)])]})
    _warehouse(checked, managed_location=location)[0].ensure_catalog(create=False)
    assert not any("MANAGED LOCATION" in text for text in checked.sent)  # only when creating it


# -- the REST API through the real SDK ---------------------------------------------------------------
def test_a_running_warehouse_is_checked_with_the_token(workspace):
    session = LiveSession(_access(workspace.host))
    session.ensure_running()
    gets = [r for r in workspace.state.requests if r.path == "/api/2.0/sql/warehouses/wh1"]
    assert len(gets) == 1 and gets[0].headers["Authorization"] == f"Bearer {TOKEN}"
    assert session.can_host_materialized_views() is True


def test_a_stopped_warehouse_is_started_and_waited_for(workspace):
    _warehouse_state(workspace, "STOPPED")
    waits = Waits()
    session = LiveSession(_access(workspace.host), reporter=waits)
    session.ensure_running()
    calls = [(r.method, r.path) for r in workspace.state.requests if r.path.startswith("/api/2.0/sql")]
    assert calls[0] == ("GET", "/api/2.0/sql/warehouses/wh1")
    assert ("POST", "/api/2.0/sql/warehouses/wh1/start") in calls
    assert calls[-1] == ("GET", "/api/2.0/sql/warehouses/wh1")
    assert session.warehouse_info.state.value == "RUNNING"
    assert waits.texts[0] == "starting SQL warehouse shop (it was stopped)"
    assert waits.texts[-1] is None  # the spinner stops


def _no_wait(seconds: float) -> None:
    pass


@pytest.mark.parametrize("state", ["DELETED", "DELETING"])
def test_a_deleted_warehouse_is_a_clear_error(workspace, state):
    _warehouse_state(workspace, state)
    with pytest.raises(WarehouseError) as info:
        LiveSession(_access(workspace.host), sleep=_no_wait).ensure_running()
    assert str(info.value) == (f"SQL warehouse wh1 is {state.lower()} (set DATABRICKS_WAREHOUSE_ID to a "
                               "warehouse that exists)")
    assert workspace.state.warehouse["starts"] == []


def test_a_starting_warehouse_is_waited_for_without_a_second_start(workspace):
    _warehouse_state(workspace, "STARTING", "STARTING", "RUNNING")
    waits = Waits()
    session = LiveSession(_access(workspace.host), reporter=waits, sleep=_no_wait)
    session.ensure_running()
    assert session.warehouse_info.state.value == "RUNNING"
    assert workspace.state.warehouse["starts"] == []
    assert waits.texts == ["starting SQL warehouse shop: starting"] * 2 + ["SQL warehouse shop is running", None]


def test_a_stopping_warehouse_is_started_once_it_has_stopped(workspace):
    """A start sent while the warehouse stops ends with it STOPPED (and the SDK's wait raising
    OperationFailed): ecomctl waits for STOPPED, then starts it."""
    _warehouse_state(workspace, "STOPPING", "STOPPING", "STOPPED")
    waits = Waits()
    session = LiveSession(_access(workspace.host), reporter=waits, sleep=_no_wait)
    session.ensure_running()
    assert workspace.state.warehouse["starts"] == ["STOPPED"]
    assert session.warehouse_info.state.value == "RUNNING"
    assert waits.texts[:3] == ["waiting for SQL warehouse shop to stop, to start it again"] * 2 + [
        "starting SQL warehouse shop (it was stopping)"]
    assert waits.texts[-2:] == ["SQL warehouse shop is running", None]


def test_a_warehouse_that_stops_again_after_its_start_is_one_line(workspace):
    _warehouse_state(workspace, "STOPPED")
    workspace.state.warehouse.update(start_states=["STARTING", "STOPPED"],
                                     health={"status": "FAILED", "summary": "Cluster failed to start\nat x"})
    waits = Waits()
    with pytest.raises(WarehouseError) as info:
        LiveSession(_access(workspace.host), reporter=waits, sleep=_no_wait).ensure_running()
    assert str(info.value) == ("SQL warehouse shop stopped again after ecomctl started it (Cluster failed to "
                               "start) (look at the warehouse's events in the workspace, then run again)")
    assert workspace.state.warehouse["starts"] == ["STOPPED"]  # started once, not again
    assert waits.texts[-1] is None  # the spinner stops


def test_a_warehouse_that_does_not_start_in_time_is_one_line(workspace):
    from datetime import timedelta

    _warehouse_state(workspace, "STARTING")
    session = LiveSession(_access(workspace.host), sleep=_no_wait, start_timeout=timedelta(seconds=0.2))
    with pytest.raises(WarehouseError, match=r"^SQL warehouse shop is still starting after 0\.2 s "
                                             r"\(it was starting\) \(look at the warehouse"):
        session.ensure_running()


@pytest.mark.parametrize(("status", "expected"), [(403, "access denied"), (404, "not found")])
def test_rest_errors_become_one_line(workspace, status, expected):
    code = {403: "PERMISSION_DENIED", 404: "RESOURCE_DOES_NOT_EXIST"}[status]
    workspace.state.failures[("GET", r"^/api/2\.0/sql/warehouses/")] = (status, code, "refused by test")
    with pytest.raises(WarehouseError) as info:
        LiveSession(_access(workspace.host)).ensure_running()
    message = str(info.value)
    assert message.startswith("cannot read the state of SQL warehouse wh1: " + expected)
    assert "\n" not in message and TOKEN not in message


def test_a_host_that_refuses_fails_in_seconds():
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.perf_counter()
    with pytest.raises(WarehouseError, match="refused the connection"):
        LiveSession(_access(f"http://127.0.0.1:{port}")).ensure_running()
    assert time.perf_counter() - started < 30


def test_an_unknown_host_fails_at_once():
    with pytest.raises(WarehouseError, match="does not resolve"):
        LiveSession(_access("https://nonexistent.invalid")).ensure_running()


def test_the_connector_gets_the_sdk_config_as_credentials_provider(workspace):
    from databricks.sql.auth.authenticators import ExternalAuthProvider

    arguments = LiveSession(_access(workspace.host)).connect_arguments()
    assert arguments["server_hostname"] == workspace.host.removeprefix("http://")
    assert arguments["http_path"] == "/sql/1.0/warehouses/wh1"
    headers: dict[str, str] = {}
    ExternalAuthProvider(arguments["credentials_provider"]).add_headers(headers)
    assert headers["Authorization"] == f"Bearer {TOKEN}"


def test_every_sql_session_opens_in_utc(workspace, monkeypatch):
    """The real connector (Connection, its Thrift client and HTTP transport) opens its sessions on the
    stand-in, which reads the OpenSession request with the connector's own Thrift types: each session,
    the one reopened after an expiry too, carries TIMEZONE=UTC and the SDK config's token."""
    from databricks import sql

    connect = sql.connect

    def connect_to_the_stand_in(**arguments):
        # The connector builds https://<host>:443/<path> itself; the stand-in speaks plain HTTP on a
        # local port, so only the URI changes (and no telemetry goes to a host that is not there).
        uri = f"{workspace.host}{arguments['http_path']}"
        return connect(**arguments, _connection_uri=uri, enable_telemetry=False)

    monkeypatch.setattr(sql, "connect", connect_to_the_stand_in)
    session = LiveSession(_access(workspace.host))
    session._connect()
    session.reconnect()
    session._connect()
    session.close()
    assert [s["configuration"]["TIMEZONE"] for s in workspace.state.sql_sessions] == ["UTC", "UTC"]
    assert all(s["authorization"] == f"Bearer {TOKEN}" for s in workspace.state.sql_sessions)
    assert not any(s["open"] for s in workspace.state.sql_sessions)  # both closed again


def test_the_plan_shows_the_session_time_zone_and_every_warehouse_state():
    from ecomctl.plan import Plan
    from ecomctl.warehouse.databricks.session import PlannedSession

    plan = Plan()
    PlannedSession(None, plan).ensure_running()
    (entry,) = plan.entries
    assert entry.text.startswith("GET /api/2.0/sql/warehouses/<DATABRICKS_WAREHOUSE_ID>: read its state")
    for words in ("STOPPED: POST .../start", "STOPPING: wait until stopped, then start",
                  "DELETED or DELETING: stop with an error", "session configuration TIMEZONE=UTC"):
        assert words in entry.text


def test_the_multipart_threshold_of_the_plan_is_the_sdks():
    from databricks.sdk.core import Config

    from ecomctl.warehouse.databricks.session import MULTIPART_THRESHOLD_MIB

    threshold = getattr(Config, "files_ext_multipart_upload_min_stream_size", None)
    if threshold is None:
        pytest.skip("this databricks-sdk uploads every file in one PUT (multipart came in 0.72.0)")
    assert threshold == MULTIPART_THRESHOLD_MIB * 1024 * 1024


def test_a_landing_file_above_the_multipart_threshold_goes_up_in_parts(workspace, tmp_path):
    """An ~85 MB landing file (100,000 events) is above the SDK's 50 MiB threshold: files.upload sends
    it as a multipart upload, through the stand-in's initiate, part-URL, presigned-part and complete
    calls, and the Volume holds exactly the file's bytes."""
    from databricks.sdk.core import Config

    from ecomctl.warehouse.databricks.session import MULTIPART_THRESHOLD_MIB

    landing = tmp_path / "landing"
    landing.mkdir()
    path = landing / "20260101T000000_ns-orders_p0_000000000000-000000099999_big.json"
    line = b'{"source":"ns/orders","partition_id":"0","body":"' + b"x" * 1000 + b'"}\n'
    size = MULTIPART_THRESHOLD_MIB * 1024 * 1024 + 4096
    with open(path, "wb") as handle:
        for _ in range(size // len(line) + 1):
            handle.write(line)
    content = path.read_bytes()
    warehouse = DatabricksWarehouse.live(Names(), _access(workspace.host))
    warehouse.stage_landing_file(path)

    remote = f"/Volumes/ecommerce/bronze/landing/{path.name}"
    assert workspace.state.files[remote] == content and not path.exists()
    calls = [(r.method, r.path, r.query.get("action")) for r in workspace.state.requests]
    if getattr(Config, "files_ext_multipart_upload_min_stream_size", None) is None:
        assert ("PUT", f"/api/2.0/fs/files{remote}", None) in calls  # an SDK without multipart
        return
    files = f"/api/2.0/fs/files{remote}"
    assert ("POST", files, "initiate-upload") in calls and ("POST", files, "complete-upload") in calls
    assert ("POST", "/api/2.0/fs/create-upload-part-urls", None) in calls
    parts = [r for r in workspace.state.requests if r.path.startswith("/presigned/")]
    assert len(parts) == -(-len(content) // (10 * 1024 * 1024))  # the SDK's 10 MiB parts
    assert ("PUT", files, None) not in calls  # no fallback to one request
    assert workspace.state.uploads == {}  # completed, nothing left open


def test_landing_files_are_uploaded_to_the_volume_then_removed(workspace, tmp_path):
    landing = tmp_path / "landing"
    landing.mkdir()
    path = landing / "20260101T000000_ns-orders_p0_000000000000-000000000001_abc.json"
    path.write_text('{"source":"ns/orders"}\n')
    warehouse = DatabricksWarehouse.live(Names(), _access(workspace.host))
    assert warehouse.unstaged_landing_files(landing) == [path]
    warehouse.stage_landing_file(path)
    assert workspace.state.files == {f"/Volumes/ecommerce/bronze/landing/{path.name}": b'{"source":"ns/orders"}\n'}
    assert not path.exists() and warehouse.unstaged_landing_files(landing) == []
    uploads = [r for r in workspace.state.requests if r.method == "PUT"]
    assert uploads[0].query == {"overwrite": "true"}


class LoadedFilesSession(LiveSession):
    """The live session against the stand-in for the REST API (warehouse state, Files API), with
    raw_events answered here: the landing files named in `loaded` are those it holds rows of."""

    def __init__(self, access: DatabricksAccess, loaded: set[str]) -> None:
        super().__init__(access)
        self.loaded = loaded
        self.sent: list[str] = []

    def execute(self, text: str) -> Outcome:
        self.sent.append(text)
        assert text.startswith("SELECT DISTINCT landing_file\nFROM ecommerce.bronze.raw_events\n"
                               "WHERE landing_file IN (")
        asked = text.split("IN (", 1)[1].rstrip(")").split(", ")
        return Outcome(["landing_file"], [(n.strip("'"),) for n in asked if n.strip("'") in self.loaded])


def _volume_with_files(workspace, tmp_path, ages: dict[str, float]) -> dict[str, str]:
    """Upload one landing file per name through files.upload, then set its age in hours."""
    import time as clock

    landing = tmp_path / "landing"
    landing.mkdir()
    warehouse = DatabricksWarehouse.live(Names(), _access(workspace.host))
    remote = {}
    for name, hours in ages.items():
        path = landing / name
        path.write_text('{"source":"ns/orders"}\n')
        warehouse.stage_landing_file(path)
        remote[name] = f"/Volumes/ecommerce/bronze/landing/{name}"
        workspace.state.file_times[remote[name]] = int((clock.time() - hours * 3600) * 1000)
    return remote


def test_loaded_landing_files_are_removed_from_the_volume_through_the_files_api(workspace, tmp_path):
    """The real SDK lists the Volume (paged: the stand-in answers 4 entries a page) and deletes the
    old files raw_events holds; an old file not loaded, a new one and a folder stay."""
    from ecomctl.ingest import remove_loaded_landing_files

    names = [f"20260101T00000{i}_ns-orders_p0_{i:012d}-{i:012d}_f{i}.json" for i in range(7)]
    ages = dict.fromkeys(names[:5], 30.0) | {names[5]: 1.0, names[6]: 30.0}
    remote = _volume_with_files(workspace, tmp_path, ages)
    workspace.state.files["/Volumes/ecommerce/bronze/landing/_checkpoints/x.json"] = b"{}"
    workspace.state.file_times["/Volumes/ecommerce/bronze/landing/_checkpoints/x.json"] = 0
    session = LoadedFilesSession(_access(workspace.host), loaded=set(names[:6]))
    warehouse = DatabricksWarehouse(Names(), session)
    workspace.clear_requests()

    assert remove_loaded_landing_files(warehouse, tmp_path / "landing", 24) == 5
    assert sorted(workspace.state.files) == sorted(
        [remote[names[5]], remote[names[6]], "/Volumes/ecommerce/bronze/landing/_checkpoints/x.json"])
    lists = [r for r in workspace.api_requests() if r.path.startswith("/api/2.0/fs/directories")]
    assert {r.path for r in lists} == {"/api/2.0/fs/directories/Volumes/ecommerce/bronze/landing/"}
    assert len(lists) == 2  # 8 entries, 4 a page: the SDK followed next_page_token
    deletes = [r.path for r in workspace.api_requests() if r.method == "DELETE"]
    assert deletes == [f"/api/2.0/fs/files{remote[n]}" for n in names[:5]]
    (asked,) = session.sent  # one query, for the six old landing files only
    assert all(f"'{n}'" in asked for n in names[:5] + [names[6]]) and names[5] not in asked


def test_a_landing_file_already_gone_is_not_an_error_but_a_refused_delete_is(workspace, tmp_path):
    name = "20260101T000000_ns-orders_p0_000000000000-000000000001_abc.json"
    remote = _volume_with_files(workspace, tmp_path, {name: 30.0})[name]
    warehouse = DatabricksWarehouse.live(Names(), _access(workspace.host))
    assert [f.name for f in warehouse.landing_files(tmp_path)] == [name]
    workspace.state.failures[("DELETE", r"^/api/2\.0/fs/files/")] = (403, "PERMISSION_DENIED", "no WRITE VOLUME")
    with pytest.raises(WarehouseError) as info:
        warehouse.remove_landing_file(tmp_path, name)
    assert str(info.value).startswith(f"cannot delete {remote}: access denied (no WRITE VOLUME")
    assert info.value.hint.startswith("the landing files are removed with READ VOLUME and WRITE VOLUME")
    workspace.state.failures.clear()
    warehouse.remove_landing_file(tmp_path, name)
    warehouse.remove_landing_file(tmp_path, name)  # 404 the second time: gone, as asked
    assert workspace.state.files == {}


def test_listing_a_missing_volume_says_to_run_setup(workspace):
    warehouse = DatabricksWarehouse.live(Names(volume="nothere"), _access(workspace.host))
    workspace.state.failures[("GET", r"^/api/2\.0/fs/directories/")] = (404, "NOT_FOUND", "no such volume")
    with pytest.raises(WarehouseError) as info:
        warehouse.landing_files(Path("unused"))
    assert str(info.value) == ("cannot list the files in /Volumes/ecommerce/bronze/nothere: not found "
                               "(no such volume) (run `ecomctl setup`, which creates the Volume)")


def test_a_classic_warehouse_cannot_host_materialized_views(workspace):
    workspace.state.warehouse["warehouse_type"] = "CLASSIC"
    warehouse = DatabricksWarehouse.live(Names(), _access(workspace.host))
    with pytest.raises(WarehouseError, match="cannot host materialized views.*Pro or serverless"):
        warehouse.run_sql("CREATE MATERIALIZED VIEW ecommerce.gold.mv_x AS SELECT 1 AS a")


# -- statements --------------------------------------------------------------------------------------
@pytest.mark.parametrize(("sql", "action", "target", "idempotent"), [
    ("CREATE SCHEMA IF NOT EXISTS c.b COMMENT 'x'", "create schema", "c.b", True),
    ("CREATE TABLE c.b.t (a INT)", "create table", "c.b.t", False),
    ("CREATE TABLE IF NOT EXISTS c.b.t (a INT)", "create table", "c.b.t", True),
    ("-- lead\nCREATE OR REPLACE TABLE c.b.t AS SELECT 1", "replace table", "c.b.t", True),
    ("CREATE VOLUME IF NOT EXISTS c.b.landing", "create volume", "c.b.landing", True),
    ("CREATE CATALOG IF NOT EXISTS shop", "create catalog", "shop", True),
    ("CREATE MATERIALIZED VIEW c.g.mv AS SELECT 1", "materialize view", "c.g.mv", False),
    ("CREATE OR REFRESH STREAMING TABLE c.b.s AS SELECT 1", "refresh streaming table", "c.b.s", True),
    ("COPY INTO c.b.raw FROM '/Volumes/c/b/v/' FILEFORMAT = JSON", "copy into", "c.b.raw", True),
    ("COPY INTO c.b.raw FROM '/V' FILEFORMAT = JSON COPY_OPTIONS ('force' = 'true')", "copy into", "c.b.raw", False),
    ("INSERT INTO `c`.`b`.`t` VALUES (1)", "insert", "c.b.t", False),
    ("MERGE INTO c.b.t AS t USING s ON t.a = s.a WHEN NOT MATCHED THEN INSERT *", "merge", "c.b.t", False),
    ("REFRESH MATERIALIZED VIEW c.g.mv", "refresh view", "c.g.mv", True),
    ("DROP MATERIALIZED VIEW IF EXISTS c.g.mv", "drop view", "c.g.mv", True),
    ("DELETE FROM c.b.t WHERE a = 1", "delete", "c.b.t", False),
    ("WITH x AS (SELECT 1) SELECT * FROM x", "select", None, True),
])
def test_statement_kinds(sql, action, target, idempotent):
    kind = classify(sql)
    assert (kind.action, kind.target, kind.idempotent) == (action, target, idempotent)


def test_connector_errors_are_sorted_into_retry_reconnect_or_fail():
    from databricks.sql import exc

    assert translate_connector_error(exc.RequestError("Remote end closed connection")).transient
    assert translate_connector_error(exc.ServerOperationError("[TEMPORARILY_UNAVAILABLE] try later")).transient
    gone = translate_connector_error(exc.ServerOperationError("Invalid SessionHandle: abc"))
    assert gone.session_gone and not gone.transient
    assert translate_connector_error(exc.ServerOperationError("HTTP 503 Service Unavailable")).transient
    assert not translate_connector_error(exc.ServerOperationError(
        "[QUERY_EXECUTION_TIMEOUT_EXCEEDED] timeout of 172800 s reached; 503 rows")).transient
    fatal = translate_connector_error(exc.ServerOperationError(
        "[TABLE_OR_VIEW_NOT_FOUND] The table `c`.`b`.`x` cannot be found.\nstack trace"))
    assert not fatal.transient and not fatal.session_gone
    assert fatal.message == "[TABLE_OR_VIEW_NOT_FOUND] The table `c`.`b`.`x` cannot be found."


class ScriptedSession:
    """Our session boundary, answering from a script: each statement gets the next answer for it."""

    dry_run = False

    def __init__(self, answers: dict[str, list] | None = None, can_host_mv: bool | None = True) -> None:
        self.answers = answers or {}
        self.sent: list[str] = []
        self.reconnects = 0
        self.started = 0
        self._can_host_mv = can_host_mv

    def ensure_running(self) -> None:
        self.started += 1

    def can_host_materialized_views(self):
        return self._can_host_mv

    def execute(self, text: str) -> Outcome:
        self.sent.append(text)
        for prefix, queue in self.answers.items():
            if text.startswith(prefix) and queue:
                answer = queue.pop(0)
                if isinstance(answer, BaseException):
                    raise answer
                return answer
        return Outcome()

    def reconnect(self) -> None:
        self.reconnects += 1

    def close(self) -> None:
        pass


def _warehouse(session: ScriptedSession, **kwargs) -> tuple[DatabricksWarehouse, list[float]]:
    sleeps: list[float] = []
    return DatabricksWarehouse(Names(), session, sleep=sleeps.append, **kwargs), sleeps


def test_idempotent_statements_are_retried_after_transient_errors():
    transient = StatementFailed("503 Service Unavailable", transient=True)
    session = ScriptedSession({"CREATE OR REPLACE": [transient, transient,
                                                     Outcome(["num_affected_rows", "num_inserted_rows"], [(5, 5)])]})
    warehouse, sleeps = _warehouse(session)
    result = warehouse.run_statement("CREATE OR REPLACE TABLE ecommerce.bronze.t AS SELECT 1", "f.sql", 2, 7)
    assert len(session.sent) == 3 and sleeps == [2.0, 5.0]
    assert (result.action, result.object, result.rows) == ("replace table", "ecommerce.bronze.t", 5)
    assert session.started == 1


def test_other_statements_are_not_retried():
    session = ScriptedSession({"INSERT": [StatementFailed("Remote end closed connection", transient=True)]})
    warehouse, sleeps = _warehouse(session)
    with pytest.raises(SqlError) as info:
        warehouse.run_statement("INSERT INTO ecommerce.bronze.t VALUES (1)", "f.sql", 3, 9)
    assert str(info.value) == ("f.sql, statement 3 (line 9): Remote end closed connection (a transient "
                               "error; not retried, since the statement may have run)")
    assert len(session.sent) == 1 and sleeps == []


def test_a_transient_error_that_persists_stops_after_the_retries():
    session = ScriptedSession({"SELECT": [StatementFailed("read timed out", transient=True)] * 4})
    warehouse, sleeps = _warehouse(session)
    with pytest.raises(SqlError, match="still failing after 3 retries"):
        warehouse.query("SELECT 1 AS a")
    assert len(session.sent) == 4


def test_an_expired_session_reconnects_and_sends_again():
    session = ScriptedSession({"INSERT": [StatementFailed("Invalid SessionHandle", session_gone=True),
                                          Outcome(["num_affected_rows", "num_inserted_rows"], [(2, 2)])]})
    warehouse, _ = _warehouse(session)
    result = warehouse.run_statement("INSERT INTO ecommerce.bronze.t VALUES (1), (2)")
    assert session.reconnects == 1 and len(session.sent) == 2 and result.rows == 2


def test_copy_into_reports_the_rows_it_loaded():
    session = ScriptedSession({"COPY INTO": [Outcome(
        ["num_affected_rows", "num_inserted_rows", "num_skipped_corrupt_files"], [(300, 300, 0)])]})
    warehouse, _ = _warehouse(session)
    result = warehouse.run_sql("COPY INTO ${catalog}.${bronze}.raw_events FROM '${landing_path}/' "
                               "FILEFORMAT = JSON")[0]
    assert session.sent == ["COPY INTO ecommerce.bronze.raw_events FROM '/Volumes/ecommerce/bronze/landing/' "
                            "FILEFORMAT = JSON"]
    assert (result.action, result.rows) == ("copy into", 300)


def test_table_rows_is_none_for_a_missing_table():
    session = ScriptedSession({"SELECT COUNT(*) AS row_count FROM `ecommerce`.`bronze`.`x`": [
        StatementFailed("[TABLE_OR_VIEW_NOT_FOUND] The table or view cannot be found.")]})
    warehouse, _ = _warehouse(session)
    assert warehouse.table_rows("ecommerce.bronze.x") is None


MV = "CREATE MATERIALIZED VIEW ecommerce.gold.mv_x COMMENT 'x' AS SELECT 1 AS a"


def _checksum_of(session: ScriptedSession) -> str:
    merge = next(s for s in session.sent if s.startswith("MERGE INTO"))
    return merge.split("AS name, '")[1].split("'")[0]


def test_a_new_materialized_view_is_created_and_its_checksum_kept():
    session = ScriptedSession({"SELECT COUNT(*)": [Outcome(["row_count"], [(1,)])]})
    warehouse, _ = _warehouse(session, mv_schedule="EVERY 1 HOUR")
    result = warehouse.run_sql(MV)[0]
    assert session.sent[0].startswith("CREATE TABLE IF NOT EXISTS ecommerce.ecomctl_meta._materialized_views")
    assert session.sent[1] == ("SELECT checksum FROM ecommerce.ecomctl_meta._materialized_views "
                               "WHERE name = 'ecommerce.gold.mv_x'")
    assert session.sent[2:5] == ["DROP MATERIALIZED VIEW IF EXISTS ecommerce.gold.mv_x", MV,
                                 "ALTER MATERIALIZED VIEW ecommerce.gold.mv_x ADD SCHEDULE EVERY 1 HOUR"]
    assert session.sent[5].startswith("MERGE INTO ecommerce.ecomctl_meta._materialized_views")
    assert (result.action, result.object, result.rows) == ("create view", "ecommerce.gold.mv_x", 1)


def test_an_unchanged_materialized_view_is_refreshed_a_changed_one_recreated():
    first = ScriptedSession()
    _warehouse(first)[0].run_sql(MV)
    checksum = _checksum_of(first)

    unchanged = ScriptedSession({"SELECT checksum": [Outcome(["checksum"], [(checksum,)])]})
    result = _warehouse(unchanged)[0].run_sql(MV)[0]
    assert unchanged.sent[2] == "REFRESH MATERIALIZED VIEW ecommerce.gold.mv_x"
    assert not any(s.startswith(("DROP", "CREATE MATERIALIZED")) for s in unchanged.sent)
    assert result.action == "refresh view"

    changed = ScriptedSession({"SELECT checksum": [Outcome(["checksum"], [(checksum,)])]})
    result = _warehouse(changed)[0].run_sql(MV.replace("1 AS a", "2 AS a"))[0]
    assert changed.sent[2] == "DROP MATERIALIZED VIEW IF EXISTS ecommerce.gold.mv_x"
    assert result.action == "recreate view" and _checksum_of(changed) != checksum

    rescheduled = ScriptedSession({"SELECT checksum": [Outcome(["checksum"], [(checksum,)])]})
    _warehouse(rescheduled, mv_schedule="EVERY 2 DAYS")[0].run_sql(MV)
    assert "ALTER MATERIALIZED VIEW ecommerce.gold.mv_x ADD SCHEDULE EVERY 2 DAYS" in rescheduled.sent


def test_a_materialized_view_dropped_by_hand_is_created_again():
    first = ScriptedSession()
    _warehouse(first)[0].run_sql(MV)
    session = ScriptedSession({
        "SELECT checksum": [Outcome(["checksum"], [(_checksum_of(first),)])],
        "REFRESH": [StatementFailed("[TABLE_OR_VIEW_NOT_FOUND] The table or view `mv_x` cannot be found.")]})
    result = _warehouse(session)[0].run_sql(MV)[0]
    assert MV in session.sent and result.action == "recreate view"


def test_a_warehouse_refusing_materialized_views_is_a_clear_error():
    session = ScriptedSession({"CREATE MATERIALIZED VIEW": [StatementFailed(
        "[UNSUPPORTED_FEATURE] Materialized views are only supported on Pro or Serverless SQL warehouses.")]},
        can_host_mv=None)
    with pytest.raises(WarehouseError, match="cannot host materialized views"):
        _warehouse(session)[0].run_sql(MV)


def test_the_catalog_must_exist_unless_asked_to_create_it():
    warehouse, _ = _warehouse(ScriptedSession())
    with pytest.raises(WarehouseError) as info:
        warehouse.ensure_catalog(create=False)
    assert str(info.value) == ("catalog 'ecommerce' does not exist in the workspace (ECOMCTL_CATALOG), or "
                               "you cannot use it (create it in Unity Catalog, or run `ecomctl setup "
                               "--create-catalog`)")

    found = ScriptedSession({"SELECT catalog_name": [Outcome(["catalog_name"], [("ecommerce",)])]})
    assert _warehouse(found)[0].ensure_catalog(create=False).action == "check catalog"

    create = ScriptedSession()
    result = _warehouse(create)[0].ensure_catalog(create=True)
    assert create.sent[0].startswith("CREATE CATALOG IF NOT EXISTS ecommerce\n")
    assert result.action == "create catalog"


def test_the_pipeline_shows_the_warehouse_error_before_the_hub(tmp_path, monkeypatch):
    """setup asks the warehouse first, so a wrong workspace is reported even without hub settings."""
    from ecomctl.pipeline import Pipeline

    settings = Settings.load({"target": "databricks", "home": tmp_path / "home"}, environ={
        "DATABRICKS_HOST": "https://nonexistent.invalid", "DATABRICKS_TOKEN": TOKEN,
        "DATABRICKS_WAREHOUSE_ID": "abc123"})
    with Pipeline(settings) as pipeline, pytest.raises(WarehouseError, match="does not resolve"):
        pipeline.setup()


def test_the_console_shows_the_wait_for_a_starting_warehouse(workspace, capsys):
    from ecomctl.cli.console import PipelineConsole

    _warehouse_state(workspace, "STOPPED")
    console = PipelineConsole(interactive=False)
    LiveSession(_access(workspace.host), reporter=console).ensure_running()
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "... starting SQL warehouse shop (it was stopped)"
    assert "... starting SQL warehouse shop: starting" in lines
    assert lines[-1] == "... SQL warehouse shop is running"


@pytest.mark.slow
def test_a_sql_endpoint_that_refuses_is_one_line_after_short_retries():
    """The real databricks.sql.connect, with our arguments, against a port nothing listens on."""
    session = LiveSession(_access("https://127.0.0.1"))
    started = time.perf_counter()
    with pytest.raises(WarehouseError) as info:
        session.execute("SELECT 1")
    assert time.perf_counter() - started < 45
    message = str(info.value)
    assert message.startswith("cannot open a session on SQL warehouse wh1 at https://127.0.0.1: ")
    assert message.endswith("(check DATABRICKS_HTTP_PATH / DATABRICKS_WAREHOUSE_ID)")
    assert "\n" not in message and TOKEN not in message


def test_a_profile_of_databrickscfg_is_used(workspace, tmp_path, monkeypatch):
    (tmp_path / ".databrickscfg").write_text(f"[shop]\nhost = {workspace.host}\ntoken = {TOKEN}\n")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(tmp_path / ".databrickscfg"))
    session = LiveSession(_access("", token=None, profile="shop"))
    session.ensure_running()
    last = workspace.state.requests[-1]
    assert (last.path, last.headers["Authorization"]) == ("/api/2.0/sql/warehouses/wh1", f"Bearer {TOKEN}")


def test_no_credentials_is_one_line_naming_the_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.databrickscfg
    with pytest.raises(WarehouseError) as info:
        LiveSession(_access("", token=None)).ensure_running()
    message = str(info.value)
    assert message.startswith("cannot configure Databricks authentication for the workspace: ")
    assert message.endswith("(set DATABRICKS_HOST and DATABRICKS_TOKEN, or DATABRICKS_CONFIG_PROFILE, "
                            "or the OAuth / Azure CLI settings of the Databricks unified auth)")
    assert "\n" not in message


class VolumeSession(ScriptedSession):
    """Our session boundary with a Volume: uploads keep the file, COPY INTO loads the files not yet
    loaded, and the checkpoint and row-count queries answer from what was loaded."""

    def __init__(self, setup_files) -> None:
        super().__init__()
        self.volume: dict[str, bytes] = {}
        self.times: dict[str, float] = {}
        self.loaded: set[str] = set()
        self.rows: list[dict] = []
        self.history = [(f.version, f.name, f.checksum, None) for f in setup_files]

    def upload(self, local: Path, remote: str) -> None:
        self.sent.append(f"<upload {remote}>")
        self.volume[remote] = Path(local).read_bytes()
        self.times[remote] = time.time()

    def list_files(self, remote_dir: str) -> list[tuple[str, float]]:
        self.sent.append(f"<list {remote_dir}>")
        return [(name.rpartition("/")[2], self.times[name]) for name in self.volume]

    def delete_file(self, remote: str) -> None:
        self.sent.append(f"<delete {remote}>")
        self.volume.pop(remote, None)

    def execute(self, text: str) -> Outcome:
        self.sent.append(text)
        if text.startswith("COPY INTO"):
            new = [name for name in self.volume if name not in self.loaded]
            for name in new:
                self.rows += [json.loads(line) for line in self.volume[name].decode().splitlines()]
                self.loaded.add(name)
            count = sum(len(self.volume[n].decode().splitlines()) for n in new)
            return Outcome(["num_affected_rows", "num_inserted_rows", "num_skipped_corrupt_files"],
                           [(count, count, 0)])
        if text.startswith("SELECT partition_id, MAX(sequence_number)"):
            best: dict[str, int] = {}
            for row in self.rows:
                best[row["partition_id"]] = max(best.get(row["partition_id"], -1), row["sequence_number"])
            return Outcome(["partition_id", "checkpoint"], sorted(best.items()))
        if text.startswith("SELECT DISTINCT landing_file"):
            asked = {n.strip("'") for n in text.split("IN (", 1)[1].rstrip(")").split(", ")}
            held = sorted({row.get("landing_file") for row in self.rows} & asked)
            return Outcome(["landing_file"], [(n,) for n in held])
        if text.startswith("SELECT COUNT(*)"):
            return Outcome(["row_count"], [(len(self.rows),)])
        if text.startswith("SELECT version, file, checksum, applied_at"):
            return Outcome(["version", "file", "checksum", "applied_at"], self.history)
        return Outcome()


def test_client_ingest_uploads_each_landing_file_before_copy_into(tmp_path):
    from datetime import timedelta

    from ecomctl.events.eventlog import EmbeddedEventLog
    from ecomctl.events.generator import generate_messages
    from ecomctl.pipeline import Pipeline
    from ecomctl.warehouse.sqlfiles import load_step

    settings = Settings.load({"target": "databricks", "home": tmp_path / "home"},
                             environ={"DATABRICKS_WAREHOUSE_ID": "wh1", "ECOMCTL_INGEST_BATCH": "40"})
    hub = EmbeddedEventLog(tmp_path / "hub.db", partitions=2, retention=timedelta(days=7))
    hub.send(generate_messages(100, seed=3))
    session = VolumeSession(load_step("setup"))
    # A file an interrupted run wrote but did not upload: uploaded and loaded first.
    leftover = settings.landing_dir / "20260101T000000_local-orders_p0_000000000000-000000000000_left.json"
    leftover.parent.mkdir(parents=True)
    leftover.write_text(json.dumps({"source": "other/hub", "partition_id": "9", "sequence_number": 0}) + "\n")
    with Pipeline(settings) as pipeline:
        pipeline.__dict__["transport"] = hub
        pipeline.__dict__["warehouse"] = DatabricksWarehouse(Names(), session, sleep=lambda s: None)
        step = pipeline.ingest()

    assert step.details["received"] == 100 and step.details["recovered_from_earlier_run"] == 1
    files = step.details["landing_files"]
    assert files == sum(-(-p["received"] // 40) for p in step.details["partitions"])  # 40 events a file
    uploads = [i for i, s in enumerate(session.sent) if s.startswith("<upload /Volumes/ecommerce/bronze/landing/")]
    copies = [i for i, s in enumerate(session.sent) if s.startswith("COPY INTO ecommerce.bronze.raw_events")]
    assert len(uploads) == files + 1 and len(copies) == files + 1
    assert all(u < c for u, c in zip(uploads, copies))  # each file is in the Volume before its COPY INTO
    assert session.sent[uploads[0]] == f"<upload /Volumes/ecommerce/bronze/landing/{leftover.name}>"
    assert list(settings.landing_dir.glob("*.json")) == []  # every local copy was uploaded, then removed
    assert len(session.rows) == 101
    bronze = [s for s in session.sent if s.startswith(("INSERT INTO ecommerce.bronze", "MERGE INTO ecommerce.bronze"))]
    assert bronze[-1].startswith("MERGE INTO ecommerce.bronze.rejected_events AS t")
    # The Volume is listed once, after the loads; every file is new, so none is removed yet.
    assert step.details["landing_files_removed"] == 0
    listed = session.sent.index("<list /Volumes/ecommerce/bronze/landing>")
    assert listed > copies[-1] and not any(s.startswith("<delete ") for s in session.sent)


def test_client_ingest_removes_loaded_files_past_the_retention_from_the_volume(tmp_path):
    """A day later, the next ingest deletes the Volume's files raw_events holds, after its own
    loads, and keeps its own new ones and an old file it never loaded."""
    from datetime import timedelta

    from ecomctl.events.eventlog import EmbeddedEventLog
    from ecomctl.events.generator import generate_messages
    from ecomctl.pipeline import Pipeline
    from ecomctl.warehouse.sqlfiles import load_step

    settings = Settings.load({"target": "databricks", "home": tmp_path / "home"},
                             environ={"DATABRICKS_WAREHOUSE_ID": "wh1", "ECOMCTL_INGEST_BATCH": "40"})
    hub = EmbeddedEventLog(tmp_path / "hub.db", partitions=2, retention=timedelta(days=7))
    session = VolumeSession(load_step("setup"))
    with Pipeline(settings) as pipeline:
        pipeline.__dict__["transport"] = hub
        pipeline.__dict__["warehouse"] = DatabricksWarehouse(Names(), session, sleep=lambda s: None)
        hub.send(generate_messages(100, seed=3))
        first = pipeline.ingest()
        old = sorted(session.volume)
        assert len(old) == first.details["landing_files"]
        # A file in the Volume that no load read (uploaded by hand, say): never removed.
        stray = "/Volumes/ecommerce/bronze/landing/20250101T000000_x_p0_000000000000-000000000000_y.json"
        session.volume[stray], session.loaded = b"", session.loaded | {stray}
        for name in [*old, stray]:
            session.times[name] = time.time() - 25 * 3600
        hub.send(generate_messages(30, seed=4))
        second = pipeline.ingest()

    assert second.details["landing_files_removed"] == len(old)
    assert stray in session.volume and not any(name in session.volume for name in old)
    assert len(session.volume) == 1 + second.details["landing_files"]
    deletes = [i for i, s in enumerate(session.sent) if s.startswith("<delete ")]
    last_copy = max(i for i, s in enumerate(session.sent) if s.startswith("COPY INTO"))
    assert len(deletes) == len(old) and min(deletes) > last_copy
