"""The Warehouse interface every SQL engine adapter implements, and what its statements return."""

from __future__ import annotations

import stat
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Mapping, Sequence, Union

from ecomctl.errors import SqlError
from ecomctl.faults import fault_point
from ecomctl.warehouse.sqlfiles import (SqlFile, render, split_statements, sql_literal,
                                       validate_identifier)
from ecomctl.warehouse.statements import drop_statements

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


@dataclass(frozen=True)
class LandingFile:
    """A file at the Volume path: its name and when it was last modified (POSIX seconds)."""

    name: str
    modified: float


# A query's parameter values: written ${name} in its SQL, like the object names.
QueryParams = Mapping[str, Union[str, int, Sequence[Union[str, int]]]]


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
        results = []
        for s in split_statements(text, sql_file.name):
            fault_point(f"{sql_file.step}.statement")
            results.append(self.run_statement(s.text, file=sql_file.name, index=s.index, line=s.line))
        return results

    def drop_derived(self, sql_files: "list[SqlFile]") -> list[StatementResult]:
        """Drop every table and materialized view the files create (a full refresh)."""
        texts = [s.text for f in sql_files
                 for s in split_statements(render(f.text, self.names.as_mapping(), f.name), f.name)]
        return [self.run_statement(text, file=f"<full refresh of {sql_files[0].step}>", index=n)
                for n, text in enumerate(drop_statements(texts), 1)] if sql_files else []

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
    def query(self, sql: str, *, file: str = "<query>", params: QueryParams | None = None) -> QueryResult:
        """Run one query written in Databricks SQL (its ${names} are rendered first) and fetch its
        rows. `params` gives the values of ${name}s that change from run to run (see query_text)."""

    def query_text(self, sql: str, file: str, params: QueryParams | None, *,
                   bind: bool) -> tuple[str, int]:
        """The one statement of a query and its line: object names rendered, and each parameter
        written as a literal, or with `bind` as a `:name` marker whose value the engine binds (the
        text is then the same whatever the values). A list is for `IN (${name})`: its literals
        separated by commas, or bound as `SELECT unnest(:name)`."""
        names = self.names.as_mapping()
        clash = sorted(set(params or {}) & set(names))
        if clash:
            raise SqlError(file, f"query parameter {clash[0]!r} has the name of an object name")

        def marker(key: str, value: object) -> str:
            return f"SELECT unnest(:{key})" if isinstance(value, (list, tuple)) else f":{key}"

        values = {k: marker(k, v) if bind else sql_literal(v) for k, v in (params or {}).items()}
        return single_statement(render(sql, {**names, **values}, file), file)

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

    def landing_files(self, directory: Path) -> list[LandingFile]:
        """The files at the Volume path, with their modification times, sorted by name. Locally the
        landing folder is the Volume (its hidden .tmp files are listed too: callers skip them)."""
        directory = Path(directory)
        if not directory.is_dir():
            return []
        found = []
        for path in directory.iterdir():
            try:
                status = path.stat()
            except FileNotFoundError:  # removed while listing (an unpublished file being renamed)
                continue
            if stat.S_ISREG(status.st_mode):
                found.append(LandingFile(path.name, status.st_mtime))
        return sorted(found, key=lambda f: f.name)

    def remove_landing_file(self, directory: Path, name: str) -> None:
        """Delete one file at the Volume path; one already gone is not an error."""
        (Path(directory) / name).unlink(missing_ok=True)

    def landing_removal_plan(self, directory: Path) -> tuple[str, str]:
        """How landing files are listed and removed, for a plan: (entry kind, what is sent)."""
        return "write", f"list {directory} and delete each such file there"

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
