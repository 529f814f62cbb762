"""The reference itself, checked against values worked out by hand.

If the reference were wrong, the SQL-vs-reference tests would prove nothing;
every expected value below was computed on paper from the events here.
"""
from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction

import pytest

from reference import (
    COLUMNS,
    KEYS,
    RawEvent,
    compute_reference,
    parse_timestamp,
    reconciliation,
    round_half_up,
    validate,
)

D = Decimal
SRC = "local/orders"


class N:
    """A JSON number written exactly as given."""

    def __init__(self, text: str) -> None:
        self.text = text


OMIT = object()

_DEFAULTS = {
    "schema_version": N("1"),
    "event_id": "e-default",
    "event_type": "order_created",
    "event_time": "2024-03-01T00:00:00Z",
    "order_id": "ORD000001",
    "customer_id": "C1",
    "customer_name": "Ann",
    "customer_email": "ann@example.com",
    "city": "Austin",
    "state": "TX",
    "country": "US",
    "order_ts": "2024-03-01T00:00:00Z",
    "product_id": "P001",
    "product_name": "Laptop",
    "brand": "Dell",
    "category": "Electronics",
    "base_price": N("1200.00"),
    "unit_price": N("10.00"),
    "quantity": N("1"),
    "discount_pct": N("0"),
    "total_amount": N("10.00"),
    "payment_method": "card",
    "order_status": "placed",
}


def body(**overrides) -> str:
    """An event body in the field order of docs/design.md; N(...) values are written verbatim."""
    fields = {**_DEFAULTS, **overrides}
    parts = []
    for k, v in fields.items():
        if v is OMIT:
            continue
        text = v.text if isinstance(v, N) else json.dumps(v)
        parts.append(f"{json.dumps(k)}: {text}")
    return "{" + ", ".join(parts) + "}"


def raw(seq: int, text: str, partition: str = "0", landed_at: datetime | None = None,
        landing_file: str = "f1.jsonl") -> RawEvent:
    return RawEvent(SRC, partition, seq, text,
                    landed_at or datetime(2024, 5, 1, 0, 0, 0), landing_file)


# ---------------------------------------------------------------------------
# Arithmetic and parsing primitives
# ---------------------------------------------------------------------------

def test_round_half_up_on_exact_values():
    assert str(round_half_up(D("5.35") / 2, 2)) == "2.68"          # 2.675, the tie goes up
    assert str(round_half_up(Fraction(-535, 200), 2)) == "-2.68"    # away from zero
    assert str(round_half_up(D("2.674999"), 2)) == "2.67"
    assert str(round_half_up(Fraction(1, 3), 4)) == "0.3333"
    assert str(round_half_up(Fraction(2, 3), 4)) == "0.6667"
    assert str(round_half_up(0, 2)) == "0.00"
    assert str(round_half_up(Fraction(100 * 535, 101070), 2)) == "0.53"


@pytest.mark.parametrize("text, expected", [
    ("2024-03-03T10:15:00Z", datetime(2024, 3, 3, 10, 15)),
    ("2024-03-03T10:15:00", datetime(2024, 3, 3, 10, 15)),           # no offset = UTC
    ("2024-03-03 10:15:00", datetime(2024, 3, 3, 10, 15)),
    ("2024-03-05T08:00:00+02:00", datetime(2024, 3, 5, 6, 0)),
    ("2024-03-03T23:30:00-05:00", datetime(2024, 3, 4, 4, 30)),      # crosses midnight
    ("2024-03-03T10:15:00.5Z", datetime(2024, 3, 3, 10, 15, 0, 500000)),
    ("2024-03-03T10:15:00.123456+00:00", datetime(2024, 3, 3, 10, 15, 0, 123456)),
    ("2024-03-03T10:15Z", datetime(2024, 3, 3, 10, 15)),
    ("yesterday", None),
    ("2024-02-30T00:00:00Z", None),
    ("2024-03-03T24:00:00Z", None),
    ("2024-03-03", None),
    (" 2024-03-03T10:15:00Z", None),
    ("2024-03-03T10:15:00+2", None),
    ("2024-03-03T10:15:00+18:00", datetime(2024, 3, 2, 16, 15)),
    ("2024-03-03T10:15:00+18:01", None),
    ("2024-03-03T10:15:00+01:60", None),
    ("２０２４-03-03T10:15:00Z", None),                               # ASCII digits only
])
def test_parse_timestamp(text, expected):
    assert parse_timestamp(text) == expected


# ---------------------------------------------------------------------------
# Validation: every rule, its order, its exact reason
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("text, reason", [
    ("{not json", "invalid JSON"),
    ("", "empty body"),
    ('{"schema_version": NaN}', "invalid JSON"),
    ('{"order_id": "A", "order_id": "B"}', "invalid JSON"),          # duplicate key
    (body()[:-1] + ', "quantity": 2}', "invalid JSON"),
    ("[1, 2]", "not a JSON object"),
    ('"order"', "not a JSON object"),
    ("null", "not a JSON object"),
    (body(customer_email=OMIT), "missing field: customer_email"),
    (body(city=None), "missing field: city"),
    (body(schema_version=OMIT, order_status=OMIT), "missing field: schema_version"),
    # presence of every field is checked before any type
    (body(quantity="2", payment_method=OMIT), "missing field: payment_method"),
    (body(quantity="2"), "wrong type: quantity must be integer"),
    (body(quantity=N("2.5")), "wrong type: quantity must be integer"),
    (body(quantity=N("2.0")), "wrong type: quantity must be integer"),
    (body(quantity=N("2e0")), "wrong type: quantity must be integer"),
    (body(quantity=True), "wrong type: quantity must be integer"),
    (body(schema_version=True), "wrong type: schema_version must be integer"),
    (body(unit_price="10.00"), "wrong type: unit_price must be number"),
    (body(unit_price=False), "wrong type: unit_price must be number"),
    (body(event_time="yesterday"), "wrong type: event_time must be timestamp"),
    (body(event_time=N("1709251200")), "wrong type: event_time must be timestamp"),
    (body(customer_id=N("1023")), "wrong type: customer_id must be string"),
    (body(event_type=N("1")), "wrong type: event_type must be string"),
    (body(order_ts="nope", quantity="2"), "wrong type: order_ts must be timestamp"),
    # integer = a JSON integer that fits BIGINT (-2^63 .. 2^63-1): Databricks types a larger one
    # DECIMAL(p,0), not BIGINT
    (body(schema_version=N("99999999999999999999")), "wrong type: schema_version must be integer"),
    (body(schema_version=N("9223372036854775808")), "wrong type: schema_version must be integer"),
    (body(quantity=N("-9223372036854775809")), "wrong type: quantity must be integer"),
    # out of range, field order (base_price, unit_price, quantity, total_amount), after the types
    # and before the value rules: money must fit DECIMAL(12,2) after HALF_UP to 2 decimals
    (body(base_price=N("10000000000")), "out of range: base_price"),
    (body(base_price=N("-10000000000.00")), "out of range: base_price"),
    (body(base_price=N("9999999999.995")), "out of range: base_price"),  # rounds to 10^10
    (body(base_price=N("1e400")), "out of range: base_price"),
    (body(unit_price=N("100000000000000000000.0")), "out of range: unit_price"),
    (body(unit_price=N("1E10"), total_amount=N("1e10")), "out of range: unit_price"),
    (body(quantity=N("3000000000"), total_amount=N("30000000000.00")), "out of range: quantity"),
    (body(quantity=N("2147483648")), "out of range: quantity"),              # 2^31
    (body(quantity=N("-2147483649")), "out of range: quantity"),
    (body(quantity=N("9223372036854775807")), "out of range: quantity"),     # BIGINT max
    (body(total_amount=N("100000000000000000000.0")), "out of range: total_amount"),
    (body(total_amount=N("-9999999999.995")), "out of range: total_amount"),
    # first failing range in field order; ranges come after the types, before the value rules
    (body(unit_price=N("1e20"), base_price=N("1e20")), "out of range: base_price"),
    (body(total_amount=N("1e20"), quantity=N("3000000000")), "out of range: quantity"),
    (body(unit_price=N("1e20"), quantity="2"), "wrong type: quantity must be integer"),
    (body(quantity=N("3000000000"), schema_version=N("2")), "out of range: quantity"),
    (body(total_amount=N("1e20"), discount_pct=N("500")), "out of range: total_amount"),
    # every field fits but quantity x unit_price (silver's gross_amount) does not: total 0 at 100%
    (body(quantity=N("2147483647"), unit_price=N("9999999999.99"), discount_pct=N("100"),
          total_amount=N("0")), "out of range: gross_amount"),
    (body(quantity=N("2"), unit_price=N("5000000000.00"), discount_pct=N("100"),
          total_amount=N("0")), "out of range: gross_amount"),
    (body(schema_version=N("2")), "unknown schema_version: 2"),
    (body(schema_version=N("2"), quantity=N("0")), "unknown schema_version: 2"),
    (body(schema_version=N("9223372036854775807")),
     "unknown schema_version: 9223372036854775807"),
    (body(quantity=N("-2147483648")), "quantity below 1: -2147483648"),
    (body(quantity=N("0")), "quantity below 1: 0"),
    (body(quantity=N("-3")), "quantity below 1: -3"),
    (body(discount_pct=N("100.5")), "discount_pct out of range: 100.5"),
    (body(discount_pct=N("-0.01")), "discount_pct out of range: -0.01"),
    (body(discount_pct=N("1.005e2")), "discount_pct out of range: 1.005e2"),
    (body(order_status="Placed"), "unknown order_status: Placed"),
    (body(order_status=""), "unknown order_status: "),
    (body(total_amount=N("10.011")), "total_amount mismatch: 10.011"),
    (body(total_amount=N("9.989")), "total_amount mismatch: 9.989"),
    (body(total_amount=N("120.50")), "total_amount mismatch: 120.50"),
    # 3 x 0.35 x 50% = 0.525 -> 0.53; 0.515 is 0.015 away
    (body(quantity=N("3"), unit_price=N("0.35"), discount_pct=N("50"),
          total_amount=N("0.515")), "total_amount mismatch: 0.515"),
])
def test_reject_reason(text, reason):
    fields, got = validate(text)
    assert fields is None
    assert got == reason


@pytest.mark.parametrize("overrides", [
    {},
    {"total_amount": N("10.01")},    # exactly 0.01 above: accepted
    {"total_amount": N("9.99")},     # exactly 0.01 below: accepted
    {"quantity": N("3"), "unit_price": N("0.35"), "discount_pct": N("50"),
     "total_amount": N("0.54")},     # 0.53 + 0.01
    {"quantity": N("3"), "unit_price": N("0.35"), "discount_pct": N("50"),
     "total_amount": N("0.52")},     # 0.53 - 0.01
    {"discount_pct": N("100"), "total_amount": N("0")},
    {"discount_pct": N("0.0"), "unit_price": N("1e1"), "total_amount": N("10")},
    {"customer_name": "", "event_type": "anything", "extra": [1, {"x": None}]},
    {"event_time": "2024-03-01T02:00:00+02:00"},
    # the largest values that fit: money 9999999999.994 (-> 9999999999.99), quantity 2^31-1
    {"base_price": N("9999999999.994"), "unit_price": N("9999999999.99"),
     "total_amount": N("9999999999.99")},
    {"quantity": N("2147483647"), "unit_price": N("0.000001"), "total_amount": N("2147.48")},
    # many decimals: rounded by the casts, never rejected (2 x 10.123456789 = 20.246913578)
    {"base_price": N("10.123456789"), "unit_price": N("10.123456789"), "quantity": N("2"),
     "total_amount": N("20.246913578")},
])
def test_valid_events(overrides):
    fields, reason = validate(body(**overrides))
    assert reason is None
    assert fields is not None


def test_valid_event_is_normalized_to_column_types():
    fields, _ = validate(body(unit_price=N("10.005"), total_amount=N("10.01"),
                              base_price=N("1199.999"), discount_pct=N("0.004"),
                              event_time="2024-03-01T02:00:00+02:00"))
    assert str(fields["unit_price"]) == "10.01"       # DECIMAL(12,2) HALF_UP
    assert str(fields["base_price"]) == "1200.00"
    assert str(fields["discount_pct"]) == "0.00"
    assert str(fields["total_amount"]) == "10.01"
    assert fields["event_time"] == datetime(2024, 3, 1, 0, 0)
    assert type(fields["quantity"]) is int and fields["quantity"] == 1


def test_limits_and_many_decimals_are_cast_not_rejected():
    fields, reason = validate(body(base_price=N("9999999999.994"), unit_price=N("10.123456789"),
                                   quantity=N("2147483647"), discount_pct=N("99.999"),
                                   total_amount=N("-9999999999.994")))
    # not a valid total, but every range passed: the value rules run
    assert (fields, reason) == (None, "total_amount mismatch: -9999999999.994")
    # 2 x 10.123456789 x 89.995% = 18.22120985... -> 18.22, 18.2222 is 0.0022 off
    fields, reason = validate(body(base_price=N("10.123456789"), unit_price=N("10.123456789"),
                                   quantity=N("2"), discount_pct=N("10.005"),
                                   total_amount=N("18.2222")))
    assert reason is None
    assert (str(fields["base_price"]), str(fields["unit_price"])) == ("10.12", "10.12")
    assert str(fields["discount_pct"]) == "10.01"  # DECIMAL(5,2) HALF_UP
    assert str(fields["total_amount"]) == "18.22"


# ---------------------------------------------------------------------------
# Dedupes
# ---------------------------------------------------------------------------

def test_transport_dedupe_keeps_first_landed():
    early, late = datetime(2024, 5, 1, 9), datetime(2024, 5, 1, 10)
    events = [
        # same (source, partition, seq): the copy landed first wins, not the first listed
        raw(0, body(order_id="A", order_status="cancelled"), landed_at=late, landing_file="a"),
        raw(0, body(order_id="A", order_status="placed"), landed_at=early, landing_file="z"),
        # same landed_at: landing_file breaks the tie
        raw(1, body(order_id="B", order_status="shipped"), landed_at=early, landing_file="b"),
        raw(1, body(order_id="B", order_status="returned"), landed_at=early, landing_file="a"),
        # a different partition with the same seq is a different event
        raw(1, body(order_id="C"), partition="1"),
    ]
    t = compute_reference(events)
    assert [(o["order_id"], o["order_status"]) for o in t["bronze.orders"]] == [
        ("A", "placed"), ("B", "returned"), ("C", "placed")]
    assert reconciliation(events) == {
        "received": 5, "transport_duplicates": 2, "valid_events": 3, "rejected": 0,
        "producer_duplicates": 0, "orders": 3}


def test_transport_dedupe_without_landed_at_keeps_input_order():
    events = [RawEvent(SRC, "0", 0, body(order_status="delivered")),
              RawEvent(SRC, "0", 0, body(order_status="returned"))]
    assert compute_reference(events)["bronze.orders"][0]["order_status"] == "delivered"


def test_latest_wins_by_event_time_then_sequence_then_partition():
    t0 = "2024-03-01T00:00:00Z"
    events = [
        # X: a later event_time wins even with a smaller sequence number
        raw(9, body(order_id="X", event_time=t0, order_status="placed")),
        raw(1, body(order_id="X", event_time="2024-03-01T00:00:01Z", order_status="shipped"),
            partition="1"),
        # Y: same event_time, the greater sequence_number wins
        raw(5, body(order_id="Y", event_time=t0, order_status="cancelled"), partition="1"),
        raw(7, body(order_id="Y", event_time=t0, order_status="delivered")),
        # Z: same event_time and sequence_number, the greater partition_id wins
        raw(20, body(order_id="Z", event_time=t0, order_status="placed")),
        raw(20, body(order_id="Z", event_time=t0, order_status="returned"), partition="1"),
        # V: partition_id is a STRING, so "9" > "10"
        raw(40, body(order_id="V", event_time=t0, order_status="shipped"), partition="9"),
        raw(40, body(order_id="V", event_time=t0, order_status="placed"), partition="10"),
        # offsets are compared in UTC: 01:30+02:00 is 23:30 the day before, earlier
        raw(30, body(order_id="W", event_time="2024-03-01T01:30:00+02:00",
                     order_status="delivered")),
        raw(31, body(order_id="W", event_time="2024-02-29T23:45:00Z", order_status="cancelled"),
            partition="1"),
    ]
    t = compute_reference(events)
    assert {o["order_id"]: o["order_status"] for o in t["bronze.orders"]} == {
        "V": "shipped", "W": "cancelled", "X": "shipped", "Y": "delivered", "Z": "returned"}
    assert reconciliation(events)["producer_duplicates"] == 5


# ---------------------------------------------------------------------------
# The end-to-end scenario (values in comments worked out by hand)
# ---------------------------------------------------------------------------

def scenario() -> list[RawEvent]:
    o1_placed = body(
        event_id="e1", order_id="O1", customer_id="C1", customer_name="Ann",
        city="Austin", state="TX", order_ts="2024-03-03T10:15:00Z",  # a Sunday
        event_time="2024-03-03T10:16:00Z", product_id="P001", product_name="Laptop",
        brand="Dell", category="Electronics", base_price=N("1200.00"),
        unit_price=N("1000.00"), quantity=N("1"), discount_pct=N("0"),
        total_amount=N("1000.00"), order_status="placed")
    o1_delivered = o1_placed.replace('"e1"', '"e1b"').replace(
        '"2024-03-03T10:16:00Z"', '"2024-03-07T09:00:00Z"').replace(
        '"placed"', '"delivered"')
    return [
        raw(0, o1_placed, landed_at=datetime(2024, 5, 1, 9), landing_file="a.jsonl"),
        # transport redelivery of the same event, landed later
        raw(0, o1_placed, landed_at=datetime(2024, 5, 1, 10), landing_file="b.jsonl"),
        # producer resend of O1 with a later event_time
        raw(1, o1_delivered),
        # O2: 2 x 2.97 x 90% = 5.346 -> 5.35; order_ts is 06:00 UTC on Tuesday
        raw(2, body(event_id="e2", order_id="O2", customer_id="C1", customer_name="Ann Lee",
                    city="Dallas", state="TX", order_ts="2024-03-05T08:00:00+02:00",
                    event_time="2024-03-05T06:01:00Z", product_id="P002",
                    product_name="Headphones", brand="Sony", category="Electronics",
                    base_price=N("100.00"), unit_price=N("2.97"), quantity=N("2"),
                    discount_pct=N("10"), total_amount=N("5.35"), order_status="shipped")),
        # O3 carries an older version of P003 that O4's later event replaces
        raw(0, body(event_id="e3", order_id="O3", customer_id="C2", customer_name="Bob",
                    city="Austin", state="TX", order_ts="2024-03-04T23:30:00",
                    event_time="2024-03-04T23:31:00Z", product_id="P003",
                    product_name="Desk (old)", brand="IKEA", category="Furniture",
                    base_price=N("240.00"), unit_price=N("2.65"), quantity=N("1"),
                    discount_pct=N("0"), total_amount=N("2.65"), order_status="placed"),
            partition="1"),
        raw(1, body(event_id="e4", order_id="O4", customer_id="C2", customer_name="Bob",
                    city="Austin", state="TX", order_ts="2024-03-06T00:00:00Z",
                    event_time="2024-03-06T00:01:00Z", product_id="P003",
                    product_name="Desk", brand="IKEA", category="Furniture",
                    base_price=N("250.00"), unit_price=N("2.70"), quantity=N("1"),
                    discount_pct=N("0.00"), total_amount=N("2.70"), order_status="placed"),
            partition="1"),
        # O5: cancelled, the only order of C3: no revenue
        raw(0, body(event_id="e5", order_id="O5", customer_id="C3", customer_name="Cy",
                    city="Boston", state="MA", order_ts="2024-04-01T12:00:00Z",
                    event_time="2024-04-01T12:01:00Z", product_id="P002",
                    product_name="Headphones", brand="Sony", category="Electronics",
                    base_price=N("100.00"), unit_price=N("100.00"), quantity=N("1"),
                    discount_pct=N("20"), total_amount=N("80.00"), order_status="cancelled"),
            partition="2"),
        raw(1, "{not json", partition="2"),
        raw(2, body(order_id="O6", quantity=N("0")), partition="2"),
    ]


@pytest.fixture(scope="module")
def tables():
    return compute_reference(scenario())


def test_every_table_has_its_columns_in_order(tables):
    assert set(tables) == set(COLUMNS) == set(KEYS)
    assert len(tables) == 16
    for name, rows in tables.items():
        for row in rows:
            assert list(row) == COLUMNS[name], name


def test_reconciliation():
    r = reconciliation(scenario())
    assert r == {"received": 9, "transport_duplicates": 1, "valid_events": 6,
                 "rejected": 2, "producer_duplicates": 1, "orders": 5}
    assert r["received"] == (r["orders"] + r["rejected"] + r["transport_duplicates"]
                             + r["producer_duplicates"])


def test_rejected_events(tables):
    assert [(r["partition_id"], r["sequence_number"], r["reason"])
            for r in tables["bronze.rejected_events"]] == [
        ("2", 1, "invalid JSON"), ("2", 2, "quantity below 1: 0")]
    assert tables["bronze.rejected_events"][0]["body"] == "{not json"
    assert tables["bronze.rejected_events"][0]["source"] == SRC


def test_bronze_orders_and_products(tables):
    orders = {o["order_id"]: o for o in tables["bronze.orders"]}
    assert sorted(orders) == ["O1", "O2", "O3", "O4", "O5"]
    assert orders["O1"]["order_status"] == "delivered"
    assert orders["O1"]["event_id"] == "e1b"
    assert orders["O1"]["event_time"] == datetime(2024, 3, 7, 9, 0)
    assert orders["O2"]["order_ts"] == datetime(2024, 3, 5, 6, 0)
    assert str(orders["O2"]["unit_price"]) == "2.97"
    assert str(orders["O4"]["discount_pct"]) == "0.00"
    assert str(orders["O1"]["discount_pct"]) == "0.00"   # written as 0
    catalog = ("product_id", "product_name", "brand", "category", "base_price")
    assert tables["bronze.products"][0]["event_time"] == datetime(2024, 3, 7, 9, 0)  # its latest event
    assert [{k: p[k] for k in catalog} for p in tables["bronze.products"]] == [
        {"product_id": "P001", "product_name": "Laptop", "brand": "Dell",
         "category": "Electronics", "base_price": D("1200.00")},
        {"product_id": "P002", "product_name": "Headphones", "brand": "Sony",
         "category": "Electronics", "base_price": D("100.00")},
        {"product_id": "P003", "product_name": "Desk", "brand": "IKEA",
         "category": "Furniture", "base_price": D("250.00")},
    ]


def test_silver_order_details(tables):
    s = {r["order_id"]: r for r in tables["silver.order_details"]}
    derived = ("product_name", "base_price", "order_date", "order_hour", "day_of_week",
               "order_month", "gross_amount", "discount_amount", "is_revenue",
               "is_delivered", "discount_band")
    got = {k: tuple(r[c] for c in derived) for k, r in s.items()}
    assert got == {
        "O1": ("Laptop", D("1200.00"), date(2024, 3, 3), 10, 1, "2024-03", D("1000.00"),
               D("0.00"), True, True, "none"),
        "O2": ("Headphones", D("100.00"), date(2024, 3, 5), 6, 3, "2024-03", D("5.94"),
               D("0.59"), True, False, "1-10%"),
        # product fields from bronze.products, not from O3's own event
        "O3": ("Desk", D("250.00"), date(2024, 3, 4), 23, 2, "2024-03", D("2.65"),
               D("0.00"), True, False, "none"),
        "O4": ("Desk", D("250.00"), date(2024, 3, 6), 0, 4, "2024-03", D("2.70"),
               D("0.00"), True, False, "none"),
        "O5": ("Headphones", D("100.00"), date(2024, 4, 1), 12, 2, "2024-04", D("100.00"),
               D("20.00"), False, False, "11-20%"),
    }
    assert type(s["O1"]["is_revenue"]) is bool
    assert str(s["O1"]["discount_amount"]) == "0.00"


def test_day_of_week_every_day():
    # 2024-03-03 is a Sunday: Sunday=1 ... Saturday=7
    events = [raw(i, body(order_id=f"D{i}", order_ts=f"2024-03-{3 + i:02d}T12:00:00Z"))
              for i in range(7)]
    rows = compute_reference(events)["silver.order_details"]
    assert [r["day_of_week"] for r in rows] == [1, 2, 3, 4, 5, 6, 7]


@pytest.mark.parametrize("pct, band", [
    ("0", "none"), ("0.01", "1-10%"), ("10", "1-10%"), ("10.01", "11-20%"),
    ("20", "11-20%"), ("20.01", "21%+"), ("100", "21%+"),
])
def test_discount_band(pct, band):
    d = Fraction(pct)
    total = round_half_up(Fraction(100) * (100 - d) / 100, 2)
    events = [raw(0, body(unit_price=N("100"), discount_pct=N(pct),
                          total_amount=N(str(total))))]
    assert compute_reference(events)["silver.order_details"][0]["discount_band"] == band


def test_gold_sales_by_brand_category(tables):
    assert tables["gold.sales_by_brand_category"] == [
        {"brand": "Dell", "category": "Electronics", "order_count": 1, "units_sold": 1,
         "gross_sales": D("1000.00"), "discount_total": D("0.00"),
         "net_revenue": D("1000.00"), "unique_customers": 1, "avg_order_value": D("1000.00")},
        # 5.35 / 2 = 2.675 -> 2.68
        {"brand": "IKEA", "category": "Furniture", "order_count": 2, "units_sold": 2,
         "gross_sales": D("5.35"), "discount_total": D("0.00"), "net_revenue": D("5.35"),
         "unique_customers": 1, "avg_order_value": D("2.68")},
        {"brand": "Sony", "category": "Electronics", "order_count": 1, "units_sold": 2,
         "gross_sales": D("5.94"), "discount_total": D("0.59"), "net_revenue": D("5.35"),
         "unique_customers": 1, "avg_order_value": D("5.35")},
    ]


def test_gold_location_performance(tables):
    rows = tables["gold.location_performance"]
    assert [tuple(r.values()) for r in rows] == [
        ("Austin", "TX", 3, 3, D("1005.35"), 2, 1, 0, D("0.3333")),
        ("Boston", "MA", 1, 0, D("0.00"), 1, 0, 1, D("0.0000")),
        ("Dallas", "TX", 1, 1, D("5.35"), 1, 0, 0, D("0.0000")),
    ]
    assert str(rows[1]["net_revenue"]) == "0.00"
    assert str(rows[1]["delivery_rate"]) == "0.0000"


def test_gold_product_performance(tables):
    assert [tuple(r.values()) for r in tables["gold.product_performance"]] == [
        ("P001", "Laptop", "Dell", "Electronics", 1, 1, D("1000.00"), D("0.00"),
         D("1000.00"), D("0.00"), D("1000.00")),
        ("P002", "Headphones", "Sony", "Electronics", 1, 2, D("5.94"), D("0.59"),
         D("5.35"), D("10.00"), D("2.68")),
        ("P003", "Desk", "IKEA", "Furniture", 2, 2, D("5.35"), D("0.00"),
         D("5.35"), D("0.00"), D("2.68")),
    ]


def test_gold_customer_insights(tables):
    assert [tuple(r.values()) for r in tables["gold.customer_insights"]] == [
        # name and city from O2 (latest order_ts); 1005.35 / 2 = 502.675 -> 502.68
        ("C1", "Ann Lee", "Dallas", 2, 2, D("1005.35"), D("502.68"),
         datetime(2024, 3, 3, 10, 15), datetime(2024, 3, 5, 6, 0), "Dell", "Medium"),
        ("C2", "Bob", "Austin", 2, 2, D("5.35"), D("2.68"),
         datetime(2024, 3, 4, 23, 30), datetime(2024, 3, 6, 0, 0), "IKEA", "Low"),
        # no revenue order: lifetime 0.00, average and favorite brand NULL
        ("C3", "Cy", "Boston", 1, 0, D("0.00"), None,
         datetime(2024, 4, 1, 12, 0), datetime(2024, 4, 1, 12, 0), None, "Low"),
    ]
    assert str(tables["gold.customer_insights"][2]["lifetime_value"]) == "0.00"


def test_mv_top_brands_rank_ties(tables):
    assert [tuple(r.values()) for r in tables["gold.mv_top_brands"]] == [
        ("Dell", D("1000.00"), 1, 1, 1),
        ("IKEA", D("5.35"), 2, 1, 2),
        ("Sony", D("5.35"), 1, 1, 2),
    ]


def test_mv_category_summary(tables):
    # total net revenue 1010.70; 100 x 1005.35 / 1010.70 = 99.4706.. ; 100 x 5.35 / 1010.70 = 0.5293..
    assert [tuple(r.values()) for r in tables["gold.mv_category_summary"]] == [
        ("Electronics", 2, 3, D("1005.35"), D("502.68"), D("99.47")),
        ("Furniture", 2, 2, D("5.35"), D("2.68"), D("0.53")),
    ]


def test_mv_location_ranking(tables):
    assert [tuple(r.values()) for r in tables["gold.mv_location_ranking"]] == [
        ("Austin", "TX", D("1005.35"), 3, D("0.3333"), 1),
        ("Boston", "MA", D("0.00"), 1, D("0.0000"), 3),
        ("Dallas", "TX", D("5.35"), 1, D("0.0000"), 2),
    ]


def test_mv_product_ranking_rank_gaps(tables):
    # units 1, 2, 2 -> units_rank 3, 1, 1 (ties share a rank, the next one skips)
    assert [tuple(r.values()) for r in tables["gold.mv_product_ranking"]] == [
        ("P001", "Laptop", "Dell", 1, D("1000.00"), 1, 3),
        ("P002", "Headphones", "Sony", 2, D("5.35"), 2, 1),
        ("P003", "Desk", "IKEA", 2, D("5.35"), 2, 1),
    ]


def test_mv_customer_segments(tables):
    assert [tuple(r.values()) for r in tables["gold.mv_customer_segments"]] == [
        ("Low", 2, D("5.35"), D("2.68")),
        ("Medium", 1, D("1005.35"), D("1005.35")),
    ]


def test_mv_vip_customers(tables):
    assert [tuple(r.values()) for r in tables["gold.mv_vip_customers"]] == [
        (1, "C1", "Ann Lee", "Dallas", D("1005.35"), 2, "Dell"),
        (2, "C2", "Bob", "Austin", D("5.35"), 2, "IKEA"),
        (3, "C3", "Cy", "Boston", D("0.00"), 1, None),
    ]


def test_mv_brand_location_matrix(tables):
    assert [tuple(r.values()) for r in tables["gold.mv_brand_location_matrix"]] == [
        ("Dell", "Austin", 1, D("1000.00")),
        ("IKEA", "Austin", 2, D("5.35")),
        ("Sony", "Dallas", 1, D("5.35")),
    ]


def test_mv_discount_analysis(tables):
    # none: O1, O3, O4 -> 1005.35 / 3 = 335.116.. -> 335.12
    assert [tuple(r.values()) for r in tables["gold.mv_discount_analysis"]] == [
        ("1-10%", 1, 2, D("5.94"), D("0.59"), D("5.35"), D("5.35")),
        ("none", 3, 3, D("1005.35"), D("0.00"), D("1005.35"), D("335.12")),
    ]


# ---------------------------------------------------------------------------
# Tie-breaks in customer_insights and the VIP list
# ---------------------------------------------------------------------------

def test_customer_ties_and_segments():
    ts = "2024-03-10T10:00:00Z"

    def order(seq, oid, cid, name, brand, price, status="placed", order_ts=ts):
        return raw(seq, body(order_id=oid, customer_id=cid, customer_name=name,
                             city=name + "ville", order_ts=order_ts, brand=brand,
                             product_id="P-" + brand, unit_price=N(price),
                             total_amount=N(price), order_status=status))

    events = [
        # K1: two orders at the same order_ts -> name from the greatest order_id (K1-B);
        # brands tie on 3000.00 -> the alphabetically first (Apple); 6000.00 -> High
        order(0, "K1-A", "K1", "First", "Apple", "3000.00"),
        order(1, "K1-B", "K1", "Second", "Zed", "3000.00"),
        # K2: exactly 1000.00 -> Medium; a returned order counts but is not revenue
        order(2, "K2-A", "K2", "Kay", "Apple", "1000.00"),
        order(3, "K2-B", "K2", "Kay", "Zed", "50.00", status="returned"),
        # K3: exactly 5000.00 -> High
        order(4, "K3-A", "K3", "Lee", "Zed", "5000.00"),
    ]
    # eleven small customers, two of them tied with K2 on 1000.00
    for i in range(11):
        price = "1000.00" if i < 2 else "1.00"
        events.append(order(10 + i, f"S{i:02d}", f"S{i:02d}", f"S{i}", "Apple", price))
    t = compute_reference(events)
    ci = {r["customer_id"]: r for r in t["gold.customer_insights"]}
    assert (ci["K1"]["customer_name"], ci["K1"]["favorite_brand"], ci["K1"]["segment"]) == (
        "Second", "Apple", "High")
    assert (ci["K2"]["order_count"], ci["K2"]["revenue_orders"], ci["K2"]["lifetime_value"],
            ci["K2"]["segment"]) == (2, 1, D("1000.00"), "Medium")
    assert ci["K3"]["segment"] == "High"
    # lifetime desc, then customer_id asc; ten rows numbered 1..10 without gaps
    assert [(r["vip_rank"], r["customer_id"]) for r in t["gold.mv_vip_customers"]] == [
        (1, "K1"), (2, "K3"), (3, "K2"), (4, "S00"), (5, "S01"),
        (6, "S02"), (7, "S03"), (8, "S04"), (9, "S05"), (10, "S06")]
    assert [tuple(r.values()) for r in t["gold.mv_customer_segments"]] == [
        ("High", 2, D("11000.00"), D("5500.00")),
        ("Low", 9, D("9.00"), D("1.00")),
        ("Medium", 3, D("3000.00"), D("1000.00")),
    ]


def test_empty_input_gives_empty_tables():
    t = compute_reference([])
    assert all(rows == [] for rows in t.values())
    assert reconciliation([]) == {"received": 0, "transport_duplicates": 0, "valid_events": 0,
                                  "rejected": 0, "producer_duplicates": 0, "orders": 0}
