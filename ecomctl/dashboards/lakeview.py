"""The AI/BI (Lakeview) dashboard as the JSON its API stores in `serialized_dashboard`.

One dataset per dashboard query (the query's SQL with the configured names), a counter per
column of a counter query, bar and line charts, tables; laid out on the dashboard's 6-column grid.
The shape follows dashboards the Lakeview API has accepted (docs/databricks-dashboards.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from ecomctl.dashboards.definitions import DashboardQuery
from ecomctl.errors import SqlError
from ecomctl.warehouse.sqlfiles import relative_name
from ecomctl.warehouse.sqlfiles import render

GRID_COLUMNS = 6
# (width, height) of each kind of widget: three counters or two charts to a row, tables full width.
SIZES = {"text": (6, 2), "counter": (2, 2), "bar": (3, 6), "line": (3, 6), "table": (6, 7)}
# The widget spec version the Lakeview API expects for each widget type.
SPEC_VERSIONS = {"counter": 2, "bar": 3, "line": 3, "table": 1}
PAGE_NAME = "overview"


@dataclass(frozen=True)
class RenderedQuery:
    """A dashboard query with its names substituted and the columns its SELECT returns."""

    query: DashboardQuery
    file: str       # as in messages: dashboards/queries/01_total_kpis.sql
    sql: str        # exactly what Databricks receives
    columns: list[str]

    @property
    def name(self) -> str:
        return self.query.name


def render_queries(queries: Sequence[DashboardQuery], names: dict[str, str], root: Path) -> list[RenderedQuery]:
    """Substitute the names into each query and read its output columns; a chart's x or y
    that the SELECT does not return is an error naming the file."""
    rendered = []
    for query in queries:
        file = relative_name(query.file, root)
        sql = render(query.sql, names, file)
        columns = output_columns(sql, file)
        for axis in ("x", "y"):
            column = getattr(query, axis)
            if column is not None and column not in columns:
                raise SqlError(file, f"header '-- {axis}: {column}' names a column the query does not return",
                               hint="columns: " + ", ".join(columns))
        rendered.append(RenderedQuery(query=query, file=file, sql=sql, columns=columns))
    return rendered


def output_columns(sql: str, file: str) -> list[str]:
    """The names of the columns a single Databricks SELECT returns, in order (parsed with sqlglot)."""
    import sqlglot
    from sqlglot import exp

    try:
        statements = [s for s in sqlglot.parse(sql, read="databricks") if s is not None]
    except sqlglot.errors.ParseError as exc:
        raise SqlError(file, f"does not parse as Databricks SQL: {exc}") from None
    if len(statements) != 1 or not isinstance(statements[0], exp.Query):
        raise SqlError(file, "a dashboard query must be exactly one SELECT")
    query = statements[0]
    columns: list[str] = []
    for projection in query.selects:
        if isinstance(projection, exp.Star) or (isinstance(projection, exp.Column) and projection.is_star):
            raise SqlError(file, "list the columns instead of '*': the dashboard's widgets name them")
        name = projection.alias_or_name
        if not name:
            raise SqlError(file, f"give the expression {projection.sql(dialect='databricks')[:60]!r} a name with AS")
        if name in columns:
            raise SqlError(file, f"column {name!r} is returned twice")
        columns.append(name)
    return columns


def build_serialized_dashboard(queries: Sequence[RenderedQuery], *, title: str) -> dict[str, Any]:
    """The dashboard JSON: datasets in file order and one page of widgets."""
    datasets = [{"name": q.name, "displayName": q.query.title, "queryLines": q.sql.splitlines(keepends=True)}
                for q in queries]
    counters: list[tuple[str, dict[str, Any]]] = []
    charts: list[tuple[str, dict[str, Any]]] = []
    tables: list[tuple[str, dict[str, Any]]] = []
    for rendered in queries:
        chart = rendered.query.chart
        if chart == "counter":
            headline = rendered.query.y
            ordered = ([headline] if headline else []) + [c for c in rendered.columns if c != headline]
            counters += [("counter", _counter_widget(rendered, column)) for column in ordered]
        elif chart in ("bar", "line"):
            charts.append((chart, _chart_widget(rendered, chart)))
        else:
            tables.append(("table", _table_widget(rendered)))
    # Key figures first, then the charts two to a row, then the full-width tables: no holes in the grid.
    title_widget = ("text", _text_widget("title", [f"# {title}\n", _summary(queries)]))
    widgets = [title_widget] + counters + charts + tables
    return {"datasets": datasets,
            "pages": [{"name": PAGE_NAME, "displayName": "Overview", "layout": _lay_out(widgets)}]}


# -- widgets -----------------------------------------------------------------------------------

def _text_widget(name: str, lines: list[str]) -> dict[str, Any]:
    return {"name": name, "multilineTextboxSpec": {"lines": lines}}


def _summary(queries: Sequence[RenderedQuery]) -> str:
    return ("Built by ecomctl from sql/dashboards/queries: "
            + ", ".join(q.query.title for q in queries) + ". Revenue counts placed, shipped and delivered orders.")


def _query(rendered: RenderedQuery, columns: Sequence[str]) -> list[dict[str, Any]]:
    # The dataset already returns the rows to show, so widgets read its columns as they are.
    return [{"name": "main_query",
             "query": {"datasetName": rendered.name,
                       "fields": [{"name": c, "expression": f"`{c}`"} for c in columns],
                       "disaggregated": True}}]


def _frame(title: str, description: str | None = None) -> dict[str, Any]:
    frame: dict[str, Any] = {"showTitle": True, "title": title}
    if description:
        frame.update(showDescription=True, description=description)
    return frame


def _counter_widget(rendered: RenderedQuery, column: str) -> dict[str, Any]:
    label = label_for(column)
    return {"name": f"{rendered.name}_{column}",
            "queries": _query(rendered, [column]),
            "spec": {"version": SPEC_VERSIONS["counter"], "widgetType": "counter",
                     "encodings": {"value": {"fieldName": column, "displayName": label}},
                     "frame": _frame(label)}}


def _chart_widget(rendered: RenderedQuery, chart: str) -> dict[str, Any]:
    query = rendered.query
    assert query.x is not None and query.y is not None  # definitions require both for bar and line
    # Bars keep the query's order (ranked, or bands in their natural order); lines run over dates.
    x_scale = {"type": "temporal"} if chart == "line" else {"type": "categorical", "sort": {"by": "natural-order"}}
    return {"name": f"{rendered.name}_{chart}",
            "queries": _query(rendered, [query.x, query.y]),
            "spec": {"version": SPEC_VERSIONS[chart], "widgetType": chart,
                     "encodings": {"x": {"fieldName": query.x, "scale": x_scale, "displayName": label_for(query.x)},
                                   "y": {"fieldName": query.y, "scale": {"type": "quantitative"},
                                         "displayName": label_for(query.y)}},
                     "frame": _frame(query.title, query.description)}}


def _table_widget(rendered: RenderedQuery) -> dict[str, Any]:
    columns = [{"fieldName": c, "displayName": label_for(c), "title": label_for(c), "type": "string",
                "displayAs": "string", "booleanValues": ["false", "true"], "order": 100000 + i, "visible": True}
               for i, c in enumerate(rendered.columns)]
    return {"name": f"{rendered.name}_table",
            "queries": _query(rendered, rendered.columns),
            "spec": {"version": SPEC_VERSIONS["table"], "widgetType": "table",
                     "encodings": {"columns": columns},
                     "allowHTMLByDefault": False, "condensed": True, "invisibleColumns": [], "itemsPerPage": 25,
                     "frame": _frame(rendered.query.title, rendered.query.description)}}


def label_for(column: str) -> str:
    """net_revenue -> Net revenue."""
    text = column.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def _lay_out(widgets: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """Fill rows left to right; a widget that does not fit starts a new row below the tallest so far."""
    layout = []
    x = y = row_height = 0
    for kind, widget in widgets:
        width, height = SIZES[kind]
        if x + width > GRID_COLUMNS:
            x, y, row_height = 0, y + row_height, 0
        layout.append({"widget": widget, "position": {"x": x, "y": y, "width": width, "height": height}})
        x += width
        row_height = max(row_height, height)
    return layout


