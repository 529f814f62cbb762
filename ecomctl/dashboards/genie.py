"""A Genie space file as the `serialized_space` JSON the Genie API creates and updates spaces from.

Version 2 of the format: text fields are lists of strings, ids are 32 lowercase hex characters,
and every list keyed by id or identifier is sorted (the API rejects unsorted ones). Ids are derived
from the space and the item's position, so an update replaces each item instead of adding one.
"""

from __future__ import annotations

import hashlib
from typing import Any

from ecomctl.dashboards.definitions import GenieSpace
from ecomctl.warehouse.sqlfiles import render

SERIALIZED_SPACE_VERSION = 2


def space_id_for(space: GenieSpace, kind: str, index: int) -> str:
    """A stable 32-hex id: a digest of (space, kind) then the item's position, so ids sort in file order."""
    prefix = hashlib.sha256(f"ecomctl/{space.name}/{kind}".encode()).hexdigest()[:24]
    return f"{prefix}{index:08x}"


def lines(text: str) -> list[str]:
    """Text as the API stores it: lines that keep their newline, so joining them gives the text back."""
    return text.splitlines(keepends=True)


def rendered_tables(space: GenieSpace, names: dict[str, str], file: str) -> list[str]:
    return [render(table, names, file) for table in space.tables]


def rendered_questions(space: GenieSpace, names: dict[str, str], file: str) -> list[tuple[str, str]]:
    """(question, example SQL with the configured names) for each sample question, in file order."""
    return [(q.question, render(q.sql, names, file)) for q in space.questions]


def build_serialized_space(space: GenieSpace, names: dict[str, str], file: str) -> dict[str, Any]:
    questions = rendered_questions(space, names, file)
    return {
        "version": SERIALIZED_SPACE_VERSION,
        "config": {
            "sample_questions": [{"id": space_id_for(space, "sample_question", i), "question": [question]}
                                 for i, (question, _) in enumerate(questions)],
        },
        "data_sources": {
            "tables": [{"identifier": table} for table in sorted(rendered_tables(space, names, file))],
        },
        "instructions": {
            "text_instructions": [{"id": space_id_for(space, "text_instruction", 0),
                                   "content": lines(space.instructions)}],
            "example_question_sqls": [{"id": space_id_for(space, "example_question_sql", i),
                                       "question": [question], "sql": lines(sql)}
                                      for i, (question, sql) in enumerate(questions)],
        },
    }
