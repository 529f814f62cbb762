"""The console: how results reach a person. Live progress on a terminal, one line per event elsewhere.

With --json, everything here goes to stderr and stdout carries only the report.
"""

from __future__ import annotations

import os
import sys
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable

from rich.console import Console, RenderableType
from rich.progress import BarColumn, Progress, ProgressColumn, Task
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from ecomctl.results import StepResult

# What the count of a step's progress counts, as its live line and its log lines say it.
_PROGRESS_LABELS = {"generate": "sending events", "send": "sending events", "ingest": "landing events"}
# Without a terminal, a long step's progress goes to the log this often at most.
PLAIN_PROGRESS_SECONDS = 10.0


class Scrubber:
    """Replaces every known secret value in text before it is shown."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets = [s for s in secrets if s]

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "**********")
        return text


class PipelineConsole:
    """Implements the Reporter protocol and renders results as Rich tables."""

    def __init__(self, *, to_stderr: bool = False, interactive: bool | None = None,
                 scrub: Scrubber | None = None) -> None:
        stream = sys.stderr if to_stderr else sys.stdout
        plain = no_color()
        # NO_COLOR (https://no-color.org): no colour, no bold, no escape sequences at all, even on a
        # terminal (FORCE_COLOR included), so live progress gives way to one line per step.
        self.console = Console(file=stream, highlight=False, color_system=None if plain else "auto")
        if not self.console.is_terminal and "COLUMNS" not in os.environ:
            # Logs (CI, cron, pipes, mail) have no width of their own: 80 columns, as the README
            # promises (Rich's default would be whatever it guesses).
            self.console.width = 80
        if interactive is None:
            interactive = self.console.is_terminal and not plain
        self.interactive = interactive
        self.scrub = scrub or Scrubber()
        self._live: _StepLine | None = None  # the running step's live line, on a terminal
        self._status = None
        self._plain_progress_at = time.monotonic()
        self.dry_run = False  # a dry run prints its plan, not tables of objects that were not touched
        self.finished: list[StepResult] = []

    # -- Reporter ----------------------------------------------------------------
    def step_started(self, step: str, description: str) -> None:
        self._plain_progress_at = time.monotonic()
        if self.interactive:
            self._live = _StepLine(self.console, step, description)
        else:
            self.console.print(f"{step}: started ({description})", soft_wrap=True)

    def progress(self, task: str, completed: int, total: int | None,
                 nbytes: int | None = None) -> None:
        label = _PROGRESS_LABELS.get(task, task)
        if self._live is not None:
            self._live.show(label, completed, total, None if nbytes is None else _filesize(nbytes))
        elif not self.interactive and time.monotonic() - self._plain_progress_at >= PLAIN_PROGRESS_SECONDS:
            # A log gets a line now and then, so that a long step does not look hung there either.
            self._plain_progress_at = time.monotonic()
            self.console.print(f"{task}: {label} {_count(completed, total)}", soft_wrap=True)

    def phase(self, step: str, text: str, done: int = 0, total: int | None = None) -> None:
        text = self.scrub(text)
        if self._live is not None:
            self._live.show(text, done, total)
        elif not self.interactive:
            count = _count(done, total)
            self.console.print(_escape(f"{step}: {text}" + (f" {count}" if count else "")), soft_wrap=True)

    def step_finished(self, result: StepResult) -> None:
        self._stop_progress()
        self.finished.append(result)
        if self.dry_run:
            return
        if not self.interactive:
            self.console.print(f"{result.step}: finished in {result.seconds:.2f}s "
                               f"({step_headline(result)})", soft_wrap=True)
        self.render_step(result)

    def step_failed(self, result: StepResult) -> None:
        self._stop_progress()
        self.finished.append(result)
        if not self.interactive:
            self.console.print(f"{result.step}: failed after {result.seconds:.2f}s", soft_wrap=True)

    def message(self, text: str) -> None:
        self.console.print(f"[yellow]![/yellow] {_escape(self.scrub(text))}", soft_wrap=True)

    def waiting(self, text: str | None) -> None:
        """A spinner on a terminal (the step's live line when it has one), one line elsewhere;
        None ends the wait."""
        if self._live is not None:
            self._live.wait(None if text is None else self.scrub(text))
            return
        if text is None:
            if self._status is not None:
                self._status.stop()
                self._status = None
            return
        text = _escape(self.scrub(text))
        if not self.interactive:
            self.console.print(f"... {text}", soft_wrap=True)
        elif self._status is None:
            self._status = self.console.status(text)
            self._status.start()
        else:
            self._status.update(text)

    def report_written(self, path: Path, *, ok: bool = True) -> None:
        """The last line of a command that worked: where its JSON report is. A failure keeps to
        its one line on stderr (its report is written all the same)."""
        if ok:
            self.console.print(_escape(self.scrub(f"run report: {path}")), soft_wrap=True)

    def render_plan(self, plan) -> None:
        """The dry-run plan: numbered entries with their step and kind, statements in full."""
        # The count by kind is the figure to compare between runs (e.g. statements at 300 and at
        # 1,000,000 events); --json has the same entries in its "plan".
        kinds = Counter(entry.kind for entry in plan.entries)
        by_kind = ", ".join(f"{count} {kind}" for kind, count in kinds.items())
        self.console.print(f"[bold]dry run[/bold]: {plural(len(plan.entries), 'action')} ({by_kind}), nothing was sent",
                           soft_wrap=True)
        width = len(str(len(plan.entries)))
        for entry in plan.entries:
            head = f"{entry.number:>{width}}. [{entry.step}] {entry.kind}:"
            text = self.scrub(entry.text)
            if "\n" in text:
                self.console.print(_escape(head), soft_wrap=True)
                self.console.print(_escape("\n".join("    " + line for line in text.splitlines())),
                                   soft_wrap=True)
            else:
                self.console.print(_escape(f"{head} {text}"), soft_wrap=True)

    # -- rendering -----------------------------------------------------------------
    def render_step(self, result: StepResult) -> None:
        if result.details.get("warehouse_busy"):
            self.message(busy_line(result.details["warehouse_busy"]))
        if result.objects and result.step == "status":
            # status counts rows: no action or time per table worth a column
            table = Table(title="rows per table", title_justify="left")
            table.add_column("table")
            table.add_column("rows", justify="right")
            for obj in result.objects:
                table.add_row(_escape(self.scrub(obj.object)), _num(obj.rows))
            self.console.print(table)
        elif result.objects:
            table = Table(title=f"{result.step} ({result.seconds:.2f}s)", title_justify="left")
            table.add_column("object")
            table.add_column("action")
            table.add_column("rows", justify="right")
            table.add_column("seconds", justify="right")
            for obj in result.objects:
                table.add_row(_escape(self.scrub(obj.object)), obj.action, _num(obj.rows),
                              f"{obj.seconds:.2f}")
            self.console.print(table)
        for title, (columns, rows) in result.tables.items():
            if title in result.charts:
                self.render_bar_chart(title, columns, rows, result.charts[title])
            else:
                self.render_table(title, columns, rows)
        if result.step in ("generate", "send"):
            d = result.details
            self.console.print(f"sent {plural(d['events'], 'event')} in {plural(d['batches'], 'batch', 'batches')} "
                               f"({plural(d['bytes'], 'byte')}, {d.get('seconds', result.seconds):.2f} s, "
                               f"{d['events_per_second']:,} events/s)")
            if d.get("empty_lines_skipped"):
                self.console.print(f"skipped {plural(d['empty_lines_skipped'], 'empty line')} of "
                                   f"{_escape(self.scrub(d['file']))}")

    def render_table(self, title: str, columns: list[str], rows: list[list[Any]]) -> None:
        table = Table(title=title, title_justify="left")
        for n, column in enumerate(columns):
            # A column of numbers (and blanks) reads right-aligned, as in every table above.
            numeric = any(_is_number(row[n]) or _is_size(row[n]) for row in rows) and all(
                row[n] is None or _is_number(row[n]) or _is_size(row[n]) for row in rows)
            table.add_column(str(column), justify="right" if numeric else "left")
        for row in rows:
            table.add_row(*(_cell(self.scrub(v) if isinstance(v, str) else v) for v in row))
        self.console.print(table)

    def render_bar_chart(self, title: str, columns: list[str], rows: list[list[Any]], value: str) -> None:
        """The table with one more column: a bar per row, as long as its `value` relative to the largest."""
        from rich.bar import Bar

        at = columns.index(value)
        top = max((float(row[at]) for row in rows if _is_number(row[at])), default=0.0)
        # What is left of the line once the other columns are drawn, within 12 to 40 characters.
        width = max(12, min(40, self.console.width - 20 - 13 * len(columns)))
        table = Table(title=title, title_justify="left")
        for column in columns:
            table.add_column(str(column), justify="right" if column != columns[0] else "left")
        table.add_column("", width=width, no_wrap=True)
        for row in rows:
            size = float(row[at]) if _is_number(row[at]) and top > 0 else 0.0
            bar = Bar(size=top or 1.0, begin=0, end=max(size, 0.0), width=width, color="blue")
            table.add_row(*(_cell(self.scrub(v) if isinstance(v, str) else v) for v in row), bar)
        self.console.print(table)

    def render_summary(self, steps: list[StepResult], reconciliation: dict[str, Any] | None) -> None:
        if self.dry_run:  # the plan is the summary of a dry run
            return
        table = Table(title="run-all summary", title_justify="left")
        for column in ("step", "result", "seconds"):
            table.add_column(column, justify="right" if column == "seconds" else "left")
        for step in steps:
            table.add_row(step.step, step_headline(step), f"{step.seconds:.2f}")
        self.console.print(table)
        if reconciliation:
            self.render_reconciliation(reconciliation)
        dashboard = next((dashboard_location(s) for s in steps if dashboard_location(s)), None)
        if dashboard:
            self.console.print(_escape(f"dashboard: {self.scrub(str(dashboard))}"), soft_wrap=True)

    def render_reconciliation(self, r: dict[str, Any]) -> None:
        flow = [(label, r.get(key)) for label, key in (
            ("sent", "sent"), ("received from the hub", "received"),
            ("expired before ingest", "expired"), ("recovered from an interrupted run", "recovered"))
            if r.get(key) is not None and (key != "recovered" or r[key])]
        if flow or r.get("landed") is not None:
            table = Table(title="reconciliation", title_justify="left")
            table.add_column("events")
            table.add_column("this run", justify="right")
            table.add_column("all runs", justify="right")
            for label, value in flow:
                table.add_row(label, _num(value), "")
            table.add_row("landed in raw_events", "" if r.get("landed") is None else _num(r["landed"]),
                          _num(r["total_landed"]))

            def add(label: str, value: str) -> None:
                table.add_row(label, "", value)
        else:  # status: no run, so no "this run" column
            table = Table(title="reconciliation (all runs)", title_justify="left")
            table.add_column("events")
            table.add_column("count", justify="right")
            table.add_row("landed in raw_events", _num(r["total_landed"]))

            def add(label: str, value: str) -> None:
                table.add_row(label, value)
        add("valid orders", _num(r["valid_orders"]))
        add("rejected", _num(r["rejected"]))
        add("duplicates removed", _num(r["duplicates_removed"]))
        add("  transport redeliveries", _num(r["transport_duplicates"]))
        add("  producer resends", _num(r["producer_duplicates"]))
        add("balanced", _mark(r["balanced"]))
        self.console.print(table)
        partitions = r.get("partitions") or []
        if partitions:
            several = len({p["source"] for p in partitions}) > 1
            table = Table(title="received = valid + rejected + duplicates, per partition (all runs)",
                          title_justify="left")
            for column in ("partition", "received", "valid orders", "rejected", "duplicates", "balanced"):
                table.add_column(column, justify="left" if column == "partition" else "right")
            for p in partitions:
                name = f"{p['source']} {p['partition_id']}" if several else p["partition_id"]
                table.add_row(_escape(name), _num(p["received"]), _num(p["valid_orders"]),
                              _num(p["rejected"]), _num(p["duplicates"]), _mark(p["balanced"]))
            table.add_row("total", _num(r["total_landed"]), _num(r["valid_orders"]), _num(r["rejected"]),
                          _num(r["duplicates_removed"]), _mark(r["balanced"]), style="bold")
            self.console.print(table)

    def error(self, text: str, *, debug_hint: bool = True) -> None:
        self._stop_progress()
        hint = " [dim](run with --debug for the full traceback)[/dim]" if debug_hint else ""
        self.console.print(f"[bold red]Error:[/bold red] {_escape(self.scrub(text))}{hint}",
                           soft_wrap=True)

    def _stop_progress(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None
        self.waiting(None)


class _StepLine:
    """The live line of a running step on a terminal: a spinner, what the step does now, a bar and
    a count once the total is known, and a clock. The spinner and the clock never stop while the
    step runs, whatever the count says: a finished count (300,000/300,000) with the bronze SQL
    still running must not look hung."""

    def __init__(self, console: Console, step: str, description: str) -> None:
        self.step = step
        self.started = time.monotonic()
        self.text = description
        self.progress = Progress(_Spinner(), _Text(), _Bar(bar_width=24), _Count(), _Clock(self.started),
                                 console=console, transient=True)
        self.task = self.progress.add_task(description, total=None, step=step, extra="")
        self.progress.start()

    def show(self, text: str, done: int, total: int | None, extra: str | None = None) -> None:
        self.text = text
        fields = {} if extra is None else {"extra": extra}
        self.progress.update(self.task, description=text, completed=done, total=total, **fields)

    def wait(self, text: str | None) -> None:
        """While the step waits (a warehouse starting), the line says on what; then what it did."""
        self.progress.update(self.task, description=self.text if text is None else text)

    def stop(self) -> None:
        self.progress.stop()


class _Spinner(ProgressColumn):
    """Always spinning: Rich's own spinner stops when the count is complete."""

    def __init__(self) -> None:
        super().__init__()
        self.spinner = Spinner("dots", style="progress.spinner")

    def render(self, task: Task) -> RenderableType:
        return self.spinner.render(task.get_time())


class _Text(ProgressColumn):
    def render(self, task: Task) -> RenderableType:
        text = Text(task.fields["step"], style="bold")
        text.append(f" {task.description}")
        return text


class _Bar(BarColumn):
    """No bar until there is a total: never `0/?`."""

    def render(self, task: Task) -> RenderableType:
        return Text("") if task.total is None else super().render(task)


class _Count(ProgressColumn):
    """`120,000/300,000` and, when sending, the bytes so far."""

    def render(self, task: Task) -> RenderableType:
        count = _count(int(task.completed), None if task.total is None else int(task.total))
        return Text(" ".join(p for p in (count, task.fields.get("extra") or "") if p),
                    style="progress.download")


class _Clock(ProgressColumn):
    """The step's clock, not the task's: it does not stop when a count is complete."""

    def __init__(self, started: float) -> None:
        super().__init__()
        self.started = started

    def render(self, task: Task) -> RenderableType:
        seconds = int(time.monotonic() - self.started)
        return Text(f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}",
                    style="progress.elapsed")


def _count(done: int, total: int | None) -> str:
    """`1,234/5,000`; with no total, `1,234`, or nothing before the first unit."""
    if total is not None:
        return f"{done:,}/{total:,}"
    return f"{done:,}" if done else ""


def plural(count: int, word: str, words: str | None = None) -> str:
    """`1 event`, `2 events`, `1,000 queries`."""
    return f"{count:,} {word if count == 1 else (words or word + 's')}"


def step_headline(step: StepResult) -> str:
    """What a step did in a few words, for its log line and the run summaries: one figure with
    its unit, never rows of different tables added together."""
    d, objects = step.details, len(step.objects)
    if step.step in ("generate", "send") and d.get("events") is not None:
        return f"{plural(d['events'], 'event')} sent"
    if step.step == "ingest" and d.get("landed") is not None:
        expired = f", {d['expired']:,} expired before ingest" if d.get("expired") else ""
        return f"{plural(d['landed'], 'event')} landed{expired}"
    if step.step == "setup" and "applied_files" in d:
        applied = len(d["applied_files"])
        return f"{plural(applied, 'setup file')} applied" if applied else "setup SQL up to date"
    built = len({o.object for o in step.objects if not o.action.startswith("drop")})
    if step.step == "transform":
        return f"{plural(built, 'table')} built"
    if step.step == "views":
        return f"{plural(built, 'view')} built"
    if step.step == "dashboards" and isinstance(d.get("queries"), list):  # published to a service
        return (f"dashboard, {plural(len(d['queries']), 'saved query', 'saved queries')} and "
                f"{plural(len(d.get('genie_spaces') or []), 'Genie space')} published")
    if step.step == "dashboards" and d.get("queries") is not None:
        return f"{plural(d['queries'], 'query', 'queries')} run"
    if step.step == "status" and d.get("warehouse_busy"):
        return "the event log only: another process writes the warehouse"
    if step.step == "status":
        return f"{plural(objects, 'table')} counted"
    return plural(objects, "object")


def dashboard_location(step: StepResult) -> str | None:
    """Where a dashboards step put the dashboard: the HTML file, or the published one's URL."""
    dashboard = step.details.get("dashboard")
    if isinstance(dashboard, dict):
        return dashboard.get("url") or dashboard.get("path")
    return str(dashboard) if dashboard else None


def busy_line(holder: dict[str, Any]) -> str:
    """What status says when another process writes the warehouse (details["warehouse_busy"])."""
    from ecomctl.locking import LockHolder

    return (f"another ecomctl process ({LockHolder(**holder).describe()}) is writing the warehouse: "
            "its row counts, lag, SQL versions and reconciliation show once it is done")


def no_color() -> bool:
    """NO_COLOR set to anything but the empty string turns colour off (https://no-color.org)."""
    return bool(os.environ.get("NO_COLOR"))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)


def _is_size(value: Any) -> bool:
    """`311.3 kB`: a figure with its unit, right-aligned like a number."""
    import re

    return isinstance(value, str) and re.fullmatch(r"[\d,.]+ (bytes|kB|MB|GB|TB)", value) is not None


def _mark(ok: bool) -> str:
    return "[green]yes[/green]" if ok else "[red]NO[/red]"


def _filesize(nbytes: int) -> str:
    from rich.filesize import decimal

    return decimal(nbytes)


def _num(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if isinstance(value, Decimal):
        return f"{value:,}"
    return _escape(str(value))


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)
