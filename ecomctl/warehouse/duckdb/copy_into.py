"""COPY INTO on DuckDB, which has none: the Databricks semantics over the landing folder.

A COPY INTO from the configured Volume path loads the JSON-lines files of the local folder that
path maps to, skipping the files it loaded before: each loaded file is recorded in
`<catalog>.<meta>._copy_into_log` in the same transaction as the insert, so a crash cannot load a
file twice or lose one. The source is the path itself (each field read as its column's type) or
`(SELECT ... FROM '<path>')` whose list holds columns and `CAST(column AS type) [AS name]`: each
field is read as the type its cast names, which is the cast applied to the value the line holds,
and stored in the column the item names. Only the options and forms the project's SQL uses are
accepted; any other is a clear error rather than a silent difference from Databricks.
"""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from ecomctl.errors import first_line
from ecomctl.faults import fault_point
from ecomctl.warehouse.duckdb.errors import StatementRefused
from ecomctl.warehouse.duckdb.sqltext import ident, literal, table_sql, utc_now

if TYPE_CHECKING:  # pragma: no cover
    from ecomctl.warehouse.base import Names
    from ecomctl.warehouse.duckdb.prepared import Prepared
    from ecomctl.warehouse.duckdb.session import LiveSession

_FILE_COLUMN = "_ecomctl_landing_file"

# COPY INTO options the local adapter understands, with the values it accepts (None: any value).
_FORMAT_OPTIONS = {"multiline": {"false"}, "mode": {"failfast"}, "dropfieldifallnull": {"false"},
                   "encoding": {"utf-8", "utf8"}, "charset": {"utf-8", "utf8"}}
_COPY_OPTIONS = {"mergeschema": {"false"}, "force": {"true", "false"}}


@dataclass(frozen=True)
class CopySpec:
    """What a COPY INTO reads: its source path, its supported options (lower case), and the
    SELECT list of its `FROM (SELECT ...)` form as (field, column, DuckDB type of the cast or
    None), None without one. Plain data, so a prepared COPY INTO needs no parse tree."""

    source: str
    options: dict[str, Any]
    projections: tuple[tuple[str, str, str | None], ...] | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "CopySpec":
        projections = data.get("projections")
        return cls(data["source"], dict(data.get("options") or {}),
                   tuple(tuple(p) for p in projections) if projections is not None else None)


def copy_spec(tree: Any) -> CopySpec:
    """The CopySpec of a parsed COPY INTO; a construct not supported locally is StatementRefused."""
    source, options, projections = _copy_source_and_options(tree)
    if projections is not None:
        projections = tuple((f, column, cast.sql("duckdb") if cast is not None else None)
                            for f, column, cast in projections)
    return CopySpec(source, options, projections)


def copy_into(session: "LiveSession", st: "Prepared") -> tuple[str, str, int]:
    """Load the landing files not loaded yet into the statement's table: (table, action, rows)."""
    target = session.fqn(st.target)
    if st.copy is None:
        raise StatementRefused("COPY INTO without its source")
    source, options, projections = st.copy.source, st.copy.options, st.copy.projections
    folder, volume_prefix = _local_folder(source, session.names, session.volumes_root)
    catalog, schema, table = session.split_fqn(target)
    if not session.relation_exists(catalog, schema, table):
        raise StatementRefused(f"COPY INTO target {target} does not exist")
    listed = _landing_files(folder, options.get("pattern"), options.get("files"))
    session.ensure_meta()
    log = session.meta("_copy_into_log")
    con = session.connection
    # Each file's name in the log: its path under the Volume's root ('.' when the folder is the root).
    under = _log_name(folder, session.volumes_root)
    log_names = {rel: PurePosixPath(under, rel).as_posix() for rel in listed}
    if options.get("force") != "true" and listed:
        # Asked for the files in the folder only: the log holds every file ever loaded.
        loaded = {r[0] for r in con.execute(
            f"SELECT file_name FROM {log} WHERE target = ? AND file_name IN (SELECT unnest(?))",
            [target, list(log_names.values())]).fetchall()}
        listed = [rel for rel in listed if log_names[rel] not in loaded]
    if not listed:
        return target, "copy into", 0
    candidates = [folder / rel for rel in listed]

    columns = con.execute(f"DESCRIBE {table_sql(target)}").fetchall()
    fields = _fields(columns, projections, target)
    spec = ", ".join(f"{literal(source_name)}: {literal(read_type)}"
                     for source_name, _, read_type in fields)
    renamed = ", ".join(f"{ident(source_name)} AS {ident(column)}" for source_name, column, _ in fields)
    paths = [str(c) for c in candidates]
    read = (f"read_json(?, columns = {{{spec}}}, format = 'newline_delimited', "
            f"filename = {literal(_FILE_COLUMN)})")
    try:
        counts: dict[str, int] = {}
        if len(paths) > 1:  # rows per file for the log; a light pass that reads one column
            first = literal(fields[0][0])
            counts = dict(con.execute(
                f"SELECT {_FILE_COLUMN}, COUNT(*) FROM read_json(?, columns = {{{first}: 'VARCHAR'}}, "
                f"format = 'newline_delimited', filename = {literal(_FILE_COLUMN)}) GROUP BY 1",
                [paths]).fetchall())
        # One read of every new file; the insert and the log entries commit together,
        # so a crash cannot load a file twice or lose one.
        con.execute("BEGIN TRANSACTION")
        (inserted,) = con.execute(
            f"INSERT INTO {table_sql(target)} BY NAME SELECT {renamed} FROM {read}", [paths]).fetchone()
        fault_point("copy_into.inserted")
        if len(paths) == 1:
            counts = {paths[0]: int(inserted)}
        now = utc_now()
        log_rows = [[target, log_names[rel], int(counts.get(str(c), 0)), now]
                    for rel, c in zip(listed, candidates)]
        con.executemany(f"INSERT INTO {log} VALUES (?, ?, ?, ?)", log_rows)
        con.execute("COMMIT")
    except Exception as exc:  # duckdb.Error: name the landing file, not just the engine
        session.rollback()
        culprit = next((c for c in candidates if str(c) in str(exc)), None)
        if culprit is None:
            raise
        raise StatementRefused(
            _landing_error(exc, culprit, volume_prefix, session.volumes_root)) from None
    return target, "copy into", int(inserted)


def _copy_source_and_options(tree: Any) -> tuple[str, dict[str, Any], list | None]:
    """The source path, the supported options and the SELECT list (None without one) of a parsed
    COPY INTO; anything else is an error."""
    from sqlglot import exp

    if not tree.args.get("kind"):
        raise StatementRefused("COPY ... TO is not supported; only COPY INTO <table> FROM <path>")
    credentials = tree.args.get("credentials")
    if credentials is not None and any(v for v in credentials.args.values()):
        raise StatementRefused("COPY INTO with credentials is not supported locally")
    files = tree.args.get("files") or []
    projections = None
    if len(files) == 1 and isinstance(files[0], exp.Subquery) and isinstance(files[0].this, exp.Select):
        path, projections = _select_source(files[0].this)
    elif len(files) == 1 and isinstance(files[0], exp.Literal) and files[0].is_string:
        path = files[0].name
    else:
        raise StatementRefused("COPY INTO source not supported locally; use FROM '<volume path>' or "
                               "FROM (SELECT CAST(<field> AS <type>) AS <column>, ... FROM '<volume path>')")
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
                    raise StatementRefused(f"COPY INTO {key} ('{name}' = '{value}') is not supported "
                                           "locally")
                options[name.lower()] = value.lower()
        else:
            raise StatementRefused(f"COPY INTO {key} is not supported locally")
    if fileformat != "JSON":
        raise StatementRefused(f"COPY INTO FILEFORMAT = {fileformat or '(none)'} is not supported "
                               "locally; use FILEFORMAT = JSON")
    return path, options, projections


def _select_source(select: Any) -> tuple[str, list[tuple[str, str, Any]]]:
    """The path and the items of `SELECT <items> FROM '<path>'`: (field, column, cast type or None)."""
    from sqlglot import exp

    clauses = {k for k, v in select.args.items() if v and k not in ("expressions", "from", "from_")}
    source = select.args.get("from") or select.args.get("from_")
    table = source.this if source is not None else None
    if clauses or isinstance(table, exp.Table) and (table.args.get("db") or table.args.get("joins")):
        raise StatementRefused("COPY INTO FROM (SELECT ...) with more than a list of columns and a "
                               "path is not supported locally")
    if isinstance(table, exp.Table) and isinstance(table.this, exp.Identifier) and table.this.quoted:
        path = table.this.name  # FROM '<path>' parses as a table named by the path
    elif isinstance(table, exp.Literal) and table.is_string:
        path = table.name
    else:
        raise StatementRefused("COPY INTO FROM (SELECT ... FROM <source>): the source must be a "
                               "'<volume path>' locally")
    items: list[tuple[str, str, Any]] = []
    for item in select.expressions:
        value = item.this if isinstance(item, exp.Alias) else item
        cast = value if type(value) is exp.Cast else None  # not TRY_CAST: reading cannot give NULL
        column = cast.this if cast is not None else value
        if not isinstance(column, exp.Column) or column.table:
            raise StatementRefused(f"COPY INTO FROM (SELECT ...): {item.sql('databricks')} is not "
                                   "supported locally; select a field or CAST(<field> AS <type>)")
        items.append((column.name, item.alias_or_name, cast.to if cast is not None else None))
    fields = [field for field, _, _ in items]
    if len(set(fields)) != len(fields):
        raise StatementRefused("COPY INTO FROM (SELECT ...) reads a field twice; not supported locally")
    return path, items


def _fields(columns: list[tuple], projections: tuple | None, target: str) -> list[tuple[str, str, str]]:
    """(field of the landing line, column of the target, DuckDB type the field is read as)."""
    types = {name.lower(): ctype for name, ctype, *_ in columns}
    if projections is None:
        return [(name, name, _read_type(ctype)) for name, ctype, *_ in columns]
    fields = []
    for field, column, cast in projections:
        if column.lower() not in types:
            raise StatementRefused(f"COPY INTO: {column} is not a column of {target}")
        read = cast if cast is not None else types[column.lower()]
        fields.append((field, column, _read_type(read)))
    return fields


def _local_folder(source: str, names: "Names", volumes_root: Path) -> tuple[Path, str]:
    """The local folder of a /Volumes/<catalog>/<bronze>/<volume>[/sub] path."""
    path = source[len("dbfs:"):] if source.startswith("dbfs:") else source
    parts = PurePosixPath(path).parts
    if len(parts) < 5 or parts[0] != "/" or parts[1] != "Volumes":
        raise StatementRefused(f"COPY INTO source {source!r} is not a Volume path "
                               f"({names.landing_path}[/sub]); only Volumes map to local folders")
    volume = tuple(p.lower() for p in parts[2:5])
    expected = (names.catalog.lower(), names.bronze.lower(), names.volume.lower())
    if volume != expected:
        raise StatementRefused(f"COPY INTO source {source!r} is outside the configured volume "
                               f"{names.landing_path}")
    sub = parts[5:]
    if any(p in ("..", ".") for p in sub):
        raise StatementRefused(f"COPY INTO source {source!r} must not contain '.' or '..'")
    if not volumes_root.is_dir():
        raise StatementRefused(f"the landing folder {volumes_root} of {names.landing_path} "
                               "does not exist; run setup (CREATE VOLUME) first")
    return volumes_root.joinpath(*sub), "/".join(("", "Volumes") + parts[2:5])


def _landing_files(folder: Path, pattern: str | None, names: list[str] | None) -> list[str]:
    """The files COPY INTO considers, as '/'-separated paths under `folder`, in path order.

    Plain strings from os.walk: the folder keeps a retention's worth of loaded files (about a
    thousand a day at a run every five minutes), and a Path per file, compared and made relative
    twice, cost more than the load of a small run."""
    if not folder.is_dir():
        return []
    if names is not None:
        missing = [n for n in names if not (folder / n).is_file()]
        if missing:
            raise StatementRefused(f"COPY INTO FILES not found in {folder}: {', '.join(missing)}")
        return list(names)
    found = []
    for directory, subdirectories, files in os.walk(folder):
        # hidden and in-progress files and folders, as Spark skips them
        subdirectories[:] = [d for d in subdirectories if not d.startswith((".", "_"))]
        under = os.path.relpath(directory, folder)
        prefix = "" if under == "." else under.replace(os.sep, "/") + "/"
        for name in files:
            if name.startswith((".", "_")) or not os.path.isfile(os.path.join(directory, name)):
                continue
            rel = prefix + name
            if pattern is not None:
                if fnmatch.fnmatchcase(rel, pattern) or fnmatch.fnmatchcase(name, pattern):
                    found.append(rel)
            elif os.path.splitext(name)[1].lower() == ".json":
                found.append(rel)
    return sorted(found, key=lambda rel: rel.split("/"))


def _log_name(path: Path, volumes_root: Path) -> str:
    return path.relative_to(volumes_root).as_posix()


def _landing_error(exc: Exception, culprit: Path, volume_prefix: str, volumes_root: Path) -> str:
    message = first_line(exc).replace(f'"{culprit}"', "it").replace(str(culprit), "it")
    return (f"landing file {volume_prefix}/{_log_name(culprit, volumes_root)} ({culprit}) could not "
            f"be loaded: {message}; fix or move the file and run again")


def _read_type(column_type: str) -> str:
    """read_json column type: timestamps read as TIMESTAMPTZ so an offset counts, then stored as UTC."""
    return "TIMESTAMPTZ" if column_type.upper() == "TIMESTAMP" else column_type
