"""The registry of targets: which transport and which warehouse each target uses."""

from __future__ import annotations

from datetime import timedelta

from ecomctl.config import Settings
from ecomctl.errors import ConfigError


def warehouse_names(settings: Settings):
    from ecomctl.warehouse.base import Names

    return Names(catalog=settings.catalog, bronze=settings.bronze_schema,
                 silver=settings.silver_schema, gold=settings.gold_schema,
                 meta=settings.meta_schema, volume=settings.volume)


def make_transport(settings: Settings):
    if settings.target == "local":
        from ecomctl.events.eventlog import EmbeddedEventLog

        retention = timedelta(days=settings.retention_days) if settings.retention_days else None
        return EmbeddedEventLog(settings.eventlog_path, partitions=settings.partitions,
                                hub=settings.eventhub_name, retention=retention)
    raise _not_available(settings.target)


def make_warehouse(settings: Settings):
    if settings.target == "local":
        from ecomctl.warehouse.duckdb import DuckDBWarehouse

        return DuckDBWarehouse(settings.warehouse_path, warehouse_names(settings),
                               volumes_root=settings.landing_dir,
                               memory_limit=settings.duckdb_memory_limit)
    raise _not_available(settings.target)


def _not_available(target: str) -> ConfigError:
    return ConfigError("ECOMCTL_TARGET", f"the {target!r} target is not available in this "
                       "version of ecomctl; use 'local'")
