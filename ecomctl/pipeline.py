"""The Pipeline: every step of ecomctl as a library call that returns results.

The CLI is a thin shell over this object. A step asks the transport and the
warehouse what they can do; it never asks which target it runs on.
"""

from __future__ import annotations

import sys
import time
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Callable, Sequence

from ecomctl.config import Settings
from ecomctl.errors import EcomctlError, ReconciliationError, UsageError
from ecomctl.faults import fault_point
from ecomctl.results import NullReporter, ObjectResult, Reporter, StepResult, utc_now
from ecomctl.targets import (check_settings, has_state, kafka_ingest_names, make_dry_run_transport,
                             make_dry_run_warehouse, make_transport, make_warehouse)

INGEST_MODES = ("client", "kafka")

if TYPE_CHECKING:  # pragma: no cover
    from ecomctl.plan import Plan

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

RECONCILIATION_SQL = """
SELECT
  (SELECT COUNT(*) FROM ${catalog}.${bronze}.raw_events) AS landed,
  (SELECT COUNT(*) FROM ${catalog}.${bronze}.received_events) AS received,
  (SELECT COUNT(*) FROM ${catalog}.${bronze}.received_events WHERE reason IS NULL) AS valid_events,
  (SELECT COUNT(*) FROM ${catalog}.${bronze}.rejected_events) AS rejected,
  (SELECT COUNT(*) FROM ${catalog}.${bronze}.orders) AS valid_orders
"""


# Per partition, all runs: landed rows, received events (after the transport dedupe), valid
# events, the valid events that won their order_id (the order in bronze.orders: same order as
# 02_orders.sql) and rejected events, each from its own table.
PARTITION_RECONCILIATION_SQL = """
WITH landed AS (
  SELECT source, partition_id, COUNT(*) AS landed
  FROM ${catalog}.${bronze}.raw_events GROUP BY source, partition_id
),
received AS (
  SELECT source, partition_id, COUNT(*) AS received, count_if(reason IS NULL) AS valid_events,
         count_if(won) AS valid_orders
  FROM (
    SELECT source, partition_id, reason,
           reason IS NULL AND ROW_NUMBER() OVER (
             PARTITION BY reason IS NULL, order_id
             ORDER BY event_time DESC, sequence_number DESC, partition_id DESC) = 1 AS won
    FROM ${catalog}.${bronze}.received_events
  ) AS ranked
  GROUP BY source, partition_id
),
rejected AS (
  SELECT source, partition_id, COUNT(*) AS rejected
  FROM ${catalog}.${bronze}.rejected_events GROUP BY source, partition_id
)
SELECT l.source, l.partition_id, l.landed, coalesce(r.received, 0), coalesce(r.valid_events, 0),
       coalesce(r.valid_orders, 0), coalesce(j.rejected, 0)
FROM landed AS l
LEFT JOIN received AS r ON r.source = l.source AND r.partition_id = l.partition_id
LEFT JOIN rejected AS j ON j.source = l.source AND j.partition_id = l.partition_id
ORDER BY l.source, l.partition_id
"""


class Pipeline:
    """With a `plan`, every step is a dry run: the adapters record into the plan what they would
    send (statements, uploads, API calls) and connect to nothing."""

    def __init__(self, settings: Settings, reporter: Reporter | None = None,
                 plan: "Plan | None" = None) -> None:
        check_settings(settings)  # settings that cannot work on their target fail before any step
        self.settings = settings
        self.reporter: Reporter = reporter or NullReporter()
        self.plan = plan

    # -- lazily built adapters -------------------------------------------------
    @cached_property
    def transport(self):
        if self.plan is not None:
            return make_dry_run_transport(self.settings, self.plan)
        return make_transport(self.settings)

    @cached_property
    def warehouse(self):
        if self.plan is not None:
            return make_dry_run_warehouse(self.settings, self.plan)
        return make_warehouse(self.settings, self.reporter)

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
    def setup(self, create_catalog: bool = False) -> StepResult:
        """Check (or with `create_catalog`, create) the catalog, check the transport, apply the
        pending setup files. The warehouse comes first: its failure is the one to fix first."""
        from ecomctl.warehouse import migrations
        from ecomctl.warehouse.sqlfiles import load_step

        with self._step("setup") as step:
            self.settings.home.mkdir(parents=True, exist_ok=True)
            catalog = self.warehouse.ensure_catalog(create_catalog)
            if catalog is not None:
                step.objects.append(_object(catalog))
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
        from ecomctl.events.generator import generate_messages_in_background

        count = self.settings.event_count if count is None else count
        with self._step("generate") as step:
            if self.plan is not None:
                self.transport.plan_send(count, seed)
                step.details.update(events=count, batches=0, bytes=0, seed=seed, events_per_second=0)
                return step
            messages = generate_messages_in_background(count, seed=seed, as_of=as_of)
            sent = self.transport.send(
                messages, on_progress=lambda n, nbytes: self.reporter.progress("generate", n, count, nbytes))
            step.objects.append(ObjectResult(self.transport.source, "send", sent.events, sent.seconds))
            step.details.update(events=sent.events, batches=sent.batches, bytes=sent.bytes,
                                seconds=round(sent.seconds, 3),
                                seed=seed, events_per_second=_rate(sent.events, sent.seconds))
        return step

    def send(self, source: "str | Path | BinaryIO", name: str | None = None) -> StepResult:
        """Send each line of a JSON-lines file (a path, or an open binary stream such as stdin)
        as one event body, byte for byte and unvalidated (bronze validates): for replays and
        backfills. See ecomctl/sendfile.py for the partition key and empty lines."""
        from ecomctl.sendfile import send_lines

        with self._step("send") as step:
            if self.plan is not None:
                # Neither the file nor standard input is read: nothing would be sent.
                name = name or ("<stdin>" if str(source) == "-" else str(source))
                self.transport.plan_send_lines(name)
                step.details.update(file=name, lines=0, events=0, empty_lines_skipped=0, batches=0,
                                    bytes=0, events_per_second=0)
                return step
            if str(source) == "-" and sys.stdin.isatty():
                # Typed or pasted events: say what is expected instead of waiting in silence.
                self.reporter.message("reading events from standard input, one JSON object per line; "
                                      "end with Ctrl-D (Ctrl-Z then Enter on Windows)")
            sent, lines = send_lines(self.transport, source, name,
                                     on_progress=lambda n, total: self.reporter.progress("send", n, total))
            step.objects.append(ObjectResult(self.transport.source, "send", sent.events, sent.seconds))
            step.details.update(file=lines.name, lines=lines.lines, events=sent.events,
                                empty_lines_skipped=lines.empty, batches=sent.batches,
                                bytes=sent.bytes, events_per_second=_rate(sent.events, sent.seconds))
        return step

    def ingest(self, mode: str = "client") -> StepResult:
        """client (default): read the hub here, land files, upload them where the warehouse needs
        them, COPY INTO raw_events. kafka: the warehouse reads the hub itself through a streaming
        table (only where the warehouse hosts streaming tables). Then the bronze SQL, in both."""
        from ecomctl.ingest import (ingest_partitions, read_checkpoints,
                                    prepare_landing_file, remove_unpublished_landing_files)
        from ecomctl.warehouse.sqlfiles import load_step

        if mode not in INGEST_MODES:
            raise UsageError(f"unknown ingest mode {mode!r}; choose one of {', '.join(INGEST_MODES)}")
        if mode == "kafka" and not self.warehouse.SUPPORTS_STREAMING_TABLES:
            raise UsageError(f"ingest --mode kafka needs a warehouse that hosts streaming tables "
                             f"(the databricks target); the {self.settings.target} target ingests "
                             "with --mode client")
        # Kafka settings fail before anything connects.
        kafka_names = kafka_ingest_names(self.settings, dry_run=self.plan is not None) \
            if mode == "kafka" else {}
        with self._step("ingest") as step:
            self._require_setup()
            if mode == "kafka":
                self._ingest_kafka(step, kafka_names)
                return step
            files = load_step("bronze", self.sql_root)
            load_files = [f for f in files if f.name.startswith("bronze/00_")]
            build_files = [f for f in files if f not in load_files]
            if not load_files:
                raise EcomctlError("sql/bronze has no 00_ file that loads the landing files")
            source = self.transport.source

            def load() -> int:
                return sum(r.rows or 0 for f in load_files for r in self.warehouse.run_file(f))

            def prepare(partition_id: str, events: Sequence) -> Callable[[], int]:
                prepared = prepare_landing_file(self.settings.landing_dir, source, partition_id, events)

                def publish_and_load() -> int:  # runs in ingest's load thread
                    path = prepared.publish()
                    fault_point("ingest.landing_written")
                    self.warehouse.stage_landing_file(path)
                    return load()
                return publish_and_load

            if self.plan is not None:
                self._plan_ingest(step, load, build_files)
                return step
            started = time.perf_counter()
            remove_unpublished_landing_files(self.settings.landing_dir)
            # Files a crashed run wrote but did not upload or load.
            for leftover in self.warehouse.unstaged_landing_files(self.settings.landing_dir):
                self.warehouse.stage_landing_file(leftover)
            recovered = load()
            summary = ingest_partitions(
                self.transport,
                lambda: read_checkpoints(self.warehouse, source),
                prepare, self.settings.ingest_batch,
                on_progress=lambda done, total: self.reporter.progress("ingest", done, total),
                partition_checkpoints=lambda pid, after: read_checkpoints(self.warehouse, source,
                                                                          pid, after))
            step.objects.append(ObjectResult(
                self.fqn("bronze", "raw_events"), "copy into",
                summary.landed_rows + recovered, time.perf_counter() - started))
            for f in build_files:
                fault_point("ingest.bronze")
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
        with self._step("dashboards") as step:
            self._require_setup()
            if self.warehouse.HAS_DASHBOARD_SERVICE:
                from ecomctl.dashboards.databricks import DashboardApi, publish_databricks
                from ecomctl.dashboards.publish import run_summary

                # The workspace client the warehouse built: the same auth and short timeouts.
                api = (DashboardApi.dry_run(self.plan.add, self.settings) if self.plan is not None else
                       DashboardApi.live(self.warehouse.workspace_client(), self.settings))
                publish_databricks(self, step, api, warehouse=self.warehouse.warehouse_id)
                run_summary(self, step)  # the key figures and charts the local target shows
            else:
                from ecomctl.dashboards.publish import publish_local

                publish_local(self, step)
        return step

    def run_all(self, count: int | None = None, seed: int | None = None,
                as_of: datetime | None = None, create_catalog: bool = False,
                ) -> tuple[list[StepResult], dict[str, Any] | None]:
        steps = [self.setup(create_catalog), self.generate(count, seed, as_of), self.ingest(),
                 self.transform(), self.views(), self.dashboards()]
        if self.plan is not None:
            return steps, None  # nothing was sent or landed: there is nothing to reconcile
        return steps, self.ingest_reconciliation(steps[2], sent=steps[1].details["events"])

    # -- reading state ---------------------------------------------------------
    def reconciliation(self, *, sent: int | None = None, received: int | None = None,
                       landed: int | None = None, expired: int | None = None,
                       recovered: int = 0) -> dict[str, Any]:
        """This run's flow (sent, received, landed; None where the command has none) and the
        all-time balance of bronze, in total and per partition.

        Each count comes from its own table: raw_events (landed), received_events (after the
        transport dedupe, with its validation), rejected_events and orders. Balanced means the
        parts add up: every landed event is a valid order, a rejected event or a duplicate
        (a transport redelivery or a producer resend), in every partition and in total; the
        partitions' orders are exactly bronze.orders; and this run landed exactly what it
        received (plus any files an interrupted run had left unloaded).
        """
        (total_landed, distinct, valid_events, rejected, valid_orders), = \
            self.warehouse.query(RECONCILIATION_SQL).rows
        transport_duplicates = total_landed - distinct
        producer_duplicates = valid_events - valid_orders
        partitions, problems = [], []
        for source, pid, p_landed, p_received, p_valid, p_orders, p_rejected in \
                self.warehouse.query(PARTITION_RECONCILIATION_SQL).rows:
            duplicates = (p_landed - p_received) + (p_valid - p_orders)
            ok = p_received == p_valid + p_rejected and p_landed >= p_received and p_valid >= p_orders
            partitions.append({"source": source, "partition_id": pid, "received": p_landed,
                               "valid_orders": p_orders, "rejected": p_rejected,
                               "duplicates": duplicates, "balanced": ok})
            if not ok:
                problems.append(
                    f"partition {pid} of {source}: received {p_landed:,} but valid orders "
                    f"{p_orders:,} + rejected {p_rejected:,} + duplicates {duplicates:,} = "
                    f"{p_orders + p_rejected + duplicates:,}")
        if sum(p["valid_orders"] for p in partitions) != valid_orders:
            problems.append(f"the partitions hold {sum(p['valid_orders'] for p in partitions):,} "
                            f"orders but {self.fqn('bronze', 'orders')} has {valid_orders:,}")
        if distinct != valid_events + rejected or transport_duplicates < 0 or producer_duplicates < 0:
            problems.append(f"received {total_landed:,} but valid orders {valid_orders:,} + rejected "
                            f"{rejected:,} + duplicates {transport_duplicates + producer_duplicates:,}"
                            f" = {valid_orders + rejected + transport_duplicates + producer_duplicates:,}")
        if received is not None and landed is not None and received != landed - recovered:
            problems.append(f"this run received {received:,} events but landed {landed - recovered:,}")
        return {
            "sent": sent, "received": received, "landed": landed, "expired": expired,
            "recovered": recovered,
            "total_landed": total_landed, "valid_orders": valid_orders, "rejected": rejected,
            "duplicates_removed": transport_duplicates + producer_duplicates,
            "transport_duplicates": transport_duplicates,
            "producer_duplicates": producer_duplicates,
            "partitions": partitions,
            "balanced": not problems,
            "problems": problems,
        }

    def check_reconciliation(self, r: dict[str, Any] | None) -> None:
        """A reconciliation that does not add up is an error: something was lost or counted twice."""
        if r is not None and not r["balanced"]:
            raise ReconciliationError(
                "reconciliation failed: " + "; ".join(r["problems"]), r,
                hint="bronze no longer adds up; run `ecomctl ingest` to rebuild it, "
                     "and report a bug if it persists")

    def ingest_reconciliation(self, ingest: StepResult, sent: int | None = None) -> dict[str, Any] | None:
        """After an ingest step: its flow (received, landed, expired) and bronze's all-time
        balance; None in a dry run, where nothing was read or landed."""
        if self.plan is not None:
            return None
        d = ingest.details
        return self.reconciliation(sent=sent, received=d["received"], landed=d["landed"],
                                   expired=d["expired"], recovered=d["recovered_from_earlier_run"])

    def bronze_reconciliation(self) -> dict[str, Any] | None:
        """The all-time balance of bronze, or None before bronze was first built (status) and in
        a dry run. One listing of the bronze schema, not a count of each table."""
        if self.plan is not None or not has_state(self.settings):
            return None
        present = {name.lower() for name in self.warehouse.tables(self.settings.bronze_schema)}
        if not {"received_events", "rejected_events", "orders"} <= present:
            return None
        return self.reconciliation()

    def status(self) -> StepResult:
        from ecomctl.status import collect_status

        with self._step("status") as step:
            collect_status(self, step)
        return step

    # -- helpers -----------------------------------------------------------------
    def _ingest_kafka(self, step: StepResult, names: dict[str, str]) -> None:
        from ecomctl.warehouse.sqlfiles import load_step

        results = [r for f in load_step("kafka", self.sql_root)
                   for r in self.warehouse.run_file(f, names)]
        if not results:
            raise EcomctlError("sql/kafka has no file that reads the event hub")
        step.objects += [_object(r) for r in results]
        landed = sum(r.rows or 0 for r in results if r.action == "merge")
        for f in load_step("bronze", self.sql_root):
            if not f.name.startswith("bronze/00_"):
                step.objects += [_object(r) for r in self.warehouse.run_file(f)]
        step.details.update(mode="kafka", source=names["source"], received=landed, landed=landed,
                            recovered_from_earlier_run=0, landing_files=0, expired=0, partitions=[])

    def _plan_ingest(self, step: StepResult, load, build_files) -> None:
        """The dry run of client-mode ingest: one round of read, write, upload and load stands for
        all of them, so the plan does not grow with the number of events."""
        from ecomctl.ingest import read_checkpoints

        plan, source = self.plan, self.transport.source
        load()  # files an interrupted run left
        read_checkpoints(self.warehouse, source)
        self.transport.plan_receive(self.settings.ingest_batch)
        example = self.settings.landing_dir / "<utc time>_<source>_p<partition>_<first>-<last>_<id>.json"
        plan.add("write", f"one landing file per read (JSON lines, one event each): {example}")
        self.warehouse.stage_landing_file(example)
        load()
        plan.add("check", "repeat read, write, upload and COPY INTO, from the new checkpoint, until "
                          "each partition reaches the end it had when ingest started")
        for f in build_files:
            step.objects += [_object(r) for r in self.warehouse.run_file(f)]
        step.details.update(mode="client", received=0, landed=0, recovered_from_earlier_run=0,
                            landing_files=0, expired=0, partitions=[])

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

        if self.plan is not None:
            # What the check sends; its answer is only known when the plan runs.
            self.plan.add("check", f"stop unless {self.fqn('bronze', 'raw_events')} exists and every "
                                   "setup file is applied (else: run `ecomctl setup`)")
            if has_state(self.settings):
                self.warehouse.table_rows(self.fqn("bronze", "raw_events"))
            migrations.status(self.warehouse, load_step("setup", self.sql_root))
            return
        if not has_state(self.settings) or \
                self.warehouse.table_rows(self.fqn("bronze", "raw_events")) is None:
            raise EcomctlError(f"{self.fqn('bronze', 'raw_events')} does not exist",
                               hint="run `ecomctl setup` first")
        migrations.check_current(self.warehouse, load_step("setup", self.sql_root))

    def _step(self, name: str) -> "_StepTimer":
        if self.plan is not None:
            self.plan.step = name
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
