"""status: row counts per table, lag per partition, applied SQL versions, disk use. Reads only.

It never waits behind a writer: when another process is writing the warehouse, it shows the
event log's side and who writes (command and step), and says the warehouse figures come later.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ecomctl.ingest import expired_unread, read_checkpoints
from ecomctl.locking import LockBusy
from ecomctl.results import ObjectResult, StepResult

if TYPE_CHECKING:  # pragma: no cover
    from ecomctl.events.transport import PartitionState, Transport
    from ecomctl.warehouse.base import Names, Warehouse

# What each part of the home is, by the names config.py gives its files (a part is every entry
# whose name starts with one of its prefixes: the SQLite and DuckDB side files included).
HOME_PARTS = (
    ("event log", "eventhub.db*", ("eventhub.db",)),
    ("warehouse", "<catalog>.duckdb*", ("warehouse.",)),
    ("landing files", "landing/", ("landing",)),
    ("dashboards", "dashboards/", ("dashboards",)),
    ("run reports", "runs/", ("runs",)),
)


def collect_status(step: StepResult, transport: "Transport", warehouse: "Warehouse", names: "Names",
                   *, has_state: bool, home: Path, sql_root: Path) -> None:
    if not has_state:
        step.details["set_up"] = False
        step.tables["state"] = (["object", "state"], [[str(home), "not set up: run `ecomctl setup`"]])
        _disk_use(step, home, names)
        return
    step.details["set_up"] = True
    try:
        warehouse.open_for_reading()
    except LockBusy as busy:
        # Say at once what can be said without the warehouse, rather than wait for the writer.
        step.details["warehouse_busy"] = busy.holder.as_dict()
        step.details.update(total_lag=None, sql_versions=None)
        _event_log(step, transport)
        _disk_use(step, home, names)
        return
    for schema in (names.bronze, names.silver, names.gold):
        for table in warehouse.tables(schema):
            fqn = f"{names.catalog}.{schema}.{table}"
            step.objects.append(ObjectResult(fqn, "count", warehouse.table_rows(fqn), 0.0))

    _partition_lag(step, transport, warehouse, names)
    _migrations(step, warehouse, sql_root)
    _disk_use(step, home, names)


def _partition_lag(step: StepResult, transport: "Transport", warehouse: "Warehouse",
                   names: "Names") -> None:
    raw_events = f"{names.catalog}.{names.bronze}.raw_events"
    checkpoints = {}
    if warehouse.table_rows(raw_events) is not None:
        checkpoints = read_checkpoints(warehouse, transport.source)
    rows = []
    partitions = []
    for pid in transport.partition_ids():
        state = transport.partition_state(pid)
        landed = checkpoints.get(pid, -1)
        # Events that expired unread are not lag: nothing can read them any more.
        expired = expired_unread(state, landed)
        lag = max(state.last_sequence_number - landed - expired, 0)
        enqueued = state.last_enqueued_time.isoformat() if state.last_enqueued_time else None
        rows.append([pid, _sequence(state.last_sequence_number), _sequence(landed), lag, expired,
                     _time(state.last_enqueued_time)])
        partitions.append({"partition_id": pid, "last_enqueued_sequence": state.last_sequence_number,
                           "last_landed_sequence": landed, "lag": lag, "expired": expired,
                           "last_enqueued_time": enqueued})
    step.details["partitions"] = partitions
    step.details["total_lag"] = sum(p["lag"] for p in partitions)
    step.tables[f"partitions of {transport.source}"] = (
        ["partition", "last\nenqueued", "last\nlanded", "lag", "expired\nunread", "last enqueued\n(UTC)"],
        rows)


def _event_log(step: StepResult, transport: "Transport") -> None:
    """The partitions as the event log alone knows them: what landed is in the warehouse."""
    rows, partitions = [], []
    for pid in transport.partition_ids():
        state = transport.partition_state(pid)
        rows.append([pid, _first_retained(state), _sequence(state.last_sequence_number),
                     _time(state.last_enqueued_time)])
        partitions.append({"partition_id": pid, "last_enqueued_sequence": state.last_sequence_number,
                           "last_landed_sequence": None, "lag": None, "expired": None,
                           "last_enqueued_time": state.last_enqueued_time.isoformat()
                           if state.last_enqueued_time else None})
    step.details["partitions"] = partitions
    step.tables[f"partitions of {transport.source} (the event log alone)"] = (
        ["partition", "first\nretained", "last\nenqueued", "last enqueued\n(UTC)"], rows)


def _migrations(step: StepResult, warehouse: "Warehouse", sql_root: Path) -> None:
    from ecomctl.warehouse import migrations
    from ecomctl.warehouse.sqlfiles import load_step

    statuses = migrations.status(warehouse, load_step("setup", sql_root))
    step.details["sql_versions"] = [{"version": s.file.version, "file": s.file.name, "state": s.state,
                                     "applied_at": str(s.applied_at or "-")} for s in statuses]
    step.tables["setup SQL versions"] = (
        ["version", "file", "state", "applied at (UTC)"],
        [[s.file.version, s.file.name.removeprefix("setup/"), s.state, _time(s.applied_at)]
         for s in statuses])


def _disk_use(step: StepResult, home: Path, names: "Names") -> None:
    """What each part of the home takes on disk (allocated blocks, as du counts them)."""
    parts = disk_use(home, f"{names.catalog}.duckdb")
    step.details["disk"] = parts
    if not parts:
        return
    rows: list[list[Any]] = [[p["part"], p["path"], p["files"], _size(p["bytes"])] for p in parts]
    rows.append(["total", "", sum(p["files"] for p in parts), _size(sum(p["bytes"] for p in parts))])
    step.tables[f"disk use of {_shown(home)}"] = (["part", "path", "files", "size"], rows)


def disk_use(home: Path, warehouse_file: str = "warehouse.duckdb") -> list[dict[str, Any]]:
    """[{part, path, files, bytes}] for each part of the home that exists, in HOME_PARTS order,
    then anything else under the home as `other`. `warehouse_file` is the DuckDB file's name
    (<catalog>.duckdb), its side files (.wal, .tmp) counted with it."""
    found: dict[str, list[int]] = {}
    try:
        entries = list(os.scandir(home))
    except OSError:  # no home yet
        return []
    for entry in entries:
        part = next((name for name, _, prefixes in HOME_PARTS
                     if entry.name.startswith(prefixes)), "other")
        if entry.name.startswith(warehouse_file):
            part = "warehouse"
        files, size = _tree_size(entry)
        total = found.setdefault(part, [0, 0])
        total[0] += files
        total[1] += size
    where = {name: path for name, path, _ in HOME_PARTS}
    order = [name for name, _, _ in HOME_PARTS] + ["other"]
    return [{"part": name, "path": where.get(name, ""), "files": found[name][0], "bytes": found[name][1]}
            for name in order if name in found]


def _tree_size(entry: os.DirEntry) -> tuple[int, int]:
    """(files, bytes on disk) of a file or of a folder and everything under it."""
    try:
        if entry.is_dir(follow_symlinks=False):
            files = size = 0
            for child in os.scandir(entry.path):
                child_files, child_size = _tree_size(child)
                files += child_files
                size += child_size
            return files, size
        return 1, _allocated(entry.stat(follow_symlinks=False))
    except OSError:  # removed while we looked (a landing file loaded, a lock released)
        return 0, 0


def _allocated(stat: os.stat_result) -> int:
    blocks = getattr(stat, "st_blocks", None)
    return stat.st_size if blocks is None else blocks * 512


def _size(nbytes: int) -> str:
    """Decimal units, as `du --si` and Rich say them: `1.2 MB`."""
    for unit, scale in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if nbytes >= scale:
            return f"{nbytes / scale:,.1f} {unit}"
    return f"{nbytes} byte" if nbytes == 1 else f"{nbytes} bytes"


def _shown(path: Path) -> str:
    """A path as short as it reads unambiguously: relative when under the current folder."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return str(path)


def _sequence(number: int) -> int | None:
    """-1 means "none yet" (an empty partition, nothing landed): shown as `-`."""
    return None if number < 0 else number


def _first_retained(state: "PartitionState") -> int | None:
    if state.last_sequence_number < 0 or state.beginning_sequence_number > state.last_sequence_number:
        return None  # empty, or every event expired
    return state.beginning_sequence_number


def _time(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if not isinstance(moment, datetime):
        return str(moment)
    return moment.strftime("%Y-%m-%d %H:%M:%S")
