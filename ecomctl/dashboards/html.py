"""Render dashboard query results as one self-contained HTML page (inline CSS and SVG, no scripts, no network).

Charts are drawn here, server-side, so the page opens anywhere: from a CI artifact, an
e-mail attachment or a laptop without internet access.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from html import escape
from typing import Any

from ecomctl.dashboards.definitions import DashboardQuery
from ecomctl.errors import SqlError

MAX_TABLE_ROWS = 50
MAX_BARS = 25
_LABEL_CHARS = 28


@dataclass
class Panel:
    """One dashboard query with its result."""

    query: DashboardQuery
    columns: list[str]
    rows: list[tuple]


# -- values ------------------------------------------------------------------------------------

def format_value(value: Any, column: str = "") -> str:
    """Text for one cell: thousands separators; `*_rate` (a 0-1 ratio) and `*_pct` columns as percentages."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (int, float, Decimal)):
        if column.endswith("_rate"):
            percent = Decimal(str(value)) * 100
            return f"{percent.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):,}%"
        if column.endswith("_pct"):
            return f"{Decimal(str(value)).quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):,}%"
        if isinstance(value, float):
            return f"{value:,.2f}"
        return f"{value:,}"
    return str(value)


# The header of every column the dashboard queries return, in one place: a table, a chart axis
# and a KPI card say the same (and "VIP rank", "Product ID", not "Vip rank", "Product id").
# tests/test_dashboards.py checks that every column of sql/dashboards/queries has one.
LABELS = {
    "total_orders": "Total orders",
    "revenue_orders": "Revenue orders",
    "net_revenue": "Net revenue",
    "avg_order_value": "Average order value",
    "unique_customers": "Unique customers",
    "units_sold": "Units sold",
    "delivery_rate": "Delivery rate",
    "cancelled_orders": "Cancelled orders",
    "returned_orders": "Returned orders",
    "revenue_rank": "Revenue rank",
    "brand": "Brand",
    "order_count": "Orders",
    "category": "Category",
    "revenue_share_pct": "Revenue share %",
    "location": "Location",
    "city": "City",
    "state": "State",
    "product_id": "Product ID",
    "product_name": "Product",
    "avg_discount_pct": "Average discount %",
    "revenue_per_unit": "Revenue per unit",
    "order_date": "Order date (UTC)",
    "discount_band": "Discount band",
    "gross_sales": "Gross sales",
    "discount_total": "Discounts",
    "effective_discount_pct": "Effective discount %",
    "segment": "Segment",
    "customer_count": "Customers",
    "customer_share_pct": "Customer share %",
    "total_lifetime_value": "Total lifetime value",
    "avg_lifetime_value": "Average lifetime value",
    "vip_rank": "VIP rank",
    "customer_id": "Customer ID",
    "customer_name": "Customer",
    "lifetime_value": "Lifetime value",
    "favorite_brand": "Favorite brand",
    "order_status": "Order status",
    "share_pct": "Share %",
    "is_revenue": "Counts as revenue",
}


def column_label(column: str) -> str:
    """The header of a column: from LABELS, else made from its name (`gross_amount` -> `Gross
    amount`, `x_pct` -> `X %`) for a column a query gained without a label."""
    if column in LABELS:
        return LABELS[column]
    words = column.split("_")
    if words and words[-1] == "pct":
        words[-1] = "%"
    text = " ".join(w for w in words if w)
    text = text.replace("avg ", "average ") if text.startswith("avg ") else text
    return text[:1].upper() + text[1:]


def key_figures(panel: Panel) -> list[tuple[str, str]]:
    """(label, formatted value) for each column of the first row: the KPI cards of a counter query."""
    if not panel.rows:
        return []
    return [(column_label(c), format_value(v, c)) for c, v in zip(panel.columns, panel.rows[0])]


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float, Decimal)):
        return float(value)
    return None


def _short(text: str) -> str:
    return text if len(text) <= _LABEL_CHARS else text[: _LABEL_CHARS - 1] + "…"


def _column_index(panel: Panel, column: str | None, role: str) -> int:
    if column is None or column not in panel.columns:
        raise SqlError(str(panel.query.file), f"the chart's {role} column {column!r} is not in the result",
                       hint="columns: " + ", ".join(panel.columns))
    return panel.columns.index(column)


# -- page --------------------------------------------------------------------------------------

def render_html(panels: list[Panel], *, title: str, generated_at: dt.datetime,
                kpis: list[tuple[str, str]]) -> str:
    """The whole dashboard as one HTML document: KPI cards, then one <section class="panel"> per query."""
    when = generated_at.astimezone(dt.timezone.utc) if generated_at.tzinfo else generated_at
    stamp = when.strftime("%Y-%m-%d %H:%M:%S UTC")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        "<header>",
        f"<h1>{escape(title)}</h1>",
        f'<p class="meta">Generated <time datetime="{escape(when.isoformat())}">{escape(stamp)}</time>'
        f" · {len(panels)} {'query' if len(panels) == 1 else 'queries'}</p>",
        "</header>",
    ]
    if kpis:
        parts.append('<div class="kpis">')
        for label, value in kpis:
            parts.append(f'<div class="kpi"><div class="kpi-value">{escape(value)}</div>'
                         f'<div class="kpi-label">{escape(label)}</div></div>')
        parts.append("</div>")
    parts.append('<main class="panels">')
    parts.extend(_panel(panel, when.date()) for panel in panels)
    parts.append("</main>")
    parts.append("</body>")
    parts.append("</html>")
    return "\n".join(parts) + "\n"


def _panel(panel: Panel, today: dt.date | None = None) -> str:
    query = panel.query
    wide = query.chart in ("table", "counter") or len(panel.columns) > 6
    out = [
        f'<section class="panel{" wide" if wide else ""}" data-query="{escape(query.name)}" '
        f'data-chart="{escape(query.chart)}">',
        f"<h2>{escape(query.title)}</h2>",
        f'<p class="description">{escape(query.description)}</p>',
    ]
    if not panel.rows:
        out.append('<p class="empty">no data</p>')
    elif query.chart == "counter":
        out.append(_counter(panel))
    elif query.chart == "bar":
        out.append(_bar_chart(panel))
        out.append(_table(panel))
    elif query.chart == "line":
        out.append(_line_chart(panel, today))
        out.append(_table(panel))
    else:
        out.append(_table(panel))
    out.append(f"<details><summary>SQL</summary><pre>{escape(query.sql)}</pre></details>")
    out.append("</section>")
    return "\n".join(out)


def _counter(panel: Panel) -> str:
    """The headline column (y) as a big number, every other column of the first row as a smaller tile."""
    row = panel.rows[0]
    headline = panel.query.y
    if headline is not None:
        _column_index(panel, headline, "y")
    order = ([headline] if headline else []) + [c for c in panel.columns if c != headline]
    tiles = []
    for column in order:
        value = row[panel.columns.index(column)]
        css = "tile headline" if column == headline else "tile"
        tiles.append(f'<div class="{css}"><div class="tile-value">{escape(format_value(value, column))}</div>'
                     f'<div class="tile-label">{escape(column_label(column))}</div></div>')
    note = ""
    if len(panel.rows) > 1:
        note = f'<p class="note">Showing the first of {len(panel.rows):,} rows.</p>'
    return f'<div class="tiles">{"".join(tiles)}</div>{note}'


def _table(panel: Panel) -> str:
    shown = panel.rows[:MAX_TABLE_ROWS]
    numeric = [any(_number(row[i]) is not None for row in shown) for i in range(len(panel.columns))]
    head = "".join(
        f'<th{" class=num" if numeric[i] else ""} title="{escape(c)}">{escape(column_label(c))}</th>'
        for i, c in enumerate(panel.columns))
    body = []
    for row in shown:
        cells = "".join(
            f'<td{" class=num" if numeric[i] else ""}>{escape(format_value(v, panel.columns[i]))}</td>'
            for i, v in enumerate(row))
        body.append(f"<tr>{cells}</tr>")
    note = ""
    if len(panel.rows) > MAX_TABLE_ROWS:
        note = f'<p class="note">Showing the first {MAX_TABLE_ROWS} of {len(panel.rows):,} rows.</p>'
    return (f'<div class="table-wrap"><table><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table></div>{note}')


def _bar_chart(panel: Panel) -> str:
    """Horizontal bars, one per row in query order (the query already sorts them)."""
    xi = _column_index(panel, panel.query.x, "x")
    yi = _column_index(panel, panel.query.y, "y")
    rows = panel.rows[:MAX_BARS]
    values = [_number(row[yi]) for row in rows]
    top = max([v for v in values if v is not None and v > 0], default=0.0)

    width, label_w, value_w, bar_h, gap = 640, 190, 110, 20, 6
    area = width - label_w - value_w
    height = len(rows) * (bar_h + gap) + gap
    y_label = escape(column_label(panel.query.y or ""))
    out = [f'<svg class="chart bar" viewBox="0 0 {width} {height}" width="100%" role="img" '
           f'aria-label="{escape(panel.query.title)}: {y_label} by {escape(column_label(panel.query.x or ""))}">']
    for n, (row, value) in enumerate(zip(rows, values)):
        y = gap + n * (bar_h + gap)
        label = format_value(row[xi], panel.query.x or "")
        shown = format_value(row[yi], panel.query.y or "")
        bar = 0.0 if value is None or value <= 0 or top == 0 else max(area * value / top, 1.0)
        out.append(
            f'<g><title>{escape(label)}: {escape(shown)}</title>'
            f'<text class="label" x="{label_w - 8}" y="{y + bar_h / 2:.1f}" text-anchor="end" '
            f'dominant-baseline="central">{escape(_short(label))}</text>'
            f'<rect x="{label_w}" y="{y}" width="{bar:.1f}" height="{bar_h}" rx="3"></rect>'
            f'<text class="value" x="{label_w + bar + 6:.1f}" y="{y + bar_h / 2:.1f}" '
            f'dominant-baseline="central">{escape(shown)}</text></g>')
    out.append("</svg>")
    if len(panel.rows) > MAX_BARS:
        out.append(f'<p class="note">Chart shows the first {MAX_BARS} of {len(panel.rows):,} rows.</p>')
    return "".join(out)


def _line_chart(panel: Panel, today: dt.date | None = None) -> str:
    """One line of y over x; dates are spaced by time, anything else evenly in query order.

    Both axes get a few ticks at round values (gridlines on y). When x is a date and the last
    point is `today` (UTC, the day the page is written), that day is not over: its point is
    drawn hollow, joined by a dashed segment and labelled, so the line does not seem to fall
    off a cliff on the last day."""
    xi = _column_index(panel, panel.query.x, "x")
    yi = _column_index(panel, panel.query.y, "y")
    # (x, y as float, y as returned) for every row with a numeric y
    points = [(row[xi], _number(row[yi]), row[yi]) for row in panel.rows if _number(row[yi]) is not None]
    if not points:
        return '<p class="empty">no data</p>'

    width, height = 640, 250
    left, right, top_m, bottom = 64, 24, 20, 38
    plot_w, plot_h = width - left - right, height - top_m - bottom
    ys = [y for _, y, _ in points]
    y_ticks = nice_ticks(min(0.0, min(ys)), max(ys))
    y_min, y_max = y_ticks[0], y_ticks[-1]
    y_span = (y_max - y_min) or 1.0

    xs = [x for x, _, _ in points]
    dated = all(isinstance(x, (dt.date, dt.datetime)) for x in xs)
    if dated and len(xs) > 1:
        stamps = [_timestamp(x) for x in xs]
        lo, hi = min(stamps), max(stamps)
        fractions = [(s - lo) / ((hi - lo) or 1.0) for s in stamps]
    else:
        fractions = [n / (len(xs) - 1) if len(xs) > 1 else 0.5 for n in range(len(xs))]
    partial = dated and today is not None and _day(xs[-1]) >= today

    def y_at(value: float) -> float:
        return top_m + plot_h - (value - y_min) / y_span * plot_h

    coords = [(left + f * plot_w, y_at(y)) for f, (_, y, _) in zip(fractions, points)]
    y_col, x_col = panel.query.y or "", panel.query.x or ""
    base = top_m + plot_h
    marked = f' data-partial-day="{_day(xs[-1]).isoformat()}"' if partial else ""
    out = [f'<svg class="chart line" viewBox="0 0 {width} {height}" width="100%" role="img" '
           f'aria-label="{escape(panel.query.title)}: {escape(column_label(y_col))} by '
           f'{escape(column_label(x_col))}"{marked}>']
    step = y_ticks[1] - y_ticks[0] if len(y_ticks) > 1 else 1.0
    for tick in y_ticks:
        y = y_at(tick)
        out.append(f'<line class="grid" x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}"></line>'
                   f'<text class="tick y-tick" x="{left - 6}" y="{y:.1f}" text-anchor="end" '
                   f'dominant-baseline="central">{escape(axis_number(tick, step, y_max, y_col))}</text>')
    out.append(f'<line class="axis" x1="{left}" y1="{base}" x2="{left + plot_w}" y2="{base}"></line>')
    for fraction, label in _x_ticks(xs, fractions, dated, x_col):
        x = left + fraction * plot_w
        anchor = "start" if fraction < 0.05 else "end" if fraction > 0.95 else "middle"
        out.append(f'<line class="axis" x1="{x:.1f}" y1="{base}" x2="{x:.1f}" y2="{base + 4}"></line>'
                   f'<text class="tick x-tick" x="{x:.1f}" y="{height - 12}" text-anchor="{anchor}">'
                   f'{escape(label)}</text>')
    solid = coords[:-1] if partial else coords
    if len(solid) > 1 or not partial:
        out.append('<polyline points="' + " ".join(f"{x:.1f},{y:.1f}" for x, y in solid) + '"></polyline>')
    if partial and len(coords) > 1:
        (x1, y1), (x2, y2) = coords[-2], coords[-1]
        out.append(f'<line class="partial" x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}"></line>')
    for n, ((cx, cy), (x, _, row_value)) in enumerate(zip(coords, points)):
        today_point = partial and n == len(points) - 1
        note = " (today, not over yet)" if today_point else ""
        css = ' class="partial"' if today_point else ""
        out.append(f'<circle{css} cx="{cx:.1f}" cy="{cy:.1f}" r="3"><title>{escape(format_value(x, x_col))}: '
                   f'{escape(format_value(row_value, y_col))}{note}</title></circle>')
    if partial:
        cx, cy = coords[-1]
        out.append(f'<text class="partial-label" x="{cx - 6:.1f}" y="{max(cy - 10, 10):.1f}" '
                   'text-anchor="end">today (partial)</text>')
    out.append("</svg>")
    if partial:
        out.append(f'<p class="note">{escape(_day(xs[-1]).isoformat())} is today (UTC): that day is '
                   "not over, so its point is partial and drawn hollow, after a dashed line.</p>")
    return "".join(out)


def nice_ticks(low: float, high: float, most: int = 6) -> list[float]:
    """Round tick values from at or below `low` to at or above `high`: steps of 1, 2, 2.5 or 5
    times a power of ten, at most `most` ticks."""
    if high <= low:
        high = low + 1.0
    raw = (high - low) / (most - 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.floor(low / step + 1e-9) * step
    last = math.ceil(high / step - 1e-9) * step
    count = int(round((last - first) / step))
    return [round(first + n * step, 10) for n in range(count + 1)]


def axis_number(value: float, step: float, top: float, column: str = "") -> str:
    """A tick label: `2,500`, `12.5k`, `1.2M`, `85%` for a `*_rate`, `12.5%` for a `*_pct`."""
    if value == 0:
        return "0"
    if column.endswith("_rate"):
        return f"{value * 100:,.{_decimals(step * 100)}f}%"
    if column.endswith("_pct"):
        return f"{value:,.{_decimals(step)}f}%"
    for scale, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(top) >= 10 * scale:
            return f"{value / scale:,.{_decimals(step / scale)}f}{suffix}"
    return f"{value:,.{_decimals(step)}f}"


def _decimals(step: float) -> int:
    """The decimals a tick step needs (0 to 3): 2.5 needs one, 0.25 two."""
    for decimals in range(4):
        if abs(round(step, decimals) - step) < 1e-9 * max(1.0, abs(step)):
            return decimals
    return 3


def _x_ticks(xs: list, fractions: list[float], dated: bool, column: str,
             most: int = 6) -> list[tuple[float, str]]:
    """(position 0-1, label) of a few x ticks: dates every 1, 2, 7, 14 or 28 days from the
    first, labelled `Nov 3` (the first with its year); other values, evenly picked."""
    if dated and len(xs) > 1:
        first, last = _day(xs[0]), _day(xs[-1])
        days = (last - first).days or 1
        every = next((d for d in (1, 2, 7, 14, 28) if days / d <= most - 1), math.ceil(days / (most - 1)))
        ticks = []
        for n in range(0, days + 1, every):
            day = first + dt.timedelta(days=n)
            label = f"{day:%b} {day.day}" + (f", {day.year}" if n == 0 else "")
            ticks.append((n / days, label))
        return ticks
    if len(xs) == 1:
        return [(0.5, format_value(xs[0], column))]
    every = max(1, math.ceil((len(xs) - 1) / (most - 1)))
    return [(fractions[n], _short(format_value(xs[n], column))) for n in range(0, len(xs), every)]


def _day(value: dt.date | dt.datetime) -> dt.date:
    if isinstance(value, dt.datetime):
        return (value.astimezone(dt.timezone.utc) if value.tzinfo else value).date()
    return value


def _timestamp(value: dt.date | dt.datetime) -> float:
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=value.tzinfo or dt.timezone.utc).timestamp()
    return float(value.toordinal() * 86400)


_CSS = """
:root { --ink: #1f2933; --muted: #616e7c; --line: #e4e7eb; --accent: #2f6fde; --bg: #f5f7fa; }
* { box-sizing: border-box; }
body { margin: 0; padding: 24px; background: var(--bg); color: var(--ink);
  font: 14px/1.45 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
header h1 { margin: 0 0 4px; font-size: 24px; }
.meta { margin: 0 0 20px; color: var(--muted); }
.kpis { display: grid; grid-template-columns: repeat(auto-fill, minmax(170px, 1fr)); gap: 12px; margin-bottom: 20px; }
.kpi, .panel { background: #fff; border: 1px solid var(--line); border-radius: 8px; }
.kpi { padding: 14px 16px; }
.kpi-value { font-size: 24px; font-weight: 600; font-variant-numeric: tabular-nums; }
.kpi-label, .tile-label { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
.panels { display: grid; grid-template-columns: repeat(auto-fit, minmax(480px, 1fr)); gap: 16px; }
.panel { padding: 16px 18px; min-width: 0; }
.panel.wide { grid-column: 1 / -1; }
.panel h2 { margin: 0 0 2px; font-size: 17px; }
.description { margin: 0 0 12px; color: var(--muted); }
.empty { padding: 24px; text-align: center; color: var(--muted); font-style: italic; }
.note { color: var(--muted); font-size: 12px; margin: 6px 0 0; }
.tiles { display: flex; flex-wrap: wrap; gap: 12px; }
.tile { flex: 1 1 150px; padding: 10px 12px; border: 1px solid var(--line); border-radius: 6px; }
.tile-value { font-size: 20px; font-weight: 600; font-variant-numeric: tabular-nums; }
.tile.headline .tile-value { font-size: 32px; color: var(--accent); }
svg.chart { display: block; margin: 4px 0 12px; max-width: 720px; }
svg.chart text { font-size: 12px; fill: var(--ink); }
svg.chart text.tick { fill: var(--muted); font-size: 11px; }
svg.bar rect { fill: var(--accent); }
svg.line polyline { fill: none; stroke: var(--accent); stroke-width: 2; }
svg.line circle { fill: var(--accent); }
svg.line .axis { stroke: var(--muted); stroke-width: 1; }
svg.line .grid { stroke: var(--line); stroke-width: 1; }
svg.line line.partial { stroke: var(--accent); stroke-width: 2; stroke-dasharray: 5 4; }
svg.line circle.partial { fill: #fff; stroke: var(--accent); stroke-width: 2; }
svg.chart text.partial-label { fill: var(--muted); font-size: 11px; font-style: italic; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { padding: 5px 8px; border-bottom: 1px solid var(--line); text-align: left; white-space: nowrap; }
th { font-size: 12px; color: var(--muted); font-weight: 600; white-space: normal; vertical-align: bottom; }
.num { text-align: right; }
details { margin-top: 10px; color: var(--muted); }
pre { background: var(--bg); padding: 10px; border-radius: 6px; overflow-x: auto; font-size: 12px; }
"""
