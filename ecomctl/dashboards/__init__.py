"""Dashboards: the ten dashboard queries and five Genie spaces (loaded from sql/dashboards/),
and the local HTML rendering."""
