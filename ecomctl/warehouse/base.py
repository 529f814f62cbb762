"""The Warehouse interface every SQL engine adapter implements, and what its statements return."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Mapping

from ecomctl.errors import SqlError
from ecomctl.warehouse.sqlfiles import SqlFile, render, split_statements, validate_identifier

if TYPE_CHECKING:  # pragma: no cover
    from types import TracebackType


@dataclass
class StatementResult:
    file: str
    statement: int
    line: int
    object: str | None  # fully qualified target, lower case, e.g. "ecommerce.gold.mv_top_brands"
    action: str  # "create schema", "create table", "replace table", "materialize view", "copy into", ...
    rows: int | None  # rows affected (copy/insert/merge) or rows of the created table (CTAS); None for DDL
    seconds: float


@dataclass
class QueryResult:
    columns: list[str]
    rows: list[tuple] = field(default_factory=list)


# Which setting each name comes from, so a bad name is reported against what the user can change.
_NAME_SETTINGS = {
    "catalog": "ECOMCTL_CATALOG",
    "bronze": "ECOMCTL_BRONZE_SCHEMA",
    "silver": "ECOMCTL_SILVER_SCHEMA",
    "gold": "ECOMCTL_GOLD_SCHEMA",
    "meta": "ECOMCTL_META_SCHEMA",
    "volume": "ECOMCTL_VOLUME",
}


@dataclass(frozen=True)
class Names:
    """The configurable names that ${placeholders} in SQL files resolve to; each a checked identifier."""

    catalog: str = "ecommerce"
    bronze: str = "bronze"
    silver: str = "silver"
    gold: str = "gold"
    meta: str = "ecomctl_meta"
    volume: str = "landing"

    def __post_init__(self) -> None:
        for attr, setting in _NAME_SETTINGS.items():
            validate_identifier(getattr(self, attr), setting)

    @property
    def landing_path(self) -> str:
        """The Unity Catalog Volume path of the landing files (locally mapped to a folder)."""
        return f"/Volumes/{self.catalog}/{self.bronze}/{self.volume}"

    def as_mapping(self) -> dict[str, str]:
        mapping = {attr: getattr(self, attr) for attr in _NAME_SETTINGS}
        mapping["landing_path"] = self.landing_path
        return mapping


class Warehouse(ABC):
    """A SQL warehouse that runs the project's Databricks SQL files.

    Steps ask it what it can do (capability flags), never which engine it is.
    """

    SUPPORTS_MATERIALIZED_VIEWS: bool = False
    SUPPORTS_STREAMING_TABLES: bool = False  # CREATE STREAMING TABLE ... read_kafka (ingest --mode kafka)
    name: str = "warehouse"

    def __init__(self, names: Names) -> None:
        self.names = names

    def run_file(self, sql_file: SqlFile,
                 extra_names: Mapping[str, str] | None = None) -> list[StatementResult]:
        """Render the file's placeholders, split it and run each statement in order.

        `extra_names` adds placeholders beyond the object names (checked by whoever supplies them).
        Stops at the first failing statement with a SqlError naming file, statement and line.
        """
        text = render(sql_file.text, {**self.names.as_mapping(), **(extra_names or {})}, sql_file.name)
        return [self.run_statement(s.text, file=sql_file.name, index=s.index, line=s.line)
                for s in split_statements(text, sql_file.name)]

    def run_sql(self, text: str, *, file: str = "<inline>") -> list[StatementResult]:
        """Render and run a script of one or more statements (for SQL that is not in a file)."""
        rendered = render(text, self.names.as_mapping(), file)
        return [self.run_statement(s.text, file=file, index=s.index, line=s.line)
                for s in split_statements(rendered, file)]

    @abstractmethod
    def run_statement(self, text: str, file: str = "<inline>", index: int = 1,
                      line: int = 1) -> StatementResult:
        """Run one statement of final Databricks SQL (placeholders already rendered)."""

    @abstractmethod
    def query(self, sql: str, *, file: str = "<query>") -> QueryResult:
        """Run one query written in Databricks SQL (its ${names} are rendered first) and fetch its rows."""

    @abstractmethod
    def table_rows(self, fqn: str) -> int | None:
        """Rows in a table or view (catalog.schema.table or schema.table); None when it does not exist."""

    @abstractmethod
    def tables(self, schema: str) -> list[str]:
        """Names of the tables and views in a schema of the configured catalog, sorted."""

    def ensure_catalog(self, create: bool) -> StatementResult | None:
        """Make sure the configured catalog exists (creating it only when asked); None when the
        warehouse has nothing to check (a local file is its own catalog)."""
        return None

    def stage_landing_file(self, path: Path) -> None:  # noqa: B027 (a no-op where the folder is the Volume)
        """Make a landing file visible at the Volume path. Locally the landing folder is the Volume."""

    def unstaged_landing_files(self, directory: Path) -> list[Path]:
        """Landing files written but not yet visible at the Volume path (left by an interrupted run)."""
        return []

    def open_for_reading(self) -> None:  # noqa: B027 (a no-op where readers never wait)
        """Connect for reading only, now: beside other readers and without waiting for a writer,
        which raises ecomctl.locking.LockBusy naming it (the local file takes one writer at a
        time). For read-only commands, which show what they can rather than wait."""

    @abstractmethod
    def close(self) -> None:
        """Release the connection; the warehouse reconnects if used again."""

    def __enter__(self) -> "Warehouse":
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: "TracebackType | None") -> None:
        self.close()


def single_statement(text: str, file: str) -> "tuple[str, int]":
    """The one statement of a query text and its line; more than one is an error."""
    statements = split_statements(text, file)
    if len(statements) != 1:
        raise SqlError(file, f"expected one statement, found {len(statements)}")
    return statements[0].text, statements[0].line


def elapsed(started: float) -> float:
    return round(time.perf_counter() - started, 6)
