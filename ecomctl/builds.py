"""Which layers were built by the SQL files as they are now.

An incremental run folds new events into tables built earlier; that is only right while the SQL
that built them is unchanged. Each layer's build records the checksum of its files in
`<catalog>.<meta>.layer_builds`. A layer whose files changed since (or whose record is missing
while its tables exist: built by an older ecomctl, or a layer upstream was rebuilt) is rebuilt
with a full refresh, and every layer after it loses its record, so it is rebuilt on its next run.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Callable

from ecomctl.warehouse.sqlfiles import string_literal

if TYPE_CHECKING:  # pragma: no cover
    from ecomctl.warehouse.base import Warehouse
    from ecomctl.warehouse.sqlfiles import SqlFile

LAYERS = ("bronze", "silver", "gold", "views")
TABLE = "${catalog}.${meta}.layer_builds"


def checksum(files: "list[SqlFile]") -> str:
    return hashlib.sha256("\n".join(f"{f.name} {f.checksum}" for f in files).encode()).hexdigest()


class LayerBuilds:
    def __init__(self, warehouse: "Warehouse") -> None:
        self.warehouse = warehouse
        self._ready = False

    def needs_full_refresh(self, layer: str, files: "list[SqlFile]", built: Callable[[], bool]) -> str | None:
        """Why the layer must be rebuilt in full (None: an incremental run is right). `built()`
        says whether the layer's tables exist already (a first build is not a refresh)."""
        self._ensure_table()
        rows = self.warehouse.query(
            f"SELECT checksum FROM {TABLE} WHERE layer = {string_literal(layer)}").rows
        if not rows:
            return f"sql/{layer} has no record of its last build" if built() else None
        if rows[0][0] != checksum(files):
            return f"sql/{layer} changed since its last build"
        return None

    def record(self, layer: str, files: "list[SqlFile]", full_refresh: bool) -> None:
        """The layer is built by these files; after a full refresh the later layers must follow."""
        self._ensure_table()
        self.warehouse.run_sql(
            f"MERGE INTO {TABLE} AS t\n"
            f"USING (SELECT {string_literal(layer)} AS layer, {string_literal(checksum(files))} AS checksum) AS s\n"
            "ON t.layer = s.layer\n"
            "WHEN MATCHED THEN UPDATE SET checksum = s.checksum, built_at = current_timestamp()\n"
            "WHEN NOT MATCHED THEN INSERT (layer, checksum, built_at) "
            "VALUES (s.layer, s.checksum, current_timestamp())", file="<layer builds>")
        later = LAYERS[LAYERS.index(layer) + 1:]
        if full_refresh and later:
            names = ", ".join(string_literal(name) for name in later)
            self.warehouse.run_sql(f"DELETE FROM {TABLE} WHERE layer IN ({names})", file="<layer builds>")

    def _ensure_table(self) -> None:
        if not self._ready:
            self.warehouse.run_sql(
                f"CREATE TABLE IF NOT EXISTS {TABLE} (\n"
                "  layer STRING, checksum STRING, built_at TIMESTAMP\n"
                ") COMMENT 'The checksum of the SQL files each layer was last built with'",
                file="<layer builds>")
            self._ready = True
