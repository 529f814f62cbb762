"""Independent plain-Python reference for every table of the pipeline.

It reads docs/tables.md, not the SQL: exact arithmetic (Fraction, HALF_UP on the
exact quotient), strict JSON types, the same dedupes and tie-breaks, so tests can
assert that the SQL tables equal ``compute_reference(raw)`` value by value.
Standard library only; runs on Python 3.10+.
"""
from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any, Iterable

__all__ = [
    "RawEvent",
    "compute_reference",
    "reconciliation",
    "validate",
    "parse_timestamp",
    "round_half_up",
    "sort_rows",
    "COLUMNS",
    "KEYS",
    "REQUIRED_FIELDS",
    "FIELD_TYPES",
]


@dataclass(frozen=True)
class RawEvent:
    """One row of bronze.raw_events (only the columns the reference needs)."""

    source: str
    partition_id: str
    sequence_number: int
    body: str
    landed_at: datetime | None = None
    landing_file: str = ""
    body_encoding: str | None = None  # 'base64' when the bytes were not UTF-8


# --------------------------------------------------------------------------
# Contract: fields, columns, natural keys
# --------------------------------------------------------------------------

REQUIRED_FIELDS: tuple[str, ...] = (
    "schema_version", "event_id", "event_type", "event_time", "order_id",
    "customer_id", "customer_name", "customer_email", "city", "state", "country",
    "order_ts", "product_id", "product_name", "brand", "category", "base_price",
    "unit_price", "quantity", "discount_pct", "total_amount", "payment_method",
    "order_status",
)

_INTEGER = ("schema_version", "quantity")
_NUMBER = ("base_price", "unit_price", "discount_pct", "total_amount")
_TIMESTAMP = ("event_time", "order_ts")
FIELD_TYPES: dict[str, str] = {
    f: ("integer" if f in _INTEGER else "number" if f in _NUMBER
        else "timestamp" if f in _TIMESTAMP else "string")
    for f in REQUIRED_FIELDS
}

ORDER_STATUSES = ("placed", "shipped", "delivered", "cancelled", "returned")
REVENUE_STATUSES = ("placed", "shipped", "delivered")

_ORDER_COLUMNS = [
    "order_id", "customer_id", "customer_name", "customer_email", "city", "state",
    "country", "order_ts", "product_id", "quantity", "unit_price", "discount_pct",
    "total_amount", "payment_method", "order_status", "event_id", "event_time",
]
# The winning event's place in the transport, after the order's fields.
_LINEAGE_COLUMNS = ["source", "partition_id", "sequence_number"]

COLUMNS: dict[str, list[str]] = {
    "bronze.orders": _ORDER_COLUMNS + _LINEAGE_COLUMNS,
    "bronze.products": ["product_id", "product_name", "brand", "category", "base_price",
                        "event_time", *_LINEAGE_COLUMNS],
    "bronze.rejected_events": ["source", "partition_id", "sequence_number", "body", "body_encoding",
                               "reason"],
    "silver.order_details": _ORDER_COLUMNS + [
        "product_name", "brand", "category", "base_price",
        "order_date", "order_hour", "day_of_week", "order_month",
        "gross_amount", "discount_amount", "is_revenue", "is_delivered", "discount_band",
        *_LINEAGE_COLUMNS,
    ],
    "gold.sales_by_brand_category": [
        "brand", "category", "order_count", "units_sold", "gross_sales",
        "discount_total", "net_revenue", "unique_customers", "avg_order_value",
    ],
    "gold.location_performance": [
        "city", "state", "order_count", "revenue_orders", "net_revenue",
        "unique_customers", "delivered_orders", "cancelled_orders", "delivery_rate",
    ],
    "gold.product_performance": [
        "product_id", "product_name", "brand", "category", "order_count", "units_sold",
        "gross_sales", "discount_total", "net_revenue", "avg_discount_pct", "revenue_per_unit",
    ],
    "gold.customer_insights": [
        "customer_id", "customer_name", "city", "order_count", "revenue_orders",
        "lifetime_value", "avg_order_value", "first_order_ts", "last_order_ts",
        "favorite_brand", "segment",
    ],
    "gold.mv_top_brands": ["brand", "net_revenue", "order_count", "unique_customers", "revenue_rank"],
    "gold.mv_category_summary": [
        "category", "order_count", "units_sold", "net_revenue", "avg_order_value",
        "revenue_share_pct",
    ],
    "gold.mv_location_ranking": [
        "city", "state", "net_revenue", "order_count", "delivery_rate", "revenue_rank",
    ],
    "gold.mv_product_ranking": [
        "product_id", "product_name", "brand", "units_sold", "net_revenue",
        "revenue_rank", "units_rank",
    ],
    "gold.mv_customer_segments": [
        "segment", "customer_count", "total_lifetime_value", "avg_lifetime_value",
    ],
    "gold.mv_vip_customers": [
        "vip_rank", "customer_id", "customer_name", "city", "lifetime_value",
        "order_count", "favorite_brand",
    ],
    "gold.mv_brand_location_matrix": ["brand", "city", "order_count", "net_revenue"],
    "gold.mv_discount_analysis": [
        "discount_band", "order_count", "units_sold", "gross_sales", "discount_total",
        "net_revenue", "avg_order_value",
    ],
}

# Natural key of each table: its rows are unique on these columns and every
# list returned by compute_reference is sorted by them.
KEYS: dict[str, tuple[str, ...]] = {
    "bronze.orders": ("order_id",),
    "bronze.products": ("product_id",),
    "bronze.rejected_events": ("source", "partition_id", "sequence_number"),
    "silver.order_details": ("order_id",),
    "gold.sales_by_brand_category": ("brand", "category"),
    "gold.location_performance": ("city", "state"),
    "gold.product_performance": ("product_id",),
    "gold.customer_insights": ("customer_id",),
    "gold.mv_top_brands": ("brand",),
    "gold.mv_category_summary": ("category",),
    "gold.mv_location_ranking": ("city", "state"),
    "gold.mv_product_ranking": ("product_id",),
    "gold.mv_customer_segments": ("segment",),
    "gold.mv_vip_customers": ("vip_rank",),
    "gold.mv_brand_location_matrix": ("brand", "city"),
    "gold.mv_discount_analysis": ("discount_band",),
}


def sort_rows(table: str, rows: Iterable[dict]) -> list[dict]:
    """Rows of ``table`` (e.g. fetched from DuckDB as dicts) sorted by its natural key."""
    key = KEYS[table]
    return sorted(rows, key=lambda r: tuple(_sortable(r[k]) for k in key))


def _sortable(v: Any) -> tuple:
    # None sorts first; keeps mixed None/str keys comparable.
    return (0, "") if v is None else (1, v)


# --------------------------------------------------------------------------
# Exact arithmetic
# --------------------------------------------------------------------------

def round_half_up(x: Decimal | Fraction | int, places: int) -> Decimal:
    """ROUND(x, places) HALF_UP (ties away from zero) on the exact value of x,
    returned as a Decimal with exactly ``places`` decimals."""
    f = Fraction(x)
    scaled = abs(f) * (10 ** places)
    n = int(scaled + Fraction(1, 2))  # floor(|x|*10^p + 1/2), exact
    sign = "-" if f < 0 and n != 0 else ""
    return Decimal(f"{sign}{n}E-{places}")


def _cast_decimal(x: Decimal | Fraction | int, precision: int, scale: int) -> Decimal:
    """CAST(x AS DECIMAL(precision, scale)): HALF_UP to the scale, overflow is an error."""
    d = round_half_up(x, scale)
    if abs(d) >= Decimal(10) ** (precision - scale):
        raise OverflowError(f"{x} does not fit DECIMAL({precision},{scale})")
    return d


def _money(x) -> Decimal:       # DECIMAL(12,2)
    return _cast_decimal(x, 12, 2)


def _sum_money(x) -> Decimal:   # DECIMAL(18,2)
    return _cast_decimal(x, 18, 2)


def _ratio(num, den, places: int = 2) -> Decimal | None:
    """ROUND(num / den, places) on the exact quotient; NULL when den is 0."""
    if den == 0:
        return None
    return round_half_up(Fraction(num) / Fraction(den), places)


# --------------------------------------------------------------------------
# Parsing: JSON with numbers kept as written, ISO-8601 timestamps
# --------------------------------------------------------------------------

class _JsonNumber:
    """A JSON number with its text as written in the body."""

    __slots__ = ("text", "is_int", "value")

    def __init__(self, text: str, is_int: bool) -> None:
        self.text = text
        self.is_int = is_int
        self.value = Decimal(text)

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"_JsonNumber({self.text!r})"


def _reject_constant(name: str):
    # NaN / Infinity / -Infinity are not JSON.
    raise ValueError(f"not JSON: {name}")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict:
    # A repeated key is ambiguous (which value wins?); Databricks parse_json refuses it too.
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise ValueError("duplicate object key")
    return obj


def _loads(body: str) -> Any:
    return json.loads(
        body,
        parse_int=lambda s: _JsonNumber(s, True),
        parse_float=lambda s: _JsonNumber(s, False),
        parse_constant=_reject_constant,
        object_pairs_hook=_unique_keys,
    )


_TS_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})"
    r"(?::(\d{2})(?:\.(\d{1,6}))?)?"
    r"(Z|[+-]\d{2}:\d{2})?",
    re.ASCII,
)


def parse_timestamp(text: str) -> datetime | None:
    """ISO-8601 date-time -> naive UTC datetime, or None when it does not parse.

    Accepted: ``YYYY-MM-DD[T| ]HH:MM[:SS[.ffffff]]`` followed by nothing (UTC),
    ``Z``, or ``+hh:mm`` / ``-hh:mm`` (converted to UTC). Nothing else (no
    date-only, no surrounding spaces, no more than 6 fractional digits, no
    offset beyond ±18:00).
    """
    m = _TS_RE.fullmatch(text)
    if not m:
        return None
    y, mo, d, h, mi, s, frac, tz = m.groups()
    try:
        dt = datetime(int(y), int(mo), int(d), int(h), int(mi), int(s or 0),
                      int((frac or "").ljust(6, "0")))
        if tz and tz != "Z":
            oh, om = int(tz[1:3]), int(tz[4:6])
            if om > 59 or oh * 60 + om > 18 * 60:  # offsets span -18:00..+18:00
                return None
            offset = timedelta(hours=oh, minutes=om)
            dt = dt - offset if tz[0] == "+" else dt + offset
    except (ValueError, OverflowError):
        return None
    return dt


_BIGINT = (-(2 ** 63), 2 ** 63 - 1)
_INT = (-(2 ** 31), 2 ** 31 - 1)
# Range checks in field order: a number must fit its column (money after rounding to 2 decimals).
_RANGES = (("base_price", "money"), ("unit_price", "money"), ("quantity", "int"),
           ("total_amount", "money"))


def _type_ok(value: Any, kind: str) -> bool:
    if kind == "integer":  # a JSON integer that fits BIGINT (a larger one is not an integer)
        return (isinstance(value, _JsonNumber) and value.is_int
                and _BIGINT[0] <= value.value <= _BIGINT[1])
    if kind == "number":
        return isinstance(value, _JsonNumber)
    if kind == "timestamp":
        return isinstance(value, str) and parse_timestamp(value) is not None
    return isinstance(value, str)


def _fits(value: Decimal, kind: str) -> bool:
    """Whether CAST(value AS INT) / CAST(value AS DECIMAL(12,2)) succeeds."""
    if kind == "int":
        return _INT[0] <= value <= _INT[1]
    try:
        _money(value)
    except OverflowError:
        return False
    return True


def _text(value: Any) -> str:
    return value.text if isinstance(value, _JsonNumber) else str(value)


@dataclass(frozen=True)
class ValidEvent:
    """A valid event, normalized to the bronze column types."""

    fields: dict
    event_time: datetime
    sequence_number: int
    partition_id: str
    source: str


MAX_BODY_BYTES = 1_048_576  # 1 MB: a body this large or larger is rejected


def validate(body: str, body_encoding: str | None = None) -> tuple[dict | None, str | None]:
    """Check one event body. Returns (normalized fields, None) when valid, else
    (None, reason) with the exact reason string of docs/tables.md."""
    if body_encoding is not None:
        return None, "invalid UTF-8"
    size = len(body.encode("utf-8"))
    if size >= MAX_BODY_BYTES:
        return None, f"body of 1 MB or more: {size} bytes"
    if size == 0:
        return None, "empty body"
    try:
        obj = _loads(body)
    except (ValueError, RecursionError):
        return None, "invalid JSON"
    if not isinstance(obj, dict):
        return None, "not a JSON object"
    # Two passes: every field's presence first, then every field's type.
    for f in REQUIRED_FIELDS:
        if obj.get(f) is None:
            return None, f"missing field: {f}"
    for f in REQUIRED_FIELDS:
        if not _type_ok(obj[f], FIELD_TYPES[f]):
            return None, f"wrong type: {f} must be {FIELD_TYPES[f]}"
    for f, kind in _RANGES:
        if not _fits(obj[f].value, kind):
            return None, f"out of range: {f}"
    sv, qty, disc = obj["schema_version"], obj["quantity"], obj["discount_pct"]
    if sv.value != 1:
        return None, f"unknown schema_version: {_text(sv)}"
    if qty.value < 1:
        return None, f"quantity below 1: {_text(qty)}"
    if disc.value < 0 or disc.value > 100:
        return None, f"discount_pct out of range: {_text(disc)}"
    if obj["order_status"] not in ORDER_STATUSES:
        return None, f"unknown order_status: {obj['order_status']}"
    # The rule applies to the numbers as written (exact), before any cast.
    unit, total = obj["unit_price"].value, obj["total_amount"].value
    expected = round_half_up(
        Fraction(qty.value) * Fraction(unit) * (100 - Fraction(disc.value)) / 100, 2)
    if abs(Fraction(total) - Fraction(expected)) > Fraction(1, 100):
        return None, f"total_amount mismatch: {_text(obj['total_amount'])}"
    # Last, a derived value: silver's gross_amount = quantity x unit_price must fit DECIMAL(12,2).
    if not _fits(qty.value * _money(unit), "money"):
        return None, "out of range: gross_amount"

    fields = {f: obj[f] for f in REQUIRED_FIELDS if FIELD_TYPES[f] == "string"}
    fields["schema_version"] = int(sv.value)
    fields["quantity"] = int(qty.value)
    fields["event_time"] = parse_timestamp(obj["event_time"])
    fields["order_ts"] = parse_timestamp(obj["order_ts"])
    fields["base_price"] = _money(obj["base_price"].value)
    fields["unit_price"] = _money(unit)
    fields["discount_pct"] = _cast_decimal(disc.value, 5, 2)
    fields["total_amount"] = _money(total)
    return fields, None


# --------------------------------------------------------------------------
# Bronze
# --------------------------------------------------------------------------

def _transport_dedupe(raw: list[RawEvent]) -> list[RawEvent]:
    """One row per (source, partition_id, sequence_number): the first landed by
    (landed_at, landing_file); input order breaks full ties (and a None landed_at
    sorts after every timestamp)."""
    first: dict[tuple, tuple] = {}
    for i, ev in enumerate(raw):
        k = (ev.source, ev.partition_id, ev.sequence_number)
        rank = (ev.landed_at is None, ev.landed_at or datetime.min, ev.landing_file, i)
        if k not in first or rank < first[k][0]:
            first[k] = (rank, ev)
    return [ev for _, ev in sorted(first.values(), key=lambda t: t[0][3])]


def _latest(events: Iterable[ValidEvent], key: str) -> dict[str, ValidEvent]:
    """Latest wins per fields[key]: event_time, then sequence_number, then
    partition_id, all descending; a full tie keeps the first received."""
    best: dict[str, ValidEvent] = {}
    for ev in events:
        k = ev.fields[key]
        cur = best.get(k)
        if cur is None or (ev.event_time, ev.sequence_number, ev.partition_id) > (
                cur.event_time, cur.sequence_number, cur.partition_id):
            best[k] = ev
    return best


def _bronze(raw: list[RawEvent]):
    received = _transport_dedupe(raw)
    valid: list[ValidEvent] = []
    rejected: list[dict] = []
    for ev in received:
        fields, reason = validate(ev.body, ev.body_encoding)
        if reason is not None:
            rejected.append({
                "source": ev.source, "partition_id": ev.partition_id,
                "sequence_number": ev.sequence_number, "body": ev.body,
                "body_encoding": ev.body_encoding, "reason": reason,
            })
        else:
            valid.append(ValidEvent(fields, fields["event_time"], ev.sequence_number,
                                    ev.partition_id, ev.source))
    orders = [{**{c: e.fields[c] for c in _ORDER_COLUMNS}, "source": e.source,
               "partition_id": e.partition_id, "sequence_number": e.sequence_number}
              for e in _latest(valid, "order_id").values()]
    products = [{**{c: e.fields[c] for c in COLUMNS["bronze.products"][:6]}, "source": e.source,
                 "partition_id": e.partition_id, "sequence_number": e.sequence_number}
                for e in _latest(valid, "product_id").values()]
    return received, valid, rejected, orders, products


# --------------------------------------------------------------------------
# Silver
# --------------------------------------------------------------------------

def _day_of_week(d: date) -> int:
    """Databricks dayofweek: 1 = Sunday ... 7 = Saturday."""
    return d.isoweekday() % 7 + 1


def _discount_band(pct: Decimal) -> str:
    if pct == 0:
        return "none"
    if pct <= 10:
        return "1-10%"
    if pct <= 20:
        return "11-20%"
    return "21%+"


def _silver(orders: list[dict], products: list[dict]) -> list[dict]:
    by_product = {p["product_id"]: p for p in products}
    out = []
    for o in orders:
        p = by_product.get(o["product_id"])
        if p is None:  # cannot happen: the order's own valid event carries its product
            continue
        ts: datetime = o["order_ts"]
        gross = _money(o["quantity"] * o["unit_price"])
        row = dict(o)
        row.update({
            "product_name": p["product_name"], "brand": p["brand"],
            "category": p["category"], "base_price": p["base_price"],
            "order_date": ts.date(),
            "order_hour": ts.hour,
            "day_of_week": _day_of_week(ts.date()),
            "order_month": f"{ts.year:04d}-{ts.month:02d}",
            "gross_amount": gross,
            "discount_amount": _money(gross - o["total_amount"]),
            "is_revenue": o["order_status"] in REVENUE_STATUSES,
            "is_delivered": o["order_status"] == "delivered",
            "discount_band": _discount_band(o["discount_pct"]),
        })
        out.append({c: row[c] for c in COLUMNS["silver.order_details"]})
    return out


# --------------------------------------------------------------------------
# Gold
# --------------------------------------------------------------------------

def _group(rows: Iterable[dict], *cols: str) -> dict[tuple, list[dict]]:
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in rows:
        groups[tuple(r[c] for c in cols)].append(r)
    return groups


def _sums(rows: list[dict]) -> dict:
    return {
        "order_count": len(rows),
        "units_sold": sum(r["quantity"] for r in rows),
        "gross_sales": _sum_money(sum((r["gross_amount"] for r in rows), Decimal(0))),
        "discount_total": _sum_money(sum((r["discount_amount"] for r in rows), Decimal(0))),
        "net_revenue": _sum_money(sum((r["total_amount"] for r in rows), Decimal(0))),
        "unique_customers": len({r["customer_id"] for r in rows}),
    }


def _rank(rows: list[dict], col: str, out_col: str) -> None:
    """RANK() OVER (ORDER BY col DESC): ties share a rank, the next rank skips."""
    values = sorted((r[col] for r in rows), reverse=True)
    for r in rows:
        r[out_col] = 1 + sum(1 for v in values if v > r[col])


def _segment(ltv: Decimal) -> str:
    if ltv >= 5000:
        return "High"
    if ltv >= 1000:
        return "Medium"
    return "Low"


def _gold(silver: list[dict]) -> dict[str, list[dict]]:
    rev = [r for r in silver if r["is_revenue"]]
    t: dict[str, list[dict]] = {}

    rows = []
    for (brand, category), g in _group(rev, "brand", "category").items():
        s = _sums(g)
        rows.append({"brand": brand, "category": category, **s,
                     "avg_order_value": _ratio(s["net_revenue"], s["order_count"])})
    t["gold.sales_by_brand_category"] = rows

    rows = []
    for (city, state), g in _group(silver, "city", "state").items():
        g_rev = [r for r in g if r["is_revenue"]]
        delivered = sum(1 for r in g if r["order_status"] == "delivered")
        rows.append({
            "city": city, "state": state, "order_count": len(g),
            "revenue_orders": len(g_rev),
            "net_revenue": _sum_money(sum((r["total_amount"] for r in g_rev), Decimal(0))),
            "unique_customers": len({r["customer_id"] for r in g}),
            "delivered_orders": delivered,
            "cancelled_orders": sum(1 for r in g if r["order_status"] == "cancelled"),
            "delivery_rate": _ratio(delivered, len(g), 4),
        })
    t["gold.location_performance"] = rows

    rows = []
    for (pid,), g in _group(rev, "product_id").items():
        s = _sums(g)
        rows.append({
            "product_id": pid, "product_name": g[0]["product_name"],
            "brand": g[0]["brand"], "category": g[0]["category"],
            **{k: s[k] for k in ("order_count", "units_sold", "gross_sales",
                                 "discount_total", "net_revenue")},
            "avg_discount_pct": _ratio(sum(Fraction(r["discount_pct"]) for r in g), len(g)),
            "revenue_per_unit": _ratio(s["net_revenue"], s["units_sold"]),
        })
    t["gold.product_performance"] = rows

    rows = []
    for (cid,), g in _group(silver, "customer_id").items():
        latest = max(g, key=lambda r: (r["order_ts"], r["order_id"]))
        g_rev = [r for r in g if r["is_revenue"]]
        ltv = _sum_money(sum((r["total_amount"] for r in g_rev), Decimal(0)))
        by_brand: dict[str, Decimal] = defaultdict(Decimal)
        for r in g_rev:
            by_brand[r["brand"]] += r["total_amount"]
        favorite = min(by_brand, key=lambda b: (-by_brand[b], b)) if by_brand else None
        rows.append({
            "customer_id": cid, "customer_name": latest["customer_name"],
            "city": latest["city"], "order_count": len(g), "revenue_orders": len(g_rev),
            "lifetime_value": ltv,
            "avg_order_value": _ratio(ltv, len(g_rev)),
            "first_order_ts": min(r["order_ts"] for r in g),
            "last_order_ts": max(r["order_ts"] for r in g),
            "favorite_brand": favorite, "segment": _segment(ltv),
        })
    t["gold.customer_insights"] = rows
    customers = rows

    # ---- materialized views ----
    rows = []
    for (brand,), g in _group(rev, "brand").items():
        s = _sums(g)
        rows.append({"brand": brand, "net_revenue": s["net_revenue"],
                     "order_count": s["order_count"],
                     "unique_customers": s["unique_customers"]})
    _rank(rows, "net_revenue", "revenue_rank")
    t["gold.mv_top_brands"] = rows

    total_net = sum((r["total_amount"] for r in rev), Decimal(0))
    rows = []
    for (category,), g in _group(rev, "category").items():
        s = _sums(g)
        rows.append({
            "category": category, "order_count": s["order_count"],
            "units_sold": s["units_sold"], "net_revenue": s["net_revenue"],
            "avg_order_value": _ratio(s["net_revenue"], s["order_count"]),
            "revenue_share_pct": _ratio(100 * Fraction(s["net_revenue"]), total_net),
        })
    t["gold.mv_category_summary"] = rows

    rows = [{c: r[c] for c in ("city", "state", "net_revenue", "order_count", "delivery_rate")}
            for r in t["gold.location_performance"]]
    _rank(rows, "net_revenue", "revenue_rank")
    t["gold.mv_location_ranking"] = rows

    rows = [{c: r[c] for c in ("product_id", "product_name", "brand", "units_sold", "net_revenue")}
            for r in t["gold.product_performance"]]
    _rank(rows, "net_revenue", "revenue_rank")
    _rank(rows, "units_sold", "units_rank")
    t["gold.mv_product_ranking"] = rows

    rows = []
    for (segment,), g in _group(customers, "segment").items():
        total = _sum_money(sum((r["lifetime_value"] for r in g), Decimal(0)))
        rows.append({"segment": segment, "customer_count": len(g),
                     "total_lifetime_value": total,
                     "avg_lifetime_value": _ratio(total, len(g))})
    t["gold.mv_customer_segments"] = rows

    top = sorted(customers, key=lambda r: (-r["lifetime_value"], r["customer_id"]))[:10]
    t["gold.mv_vip_customers"] = [
        {"vip_rank": i, **{c: r[c] for c in ("customer_id", "customer_name", "city",
                                             "lifetime_value", "order_count", "favorite_brand")}}
        for i, r in enumerate(top, start=1)
    ]

    rows = []
    for (brand, city), g in _group(rev, "brand", "city").items():
        s = _sums(g)
        rows.append({"brand": brand, "city": city, "order_count": s["order_count"],
                     "net_revenue": s["net_revenue"]})
    t["gold.mv_brand_location_matrix"] = rows

    rows = []
    for (band,), g in _group(rev, "discount_band").items():
        s = _sums(g)
        rows.append({"discount_band": band,
                     **{k: s[k] for k in ("order_count", "units_sold", "gross_sales",
                                          "discount_total", "net_revenue")},
                     "avg_order_value": _ratio(s["net_revenue"], s["order_count"])})
    t["gold.mv_discount_analysis"] = rows
    return t


# --------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------

def compute_reference(raw: Iterable[RawEvent]) -> dict[str, list[dict]]:
    """Every table computed from the raw received events, each sorted by KEYS."""
    raw = list(raw)
    _, _, rejected, orders, products = _bronze(raw)
    silver = _silver(orders, products)
    tables: dict[str, list[dict]] = {
        "bronze.orders": orders,
        "bronze.products": products,
        "bronze.rejected_events": rejected,
        "silver.order_details": silver,
    }
    tables.update(_gold(silver))
    out = {}
    for name, rows in tables.items():
        cols = COLUMNS[name]
        out[name] = sort_rows(name, [{c: r[c] for c in cols} for r in rows])
    return out


def reconciliation(raw: Iterable[RawEvent]) -> dict[str, int]:
    """received == orders + rejected + transport_duplicates + producer_duplicates."""
    raw = list(raw)
    received, valid, rejected, orders, _ = _bronze(raw)
    return {
        "received": len(raw),
        "transport_duplicates": len(raw) - len(received),
        "valid_events": len(valid),
        "rejected": len(rejected),
        "producer_duplicates": len(valid) - len(orders),
        "orders": len(orders),
    }
