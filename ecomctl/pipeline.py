"""The Pipeline: every step of ecomctl as a library call that returns results.

The CLI is a thin shell over this object. A step asks the transport and the
warehouse what they can do; it never asks which target it runs on.
"""

from __future__ import annotations

import time
from datetime import datetime
from functools import cached_property
from typing import Any, Sequence

from ecomctl.config import Settings
from ecomctl.errors import EcomctlError
from ecomctl.results import NullReporter, ObjectResult, Reporter, StepResult, utc_now
from ecomctl.targets import check_settings, has_state, make_transport, make_warehouse

STEP_DESCRIPTIONS = {
    "setup": "apply pending setup SQL, check the transport",
    "generate": "send order events",
    "ingest": "land new events and build bronze",
    "transform": "build silver and gold",
    "views": "build the materialized views",
    "dashboards": "run the dashboard queries, publish dashboards",
    "status": "count rows, measure partition lag, list SQL versions",
}

RECONCILIATION_SQL = """
SELECT
  (SELECT COUNT(*) FROM ${catalog}.${bronze}.raw_events) AS landed,
  (SELECT COUNT(*) FROM ${catalog}.${bronze}.received_events) AS received,
  (SELECT COUNT(*) FROM ${catalog}.${bronze}.received_events WHERE reason IS NULL) AS valid_events,
  (SELECT COUNT(*) FROM ${catalog}.${bronze}.rejected_events) AS rejected,
  (SELECT COUNT(*) FROM ${catalog}.${bronze}.orders) AS valid_orders
"""


class Pipeline:
    def __init__(self, settings: Settings, reporter: Reporter | None = None) -> None:
        check_settings(settings)  # settings that cannot work on their target fail before any step
        self.settings = settings
        self.reporter: Reporter = reporter or NullReporter()

    # -- lazily built adapters -------------------------------------------------
    @cached_property
    def transport(self):
        return make_transport(self.settings)

    @cached_property
    def warehouse(self):
        return make_warehouse(self.settings)

    @cached_property
    def sql_root(self):
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
    def setup(self) -> StepResult:
        from ecomctl.warehouse import migrations
        from ecomctl.warehouse.sqlfiles import load_step

        with self._step("setup") as step:
            self.settings.home.mkdir(parents=True, exist_ok=True)
            started = time.perf_counter()
            self.transport.check()
            step.objects.append(ObjectResult(
                self.transport.source, "reachable", None, time.perf_counter() - started))
            results = migrations.apply_pending(self.warehouse, load_step("setup", self.sql_root))
            step.objects += [_object(r) for r in results]
            step.details["applied_files"] = sorted({r.file for r in results})
            if not results:
                step.objects.append(ObjectResult("setup SQL", "up to date", None, 0.0))
        return step

    def generate(self, count: int | None = None, seed: int | None = None,
                 as_of: datetime | None = None) -> StepResult:
        from ecomctl.events.generator import generate_messages

        count = self.settings.event_count if count is None else count
        with self._step("generate") as step:
            messages = generate_messages(count, seed=seed, as_of=as_of)
            sent = self.transport.send(
                messages, on_progress=lambda n, nbytes: self.reporter.progress("generate", n, count))
            step.objects.append(ObjectResult(self.transport.source, "send", sent.events, sent.seconds))
            step.details.update(events=sent.events, batches=sent.batches, bytes=sent.bytes,
                                seed=seed, events_per_second=_rate(sent.events, sent.seconds))
        return step

    def ingest(self) -> StepResult:
        from ecomctl.ingest import ingest_partitions, read_checkpoints, write_landing_file
        from ecomctl.warehouse.sqlfiles import load_step

        with self._step("ingest") as step:
            self._require_setup()
            files = load_step("bronze", self.sql_root)
            load_files = [f for f in files if f.name.startswith("bronze/00_")]
            build_files = [f for f in files if f not in load_files]
            if not load_files:
                raise EcomctlError("sql/bronze has no 00_ file that loads the landing files")
            source = self.transport.source

            def load() -> int:
                return sum(r.rows or 0 for f in load_files for r in self.warehouse.run_file(f))

            def land_and_load(partition_id: str, events: Sequence) -> int:
                write_landing_file(self.settings.landing_dir, source, partition_id, events)
                return load()

            started = time.perf_counter()
            recovered = load()  # files a crashed run wrote but did not load
            summary = ingest_partitions(
                self.transport,
                lambda: read_checkpoints(self.warehouse, source),
                land_and_load, self.settings.ingest_batch,
                on_progress=lambda done, total: self.reporter.progress("ingest", done, total),
                partition_checkpoints=lambda pid, after: read_checkpoints(self.warehouse, source,
                                                                          pid, after))
            step.objects.append(ObjectResult(
                self.fqn("bronze", "raw_events"), "copy into",
                summary.landed_rows + recovered, time.perf_counter() - started))
            for f in build_files:
                step.objects += [_object(r) for r in self.warehouse.run_file(f)]
            step.details.update(
                received=summary.received, landed=summary.landed_rows + recovered,
                recovered_from_earlier_run=recovered, landing_files=summary.files,
                expired=summary.expired,
                partitions=[{"partition_id": p.partition_id, "from_checkpoint": p.start_checkpoint,
                             "to_sequence": p.end_sequence, "received": p.received,
                             "expired": p.expired} for p in summary.partitions])
            if summary.expired:
                self.reporter.message(
                    f"{summary.expired} events expired from {source} before they were ingested")
        return step

    def transform(self) -> StepResult:
        with self._step("transform") as step:
            self._require_setup()
            for layer in ("silver", "gold"):
                step.objects += self._run_step_files(layer)
        return step

    def views(self) -> StepResult:
        with self._step("views") as step:
            self._require_setup()
            step.objects += self._run_step_files("views")
            step.details["materialized_views"] = self.warehouse.SUPPORTS_MATERIALIZED_VIEWS
        return step

    def dashboards(self) -> StepResult:
        from ecomctl.dashboards.publish import publish_local

        with self._step("dashboards") as step:
            self._require_setup()
            publish_local(self, step)
        return step

    def run_all(self, count: int | None = None, seed: int | None = None,
                as_of: datetime | None = None) -> tuple[list[StepResult], dict[str, Any]]:
        steps = [self.setup(), self.generate(count, seed, as_of), self.ingest(),
                 self.transform(), self.views(), self.dashboards()]
        ingest = steps[2].details
        return steps, self.reconciliation(sent=steps[1].details["events"], received=ingest["received"],
                                          landed=ingest["landed"], expired=ingest["expired"],
                                          recovered=ingest["recovered_from_earlier_run"])

    # -- reading state ---------------------------------------------------------
    def reconciliation(self, *, sent: int, received: int, landed: int, expired: int,
                       recovered: int = 0) -> dict[str, Any]:
        """This run's flow (sent, received, landed) and the all-time balance of bronze.

        Each count comes from its own table: raw_events (landed), received_events (after the
        transport dedupe, with its validation), rejected_events and orders. Balanced means the
        parts add up: every received event is a valid event or a rejected one, every valid event
        is an order or a producer resend, and this run landed exactly what it received (plus
        any files an interrupted run had left unloaded).
        """
        (total_landed, distinct, valid_events, rejected, valid_orders), = \
            self.warehouse.query(RECONCILIATION_SQL).rows
        transport_duplicates = total_landed - distinct
        producer_duplicates = valid_events - valid_orders
        return {
            "sent": sent, "received": received, "landed": landed, "expired": expired,
            "recovered": recovered,
            "total_landed": total_landed, "valid_orders": valid_orders, "rejected": rejected,
            "duplicates_removed": transport_duplicates + producer_duplicates,
            "transport_duplicates": transport_duplicates,
            "producer_duplicates": producer_duplicates,
            "balanced": (distinct == valid_events + rejected and transport_duplicates >= 0
                         and producer_duplicates >= 0 and received == landed - recovered),
        }

    def status(self) -> StepResult:
        from ecomctl.status import collect_status

        with self._step("status") as step:
            collect_status(self, step)
        return step

    # -- helpers -----------------------------------------------------------------
    def _run_step_files(self, step_name: str) -> list[ObjectResult]:
        from ecomctl.warehouse.sqlfiles import load_step

        objects: list[ObjectResult] = []
        for sql_file in load_step(step_name, self.sql_root):
            objects += [_object(r) for r in self.warehouse.run_file(sql_file)]
        return objects

    def _require_setup(self) -> None:
        """Steps after setup need its objects, and setup SQL that matches what was applied."""
        from ecomctl.warehouse import migrations
        from ecomctl.warehouse.sqlfiles import load_step

        if not has_state(self.settings) or \
                self.warehouse.table_rows(self.fqn("bronze", "raw_events")) is None:
            raise EcomctlError(f"{self.fqn('bronze', 'raw_events')} does not exist",
                               hint="run `ecomctl setup` first")
        migrations.check_current(self.warehouse, load_step("setup", self.sql_root))

    def _step(self, name: str) -> "_StepTimer":
        return _StepTimer(name, self.reporter)


class _StepTimer:
    """Times a step and reports its start and finish."""

    def __init__(self, name: str, reporter: Reporter) -> None:
        self.result = StepResult(name)
        self.reporter = reporter
        self.started = 0.0

    def __enter__(self) -> StepResult:
        self.reporter.step_started(self.result.step, STEP_DESCRIPTIONS.get(self.result.step, ""))
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


def _object(result) -> ObjectResult:
    return ObjectResult(result.object or f"{result.file}#{result.statement}",
                        result.action, result.rows, result.seconds)


def _rate(count: int, seconds: float) -> int:
    return int(count / seconds) if seconds > 0 else count
