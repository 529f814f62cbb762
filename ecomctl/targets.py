"""The registry of targets: which transport and which warehouse each target uses."""

from __future__ import annotations

from datetime import timedelta

from ecomctl.config import Settings
from ecomctl.errors import ConfigError

AVAILABLE_TARGETS = ("local", "databricks")


def check_settings(settings: Settings) -> None:
    """Fail before any work starts when the settings cannot work on their target.

    Settings of one adapter are checked when that adapter is built, so a step needs only the
    settings of what it uses (generate on databricks needs Event Hubs, not the warehouse).
    """
    if settings.target not in AVAILABLE_TARGETS:
        raise ConfigError(settings.origin("target"),
                          f"the {settings.target!r} target is not available in this version of "
                          f"ecomctl; use one of {', '.join(AVAILABLE_TARGETS)}")
    if settings.target == "local":
        from ecomctl.warehouse.duckdb import DuckDBWarehouse

        DuckDBWarehouse.check_catalog(settings.catalog, settings.origin("catalog"))


def has_state(settings: Settings) -> bool:
    """Whether the target holds any pipeline state yet (without creating any)."""
    if settings.target == "local":
        return settings.warehouse_path.exists()
    return True


def warehouse_names(settings: Settings):
    from ecomctl.warehouse.base import Names

    return Names(catalog=settings.catalog, bronze=settings.bronze_schema,
                 silver=settings.silver_schema, gold=settings.gold_schema,
                 meta=settings.meta_schema, volume=settings.volume)


def make_transport(settings: Settings):
    if settings.target == "databricks":
        from ecomctl.events.eventhubs import EventHubsConfig, EventHubsTransport

        return EventHubsTransport(EventHubsConfig.from_settings(settings))
    from ecomctl.events.eventlog import EmbeddedEventLog

    retention = timedelta(days=settings.retention_days) if settings.retention_days else None
    return EmbeddedEventLog(settings.eventlog_path, partitions=settings.partitions,
                            hub=settings.eventhub_name, retention=retention)


def make_warehouse(settings: Settings):
    if settings.target == "databricks":
        raise ConfigError(settings.origin("target"),
                          "the Databricks SQL warehouse is not available yet in this version of "
                          "ecomctl; on the databricks target only generate works")
    from ecomctl.warehouse.duckdb import DuckDBWarehouse

    return DuckDBWarehouse(settings.warehouse_path, warehouse_names(settings),
                           volumes_root=settings.landing_dir,
                           memory_limit=settings.duckdb_memory_limit)
