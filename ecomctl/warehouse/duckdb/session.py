"""The two sessions of the local warehouse: the DuckDB file, or a dry run's plan.

`LiveSession` opens the file (attached under the configured catalog name, so
`catalog.schema.table` works as on Unity Catalog; the file is named after the catalog too,
`<catalog>.duckdb`, so the `duckdb` CLI opening it directly knows the same names) and runs
each Databricks statement translated by dialect.py. Statements DuckDB has no equivalent for are
carried out here:
- COPY INTO from a Volume path: copy_into.py;
- CREATE VOLUME: creates the landing folder; CREATE CATALOG / USE CATALOG: the configured one only;
- CREATE MATERIALIZED VIEW: a table built by CTAS whose definition is kept in
  `<catalog>.<meta>._materialized_views`, so REFRESH MATERIALIZED VIEW re-runs it;
- COMMENT ON, ALTER TABLE ... SET TBLPROPERTIES, OPTIMIZE, VACUUM, ANALYZE: no-ops ("skip").

Translating needs sqlglot, slow to import; the live session keeps each statement it prepared in
`<catalog>.duckdb.statements.json` (prepared.py), so the statements every run repeats are
translated once.

`PlannedSession` records into a dry-run Plan each statement as the live session receives it: the
Databricks SQL after name substitution, not its translation, so a plan reads the same on both
targets. Nothing exists in a dry run: a query answers its column names and no rows.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from ecomctl.errors import SqlError, WarehouseError, first_line
from ecomctl.warehouse import dialect
from ecomctl.warehouse.base import Names, QueryParams, QueryResult
from ecomctl.warehouse.duckdb.copy_into import copy_into
from ecomctl.warehouse.duckdb.errors import StatementRefused, engine_hint, open_error
from ecomctl.warehouse.duckdb.prepared import SUFFIX, Prepared, StatementCache
from ecomctl.warehouse.duckdb.sqltext import ident, literal, table_sql, utc_now
from ecomctl.warehouse.sqlfiles import sql_literal
from ecomctl.warehouse.statements import classify, select_names

if TYPE_CHECKING:  # pragma: no cover
    from ecomctl.plan import Plan


# Where homes made before the file was named after the catalog keep it; a writer renames it.
LEGACY_FILE_NAME = "warehouse.duckdb"


class LiveSession:
    """The DuckDB file, opened on first use and held until close. `read_only`: opened for reading
    only, under a shared lock that readers hold together (a writer waits for them)."""

    def __init__(self, path: Path, names: Names, *, volumes_root: Path, memory_limit: str = "600MB",
                 threads: int | None = None, lock_wait: float | None = None,
                 on_wait: Callable[[str], None] | None = None, read_only: bool = False) -> None:
        self.path = path
        self.read_only = read_only
        self.names = names
        self.volumes_root = volumes_root
        self.memory_limit = memory_limit
        self.threads = threads
        self.lock_wait = lock_wait
        self.on_wait = on_wait
        self._lock: Any = None
        self._con: Any = None
        self._meta_ready = False
        self.statements = StatementCache(path.with_name(path.name + SUFFIX))

    # -- connection ------------------------------------------------------------------------
    @property
    def connection(self) -> Any:
        if self._con is None:
            self._con = self._connect()
        return self._con

    def open(self, *, read_only: bool = False) -> None:
        """Open the file now unless it is open. Read-only, it opens beside other readers and never
        waits for a writer: one that holds the file raises LockBusy naming it."""
        if self._con is None:
            self.read_only = self.read_only or read_only
            self._con = self._connect()

    def _connect(self) -> Any:
        import duckdb

        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.lock_wait is not None and self._lock is None:
            from ecomctl.locking import ProcessLock

            lock = ProcessLock(self.path.with_name("warehouse.lock"), f"the warehouse {self.path}")
            self._lock = (lock.acquire_shared() if self.read_only
                          else lock.acquire(self.lock_wait, self.on_wait))
        path = self._file()
        try:
            con = duckdb.connect(":memory:")
            con.execute("SET TimeZone = 'UTC'")  # Databricks TIMESTAMPs are UTC instants
            # DuckDB draws its own progress bar on stdout for statements over 2 s, which would
            # break --json (stdout is the report); the reporter shows progress instead.
            con.execute("SET enable_progress_bar = false")
            con.execute(f"SET memory_limit = {literal(self.memory_limit)}")
            con.execute("SET preserve_insertion_order = false")  # less memory; SQL order is by ORDER BY
            con.execute(f"SET temp_directory = {literal(str(self.path) + '.tmp')}")
            if self.threads:
                con.execute(f"SET threads = {int(self.threads)}")
            mode = " (READ_ONLY)" if self.read_only else ""
            con.execute(f"ATTACH {literal(str(path))} AS {ident(self.names.catalog)}{mode}")
            con.execute(f"USE {ident(self.names.catalog)}")
        except duckdb.Error as exc:
            self.close()
            raise open_error(path, exc) from None
        return con

    def _file(self) -> Path:
        """The file to open: `<catalog>.duckdb`, after a writer renamed a home's legacy
        warehouse.duckdb to it (under the lock, so no other ecomctl process has it open)."""
        legacy = self.path.with_name(LEGACY_FILE_NAME)
        if self.path.exists() or legacy == self.path or not legacy.exists():
            if self.read_only and not self.path.exists():
                self.close()
                raise WarehouseError(f"the warehouse {self.path} does not exist yet",
                                     hint="run `ecomctl setup` and `ecomctl ingest` first")
            return self.path
        if self.read_only:
            return legacy  # a reader changes nothing; the next writer renames it
        for suffix in ("", ".wal"):
            source = legacy.with_name(legacy.name + suffix)
            if source.exists():
                source.rename(self.path.with_name(self.path.name + suffix))
        return self.path

    def close(self) -> None:
        self.statements.save()
        try:
            if self._con is not None:
                self._con.close()
                self._con = None
                self._meta_ready = False
        finally:
            if self._lock is not None:
                self._lock.release()
                self._lock = None

    # -- running statements ------------------------------------------------------------------
    def run(self, text: str, file: str, index: int, line: int) -> tuple[str | None, str, int | None]:
        """Run one Databricks statement: (object, action, rows), or a SqlError naming file and line."""
        import duckdb

        try:
            return self._run(self.statements.prepare(text))
        except (dialect.TranslationError, StatementRefused) as exc:
            raise SqlError(file, str(exc), statement=index, line=line) from None
        except (duckdb.Error, OSError) as exc:
            self.rollback()
            raise SqlError(file, first_line(exc), statement=index, line=line,
                           hint=engine_hint(exc, self.path)) from exc

    def query(self, text: str, file: str, line: int, params: "QueryParams | None" = None) -> QueryResult:
        """Run one Databricks query and fetch its rows, binding `params` to its :name markers."""
        import duckdb

        try:
            statement = self.statements.prepare(text)
        except (dialect.TranslationError, StatementRefused) as exc:
            raise SqlError(file, str(exc), statement=1, line=line) from None
        if statement.kind != "sql":
            self.run(text, file, 1, line)
            return QueryResult([], [])
        try:
            cursor = self.connection.execute(statement.sql, dict(params) if params else None)
            columns = [d[0] for d in cursor.description or []]
            return QueryResult(columns, cursor.fetchall() if columns else [])
        except duckdb.Error as exc:
            raise SqlError(file, first_line(exc), statement=1, line=line,
                           hint=engine_hint(exc, self.path)) from exc

    def table_rows(self, fqn: str) -> int | None:
        catalog, schema, table = self.split_fqn(fqn)
        if not self.relation_exists(catalog, schema, table):
            return None
        (count,) = self.connection.execute(
            f"SELECT COUNT(*) FROM {ident(catalog)}.{ident(schema)}.{ident(table)}").fetchone()
        return int(count)

    def tables(self, catalog: str, schema_name: str) -> list[str]:
        rows = self.connection.execute(
            "SELECT table_name FROM duckdb_tables() WHERE lower(database_name) = lower(?) "
            "AND lower(schema_name) = lower(?) UNION SELECT view_name FROM duckdb_views() "
            "WHERE NOT internal AND lower(database_name) = lower(?) AND lower(schema_name) = lower(?)",
            [catalog, schema_name, catalog, schema_name]).fetchall()
        return sorted(r[0] for r in rows)

    # -- statement kinds -----------------------------------------------------------------------
    def _run(self, st: Prepared) -> tuple[str | None, str, int | None]:
        con = self.connection
        if st.kind == "noop":
            return self.fqn(st.target), "skip", None
        if st.kind == "create_catalog":
            if not st.target or st.target[0] != self.names.catalog.lower():
                raise StatementRefused(f"the local warehouse has one catalog, {self.names.catalog!r} "
                                       f"(ECOMCTL_CATALOG); {'.'.join(st.target or ())!r} is not it")
            return self.names.catalog.lower(), "skip", None
        if st.kind == "create_volume":
            return self._create_volume(st), "create volume", None
        if st.kind == "copy":
            return copy_into(self, st)
        if st.kind == "refresh":
            return self._refresh(st)

        target = self.fqn(st.target, schema_level=st.action == "create schema")
        create_if_missing = st.action in ("create schema", "create table") and st.if_not_exists
        if create_if_missing and self._exists(st.action, target):
            return target, "skip", None
        if st.kind == "materialize":
            self.ensure_meta()
            con.execute("BEGIN TRANSACTION")
            con.execute(st.sql)
            con.execute(f"DELETE FROM {self.meta('_materialized_views')} WHERE name = ?", [target])
            con.execute(f"INSERT INTO {self.meta('_materialized_views')} VALUES (?, ?, ?)",
                        [target, st.sql, utc_now()])
            con.execute("COMMIT")
            return target, st.action, self._count(target)
        if st.kind == "drop_materialized":
            con.execute(st.sql)
            if self._meta_exists():
                con.execute(f"DELETE FROM {self.meta('_materialized_views')} WHERE name = ?", [target])
            return target, st.action, None

        cursor = con.execute(st.sql)
        rows: int | None = None
        if st.returns_rows:
            rows = len(cursor.fetchall())
        elif st.action in ("insert", "merge", "update", "delete"):
            fetched = cursor.fetchone()
            rows = int(fetched[0]) if fetched else None
        elif st.action in ("create table", "replace table") and st.has_query:
            rows = self._count(target)
        return target, st.action, rows

    def _refresh(self, st: Prepared) -> tuple[str | None, str, int | None]:
        target = self.fqn(st.target)
        definition = None
        if self._meta_exists():
            found = self.connection.execute(
                f"SELECT definition FROM {self.meta('_materialized_views')} WHERE name = ?",
                [target]).fetchone()
            definition = found[0] if found else None
        if definition is None:
            raise StatementRefused(f"materialized view {target} does not exist; create it first")
        con = self.connection
        con.execute("BEGIN TRANSACTION")
        con.execute(definition)
        con.execute(f"UPDATE {self.meta('_materialized_views')} SET refreshed_at = ? WHERE name = ?",
                    [utc_now(), target])
        con.execute("COMMIT")
        return target, "refresh view", self._count(target)

    def _create_volume(self, st: Prepared) -> str:
        parts = self._qualify(st.target or (), 3)
        expected = (self.names.catalog.lower(), self.names.bronze.lower(), self.names.volume.lower())
        if parts != expected:
            raise StatementRefused(f"only the configured volume {'.'.join(expected)} maps to a local "
                                   f"folder (ECOMCTL_CATALOG, ECOMCTL_BRONZE_SCHEMA, ECOMCTL_VOLUME), "
                                   f"not {'.'.join(parts)}")
        self.volumes_root.mkdir(parents=True, exist_ok=True)
        return ".".join(parts)

    # -- catalog helpers -------------------------------------------------------------------------
    def ensure_meta(self) -> None:
        if self._meta_ready:
            return
        con = self.connection
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {ident(self.names.catalog)}.{ident(self.names.meta)}")
        con.execute(f"CREATE TABLE IF NOT EXISTS {self.meta('_copy_into_log')} ("
                    "target VARCHAR, file_name VARCHAR, rows BIGINT, loaded_at TIMESTAMP)")
        con.execute(f"CREATE TABLE IF NOT EXISTS {self.meta('_materialized_views')} ("
                    "name VARCHAR, definition VARCHAR, refreshed_at TIMESTAMP)")
        self._meta_ready = True

    def _meta_exists(self) -> bool:
        return self._meta_ready or self.relation_exists(
            self.names.catalog, self.names.meta, "_materialized_views")

    def meta(self, table: str) -> str:
        return f"{ident(self.names.catalog)}.{ident(self.names.meta)}.{ident(table)}"

    def _qualify(self, parts: tuple[str, ...], depth: int) -> tuple[str, ...]:
        """Fill in the catalog (and the default schema) of a name written with fewer parts."""
        parts = tuple(p.lower() for p in parts)
        if len(parts) == depth - 1:
            return (self.names.catalog.lower(),) + parts
        if len(parts) == depth - 2 and depth == 3:
            return (self.names.catalog.lower(), "main") + parts
        return parts

    def fqn(self, parts: tuple[str, ...] | None, *, schema_level: bool = False) -> str | None:
        if not parts:
            return None
        return ".".join(self._qualify(parts, 2 if schema_level else 3))

    def split_fqn(self, fqn: str) -> tuple[str, str, str]:
        parts = self._qualify(tuple(p.strip('`"') for p in fqn.split(".")), 3)
        if len(parts) != 3:
            raise SqlError("<query>", f"{fqn!r} is not a table name (catalog.schema.table)")
        return parts[0], parts[1], parts[2]

    def relation_exists(self, catalog: str, schema: str, table: str) -> bool:
        found = self.connection.execute(
            "SELECT 1 FROM duckdb_tables() WHERE lower(database_name) = lower(?) "
            "AND lower(schema_name) = lower(?) AND lower(table_name) = lower(?) "
            "UNION ALL SELECT 1 FROM duckdb_views() WHERE lower(database_name) = lower(?) "
            "AND lower(schema_name) = lower(?) AND lower(view_name) = lower(?)",
            [catalog, schema, table, catalog, schema, table]).fetchone()
        return found is not None

    def _exists(self, action: str, fqn: str | None) -> bool:
        if fqn is None:
            return False
        parts = fqn.split(".")
        if action == "create schema" and len(parts) == 2:
            return self.connection.execute(
                "SELECT 1 FROM duckdb_schemas() WHERE lower(database_name) = ? "
                "AND lower(schema_name) = ?", parts).fetchone() is not None
        if len(parts) == 3:
            return self.relation_exists(*parts)
        return False

    def _count(self, fqn: str | None) -> int | None:
        if fqn is None:
            return None
        (count,) = self.connection.execute(f"SELECT COUNT(*) FROM {table_sql(fqn)}").fetchone()
        return int(count)

    def rollback(self) -> None:
        if self._con is None:
            return
        try:
            self._con.execute("ROLLBACK")
        except Exception:  # no transaction open: nothing to undo
            pass


class PlannedSession:
    """Records what the live session would run; answers every query with no rows."""

    def __init__(self, plan: "Plan") -> None:
        self.plan = plan

    def run(self, text: str, file: str, index: int, line: int) -> tuple[str | None, str, int | None]:
        kind = classify(text)
        self.plan.add("sql", text)
        return kind.target, kind.action, None

    def query(self, text: str, file: str, line: int, params: "QueryParams | None" = None) -> QueryResult:
        bound = ", ".join(f":{k} = {sql_literal(v)}" for k, v in (params or {}).items())
        self.plan.add("sql", f"{text} -- binding {bound}" if bound else text)
        return QueryResult(select_names(text), [])

    def table_rows(self, fqn: str) -> int | None:
        return None

    def tables(self, catalog: str, schema_name: str) -> list[str]:
        return []

    def close(self) -> None:
        pass
