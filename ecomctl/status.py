"""status: row counts per table, lag per partition, applied SQL versions. Reads only."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ecomctl.ingest import expired_unread, read_checkpoints
from ecomctl.results import ObjectResult, StepResult

if TYPE_CHECKING:
    from ecomctl.pipeline import Pipeline


def collect_status(pipeline: "Pipeline", step: StepResult) -> None:
    from ecomctl.targets import has_state

    settings = pipeline.settings
    if not has_state(settings):
        step.details["set_up"] = False
        step.tables["state"] = (["object", "state"], [[str(settings.home), "not set up: run `ecomctl setup`"]])
        return
    step.details["set_up"] = True
    warehouse = pipeline.warehouse
    for layer in ("bronze", "silver", "gold"):
        for table in warehouse.tables(getattr(settings, f"{layer}_schema")):
            fqn = pipeline.fqn(layer, table)
            step.objects.append(ObjectResult(fqn, "count", warehouse.table_rows(fqn), 0.0))

    _partition_lag(pipeline, step)
    _migrations(pipeline, step)


def _partition_lag(pipeline: "Pipeline", step: StepResult) -> None:
    transport = pipeline.transport
    raw_events = pipeline.fqn("bronze", "raw_events")
    checkpoints = {}
    if pipeline.warehouse.table_rows(raw_events) is not None:
        checkpoints = read_checkpoints(pipeline.warehouse, transport.source)
    rows = []
    partitions = []
    for pid in transport.partition_ids():
        state = transport.partition_state(pid)
        landed = checkpoints.get(pid, -1)
        # Events that expired unread are not lag: nothing can read them any more.
        expired = expired_unread(state, landed)
        lag = max(state.last_sequence_number - landed - expired, 0)
        enqueued = state.last_enqueued_time.isoformat() if state.last_enqueued_time else None
        rows.append([pid, state.last_sequence_number, landed, lag, expired, enqueued or "-"])
        partitions.append({"partition_id": pid, "last_enqueued_sequence": state.last_sequence_number,
                           "last_landed_sequence": landed, "lag": lag, "expired": expired,
                           "last_enqueued_time": enqueued})
    step.details["partitions"] = partitions
    step.details["total_lag"] = sum(p["lag"] for p in partitions)
    step.tables[f"partitions of {transport.source}"] = (
        ["partition", "last enqueued", "last landed", "lag", "expired unread", "last enqueued time"], rows)


def _migrations(pipeline: "Pipeline", step: StepResult) -> None:
    from ecomctl.warehouse import migrations
    from ecomctl.warehouse.sqlfiles import load_step

    statuses = migrations.status(pipeline.warehouse, load_step("setup", pipeline.sql_root))
    rows = [[s.file.version, s.file.name, s.state, str(s.applied_at or "-")] for s in statuses]
    step.details["sql_versions"] = [{"version": r[0], "file": r[1], "state": r[2], "applied_at": r[3]}
                                    for r in rows]
    step.tables["setup SQL versions"] = (["version", "file", "state", "applied at"], rows)
