"""The SQL the local adapter writes itself, around the translated statements: quoted names and
values, and the time its bookkeeping rows carry."""

from __future__ import annotations

from datetime import datetime, timezone


def table_sql(fqn: str) -> str:
    return ".".join(ident(p) for p in fqn.split("."))


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def utc_now() -> datetime:
    """Now, in UTC and without a zone: how the local TIMESTAMP columns hold instants."""
    return datetime.now(timezone.utc).replace(tzinfo=None)
