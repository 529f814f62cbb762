"""What steps return: objects touched, rows, seconds and step details. Only the console prints them."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

REPORT_SCHEMA_VERSION = 1


@dataclass
class ObjectResult:
    object: str
    action: str
    rows: int | None
    seconds: float

    @classmethod
    def of_statement(cls, result) -> "ObjectResult":
        """What a warehouse statement did (a StatementResult), as a step reports it."""
        return cls(result.object or f"{result.file}#{result.statement}", result.action, result.rows,
                   result.seconds)


@dataclass
class StepResult:
    step: str
    objects: list[ObjectResult] = field(default_factory=list)
    seconds: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)
    # Figures worth a table of their own (e.g. dashboard key figures): title -> (columns, rows).
    tables: dict[str, tuple[list[str], list[list[Any]]]] = field(default_factory=dict)
    # Tables the terminal draws as bar charts: title -> the numeric column the bars show.
    charts: dict[str, str] = field(default_factory=dict)


@dataclass
class RunReport:
    command: str
    target: str
    home: str
    started_at: str
    version: str
    steps: list[StepResult] = field(default_factory=list)
    ok: bool = True
    error: str | None = None
    finished_at: str | None = None
    seconds: float = 0.0
    reconciliation: dict[str, int] | None = None
    settings: dict[str, Any] | None = None
    # --dry-run: what the command would send, in order ({number, step, kind, text}); None otherwise.
    plan: list[dict[str, Any]] | None = None
    schema_version: int = REPORT_SCHEMA_VERSION

    def to_json(self) -> str:
        return json.dumps(asdict(self), default=_json_default, indent=2)

    def write(self, runs_dir: Path, text: str | None = None) -> Path:
        runs_dir.mkdir(parents=True, exist_ok=True)
        stamp = self.started_at.replace(":", "").replace("-", "").replace("+0000", "Z")
        path = runs_dir / f"{stamp}_{self.command}.json"
        n = 1
        while path.exists():
            n += 1
            path = runs_dir / f"{stamp}_{self.command}_{n}.json"
        path.write_text((text or self.to_json()) + "\n", encoding="utf-8")
        return path


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    return str(value)


class Reporter(Protocol):
    """How a running step tells the console what it is doing; the library never prints."""

    def step_started(self, step: str, description: str) -> None: ...

    def step_finished(self, result: StepResult) -> None: ...

    def step_failed(self, result: StepResult) -> None: ...

    def progress(self, task: str, completed: int, total: int | None,
                 nbytes: int | None = None) -> None: ...

    def phase(self, step: str, text: str, done: int = 0, total: int | None = None) -> None:
        """Say what part of `step` runs now, e.g. ("ingest", "bronze: received_events", 1, 4).

        `done` of `total` is the count shown beside `text` (for files run one after another, the
        number of the one now running, from 1); total None: a count with no end, or none at all.
        A terminal shows it live; a log, one line per call, so call it per phase, not per row."""

    def message(self, text: str) -> None: ...

    def waiting(self, text: str | None) -> None:
        """Show that the step waits on something slow (a warehouse starting); None: done waiting."""


class NullReporter:
    """A reporter that keeps quiet: for library use and tests."""

    def step_started(self, step: str, description: str) -> None:
        pass

    def step_finished(self, result: StepResult) -> None:
        pass

    def step_failed(self, result: StepResult) -> None:
        pass

    def progress(self, task: str, completed: int, total: int | None,
                 nbytes: int | None = None) -> None:
        pass

    def phase(self, step: str, text: str, done: int = 0, total: int | None = None) -> None:
        pass

    def message(self, text: str) -> None:
        pass

    def waiting(self, text: str | None) -> None:
        pass


class StepTimer:
    """Times a step and reports its start and finish."""

    def __init__(self, name: str, description: str, reporter: Reporter) -> None:
        self.result = StepResult(name)
        self.description = description
        self.reporter = reporter
        self.started = 0.0

    def __enter__(self) -> StepResult:
        self.reporter.step_started(self.result.step, self.description)
        self.started = time.perf_counter()
        self.result.details["started_at"] = utc_now().isoformat()
        return self.result

    def __exit__(self, exc_type, exc, tb) -> None:
        self.result.seconds = time.perf_counter() - self.started
        if exc_type is None:
            self.reporter.step_finished(self.result)
        else:
            self.result.details["failed"] = True
            self.reporter.step_failed(self.result)
