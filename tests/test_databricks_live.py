"""Live checks against a real Databricks SQL warehouse; skipped unless its settings are present.

Read from the environment when the module is imported (the autouse fixture then hides them from the
rest of the suite). Needs DATABRICKS_WAREHOUSE_ID (or DATABRICKS_HTTP_PATH) and DATABRICKS_HOST with
DATABRICKS_TOKEN, or DATABRICKS_CONFIG_PROFILE; the catalog ECOMCTL_CATALOG must exist.
"""

from __future__ import annotations

import os

import pytest

from ecomctl.config import Settings

LIVE_ENV = {k: v for k, v in os.environ.items() if k.startswith(("DATABRICKS_", "ECOMCTL_"))}
HAS_LIVE = bool((LIVE_ENV.get("DATABRICKS_WAREHOUSE_ID") or LIVE_ENV.get("DATABRICKS_HTTP_PATH"))
                and (LIVE_ENV.get("DATABRICKS_HOST") and LIVE_ENV.get("DATABRICKS_TOKEN")
                     or LIVE_ENV.get("DATABRICKS_CONFIG_PROFILE")))

pytestmark = [pytest.mark.live,
              pytest.mark.skipif(not HAS_LIVE, reason="no Databricks settings in the environment")]


@pytest.fixture
def warehouse(monkeypatch):
    from ecomctl.targets import make_target

    for name, value in LIVE_ENV.items():  # the SDK reads its own variables too
        monkeypatch.setenv(name, value)
    settings = Settings.load({"target": "databricks"}, environ=LIVE_ENV)
    with make_target(settings).warehouse() as live:
        yield live


def test_live_warehouse_runs_a_query(warehouse):
    assert warehouse.query("SELECT 1 AS one").rows == [(1,)]


def test_live_catalog_exists_and_a_missing_table_has_no_rows(warehouse):
    assert warehouse.ensure_catalog(create=False).action == "check catalog"
    assert warehouse.table_rows(f"{warehouse.names.catalog}.{warehouse.names.meta}.no_such_table") is None
