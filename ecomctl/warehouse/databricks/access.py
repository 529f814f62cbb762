"""Where the Databricks workspace and its SQL warehouse are, how to authenticate, and how long to
wait for them: checked from the settings before anything connects."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ecomctl.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    from ecomctl.config import Secret, Settings

# A wrong host must fail in seconds: Config() and every REST call retry for at most this long.
HTTP_TIMEOUT_SECONDS = 10
RETRY_TIMEOUT_SECONDS = 5

_WAREHOUSE_ID = re.compile(r"^[A-Za-z0-9]+$")
_HTTP_PATH = re.compile(r"^/sql/1\.0/(?:endpoints|warehouses)/(?P<id>[A-Za-z0-9]+)/?$")


@dataclass(frozen=True)
class DatabricksAccess:
    """Where the workspace and the warehouse are, and how to authenticate (checked, not connected)."""

    host: str = ""
    token: "Secret | None" = None
    profile: str = ""
    warehouse_id: str = ""
    http_path: str = ""

    @classmethod
    def from_settings(cls, settings: "Settings") -> "DatabricksAccess":
        host = settings.databricks_host.strip().rstrip("/")
        if host and not host.startswith(("https://", "http://")):
            host = "https://" + host
        warehouse_id = settings.databricks_warehouse_id.strip()
        http_path = settings.databricks_http_path.strip()
        if not warehouse_id and not http_path:
            raise ConfigError(settings.origin("databricks_warehouse_id"),
                              "the databricks target needs a SQL warehouse",
                              hint="set DATABRICKS_WAREHOUSE_ID (or DATABRICKS_HTTP_PATH)")
        if warehouse_id and not _WAREHOUSE_ID.match(warehouse_id):
            raise ConfigError(settings.origin("databricks_warehouse_id"),
                              f"{warehouse_id!r} is not a SQL warehouse id (letters and digits)")
        if http_path:
            match = _HTTP_PATH.match(http_path)
            if not match:
                raise ConfigError(settings.origin("databricks_http_path"),
                                  f"{http_path!r} is not a SQL warehouse HTTP path",
                                  hint="copy it from the warehouse's Connection details: "
                                       "/sql/1.0/warehouses/<id>")
            if warehouse_id and match.group("id") != warehouse_id:
                raise ConfigError(settings.origin("databricks_http_path"),
                                  f"names warehouse {match.group('id')}, but DATABRICKS_WAREHOUSE_ID "
                                  f"is {warehouse_id}", hint="set only one of the two")
            warehouse_id = match.group("id")
        return cls(host=host, token=settings.databricks_token or None,
                   profile=settings.databricks_profile.strip(), warehouse_id=warehouse_id,
                   http_path=http_path or f"/sql/1.0/warehouses/{warehouse_id}")

    @property
    def host_label(self) -> str:
        if self.host:
            return self.host
        return f"the host of profile {self.profile}" if self.profile else "the workspace"

