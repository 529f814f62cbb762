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


def make_warehouse(settings: Settings, reporter=None):
    """The target's warehouse; its settings are checked here, when a step first needs it."""
    if settings.target == "databricks":
        from ecomctl.warehouse.databricks import DatabricksAccess, DatabricksWarehouse

        return DatabricksWarehouse.live(warehouse_names(settings), DatabricksAccess.from_settings(settings),
                                        reporter=reporter, mv_schedule=settings.mv_schedule)
    from ecomctl.warehouse.duckdb import DuckDBWarehouse

    return DuckDBWarehouse(settings.warehouse_path, warehouse_names(settings),
                           volumes_root=settings.landing_dir,
                           memory_limit=settings.duckdb_memory_limit,
                           lock_wait=settings.lock_wait,
                           on_wait=reporter.message if reporter is not None else None)


def make_dry_run_warehouse(settings: Settings, plan):
    """A warehouse that records into `plan` what the target's warehouse would run; needs no
    credentials: on databricks, missing warehouse settings show as <SETTING> in the plan."""
    if settings.target == "databricks":
        from ecomctl.errors import ConfigError
        from ecomctl.warehouse.databricks import DatabricksAccess, DatabricksWarehouse

        try:
            access = DatabricksAccess.from_settings(settings)
        except ConfigError:
            access = None
        return DatabricksWarehouse.planned(warehouse_names(settings), access, plan,
                                           mv_schedule=settings.mv_schedule)
    from ecomctl.warehouse.duckdb import DuckDBWarehouse

    return DuckDBWarehouse.planned(warehouse_names(settings), plan, volumes_root=settings.landing_dir)


# 1 MB: the largest batch of the embedded log and of a Standard or Premium event hub (a live hub
# reports its own); what a dry run says `generate` would fill its batches to.
DRY_RUN_BATCH_BYTES = 1_048_576


def make_dry_run_transport(settings: Settings, plan):
    """A transport that records what would be sent or read, naming the hub it would use."""
    from ecomctl.plan import DryRunTransport

    if settings.target == "local":
        return DryRunTransport(f"local/{settings.eventhub_name}", DRY_RUN_BATCH_BYTES, plan)
    namespace, hub = _eventhub_location(settings)
    return DryRunTransport(f"{namespace or '<EVENTHUB_NAMESPACE>'}/{hub}", DRY_RUN_BATCH_BYTES, plan)


def kafka_ingest_names(settings: Settings, *, dry_run: bool = False) -> dict[str, str]:
    """The placeholders of sql/kafka beyond the object names: the hub's Kafka endpoint and the
    Databricks secret holding its connection string (never the connection string itself).
    In a dry run a missing setting shows as <SETTING>, as elsewhere in the plan."""
    import re

    from ecomctl.errors import ConfigError

    namespace, hub = _eventhub_location(settings)
    namespace = namespace or ("<EVENTHUB_NAMESPACE>" if dry_run else "")
    if not namespace:
        raise ConfigError(settings.origin("eventhub_namespace"),
                          "ingest --mode kafka needs the Event Hubs namespace",
                          hint="set EVENTHUB_NAMESPACE, e.g. myns.servicebus.windows.net")
    if not re.match(r"^[A-Za-z0-9][A-Za-z0-9.-]*$", namespace) and not dry_run:
        raise ConfigError(settings.origin("eventhub_namespace"), f"{namespace!r} is not a host name")
    secret = {}
    for attr in ("kafka_secret_scope", "kafka_secret_key"):
        value = getattr(settings, attr)
        if not value and dry_run:
            secret[attr] = f"<{settings.origin(attr)}>"
            continue
        if not value:
            raise ConfigError(settings.origin(attr), "ingest --mode kafka reads the Event Hubs "
                              "connection string from a Databricks secret, which this names",
                              hint="store it with `databricks secrets put-secret <scope> <key>`")
        if not re.match(r"^[A-Za-z0-9._-]+$", value):
            raise ConfigError(settings.origin(attr), f"{value!r} is not a secret scope or key name "
                              "(letters, digits, '.', '-' and '_')")
        secret[attr] = value
    # The same source as the Event Hubs transport, so both ingest modes share checkpoints and dedupe.
    return {"kafka_bootstrap": f"{namespace}:9093", "eventhub_name": hub,
            "source": f"{namespace}/{hub}",
            "secret_scope": secret["kafka_secret_scope"], "secret_key": secret["kafka_secret_key"]}


def _eventhub_location(settings: Settings) -> tuple[str, str]:
    """(fully qualified namespace, hub) as the Event Hubs transport names its source, without
    network: from the connection string (its EntityPath wins over EVENTHUB_NAME) or
    EVENTHUB_NAMESPACE; "" for the namespace when only Key Vault knows it."""
    from ecomctl.events.eventhubs.settings import hub_location, qualified_namespace

    if settings.eventhub_connection_string:
        namespace, entity = hub_location(settings.eventhub_connection_string.reveal(),
                                         settings.origin("eventhub_connection_string"))
        return namespace, entity or settings.eventhub_name
    return qualified_namespace(settings.eventhub_namespace), settings.eventhub_name
