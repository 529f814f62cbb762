"""The Pipeline: every step of ecomctl as a library call that returns results.

The CLI is a thin shell over this object. Each step has one body: the target builds the
collaborators (transport, warehouse, landing folder, publisher, reconciler, checks), live or
planned, and a step asks them what they can do, never which target it runs on or whether it is
a dry run.
"""

from __future__ import annotations

import time
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from ecomctl.config import Settings
from ecomctl.errors import EcomctlError, UsageError
from ecomctl.results import NullReporter, ObjectResult, Reporter, StepResult, StepTimer
from ecomctl.targets import make_target

if TYPE_CHECKING:  # pragma: no cover
    from ecomctl.plan import Plan

INGEST_MODES = ("client", "kafka")

STEP_DESCRIPTIONS = {
    "setup": "apply pending setup SQL, check the transport",
    "generate": "send order events",
    "send": "send each line of a JSON-lines file as one event",
    "ingest": "land new events and build bronze",
    "transform": "build silver and gold",
    "views": "build the materialized views",
    "dashboards": "run the dashboard queries, publish dashboards",
    "status": "count rows, measure partition lag, list SQL versions",
}


class Pipeline:
    """With a `plan`, every step is a dry run: the target's planned collaborators record into the
    plan what they would send (statements, uploads, API calls) and connect to nothing."""

    def __init__(self, settings: Settings, reporter: Reporter | None = None,
                 plan: "Plan | None" = None) -> None:
        self.settings = settings
        self.reporter: Reporter = reporter or NullReporter()
        # Settings that cannot work on their target fail here, before any step.
        self.target = make_target(settings, plan=plan, reporter=self.reporter)
        self.checks = self.target.checks()

    # -- lazily built collaborators ----------------------------------------------
    @cached_property
    def transport(self):
        return self.target.transport()

    @cached_property
    def warehouse(self):
        return self.target.warehouse()

    @cached_property
    def layers(self):
        from ecomctl.layers import Layers

        return Layers(self.warehouse, self.checks, self.reporter, self.sql_root,
                      has_state=self.target.has_state)

    @cached_property
    def reconciler(self):
        return self.target.reconciler(self.warehouse)

    @cached_property
    def sql_root(self) -> Path:
        from ecomctl.warehouse.sqlfiles import sql_root

        return sql_root()

    def close(self) -> None:
        for name in ("transport", "warehouse"):
            if name in self.__dict__:
                self.__dict__.pop(name).close()

    def __enter__(self) -> "Pipeline":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def fqn(self, layer: str, table: str) -> str:
        schema = getattr(self.settings, f"{layer}_schema")
        return f"{self.settings.catalog}.{schema}.{table}"

    # -- steps -----------------------------------------------------------------
    def setup(self, create_catalog: bool = False) -> StepResult:
        """Check (or with `create_catalog`, create) the catalog, check the transport, apply the
        pending setup files. The warehouse comes first: its failure is the one to fix first."""
        from ecomctl.warehouse import migrations
        from ecomctl.warehouse.sqlfiles import load_step

        with self._step("setup") as step:
            self.settings.home.mkdir(parents=True, exist_ok=True)
            catalog = self.warehouse.ensure_catalog(create_catalog)
            if catalog is not None:
                step.objects.append(ObjectResult.of_statement(catalog))
            started = time.perf_counter()
            self.transport.check()
            step.objects.append(ObjectResult(
                self.transport.source, "reachable", None, time.perf_counter() - started))
            results = migrations.apply_pending(self.warehouse, load_step("setup", self.sql_root))
            step.objects += [ObjectResult.of_statement(r) for r in results]
            step.details["applied_files"] = sorted({r.file for r in results})
            if not results:
                step.objects.append(ObjectResult("setup SQL", "up to date", None, 0.0))
        return step

    def generate(self, count: int | None = None, seed: int | None = None,
                 as_of: datetime | None = None) -> StepResult:
        from ecomctl.events.generator import OrderEvents

        count = self.settings.event_count if count is None else count
        with self._step("generate") as step:
            step.details.update(requested=count, events=0, bytes=0)

            def progress(n: int, nbytes: int) -> None:
                step.details.update(events=n, bytes=nbytes)  # what a stopped run has sent
                self.reporter.progress("generate", n, count, nbytes)

            sent = self.transport.send(OrderEvents(count, seed, as_of), on_progress=progress)
            step.objects.append(ObjectResult(self.transport.source, "send", sent.events, sent.seconds))
            step.details.update(events=sent.events, batches=sent.batches, bytes=sent.bytes,
                                seconds=round(sent.seconds, 3),
                                seed=seed, events_per_second=_rate(sent.events, sent.seconds))
        return step

    def send(self, source: "str | Path | BinaryIO", name: str | None = None) -> StepResult:
        """Send each line of a JSON-lines file (a path, or an open binary stream such as stdin)
        as one event body, byte for byte and unvalidated (bronze validates): for replays and
        backfills. See ecomctl/sendfile.py for the partition key and empty lines."""
        from ecomctl.sendfile import JsonLines, send_lines

        with self._step("send") as step:
            lines = JsonLines(source, name, on_terminal=lambda: self.reporter.message(
                "reading events from standard input, one JSON object per line; "
                "end with Ctrl-D (Ctrl-Z then Enter on Windows)"))
            sent = send_lines(self.transport, lines,
                              on_progress=lambda n, total: self.reporter.progress("send", n, total))
            step.objects.append(ObjectResult(self.transport.source, "send", sent.events, sent.seconds))
            step.details.update(file=lines.name, lines=lines.count.lines, events=sent.events,
                                empty_lines_skipped=lines.count.empty, batches=sent.batches,
                                bytes=sent.bytes, events_per_second=_rate(sent.events, sent.seconds))
        return step

    def ingest(self, mode: str = "client", full_refresh: bool = False) -> StepResult:
        """client (default): read the hub here, land files, upload them where the warehouse needs
        them, COPY INTO raw_events. kafka: the warehouse reads the hub itself through a streaming
        table (only where the warehouse hosts streaming tables). Then the bronze SQL, in both:
        it folds in the events not processed yet; `full_refresh` drops bronze's derived tables
        first, so it processes every event of raw_events again."""
        if mode not in INGEST_MODES:
            raise UsageError(f"unknown ingest mode {mode!r}; choose one of {', '.join(INGEST_MODES)}")
        if mode == "kafka" and not self.warehouse.SUPPORTS_STREAMING_TABLES:
            raise UsageError(f"ingest --mode kafka needs a warehouse that hosts streaming tables "
                             f"(the databricks target); the {self.settings.target} target ingests "
                             "with --mode client")
        kafka_names = self.target.kafka_names() if mode == "kafka" else {}  # fail before connecting
        with self._step("ingest") as step:
            self.layers.require_setup()
            if mode == "kafka":
                self._ingest_kafka(step, kafka_names)
            else:
                self._ingest_client(step)
            step.objects += self.layers.build("bronze", full_refresh, self._bronze_build_files(), step="ingest")
            if step.details["expired"]:
                self.reporter.message(f"{step.details['expired']:,} events expired from "
                                      f"{self.transport.source} before they were ingested")
        return step

    def transform(self, full_refresh: bool = False) -> StepResult:
        """silver (the orders changed since the last transform) then gold."""
        with self._step("transform") as step:
            self.layers.require_setup()
            self.layers.require("bronze", "ingest")
            for layer in ("silver", "gold"):
                step.objects += self.layers.build(layer, full_refresh, step="transform")
        return step

    def views(self, full_refresh: bool = False) -> StepResult:
        with self._step("views") as step:
            self.layers.require_setup()
            self.layers.require("gold", "transform")
            step.objects += self.layers.build("views", full_refresh, step="views")
            step.details["materialized_views"] = self.warehouse.SUPPORTS_MATERIALIZED_VIEWS
        return step

    def dashboards(self) -> StepResult:
        with self._step("dashboards") as step:
            self.layers.require_setup()
            self.layers.require("views", "views")
            self.target.publisher(self.warehouse).publish(step, self.warehouse, self.sql_root)
        return step

    def run_all(self, count: int | None = None, seed: int | None = None,
                as_of: datetime | None = None, create_catalog: bool = False,
                full_refresh: bool = False) -> tuple[list[StepResult], dict[str, Any] | None]:
        steps = [self.setup(create_catalog), self.generate(count, seed, as_of),
                 self.ingest(full_refresh=full_refresh), self.transform(full_refresh),
                 self.views(full_refresh), self.dashboards()]
        return steps, self.ingest_reconciliation(steps[2], sent=steps[1].details["events"])

    def status(self) -> StepResult:
        from ecomctl.status import collect_status

        with self._step("status") as step:
            collect_status(step, self.transport, self.warehouse, self.warehouse.names,
                           has_state=self.target.has_state(), home=self.settings.home,
                           sql_root=self.sql_root)
        return step

    # -- reading state ---------------------------------------------------------
    def reconciliation(self, **flow: Any) -> dict[str, Any]:
        """This run's flow and the all-time balance of bronze (see ecomctl/reconciliation.py)."""
        return self.reconciler.reconcile(**flow)

    def ingest_reconciliation(self, ingest: StepResult, sent: int | None = None) -> dict[str, Any] | None:
        """After an ingest step: its flow and bronze's all-time balance (None in a plan)."""
        return self.reconciler.after_ingest(ingest.details, sent=sent)

    def bronze_reconciliation(self) -> dict[str, Any] | None:
        """The all-time balance of bronze; None before bronze was first built and in a plan."""
        return self.reconciler.of_bronze(self.target.has_state())

    @staticmethod
    def check_reconciliation(reconciliation: dict[str, Any] | None) -> None:
        from ecomctl.reconciliation import check

        check(reconciliation)

    # -- helpers -----------------------------------------------------------------
    def _ingest_client(self, step: StepResult) -> None:
        from ecomctl.warehouse.sqlfiles import load_step

        load_files = [f for f in load_step("bronze", self.sql_root) if f.name.startswith("bronze/00_")]
        if not load_files:
            raise EcomctlError("sql/bronze has no 00_ file that loads the landing files")

        def load() -> int:
            return sum(r.rows or 0 for f in load_files for r in self.warehouse.run_file(f))

        started = time.perf_counter()
        recovered, summary = self.target.landing().ingest(
            self.transport, self.warehouse, load, self.settings.ingest_batch,
            on_progress=lambda done, total: self.reporter.progress("ingest", done, total))
        landed = summary.landed_rows + recovered
        step.objects.append(ObjectResult(self.fqn("bronze", "raw_events"), "copy into",
                                         landed, time.perf_counter() - started))
        step.details.update(
            mode="client", received=summary.received, landed=landed,
            recovered_from_earlier_run=recovered, landing_files=summary.files,
            landing_files_removed=summary.landing_files_removed, expired=summary.expired,
            partitions=[{"partition_id": p.partition_id, "from_checkpoint": p.start_checkpoint,
                         "to_sequence": p.end_sequence, "received": p.received,
                         "expired": p.expired} for p in summary.partitions])

    def _ingest_kafka(self, step: StepResult, names: dict[str, str]) -> None:
        from ecomctl.kafka_ingest import ingest_through_kafka
        from ecomctl.warehouse.sqlfiles import load_step

        results = ingest_through_kafka(self.warehouse, self.transport, self.checks,
                                       load_step("kafka", self.sql_root), names)
        step.objects += [ObjectResult.of_statement(r) for r in results]
        landed = sum(r.rows or 0 for r in results if r.action == "merge")
        step.details.update(mode="kafka", source=names["source"], received=landed, landed=landed,
                            recovered_from_earlier_run=0, landing_files=0, landing_files_removed=0,
                            expired=0, partitions=[])

    def _bronze_build_files(self) -> list:
        from ecomctl.warehouse.sqlfiles import load_step

        return [f for f in load_step("bronze", self.sql_root) if not f.name.startswith("bronze/00_")]

    def _step(self, name: str) -> StepTimer:
        self.target.begin_step(name)
        return StepTimer(name, STEP_DESCRIPTIONS.get(name, ""), self.reporter)


def _rate(count: int, seconds: float) -> int:
    return int(count / seconds) if seconds > 0 else 0
