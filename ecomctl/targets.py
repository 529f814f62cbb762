"""The registry of targets. A target is an object that checks its settings and builds its own
collaborators, live or planned: the transport, the warehouse, the landing folder, the dashboard
publisher, the reconciler and the checks. Nothing outside this module and the adapters asks which
target it runs on or whether it is a dry run: a planned collaborator implements the interface of
the live one and records into the plan what the live one would do.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, ClassVar

from ecomctl.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    from ecomctl.config import Settings
    from ecomctl.plan import Plan
    from ecomctl.results import Reporter
    from ecomctl.warehouse.base import Names, Warehouse

# 1 MB: the largest batch of the embedded log and of a Standard or Premium event hub (a live hub
# reports its own); what a dry run says `generate` would fill its batches to.
DRY_RUN_BATCH_BYTES = 1_048_576


class Target:
    """One target's collaborators. With a `plan`, each is its planned form (a dry run)."""

    name: ClassVar[str]
    description: ClassVar[str]

    def __init__(self, settings: "Settings", *, plan: "Plan | None" = None,
                 reporter: "Reporter | None" = None) -> None:
        self.settings = settings
        self.plan = plan
        self.reporter = reporter

    def check_settings(self) -> None:
        """Fail before any work starts when the settings cannot work on this target. Settings of
        one adapter are checked when that adapter is built, so a step needs only the settings of
        what it uses (generate on databricks needs Event Hubs, not the warehouse)."""

    def has_state(self) -> bool:
        """Whether the target holds any pipeline state yet (without creating any)."""
        return True

    @property
    def names(self) -> "Names":
        from ecomctl.warehouse.base import Names

        s = self.settings
        return Names(catalog=s.catalog, bronze=s.bronze_schema, silver=s.silver_schema,
                     gold=s.gold_schema, meta=s.meta_schema, volume=s.volume)

    def begin_step(self, step: str) -> None:
        """Entries of the plan are filed under the step that records them; a warehouse lock this
        process holds names the step, for whoever finds the lock taken."""
        from ecomctl.locking import note_step

        note_step(step)
        if self.plan is not None:
            self.plan.step = step

    def transport(self):
        raise NotImplementedError

    def warehouse(self, read_only: bool = False) -> "Warehouse":
        """`read_only`: for a command that only reads (query), which must not wait behind a writer."""
        raise NotImplementedError

    def publisher(self, warehouse: "Warehouse"):
        raise NotImplementedError

    def landing(self):
        """The landing folder ingest writes its files to, and where it reads leftovers from."""
        from ecomctl.landing import LandingFolder, PlannedLandingFolder

        retention = self.settings.landing_retention_hours
        if self.plan is not None:
            return PlannedLandingFolder(self.settings.landing_dir, self.plan, retention)
        return LandingFolder(self.settings.landing_dir, retention)

    def checks(self):
        """Conditions a step checks before it goes on; a plan records them, as their answer is
        only known when the plan runs."""
        from ecomctl.plan import Checks, PlannedChecks

        return PlannedChecks(self.plan) if self.plan is not None else Checks()

    def reconciler(self, warehouse: "Warehouse"):
        """Balances bronze after an ingest; a plan has landed nothing, so there is nothing to balance."""
        from ecomctl.reconciliation import PlannedReconciler, Reconciler

        if self.plan is not None:
            return PlannedReconciler()
        return Reconciler(warehouse, warehouse.names)

    def kafka_names(self) -> dict[str, str]:
        raise ConfigError(self.settings.origin("target"),
                          f"ingest --mode kafka is not available on the {self.name} target")


class LocalTarget(Target):
    name = "local"
    description = "embedded event log + DuckDB"

    def check_settings(self) -> None:
        from ecomctl.warehouse.duckdb import DuckDBWarehouse

        DuckDBWarehouse.check_catalog(self.settings.catalog, self.settings.origin("catalog"))

    def has_state(self) -> bool:
        from ecomctl.warehouse.duckdb.session import LEGACY_FILE_NAME

        path = self.settings.warehouse_path
        return path.exists() or path.with_name(LEGACY_FILE_NAME).exists()

    def transport(self):
        s = self.settings
        if self.plan is not None:
            from ecomctl.plan import PlannedTransport

            return PlannedTransport(f"local/{s.eventhub_name}", DRY_RUN_BATCH_BYTES, self.plan)
        from ecomctl.events.eventlog import EmbeddedEventLog

        retention = timedelta(days=s.retention_days) if s.retention_days else None
        return EmbeddedEventLog(s.eventlog_path, partitions=s.partitions, hub=s.eventhub_name,
                                retention=retention)

    def warehouse(self, read_only: bool = False) -> "Warehouse":
        from ecomctl.warehouse.duckdb import DuckDBWarehouse

        s = self.settings
        if self.plan is not None:
            return DuckDBWarehouse.planned(self.names, self.plan, volumes_root=s.landing_dir)
        reporter = self.reporter
        # A reader shares the lock with other readers and fails at once if a writer holds it: a
        # DuckDB file being written cannot be read from another process.
        return DuckDBWarehouse(s.warehouse_path, self.names, volumes_root=s.landing_dir,
                               memory_limit=s.duckdb_memory_limit,
                               lock_wait=0 if read_only else s.lock_wait,
                               on_wait=reporter.message if reporter is not None else None,
                               read_only=read_only)

    def publisher(self, warehouse: "Warehouse"):
        from ecomctl.dashboards.publish import HtmlDashboard, PlannedHtmlDashboard

        if self.plan is not None:
            return PlannedHtmlDashboard(self.settings.dashboards_dir, self.plan)
        return HtmlDashboard(self.settings.dashboards_dir)


class DatabricksTarget(Target):
    name = "databricks"
    description = "Azure Event Hubs + Databricks SQL"

    def transport(self):
        if self.plan is not None:
            from ecomctl.plan import PlannedTransport

            namespace, hub = _eventhub_location(self.settings)
            return PlannedTransport(f"{namespace or '<EVENTHUB_NAMESPACE>'}/{hub}",
                                    DRY_RUN_BATCH_BYTES, self.plan)
        from ecomctl.events.eventhubs import EventHubsConfig, EventHubsTransport

        return EventHubsTransport(EventHubsConfig.from_settings(self.settings))

    def warehouse(self, read_only: bool = False) -> "Warehouse":
        """Its settings are checked here, when a step first needs it. A plan needs no
        credentials: missing warehouse settings show as <SETTING> in the plan. A Databricks SQL
        session has no read-only mode: `read_only` changes nothing (query refuses writes itself)."""
        from ecomctl.warehouse.databricks import DatabricksAccess, DatabricksWarehouse

        s = self.settings
        if self.plan is not None:
            try:
                access = DatabricksAccess.from_settings(s)
            except ConfigError:
                access = None
            return DatabricksWarehouse.planned(self.names, access, self.plan, mv_schedule=s.mv_schedule,
                                               managed_location=s.catalog_managed_location)
        return DatabricksWarehouse.live(self.names, DatabricksAccess.from_settings(s),
                                        reporter=self.reporter, mv_schedule=s.mv_schedule,
                                        managed_location=s.catalog_managed_location)

    def publisher(self, warehouse: "Warehouse"):
        from ecomctl.dashboards.databricks import (DRY_RUN_WAREHOUSE, DashboardApi,
                                                   DatabricksDashboards, PlannedDatabricksDashboards)

        if self.plan is not None:
            return PlannedDatabricksDashboards(DashboardApi.dry_run(self.plan.add, self.settings),
                                               self.settings,
                                               warehouse.warehouse_id or DRY_RUN_WAREHOUSE)
        # The workspace client the warehouse built: the same auth and short timeouts.
        return DatabricksDashboards(DashboardApi.live(warehouse.workspace_client(), self.settings),
                                    self.settings, warehouse.warehouse_id)

    def kafka_names(self) -> dict[str, str]:
        """The placeholders of sql/kafka beyond the object names: the hub's Kafka endpoint and the
        read_kafka options that sign Databricks in to it (never the connection string itself).
        In a plan a missing setting shows as <SETTING>, as elsewhere in the plan."""
        import re

        settings, planned = self.settings, self.plan is not None
        namespace, hub = _eventhub_location(settings)
        namespace = namespace or ("<EVENTHUB_NAMESPACE>" if planned else "")
        if not namespace:
            raise ConfigError(settings.origin("eventhub_namespace"),
                              "ingest --mode kafka needs the Event Hubs namespace",
                              hint="set EVENTHUB_NAMESPACE, e.g. myns.servicebus.windows.net")
        if not re.match(r"^[A-Za-z0-9][A-Za-z0-9.-]*$", namespace) and not planned:
            raise ConfigError(settings.origin("eventhub_namespace"), f"{namespace!r} is not a host name")
        # The same source as the Event Hubs transport, so both ingest modes share checkpoints and dedupe.
        return {"kafka_bootstrap": f"{namespace}:9093", "eventhub_name": hub,
                "source": f"{namespace}/{hub}", "kafka_auth": _kafka_auth(settings, planned)}


TARGETS: dict[str, type[Target]] = {t.name: t for t in (LocalTarget, DatabricksTarget)}


def make_target(settings: "Settings", *, plan: "Plan | None" = None,
                reporter: "Reporter | None" = None) -> Target:
    """The settings' target, its settings checked: a setting that cannot work fails before any step."""
    try:
        target_class = TARGETS[settings.target]
    except KeyError:
        raise ConfigError(settings.origin("target"), f"unknown target {settings.target!r}; "
                          f"choose one of {', '.join(TARGETS)}") from None
    target = target_class(settings, plan=plan, reporter=reporter)
    target.check_settings()
    return target


def _eventhub_location(settings: "Settings") -> tuple[str, str]:
    """(fully qualified namespace, hub) as the Event Hubs transport names its source, without
    network: from the connection string (its EntityPath wins over EVENTHUB_NAME) or
    EVENTHUB_NAMESPACE; "" for the namespace when only Key Vault knows it."""
    from ecomctl.events.eventhubs.settings import hub_location, qualified_namespace

    if settings.eventhub_connection_string:
        namespace, entity = hub_location(settings.eventhub_connection_string.reveal(),
                                         settings.origin("eventhub_connection_string"))
        return namespace, entity or settings.eventhub_name
    return qualified_namespace(settings.eventhub_namespace), settings.eventhub_name


_NAME = r"^[A-Za-z0-9._-]+$"  # a secret scope, a secret key or a service credential: never quoted into SQL otherwise

# The Kafka endpoint of Event Hubs takes a connection string as the SASL PLAIN password, with the
# literal user name $ConnectionString; Databricks shades the Kafka client's classes under kafkashaded.
_JAAS_PLAIN = ("kafkashaded.org.apache.kafka.common.security.plain.PlainLoginModule required "
               'username="$ConnectionString" password="')


def _kafka_auth(settings: "Settings", planned: bool) -> str:
    """The read_kafka options that sign in to the hub. A Unity Catalog service credential when one is
    named (the form Databricks documents for Event Hubs on serverless compute, with no secret to
    handle); otherwise the connection string read on the server with secret(), which the Databricks
    SQL reference marks as preview there. docs/databricks.md has both, with their sources."""
    import re

    credential = settings.kafka_service_credential
    if credential:
        if not re.match(_NAME, credential):
            raise ConfigError(settings.origin("kafka_service_credential"),
                              f"{credential!r} is not a service credential name (letters, digits, '.', '-' and '_')")
        return f"`databricks.serviceCredential` => '{credential}'"
    secret = {}
    for attr in ("kafka_secret_scope", "kafka_secret_key"):
        value = getattr(settings, attr)
        if not value and planned:
            secret[attr] = f"<{settings.origin(attr)}>"
            continue
        if not value:
            raise ConfigError(settings.origin(attr), "ingest --mode kafka signs Databricks in to the hub with a "
                              "Unity Catalog service credential (ECOMCTL_KAFKA_SERVICE_CREDENTIAL) or with the "
                              "connection string in a Databricks secret, which this names",
                              hint="see docs/databricks.md, \"Ingest without the client\"")
        if not re.match(_NAME, value):
            raise ConfigError(settings.origin(attr), f"{value!r} is not a secret scope or key name "
                              "(letters, digits, '.', '-' and '_')")
        secret[attr] = value
    return ("`kafka.security.protocol` => 'SASL_SSL',\n"
            "  `kafka.sasl.mechanism` => 'PLAIN',\n"
            f"  `kafka.sasl.jaas.config` => concat('{_JAAS_PLAIN}', "
            f"secret('{secret['kafka_secret_scope']}', '{secret['kafka_secret_key']}'), '\";')")
