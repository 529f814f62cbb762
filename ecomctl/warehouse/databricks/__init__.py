"""The databricks target's warehouse: the SQL files on a Databricks SQL warehouse.

access.py: where the workspace and the warehouse are, and how to authenticate (from the settings);
session.py: the live session (REST API and SQL connector) and the planned one (a dry run);
errors.py: what a failure of the connector or the REST API means (retry, reconnect, give up);
warehouse.py: DatabricksWarehouse, the Warehouse interface over a session;
views.py: the materialized views, refreshed while their definition is unchanged.
"""

from ecomctl.warehouse.databricks.access import DatabricksAccess
from ecomctl.warehouse.databricks.warehouse import DatabricksWarehouse

__all__ = ["DatabricksAccess", "DatabricksWarehouse"]
