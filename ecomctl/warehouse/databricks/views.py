"""The lifecycle of the materialized views on Databricks.

Each view keeps a checksum of its definition (and of its refresh schedule) in
`<catalog>.<meta>._materialized_views`: unchanged -> REFRESH, changed or dropped by hand -> drop and
create. A warehouse that cannot host them (classic, or no serverless compute) is one clear error.
"""

from __future__ import annotations

import hashlib
import re
import time
from typing import TYPE_CHECKING

from ecomctl.errors import ConfigError, SqlError, WarehouseError
from ecomctl.warehouse.base import StatementResult, elapsed
from ecomctl.warehouse.databricks.errors import names_missing_object
from ecomctl.warehouse.sqlfiles import string_literal
from ecomctl.warehouse.statements import StatementKind, classify

if TYPE_CHECKING:  # pragma: no cover
    from ecomctl.warehouse.databricks.warehouse import DatabricksWarehouse

MV_META_TABLE = "_materialized_views"

_SCHEDULE = re.compile(
    r"^(?:EVERY\s+(?P<number>\d+)\s+(?P<unit>HOUR|HOURS|DAY|DAYS|WEEK|WEEKS)"
    r"|CRON\s+'(?P<cron>[^'\\]+)'(?:\s+AT\s+TIME\s+ZONE\s+'[A-Za-z0-9_/+:-]+')?)$", re.I)
# The numbers EVERY accepts, per unit (ALTER MATERIALIZED VIEW, "schedule_clause":
# https://docs.databricks.com/sql/language-manual/sql-ref-syntax-ddl-alter-materialized-view.html).
EVERY_RANGES = {"HOUR": (1, 72), "DAY": (1, 31), "WEEK": (1, 8)}
_NO_MV = ("materialized view", "materialized_view")
_NO_MV_REASON = ("serverless", "pro ", "not supported", "unsupported", "not enabled", "not allowed")


def check_schedule(schedule: str, setting: str = "ECOMCTL_MV_SCHEDULE") -> str:
    """A materialized-view schedule as Databricks writes it after SCHEDULE: EVERY n HOURS (1 to 72),
    DAYS (1 to 31) or WEEKS (1 to 8), or CRON with a Quartz expression (6 or 7 fields)."""
    schedule = " ".join(schedule.split())
    if not schedule:
        return schedule
    match = _SCHEDULE.match(schedule)
    if not match:
        raise ConfigError(setting, f"{schedule!r} is not a schedule",
                          hint="write EVERY 1 HOUR, EVERY 2 DAYS or CRON '0 0 6 * * ?' AT TIME ZONE 'UTC'")
    if match["unit"]:
        unit = match["unit"].upper().rstrip("S")
        low, high = EVERY_RANGES[unit]
        if not low <= int(match["number"]) <= high:
            raise ConfigError(setting, f"{schedule!r} is out of range: Databricks accepts EVERY "
                              f"{low} to {high} {unit}S",
                              hint="EVERY takes 1 to 72 HOURS, 1 to 31 DAYS or 1 to 8 WEEKS; "
                                   "a CRON schedule for any other interval")
    elif len(match["cron"].split()) not in (6, 7):
        raise ConfigError(setting, f"{schedule!r}: a Quartz cron expression has 6 or 7 fields "
                          "(seconds minutes hours day-of-month month day-of-week [year]), "
                          f"not {len(match['cron'].split())}",
                          hint="for example CRON '0 0 6 * * ?' AT TIME ZONE 'UTC', 06:00 every day")
    return schedule


def cannot_host_views(message: str) -> bool:
    """Whether the warehouse refused a materialized view because of what it is, not the SQL."""
    lowered = message.lower()
    return any(m in lowered for m in _NO_MV) and any(r in lowered for r in _NO_MV_REASON)


class MaterializedViews:
    """Creates, refreshes or recreates the materialized views of one warehouse, through it."""

    def __init__(self, warehouse: "DatabricksWarehouse", schedule: str = "") -> None:
        self.warehouse = warehouse
        self.schedule = check_schedule(schedule)
        self._meta_ready = False

    def materialize(self, text: str, kind: StatementKind, file: str, index: int,
                    line: int) -> StatementResult:
        warehouse = self.warehouse
        started = time.perf_counter()
        fqn = kind.target or ""
        warehouse.ensure_running()
        if warehouse.session.can_host_materialized_views() is False:
            raise self.cannot_host_error("the warehouse is a classic SQL warehouse")
        checksum = hashlib.sha256(f"{text}\n-- schedule: {self.schedule}".encode()).hexdigest()
        self._ensure_meta()
        known = warehouse.query(f"SELECT checksum FROM ${{catalog}}.${{meta}}.{MV_META_TABLE} "
                                f"WHERE name = {string_literal(fqn)}", file=file).rows
        action = None
        if known and known[0][0] == checksum:
            refresh = f"REFRESH MATERIALIZED VIEW {fqn}"
            try:
                warehouse.send(refresh, classify(refresh), file, index, line)
                action = "refresh view"
            except SqlError as exc:  # dropped by hand since: create it again
                if not names_missing_object(exc.problem):
                    raise
        if action is None:
            for statement in (f"DROP MATERIALIZED VIEW IF EXISTS {fqn}", text,
                              *([f"ALTER MATERIALIZED VIEW {fqn} ADD SCHEDULE {self.schedule}"]
                                if self.schedule else [])):
                warehouse.send(statement, classify(statement) if statement != text else kind,
                               file, index, line)
            warehouse.run_sql(
                f"MERGE INTO ${{catalog}}.${{meta}}.{MV_META_TABLE} AS t\n"
                f"USING (SELECT {string_literal(fqn)} AS name, {string_literal(checksum)} AS checksum) AS s\n"
                "ON t.name = s.name\n"
                "WHEN MATCHED THEN UPDATE SET checksum = s.checksum, created_at = current_timestamp()\n"
                "WHEN NOT MATCHED THEN INSERT (name, checksum, created_at) "
                "VALUES (s.name, s.checksum, current_timestamp())", file=file)
            action = "recreate view" if known else "create view"
        return StatementResult(file, index, line, fqn, action, warehouse.table_rows(fqn),
                               elapsed(started))

    def cannot_host_error(self, reason: str) -> WarehouseError:
        return WarehouseError(
            f"SQL warehouse {self.warehouse.warehouse_id or '?'} cannot host materialized views: "
            f"{reason}",
            hint="use a Pro or serverless SQL warehouse on a Unity Catalog workspace with serverless "
                 "compute enabled")

    def _ensure_meta(self) -> None:
        if not self._meta_ready:
            self.warehouse.run_sql(
                f"CREATE TABLE IF NOT EXISTS ${{catalog}}.${{meta}}.{MV_META_TABLE} (\n"
                "  name STRING, checksum STRING, created_at TIMESTAMP\n"
                ") COMMENT 'Materialized views ecomctl created, with the checksum of their definition'",
                file=f"<{MV_META_TABLE}>")
            self._meta_ready = True
