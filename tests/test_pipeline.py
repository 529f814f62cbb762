"""The whole local pipeline against the independent Python reference, value by value.

The reference reads the raw event bodies as they landed in bronze.raw_events
and computes every table without SQL; the pipeline's tables must equal it.
"""

from __future__ import annotations

from datetime import datetime, timezone

import duckdb
import pytest

from ecomctl.config import Settings
from ecomctl.pipeline import Pipeline
from reference import KEYS, RawEvent, compute_reference, reconciliation, sort_rows

AS_OF = datetime(2026, 11, 1, tzinfo=timezone.utc)

BAD_BODIES = [
    b"not json at all",
    b'{"order_id": "ORD-BAD-1", "truncated": ',
    b"",
    b"[1, 2, 3]",
    b'"just a string"',
]


def _tables(home) -> dict[str, list[dict]]:
    con = duckdb.connect(str(home / "ecommerce.duckdb"), read_only=True)
    try:
        out = {}
        for table in KEYS:
            cursor = con.execute(f"SELECT * FROM {table}")
            columns = [d[0] for d in cursor.description]
            out[table] = [dict(zip(columns, row)) for row in cursor.fetchall()]
        raw = con.execute("SELECT source, partition_id, sequence_number, body, landed_at, landing_file "
                          "FROM bronze.raw_events").fetchall()
        return out, [RawEvent(*row) for row in raw]
    finally:
        con.close()


def _mutations(body: bytes) -> list[bytes]:
    """Turn one valid event into events that break one rule each."""
    text = body.decode()
    return [
        text.replace('"quantity":', '"quantity":0,"x":', 1).encode(),
        text.replace('"order_status":"', '"order_status":"LOST', 1).encode(),
        text.replace('"schema_version":1', '"schema_version":2', 1).encode(),
        text.replace('"customer_id":', '"customer_idx":', 1).encode(),
    ]


@pytest.fixture(scope="module")
def pipeline_run(tmp_path_factory):
    home = tmp_path_factory.mktemp("pipeline") / "home"
    settings = Settings.load({"home": home}, environ={})
    with Pipeline(settings) as pipeline:
        pipeline.setup()
        pipeline.generate(400, seed=11, as_of=AS_OF)
        # A producer resend (same events again) and events that break the rules.
        from ecomctl.events.generator import generate_messages

        resent = list(generate_messages(25, seed=11, as_of=AS_OF))
        pipeline.transport.send(resent)
        pipeline.transport.send([("C-bad", body) for body in BAD_BODIES])
        pipeline.transport.send([("C-bad", b) for b in _mutations(resent[0][1])])
        pipeline.ingest()
        pipeline.transform()
        pipeline.views()
        pipeline.dashboards()
        recon = pipeline.reconciliation(sent=0, received=0, landed=0, expired=0)
    tables, raw = _tables(home)
    return home, tables, raw, recon


@pytest.mark.parametrize("table", list(KEYS))
def test_table_equals_reference(pipeline_run, table):
    _, tables, raw, _ = pipeline_run
    expected = sort_rows(table, compute_reference(raw)[table])
    actual = sort_rows(table, tables[table])
    assert len(actual) == len(expected)
    if expected and table == "bronze.rejected_events":
        # The reference keeps what identifies the event and why it was rejected.
        actual = [{k: row[k] for k in expected[0]} for row in actual]
    elif expected:
        assert list(actual[0]) == list(expected[0]), "columns differ"
    for got, want in zip(actual, expected):
        assert got == want


def test_reconciliation_matches_reference(pipeline_run):
    _, tables, raw, recon = pipeline_run
    ref = reconciliation(raw)
    assert recon["total_landed"] == ref["received"] == 400 + 25 + len(BAD_BODIES) + 4
    assert recon["valid_orders"] == ref["orders"] == 400
    assert recon["rejected"] == ref["rejected"] == len(BAD_BODIES) + 4
    assert recon["producer_duplicates"] == ref["producer_duplicates"] == 25
    assert recon["transport_duplicates"] == ref["transport_duplicates"] == 0
    assert recon["balanced"]


def test_rejected_events_keep_body_and_reason(pipeline_run):
    _, tables, _, _ = pipeline_run
    reasons = {r["body"]: r["reason"] for r in tables["bronze.rejected_events"]}
    assert reasons["not json at all"] == "invalid JSON"
    assert reasons[""] == "empty body"
    assert reasons["[1, 2, 3]"] == "not a JSON object"
    assert sorted(r.split(":")[0] for r in reasons.values()) == sorted([
        "empty body", "invalid JSON", "invalid JSON", "not a JSON object", "not a JSON object",
        "quantity below 1", "unknown order_status", "unknown schema_version", "missing field"])


def test_rerunning_every_step_changes_nothing(pipeline_run):
    home, tables, _, _ = pipeline_run
    settings = Settings.load({"home": home}, environ={})
    with Pipeline(settings) as pipeline:
        pipeline.ingest()
        pipeline.transform()
        pipeline.views()
    again, _ = _tables(home)
    for table in KEYS:
        assert sort_rows(table, again[table]) == sort_rows(table, tables[table]), table
