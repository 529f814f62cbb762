"""DuckDBWarehouse: the local target. Runs the Databricks SQL files on a DuckDB file.

As the Databricks warehouse does, it works through a session (session.py): the live one opens the
file and runs each statement there, the planned one records it into a dry-run plan. Either way
the names are substituted and each query checked to be one statement here.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from ecomctl.errors import ConfigError
from ecomctl.warehouse.base import (Names, QueryParams, QueryResult, StatementResult, Warehouse,
                                    elapsed)
from ecomctl.warehouse.duckdb.session import LiveSession, PlannedSession

if TYPE_CHECKING:  # pragma: no cover
    from ecomctl.plan import Plan

_RESERVED_CATALOGS = {"main", "system", "temp", "memory"}


class DuckDBWarehouse(Warehouse):
    SUPPORTS_MATERIALIZED_VIEWS = False  # emulated with tables; REFRESH re-runs the stored CTAS
    name = "duckdb"

    def __init__(self, path: Path, names: Names, *, volumes_root: Path,
                 memory_limit: str = "600MB", threads: int | None = None,
                 lock_wait: float | None = None,
                 on_wait: Callable[[str], None] | None = None, read_only: bool = False) -> None:
        """The warehouse in the DuckDB file at `path`, the Volume mapped to the folder
        `volumes_root`. With `lock_wait`, the connection takes turns with other ecomctl processes:
        an OS lock beside the file (ecomctl/locking.py) is held from before the file is opened
        until it is closed, waiting up to that many seconds (telling `on_wait` whom it waits for).
        `read_only` opens the file for reading only, under a lock readers share."""
        self._start(names, Path(volumes_root), LiveSession(
            Path(path), names, volumes_root=Path(volumes_root), memory_limit=memory_limit,
            threads=threads, lock_wait=lock_wait, on_wait=on_wait, read_only=read_only))

    @classmethod
    def planned(cls, names: Names, plan: "Plan", *, volumes_root: Path) -> "DuckDBWarehouse":
        """The dry run of the warehouse: the same warehouse over a session that records each
        statement into `plan` and opens no file; nothing is created under `volumes_root`."""
        warehouse = cls.__new__(cls)  # the constructor above builds the live session
        warehouse._start(names, Path(volumes_root), PlannedSession(plan))
        return warehouse

    def _start(self, names: Names, volumes_root: Path, session: "LiveSession | PlannedSession") -> None:
        super().__init__(names)
        self.check_catalog(names.catalog)
        self.volumes_root = volumes_root
        self.session = session

    @staticmethod
    def check_catalog(catalog: str, setting: str = "ECOMCTL_CATALOG") -> None:
        """The file is attached under the catalog's name, which DuckDB must not reserve."""
        if catalog.lower() in _RESERVED_CATALOGS:
            raise ConfigError(setting, f"{catalog!r} is reserved by DuckDB",
                              hint="choose another catalog name, e.g. ecommerce")

    def run_statement(self, text: str, file: str = "<inline>", index: int = 1,
                      line: int = 1) -> StatementResult:
        started = time.perf_counter()
        obj, action, rows = self.session.run(text, file, index, line)
        return StatementResult(file, index, line, obj, action, rows, elapsed(started))

    def query(self, sql: str, *, file: str = "<query>", params: QueryParams | None = None) -> QueryResult:
        # Bound, not written in: the text (and its translation, kept between runs) stays the same.
        text, line = self.query_text(sql, file, params, bind=True)
        return self.session.query(text, file, line, params)

    def table_rows(self, fqn: str) -> int | None:
        return self.session.table_rows(fqn)

    def tables(self, schema: str) -> list[str]:
        parts = schema.split(".")
        catalog, schema_name = (parts[0], parts[1]) if len(parts) == 2 else (self.names.catalog, schema)
        return self.session.tables(catalog, schema_name)

    def open_for_reading(self) -> None:
        if isinstance(self.session, LiveSession):
            self.session.open(read_only=True)

    def close(self) -> None:
        self.session.close()
