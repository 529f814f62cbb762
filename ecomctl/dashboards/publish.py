"""Publishing dashboards on a warehouse without a dashboard service: run every query and
every Genie example, render the HTML dashboard, and return the key figures."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from ecomctl.errors import EcomctlError, SqlError
from ecomctl.results import ObjectResult, StepResult, utc_now

if TYPE_CHECKING:
    from ecomctl.pipeline import Pipeline

KPI_QUERY = "total_kpis"


def publish_local(pipeline: "Pipeline", step: StepResult) -> None:
    from ecomctl.dashboards.definitions import load_genie_spaces, load_queries
    from ecomctl.dashboards.html import Panel, render_html

    warehouse = pipeline.warehouse
    queries = load_queries(pipeline.sql_root)
    panels = []
    for query in queries:
        started = time.perf_counter()
        result = warehouse.query(query.sql, file=_relative(query.file, pipeline.sql_root))
        panels.append(Panel(query=query, columns=result.columns, rows=result.rows))
        step.objects.append(ObjectResult(f"query {query.name}", "run", len(result.rows),
                                         time.perf_counter() - started))

    examples = 0
    for space in load_genie_spaces(pipeline.sql_root):
        started = time.perf_counter()
        for question in space.questions:
            try:
                warehouse.query(question.sql, file=_relative(space.file, pipeline.sql_root))
            except SqlError as exc:
                raise SqlError(_relative(space.file, pipeline.sql_root),
                               f"example SQL for {question.question!r} failed: {exc}") from exc
            examples += 1
        step.objects.append(ObjectResult(f"genie space {space.name}", "examples run",
                                         len(space.questions), time.perf_counter() - started))

    out_dir = pipeline.settings.dashboards_dir
    if pipeline.plan is not None:  # a dry run: the queries above were recorded, nothing is written
        pipeline.plan.add("write", f"{out_dir / 'index.html'}: the HTML dashboard of the ten queries")
        step.details.update(queries=len(panels), genie_examples=examples)
        return
    kpis = _key_figures(panels)
    html = render_html(panels, title="ecomctl: e-commerce dashboard", generated_at=utc_now(), kpis=kpis)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "index.html"
    path.write_text(html, encoding="utf-8")
    step.objects.append(ObjectResult(str(path), "write", len(panels), 0.0))
    step.details.update(dashboard=str(path), queries=len(panels), genie_examples=examples,
                        key_figures=dict(kpis))
    step.tables["key figures"] = (["figure", "value"], [list(k) for k in kpis])
    for title, query, label in TERMINAL_CHARTS:
        _top_rows(step, panels, title, query, label, pipeline.sql_root)


# The terminal's bar charts: (title, dashboard query, label column); bars show net revenue.
TERMINAL_CHARTS = [
    ("top brands by net revenue", "revenue_by_brand", "brand"),
    ("top cities by net revenue", "revenue_by_location", "location"),
]
TOP_ROWS = 5


def _top_rows(step: StepResult, panels, title: str, query: str, label: str, sql_root) -> None:
    """The first rows of a ranked query (label, net revenue, orders) as a table the console draws as bars."""
    panel = next((p for p in panels if p.query.name == query), None)
    if panel is None or not panel.rows:
        return
    index = {column: n for n, column in enumerate(panel.columns)}
    missing = [c for c in (label, "net_revenue", "order_count") if c not in index]
    if missing:
        raise SqlError(_relative(panel.query.file, sql_root), f"the terminal chart {title!r} needs the column(s) "
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


def _relative(path, root) -> str:
    """File names in messages read as in the repository: dashboards/queries/01_total_kpis.sql."""
    from pathlib import Path

    try:
        return Path(path).resolve().relative_to(Path(root).resolve()).as_posix()
    except ValueError:
        return str(path)
