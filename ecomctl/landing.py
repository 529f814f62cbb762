"""The landing folder of client-mode ingest, live and planned.

Live, it removes what a dead writer left, loads files an interrupted run published, drains every
partition into landing files (ecomctl/ingest.py), then removes the loaded files older than the
retention. Planned, it records one round of read, write, upload and load, which stands for all of
them, and one entry for the removal: the plan does not grow with the events.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

from ecomctl.faults import fault_point
from ecomctl.ingest import (LOADED_FILES_PER_QUERY, IngestSummary, ingest_partitions,
                            prepare_landing_file, read_checkpoints, remove_loaded_landing_files,
                            remove_unpublished_landing_files)

if TYPE_CHECKING:  # pragma: no cover
    from ecomctl.events.transport import ReceivedEvent, Transport
    from ecomctl.plan import Plan
    from ecomctl.warehouse.base import Warehouse

Progress = Callable[[int, int], None]


class LandingFolder:
    """`retention_hours`: landing files older than this whose rows raw_events holds are removed at
    the end of an ingest (0 keeps every file)."""

    def __init__(self, directory: Path, retention_hours: int = 0) -> None:
        self.directory = directory
        self.retention_hours = retention_hours

    def ingest(self, transport: "Transport", warehouse: "Warehouse", load: Callable[[], int],
               batch_size: int, on_progress: Progress | None = None) -> tuple[int, IngestSummary]:
        """Land and load every event not yet landed; returns (rows loaded from files an earlier
        run left, this run's summary). `load()` runs COPY INTO and returns the rows it loaded."""
        source = transport.source
        remove_unpublished_landing_files(self.directory)
        # Files a crashed run wrote but did not upload or load.
        for leftover in warehouse.unstaged_landing_files(self.directory):
            warehouse.stage_landing_file(leftover)
        recovered = load()

        def prepare(partition_id: str, events: Sequence["ReceivedEvent"]) -> Callable[[], None]:
            prepared = prepare_landing_file(self.directory, source, partition_id, events)

            def publish() -> None:  # runs in ingest's load thread, just before the load
                path = prepared.publish()
                fault_point("ingest.landing_written")
                warehouse.stage_landing_file(path)
            return publish

        summary = ingest_partitions(
            transport, lambda: read_checkpoints(warehouse, source), prepare, load, batch_size,
            on_progress=on_progress,
            partition_checkpoints=lambda pid, after: read_checkpoints(warehouse, source, pid, after))
        # Every load of this run is settled: what is in raw_events now is loaded for good.
        summary.landing_files_removed = remove_loaded_landing_files(warehouse, self.directory,
                                                                    self.retention_hours)
        return recovered, summary


class PlannedLandingFolder(LandingFolder):
    def __init__(self, directory: Path, plan: "Plan", retention_hours: int = 0) -> None:
        super().__init__(directory, retention_hours)
        self.plan = plan

    def ingest(self, transport: "Transport", warehouse: "Warehouse", load: Callable[[], int],
               batch_size: int, on_progress: Progress | None = None) -> tuple[int, IngestSummary]:
        load()  # files an interrupted run left
        read_checkpoints(warehouse, transport.source)
        transport.read("<each partition>", -1, batch_size)
        example = self.directory / "<utc time>_<source>_p<partition>_<first>-<last>_<id>.json"
        self.plan.add("write", f"one landing file per read (JSON lines, one event each): {example}")
        warehouse.stage_landing_file(example)
        load()
        self.plan.add("check", "repeat read, write, upload and COPY INTO, from the new checkpoint, until "
                               "each partition reaches the end it had when ingest started (the small "
                               "last reads of several partitions share one COPY INTO)")
        if self.retention_hours > 0:
            # One entry, whatever the Volume holds: the plan does not list it.
            kind, how = warehouse.landing_removal_plan(self.directory)
            hours = self.retention_hours
            self.plan.add(kind, f"remove the landing files older than {hours} hour{'s' * (hours != 1)} "
                                "whose rows are loaded (their names in raw_events.landing_file: SELECT "
                                "DISTINCT landing_file ... WHERE landing_file IN (those names), "
                                f"{LOADED_FILES_PER_QUERY} names a query); {how}")
        return 0, IngestSummary()
