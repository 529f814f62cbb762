"""Every SQL layer (setup, bronze, silver, gold, views) on DuckDB against the independent reference.

Landing files are written by hand, as ingest would write them, with generated events plus events
that break each rule, producer resends and transport redeliveries; the SQL files then run through
the real warehouse adapter, and every table must equal tests/reference.py value by value.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest
import sqlglot

from ecomctl.events.generator import generate_messages
from ecomctl.warehouse import migrations
from ecomctl.warehouse.base import Names
from ecomctl.warehouse.duckdb import DuckDBWarehouse
from ecomctl.warehouse.sqlfiles import load_step, render, split_statements
from reference import COLUMNS, KEYS, RawEvent, compute_reference, reconciliation, sort_rows

# Names other than the defaults, so a name hard-coded in a SQL file shows up as a failure.
NAMES = Names(catalog="shop", bronze="raw_layer", silver="clean_layer", gold="mart",
              volume="drop_zone")
LAYER = {"bronze": NAMES.bronze, "silver": NAMES.silver, "gold": NAMES.gold}
SOURCE = "local/orders"
AS_OF = datetime(2026, 11, 26, tzinfo=timezone.utc)
STEPS = ("bronze", "silver", "gold", "views")

RAW_COLUMNS = ["source", "partition_id", "sequence_number", "offset", "enqueued_time",
               "partition_key", "body", "landing_file", "landed_at"]
# rejected_events: the raw row with body_encoding (added to raw_events by V004) beside body, then reason
REJECTED_COLUMNS = RAW_COLUMNS[:7] + ["body_encoding"] + RAW_COLUMNS[7:] + ["reason"]

# A valid event in the field order of docs/design.md; numbers are written verbatim (JSON text).
_TEMPLATE = {
    "schema_version": "1", "event_id": '"e-hand"', "event_type": '"order_created"',
    "event_time": '"2026-11-20T00:00:00Z"', "order_id": '"HAND-0"', "customer_id": '"C9001"',
    "customer_name": '"Pat Hand"', "customer_email": '"pat@example.com"', "city": '"Springfield"',
    "state": '"IL"', "country": '"US"', "order_ts": '"2026-11-01T10:00:00Z"',
    "product_id": '"P006"', "product_name": '"Running Shoes"', "brand": '"Nike"',
    "category": '"Footwear"', "base_price": "129.99", "unit_price": "129.99", "quantity": "2",
    "discount_pct": "10.00", "total_amount": "233.98", "payment_method": '"credit_card"',
    "order_status": '"placed"',
}
OMIT = None


def event(**fields: str | None) -> str:
    """The template with some fields replaced by raw JSON text (OMIT drops the field)."""
    merged = {**_TEMPLATE, **fields}
    return "{" + ",".join(f'"{k}":{v}' for k, v in merged.items() if v is not OMIT) + "}"


# (body, exact reason): one per rule of docs/tables.md, plus the order of the checks.
REJECTS = [
    ("not json {", "invalid JSON"),
    ("", "empty body"),
    ("[1, 2]", "not a JSON object"),
    ("null", "not a JSON object"),
    ('"just a string"', "not a JSON object"),
    (event(customer_email=OMIT), "missing field: customer_email"),
    (event(brand="null"), "missing field: brand"),
    (event(order_status=OMIT, event_id=OMIT), "missing field: event_id"),
    # presence of every field is checked before any type
    (event(quantity='"2"', payment_method=OMIT), "missing field: payment_method"),
    (event(schema_version='"1"'), "wrong type: schema_version must be integer"),
    (event(schema_version="1.0"), "wrong type: schema_version must be integer"),
    (event(quantity='"2"'), "wrong type: quantity must be integer"),
    (event(quantity="2.5"), "wrong type: quantity must be integer"),
    (event(quantity="true"), "wrong type: quantity must be integer"),
    (event(event_id="7"), "wrong type: event_id must be string"),
    (event(event_time="12345"), "wrong type: event_time must be timestamp"),
    (event(order_ts='"yesterday"'), "wrong type: order_ts must be timestamp"),
    (event(order_ts='"2026-02-30T10:00:00Z"'), "wrong type: order_ts must be timestamp"),
    (event(order_ts='"2026-11-01"'), "wrong type: order_ts must be timestamp"),
    (event(city="42"), "wrong type: city must be string"),
    (event(unit_price='"129.99"'), "wrong type: unit_price must be number"),
    (event(order_status='["placed"]'), "wrong type: order_status must be string"),
    # the first failing field in the field order wins
    (event(city="42", quantity='"2"'), "wrong type: city must be string"),
    (event(schema_version="2"), "unknown schema_version: 2"),
    (event(quantity="0"), "quantity below 1: 0"),
    (event(quantity="-3"), "quantity below 1: -3"),
    (event(discount_pct="120.5"), "discount_pct out of range: 120.5"),
    (event(discount_pct="-5"), "discount_pct out of range: -5"),
    (event(order_status='"Shipped"'), "unknown order_status: Shipped"),
    (event(total_amount="234"), "total_amount mismatch: 234"),
    (event(total_amount="233.96"), "total_amount mismatch: 233.96"),  # 0.02 off
    # a repeated key is not JSON (Databricks' parse_json refuses it; DuckDB's reader takes it)
    (event()[:-1] + ',"order_id":"HAND-DUP"}', "invalid JSON"),
    ('{"a":1,"a":1}', "invalid JSON"),
    # NaN / Infinity and trailing commas are not JSON (DuckDB's reader takes them)
    (event()[:-1] + ',}', "invalid JSON"),
    (event(discount_pct="NaN"), "invalid JSON"),
    (event(unit_price="-Infinity"), "invalid JSON"),
    ("nan", "invalid JSON"),
    # numbers that do not fit their column are rejected, never cast (a failing cast would fail
    # the statement on every run): after the types, before the value rules, in field order
    (event(base_price="100000000000000000000.0"), "out of range: base_price"),
    (event(unit_price="100000000000000000000.0"), "out of range: unit_price"),
    (event(unit_price="1e400"), "out of range: unit_price"),
    (event(quantity="3000000000"), "out of range: quantity"),
    (event(quantity="9223372036854775807"), "out of range: quantity"),  # a BIGINT, not an INT
    (event(total_amount="100000000000000000000.0"), "out of range: total_amount"),
    (event(total_amount="9999999999.995"), "out of range: total_amount"),  # rounds to 10^10
    # each field fits, their product (silver's gross_amount) does not
    (event(quantity="2147483647", unit_price="9999999999.99", discount_pct="100", total_amount="0"),
     "out of range: gross_amount"),
    (event(unit_price="1e20", quantity="3000000000", schema_version="2"), "out of range: unit_price"),
    # an integer beyond BIGINT is not an integer (Databricks: DECIMAL(p,0); DuckDB: UBIGINT / DOUBLE)
    (event(schema_version="99999999999999999999"), "wrong type: schema_version must be integer"),
    (event(schema_version="9223372036854775808"), "wrong type: schema_version must be integer"),
    (event(quantity="99999999999999999999"), "wrong type: quantity must be integer"),
    (event(discount_pct="100000000000000000000000"),
     "discount_pct out of range: 100000000000000000000000"),
]

# Valid events that pin edge cases down; each is its own order unless said otherwise.
ACCEPTED = [
    event(order_id='"HAND-1"', total_amount="233.99"),  # exactly 0.01 off is accepted
    event(order_id='"HAND-2"', order_ts='"2026-11-01T23:30:00+02:00"'),  # offset: 21:30 UTC
    event(order_id='"HAND-3"', order_ts='"2026-11-01 08:15:30.123456"', event_type='"order_updated"'),
    event(order_id='"HAND-4"', customer_name='""', extra='{"ignored": true}'),
    event(order_id='"HAND-5"', customer_id='"C9002"', order_status='"cancelled"'),  # no revenue
    event(order_id='"HAND-6"', discount_pct="0", unit_price="10", quantity="3", total_amount="30"),
    # producer resend of HAND-1: the later event_time wins
    event(order_id='"HAND-1"', event_time='"2026-11-21T00:00:00Z"', order_status='"delivered"'),
    # a later event renames a product: silver takes product fields from bronze.products
    event(order_id='"HAND-7"', event_time='"2026-12-01T00:00:00Z"', product_id='"P010"',
          product_name='"Bookshelf (oak)"', brand='"IKEA"', category='"Furniture"',
          base_price="79.99", unit_price="79.99", quantity="1", discount_pct="0",
          total_amount="79.99"),
    # many decimals are rounded by the casts, never fail them (2 x 10.123456789 = 20.246913578)
    event(order_id='"HAND-8"', product_id='"P900"', base_price="10.123456789",
          unit_price="10.123456789", quantity="2", discount_pct="0.005",
          total_amount="20.246913578"),
    # the largest values that fit: money 9999999999.994 (-> 9999999999.99), quantity 2^31 - 1
    event(order_id='"HAND-9"', product_id='"P901"', base_price="9999999999.994",
          unit_price="9999999999.99", quantity="1", discount_pct="0",
          total_amount="9999999999.99"),
    event(order_id='"HAND-10"', product_id='"P902"', base_price="0.01", unit_price="0.000001",
          quantity="2147483647", discount_pct="0", total_amount="2147.48"),
]


def _landing_file(folder: Path, name: str, rows: list[tuple[str, int, str]], landed_at: str) -> None:
    """One JSON-lines landing file whose keys are exactly raw_events' columns."""
    lines = []
    for partition_id, sequence_number, body in rows:
        lines.append(json.dumps({
            "source": SOURCE, "partition_id": partition_id, "sequence_number": sequence_number,
            "offset": str(sequence_number * 512), "enqueued_time": "2026-11-26T00:00:00.000000Z",
            "partition_key": None, "body": body, "landing_file": name, "landed_at": landed_at,
        }, ensure_ascii=False))
    (folder / name).write_text("\n".join(lines) + "\n", encoding="utf-8")


def _batches() -> list[tuple[str, str, list[tuple[str, int, str]]]]:
    """Landing batches (file name, landed_at, rows): generated events over three partitions,
    then the hand-made events on partition 9, then a redelivery of the first five events."""
    per_partition: dict[str, int] = {}
    generated = []
    for key, body in generate_messages(600, seed=5, as_of=AS_OF):
        partition_id = str(sum(key.encode()) % 3)
        sequence_number = per_partition.get(partition_id, 0)
        per_partition[partition_id] = sequence_number + 1
        generated.append((partition_id, sequence_number, body.decode()))
    # A producer resend: the same orders sent again (new sequence numbers, same event_time).
    for key, body in generate_messages(20, seed=5, as_of=AS_OF):
        partition_id = str(sum(key.encode()) % 3)
        sequence_number = per_partition[partition_id]
        per_partition[partition_id] = sequence_number + 1
        generated.append((partition_id, sequence_number, body.decode()))
    hand = [("9", i, body) for i, body in enumerate([b for b, _ in REJECTS] + ACCEPTED)]
    half = len(generated) // 2
    return [
        ("20261126T010000_batch-1.json", "2026-11-26T01:00:00.000000Z", generated[:half]),
        ("20261126T020000_batch-2.json", "2026-11-26T02:00:00.000000Z", generated[half:] + hand),
        # transport redelivery: already-landed events landed again, later, under another name
        ("20261126T030000_batch-3.json", "2026-11-26T03:00:00.000000Z", generated[:5]),
    ]


def _raw_events(batches) -> list[RawEvent]:
    return [RawEvent(SOURCE, pid, seq, body,
                     datetime.strptime(landed_at, "%Y-%m-%dT%H:%M:%S.%fZ"), name)
            for name, landed_at, rows in batches for pid, seq, body in rows]


def _run_step(warehouse: DuckDBWarehouse, step: str) -> None:
    for sql_file in load_step(step):
        warehouse.run_file(sql_file)


def _fqn(table: str) -> str:
    layer, name = table.split(".")
    return f"${{catalog}}.{LAYER[layer]}.{name}"


def _rows(warehouse: DuckDBWarehouse, table: str) -> tuple[list[str], list[dict]]:
    result = warehouse.query(f"SELECT * FROM {_fqn(table)}")
    return result.columns, [dict(zip(result.columns, row)) for row in result.rows]


def _snapshot(warehouse: DuckDBWarehouse) -> dict[str, list[tuple]]:
    tables = list(KEYS) + ["bronze.raw_events", "bronze.received_events"]
    return {t: sorted(warehouse.query(f"SELECT * FROM {_fqn(t)}").rows, key=repr) for t in tables}


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    """Setup, then two landing rounds each followed by the bronze step, then silver, gold, views."""
    home = tmp_path_factory.mktemp("layers")
    landing = home / "landing"
    warehouse = DuckDBWarehouse(home / "ecommerce.duckdb", NAMES, volumes_root=landing)
    migrations.apply_pending(warehouse, load_step("setup"))
    assert landing.is_dir(), "CREATE VOLUME maps to the landing folder"
    batches = _batches()
    # Round 1: the first file; round 2: the rest (COPY INTO must load only the new files).
    for round_batches in (batches[:1], batches[1:]):
        for name, landed_at, rows in round_batches:
            _landing_file(landing, name, rows, landed_at)
        _run_step(warehouse, "bronze")
    for step in STEPS[1:]:
        _run_step(warehouse, step)
    raw = _raw_events(batches)
    yield warehouse, raw, compute_reference(raw)
    warehouse.close()


@pytest.mark.parametrize("table", list(KEYS))
def test_table_equals_reference(pipeline, table):
    warehouse, _, reference = pipeline
    _, rows = _rows(warehouse, table)
    got = sort_rows(table, [{c: r[c] for c in COLUMNS[table]} for r in rows])
    assert len(got) == len(reference[table])
    for got_row, expected_row in zip(got, reference[table]):
        assert got_row == expected_row


@pytest.mark.parametrize("table", list(KEYS))
def test_columns_in_contract_order(pipeline, table):
    warehouse, _, _ = pipeline
    columns, _ = _rows(warehouse, table)
    expected = REJECTED_COLUMNS if table == "bronze.rejected_events" else COLUMNS[table]
    assert columns == expected


def test_raw_events_hold_every_landed_row_once(pipeline):
    warehouse, raw, _ = pipeline
    got = warehouse.query(
        f"SELECT source, partition_id, sequence_number, body, landed_at, landing_file, `offset`, "
        f"enqueued_time FROM {_fqn('bronze.raw_events')}").rows
    assert sorted(r[:6] for r in got) == sorted(
        (e.source, e.partition_id, e.sequence_number, e.body, e.landed_at, e.landing_file) for e in raw)
    # Timestamps land as UTC wall-clock values; offsets are strings.
    assert {r[7] for r in got} == {datetime(2026, 11, 26)}
    assert all(r[6] == str(r[2] * 512) for r in got)


@pytest.mark.parametrize("index, body, reason", [(i, b, r) for i, (b, r) in enumerate(REJECTS)],
                         ids=[r for _, r in REJECTS])
def test_reject_reason(pipeline, index, body, reason):
    warehouse, _, _ = pipeline
    rows = warehouse.query(
        f"SELECT reason, body FROM {_fqn('bronze.rejected_events')} "
        f"WHERE partition_id = '9' AND sequence_number = {index}").rows
    assert rows == [(reason, body)]


def test_hand_made_valid_events_are_orders(pipeline):
    warehouse, _, _ = pipeline
    rows = dict(warehouse.query(
        f"SELECT order_id, order_status FROM {_fqn('bronze.orders')} "
        "WHERE order_id LIKE 'HAND-%'").rows)
    assert rows == {"HAND-1": "delivered", "HAND-2": "placed", "HAND-3": "placed",
                    "HAND-4": "placed", "HAND-5": "cancelled", "HAND-6": "placed",
                    "HAND-7": "placed", "HAND-8": "placed", "HAND-9": "placed",
                    "HAND-10": "placed"}
    (order_ts,), = warehouse.query(
        f"SELECT order_ts FROM {_fqn('bronze.orders')} WHERE order_id = 'HAND-2'").rows
    assert order_ts == datetime(2026, 11, 1, 21, 30)  # +02:00 converted to UTC
    (name,), = warehouse.query(
        f"SELECT DISTINCT product_name FROM {_fqn('silver.order_details')} "
        "WHERE product_id = 'P010'").rows
    assert name == "Bookshelf (oak)"  # the re-join uses the latest product event
    rows = warehouse.query(
        f"SELECT order_id, quantity, unit_price, discount_pct, total_amount FROM "
        f"{_fqn('bronze.orders')} WHERE order_id IN ('HAND-8', 'HAND-9', 'HAND-10')").rows
    assert sorted(rows) == [
        ("HAND-10", 2147483647, Decimal("0.00"), Decimal("0.00"), Decimal("2147.48")),
        ("HAND-8", 2, Decimal("10.12"), Decimal("0.01"), Decimal("20.25")),
        ("HAND-9", 1, Decimal("9999999999.99"), Decimal("0.00"), Decimal("9999999999.99"))]


def test_reconciliation(pipeline):
    warehouse, raw, _ = pipeline

    def count(table: str, where: str = "") -> int:
        return warehouse.query(f"SELECT COUNT(*) FROM {_fqn(table)} {where}").rows[0][0]

    expected = reconciliation(raw)
    assert count("bronze.raw_events") == expected["received"]
    received = count("bronze.received_events")
    assert len(raw) - received == expected["transport_duplicates"] == 5
    assert count("bronze.received_events", "WHERE reason IS NULL") == expected["valid_events"]
    assert count("bronze.rejected_events") == expected["rejected"] == len(REJECTS)
    assert count("bronze.orders") == expected["orders"]
    assert expected["producer_duplicates"] == 21  # 20 resent + one hand-made resend
    assert received == expected["orders"] + expected["rejected"] + expected["producer_duplicates"]


def test_copy_into_loads_each_landing_file_once(pipeline):
    warehouse, raw, _ = pipeline
    (load_file,) = [f for f in load_step("bronze") if f.name.startswith("bronze/00_")]
    results = warehouse.run_file(load_file)
    assert [r.rows for r in results] == [0]
    assert warehouse.query(f"SELECT COUNT(*) FROM {_fqn('bronze.raw_events')}").rows == [(len(raw),)]


def test_every_step_run_twice_gives_identical_tables(pipeline):
    warehouse, _, _ = pipeline
    before = _snapshot(warehouse)
    for step in STEPS:
        _run_step(warehouse, step)
    assert _snapshot(warehouse) == before


def test_setup_applies_each_migration_once(pipeline):
    warehouse, _, _ = pipeline
    assert migrations.apply_pending(warehouse, load_step("setup")) == []


@pytest.mark.parametrize("step", ("setup",) + STEPS)
def test_statements_parse_as_databricks_sql(step):
    files = load_step(step)
    assert files, f"sql/{step} has no files"
    for sql_file in files:
        text = render(sql_file.text, NAMES.as_mapping(), sql_file.name)
        for statement in split_statements(text, sql_file.name):
            tree = sqlglot.parse_one(statement.text, read="databricks")
            assert tree is not None, f"{sql_file.name} statement {statement.index}"


def test_step_files_follow_conventions():
    views = load_step("views")
    assert len(views) == 8
    for sql_file in views:
        assert "CREATE MATERIALIZED VIEW ${catalog}.${gold}.mv_" in sql_file.text
    # gold is rebuilt from silver; bronze and silver fold in what is new, with statements that
    # are each safe to run again: tables created if missing, a batch replaced, merges, and one
    # append guarded by the data it already holds.
    for sql_file in load_step("gold"):
        assert "CREATE OR REPLACE TABLE ${catalog}." in sql_file.text, sql_file.name
    for step in ("bronze", "silver"):
        for sql_file in load_step(step):
            if sql_file.name.startswith("bronze/00_"):
                continue
            for st in split_statements(sql_file.text, sql_file.name):
                head = " ".join(st.text.split()[:4]).upper()
                assert head.startswith(("CREATE TABLE IF NOT", "CREATE OR REPLACE TABLE", "MERGE INTO",
                                        "INSERT INTO")), (sql_file.name, head)
                if head.startswith(("INSERT INTO", "MERGE INTO")):
                    # only what is new: bounded by the largest sequence number already there
                    # (in the statement, or in the batch table the file builds before it)
                    assert "MAX(sequence_number)" in sql_file.text, sql_file.name
