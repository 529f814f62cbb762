"""Publishing dashboards on a warehouse without a dashboard service: run every query and
every Genie example, render the HTML dashboard, and return the key figures.

`show_summary` is what the terminal shows after `dashboards` on every target: the key figures and
the top brands and cities as bar charts. On a warehouse with a dashboard service,
`summary_panels` runs just the queries it needs, after publishing."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from ecomctl.errors import EcomctlError, SqlError
from ecomctl.results import ObjectResult, StepResult, utc_now
from ecomctl.warehouse.sqlfiles import relative_name

if TYPE_CHECKING:  # pragma: no cover
    from ecomctl.plan import Plan
    from ecomctl.warehouse.base import Warehouse

KPI_QUERY = "total_kpis"


class HtmlDashboard:
    """The dashboard publisher of a warehouse without a dashboard service: runs every query and
    every Genie example on the warehouse, then writes the HTML dashboard and shows the key figures."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir

    def publish(self, step: StepResult, warehouse: "Warehouse", sql_root: Path) -> None:
        from ecomctl.dashboards.definitions import load_genie_spaces, load_queries

        panels = run_queries(warehouse, sql_root, step, load_queries(sql_root))
        examples = 0
        for space in load_genie_spaces(sql_root):
            started = time.perf_counter()
            for question in space.questions:
                try:
                    warehouse.query(question.sql, file=relative_name(space.file, sql_root))
                except SqlError as exc:
                    raise SqlError(relative_name(space.file, sql_root),
                                   f"example SQL for {question.question!r} failed: {exc}") from exc
                examples += 1
            step.objects.append(ObjectResult(f"genie space {space.name}", "examples run",
                                             len(space.questions), time.perf_counter() - started))
        self.write(step, panels, sql_root)
        step.details.update(queries=len(panels), genie_examples=examples)

    def write(self, step: StepResult, panels: list, sql_root: Path) -> None:
        from ecomctl.dashboards.html import render_html

        kpis = show_summary(step, panels, sql_root)
        html = render_html(panels, title="ecomctl: e-commerce dashboard", generated_at=utc_now(), kpis=kpis)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        path = self.out_dir / "index.html"
        path.write_text(html, encoding="utf-8")
        step.objects.append(ObjectResult(str(path), "write", len(panels), 0.0))
        step.details["dashboard"] = str(path)


class PlannedHtmlDashboard(HtmlDashboard):
    """In a plan the queries are recorded by the warehouse and the file is not written."""

    def __init__(self, out_dir: Path, plan: "Plan") -> None:
        super().__init__(out_dir)
        self.plan = plan

    def write(self, step: StepResult, panels: list, sql_root: Path) -> None:
        self.plan.add("write", f"{self.out_dir / 'index.html'}: the HTML dashboard of the ten queries")


# The terminal's bar charts: (title, dashboard query, label column); bars show net revenue.
TERMINAL_CHARTS = [
    ("top brands by net revenue", "revenue_by_brand", "brand"),
    ("top cities by net revenue", "revenue_by_location", "location"),
]
TOP_ROWS = 5
# The dashboard queries the summary reads: the key figures, then one per bar chart.
SUMMARY_QUERIES = (KPI_QUERY, *(query for _, query, _ in TERMINAL_CHARTS))


def summary_panels(warehouse: "Warehouse", sql_root: Path, step: StepResult) -> list:
    """Run the key-figure and chart queries on the warehouse (three small aggregates over gold
    and silver): what `dashboards` shows in the terminal on a warehouse that publishes itself."""
    from ecomctl.dashboards.definitions import load_queries

    queries = [q for q in load_queries(sql_root) if q.name in SUMMARY_QUERIES]
    missing = [name for name in SUMMARY_QUERIES if name not in {q.name for q in queries}]
    if missing:
        raise EcomctlError(f"dashboard query {missing[0]} is missing from sql/dashboards/queries")
    return run_queries(warehouse, sql_root, step, queries)


def show_summary(step: StepResult, panels, sql_root) -> list[tuple[str, str]]:
    """Put the key figures (details and a table) and the top-rows bar charts on the step; returns
    the key figures as (label, formatted value)."""
    kpis = _key_figures(panels)
    step.details["key_figures"] = dict(kpis)
    step.tables["key figures"] = (["figure", "value"], [list(k) for k in kpis])
    for title, query, label in TERMINAL_CHARTS:
        _top_rows(step, panels, title, query, label, sql_root)
    return kpis


def run_queries(warehouse: "Warehouse", sql_root: Path, step: StepResult, queries) -> list:
    from ecomctl.dashboards.html import Panel

    panels = []
    for query in queries:
        started = time.perf_counter()
        result = warehouse.query(query.sql, file=relative_name(query.file, sql_root))
        panels.append(Panel(query=query, columns=result.columns, rows=result.rows))
        step.objects.append(ObjectResult(f"query {query.name}", "run", len(result.rows),
                                         time.perf_counter() - started))
    return panels


def _top_rows(step: StepResult, panels, title: str, query: str, label: str, sql_root) -> None:
    """The first rows of a ranked query (label, net revenue, orders) as a table the console draws as bars."""
    panel = next((p for p in panels if p.query.name == query), None)
    if panel is None or not panel.rows:
        return
    index = {column: n for n, column in enumerate(panel.columns)}
    missing = [c for c in (label, "net_revenue", "order_count") if c not in index]
    if missing:
        raise SqlError(relative_name(panel.query.file, sql_root), f"the terminal chart {title!r} needs the column(s) "
                       f"{', '.join(missing)}", hint="columns: " + ", ".join(panel.columns))
    rows = [[row[index[label]], row[index["net_revenue"]], row[index["order_count"]]]
            for row in panel.rows[:TOP_ROWS]]
    step.tables[title] = ([label, "net_revenue", "order_count"], rows)
    step.charts[title] = "net_revenue"


def _key_figures(panels) -> list[tuple[str, str]]:
    from ecomctl.dashboards.html import key_figures

    kpi = next((p for p in panels if p.query.name == KPI_QUERY), None)
    if kpi is None:
        raise EcomctlError(f"dashboard query {KPI_QUERY} is missing from sql/dashboards/queries")
    return key_figures(kpi)
