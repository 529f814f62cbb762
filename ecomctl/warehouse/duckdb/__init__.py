"""The local target's warehouse: the Databricks SQL files on a DuckDB file.

warehouse.py: DuckDBWarehouse, the Warehouse interface over a session;
session.py: the live session (the DuckDB file) and the planned one (a dry run);
copy_into.py: COPY INTO from the Volume path, over the local landing folder;
errors.py: what a refused statement or a failing engine says;
sqltext.py: the SQL the adapter writes itself (quoting, bookkeeping time).
"""

from ecomctl.warehouse.duckdb.warehouse import DuckDBWarehouse

__all__ = ["DuckDBWarehouse"]
