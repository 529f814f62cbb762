"""Building the SQL layers (bronze, silver, gold, views) and checking what a step needs first.

A layer is built by running its files: incrementally, or with a full refresh that first drops what
they build (dbt's --full-refresh), which a layer whose files changed since its last build gets by
itself (ecomctl/builds.py). Checks go through `checks`, so a plan records them instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable

from ecomctl.errors import EcomctlError
from ecomctl.results import ObjectResult

if TYPE_CHECKING:  # pragma: no cover
    from ecomctl.plan import Checks
    from ecomctl.results import Reporter
    from ecomctl.warehouse.base import Warehouse
    from ecomctl.warehouse.sqlfiles import SqlFile


class Layers:
    def __init__(self, warehouse: "Warehouse", checks: "Checks", reporter: "Reporter", sql_root: Path,
                 *, has_state: Callable[[], bool]) -> None:
        from ecomctl.builds import LayerBuilds

        self.warehouse = warehouse
        self.checks = checks
        self.reporter = reporter
        self.sql_root = sql_root
        self.has_state = has_state
        self.builds = LayerBuilds(warehouse)

    def files(self, layer: str) -> "list[SqlFile]":
        from ecomctl.warehouse.sqlfiles import load_step

        return load_step(layer, self.sql_root)

    def build(self, layer: str, full_refresh: bool, files: "list[SqlFile] | None" = None, *,
              step: str | None = None) -> list[ObjectResult]:
        """Run a layer's files (all of them, or `files`); returns what each statement did. Each file
        is reported as a phase of `step` (default: the layer)."""
        files = self.files(layer) if files is None else files
        reason = None if full_refresh else self.builds.needs_full_refresh(layer, files, lambda: self._built(files))
        if reason:
            self.reporter.message(f"{reason}: rebuilding {layer} in full (--full-refresh)")
        objects: list[ObjectResult] = []
        if full_refresh or reason:
            objects += [ObjectResult.of_statement(r) for r in self.warehouse.drop_derived(files)]
        for n, sql_file in enumerate(files, 1):
            self.reporter.phase(step or layer, _phase(sql_file.name, step or layer), n, len(files))
            objects += [ObjectResult.of_statement(r) for r in self.warehouse.run_file(sql_file)]
        self.builds.record(layer, files, full_refresh=bool(full_refresh or reason))
        return objects

    def require_setup(self) -> None:
        """Steps after setup need its objects, and setup SQL that matches what was applied."""
        from ecomctl.warehouse import migrations

        raw_events = f"{self.warehouse.names.catalog}.{self.warehouse.names.bronze}.raw_events"

        def setup_is_current() -> None:
            missing = EcomctlError(f"{raw_events} does not exist", hint="run `ecomctl setup` first")
            if not self.has_state():  # nothing to read, and nothing to create by reading
                raise missing
            exists = self.warehouse.table_rows(raw_events) is not None
            files = self.files("setup")
            statuses = migrations.status(self.warehouse, files)
            if not exists:
                raise missing
            migrations.check_statuses(statuses, files)

        self.checks.verify(f"stop unless {raw_events} exists and every setup file is applied "
                           "(else: run `ecomctl setup`)", setup_is_current)

    def require(self, layer: str, run_first: str) -> None:
        """A step reads what an earlier step builds: say which step to run when it is missing."""
        targets = self._targets(self.files(layer))

        def layer_is_built() -> None:
            present = self._present(targets)
            missing = [t for t in targets if t not in present]
            if missing:
                raise EcomctlError(f"{missing[0]} does not exist", hint=f"run `ecomctl {run_first}` first")

        self.checks.verify(f"stop unless the tables {layer} builds exist (else: run `ecomctl {run_first}`)",
                           layer_is_built)

    def _built(self, files: "list[SqlFile]") -> bool:
        """Whether any table or view these files build exists already."""
        targets = self._targets(files)
        return bool(self._present(targets) & set(targets))

    def _targets(self, files: "list[SqlFile]") -> list[str]:
        from ecomctl.warehouse.statements import derived_objects

        return derived_objects(self.warehouse, files)

    def _present(self, targets: list[str]) -> set[str]:
        """Which of these catalog.schema.name exist: one listing per schema."""
        catalog = self.warehouse.names.catalog
        return {f"{catalog}.{schema}.{name.lower()}"
                for schema in dict.fromkeys(t.split(".")[1] for t in targets)
                for name in self.warehouse.tables(schema)}


def _phase(file: str, step: str) -> str:
    """`bronze/01_received_events.sql` -> `bronze: received_events` (the folder only when it is
    not the step's own name)."""
    folder, _, name = file.rpartition("/")
    table = name.removesuffix(".sql").partition("_")[2] or name
    return table if folder == step else f"{folder}: {table}"
