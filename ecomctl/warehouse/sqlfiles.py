"""SQL files on disk: discovery per step, strict ${name} substitution, identifier checks, statement splitting.

Nothing here knows about an engine; the same text goes to Databricks and (translated) to DuckDB.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from ecomctl.errors import ConfigError, SqlError

# The step folders of sql/ in run order; checks/ holds the queries that verify bronze (the
# reconciliation), read after ingest and by status.
STEPS = ("setup", "bronze", "silver", "gold", "views", "dashboards", "checks")
# Steps whose SQL runs only on a warehouse that can host them (kafka: streaming tables with
# read_kafka, for `ingest --mode kafka`); never run locally, so they are not in STEPS.
SERVER_STEPS = ("kafka",)

_VERSIONED = re.compile(r"^V(\d+)__(\w+)\.sql$")
_REPEATABLE = re.compile(r"^(\d+)_(\w+)\.sql$")
_PLACEHOLDER = re.compile(r"\$\{([^}\n]*)\}")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# split_statements skips these runs in one step instead of a character at a time:
_PLAIN = re.compile(r"[^\n;'\"`/-]+")  # statement text that opens, ends and counts nothing
_BLANKS = re.compile(r"[^\S\n]+")  # blanks other than a newline
_COMMENT_TEXT = re.compile(r"[^/*\n]+")  # inside /* */: nothing that opens, closes or ends a line
_QUOTED = {q: re.compile(r"[^\\\n" + q + "]+") for q in "'\""}
_QUOTED["`"] = re.compile(r"[^\n`]+")


@dataclass(frozen=True)
class SqlFile:
    path: Path
    name: str  # relative to the SQL root, posix, e.g. "gold/02_location_performance.sql"
    step: str
    version: str | None  # "001" for setup/V001__schemas.sql; None for repeatable step files
    description: str
    text: str
    checksum: str  # sha256 of the bytes with \r\n normalised to \n


@dataclass(frozen=True)
class Statement:
    file: str
    index: int  # 1-based
    line: int  # 1-based line of the first character that is not blank or comment
    text: str


def sql_root(root: Path | str | None = None) -> Path:
    """The folder holding the step folders: an explicit root, the checkout's sql/, or the packaged copy."""
    if root is not None:
        return Path(root)
    checkout = Path(__file__).resolve().parents[2] / "sql"
    if checkout.is_dir():
        return checkout
    return Path(__file__).resolve().parents[1] / "_sql"


def relative_name(path: Path | str, root: Path | str) -> str:
    """A file's name in messages as in the repository (dashboards/queries/01_total_kpis.sql), or
    the path as given when it is outside the SQL root."""
    try:
        return Path(path).resolve().relative_to(Path(root).resolve()).as_posix()
    except ValueError:
        return str(path)


def load_step(step: str, root: Path | str | None = None) -> list[SqlFile]:
    """The files of one step in run order (setup: by version; others: by name)."""
    if step not in STEPS + SERVER_STEPS:
        raise SqlError(f"{step}/", f"unknown step; expected one of {', '.join(STEPS + SERVER_STEPS)}")
    base = sql_root(root)
    folder = base / "dashboards" / "queries" if step == "dashboards" else base / step
    if not folder.is_dir():
        return []
    files = [_read(path, base, step) for path in folder.iterdir()
             if path.is_file() and path.suffix == ".sql" and not path.name.startswith((".", "_"))]
    if step == "setup":
        _check_unique_versions(files)
        return sorted(files, key=lambda f: (int(f.version or 0), f.name))
    return sorted(files, key=lambda f: f.name)


def _read(path: Path, base: Path, step: str) -> SqlFile:
    name = path.relative_to(base).as_posix()
    data = path.read_bytes().replace(b"\r\n", b"\n")
    version = None
    if step == "setup":
        match = _VERSIONED.match(path.name)
        if not match:
            raise SqlError(name, "a setup file must be named V<digits>__<description>.sql, "
                                 "e.g. V002__add_index.sql")
        version, description = match.group(1), match.group(2)
    else:
        match = _REPEATABLE.match(path.name)
        if match:
            description = match.group(2)
        elif step == "dashboards":  # dashboard queries are named by what they show
            description = path.stem
        else:
            raise SqlError(name, f"a {step} file must be named NN_<description>.sql, "
                                 "e.g. 01_orders.sql")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SqlError(name, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    return SqlFile(path=path, name=name, step=step, version=version,
                   description=description.replace("_", " "), text=text,
                   checksum=hashlib.sha256(data).hexdigest())


def _check_unique_versions(files: list[SqlFile]) -> None:
    seen: dict[int, str] = {}
    for f in files:
        number = int(f.version or 0)
        if number in seen:
            raise SqlError(f.name, f"version {f.version} is also used by {seen[number]}; "
                                   "each setup file needs its own version")
        seen[number] = f.name


def validate_identifier(value: str, setting: str) -> str:
    """A name that is pasted into SQL: letters, digits, underscore; not starting with a digit."""
    if not isinstance(value, str) or not _IDENTIFIER.match(value):
        raise ConfigError(setting, f"{value!r} is not a valid SQL identifier",
                          hint="use letters, digits and underscores, not starting with a digit")
    if len(value) > 255:
        raise ConfigError(setting, f"name is {len(value)} characters long; at most 255")
    return value


def string_literal(value: str) -> str:
    """A Databricks SQL string literal: backslash escapes (a doubled quote is not an escape there)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def sql_literal(value: "str | int | Sequence[str | int]") -> str:
    """A query parameter's value written as a Databricks SQL literal: a string, an integer, or a
    list of them for `IN (...)` (`'a', 'b'`)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return string_literal(value)
    return ", ".join(sql_literal(v) for v in value)


def render(text: str, names: Mapping[str, str], file_name: str) -> str:
    """Replace every ${name}; an unknown or malformed placeholder is an error naming file and line.

    A `$` not followed by `{` (JSON paths such as '$.a') is left alone.
    """

    def replace(match: re.Match) -> str:
        key = match.group(1)
        if key in names:
            return names[key]
        line = text.count("\n", 0, match.start()) + 1
        known = ", ".join("${" + k + "}" for k in sorted(names))
        if not _IDENTIFIER.match(key):
            raise SqlError(file_name, f"malformed placeholder near {match.group(0)[:20]!r}", line=line,
                           hint=f"write ${{name}}; known: {known}")
        raise SqlError(file_name, f"unknown placeholder ${{{key}}}; known: {known}", line=line)

    rendered = _PLACEHOLDER.sub(replace, text)
    leftover = rendered.find("${")
    if leftover >= 0:
        line = rendered.count("\n", 0, leftover) + 1
        raise SqlError(file_name, "unterminated placeholder '${' (expected ${name})", line=line)
    return rendered


def split_statements(text: str, file_name: str) -> list[Statement]:
    """Split on `;` outside quotes and comments; drop statements that hold only blanks and comments.

    Quotes: '...' and "..." (backslash escapes, as Databricks allows), `...` (doubled backtick).
    Comments: -- to end of line, /* ... */ (nested, as in Spark SQL).
    """
    statements: list[Statement] = []
    n = len(text)
    i = 0
    line = 1
    start: int | None = None  # offset of the current statement's first real character
    start_line = 0

    def finish(end: int) -> None:
        nonlocal start
        if start is not None:
            statements.append(Statement(file_name, len(statements) + 1, start_line,
                                        text[start:end].rstrip()))
        start = None

    while i < n:
        ch = text[i]
        if ch == "\n":
            line += 1
            i += 1
        elif ch == "-" and text.startswith("--", i):
            end = text.find("\n", i)
            i = n if end < 0 else end
        elif ch == "/" and text.startswith("/*", i):
            opened_at = line
            depth = 0
            while True:
                if i >= n:
                    raise SqlError(file_name, "unterminated /* comment",
                                   statement=len(statements) + 1, line=opened_at)
                if text.startswith("/*", i):
                    depth += 1
                    i += 2
                elif text.startswith("*/", i):
                    depth -= 1
                    i += 2
                    if depth == 0:
                        break
                else:
                    line += text[i] == "\n"
                    run = _COMMENT_TEXT.match(text, i + 1)
                    i = run.end() if run else i + 1
        elif ch == ";":
            finish(i)
            i += 1
        elif ch.isspace():
            run = _BLANKS.match(text, i)
            i = run.end() if run else i + 1
        else:
            if start is None:
                start, start_line = i, line
            if ch in "'\"`":
                opened_at = line
                inside = _QUOTED[ch]
                i += 1
                while True:
                    if i >= n:
                        kind = "identifier" if ch == "`" else "string"
                        raise SqlError(file_name, f"unterminated {kind} starting with {ch}",
                                       statement=len(statements) + 1, line=opened_at)
                    run = inside.match(text, i)
                    if run:
                        i = run.end()
                        continue
                    c = text[i]
                    if c == "\\" and ch != "`" and i + 1 < n:
                        line += text[i + 1] == "\n"
                        i += 2
                        continue
                    line += c == "\n"
                    i += 1
                    if c == ch:
                        break
            else:
                run = _PLAIN.match(text, i)
                i = run.end() if run else i + 1
    finish(n)
    return statements
