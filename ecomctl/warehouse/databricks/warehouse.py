"""DatabricksWarehouse: the databricks target. Runs the SQL files on a Databricks SQL warehouse.

Before the first statement the session reads the warehouse state through the REST API, and starts
a stopped warehouse and waits for it. Each statement goes alone, exactly as rendered. Only
idempotent statements (see statements.py) are retried after a transient error; an expired session
is reopened and the statement sent again, since the server refused it before running it.
Materialized views are views.py's; landing files are uploaded to the Volume through the Files API
before COPY INTO.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from ecomctl.errors import SqlError, WarehouseError
from ecomctl.warehouse.base import (LandingFile, Names, QueryParams, QueryResult, StatementResult,
                                    Warehouse, elapsed)
from ecomctl.warehouse.databricks.access import DatabricksAccess
from ecomctl.warehouse.databricks.errors import StatementFailed, names_missing_object
from ecomctl.warehouse.databricks.session import LiveSession, Outcome, PlannedSession
from ecomctl.warehouse.databricks.views import MaterializedViews, cannot_host_views
from ecomctl.warehouse.sqlfiles import string_literal
from ecomctl.warehouse.statements import StatementKind, classify

if TYPE_CHECKING:  # pragma: no cover
    from ecomctl.plan import Plan
    from ecomctl.results import Reporter

# Waits between attempts of an idempotent statement after a transient error.
RETRY_DELAYS = (2.0, 5.0, 15.0)


class DatabricksWarehouse(Warehouse):
    SUPPORTS_MATERIALIZED_VIEWS = True
    SUPPORTS_STREAMING_TABLES = True
    name = "databricks"

    def __init__(self, names: Names, session: "LiveSession | PlannedSession", *,
                 mv_schedule: str = "", managed_location: str = "",
                 sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__(names)
        self.session = session
        self.views = MaterializedViews(self, mv_schedule)
        self.managed_location = managed_location
        self._sleep = sleep
        self._running = False

    @classmethod
    def live(cls, names: Names, access: DatabricksAccess, *, reporter: "Reporter | None" = None,
             mv_schedule: str = "", managed_location: str = "") -> "DatabricksWarehouse":
        return cls(names, LiveSession(access, reporter=reporter), mv_schedule=mv_schedule,
                   managed_location=managed_location)

    @classmethod
    def planned(cls, names: Names, access: DatabricksAccess | None, plan: "Plan", *,
                mv_schedule: str = "", managed_location: str = "") -> "DatabricksWarehouse":
        return cls(names, PlannedSession(access, plan), mv_schedule=mv_schedule,
                   managed_location=managed_location)

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
            return self.views.materialize(text, kind, file, index, line)
        started = time.perf_counter()
        outcome = self.send(text, kind, file, index, line)
        return StatementResult(file, index, line, kind.target, kind.action, _rows(kind, outcome),
                               elapsed(started))

    def query(self, sql: str, *, file: str = "<query>", params: QueryParams | None = None) -> QueryResult:
        text, line = self.query_text(sql, file, params, bind=False)
        outcome = self.send(text, classify(text), file, 1, line)
        return QueryResult(outcome.columns, outcome.rows)

    def table_rows(self, fqn: str) -> int | None:
        name = ".".join(f"`{p.strip('`')}`" for p in fqn.split("."))
        text = f"SELECT COUNT(*) AS row_count FROM {name}"
        try:
            outcome = self.send(text, classify(text), "<row count>", 1, 1)
        except SqlError as exc:
            if names_missing_object(exc.problem):
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
        """With `create`, CREATE CATALOG IF NOT EXISTS (in the managed location, when one is set:
        workspaces enabled for Unity Catalog automatically have no metastore storage to default
        to); otherwise the catalog must already exist."""
        if create:
            location = (f"MANAGED LOCATION {string_literal(self.managed_location)}\n"
                        if self.managed_location else "")
            return self.run_sql(
                "CREATE CATALOG IF NOT EXISTS ${catalog}\n" + location +
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
        self.ensure_running()
        self.session.upload(Path(path), f"{self.names.landing_path}/{Path(path).name}")
        Path(path).unlink(missing_ok=True)

    def unstaged_landing_files(self, directory: Path) -> list[Path]:
        directory = Path(directory)
        if not directory.is_dir():
            return []
        return sorted(p for p in directory.glob("*.json") if p.is_file())

    def landing_files(self, directory: Path) -> list[LandingFile]:
        """The files in the Volume (the local copies are removed once uploaded), listed through the
        Files API with their modification times."""
        listed = self.session.list_files(self.names.landing_path)
        return sorted((LandingFile(name, modified) for name, modified in listed), key=lambda f: f.name)

    def remove_landing_file(self, directory: Path, name: str) -> None:
        self.session.delete_file(f"{self.names.landing_path}/{name}")

    def landing_removal_plan(self, directory: Path) -> tuple[str, str]:
        volume = self.names.landing_path
        return "api", (f"list the Volume (GET /api/2.0/fs/directories{volume}/), then "
                       f"DELETE /api/2.0/fs/files{volume}/<name> for each such file (Files API)")

    # -- sending statements --------------------------------------------------------------------------
    def ensure_running(self) -> None:
        """Once per connection, before the first statement: the session starts the warehouse."""
        if not self._running:
            self.session.ensure_running()
            self._running = True

    def send(self, text: str, kind: StatementKind, file: str, index: int, line: int) -> Outcome:
        """Send one statement: again on a new session when the old one expired, after a wait when
        the failure was transient and the statement idempotent; else a SqlError naming file,
        statement and line."""
        self.ensure_running()
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
                if kind.action == "materialize view" and cannot_host_views(failure.message):
                    raise self.views.cannot_host_error(failure.message) from None
                note = ""
                if failure.transient and not kind.idempotent:
                    note = " (a transient error; not retried, since the statement may have run)"
                elif failure.transient:
                    note = f" (still failing after {len(RETRY_DELAYS)} retries)"
                raise SqlError(file, failure.message + note, statement=index, line=line) from None


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

