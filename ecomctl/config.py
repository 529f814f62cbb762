"""Settings: one table of every setting, resolved flag > environment > .env file > default.

The same table generates `.env.example` and docs/configuration.md (scripts/settings_docs.py
writes both; tests check that both are current), so no setting can exist undocumented.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Mapping

from ecomctl.errors import ConfigError


class Secret:
    """A secret value that never shows itself in repr, str, logs or reports."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class Setting:
    attr: str
    env: str
    default: Any
    help: str
    group: str
    kind: str = "str"  # str | int | bool | path | identifier | target | secret | workspace_folder | object_name | storage_url | mv_schedule
    example: str = ""
    minimum: int = 1  # kind "int": the smallest value accepted


SETTINGS: tuple[Setting, ...] = (
    # -- ecomctl ---------------------------------------------------------
    Setting("target", "ECOMCTL_TARGET", "local", "Where the pipeline runs: local (embedded event log + DuckDB) or databricks (Event Hubs + Databricks SQL).", "general", "target"),
    Setting("home", "ECOMCTL_HOME", ".ecomctl", "Local state folder: event log, DuckDB warehouse, landing files, dashboards, run reports.", "general", "path"),
    Setting("catalog", "ECOMCTL_CATALOG", "ecommerce", "Catalog holding the schemas (Unity Catalog on Databricks; the attached DuckDB file locally).", "general", "identifier"),
    Setting("bronze_schema", "ECOMCTL_BRONZE_SCHEMA", "bronze", "Schema for raw events, orders, products and rejected events.", "general", "identifier"),
    Setting("silver_schema", "ECOMCTL_SILVER_SCHEMA", "silver", "Schema for the enriched order_details table.", "general", "identifier"),
    Setting("gold_schema", "ECOMCTL_GOLD_SCHEMA", "gold", "Schema for the gold tables and the materialized views.", "general", "identifier"),
    Setting("meta_schema", "ECOMCTL_META_SCHEMA", "ecomctl_meta", "Schema for ecomctl's own bookkeeping (applied SQL versions, loaded files).", "general", "identifier"),
    Setting("volume", "ECOMCTL_VOLUME", "landing", "Volume (in the bronze schema) that receives landing files; locally $ECOMCTL_HOME/landing.", "general", "identifier"),
    Setting("event_count", "ECOMCTL_EVENT_COUNT", 300, "Events sent by generate and run-all when --count is not given (0 sends none, as --count 0 does).", "general", "int", minimum=0),
    Setting("ingest_batch", "ECOMCTL_INGEST_BATCH", 100_000, "Most events per landing file and per load (one read, one file; the small last reads of several partitions load together).", "general", "int"),
    Setting("landing_retention_hours", "ECOMCTL_LANDING_RETENTION_HOURS", 24, "Age in hours (by modification time) after which ingest removes a landing file whose rows raw_events holds: locally from $ECOMCTL_HOME/landing, on Databricks from the Volume. A file not loaded is never removed; 0 keeps every file.", "general", "int", minimum=0),
    # -- local target ----------------------------------------------------
    Setting("partitions", "ECOMCTL_PARTITIONS", 4, "Partitions of the embedded event log (fixed when the log is created).", "local", "int"),
    Setting("retention_days", "ECOMCTL_RETENTION_DAYS", 7, "Days the embedded event log keeps events before they expire (0 keeps them forever).", "local", "int", minimum=0),
    Setting("lock_wait", "ECOMCTL_LOCK_WAIT", 300, "Seconds a command waits for another ecomctl process to finish with the local warehouse before it gives up (0: give up at once).", "local", "int", minimum=0),
    Setting("duckdb_memory_limit", "ECOMCTL_DUCKDB_MEMORY_LIMIT", "600MB", "DuckDB memory limit for the local warehouse; a run peaks at about this plus 200 MB.", "local"),
    # -- Azure Event Hubs --------------------------------------------------
    Setting("eventhub_name", "EVENTHUB_NAME", "orders", "Event hub name (the embedded log uses it too).", "eventhubs", "hub"),
    Setting("eventhub_connection_string", "EVENTHUB_CONNECTION_STRING", "", "Event Hubs connection string (secret).", "eventhubs", "secret", "Endpoint=sb://<namespace>.servicebus.windows.net/;SharedAccessKeyName=<name>;SharedAccessKey=<key>"),
    Setting("eventhub_namespace", "EVENTHUB_NAMESPACE", "", "Fully qualified namespace for Entra ID auth, e.g. myns.servicebus.windows.net.", "eventhubs"),
    Setting("eventhub_consumer_group", "EVENTHUB_CONSUMER_GROUP", "$Default", "Consumer group that ingest reads with.", "eventhubs"),
    Setting("keyvault_url", "KEYVAULT_URL", "", "Key Vault URL holding the connection string, e.g. https://myvault.vault.azure.net.", "eventhubs"),
    Setting("keyvault_secret_name", "KEYVAULT_SECRET_NAME", "", "Name of the Key Vault secret with the connection string.", "eventhubs"),
    Setting("eventhub_transport", "EVENTHUB_TRANSPORT", "amqp", "amqp (port 5671) or websockets (AMQP over WebSockets on port 443, for locked-down networks; needed for a proxy).", "eventhubs"),
    Setting("eventhub_proxy_host", "EVENTHUB_PROXY_HOST", "", "HTTP proxy host for EVENTHUB_TRANSPORT=websockets.", "eventhubs"),
    Setting("eventhub_proxy_port", "EVENTHUB_PROXY_PORT", "", "HTTP proxy port (3128 when empty).", "eventhubs"),
    Setting("eventhub_proxy_user", "EVENTHUB_PROXY_USER", "", "HTTP proxy user name, if the proxy needs one.", "eventhubs"),
    Setting("eventhub_proxy_password", "EVENTHUB_PROXY_PASSWORD", "", "HTTP proxy password (secret).", "eventhubs", "secret", "<proxy password>"),
    Setting("eventhub_retries", "EVENTHUB_RETRIES", 3, "Retries of a failed Event Hubs or Key Vault operation (waiting 1 s, 2 s, 4 s ... at most 8 s); 0 fails at once.", "eventhubs", "int", minimum=0),
    Setting("eventhub_timeout_seconds", "EVENTHUB_TIMEOUT_SECONDS", 25, "Longest wait for one Event Hubs call (retries included) before it is abandoned as unanswered.", "eventhubs", "int"),
    Setting("eventhub_idle_seconds", "EVENTHUB_IDLE_SECONDS", 10, "ingest stops reading a partition after this many seconds without an event, even before its last sequence number.", "eventhubs", "int"),
    # -- Databricks --------------------------------------------------------
    Setting("databricks_host", "DATABRICKS_HOST", "", "Workspace URL, e.g. https://adb-123.4.azuredatabricks.net.", "databricks"),
    Setting("databricks_token", "DATABRICKS_TOKEN", "", "Personal access token (secret); or use a profile, OAuth M2M or the Azure CLI.", "databricks", "secret", "dapi..."),
    Setting("databricks_profile", "DATABRICKS_CONFIG_PROFILE", "", "Profile in ~/.databrickscfg.", "databricks"),
    Setting("databricks_warehouse_id", "DATABRICKS_WAREHOUSE_ID", "", "SQL warehouse id.", "databricks"),
    Setting("databricks_http_path", "DATABRICKS_HTTP_PATH", "", "SQL warehouse HTTP path (instead of the id).", "databricks"),
    Setting("catalog_managed_location", "ECOMCTL_CATALOG_MANAGED_LOCATION", "", "Cloud storage for the catalog's managed tables and volumes, used only when setup --create-catalog creates the catalog (MANAGED LOCATION), e.g. abfss://<container>@<account>.dfs.core.windows.net/ecomctl; it must lie in an external location you may use. Empty: the metastore's storage, which workspaces enabled for Unity Catalog automatically often lack.", "databricks", "storage_url"),
    Setting("mv_schedule", "ECOMCTL_MV_SCHEDULE", "", "Refresh schedule added to each materialized view on Databricks, e.g. EVERY 1 HOUR or CRON '0 0 6 * * ?' AT TIME ZONE 'UTC' (empty: refreshed by the views step only).", "databricks", "mv_schedule"),
    Setting("kafka_secret_scope", "ECOMCTL_KAFKA_SECRET_SCOPE", "", "Databricks secret scope holding the Event Hubs connection string, for ingest --mode kafka.", "databricks"),
    Setting("kafka_secret_key", "ECOMCTL_KAFKA_SECRET_KEY", "", "Key of that secret in the scope, for ingest --mode kafka.", "databricks"),
    Setting("kafka_service_credential", "ECOMCTL_KAFKA_SERVICE_CREDENTIAL", "", "Unity Catalog service credential that reads the event hub, for ingest --mode kafka; when set it is used instead of the secret.", "databricks"),
    # -- Databricks dashboards ---------------------------------------------
    Setting("workspace_folder", "ECOMCTL_WORKSPACE_FOLDER", "/Shared/ecomctl", "Workspace folder that holds the dashboard, the saved queries and the Genie spaces (created when missing).", "dashboards", "workspace_folder"),
    Setting("dashboard_name", "ECOMCTL_DASHBOARD_NAME", "ecomctl e-commerce", "Name of the AI/BI dashboard; the Genie spaces are titled '<name>: <space>'. Objects are found by name in the folder and updated in place.", "dashboards", "object_name"),
    Setting("dashboard_embed_credentials", "ECOMCTL_DASHBOARD_EMBED_CREDENTIALS", True, "Publish the dashboard with the publisher's credentials embedded (true: viewers need no data access of their own; false: each viewer's own permissions apply).", "dashboards", "bool"),
)

_BY_ATTR = {s.attr: s for s in SETTINGS}


@dataclass(frozen=True)
class Settings:
    """Every setting in force; built by Settings.load, whose defaults are the SETTINGS table's."""

    target: str
    home: Path
    catalog: str
    bronze_schema: str
    silver_schema: str
    gold_schema: str
    meta_schema: str
    volume: str
    event_count: int
    ingest_batch: int
    landing_retention_hours: int
    partitions: int
    retention_days: int
    lock_wait: int
    duckdb_memory_limit: str
    eventhub_name: str
    eventhub_connection_string: Secret
    eventhub_namespace: str
    eventhub_consumer_group: str
    keyvault_url: str
    keyvault_secret_name: str
    eventhub_transport: str
    eventhub_proxy_host: str
    eventhub_proxy_port: str
    eventhub_proxy_user: str
    eventhub_proxy_password: Secret
    eventhub_retries: int
    eventhub_timeout_seconds: int
    eventhub_idle_seconds: int
    databricks_host: str
    databricks_token: Secret
    databricks_profile: str
    databricks_warehouse_id: str
    databricks_http_path: str
    catalog_managed_location: str
    mv_schedule: str
    kafka_secret_scope: str
    kafka_secret_key: str
    kafka_service_credential: str
    workspace_folder: str
    dashboard_name: str
    dashboard_embed_credentials: bool
    # Where each value came from (a flag, an environment variable, the .env file), for error messages.
    origins: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def load(cls, overrides: Mapping[str, Any] | None = None, *,
             environ: Mapping[str, str] | None = None,
             env_file: Path | None = None) -> "Settings":
        """Resolve every setting: overrides (flags) > environ > env_file > default."""
        environ = os.environ if environ is None else environ
        env_file, file_values = _read_env_file(env_file)
        overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
        values: dict[str, Any] = {}
        origins: dict[str, str] = {}
        for setting in SETTINGS:
            origin = setting.env
            if setting.attr in overrides:
                raw, origin = overrides[setting.attr], _flag_name(setting)
                described = origin
            elif environ.get(setting.env, "") != "":
                raw, described = environ[setting.env], origin
            elif file_values.get(setting.env):
                raw, described = file_values[setting.env], f"{origin} (from {env_file})"
            else:
                raw, described = setting.default, origin
            values[setting.attr] = _convert(setting, raw, described)
            origins[setting.attr] = origin
        return cls(**values, origins=origins)

    def origin(self, attr: str) -> str:
        """The flag or variable a setting came from (its variable when it is a default)."""
        return self.origins.get(attr, _BY_ATTR[attr].env)

    def secrets(self) -> list[str]:
        """Every secret value in force, so output can be scrubbed of them."""
        return [getattr(self, s.attr).reveal() for s in SETTINGS
                if s.kind == "secret" and getattr(self, s.attr)]

    def public(self) -> dict[str, Any]:
        """Settings for reports: secrets shown only as set / not set."""
        out: dict[str, Any] = {}
        for f in fields(self):
            if f.name == "origins":
                continue
            value = getattr(self, f.name)
            if isinstance(value, Secret):
                out[f.name] = "(set)" if value else "(not set)"
            elif isinstance(value, Path):
                out[f.name] = str(value)
            else:
                out[f.name] = value
        return out

    # Paths of the local target, all under home.
    @property
    def eventlog_path(self) -> Path:
        return self.home / "eventhub.db"

    @property
    def warehouse_path(self) -> Path:
        # Named after the catalog: `duckdb <file>` then knows the tables by the names ecomctl prints.
        return self.home / f"{self.catalog}.duckdb"

    @property
    def landing_dir(self) -> Path:
        return self.home / "landing"

    @property
    def dashboards_dir(self) -> Path:
        return self.home / "dashboards"

    @property
    def runs_dir(self) -> Path:
        return self.home / "runs"


def _flag_name(setting: Setting) -> str:
    return "--" + setting.attr.replace("_", "-")


def _read_env_file(path: Path | None) -> tuple[Path | None, dict[str, str]]:
    """The env file in use (--env-file, else ./.env when present) and its values."""
    if path is None:
        default = Path(".env")
        if not default.is_file():
            return None, {}
        path = default
    elif not path.is_file():
        raise ConfigError("--env-file", f"{path} does not exist or is not a file")
    from dotenv import dotenv_values

    return path, {k: v for k, v in dotenv_values(path).items() if v is not None}


def _convert(setting: Setting, raw: Any, origin: str) -> Any:
    converter: Callable[[Setting, Any, str], Any] = _CONVERTERS[setting.kind]
    return converter(setting, raw, origin)


def _to_int(setting: Setting, raw: Any, origin: str) -> int:
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise ConfigError(origin, f"expected a whole number, got {raw!r}") from None
    if value < setting.minimum:
        raise ConfigError(origin, f"must be at least {setting.minimum}, got {value}")
    return value


def _to_identifier(setting: Setting, raw: Any, origin: str) -> str:
    from ecomctl.warehouse.sqlfiles import validate_identifier

    return validate_identifier(str(raw), origin)


def _to_home(setting: Setting, raw: Any, origin: str) -> Path:
    path = Path(str(raw)).expanduser()
    if path.exists() and not path.is_dir():
        raise ConfigError(origin, f"{path} exists and is not a folder")
    return path


_HUB_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,255}$")


def _to_hub(setting: Setting, raw: Any, origin: str) -> str:
    value = str(raw)
    if not _HUB_NAME.match(value):
        raise ConfigError(origin, f"{value!r} is not a valid event hub name "
                          "(letters, digits, '.', '-' and '_', starting with a letter or digit)")
    return value


def _to_target(setting: Setting, raw: Any, origin: str) -> str:
    """A target name; the registry (ecomctl/targets.py) says which exist, when the pipeline starts."""
    return str(raw).strip().lower()


def _to_bool(setting: Setting, raw: Any, origin: str) -> bool:
    if isinstance(raw, bool):
        return raw
    value = str(raw).strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ConfigError(origin, f"expected true or false, got {raw!r}")


def _to_workspace_folder(setting: Setting, raw: Any, origin: str) -> str:
    value = str(raw).strip()
    folder = value.rstrip("/")
    parts = folder.split("/")[1:]
    if not value.startswith("/") or not folder or any(p in ("", ".", "..") for p in parts):
        raise ConfigError(origin, f"{raw!r} is not an absolute workspace folder",
                          hint="write a path such as /Shared/ecomctl or /Users/you@example.com/ecomctl")
    return folder


def _to_object_name(setting: Setting, raw: Any, origin: str) -> str:
    value = str(raw).strip()
    if not value or "/" in value or len(value) > 200:
        raise ConfigError(origin, f"{raw!r} is not a usable name (1 to 200 characters, no '/')")
    return value


# The storage a Unity Catalog managed location may name: ADLS Gen2, S3 or GCS, a container or
# bucket and an optional path (CREATE CATALOG docs; the path must lie in an external location).
_STORAGE_URL = re.compile(r"^(?:abfss://[A-Za-z0-9][A-Za-z0-9-]*@[A-Za-z0-9.-]+"
                          r"|s3://[a-z0-9][a-z0-9.-]+|gs://[a-z0-9][a-z0-9._-]+)(?:/[^\s'\\]*)?$")


def _to_storage_url(setting: Setting, raw: Any, origin: str) -> str:
    value = str(raw).strip()
    if value and not _STORAGE_URL.match(value):
        raise ConfigError(origin, f"{value!r} is not a cloud storage URL",
                          hint="write abfss://<container>@<account>.dfs.core.windows.net/<path>, "
                               "s3://<bucket>/<path> or gs://<bucket>/<path>")
    return value


def _to_mv_schedule(setting: Setting, raw: Any, origin: str) -> str:
    """Checked here, with the setting's origin, so a schedule Databricks would refuse stops the run
    before anything starts instead of at the views step."""
    if not str(raw).strip():
        return ""
    from ecomctl.warehouse.databricks.views import check_schedule

    return check_schedule(str(raw), origin)


_CONVERTERS: dict[str, Callable[[Setting, Any, str], Any]] = {
    "str": lambda s, raw, origin: str(raw),
    "int": _to_int,
    "path": _to_home,
    "hub": _to_hub,
    "identifier": _to_identifier,
    "target": _to_target,
    "bool": _to_bool,
    "workspace_folder": _to_workspace_folder,
    "object_name": _to_object_name,
    "storage_url": _to_storage_url,
    "mv_schedule": _to_mv_schedule,
    "secret": lambda s, raw, origin: raw if isinstance(raw, Secret) else Secret(str(raw)),
}


# The sections of .env.example and docs/configuration.md, in order: Setting.group -> title.
GROUP_TITLES = {
    "general": "Both targets",
    "local": "Local target",
    "eventhubs": "Azure Event Hubs (databricks target)",
    "databricks": "Databricks SQL warehouse (databricks target)",
    "dashboards": "Databricks dashboards, saved queries and Genie spaces (databricks target)",
}

# Settings that a command-line flag also sets (the flag wins over the environment).
FLAGS = {
    "target": "`--target` / `-t` (any command)",
    "home": "`--home` (any command)",
    "event_count": "`--count` / `-n` (generate, run-all)",
}


def env_example() -> str:
    """The text of .env.example: every setting with a comment, grouped by target."""
    lines = ["# ecomctl settings. Precedence: command-line flag > environment > this file > default.",
             "# Copy to .env and fill in what you need; secrets stay out of version control."]
    for group, title in GROUP_TITLES.items():
        lines += ["", f"# --- {title} ---"]
        for s in SETTINGS:
            if s.group != group:
                continue
            lines.append(f"# {s.help}")
            value = s.example if s.kind == "secret" else s.default
            if isinstance(value, bool):
                value = str(value).lower()
            prefix = "# " if s.kind == "secret" or value == "" else ""
            lines.append(f"{prefix}{s.env}={value}")
    return "\n".join(lines) + "\n"
