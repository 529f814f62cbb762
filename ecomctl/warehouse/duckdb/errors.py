"""How the local warehouse's failures read: a statement this adapter refuses, and the engine
failures that are not the statement's fault (the file is locked, damaged, or the disk is full)."""

from __future__ import annotations

from pathlib import Path

from ecomctl.errors import WarehouseError, first_line


class StatementRefused(Exception):
    """A statement failed for a reason this adapter found; the caller adds file and line."""


_DAMAGED_WORDS = ("not a valid duckdb database file", "could not read enough bytes",
                  "checksum", "corrupt")


def _rebuild_hint(path: Path) -> str:
    return (f"restore {path.name} from a backup, or move it away and run `ecomctl setup` and "
            "`ecomctl ingest` to rebuild it from the event log (events past its retention are "
            "gone) and the landing files")


def open_error(path: Path, exc: BaseException) -> WarehouseError:
    """One clear line for each way opening the warehouse file fails."""
    import re

    from ecomctl.errors import DISK_FULL_HINT, is_disk_full

    text = first_line(exc)
    lowered = text.lower()
    if "could not set lock" in lowered or "conflicting lock" in lowered:
        pid = re.search(r"\(PID (\d+)\)", str(exc))
        holder = f"another process (pid {pid.group(1)})" if pid else "another process"
        return WarehouseError(f"the DuckDB warehouse {path} is locked by {holder}",
                              hint="a DuckDB file can be open in one process at a time: let that "
                                   "process finish (or close it) and run again")
    if any(word in lowered for word in _DAMAGED_WORDS):
        return WarehouseError(f"the DuckDB warehouse {path} is damaged or not a DuckDB file "
                              f"({text})", hint=_rebuild_hint(path))
    if is_disk_full(exc):
        return WarehouseError(f"cannot open the DuckDB warehouse {path}: {text}", hint=DISK_FULL_HINT)
    return WarehouseError(f"cannot open the DuckDB warehouse {path}: {text}")


def engine_hint(exc: BaseException, path: Path) -> str | None:
    """A hint for the engine failures that are not the statement's fault."""
    from ecomctl.errors import DISK_FULL_HINT, is_disk_full

    if is_disk_full(exc):
        return DISK_FULL_HINT
    if any(word in str(exc).lower() for word in _DAMAGED_WORDS):
        return f"the warehouse file looks damaged: {_rebuild_hint(path)}"
    return None

