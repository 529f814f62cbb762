"""One ad-hoc, read-only query on the target's warehouse: `ecomctl query "SELECT ..."`.

The query is Databricks SQL like every SQL file: `${catalog}`-style names are substituted and,
locally, the statement is translated for DuckDB. Only statements that read run (a statement's
first words say what it does, ecomctl/warehouse/statements.py; sqlglot looks inside a WITH); on
the local target the file is also opened read-only, so nothing can write through it. At most
`limit` rows come back: a query without a LIMIT of its own gets one (one row more than shown,
to tell whether there were more).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from ecomctl.errors import UsageError
from ecomctl.results import NullReporter, ObjectResult, StepResult, StepTimer
from ecomctl.warehouse.statements import classify

if TYPE_CHECKING:  # pragma: no cover
    from ecomctl.results import Reporter
    from ecomctl.warehouse.base import Warehouse

DEFAULT_LIMIT = 50
READ_ACTIONS = ("select", "show", "describe", "desc", "explain")
# sqlglot's names for statements that change something (the names differ across its versions).
_WRITES = ("Insert", "Update", "Delete", "Merge", "Create", "Drop", "Alter", "AlterTable", "Copy",
           "TruncateTable")


def run_query(warehouse: "Warehouse", sql: str, limit: int = DEFAULT_LIMIT,
              reporter: "Reporter | None" = None) -> StepResult:
    """Run one read-only query; its columns and first `limit` rows are in the step's details
    (`columns`, `rows`, `truncated`: whether it returned more)."""
    text = read_only_statement(sql)
    with StepTimer("query", "run one read-only query", reporter or NullReporter()) as step:
        started = time.perf_counter()
        result = warehouse.query(with_limit(text, limit))
        rows = [list(row) for row in result.rows[:limit]]
        step.objects.append(ObjectResult("query", classify(text).action, len(rows),
                                         time.perf_counter() - started))
        step.details.update(statement=text, columns=list(result.columns), rows=rows,
                            truncated=len(result.rows) > limit, limit=limit)
    return step


def read_only_statement(sql: str) -> str:
    """The one statement of `sql`, or a UsageError when there are several or it writes."""
    from ecomctl.errors import SqlError
    from ecomctl.warehouse.sqlfiles import split_statements

    try:
        statements = split_statements(sql, "<query>")
    except SqlError as exc:
        raise UsageError(str(exc)) from None
    if len(statements) != 1:
        raise UsageError(f"query runs one statement; this text has {len(statements)}",
                         hint="run each statement as its own `ecomctl query`")
    text = statements[0].text
    action = classify(text).action
    writes = action if action not in READ_ACTIONS else _write_inside(text)
    if writes:
        raise UsageError(f"query only reads, and this statement writes ({writes.upper()})",
                         hint="start it with SELECT, WITH, SHOW, DESCRIBE or EXPLAIN; the pipeline's "
                              "commands are what change tables")
    return text


def with_limit(text: str, limit: int) -> str:
    """`text` with `LIMIT limit + 1` when it is a query without a LIMIT of its own."""
    from sqlglot import exp

    tree = _parse(text)
    if not isinstance(tree, exp.Query) or tree.args.get("limit") is not None:
        return text  # not a query (SHOW, DESCRIBE, VALUES), or one with a LIMIT of its own
    return f"{text}\nLIMIT {limit + 1}"  # on a line of its own: the text may end in a -- comment


def _write_inside(text: str) -> str | None:
    """A write that the first words do not show (WITH ... INSERT INTO ...): its kind, or None."""
    from sqlglot import exp

    tree = _parse(text)
    if tree is None:
        return None  # not sqlglot's SQL: the first words decided (and locally the file is read-only)
    kinds = tuple(getattr(exp, name) for name in _WRITES if hasattr(exp, name))
    found = tree.find(*kinds)
    return found.key if found is not None else None


def _parse(text: str):
    import logging

    import sqlglot
    from sqlglot.errors import SqlglotError

    logging.getLogger("sqlglot").setLevel(logging.ERROR)  # SHOW, EXPLAIN: "falling back to Command"
    try:
        return sqlglot.parse_one(text, read="databricks")
    except SqlglotError:
        return None
