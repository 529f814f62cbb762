"""Load the dashboard queries (sql/dashboards/queries/NN_name.sql) and Genie spaces (sql/dashboards/genie/NN_name.toml).

Both targets read the same files: locally they feed the HTML dashboard, on Databricks
the Lakeview datasets and widgets, the saved queries and the Genie spaces. Placeholders
(`${catalog}`, `${gold}`, ...) are kept as written; the SQL runner substitutes them.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ecomctl.errors import EcomctlError, SqlError
from ecomctl.warehouse.sqlfiles import render

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

QUERIES_DIR = Path("dashboards") / "queries"
GENIE_DIR = Path("dashboards") / "genie"

CHART_TYPES = ("counter", "bar", "line", "table")
# Charts that plot one column against another need both named in the header.
CHARTS_WITH_AXES = ("bar", "line")
HEADER_FIELDS = ("title", "description", "chart", "x", "y")
REQUIRED_HEADER_FIELDS = ("title", "description", "chart")

# Dashboards read silver and gold only, but bronze is a valid name for ad-hoc Genie answers.
PLACEHOLDERS = frozenset({"catalog", "bronze", "silver", "gold"})

GENIE_FIELDS = ("title", "description", "tables", "instructions", "questions")

_FILE_NAME = re.compile(r"^(?P<number>\d{2})_(?P<name>[a-z][a-z0-9_]*)$")
_HEADER_LINE = re.compile(r"^--\s*(?P<key>[A-Za-z_]+)\s*:\s*(?P<value>.*?)\s*$")
_NAME_PART = r"(?:\$\{[A-Za-z_][A-Za-z0-9_]*\}|[A-Za-z_][A-Za-z0-9_]*)"
_TABLE_NAME = re.compile(rf"^{_NAME_PART}\.{_NAME_PART}\.[A-Za-z_][A-Za-z0-9_]*$")
_FIRST_KEYWORD = re.compile(r"^\s*(?P<word>[A-Za-z]+)")


@dataclass(frozen=True)
class DashboardQuery:
    """One dashboard query: its header and its single SELECT (placeholders not substituted)."""

    name: str          # file name without number and suffix, e.g. "revenue_by_brand"
    file: Path
    title: str
    description: str
    chart: str         # one of CHART_TYPES
    x: str | None      # category / date column (bar, line)
    y: str | None      # value column (bar, line); the headline column of a counter
    sql: str           # the SELECT after the header, without a trailing semicolon


@dataclass(frozen=True)
class SampleQuestion:
    """A question an analyst may ask a Genie space, with an example SQL answer."""

    question: str
    sql: str


@dataclass(frozen=True)
class GenieSpace:
    """A Genie space: what it covers, the tables it may read, how to answer, and examples."""

    name: str          # e.g. "sales"
    file: Path
    title: str
    description: str
    tables: list[str]  # fully qualified, placeholders kept: "${catalog}.${gold}.product_performance"
    instructions: str
    questions: list[SampleQuestion] = field(default_factory=list)


def load_queries(root: Path) -> list[DashboardQuery]:
    """Every sql/dashboards/queries/NN_name.sql under `root` (the sql folder), in file-name order."""
    files = _numbered_files(Path(root) / QUERIES_DIR, ".sql")
    return [_parse_query(path, name) for path, name in files]


def load_genie_spaces(root: Path) -> list[GenieSpace]:
    """Every sql/dashboards/genie/NN_name.toml under `root` (the sql folder), in file-name order."""
    files = _numbered_files(Path(root) / GENIE_DIR, ".toml")
    return [_parse_space(path, name) for path, name in files]


# -- files -------------------------------------------------------------------------------------

def _numbered_files(folder: Path, suffix: str) -> list[tuple[Path, str]]:
    if not folder.is_dir():
        raise EcomctlError(f"{folder}: folder not found", hint="pass the sql folder that contains dashboards/")
    files: list[tuple[Path, str]] = []
    numbers: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.suffix != suffix or not path.is_file():
            continue
        match = _FILE_NAME.match(path.stem)
        if match is None:
            raise SqlError(str(path), f"file name must look like NN_name{suffix} (two digits, lower-case name)")
        number = match["number"]
        if number in numbers:
            raise SqlError(str(path), f"number {number} is also used by {numbers[number].name}")
        numbers[number] = path
        files.append((path, match["name"]))
    if not files:
        raise EcomctlError(f"{folder}: no {suffix} files found")
    return files


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SqlError(str(path), f"cannot read the file: {exc}") from exc


def _check_placeholders(path: Path, text: str, *, first_line: int = 1, what: str = "") -> None:
    """Every `${` must open a known placeholder: the SQL runner's own strict substitution, run dry."""
    try:
        render(text, {name: name for name in PLACEHOLDERS}, str(path))
    except SqlError as exc:
        prefix = f"{what}: " if what else ""
        raise SqlError(str(path), prefix + exc.problem, line=first_line + (exc.line or 1) - 1,
                       hint=exc.hint) from None


# -- queries -----------------------------------------------------------------------------------

def _parse_query(path: Path, name: str) -> DashboardQuery:
    lines = _read_text(path).splitlines()
    header: dict[str, str] = {}
    index = 0
    while index < len(lines) and not lines[index].strip():
        index += 1
    while index < len(lines) and lines[index].lstrip().startswith("--"):
        line_no = index + 1
        match = _HEADER_LINE.match(lines[index].strip())
        if match is None:
            raise SqlError(str(path), "header lines must read '-- key: value'", line=line_no)
        key, value = match["key"].lower(), match["value"]
        if key not in HEADER_FIELDS:
            raise SqlError(str(path), f"unknown header field {key!r}", line=line_no,
                           hint="fields: " + ", ".join(HEADER_FIELDS))
        if key in header:
            raise SqlError(str(path), f"header field {key!r} given twice", line=line_no)
        if not value:
            raise SqlError(str(path), f"header field {key!r} is empty", line=line_no)
        header[key] = value
        index += 1

    for key in REQUIRED_HEADER_FIELDS:
        if key not in header:
            raise SqlError(str(path), f"missing header field '-- {key}: ...'",
                           hint="the file starts with '-- title:', '-- description:', '-- chart:' lines")
    chart = header["chart"].lower()
    if chart not in CHART_TYPES:
        raise SqlError(str(path), f"unknown chart type {header['chart']!r}", hint="one of: " + ", ".join(CHART_TYPES))
    if chart in CHARTS_WITH_AXES:
        for key in ("x", "y"):
            if key not in header:
                raise SqlError(str(path), f"missing header field '-- {key}: <column>' (needed by a {chart} chart)")

    while index < len(lines) and not lines[index].strip():
        index += 1
    body_start = index + 1
    sql = "\n".join(lines[index:]).strip()
    sql = sql[:-1].rstrip() if sql.endswith(";") else sql
    if not sql:
        raise SqlError(str(path), "no SQL after the header")
    keyword = _first_keyword(sql)
    if keyword not in ("select", "with"):
        raise SqlError(str(path), "a dashboard query is one SELECT (or WITH ... SELECT), "
                                  f"found {keyword or 'nothing'!r}",
                       line=body_start)
    _check_placeholders(path, sql, first_line=body_start)
    return DashboardQuery(name=name, file=path, title=header["title"], description=header["description"],
                          chart=chart, x=header.get("x"), y=header.get("y"), sql=sql)


def _first_keyword(sql: str) -> str:
    """The first word that is not inside a line comment."""
    for line in sql.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("--"):
            continue
        match = _FIRST_KEYWORD.match(stripped)
        return match["word"].lower() if match else stripped[:10]
    return ""


# -- Genie spaces ------------------------------------------------------------------------------

def _parse_space(path: Path, name: str) -> GenieSpace:
    try:
        data = tomllib.loads(_read_text(path))
    except tomllib.TOMLDecodeError as exc:
        raise SqlError(str(path), f"invalid TOML: {exc}") from exc

    unknown = sorted(set(data) - set(GENIE_FIELDS))
    if unknown:
        raise SqlError(str(path), f"unknown key(s): {', '.join(unknown)}", hint="keys: " + ", ".join(GENIE_FIELDS))
    for key in GENIE_FIELDS:
        if key not in data:
            raise SqlError(str(path), f"missing key {key!r}",
                           hint="questions are [[questions]] tables with question = ... and sql = ..."
                           if key == "questions" else None)
    title = _text(path, data, "title")
    description = _text(path, data, "description")
    instructions = _text(path, data, "instructions")

    tables = data["tables"]
    if not isinstance(tables, list) or not tables or not all(isinstance(t, str) for t in tables):
        raise SqlError(str(path), "'tables' must be a non-empty list of table names")
    for table in tables:
        if not _TABLE_NAME.match(table):
            raise SqlError(str(path), f"table {table!r} is not fully qualified",
                           hint='write "${catalog}.${gold}.table_name"')
        _check_placeholders(path, table, what=f"table {table!r}")
    if len(set(tables)) != len(tables):
        raise SqlError(str(path), "'tables' lists a table twice")

    raw_questions = data["questions"]
    if not isinstance(raw_questions, list) or not raw_questions:
        raise SqlError(str(path), "no sample questions",
                       hint="add [[questions]] tables with question = ... and sql = ...")
    questions: list[SampleQuestion] = []
    for number, item in enumerate(raw_questions, start=1):
        where = f"question {number}"
        if not isinstance(item, dict):
            raise SqlError(str(path), f"{where}: must be a [[questions]] table")
        extra = sorted(set(item) - {"question", "sql"})
        if extra:
            raise SqlError(str(path), f"{where}: unknown key(s): {', '.join(extra)}")
        question = _text(path, item, "question", where=where)
        sql = _text(path, item, "sql", where=where).rstrip()
        sql = sql[:-1].rstrip() if sql.endswith(";") else sql
        _check_placeholders(path, sql, what=where)
        questions.append(SampleQuestion(question=question, sql=sql))

    return GenieSpace(name=name, file=path, title=title, description=description, tables=list(tables),
                      instructions=instructions, questions=questions)


def _text(path: Path, data: dict[str, Any], key: str, *, where: str = "") -> str:
    prefix = f"{where}: " if where else ""
    value = data.get(key)
    if value is None:
        raise SqlError(str(path), f"{prefix}missing key {key!r}")
    if not isinstance(value, str) or not value.strip():
        raise SqlError(str(path), f"{prefix}{key!r} must be non-empty text")
    return value.strip()
