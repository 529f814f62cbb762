"""DryRunWarehouse: the local target in a dry run. Records each statement of the SQL files (the
Databricks SQL, after name substitution) instead of running it on DuckDB.

Queries answer with their column names and no rows, and no table exists yet: the plan is what a
fresh warehouse would get.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from ecomctl.warehouse.base import (Names, QueryResult, StatementResult, Warehouse, elapsed,
                                    single_statement)
from ecomctl.warehouse.sqlfiles import render
from ecomctl.warehouse.statements import classify, select_names

if TYPE_CHECKING:  # pragma: no cover
    from ecomctl.plan import Plan


class DryRunWarehouse(Warehouse):
    name = "dry run"

    def __init__(self, names: Names, plan: "Plan") -> None:
        super().__init__(names)
        self.plan = plan

    def run_statement(self, text: str, file: str = "<inline>", index: int = 1,
                      line: int = 1) -> StatementResult:
        started = time.perf_counter()
        kind = classify(text)
        self.plan.add("sql", text)
        return StatementResult(file, index, line, kind.target, kind.action, None, elapsed(started))

    def query(self, sql: str, *, file: str = "<query>") -> QueryResult:
        text, _ = single_statement(render(sql, self.names.as_mapping(), file), file)
        self.plan.add("sql", text)
        return QueryResult(select_names(text), [])

    def table_rows(self, fqn: str) -> int | None:
        return None

    def tables(self, schema: str) -> list[str]:
        return []

    def close(self) -> None:
        pass
