"""Statements prepared for DuckDB, kept between runs beside the warehouse file.

Translating a Databricks statement (dialect.py) needs sqlglot, which takes about 0.4 s to import,
and tens of milliseconds a statement to parse, fix and print: most of what a small incremental run
costs, for statements that are the same every run. So the live session keeps what it needs to run
each statement (`Prepared`: the DuckDB SQL and how to carry it out, no parse tree) in
`<catalog>.duckdb.statements.json`, keyed by the statement's text, and a run whose statements
were all seen before neither imports nor runs sqlglot.

The file is a cache, never a source of truth: it is stamped with the code that translates (this
module, dialect.py, copy_into.py and sqlglot's version), and a different stamp, an unreadable file
or a missing one starts an empty cache. It keeps the statements used most recently, at most
CAPACITY of them, so its size is bounded whatever runs; it is written whole to a temporary file
then renamed over the old one, so a crash or a second process never leaves half a file.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections import OrderedDict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ecomctl.warehouse import dialect
from ecomctl.warehouse.duckdb import copy_into

CAPACITY = 256  # statements; a run uses about 30 distinct ones
FORMAT = 1
SUFFIX = ".statements.json"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Prepared:
    """How the live session runs one Databricks statement (see dialect.LocalStatement's kinds)."""

    kind: str
    action: str
    target: tuple[str, ...] | None
    sql: str | None = None
    returns_rows: bool = False
    if_not_exists: bool = False  # CREATE ... IF NOT EXISTS
    has_query: bool = False  # CREATE TABLE ... AS SELECT
    copy: copy_into.CopySpec | None = None  # COPY INTO: its source, options and columns

    @classmethod
    def of(cls, statement: dialect.LocalStatement) -> "Prepared":
        tree = statement.tree
        create = tree.key == "create"
        return cls(statement.kind, statement.action, statement.target, statement.sql,
                   statement.returns_rows, create and bool(tree.args.get("exists")),
                   create and tree.args.get("expression") is not None,
                   copy_into.copy_spec(tree) if statement.kind == "copy" else None)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Prepared":
        target = data.get("target")
        copy = data.get("copy")
        return cls(data["kind"], data["action"], tuple(target) if target is not None else None,
                   data.get("sql"), bool(data.get("returns_rows")), bool(data.get("if_not_exists")),
                   bool(data.get("has_query")),
                   copy_into.CopySpec.from_json(copy) if copy is not None else None)


def prepare(text: str) -> Prepared:
    """Translate one Databricks statement (dialect.TranslationError when it cannot run here)."""
    from sqlglot.errors import SqlglotError

    try:
        return Prepared.of(dialect.plan(text))
    except SqlglotError as exc:
        raise dialect.TranslationError(str(exc)) from None


class StatementCache:
    """Prepared statements by text, loaded from `path` on first use and saved by `save()`."""

    def __init__(self, path: Path, capacity: int = CAPACITY) -> None:
        self.path = path
        self.capacity = capacity
        self._entries: OrderedDict[str, Prepared] | None = None
        self._changed = False
        self.hits = self.misses = 0

    def prepare(self, text: str) -> Prepared:
        entries = self._load()
        key = hashlib.sha256(text.encode()).hexdigest()
        found = entries.get(key)
        if found is not None:
            self.hits += 1
            if next(reversed(entries)) != key:  # most recently used last
                entries.move_to_end(key)
                self._changed = True
            return found
        self.misses += 1
        prepared = prepare(text)
        entries[key] = prepared
        while len(entries) > self.capacity:
            entries.popitem(last=False)
        self._changed = True
        return prepared

    def save(self) -> None:
        """Write the cache if this run changed it; a failure to write only costs the next run time."""
        if not self._changed or self._entries is None:
            return
        body = json.dumps({"format": FORMAT, "stamp": _stamp(),
                           "statements": {k: v.to_json() for k, v in self._entries.items()}},
                          separators=(",", ":"))
        try:
            fd, temporary = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as out:
                    out.write(body)
                os.replace(temporary, self.path)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
        except OSError as exc:
            log.debug("statement cache %s not written: %s", self.path, exc)
            return
        self._changed = False

    def _load(self) -> OrderedDict[str, Prepared]:
        if self._entries is None:
            self._entries = OrderedDict()
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
                if data.get("format") == FORMAT and data.get("stamp") == _stamp():
                    for key, value in data["statements"].items():
                        self._entries[key] = Prepared.from_json(value)
            except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
                if not isinstance(exc, FileNotFoundError):
                    log.debug("statement cache %s ignored: %s", self.path, exc)
                self._entries.clear()
        return self._entries


_STAMP: str | None = None


def _stamp() -> str:
    """The code a prepared statement depends on: the translating modules and sqlglot's version,
    read from its files (importing sqlglot is what the cache spares)."""
    global _STAMP
    if _STAMP is None:
        import importlib.util

        digest = hashlib.sha256()
        for module in (dialect, copy_into):
            digest.update(Path(module.__file__).read_bytes())
        digest.update(Path(__file__).read_bytes())
        spec = importlib.util.find_spec("sqlglot")
        if spec is not None and spec.origin:
            package = Path(spec.origin).parent
            version = package / "_version.py"
            digest.update((version if version.is_file() else package / "__init__.py").read_bytes())
        _STAMP = digest.hexdigest()
    return _STAMP
