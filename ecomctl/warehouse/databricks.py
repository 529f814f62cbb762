"""DatabricksWarehouse: the databricks target. Runs the SQL files on a Databricks SQL warehouse.

Authentication is the databricks-sdk unified `Config` (profile, host + token, OAuth M2M, Azure CLI),
handed to databricks-sql-connector through `credentials_provider`, with short timeouts so a wrong
host fails in seconds. Before the first statement the warehouse state is read through the REST
API, and a stopped warehouse is started and waited for.

Each statement goes alone, exactly as rendered. Only idempotent statements (see statements.py) are
retried after a transient error; an expired session is reopened and the statement sent again,
since the server refused it before running it. Materialized views keep a checksum of their
definition in `<catalog>.<meta>._materialized_views`: unchanged -> REFRESH, changed -> drop and
create. Landing files are uploaded to the Volume through the Files API before COPY INTO.

All the talking to Databricks goes through a session: `LiveSession` connects, `PlannedSession`
records into a dry-run Plan, so a dry run makes exactly the decisions a run on a fresh workspace does.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from ecomctl.errors import ConfigError, SqlError, WarehouseError, first_line
from ecomctl.warehouse.base import (Names, QueryResult, StatementResult, Warehouse, elapsed,
                                    single_statement)
from ecomctl.warehouse.sqlfiles import render, string_literal
from ecomctl.warehouse.statements import StatementKind, classify, select_names

if TYPE_CHECKING:  # pragma: no cover
    from ecomctl.config import Secret, Settings
    from ecomctl.plan import Plan
    from ecomctl.results import Reporter

# A wrong host must fail in seconds: Config() and every REST call retry for at most this long.
HTTP_TIMEOUT_SECONDS = 10
RETRY_TIMEOUT_SECONDS = 5
WAREHOUSE_START_TIMEOUT = timedelta(minutes=20)
# Waits between attempts of an idempotent statement after a transient error.
RETRY_DELAYS = (2.0, 5.0, 15.0)

MV_META_TABLE = "_materialized_views"

_WAREHOUSE_ID = re.compile(r"^[A-Za-z0-9]+$")
_HTTP_PATH = re.compile(r"^/sql/1\.0/(?:endpoints|warehouses)/(?P<id>[A-Za-z0-9]+)/?$")
_SCHEDULE = re.compile(
    r"^(?:EVERY\s+\d+\s+(?:HOUR|HOURS|DAY|DAYS|WEEK|WEEKS)"
    r"|CRON\s+'[^'\\]+'(?:\s+AT\s+TIME\s+ZONE\s+'[A-Za-z0-9_/+:-]+')?)$", re.I)
_NOT_FOUND = ("TABLE_OR_VIEW_NOT_FOUND", "SCHEMA_NOT_FOUND", "NO_SUCH_CATALOG", "CATALOG_NOT_FOUND",
              "does not exist", "cannot be found")
_SESSION_GONE = ("invalid sessionhandle", "session_not_found", "session has expired",
                 "session is closed", "invalid session")
# Signs of a failure of the moment rather than of the statement. A statement timeout
# (QUERY_EXECUTION_TIMEOUT_EXCEEDED) is not one: running it again would take as long.
_TRANSIENT = re.compile(
    r"temporarily_unavailable|\b(?:http|status|code)[\s:=]*(?:429|502|503|504)\b|"
    r"remote end closed connection|connection reset|gateway timeout|"
    r"connection aborted|could not be scheduled|read timed out|connect timed out|service unavailable|"
    r"too many requests|bad gateway", re.I)
_NO_MV = ("materialized view", "materialized_view")
_NO_MV_REASON = ("serverless", "pro ", "not supported", "unsupported", "not enabled", "not allowed")


# -- settings -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DatabricksAccess:
    """Where the workspace and the warehouse are, and how to authenticate (checked, not connected)."""

    host: str = ""
    token: "Secret | None" = None
    profile: str = ""
    warehouse_id: str = ""
    http_path: str = ""

    @classmethod
    def from_settings(cls, settings: "Settings") -> "DatabricksAccess":
        host = settings.databricks_host.strip().rstrip("/")
        if host and not host.startswith(("https://", "http://")):
            host = "https://" + host
        warehouse_id = settings.databricks_warehouse_id.strip()
        http_path = settings.databricks_http_path.strip()
        if not warehouse_id and not http_path:
            raise ConfigError(settings.origin("databricks_warehouse_id"),
                              "the databricks target needs a SQL warehouse",
                              hint="set DATABRICKS_WAREHOUSE_ID (or DATABRICKS_HTTP_PATH)")
        if warehouse_id and not _WAREHOUSE_ID.match(warehouse_id):
            raise ConfigError(settings.origin("databricks_warehouse_id"),
                              f"{warehouse_id!r} is not a SQL warehouse id (letters and digits)")
        if http_path:
            match = _HTTP_PATH.match(http_path)
            if not match:
                raise ConfigError(settings.origin("databricks_http_path"),
                                  f"{http_path!r} is not a SQL warehouse HTTP path",
                                  hint="copy it from the warehouse's Connection details: "
                                       "/sql/1.0/warehouses/<id>")
            if warehouse_id and match.group("id") != warehouse_id:
                raise ConfigError(settings.origin("databricks_http_path"),
                                  f"names warehouse {match.group('id')}, but DATABRICKS_WAREHOUSE_ID "
                                  f"is {warehouse_id}", hint="set only one of the two")
            warehouse_id = match.group("id")
        return cls(host=host, token=settings.databricks_token or None,
                   profile=settings.databricks_profile.strip(), warehouse_id=warehouse_id,
                   http_path=http_path or f"/sql/1.0/warehouses/{warehouse_id}")

    @property
    def host_label(self) -> str:
        if self.host:
            return self.host
        return f"the host of profile {self.profile}" if self.profile else "the workspace"


def check_schedule(schedule: str, setting: str = "ECOMCTL_MV_SCHEDULE") -> str:
    """A materialized-view schedule as Databricks writes it after SCHEDULE: EVERY n HOURS or CRON."""
    schedule = " ".join(schedule.split())
    if schedule and not _SCHEDULE.match(schedule):
        raise ConfigError(setting, f"{schedule!r} is not a schedule",
                          hint="write EVERY 1 HOUR, EVERY 2 DAYS or CRON '0 0 6 * * ?' AT TIME ZONE 'UTC'")
    return schedule


# -- what a session answers -------------------------------------------------------------------------
@dataclass
class Outcome:
    columns: list[str] = field(default_factory=list)
    rows: list[tuple] = field(default_factory=list)
    rowcount: int = -1


class StatementFailed(Exception):
    """The warehouse refused or failed the statement; `message` is its first line."""

    def __init__(self, message: str, *, transient: bool = False, session_gone: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.transient = transient
        self.session_gone = session_gone


def translate_connector_error(exc: BaseException) -> StatementFailed:
    """A databricks-sql-connector error as a StatementFailed that says whether to retry or reconnect."""
    from databricks.sql import exc as sql_exc

    message = first_line(exc)
    lowered = str(exc).lower()
    session_gone = isinstance(exc, sql_exc.SessionAlreadyClosedError) or any(
        m in lowered for m in _SESSION_GONE)
    transient = not session_gone and (
        isinstance(exc, sql_exc.RequestError) and not isinstance(exc, sql_exc.NonRecoverableNetworkError)
        or bool(_TRANSIENT.search(lowered)))
    return StatementFailed(message, transient=transient, session_gone=session_gone)


# -- the live session ----------------------------------------------------------------------------
class LiveSession:
    """Talks to the workspace: REST API through the SDK, SQL through the connector."""

    dry_run = False

    def __init__(self, access: DatabricksAccess, *, reporter: "Reporter | None" = None,
                 start_timeout: timedelta = WAREHOUSE_START_TIMEOUT) -> None:
        _quiet_library_logging()
        self.access = access
        self.reporter = reporter
        self.start_timeout = start_timeout
        self.warehouse_info: Any = None
        self._connection: Any = None

    @cached_property
    def config(self) -> Any:
        from databricks.sdk.core import Config

        self._check_host_resolves()
        kwargs: dict[str, Any] = {"retry_timeout_seconds": RETRY_TIMEOUT_SECONDS,
                                  "http_timeout_seconds": HTTP_TIMEOUT_SECONDS,
                                  "warehouse_id": self.access.warehouse_id}
        if self.access.host:
            kwargs["host"] = self.access.host
        if self.access.token:
            kwargs["token"] = self.access.token.reveal()
        if self.access.profile:
            kwargs["profile"] = self.access.profile
        try:
            return Config(**kwargs)
        except Exception as exc:  # ValueError from the SDK's auth resolution, or a failed request
            raise WarehouseError(
                f"cannot configure Databricks authentication for {self.access.host_label}: "
                f"{first_line(exc)}",
                hint="set DATABRICKS_HOST and DATABRICKS_TOKEN, or DATABRICKS_CONFIG_PROFILE, "
                     "or the OAuth / Azure CLI settings of the Databricks unified auth") from None

    def _check_host_resolves(self) -> None:
        """An unknown host name fails here at once, instead of after the SDK's retries."""
        import socket
        from urllib.parse import urlparse

        hostname = urlparse(self.access.host).hostname if self.access.host else None
        if not hostname:
            return  # the host comes from a profile or the environment: the SDK resolves it
        try:
            socket.getaddrinfo(hostname, None)
        except socket.gaierror:
            raise WarehouseError(f"the Databricks workspace {self.access.host} does not resolve "
                                 "(unknown host name)",
                                 hint="check DATABRICKS_HOST and the network") from None

    @cached_property
    def workspace_client(self) -> Any:
        from databricks.sdk import WorkspaceClient

        return WorkspaceClient(config=self.config)

    def ensure_running(self) -> None:
        """Read the warehouse state; start a stopped warehouse and wait until it runs."""
        from databricks.sdk.service.sql import State

        warehouses = self.workspace_client.warehouses
        wid = self.access.warehouse_id
        info = self._api(lambda: warehouses.get(wid), f"read the state of SQL warehouse {wid}")
        state = info.state
        if state in (State.DELETED, State.DELETING):
            raise WarehouseError(f"SQL warehouse {wid} is {state.value.lower()}",
                                 hint="set DATABRICKS_WAREHOUSE_ID to a warehouse that exists")
        if state != State.RUNNING:
            name = info.name or wid
            self._waiting(f"starting SQL warehouse {name} (it was {state.value.lower()})")
            try:
                def progress(current: Any) -> None:
                    now = current.state.value.lower() if current.state else "unknown"
                    self._waiting(f"starting SQL warehouse {name}: {now}")

                if state in (State.STOPPED, State.STOPPING):
                    waiter = self._api(lambda: warehouses.start(wid), f"start SQL warehouse {wid}")
                    info = self._api(lambda: waiter.result(timeout=self.start_timeout, callback=progress),
                                     f"wait for SQL warehouse {wid} to start")
                else:
                    info = self._api(lambda: warehouses.wait_get_warehouse_running(
                        wid, timeout=self.start_timeout, callback=progress),
                        f"wait for SQL warehouse {wid} to start")
                self._waiting(f"SQL warehouse {name} is running")
            finally:
                self._waiting(None)
        self.warehouse_info = info

    def can_host_materialized_views(self) -> bool | None:
        """False on a classic warehouse; None when unknown (the server's answer decides)."""
        from databricks.sdk.service.sql import GetWarehouseResponseWarehouseType as Type

        info = self.warehouse_info
        if info is None:
            return None
        if info.enable_serverless_compute or info.warehouse_type == Type.PRO:
            return True
        return False if info.warehouse_type == Type.CLASSIC else None

    def execute(self, text: str) -> Outcome:
        from databricks.sql import exc as sql_exc

        connection = self._connect()
        try:
            with connection.cursor() as cursor:
                cursor.execute(text)
                columns = [d[0] for d in cursor.description or []]
                rows = [tuple(r) for r in cursor.fetchall()] if columns else []
                return Outcome(columns, rows, cursor.rowcount)
        except sql_exc.Error as exc:
            raise translate_connector_error(exc) from exc

    def reconnect(self) -> None:
        self.close()

    def upload(self, local: Path, remote: str) -> None:
        with open(local, "rb") as handle:
            self._api(lambda: self.workspace_client.files.upload(remote, handle, overwrite=True),
                      f"upload {local.name} to {remote}")

    def close(self) -> None:
        if self._connection is not None:
            try:
                self._connection.close()
            except Exception:  # already closed or the network is gone: nothing left to release
                pass
            self._connection = None

    def connect_arguments(self) -> dict[str, Any]:
        """What databricks.sql.connect receives: the SDK config's auth as the credentials provider."""
        config = self.config
        return {"server_hostname": config.hostname, "http_path": self.access.http_path,
                "credentials_provider": lambda: config.authenticate,
                # The warehouse runs before the first connect, so the long retries the connector
                # keeps for cold starts (900 s) would only hide a wrong HTTP path or a network
                # problem; statement-level retries are ours (RETRY_DELAYS).
                "_retry_stop_after_attempts_count": 4, "_retry_stop_after_attempts_duration": 20.0,
                "_retry_delay_max": 8.0, "_socket_timeout": 120, "user_agent_entry": "ecomctl"}

    def _connect(self) -> Any:
        if self._connection is None:
            from databricks import sql
            from databricks.sql import exc as sql_exc

            arguments = self.connect_arguments()
            try:
                self._connection = sql.connect(**arguments)
            except Exception as exc:  # the connector's errors, and urllib3's when the network fails
                if not (isinstance(exc, (sql_exc.Error, ValueError)) or _network_reason(exc)):
                    raise
                reason = _network_reason(exc)
                raise WarehouseError(
                    f"cannot open a session on SQL warehouse {self.access.warehouse_id} at "
                    f"{self.access.host_label}: " + (f"the host {reason}" if reason else first_line(exc)),
                    hint="check DATABRICKS_HTTP_PATH / DATABRICKS_WAREHOUSE_ID") from None
        return self._connection

    def _api(self, call: Callable[[], Any], what: str) -> Any:
        """A REST call whose failure becomes one line naming what was attempted."""
        from databricks.sdk.errors import DatabricksError, NotFound, PermissionDenied, Unauthenticated

        try:
            return call()
        except NotFound as exc:
            raise WarehouseError(f"cannot {what}: not found ({first_line(exc)})",
                                 hint="check DATABRICKS_WAREHOUSE_ID / DATABRICKS_HTTP_PATH") from None
        except (Unauthenticated, PermissionDenied) as exc:
            raise WarehouseError(f"cannot {what}: access denied ({first_line(exc)})",
                                 hint="check DATABRICKS_TOKEN or the profile's credentials") from None
        except DatabricksError as exc:
            raise WarehouseError(f"cannot {what}: {first_line(exc)}") from None
        except Exception as exc:  # the SDK's TimeoutError over requests' ConnectionError, and the like
            reason = _network_reason(exc)
            if reason is None:
                raise
            raise WarehouseError(f"cannot {what}: {self.access.host_label} {reason}",
                                 hint="check DATABRICKS_HOST and the network") from None

    def _waiting(self, text: str | None) -> None:
        if self.reporter is not None and hasattr(self.reporter, "waiting"):
            self.reporter.waiting(text)


# -- the planned session (dry run) -----------------------------------------------------------------
class PlannedSession:
    """Records what the live session would send; answers every query with no rows."""

    dry_run = True

    def __init__(self, access: DatabricksAccess | None, plan: "Plan") -> None:
        self.access = access
        self.plan = plan
        self.warehouse_info = None

    @property
    def _warehouse(self) -> str:
        return self.access.warehouse_id if self.access else "<DATABRICKS_WAREHOUSE_ID>"

    def ensure_running(self) -> None:
        self.plan.add("api", f"GET /api/2.0/sql/warehouses/{self._warehouse}: read its state; if it is "
                             f"stopped, POST .../start and wait until it is RUNNING")

    def can_host_materialized_views(self) -> bool | None:
        return None

    def execute(self, text: str) -> Outcome:
        self.plan.add("sql", text)
        return Outcome(columns=select_names(text))

    def reconnect(self) -> None:
        pass

    def upload(self, local: Path, remote: str) -> None:
        self.plan.add("upload", f"PUT /api/2.0/fs/files{remote}?overwrite=true (Files API) "
                                f"from {local}")

    @property
    def workspace_client(self) -> Any:
        raise WarehouseError("a dry run has no workspace client; it records API calls instead")

    def close(self) -> None:
        pass


# -- the warehouse ---------------------------------------------------------------------------------
class DatabricksWarehouse(Warehouse):
    SUPPORTS_MATERIALIZED_VIEWS = True
    SUPPORTS_STREAMING_TABLES = True
    HAS_DASHBOARD_SERVICE = True
    name = "databricks"

    def __init__(self, names: Names, session: "LiveSession | PlannedSession", *,
                 mv_schedule: str = "", sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__(names)
        self.session = session
        self.mv_schedule = check_schedule(mv_schedule)
        self._sleep = sleep
        self._running = False
        self._mv_meta_ready = False

    @classmethod
    def live(cls, names: Names, access: DatabricksAccess, *, reporter: "Reporter | None" = None,
             mv_schedule: str = "") -> "DatabricksWarehouse":
        return cls(names, LiveSession(access, reporter=reporter), mv_schedule=mv_schedule)

    @classmethod
    def planned(cls, names: Names, access: DatabricksAccess | None, plan: "Plan", *,
                mv_schedule: str = "") -> "DatabricksWarehouse":
        return cls(names, PlannedSession(access, plan), mv_schedule=mv_schedule)

    @property
    def dry_run(self) -> bool:
        return self.session.dry_run

    def workspace_client(self) -> Any:
        """The databricks-sdk WorkspaceClient built from the same Config as the SQL connection."""
        return self.session.workspace_client

    @property
    def warehouse_id(self) -> str | None:
        """The id of the SQL warehouse the statements run on (None in a dry run without settings)."""
        access = getattr(self.session, "access", None)
        return access.warehouse_id if access is not None and access.warehouse_id else None

    # -- running statements ------------------------------------------------------------------------
    def run_statement(self, text: str, file: str = "<inline>", index: int = 1,
                      line: int = 1) -> StatementResult:
        kind = classify(text)
        if kind.action == "materialize view":
            return self._materialize(text, kind, file, index, line)
        started = time.perf_counter()
        outcome = self._execute(text, kind, file, index, line)
        return StatementResult(file, index, line, kind.target, kind.action, _rows(kind, outcome),
                               elapsed(started))

    def query(self, sql: str, *, file: str = "<query>") -> QueryResult:
        text, line = single_statement(render(sql, self.names.as_mapping(), file), file)
        outcome = self._execute(text, classify(text), file, 1, line)
        return QueryResult(outcome.columns, outcome.rows)

    def table_rows(self, fqn: str) -> int | None:
        name = ".".join(f"`{p.strip('`')}`" for p in fqn.split("."))
        text = f"SELECT COUNT(*) AS row_count FROM {name}"
        try:
            outcome = self._execute(text, classify(text), "<row count>", 1, 1)
        except SqlError as exc:
            if any(marker.lower() in exc.problem.lower() for marker in _NOT_FOUND):
                return None
            raise
        return int(outcome.rows[0][0]) if outcome.rows else None

    def tables(self, schema: str) -> list[str]:
        parts = schema.split(".")
        catalog, schema_name = (parts[0], parts[1]) if len(parts) == 2 else (self.names.catalog, schema)
        rows = self.query(f"SELECT table_name FROM `{catalog}`.information_schema.tables "
                          f"WHERE table_schema = {string_literal(schema_name.lower())} "
                          "ORDER BY table_name", file="<tables>").rows
        return [str(r[0]) for r in rows]

    def close(self) -> None:
        self.session.close()
        self._running = False

    # -- capabilities the pipeline asks for ----------------------------------------------------------
    def ensure_catalog(self, create: bool) -> StatementResult:
        """With `create`, CREATE CATALOG IF NOT EXISTS; otherwise the catalog must already exist."""
        if create:
            return self.run_sql(
                "CREATE CATALOG IF NOT EXISTS ${catalog}\n"
                "COMMENT 'E-commerce order events: bronze, silver and gold schemas (ecomctl)'",
                file="<setup --create-catalog>")[0]
        started = time.perf_counter()
        found = self.query("SELECT catalog_name FROM system.information_schema.catalogs "
                           "WHERE catalog_name = " + string_literal(self.names.catalog.lower()),
                           file="<catalog check>").rows
        if self.dry_run:
            self.session.plan.add("check", f"stop unless catalog {self.names.catalog} exists "
                                           "(setup --create-catalog creates it instead)")
        elif not found:
            raise WarehouseError(
                f"catalog {self.names.catalog!r} does not exist in the workspace (ECOMCTL_CATALOG), "
                "or you cannot use it",
                hint="create it in Unity Catalog, or run `ecomctl setup --create-catalog`")
        return StatementResult("<catalog check>", 1, 1, self.names.catalog.lower(), "check catalog",
                               None, elapsed(started))

    def stage_landing_file(self, path: Path) -> None:
        """Upload a landing file to the Volume (overwriting: a retry sends the same bytes), then drop
        the local copy, so the files left in the local folder are exactly those not uploaded yet."""
        self._ensure_running()
        self.session.upload(Path(path), f"{self.names.landing_path}/{Path(path).name}")
        Path(path).unlink(missing_ok=True)

    def unstaged_landing_files(self, directory: Path) -> list[Path]:
        directory = Path(directory)
        if not directory.is_dir():
            return []
        return sorted(p for p in directory.glob("*.json") if p.is_file())

    # -- helpers -------------------------------------------------------------------------------------
    def _ensure_running(self) -> None:
        if not self._running:
            self.session.ensure_running()
            self._running = True

    def _execute(self, text: str, kind: StatementKind, file: str, index: int, line: int) -> Outcome:
        self._ensure_running()
        delays = list(RETRY_DELAYS)
        reconnected = False
        while True:
            try:
                return self.session.execute(text)
            except StatementFailed as failure:
                if failure.session_gone and not reconnected:
                    # The server refused the statement with the session: it never ran.
                    self.session.reconnect()
                    reconnected = True
                    continue
                if failure.transient and kind.idempotent and delays:
                    self._sleep(delays.pop(0))
                    continue
                if kind.action == "materialize view" and _cannot_host_mv(failure.message):
                    raise self._no_mv_error(failure.message) from None
                note = ""
                if failure.transient and not kind.idempotent:
                    note = " (a transient error; not retried, since the statement may have run)"
                elif failure.transient:
                    note = f" (still failing after {len(RETRY_DELAYS)} retries)"
                raise SqlError(file, failure.message + note, statement=index, line=line) from None

    def _materialize(self, text: str, kind: StatementKind, file: str, index: int,
                     line: int) -> StatementResult:
        started = time.perf_counter()
        fqn = kind.target or ""
        self._ensure_running()
        if self.session.can_host_materialized_views() is False:
            raise self._no_mv_error("the warehouse is a classic SQL warehouse")
        checksum = hashlib.sha256(f"{text}\n-- schedule: {self.mv_schedule}".encode()).hexdigest()
        self._ensure_mv_meta()
        known = self.query(f"SELECT checksum FROM ${{catalog}}.${{meta}}.{MV_META_TABLE} "
                           f"WHERE name = {string_literal(fqn)}", file=file).rows
        action = None
        if known and known[0][0] == checksum:
            refresh = f"REFRESH MATERIALIZED VIEW {fqn}"
            try:
                self._execute(refresh, classify(refresh), file, index, line)
                action = "refresh view"
            except SqlError as exc:  # dropped by hand since: create it again
                if not any(m.lower() in exc.problem.lower() for m in _NOT_FOUND):
                    raise
        if action is None:
            for statement in (f"DROP MATERIALIZED VIEW IF EXISTS {fqn}", text,
                              *([f"ALTER MATERIALIZED VIEW {fqn} ADD SCHEDULE {self.mv_schedule}"]
                                if self.mv_schedule else [])):
                self._execute(statement, classify(statement) if statement != text else kind,
                              file, index, line)
            self.run_sql(
                f"MERGE INTO ${{catalog}}.${{meta}}.{MV_META_TABLE} AS t\n"
                f"USING (SELECT {string_literal(fqn)} AS name, {string_literal(checksum)} AS checksum) AS s\n"
                "ON t.name = s.name\n"
                "WHEN MATCHED THEN UPDATE SET checksum = s.checksum, created_at = current_timestamp()\n"
                "WHEN NOT MATCHED THEN INSERT (name, checksum, created_at) "
                "VALUES (s.name, s.checksum, current_timestamp())", file=file)
            action = "recreate view" if known else "create view"
        return StatementResult(file, index, line, fqn, action, self.table_rows(fqn), elapsed(started))

    def _ensure_mv_meta(self) -> None:
        if not self._mv_meta_ready:
            self.run_sql(
                f"CREATE TABLE IF NOT EXISTS ${{catalog}}.${{meta}}.{MV_META_TABLE} (\n"
                "  name STRING, checksum STRING, created_at TIMESTAMP\n"
                ") COMMENT 'Materialized views ecomctl created, with the checksum of their definition'",
                file=f"<{MV_META_TABLE}>")
            self._mv_meta_ready = True

    def _no_mv_error(self, reason: str) -> WarehouseError:
        return WarehouseError(
            f"SQL warehouse {self.warehouse_id or '?'} cannot host materialized views: {reason}",
            hint="use a Pro or serverless SQL warehouse on a Unity Catalog workspace with serverless "
                 "compute enabled")


def _rows(kind: StatementKind, outcome: Outcome) -> int | None:
    if kind.returns_rows:
        return len(outcome.rows)
    columns = [c.lower() for c in outcome.columns]
    preferred = ("num_inserted_rows", "num_affected_rows") if kind.action in (
        "copy into", "insert", "create table", "replace table") else ("num_affected_rows",)
    if outcome.rows:
        for name in preferred:
            if name in columns and outcome.rows[0][columns.index(name)] is not None:
                return int(outcome.rows[0][columns.index(name)])
    if outcome.rowcount >= 0 and kind.action in ("insert", "merge", "update", "delete", "copy into"):
        return outcome.rowcount
    return None


def _cannot_host_mv(message: str) -> bool:
    lowered = message.lower()
    return any(m in lowered for m in _NO_MV) and any(r in lowered for r in _NO_MV_REASON)


def _network_reason(exc: BaseException) -> str | None:
    """Why a REST call got no answer, from the chain of causes; None when it is not a network error."""
    import socket

    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(chain) < 10:
        chain.append(current)
        current = current.__cause__ or current.__context__
    names = {type(e).__name__ for e in chain}
    if "NameResolutionError" in names or any(isinstance(e, socket.gaierror) for e in chain):
        return "does not resolve (unknown host name)"
    if any(isinstance(e, ConnectionRefusedError) for e in chain):
        return "refused the connection"
    if any(isinstance(e, (TimeoutError, socket.timeout)) for e in chain) or "Timeout" in str(names):
        return f"did not answer within {RETRY_TIMEOUT_SECONDS + HTTP_TIMEOUT_SECONDS} s"
    if any(isinstance(e, OSError) or type(e).__module__.startswith(("requests", "urllib3"))
           for e in chain):
        return f"cannot be reached ({first_line(exc)})"
    return None


_logging_quieted = False


def _drop_host_metadata_warning(record: logging.LogRecord) -> bool:
    """Config() probes {host}/.well-known/databricks-config and, on workspaces without it, logs a
    warning that it falls back to the configuration it was given, which is what ecomctl wants."""
    return not str(record.msg).startswith("Failed to automatically resolve config from host metadata")


def _quiet_library_logging() -> None:
    """The SDK and the connector log warnings (host metadata, pyarrow) that are not ours to print;
    failures reach the user as our own one-line errors instead. The NullHandler keeps Python's
    last-resort handler from printing them to stderr when nothing configured logging; the filter
    drops the host-metadata warning even where something did (pytest, an embedding program)."""
    global _logging_quieted
    if not _logging_quieted:
        logging.getLogger("databricks").addHandler(logging.NullHandler())
        logging.getLogger("databricks.sdk").addFilter(_drop_host_metadata_warning)
        _logging_quieted = True
