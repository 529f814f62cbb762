"""DuckDBWarehouse: the local target. Runs the Databricks SQL files on a DuckDB file.

The file is attached under the configured catalog name, so `catalog.schema.table` works as on
Unity Catalog. Statements DuckDB has no equivalent for are carried out here:
- COPY INTO from a Volume path: loads the new JSON files of the mapped landing folder, recording
  each file in `<catalog>.<meta>._copy_into_log` in the same transaction as the insert;
- CREATE VOLUME: creates the landing folder; CREATE CATALOG / USE CATALOG: the configured one only;
- CREATE MATERIALIZED VIEW: a table built by CTAS whose definition is kept in
  `<catalog>.<meta>._materialized_views`, so REFRESH MATERIALIZED VIEW re-runs it;
- COMMENT ON, ALTER TABLE ... SET TBLPROPERTIES, OPTIMIZE, VACUUM, ANALYZE: no-ops ("skip").
"""

from __future__ import annotations

import fnmatch
import time
from pathlib import Path, PurePosixPath
from typing import Any, Callable

from ecomctl.errors import ConfigError, SqlError, WarehouseError, first_line
from ecomctl.faults import fault_point
from ecomctl.warehouse import dialect
from ecomctl.warehouse.base import (Names, QueryResult, StatementResult, Warehouse, elapsed,
                                    single_statement)
from ecomctl.warehouse.sqlfiles import render

_RESERVED_CATALOGS = {"main", "system", "temp", "memory"}
_FILE_COLUMN = "_ecomctl_landing_file"

# COPY INTO options the local adapter understands, with the values it accepts (None: any value).
_FORMAT_OPTIONS = {"inferschema": None, "multiline": {"false"}, "mode": {"failfast"},
                   "encoding": {"utf-8", "utf8"}, "charset": {"utf-8", "utf8"}}
_COPY_OPTIONS = {"mergeschema": {"false"}, "force": {"true", "false"}}


class _Failure(Exception):
    """A statement failed for a reason this adapter found; run_statement adds file and line."""


class DuckDBWarehouse(Warehouse):
    SUPPORTS_MATERIALIZED_VIEWS = False  # emulated with tables; REFRESH re-runs the stored CTAS
    name = "duckdb"

    def __init__(self, path: Path, names: Names, *, volumes_root: Path,
                 memory_limit: str = "600MB", threads: int | None = None,
                 lock_wait: float | None = None,
                 on_wait: Callable[[str], None] | None = None) -> None:
        """With `lock_wait`, the connection takes turns with other ecomctl processes: an OS lock
        beside the file (ecomctl/locking.py) is held from before the file is opened until it is
        closed, waiting up to that many seconds (telling `on_wait` whom it waits for)."""
        super().__init__(names)
        self.check_catalog(names.catalog)
        self.path = Path(path)
        self.volumes_root = Path(volumes_root)
        self.memory_limit = memory_limit
        self.threads = threads
        self.lock_wait = lock_wait
        self.on_wait = on_wait
        self._lock: Any = None
        self._con: Any = None
        self._meta_ready = False

    @staticmethod
    def check_catalog(catalog: str, setting: str = "ECOMCTL_CATALOG") -> None:
        """The file is attached under the catalog's name, which DuckDB must not reserve."""
        if catalog.lower() in _RESERVED_CATALOGS:
            raise ConfigError(setting, f"{catalog!r} is reserved by DuckDB",
                              hint="choose another catalog name, e.g. ecommerce")

    # -- connection ------------------------------------------------------------------------
    @property
    def connection(self) -> Any:
        if self._con is None:
            self._con = self._connect()
        return self._con

    def _connect(self) -> Any:
        import duckdb

        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.lock_wait is not None and self._lock is None:
            from ecomctl.locking import ProcessLock

            self._lock = ProcessLock(self.path.with_name("warehouse.lock"),
                                     f"the warehouse {self.path}").acquire(self.lock_wait, self.on_wait)
        try:
            con = duckdb.connect(":memory:")
            con.execute("SET TimeZone = 'UTC'")  # Databricks TIMESTAMPs are UTC instants
            # DuckDB draws its own progress bar on stdout for statements over 2 s, which would
            # break --json (stdout is the report); the reporter shows progress instead.
            con.execute("SET enable_progress_bar = false")
            con.execute(f"SET memory_limit = {_literal(self.memory_limit)}")
            con.execute("SET preserve_insertion_order = false")  # less memory; SQL order is by ORDER BY
            con.execute(f"SET temp_directory = {_literal(str(self.path) + '.tmp')}")
            if self.threads:
                con.execute(f"SET threads = {int(self.threads)}")
            con.execute(f"ATTACH {_literal(str(self.path))} AS {_ident(self.names.catalog)}")
            con.execute(f"USE {_ident(self.names.catalog)}")
        except duckdb.Error as exc:
            raise _open_error(self.path, exc) from None
        return con

    def close(self) -> None:
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
    def run_statement(self, text: str, file: str = "<inline>", index: int = 1,
                      line: int = 1) -> StatementResult:
        import duckdb
        from sqlglot.errors import SqlglotError

        started = time.perf_counter()
        try:
            statement = dialect.plan(text)
            obj, action, rows = self._run(statement)
        except (dialect.TranslationError, _Failure, SqlglotError) as exc:
            raise SqlError(file, str(exc), statement=index, line=line) from None
        except (duckdb.Error, OSError) as exc:
            self._rollback()
            raise SqlError(file, first_line(exc), statement=index, line=line,
                           hint=_engine_hint(exc, self.path)) from exc
        return StatementResult(file, index, line, obj, action, rows, elapsed(started))

    def query(self, sql: str, *, file: str = "<query>") -> QueryResult:
        import duckdb
        from sqlglot.errors import SqlglotError

        text, line = single_statement(render(sql, self.names.as_mapping(), file), file)
        try:
            statement = dialect.plan(text)
        except (dialect.TranslationError, SqlglotError) as exc:
            raise SqlError(file, str(exc), statement=1, line=line) from None
        if statement.kind != "sql":
            self.run_statement(text, file=file, line=line)
            return QueryResult([], [])
        try:
            cursor = self.connection.execute(statement.sql)
            columns = [d[0] for d in cursor.description or []]
            return QueryResult(columns, cursor.fetchall() if columns else [])
        except duckdb.Error as exc:
            raise SqlError(file, first_line(exc), statement=1, line=line,
                           hint=_engine_hint(exc, self.path)) from exc

    def table_rows(self, fqn: str) -> int | None:
        catalog, schema, table = self._split_fqn(fqn)
        if not self._relation_exists(catalog, schema, table):
            return None
        (count,) = self.connection.execute(
            f"SELECT COUNT(*) FROM {_ident(catalog)}.{_ident(schema)}.{_ident(table)}").fetchone()
        return int(count)

    def tables(self, schema: str) -> list[str]:
        parts = schema.split(".")
        catalog, schema_name = (parts[0], parts[1]) if len(parts) == 2 else (self.names.catalog, schema)
        rows = self.connection.execute(
            "SELECT table_name FROM duckdb_tables() WHERE lower(database_name) = lower(?) "
            "AND lower(schema_name) = lower(?) UNION SELECT view_name FROM duckdb_views() "
            "WHERE NOT internal AND lower(database_name) = lower(?) AND lower(schema_name) = lower(?)",
            [catalog, schema_name, catalog, schema_name]).fetchall()
        return sorted(r[0] for r in rows)

    # -- statement kinds -----------------------------------------------------------------------
    def _run(self, st: dialect.LocalStatement) -> tuple[str | None, str, int | None]:
        con = self.connection
        if st.kind == "noop":
            return self._fqn(st.target), "skip", None
        if st.kind == "create_catalog":
            if not st.target or st.target[0] != self.names.catalog.lower():
                raise _Failure(f"the local warehouse has one catalog, {self.names.catalog!r} "
                               f"(ECOMCTL_CATALOG); {'.'.join(st.target or ())!r} is not it")
            return self.names.catalog.lower(), "skip", None
        if st.kind == "create_volume":
            return self._create_volume(st), "create volume", None
        if st.kind == "copy":
            return self._copy_into(st)
        if st.kind == "refresh":
            return self._refresh(st)

        target = self._fqn(st.target, schema_level=st.action == "create schema")
        create_if_missing = st.action in ("create schema", "create table") and st.tree.args.get("exists")
        if create_if_missing and self._exists(st.action, target):
            return target, "skip", None
        if st.kind == "materialize":
            self._ensure_meta()
            con.execute("BEGIN TRANSACTION")
            con.execute(st.sql)
            con.execute(f"DELETE FROM {self._meta('_materialized_views')} WHERE name = ?", [target])
            con.execute(f"INSERT INTO {self._meta('_materialized_views')} VALUES (?, ?, ?)",
                        [target, st.sql, _utc_now()])
            con.execute("COMMIT")
            return target, st.action, self._count(target)
        if st.kind == "drop_materialized":
            con.execute(st.sql)
            if self._meta_exists():
                con.execute(f"DELETE FROM {self._meta('_materialized_views')} WHERE name = ?", [target])
            return target, st.action, None

        cursor = con.execute(st.sql)
        rows: int | None = None
        if st.returns_rows:
            rows = len(cursor.fetchall())
        elif st.action in ("insert", "merge", "update", "delete"):
            fetched = cursor.fetchone()
            rows = int(fetched[0]) if fetched else None
        elif st.action in ("create table", "replace table") and st.tree.expression is not None:
            rows = self._count(target)
        return target, st.action, rows

    def _refresh(self, st: dialect.LocalStatement) -> tuple[str | None, str, int | None]:
        target = self._fqn(st.target)
        definition = None
        if self._meta_exists():
            found = self.connection.execute(
                f"SELECT definition FROM {self._meta('_materialized_views')} WHERE name = ?",
                [target]).fetchone()
            definition = found[0] if found else None
        if definition is None:
            raise _Failure(f"materialized view {target} does not exist; create it first")
        con = self.connection
        con.execute("BEGIN TRANSACTION")
        con.execute(definition)
        con.execute(f"UPDATE {self._meta('_materialized_views')} SET refreshed_at = ? WHERE name = ?",
                    [_utc_now(), target])
        con.execute("COMMIT")
        return target, "refresh view", self._count(target)

    def _create_volume(self, st: dialect.LocalStatement) -> str:
        parts = self._qualify(st.target or (), 3)
        expected = (self.names.catalog.lower(), self.names.bronze.lower(), self.names.volume.lower())
        if parts != expected:
            raise _Failure(f"only the configured volume {'.'.join(expected)} maps to a local folder "
                           f"(ECOMCTL_CATALOG, ECOMCTL_BRONZE_SCHEMA, ECOMCTL_VOLUME), "
                           f"not {'.'.join(parts)}")
        self.volumes_root.mkdir(parents=True, exist_ok=True)
        return ".".join(parts)

    # -- COPY INTO ------------------------------------------------------------------------------
    def _copy_into(self, st: dialect.LocalStatement) -> tuple[str, str, int]:
        tree = st.tree
        target = self._fqn(st.target)
        source, options = _copy_source_and_options(tree)
        folder, volume_prefix = self._local_folder(source)
        catalog, schema, table = self._split_fqn(target)
        if not self._relation_exists(catalog, schema, table):
            raise _Failure(f"COPY INTO target {target} does not exist")
        candidates = self._landing_files(folder, options.get("pattern"), options.get("files"))
        self._ensure_meta()
        log = self._meta("_copy_into_log")
        con = self.connection
        if options.get("force") != "true":
            loaded = {r[0] for r in con.execute(
                f"SELECT file_name FROM {log} WHERE target = ?", [target]).fetchall()}
            candidates = [c for c in candidates if self._log_name(c) not in loaded]
        if not candidates:
            return target, "copy into", 0

        columns = con.execute(f"DESCRIBE {_table_sql(target)}").fetchall()
        spec = ", ".join(f"{_literal(name)}: {_literal(_read_type(ctype))}"
                         for name, ctype, *_ in columns)
        paths = [str(c) for c in candidates]
        read = (f"read_json(?, columns = {{{spec}}}, format = 'newline_delimited', "
                f"filename = {_literal(_FILE_COLUMN)})")
        try:
            counts: dict[str, int] = {}
            if len(paths) > 1:  # rows per file for the log; a light pass that reads one column
                first = _literal(columns[0][0])
                counts = dict(con.execute(
                    f"SELECT {_FILE_COLUMN}, COUNT(*) FROM read_json(?, columns = {{{first}: 'VARCHAR'}}, "
                    f"format = 'newline_delimited', filename = {_literal(_FILE_COLUMN)}) GROUP BY 1",
                    [paths]).fetchall())
            # One read of every new file; the insert and the log entries commit together,
            # so a crash cannot load a file twice or lose one.
            con.execute("BEGIN TRANSACTION")
            (inserted,) = con.execute(
                f"INSERT INTO {_table_sql(target)} BY NAME SELECT * EXCLUDE ({_FILE_COLUMN}) FROM {read}",
                [paths]).fetchone()
            fault_point("copy_into.inserted")
            if len(paths) == 1:
                counts = {paths[0]: int(inserted)}
            now = _utc_now()
            log_rows = [[target, self._log_name(c), int(counts.get(str(c), 0)), now] for c in candidates]
            con.executemany(f"INSERT INTO {log} VALUES (?, ?, ?, ?)", log_rows)
            con.execute("COMMIT")
        except Exception as exc:  # duckdb.Error: name the landing file, not just the engine
            self._rollback()
            culprit = next((c for c in candidates if str(c) in str(exc)), None)
            if culprit is None:
                raise
            raise _Failure(self._landing_error(exc, culprit, volume_prefix)) from None
        return target, "copy into", int(inserted)

    def _local_folder(self, source: str) -> tuple[Path, str]:
        """The local folder of a /Volumes/<catalog>/<bronze>/<volume>[/sub] path."""
        path = source[len("dbfs:"):] if source.startswith("dbfs:") else source
        parts = PurePosixPath(path).parts
        if len(parts) < 5 or parts[0] != "/" or parts[1] != "Volumes":
            raise _Failure(f"COPY INTO source {source!r} is not a Volume path "
                           f"({self.names.landing_path}[/sub]); only Volumes map to local folders")
        volume = tuple(p.lower() for p in parts[2:5])
        expected = (self.names.catalog.lower(), self.names.bronze.lower(), self.names.volume.lower())
        if volume != expected:
            raise _Failure(f"COPY INTO source {source!r} is outside the configured volume "
                           f"{self.names.landing_path}")
        sub = parts[5:]
        if any(p in ("..", ".") for p in sub):
            raise _Failure(f"COPY INTO source {source!r} must not contain '.' or '..'")
        if not self.volumes_root.is_dir():
            raise _Failure(f"the landing folder {self.volumes_root} of {self.names.landing_path} "
                           "does not exist; run setup (CREATE VOLUME) first")
        return self.volumes_root.joinpath(*sub), "/".join(("", "Volumes") + parts[2:5])

    def _landing_files(self, folder: Path, pattern: str | None,
                       names: list[str] | None) -> list[Path]:
        if not folder.is_dir():
            return []
        if names is not None:
            files = [folder / n for n in names]
            missing = [n for n, f in zip(names, files) if not f.is_file()]
            if missing:
                raise _Failure(f"COPY INTO FILES not found in {folder}: {', '.join(missing)}")
            return files
        found = []
        for path in sorted(folder.rglob("*")):
            rel = path.relative_to(folder)
            if not path.is_file() or any(p.startswith((".", "_")) for p in rel.parts):
                continue  # hidden and in-progress files, as Spark skips them
            if pattern is not None:
                if fnmatch.fnmatchcase(rel.as_posix(), pattern) or fnmatch.fnmatchcase(path.name, pattern):
                    found.append(path)
            elif path.suffix.lower() == ".json":
                found.append(path)
        return found

    def _log_name(self, path: Path) -> str:
        return path.relative_to(self.volumes_root).as_posix()

    def _landing_error(self, exc: Exception, culprit: Path, volume_prefix: str) -> str:
        message = first_line(exc).replace(f'"{culprit}"', "it").replace(str(culprit), "it")
        return (f"landing file {volume_prefix}/{self._log_name(culprit)} ({culprit}) could not be "
                f"loaded: {message}; fix or move the file and run again")

    # -- catalog helpers -------------------------------------------------------------------------
    def _ensure_meta(self) -> None:
        if self._meta_ready:
            return
        con = self.connection
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {_ident(self.names.catalog)}.{_ident(self.names.meta)}")
        con.execute(f"CREATE TABLE IF NOT EXISTS {self._meta('_copy_into_log')} ("
                    "target VARCHAR, file_name VARCHAR, rows BIGINT, loaded_at TIMESTAMP)")
        con.execute(f"CREATE TABLE IF NOT EXISTS {self._meta('_materialized_views')} ("
                    "name VARCHAR, definition VARCHAR, refreshed_at TIMESTAMP)")
        self._meta_ready = True

    def _meta_exists(self) -> bool:
        return self._meta_ready or self._relation_exists(
            self.names.catalog, self.names.meta, "_materialized_views")

    def _meta(self, table: str) -> str:
        return f"{_ident(self.names.catalog)}.{_ident(self.names.meta)}.{_ident(table)}"

    def _qualify(self, parts: tuple[str, ...], depth: int) -> tuple[str, ...]:
        """Fill in the catalog (and the default schema) of a name written with fewer parts."""
        parts = tuple(p.lower() for p in parts)
        if len(parts) == depth - 1:
            return (self.names.catalog.lower(),) + parts
        if len(parts) == depth - 2 and depth == 3:
            return (self.names.catalog.lower(), "main") + parts
        return parts

    def _fqn(self, parts: tuple[str, ...] | None, *, schema_level: bool = False) -> str | None:
        if not parts:
            return None
        return ".".join(self._qualify(parts, 2 if schema_level else 3))

    def _split_fqn(self, fqn: str) -> tuple[str, str, str]:
        parts = self._qualify(tuple(p.strip('`"') for p in fqn.split(".")), 3)
        if len(parts) != 3:
            raise SqlError("<query>", f"{fqn!r} is not a table name (catalog.schema.table)")
        return parts[0], parts[1], parts[2]

    def _relation_exists(self, catalog: str, schema: str, table: str) -> bool:
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
            return self._relation_exists(*parts)
        return False

    def _count(self, fqn: str | None) -> int | None:
        if fqn is None:
            return None
        (count,) = self.connection.execute(f"SELECT COUNT(*) FROM {_table_sql(fqn)}").fetchone()
        return int(count)

    def _rollback(self) -> None:
        if self._con is None:
            return
        try:
            self._con.execute("ROLLBACK")
        except Exception:  # no transaction open: nothing to undo
            pass


def _copy_source_and_options(tree: Any) -> tuple[str, dict[str, Any]]:
    """The source path and the supported options of a parsed COPY INTO; anything else is an error."""
    from sqlglot import exp

    if not tree.args.get("kind"):
        raise _Failure("COPY ... TO is not supported; only COPY INTO <table> FROM <path>")
    credentials = tree.args.get("credentials")
    if credentials is not None and any(v for v in credentials.args.values()):
        raise _Failure("COPY INTO with credentials is not supported locally")
    files = tree.args.get("files") or []
    if len(files) != 1 or not isinstance(files[0], exp.Literal) or not files[0].is_string:
        raise _Failure("COPY INTO FROM (SELECT ...) is not supported locally; "
                       "use COPY INTO <table> FROM '<volume path>'")
    options: dict[str, Any] = {}
    fileformat = None
    for param in tree.args.get("params") or []:
        key = param.this.name.upper()
        if key == "FILEFORMAT":
            fileformat = param.expression.name.upper()
        elif key == "PATTERN":
            options["pattern"] = param.expression.name
        elif key == "FILES":
            values = param.expression.expressions if isinstance(param.expression, exp.Tuple) \
                else [param.expression]
            options["files"] = [v.name for v in values]
        elif key in ("FORMAT_OPTIONS", "COPY_OPTIONS"):
            allowed = _FORMAT_OPTIONS if key == "FORMAT_OPTIONS" else _COPY_OPTIONS
            for prop in param.expressions:
                if not isinstance(prop, exp.Property):
                    continue
                name, value = prop.this.name, prop.args["value"].name
                accepted = allowed.get(name.lower(), ())
                if accepted is not None and value.lower() not in accepted:
                    raise _Failure(f"COPY INTO {key} ('{name}' = '{value}') is not supported locally")
                options[name.lower()] = value.lower()
        else:
            raise _Failure(f"COPY INTO {key} is not supported locally")
    if fileformat != "JSON":
        raise _Failure(f"COPY INTO FILEFORMAT = {fileformat or '(none)'} is not supported locally; "
                       "use FILEFORMAT = JSON")
    return files[0].name, options


def _read_type(column_type: str) -> str:
    """read_json column type: timestamps read as TIMESTAMPTZ so an offset counts, then stored as UTC."""
    return "TIMESTAMPTZ" if column_type.upper() == "TIMESTAMP" else column_type


def _table_sql(fqn: str) -> str:
    return ".".join(_ident(p) for p in fqn.split("."))


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


_DAMAGED_WORDS = ("not a valid duckdb database file", "could not read enough bytes",
                  "checksum", "corrupt")


def _rebuild_hint(path: Path) -> str:
    return (f"restore {path.name} from a backup, or move it away and run `ecomctl setup` and "
            "`ecomctl ingest` to rebuild it from the event log (events past its retention are "
            "gone) and the landing files")


def _open_error(path: Path, exc: BaseException) -> WarehouseError:
    """One clear line for each way opening the warehouse file fails."""
    import re

    from ecomctl.errors import DISK_FULL_HINT, is_disk_full

    text = first_line(exc)
    lowered = text.lower()
    if "could not set lock" in lowered or "conflicting lock" in lowered:
        pid = re.search(r"\(PID (\d+)\)", str(exc))
        holder = f"another process (pid {pid.group(1)})" if pid else "another process"
        return WarehouseError(f"the DuckDB warehouse {path} is locked by {holder}",
                              hint="a DuckDB file can be open in one process at a time: let that "
                                   "process finish (or close it) and run again")
    if any(word in lowered for word in _DAMAGED_WORDS):
        return WarehouseError(f"the DuckDB warehouse {path} is damaged or not a DuckDB file "
                              f"({text})", hint=_rebuild_hint(path))
    if is_disk_full(exc):
        return WarehouseError(f"cannot open the DuckDB warehouse {path}: {text}", hint=DISK_FULL_HINT)
    return WarehouseError(f"cannot open the DuckDB warehouse {path}: {text}")


def _engine_hint(exc: BaseException, path: Path) -> str | None:
    """A hint for the engine failures that are not the statement's fault."""
    from ecomctl.errors import DISK_FULL_HINT, is_disk_full

    if is_disk_full(exc):
        return DISK_FULL_HINT
    if any(word in str(exc).lower() for word in _DAMAGED_WORDS):
        return f"the warehouse file looks damaged: {_rebuild_hint(path)}"
    return None


def _utc_now():
    from datetime import datetime, timezone

    return datetime.now(timezone.utc).replace(tzinfo=None)
