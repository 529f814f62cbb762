"""Dashboard queries, Genie spaces and the HTML dashboard: the repository's files load, parse as Databricks SQL, and render."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from pathlib import Path

import pytest
import sqlglot
from sqlglot import exp

from ecomctl.dashboards.definitions import (
    CHART_TYPES,
    DashboardQuery,
    load_genie_spaces,
    load_queries,
)
from ecomctl.dashboards.html import (LABELS, MAX_TABLE_ROWS, Panel, axis_number, format_value, key_figures,
                                     nice_ticks, render_html)
from ecomctl.errors import EcomctlError, SqlError

SQL_ROOT = Path(__file__).resolve().parents[1] / "sql"
NAMES = {"catalog": "ecommerce", "bronze": "bronze", "silver": "silver", "gold": "gold"}

EXPECTED_QUERIES = [
    "total_kpis", "revenue_by_brand", "revenue_by_category", "revenue_by_location", "top_products",
    "daily_revenue_trend", "discount_impact", "customer_segments", "vip_customers", "order_status",
]
EXPECTED_SPACES = ["sales", "products", "customers", "locations_operations", "executive_overview"]

# Every table and view the dashboards may read (docs/tables.md).
KNOWN_TABLES = {
    "silver.order_details",
    "gold.sales_by_brand_category", "gold.location_performance", "gold.product_performance",
    "gold.customer_insights", "gold.mv_top_brands", "gold.mv_category_summary", "gold.mv_location_ranking",
    "gold.mv_product_ranking", "gold.mv_customer_segments", "gold.mv_vip_customers",
    "gold.mv_brand_location_matrix", "gold.mv_discount_analysis",
}


def substitute(text: str) -> str:
    """Strict, like the SQL runner: an unknown placeholder is a KeyError."""
    return re.sub(r"\$\{(\w+)\}", lambda m: NAMES[m[1]], text)


def parse(text: str) -> exp.Expression:
    substituted = substitute(text)
    assert "${" not in substituted
    return sqlglot.parse_one(substituted, read="databricks")


def tables_read(tree: exp.Expression) -> set[str]:
    """schema.table of every table read, CTE names excluded; every one must carry the catalog."""
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    names = set()
    for table in tree.find_all(exp.Table):
        if not table.name or (not table.db and table.name.lower() in ctes):
            continue
        assert table.catalog == "ecommerce", f"{table.sql()} is not fully qualified"
        names.add(f"{table.db}.{table.name}".lower())
    return names


QUERIES = load_queries(SQL_ROOT)
SPACES = load_genie_spaces(SQL_ROOT)


# -- the repository's files ----------------------------------------------------------------------

def test_the_ten_dashboard_queries_load_in_order():
    assert [q.name for q in QUERIES] == EXPECTED_QUERIES
    assert [q.file.name[:2] for q in QUERIES] == [f"{n:02d}" for n in range(1, 11)]
    for query in QUERIES:
        assert query.chart in CHART_TYPES
        assert query.title and query.description
        assert not query.sql.rstrip().endswith(";")
        if query.chart in ("bar", "line"):
            assert query.x and query.y


@pytest.mark.parametrize("query", QUERIES, ids=[q.name for q in QUERIES])
def test_dashboard_query_is_one_ordered_select_on_known_tables(query: DashboardQuery):
    tree = parse(query.sql)
    assert isinstance(tree, exp.Select)
    assert tree.args.get("order") is not None, "every dashboard query needs a deterministic ORDER BY"
    assert tables_read(tree) and tables_read(tree) <= KNOWN_TABLES
    for column in (query.x, query.y):
        if column is not None:
            assert column in tree.named_selects, f"header names {column!r}, not an output column"
    # Strict substitution: nothing but the placeholders may use "${".
    assert set(re.findall(r"\$\{(\w+)\}", query.sql)) <= {"catalog", "silver", "gold"}
    assert query.sql.count("${") == len(re.findall(r"\$\{\w+\}", query.sql))


def test_the_five_genie_spaces_load():
    assert [s.name for s in SPACES] == EXPECTED_SPACES
    for space in SPACES:
        assert space.title and space.description and space.instructions
        assert len(space.questions) >= 3
        assert len({q.question for q in space.questions}) == len(space.questions)
        for table in space.tables:
            assert re.fullmatch(r"\$\{catalog\}\.\$\{(silver|gold)\}\.\w+", table), table
            assert substitute(table).split(".", 1)[1] in KNOWN_TABLES


@pytest.mark.parametrize(
    ("space", "number"),
    [(s, n) for s in SPACES for n in range(len(s.questions))],
    ids=[f"{s.name}-{n + 1}" for s in SPACES for n in range(len(s.questions))],
)
def test_genie_example_sql_parses_and_reads_only_the_space_tables(space, number):
    question = space.questions[number]
    tree = parse(question.sql)
    assert isinstance(tree, exp.Query)
    declared = {substitute(t).split(".", 1)[1] for t in space.tables}
    assert tables_read(tree) <= declared, f"{question.question!r} reads a table the space does not list"


# -- loader errors -------------------------------------------------------------------------------

GOOD_QUERY = """-- title: Revenue by brand
-- description: Net revenue per brand.
-- chart: bar
-- x: brand
-- y: net_revenue
SELECT brand, net_revenue FROM ${catalog}.${gold}.mv_top_brands ORDER BY net_revenue DESC, brand;
"""

GOOD_SPACE = '''title = "Sales"
description = "Sales by brand."
tables = ["${catalog}.${gold}.mv_top_brands"]
instructions = """
Revenue means net revenue.
"""

[[questions]]
question = "Top brand?"
sql = """
SELECT brand FROM ${catalog}.${gold}.mv_top_brands ORDER BY revenue_rank, brand LIMIT 1
"""
'''


def write_query(root: Path, text: str, name: str = "01_revenue_by_brand.sql") -> Path:
    folder = root / "dashboards" / "queries"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def write_space(root: Path, text: str, name: str = "01_sales.toml") -> Path:
    folder = root / "dashboards" / "genie"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_well_formed_query_file_loads(tmp_path):
    write_query(tmp_path, GOOD_QUERY)
    [query] = load_queries(tmp_path)
    assert (query.name, query.chart, query.x, query.y) == ("revenue_by_brand", "bar", "brand", "net_revenue")
    assert query.sql.startswith("SELECT brand") and not query.sql.endswith(";")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (GOOD_QUERY.replace("-- title: Revenue by brand\n", ""), "missing header field '-- title"),
        (GOOD_QUERY.replace("-- description: Net revenue per brand.\n", ""), "missing header field '-- description"),
        (GOOD_QUERY.replace("chart: bar", "chart: pie"), "unknown chart type 'pie'"),
        (GOOD_QUERY.replace("-- x: brand\n", ""), "missing header field '-- x"),
        (GOOD_QUERY.replace("-- y: net_revenue", "-- colour: blue"), "unknown header field 'colour'"),
        (GOOD_QUERY.replace("-- y: net_revenue", "-- title: again"), "given twice"),
        (GOOD_QUERY.replace("-- x: brand", "-- x brand"), "header lines must read"),
        (GOOD_QUERY.replace("${gold}", "${gld}"), r"unknown placeholder \$\{gld\}"),
        (GOOD_QUERY.replace("${gold}", "${ gold }"), "malformed placeholder"),
        (GOOD_QUERY.replace("SELECT brand, net_revenue FROM", "DELETE FROM"), "one SELECT"),
        (GOOD_QUERY.split("SELECT")[0], "no SQL after the header"),
    ],
)
def test_malformed_query_files_name_the_file(tmp_path, text, message):
    path = write_query(tmp_path, text)
    with pytest.raises(SqlError, match=message) as error:
        load_queries(tmp_path)
    assert error.value.file == str(path)
    assert path.name in str(error.value)


def test_placeholder_errors_give_the_line(tmp_path):
    write_query(tmp_path, GOOD_QUERY.replace("${gold}", "${gld}"))
    with pytest.raises(SqlError) as error:
        load_queries(tmp_path)
    assert error.value.line == 6


def test_query_file_names_are_numbered_and_unique(tmp_path):
    write_query(tmp_path, GOOD_QUERY, "revenue.sql")
    with pytest.raises(SqlError, match="NN_name.sql"):
        load_queries(tmp_path)
    (tmp_path / "dashboards" / "queries" / "revenue.sql").unlink()
    write_query(tmp_path, GOOD_QUERY, "01_a.sql")
    write_query(tmp_path, GOOD_QUERY, "01_b.sql")
    with pytest.raises(SqlError, match="number 01 is also used"):
        load_queries(tmp_path)


def test_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(EcomctlError, match="folder not found"):
        load_queries(tmp_path)
    with pytest.raises(EcomctlError, match="folder not found"):
        load_genie_spaces(tmp_path)


def test_a_well_formed_space_loads(tmp_path):
    write_space(tmp_path, GOOD_SPACE)
    [space] = load_genie_spaces(tmp_path)
    assert space.name == "sales"
    assert space.tables == ["${catalog}.${gold}.mv_top_brands"]
    assert space.instructions == "Revenue means net revenue."
    assert space.questions[0].question == "Top brand?"
    assert space.questions[0].sql.startswith("SELECT brand")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (GOOD_SPACE.replace('title = "Sales"', 'title = "Sales'), "invalid TOML"),
        (GOOD_SPACE.split("[[questions]]")[0], "missing key 'questions'"),
        (GOOD_SPACE.split("[[questions]]")[0].replace('title = "Sales"', 'questions = []\ntitle = "Sales"'),
         "no sample questions"),
        (GOOD_SPACE.replace('sql = """', 'answer = """'), "question 1: unknown key"),
        (GOOD_SPACE.replace('question = "Top brand?"\n', ""), "question 1: missing key 'question'"),
        (GOOD_SPACE.replace('title = "Sales"\n', ""), "missing key 'title'"),
        (GOOD_SPACE.replace('description = "Sales by brand."', 'description = ""'), "'description' must be non-empty"),
        (GOOD_SPACE.replace('"${catalog}.${gold}.mv_top_brands"]', '"mv_top_brands"]'), "not fully qualified"),
        (GOOD_SPACE.replace("tables = [", 'tables = ["${catalog}.${gold}.mv_top_brands", '), "lists a table twice"),
        (GOOD_SPACE.replace("FROM ${catalog}", "FROM ${cat}"), r"question 1: unknown placeholder \$\{cat\}"),
        (GOOD_SPACE + '\nowner = "me"\n', "unknown key"),
    ],
)
def test_malformed_space_files_name_the_file(tmp_path, text, message):
    path = write_space(tmp_path, text)
    with pytest.raises(SqlError, match=message) as error:
        load_genie_spaces(tmp_path)
    assert error.value.file == str(path)


# -- HTML ----------------------------------------------------------------------------------------

def make_query(name: str, chart: str, x: str | None = None, y: str | None = None) -> DashboardQuery:
    return DashboardQuery(name=name, file=Path(f"sql/dashboards/queries/{name}.sql"), title=f"Title <{name}>",
                          description="A & B", chart=chart, x=x, y=y, sql="SELECT 1")


def fabricated_panels() -> list[Panel]:
    kpis = Panel(make_query("total_kpis", "counter", y="net_revenue"),
                 ["total_orders", "net_revenue", "delivery_rate"], [(1234, Decimal("1234567.89"), Decimal("0.8567"))])
    brands = Panel(make_query("revenue_by_brand", "bar", "brand", "net_revenue"), ["brand", "net_revenue"],
                   [("<script>alert('x')</script>", Decimal("5000.00")), ("Dell", Decimal("1200.50")),
                    ("Zero", Decimal("0.00")), ("Unknown", None)])
    trend = Panel(make_query("daily_revenue_trend", "line", "order_date", "net_revenue"), ["order_date", "net_revenue"],
                  [(dt.date(2024, 1, d), Decimal(100 * d)) for d in (1, 2, 5)])
    one_day = Panel(make_query("one_day", "line", "order_date", "net_revenue"), ["order_date", "net_revenue"],
                    [(dt.date(2024, 1, 1), Decimal("10.00"))])
    long_table = Panel(make_query("vip_customers", "table"), ["vip_rank", "customer_name"],
                       [(n, f"Customer {n}") for n in range(1, MAX_TABLE_ROWS + 11)])
    empty_bar = Panel(make_query("empty_bar", "bar", "brand", "net_revenue"), ["brand", "net_revenue"], [])
    empty_counter = Panel(make_query("empty_counter", "counter"), ["total_orders"], [])
    empty_line = Panel(make_query("empty_line", "line", "order_date", "net_revenue"), ["order_date", "net_revenue"], [])
    statuses = Panel(make_query("order_status", "bar", "order_status", "order_count"),
                     ["order_status", "order_count", "share_pct"], [("placed", 3, Decimal("75.00")), ("returned", 1, Decimal("25.00"))])
    segments = Panel(make_query("customer_segments", "table"), ["segment", "customer_count"], [("High", 2)])
    return [kpis, brands, trend, one_day, long_table, empty_bar, empty_counter, empty_line, statuses, segments]


def render(panels: list[Panel]) -> str:
    return render_html(panels, title="Shop <dashboard>", generated_at=dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.timezone.utc),
                       kpis=key_figures(panels[0]))


def sections(page: str) -> dict[str, str]:
    found = re.findall(r'<section class="panel[^"]*" data-query="([^"]+)"[^>]*>(.*?)</section>', page, re.S)
    return dict(found)


def test_render_html_has_one_section_per_panel_and_no_network_references():
    page = render(fabricated_panels())
    assert page.startswith("<!DOCTYPE html>")
    assert page.count('<section class="panel') == 10
    assert len(sections(page)) == 10
    assert "http://" not in page and "https://" not in page
    assert "<script" not in page and "<link" not in page
    assert "2024-05-01 12:00:00 UTC" in page


def test_render_html_escapes_every_text():
    page = render(fabricated_panels())
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "Title &lt;revenue_by_brand&gt;" in page
    assert "Shop &lt;dashboard&gt;" in page
    assert "A &amp; B" in page


def test_render_html_draws_charts_and_formats_numbers():
    by_name = sections(render(fabricated_panels()))
    assert "<svg" in by_name["revenue_by_brand"] and "<rect" in by_name["revenue_by_brand"]
    assert "<svg" in by_name["order_status"]
    assert "<svg" in by_name["daily_revenue_trend"] and "<polyline" in by_name["daily_revenue_trend"]
    assert "<svg" in by_name["one_day"]
    assert "<svg" not in by_name["total_kpis"] and "1,234,567.89" in by_name["total_kpis"]
    assert "85.67%" in by_name["total_kpis"]
    assert "5,000.00" in by_name["revenue_by_brand"]
    assert "<table" in by_name["revenue_by_brand"]
    assert f"first {MAX_TABLE_ROWS} of 60 rows" in by_name["vip_customers"]
    assert by_name["vip_customers"].count("<tr>") == MAX_TABLE_ROWS + 1   # header + capped body
    for empty in ("empty_bar", "empty_counter", "empty_line"):
        assert "no data" in by_name[empty] and "<svg" not in by_name[empty]


def test_kpi_cards_come_first():
    page = render(fabricated_panels())
    assert page.index('class="kpis"') < page.index('class="panel')
    assert "Net revenue" in page and "1,234" in page


def test_a_chart_column_missing_from_the_result_names_the_query_file():
    panel = Panel(make_query("broken", "bar", "brand", "revenue"), ["brand", "net_revenue"], [("Dell", 1)])
    with pytest.raises(SqlError, match=r"broken\.sql.*'revenue' is not in the result"):
        render([panel])


def test_the_real_queries_render_with_fabricated_rows():
    panels = []
    for query in QUERIES:
        columns = parse(query.sql).named_selects
        rows = []
        for n in range(3):
            row = []
            for column in columns:
                if column == query.x and query.chart == "line":
                    row.append(dt.date(2024, 1, n + 1))
                elif column == query.x or column in ("brand", "city", "customer_name"):
                    row.append(f"<b>{column} {n}</b>")
                else:
                    row.append(Decimal("1234.5") * (n + 1))
            rows.append(tuple(row))
        panels.append(Panel(query, columns, rows))
    page = render(panels)
    assert list(sections(page)) == EXPECTED_QUERIES
    assert "<b>" not in page
    assert page.count("<svg") == sum(q.chart in ("bar", "line") for q in QUERIES)


@pytest.mark.parametrize(
    ("value", "column", "text"),
    [
        (None, "x", "—"),
        (True, "is_revenue", "yes"),
        (1234567, "order_count", "1,234,567"),
        (Decimal("1234567.80"), "net_revenue", "1,234,567.80"),
        (Decimal("0.8500"), "delivery_rate", "85.00%"),
        (Decimal("12.50"), "revenue_share_pct", "12.50%"),
        (1234.5, "amount", "1,234.50"),
        (dt.date(2024, 1, 2), "order_date", "2024-01-02"),
        (dt.datetime(2024, 1, 2, 3, 4, 5), "last_order_ts", "2024-01-02 03:04:05"),
        ("Dell", "brand", "Dell"),
    ],
)
def test_format_value(value, column, text):
    assert format_value(value, column) == text


# -- headers and axes ------------------------------------------------------------------------------

@pytest.mark.parametrize("query", QUERIES, ids=lambda q: q.name)
def test_every_column_of_a_dashboard_query_has_its_header_in_the_one_label_map(query):
    missing = [c for c in parse(query.sql).named_selects if c not in LABELS]
    assert not missing, f"add a header for {missing} to LABELS in ecomctl/dashboards/html.py"


def test_headers_come_from_the_label_map():
    vip = Panel(make_query("vip_customers", "table"), ["vip_rank", "customer_id", "product_id"],
                [(1, "C1", "P001")])
    page = render([vip])
    headers = re.findall(r"<th[^>]*>([^<]*)</th>", page)
    assert headers == ["VIP rank", "Customer ID", "Product ID"]
    assert "Vip rank" not in page and "Product id" not in page


def trend(days: list[dt.date], values=None) -> Panel:
    values = values or [Decimal(1000 * (n + 1)) + Decimal("0.50") for n in range(len(days))]
    return Panel(make_query("daily_revenue_trend", "line", "order_date", "net_revenue"),
                 ["order_date", "net_revenue"], list(zip(days, values)))


def test_the_daily_trend_marks_today_as_a_partial_day():
    """The page is written during the day its last point stands for: that day is not over, and
    the line must not seem to fall off a cliff there."""
    generated = dt.datetime(2024, 5, 10, 9, 30, tzinfo=dt.timezone.utc)
    days = [dt.date(2024, 5, d) for d in range(1, 11)]
    page = render_html([trend(days)], title="t", generated_at=generated, kpis=[])
    chart = sections(page)["daily_revenue_trend"]
    assert 'data-partial-day="2024-05-10"' in chart
    assert chart.count('<circle class="partial"') == 1 and chart.count("<circle") == 10
    assert '<line class="partial"' in chart and "today (partial)" in chart
    assert "2024-05-10 is today (UTC): that day is not over" in chart
    # the solid line stops at the last complete day
    solid = re.search(r'<polyline points="([^"]+)"', chart).group(1).split()
    assert len(solid) == 9
    assert "partial" in page.split("<style>")[1].split("</style>")[0]  # drawn dashed and hollow

    complete = render_html([trend(days)], title="t", generated_at=generated + dt.timedelta(days=1), kpis=[])
    chart = sections(complete)["daily_revenue_trend"]
    assert "partial" not in chart and len(re.search(r'<polyline points="([^"]+)"', chart).group(1).split()) == 10


def test_the_line_chart_has_a_few_round_ticks_with_readable_numbers_and_dates():
    days = [dt.date(2026, 10, 3) + dt.timedelta(days=n) for n in range(30)]
    values = [Decimal(40_000 + 1_000 * (n % 7)) for n in range(30)]
    values[-1] = Decimal("76000.00")
    page = render_html([trend(days, values)], title="t", kpis=[],
                       generated_at=dt.datetime(2026, 11, 20, tzinfo=dt.timezone.utc))
    chart = sections(page)["daily_revenue_trend"]
    y_ticks = re.findall(r'class="tick y-tick"[^>]*>([^<]*)<', chart)
    x_ticks = re.findall(r'class="tick x-tick"[^>]*>([^<]*)<', chart)
    assert y_ticks == ["0", "20k", "40k", "60k", "80k"]
    assert x_ticks == ["Oct 3, 2026", "Oct 10", "Oct 17", "Oct 24", "Oct 31"]
    assert chart.count('<line class="grid"') == len(y_ticks)


@pytest.mark.parametrize(("low", "high", "ticks"), [
    (0, 76_000, [0, 20_000, 40_000, 60_000, 80_000]),
    (0, 9_300, [0, 2_000, 4_000, 6_000, 8_000, 10_000]),
    (0, 1.0, [0, 0.2, 0.4, 0.6, 0.8, 1.0]),
    (-120, 480, [-200, 0, 200, 400, 600]),
    (0, 0, [0, 0.2, 0.4, 0.6, 0.8, 1.0]),
    (0, 11, [0, 2.5, 5, 7.5, 10, 12.5]),
])
def test_nice_ticks(low, high, ticks):
    assert nice_ticks(low, high) == ticks


@pytest.mark.parametrize(("value", "step", "top", "column", "text"), [
    (0, 2_500, 10_000, "net_revenue", "0"),
    (2_500, 2_500, 10_000, "net_revenue", "2.5k"),
    (7_500, 2_500, 7_500, "order_count", "7,500"),
    (12_500, 2_500, 12_500, "net_revenue", "12.5k"),
    (1_200_000, 200_000, 12_000_000, "net_revenue", "1.2M"),
    (0.85, 0.05, 1.0, "delivery_rate", "85%"),
    (12.5, 2.5, 25, "share_pct", "12.5%"),
])
def test_axis_numbers_read_easily(value, step, top, column, text):
    assert axis_number(value, step, top, column) == text
