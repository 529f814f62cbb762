"""What a Databricks SQL statement is, read from its first words: its action, target and whether
running it twice is harmless (so a transient failure may be retried).

A regular expression over the head of the statement is enough here and keeps sqlglot out of the
live path; the SQL files are parsed with sqlglot in the tests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_NAME = r"(?P<name>(?:`[^`]+`|[\w$]+)(?:\.(?:`[^`]+`|[\w$]+))*)"
_CREATE = re.compile(
    r"CREATE\s+(?P<or>OR\s+(?:REPLACE|REFRESH)\s+)?(?P<kind>(?:(?:TEMPORARY|EXTERNAL|STREAMING|"
    r"MATERIALIZED|MANAGED)\s+)*(?:TABLE|VIEW|SCHEMA|DATABASE|CATALOG|VOLUME|FUNCTION))\s+"
    r"(?P<ine>IF\s+NOT\s+EXISTS\s+)?" + _NAME, re.I)
_INTO = re.compile(r"(?P<verb>INSERT|MERGE|COPY)\s+(?:INTO|OVERWRITE)\s+(?:TABLE\s+)?" + _NAME, re.I)
_REFRESH = re.compile(r"REFRESH\s+(?P<kind>MATERIALIZED\s+VIEW|STREAMING\s+TABLE|TABLE)\s+" + _NAME, re.I)
_DROP = re.compile(r"DROP\s+(?P<kind>(?:MATERIALIZED\s+|STREAMING\s+)?(?:TABLE|VIEW|SCHEMA|VOLUME|"
                   r"CATALOG))\s+(?P<ie>IF\s+EXISTS\s+)?" + _NAME, re.I)
_DML = re.compile(r"(?P<verb>UPDATE|DELETE\s+FROM)\s+" + _NAME, re.I)
_READS = ("SELECT", "WITH", "SHOW", "DESCRIBE", "DESC", "EXPLAIN", "VALUES", "LIST")
_FORCED_COPY = re.compile(r"'force'\s*=\s*'true'", re.I)
_LEADING_COMMENTS = re.compile(r"^(?:\s+|--[^\n]*\n?|/\*.*?\*/)*", re.S)


@dataclass(frozen=True)
class StatementKind:
    action: str  # "create table", "replace table", "materialize view", "copy into", "select", ...
    target: str | None  # the name as written, lower case, backticks removed
    idempotent: bool  # running it again after an unknown outcome gives the same state
    returns_rows: bool = False


def classify(text: str) -> StatementKind:
    """Action, target and idempotency of one statement.

    Idempotent: CREATE ... IF NOT EXISTS, CREATE OR REPLACE, CREATE OR REFRESH, queries, COPY INTO
    (it skips files it loaded, unless 'force' = 'true'), REFRESH, DROP ... IF EXISTS. INSERT, MERGE,
    UPDATE, DELETE and the rest are not: after a lost answer they may already have run.
    """
    body = _LEADING_COMMENTS.sub("", text, count=1)
    head = body.split(None, 1)[0].upper() if body.strip() else ""
    if head in _READS:
        return StatementKind("select" if head in ("SELECT", "WITH", "VALUES") else head.lower(),
                             None, True, True)
    match = _CREATE.match(body)
    if match:
        kind = " ".join(match.group("kind").lower().split())
        name = _name(match)
        if "materialized" in kind:
            return StatementKind("materialize view", name, bool(match.group("or") or match.group("ine")))
        if "streaming" in kind:
            return StatementKind("refresh streaming table" if match.group("or") else
                                 "create streaming table", name, bool(match.group("or") or match.group("ine")))
        kind = kind.split()[-1]
        kind = "schema" if kind == "database" else kind
        verb = "replace" if match.group("or") else "create"
        return StatementKind(f"{verb} {kind}", name, bool(match.group("or") or match.group("ine")))
    match = _INTO.match(body)
    if match:
        verb = match.group("verb").upper()
        if verb == "COPY":
            return StatementKind("copy into", _name(match), not _FORCED_COPY.search(body))
        return StatementKind(verb.lower(), _name(match), False)
    match = _REFRESH.match(body)
    if match:
        kind = "view" if "VIEW" in match.group("kind").upper() else "streaming table"
        return StatementKind(f"refresh {kind}", _name(match), True)
    match = _DROP.match(body)
    if match:
        kind = " ".join(match.group("kind").lower().split()).replace("materialized ", "")
        return StatementKind(f"drop {kind}", _name(match), bool(match.group("ie")))
    match = _DML.match(body)
    if match:
        return StatementKind(match.group("verb").split()[0].lower(), _name(match), False)
    return StatementKind(head.lower() or "empty", None, False)


def _name(match: re.Match) -> str:
    return match.group("name").replace("`", "").lower()


def select_names(text: str) -> list[str]:
    """The column names a query returns, for a dry run's empty answer (none for other statements)."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import SqlglotError

    if not classify(text).returns_rows:
        return []
    try:
        tree = sqlglot.parse_one(text, read="databricks")
    except SqlglotError:
        return []
    return list(tree.named_selects) if isinstance(tree, exp.Query) else []


def created_object(text: str) -> tuple[str, str] | None:
    """(catalog.schema.name, "TABLE" or "MATERIALIZED VIEW") of what the statement creates, if it
    creates a table or a materialized view."""
    kind = classify(text)
    if kind.target and kind.action in ("create table", "replace table"):
        return kind.target, "TABLE"
    if kind.target and kind.action == "materialize view":
        return kind.target, "MATERIALIZED VIEW"
    return None


def derived_objects(warehouse, sql_files) -> list[str]:
    """The tables and materialized views (catalog.schema.name) the files create, in order."""
    from ecomctl.warehouse.sqlfiles import render, split_statements

    targets = []
    for sql_file in sql_files:
        text = render(sql_file.text, warehouse.names.as_mapping(), sql_file.name)
        for statement in split_statements(text, sql_file.name):
            created = created_object(statement.text)
            if created:
                targets.append(created[0])
    return list(dict.fromkeys(targets))


def drop_statements(texts: "list[str]") -> list[str]:
    """DROP ... IF EXISTS for every table and materialized view these statements create, in
    reverse order: what a full refresh runs before the files build everything again."""
    created = [c for c in map(created_object, texts) if c]
    return list(dict.fromkeys(f"DROP {kind} IF EXISTS {target}" for target, kind in reversed(created)))
