"""The SQL side: SQL files, the Databricks-to-DuckDB dialect layer, warehouse adapters, migrations."""
