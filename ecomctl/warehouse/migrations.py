"""Versioned setup files, Flyway style: each applied once, recorded with its checksum.

The history lives in `<catalog>.<meta>.schema_history`, created with Databricks SQL sent through the
warehouse like any statement, so the same code works on every adapter. A file that changed after it
was applied, or a recorded version whose file is gone, stops the run with a MigrationError.
A file's statements are not wrapped in one transaction (Databricks has none for DDL): setup files
use IF NOT EXISTS so that a file interrupted half-way can simply run again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Sequence

from ecomctl.errors import MigrationError
from ecomctl.warehouse.base import StatementResult, Warehouse
from ecomctl.warehouse.sqlfiles import SqlFile, string_literal

HISTORY_TABLE = "schema_history"

_BOOTSTRAP = (
    "CREATE SCHEMA IF NOT EXISTS ${catalog}.${meta}\n"
    "COMMENT 'ecomctl bookkeeping: applied setup files'",
    f"CREATE TABLE IF NOT EXISTS ${{catalog}}.${{meta}}.{HISTORY_TABLE} (\n"
    "  version STRING, file STRING, checksum STRING, applied_at TIMESTAMP, seconds DOUBLE\n"
    ") COMMENT 'Setup files applied by ecomctl setup, with their checksums'",
)

State = Literal["applied", "pending", "changed"]


@dataclass
class MigrationStatus:
    file: SqlFile
    state: State
    applied_at: datetime | None = None


@dataclass
class _Applied:
    version: str
    file: str
    checksum: str
    applied_at: datetime | None


def status(warehouse: Warehouse, files: Sequence[SqlFile]) -> list[MigrationStatus]:
    """Each setup file with its state: applied, pending, or changed since it was applied."""
    return _status(_history(warehouse), files)


def check_statuses(statuses: Sequence[MigrationStatus], files: Sequence[SqlFile]) -> None:
    """Steps after setup run only on the setup they were written for: nothing edited or pending."""
    for state in statuses:
        _refuse_changed(state, files)
        if state.state == "pending":
            raise MigrationError(state.file.name, "has not been applied", hint="run `ecomctl setup`")


def apply_pending(warehouse: Warehouse, files: Sequence[SqlFile]) -> list[StatementResult]:
    """Apply the pending setup files in version order; each is recorded after its statements succeed."""
    _bootstrap(warehouse)
    history = _history(warehouse)
    by_version = {_key(f.version): f for f in files}
    for applied in history:
        if _key(applied.version) not in by_version:
            raise MigrationError(
                applied.file, f"version {applied.version} was applied on {_date(applied.applied_at)} "
                "but its file is missing", hint="restore the file; applied setup files are never deleted")
    states = _status(history, files)
    for state in states:
        _refuse_changed(state, files)
    results: list[StatementResult] = []
    for state in states:
        if state.state != "pending":
            continue
        started = time.perf_counter()
        results += warehouse.run_file(state.file)
        _record(warehouse, state.file, time.perf_counter() - started)
    return results


def _status(history: Sequence[_Applied], files: Sequence[SqlFile]) -> list[MigrationStatus]:
    by_version = {_key(a.version): a for a in history}
    result = []
    for f in _in_version_order(files):
        applied = by_version.get(_key(f.version))
        if applied is None:
            result.append(MigrationStatus(f, "pending"))
        elif applied.checksum != f.checksum:
            result.append(MigrationStatus(f, "changed", applied.applied_at))
        else:
            result.append(MigrationStatus(f, "applied", applied.applied_at))
    return result


def _refuse_changed(state: MigrationStatus, files: Sequence[SqlFile]) -> None:
    if state.state == "changed":
        raise MigrationError(
            state.file.name, f"edited after it was applied on {_date(state.applied_at)}",
            hint=f"restore it or add a new V file (V{_next_version(files)}__<description>.sql)")


def _bootstrap(warehouse: Warehouse) -> None:
    for index, statement in enumerate(_BOOTSTRAP, start=1):
        warehouse.run_sql(statement, file=f"<{HISTORY_TABLE} bootstrap {index}>")


def _history(warehouse: Warehouse) -> list[_Applied]:
    fqn = f"{warehouse.names.catalog}.{warehouse.names.meta}.{HISTORY_TABLE}"
    if warehouse.table_rows(fqn) is None:
        return []
    rows = warehouse.query(
        f"SELECT version, file, checksum, applied_at FROM ${{catalog}}.${{meta}}.{HISTORY_TABLE} "
        "ORDER BY applied_at", file=f"<{HISTORY_TABLE}>").rows
    return [_Applied(str(v), str(f), str(c), a) for v, f, c, a in rows]


def _record(warehouse: Warehouse, sql_file: SqlFile, seconds: float) -> None:
    warehouse.run_sql(
        f"INSERT INTO ${{catalog}}.${{meta}}.{HISTORY_TABLE} (version, file, checksum, applied_at, seconds) "
        f"VALUES ({string_literal(sql_file.version or '')}, {string_literal(sql_file.name)}, "
        f"{string_literal(sql_file.checksum)}, current_timestamp(), {seconds:.6f})",
        file=f"<{HISTORY_TABLE}>")


def _in_version_order(files: Sequence[SqlFile]) -> list[SqlFile]:
    return sorted(files, key=lambda f: (_key(f.version), f.name))


def _key(version: str | None) -> int:
    return int(version) if version and version.isdigit() else -1


def _next_version(files: Sequence[SqlFile]) -> str:
    versions = [f.version for f in files if f.version]
    width = max((len(v) for v in versions), default=3)
    return str(max((_key(v) for v in versions), default=0) + 1).zfill(width)


def _date(value: datetime | None) -> str:
    if value is None:
        return "an unknown date"
    return value.strftime("%Y-%m-%d %H:%M UTC")


