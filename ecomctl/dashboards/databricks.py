"""Publishing dashboards on Databricks: the AI/BI (Lakeview) dashboard, the ten saved queries and
the five Genie spaces, each found by name in the configured workspace folder and updated in place.

`DashboardApi` is the boundary: live it calls the workspace through databricks-sdk; in a dry run
it records the call it would make, one line each, without connecting or needing credentials.
"""

from __future__ import annotations

import json
import time
from abc import ABC, abstractmethod
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Callable, Iterator

from ecomctl.errors import ConfigError, EcomctlError, SqlError
from ecomctl.results import ObjectResult, StepResult
from ecomctl.warehouse.sqlfiles import relative_name

if TYPE_CHECKING:  # pragma: no cover
    from databricks.sdk import WorkspaceClient
    from databricks.sdk.service.dashboards import Dashboard, GenieSpace
    from databricks.sdk.service.sql import CreateQueryRequestQuery

    from ecomctl.config import Settings

Recorder = Callable[[str, str], None]

# The fields of a saved query that an update replaces (the Queries API's update_mask).
QUERY_UPDATE_MASK = "display_name,description,query_text,warehouse_id,tags"
QUERY_TAG = "ecomctl"
DRY_RUN_WAREHOUSE = "<DATABRICKS_WAREHOUSE_ID>"


@dataclass(frozen=True)
class Saved:
    """What a save did: the object's id ('' in a dry run) and 'create', 'update' or 'create or update'."""

    id: str
    action: str
    # Objects with the same name left alone because the API did not say which folder holds them.
    folder_unknown: tuple[str, ...] = ()


def warehouse_id(settings: "Settings") -> str:
    """DATABRICKS_WAREHOUSE_ID, else the id at the end of DATABRICKS_HTTP_PATH (/sql/1.0/warehouses/<id>),
    checked by the same rules as the SQL warehouse the statements run on (DatabricksAccess)."""
    if settings.databricks_warehouse_id.strip() or settings.databricks_http_path.strip():
        from ecomctl.warehouse.databricks import DatabricksAccess

        return DatabricksAccess.from_settings(settings).warehouse_id
    raise ConfigError("DATABRICKS_WAREHOUSE_ID", "not set; the dashboard, queries and Genie spaces run on a "
                      "SQL warehouse", hint="set DATABRICKS_WAREHOUSE_ID or DATABRICKS_HTTP_PATH")


# -- the API boundary ----------------------------------------------------------------------------

class DashboardApi(ABC):
    """The workspace calls that publishing makes. Build one with `live` or `dry_run`."""

    host: str | None = None

    @staticmethod
    def live(workspace_client: "WorkspaceClient", settings: "Settings") -> "DashboardApi":
        return _LiveApi(workspace_client, settings)

    @staticmethod
    def dry_run(record: Recorder, settings: "Settings | None" = None) -> "DashboardApi":
        return _DryRunApi(record, settings)

    @abstractmethod
    def make_folder(self, path: str) -> None:
        """Create the workspace folder and its parents (no-op when it exists)."""

    @abstractmethod
    def save_dashboard(self, dashboard: "Dashboard") -> Saved:
        """Create the dashboard, or update the one with its name in its folder."""

    @abstractmethod
    def publish_dashboard(self, dashboard_id: str, *, warehouse_id: str, embed_credentials: bool) -> None:
        """Publish the dashboard's current draft."""

    @abstractmethod
    def save_query(self, query: "CreateQueryRequestQuery") -> Saved:
        """Create the saved query, or update the one with its name in its folder."""

    @abstractmethod
    def save_genie_space(self, space: "GenieSpace") -> Saved:
        """Create the Genie space, or update the one with its title in its folder."""


def dashboard_path(dashboard: "Dashboard") -> str:
    """Where the workspace keeps a Lakeview dashboard: <folder>/<name>.lvdash.json."""
    return f"{dashboard.parent_path}/{dashboard.display_name}.lvdash.json"


class _LiveApi(DashboardApi):

    def __init__(self, workspace_client: "WorkspaceClient", settings: "Settings") -> None:
        self._w = workspace_client
        self._settings = settings
        self.host = (workspace_client.config.host or "").rstrip("/") or None
        self._queries: list[Any] | None = None
        self._spaces: list[Any] | None = None

    def make_folder(self, path: str) -> None:
        with _api_call(f"create the workspace folder {path}"):
            self._w.workspace.mkdirs(path)

    def save_dashboard(self, dashboard: "Dashboard") -> Saved:
        from databricks.sdk.errors import NotFound
        from databricks.sdk.service.dashboards import Dashboard
        from databricks.sdk.service.workspace import ObjectType

        path = dashboard_path(dashboard)
        with _api_call(f"look up {path}"):
            try:
                found = self._w.workspace.get_status(path)
            except NotFound:
                found = None
        if found is None:
            with _api_call(f"create the dashboard {dashboard.display_name!r}"):
                created = self._w.lakeview.create(dashboard)
            return Saved(created.dashboard_id or "", "create")
        if found.object_type != ObjectType.DASHBOARD or not found.resource_id:
            raise EcomctlError(f"{path} exists in the workspace and is not a dashboard",
                               hint="rename it, or choose another ECOMCTL_DASHBOARD_NAME or ECOMCTL_WORKSPACE_FOLDER")
        # The folder is fixed once created; an update sends the name, the JSON and the warehouse.
        change = Dashboard(display_name=dashboard.display_name, serialized_dashboard=dashboard.serialized_dashboard,
                           warehouse_id=dashboard.warehouse_id)
        with _api_call(f"update the dashboard {dashboard.display_name!r}"):
            updated = self._w.lakeview.update(found.resource_id, change)
        return Saved(updated.dashboard_id or found.resource_id, "update")

    def publish_dashboard(self, dashboard_id: str, *, warehouse_id: str, embed_credentials: bool) -> None:
        with _api_call("publish the dashboard"):
            self._w.lakeview.publish(dashboard_id, embed_credentials=embed_credentials, warehouse_id=warehouse_id)

    def save_query(self, query: "CreateQueryRequestQuery") -> Saved:
        from databricks.sdk.service.sql import UpdateQueryRequestQuery

        if self._queries is None:
            with _api_call("list saved queries"):
                self._queries = list(self._w.queries.list())
        existing = self._find_query(query.display_name, query.parent_path)
        if existing is None:
            with _api_call(f"create the saved query {query.display_name!r}"):
                created = self._w.queries.create(query=query)
            self._queries.append(created)
            return Saved(created.id or "", "create")
        change = UpdateQueryRequestQuery(display_name=query.display_name, description=query.description,
                                         query_text=query.query_text, warehouse_id=query.warehouse_id,
                                         tags=query.tags)
        with _api_call(f"update the saved query {query.display_name!r}"):
            self._w.queries.update(existing, QUERY_UPDATE_MASK, query=change)
        return Saved(existing, "update")

    def _find_query(self, name: str | None, folder: str | None) -> str | None:
        # The list does not say where a query lives; ask for the folder of each one with our name.
        for listed in self._queries or []:
            if listed.display_name != name or not listed.id:
                continue
            parent = getattr(listed, "parent_path", None)
            if parent is None:
                with _api_call(f"look up the saved query {name!r}"):
                    parent = self._w.queries.get(listed.id).parent_path
            if _same_folder(parent, folder):
                return listed.id
        return None

    def save_genie_space(self, space: "GenieSpace") -> Saved:
        if self._spaces is None:
            with _api_call("list Genie spaces"):
                self._spaces = list(self._list_spaces())
        existing, folder_unknown = self._find_space(space.title, space.parent_path)
        if existing is None:
            with _api_call(f"create the Genie space {space.title!r}"):
                created = self._w.genie.create_space(space.warehouse_id or "", space.serialized_space or "",
                                                     description=space.description, parent_path=space.parent_path,
                                                     title=space.title)
            # Created in our folder, whether or not the answer says so.
            self._spaces.append(replace(created, parent_path=created.parent_path or space.parent_path))
            return Saved(created.space_id, "create", folder_unknown)
        with _api_call(f"update the Genie space {space.title!r}"):
            self._w.genie.update_space(existing, description=space.description,
                                       serialized_space=space.serialized_space, title=space.title,
                                       warehouse_id=space.warehouse_id)
        return Saved(existing, "update")

    def _list_spaces(self) -> Iterator[Any]:
        token = None
        while True:
            page = self._w.genie.list_spaces(page_token=token)
            yield from page.spaces or []
            token = page.next_page_token
            if not token:
                return

    def _find_space(self, title: str, folder: str | None) -> tuple[str | None, tuple[str, ...]]:
        """The id of the space with this title in `folder` (None when there is none), and the ids of
        same-titled spaces whose folder neither the list nor the space itself reports (parent_path is
        a Public Preview field of the Genie API). Those may be anyone's, so they are never updated:
        a space of ours is then created beside them."""
        folder_unknown = []
        for listed in self._spaces or []:
            if listed.title != title:
                continue
            parent = listed.parent_path
            if parent is None:
                with _api_call(f"look up the Genie space {title!r}"):
                    parent = self._w.genie.get_space(listed.space_id).parent_path
            if parent is None:
                folder_unknown.append(listed.space_id)
            elif _same_folder(parent, folder):
                return listed.space_id, ()
        return None, tuple(folder_unknown)


def _same_folder(a: str | None, b: str | None) -> bool:
    return (a or "").rstrip("/") == (b or "").rstrip("/")


@contextmanager
def _api_call(what: str) -> Iterator[None]:
    """Turns a failed workspace call into one line saying what failed; never shows the request."""
    from databricks.sdk.errors import DatabricksError
    from requests import RequestException

    try:
        yield
    except DatabricksError as exc:
        code = getattr(exc, "error_code", None) or type(exc).__name__
        raise EcomctlError(f"Databricks: could not {what}: {code}: {exc}") from exc
    except (RequestException, TimeoutError) as exc:
        # The SDK retries unreachable hosts until its retry timeout, then raises TimeoutError.
        raise EcomctlError(f"Databricks: could not {what}: no answer from the workspace ({type(exc).__name__})",
                           hint="check DATABRICKS_HOST and the network") from exc


class _DryRunApi(DashboardApi):
    """Records each call it would make; it cannot know what exists, so a save says 'create or update'."""

    def __init__(self, record: Recorder, settings: "Settings | None") -> None:
        self._record = record
        self.host = ((settings.databricks_host if settings else "") or "").rstrip("/") or None
        self._listed_queries = False
        self._listed_spaces = False

    def make_folder(self, path: str) -> None:
        self._record("api", f"POST /api/2.0/workspace/mkdirs  path={path}")

    def save_dashboard(self, dashboard: "Dashboard") -> Saved:
        content = json.loads(dashboard.serialized_dashboard or "{}")
        widgets = sum(len(page.get("layout", [])) for page in content.get("pages", []))
        self._record("api", f"GET /api/2.0/workspace/get-status  path={dashboard_path(dashboard)}"
                            "  (find the dashboard)")
        self._record("api", "POST /api/2.0/lakeview/dashboards | PATCH /api/2.0/lakeview/dashboards/<id>  "
                     f"create or update  display_name={dashboard.display_name} parent_path={dashboard.parent_path} "
                     f"warehouse_id={dashboard.warehouse_id} datasets={len(content.get('datasets', []))} "
                     f"widgets={widgets}")
        return Saved("", "create or update")

    def publish_dashboard(self, dashboard_id: str, *, warehouse_id: str, embed_credentials: bool) -> None:
        self._record("api", f"POST /api/2.0/lakeview/dashboards/{dashboard_id or '<id>'}/published  "
                     f"embed_credentials={str(embed_credentials).lower()} warehouse_id={warehouse_id}")

    def save_query(self, query: "CreateQueryRequestQuery") -> Saved:
        if not self._listed_queries:
            self._listed_queries = True
            self._record("api", "GET /api/2.0/sql/queries  (find saved queries by name)")
        self._record("api", "POST /api/2.0/sql/queries | PATCH /api/2.0/sql/queries/<id>  create or update  "
                     f"display_name={query.display_name} parent_path={query.parent_path} "
                     f"warehouse_id={query.warehouse_id}")
        return Saved("", "create or update")

    def save_genie_space(self, space: "GenieSpace") -> Saved:
        if not self._listed_spaces:
            self._listed_spaces = True
            self._record("api", "GET /api/2.0/genie/spaces  (find Genie spaces by title)")
        content = json.loads(space.serialized_space or "{}")
        self._record("api", "POST /api/2.0/genie/spaces | PATCH /api/2.0/genie/spaces/<space_id>  create or update  "
                     f"title={space.title} parent_path={space.parent_path} warehouse_id={space.warehouse_id} "
                     f"tables={len(content['data_sources']['tables'])} "
                     f"questions={len(content['config']['sample_questions'])}")
        return Saved("", "create or update")


# -- what gets published -------------------------------------------------------------------------

@dataclass(frozen=True)
class Publication:
    """Everything publishing sends, as the SDK's own objects."""

    folder: str
    dashboard: "Dashboard"
    queries: list[tuple[str, "CreateQueryRequestQuery"]]   # (query name, request)
    spaces: list[tuple[str, "GenieSpace"]]                 # (space name, desired space; space_id unknown)


def build_publication(settings: "Settings", sql_root, names, warehouse: str) -> Publication:
    """The dashboard, saved queries and Genie spaces built from sql/dashboards with the configured names."""
    from databricks.sdk.service.dashboards import Dashboard, GenieSpace
    from databricks.sdk.service.sql import CreateQueryRequestQuery

    from ecomctl.dashboards.definitions import load_genie_spaces, load_queries
    from ecomctl.dashboards.genie import build_serialized_space
    from ecomctl.dashboards.lakeview import build_serialized_dashboard, render_queries

    mapping = names.as_mapping()
    folder = settings.workspace_folder
    rendered = render_queries(load_queries(sql_root), mapping, sql_root)
    content = build_serialized_dashboard(rendered, title=settings.dashboard_name)
    dashboard = Dashboard(display_name=settings.dashboard_name, parent_path=folder, warehouse_id=warehouse,
                          serialized_dashboard=json.dumps(content))
    queries = [(q.name, CreateQueryRequestQuery(display_name=q.query.title, description=q.query.description,
                                                query_text=q.sql, parent_path=folder, warehouse_id=warehouse,
                                                tags=[QUERY_TAG]))
               for q in rendered]
    _check_unique("saved query", [(q.file, q.query.title) for q in rendered])
    genie_spaces = load_genie_spaces(sql_root)
    _check_unique("Genie space", [(relative_name(s.file, sql_root), s.title) for s in genie_spaces])
    spaces = []
    for space in genie_spaces:
        file = relative_name(space.file, sql_root)
        serialized = build_serialized_space(space, mapping, file)
        spaces.append((space.name, GenieSpace(space_id="", title=f"{settings.dashboard_name}: {space.title}",
                                              description=space.description, parent_path=folder,
                                              warehouse_id=warehouse, serialized_space=json.dumps(serialized))))
    return Publication(folder=folder, dashboard=dashboard, queries=queries, spaces=spaces)


def _check_unique(kind: str, titled: list[tuple[str, str]]) -> None:
    """Objects are found by name, so two files with one title would overwrite each other."""
    seen: dict[str, str] = {}
    for file, title in titled:
        if title in seen:
            raise SqlError(file, f"title {title!r} is also used by {seen[title]}",
                           hint=f"each {kind} is found by its title in the workspace folder, so titles must differ")
        seen[title] = file


class DatabricksDashboards:
    """The dashboard publisher of a Databricks workspace: publishes the dashboard, saved queries
    and Genie spaces through `api`, then runs the summary queries and shows the key figures."""

    def __init__(self, api: DashboardApi, settings: "Settings", warehouse_id: str) -> None:
        self.api = api
        self.settings = settings
        self.warehouse_id = warehouse_id

    def publish(self, step: StepResult, warehouse, sql_root) -> None:
        from ecomctl.dashboards.publish import summary_panels

        publish_databricks(self.settings, sql_root, warehouse.names, step, self.api,
                           warehouse=self.warehouse_id)
        self.show(step, summary_panels(warehouse, sql_root, step), sql_root)

    def show(self, step: StepResult, panels: list, sql_root) -> None:
        from ecomctl.dashboards.publish import show_summary

        show_summary(step, panels, sql_root)  # the key figures and charts the local target shows


class PlannedDatabricksDashboards(DatabricksDashboards):
    """In a plan the API calls and queries are recorded; there is nothing to show."""

    def show(self, step: StepResult, panels: list, sql_root) -> None:
        pass


def publish_databricks(settings: "Settings", sql_root, names, step: StepResult, api: DashboardApi, *,
                       warehouse: str | None = None) -> None:
    """Create or update the dashboard (and publish it), the saved queries and the Genie spaces.

    `warehouse` is the id of the SQL warehouse the pipeline runs on; without it, the one the
    settings name.
    """
    warehouse = warehouse or warehouse_id(settings)
    publication = build_publication(settings, sql_root, names, warehouse)
    folder = publication.folder

    started = time.perf_counter()
    api.make_folder(folder)
    step.objects.append(ObjectResult(folder, "make folder", None, _since(started)))

    dashboard = publication.dashboard
    started = time.perf_counter()
    saved = api.save_dashboard(dashboard)
    step.objects.append(ObjectResult(f"dashboard {dashboard.display_name}", saved.action,
                                     None, _since(started)))
    started = time.perf_counter()
    api.publish_dashboard(saved.id, warehouse_id=warehouse, embed_credentials=settings.dashboard_embed_credentials)
    step.objects.append(ObjectResult(f"dashboard {dashboard.display_name}", "publish", None, _since(started)))
    links = [["dashboard", dashboard.display_name, saved.id, _url(api.host, "dashboardsv3", saved.id, "published")]]

    queries = []
    for name, query in publication.queries:
        started = time.perf_counter()
        saved_query = api.save_query(query)
        step.objects.append(ObjectResult(f"query {name}", saved_query.action, None, _since(started)))
        url = _url(api.host, "sql/editor", saved_query.id)
        queries.append({"name": name, "display_name": query.display_name, "id": saved_query.id,
                        "action": saved_query.action, "url": url})
        links.append(["saved query", query.display_name, saved_query.id, url])

    spaces = []
    for name, space in publication.spaces:
        started = time.perf_counter()
        saved_space = api.save_genie_space(space)
        questions = len(json.loads(space.serialized_space or "{}")["config"]["sample_questions"])
        step.objects.append(ObjectResult(f"genie space {name}", saved_space.action, questions, _since(started)))
        url = _url(api.host, "genie/rooms", saved_space.id)
        spaces.append({"name": name, "title": space.title, "id": saved_space.id, "action": saved_space.action,
                       "url": url, **({"same_title_folder_unknown": list(saved_space.folder_unknown)}
                                      if saved_space.folder_unknown else {})})
        links.append(["genie space", space.title, saved_space.id, url])

    step.details.update(
        workspace_folder=folder, warehouse_id=warehouse,
        dashboard={"name": dashboard.display_name, "id": saved.id, "action": saved.action,
                   "path": dashboard_path(dashboard), "url": links[0][3],
                   "embed_credentials": settings.dashboard_embed_credentials},
        queries=queries, genie_spaces=spaces)
    step.tables["published to Databricks"] = (["kind", "name", "id", "url"],
                                              [[kind, title, id_ or "-", url or "-"]
                                               for kind, title, id_, url in links])


def _url(host: str | None, kind: str, object_id: str, suffix: str = "") -> str | None:
    if not host or not object_id:
        return None
    return f"{host}/{kind}/{object_id}" + (f"/{suffix}" if suffix else "")


def _since(started: float) -> float:
    return round(time.perf_counter() - started, 6)
