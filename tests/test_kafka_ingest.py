"""ingest --mode kafka, offline: what runs after the streaming table's refresh, on the real local warehouse.

read_kafka exists only on Databricks, so the streaming table is stood in for by a plain table holding
the rows its SELECT (sql/kafka/01_raw_events_stream.sql) gives for each Kafka record; the hub is a
script of the partition states Event Hubs reports. What runs for real: the offset check between the
refresh and the merge (ecomctl/kafka_ingest.py), the merge (sql/kafka/02_merge_raw_events.sql) and the
bronze SQL both ingest modes share.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta, timezone

import pytest
import sqlglot
from sqlglot import exp

from ecomctl.config import Settings
from ecomctl.errors import EcomctlError
from ecomctl.events.generator import generate_messages
from ecomctl.events.transport import PartitionState
from ecomctl.kafka_ingest import CHECK, ingest_through_kafka
from ecomctl.pipeline import Pipeline
from ecomctl.plan import Checks
from ecomctl.warehouse.sqlfiles import SqlFile, load_step, render, split_statements

SOURCE = "shop.servicebus.windows.net/orders"
NAMES = {"kafka_bootstrap": "shop.servicebus.windows.net:9093", "eventhub_name": "orders",
         "source": SOURCE, "kafka_auth": "`databricks.serviceCredential` => 'eventhubs-reader'"}
AS_OF = datetime(2026, 11, 1, tzinfo=timezone.utc)
# What the stand-in for the streaming table holds: the columns of sql/kafka/01's SELECT.
STREAM_TABLE = """CREATE TABLE IF NOT EXISTS ${catalog}.${bronze}.raw_events_kafka (
  partition_id STRING, sequence_number BIGINT, `offset` STRING, enqueued_time TIMESTAMP,
  partition_key STRING, body STRING, body_encoding STRING)"""


class Hub:
    """The two reads the offset check makes of the hub, before and after the refresh: each a
    {partition: (beginning_sequence_number, last_sequence_number)}."""

    source = SOURCE

    def __init__(self, before: dict, after: dict | None = None) -> None:
        self.snapshots = [before, before if after is None else after]
        self.current: dict = {}

    def partition_ids(self) -> list[str]:
        self.current = self.snapshots.pop(0) if len(self.snapshots) > 1 else self.snapshots[0]
        return list(self.current)

    def partition_state(self, partition_id: str) -> PartitionState:
        beginning, last = self.current[partition_id]
        return PartitionState(partition_id, beginning, last, None)


def as_streamed(body: bytes) -> tuple[str, str | None]:
    """(body, body_encoding) as the streaming table's SELECT gives them for a Kafka value."""
    try:
        return body.decode("utf-8"), None  # is_valid_utf8(value): CAST(value AS STRING)
    except UnicodeDecodeError:
        return base64.b64encode(body).decode("ascii"), "base64"


def stream_rows(partitions: dict[str, list[tuple[int, str | None, bytes]]]) -> list[tuple]:
    rows = []
    for pid, events in partitions.items():
        for offset, key, value in events:
            body, encoding = as_streamed(value)
            rows.append((pid, offset, str(offset), AS_OF + timedelta(seconds=offset), key, body, encoding))
    return rows


@pytest.fixture
def pipeline(home):
    with Pipeline(Settings.load({"home": home}, environ={})) as p:
        p.setup()
        p.warehouse.run_sql(STREAM_TABLE)
        yield p


def land(pipeline: Pipeline, rows: list[tuple]) -> None:
    catalog, bronze = pipeline.settings.catalog, pipeline.settings.bronze_schema
    pipeline.warehouse.session.connection.executemany(
        f"INSERT INTO {catalog}.{bronze}.raw_events_kafka VALUES (?, ?, ?, ?, ?, ?, ?)", rows)


def kafka_files() -> list[SqlFile]:
    """The stand-in refresh (the table is already there), then the repository's files after it."""
    refresh = SqlFile(path=None, name="kafka/01_raw_events_stream.sql", step="kafka", version=None,
                      description="raw events stream", text=STREAM_TABLE + ";", checksum="")
    rest = [f for f in load_step("kafka") if not f.name.startswith("kafka/01_")]
    assert [f.name for f in rest] == ["kafka/02_merge_raw_events.sql"]
    return [refresh, *rest]


def ingest(pipeline: Pipeline, hub: Hub) -> list:
    return ingest_through_kafka(pipeline.warehouse, hub, Checks(), kafka_files(), NAMES)


def raw_events(pipeline: Pipeline) -> list[tuple]:
    return pipeline.warehouse.query(
        "SELECT partition_id, sequence_number, body_encoding FROM ${catalog}.${bronze}.raw_events "
        "ORDER BY partition_id, sequence_number").rows


def test_bodies_read_over_kafka_get_the_reasons_client_mode_gives(pipeline):
    """The bodies of test_quarantine's client-mode test, read over Kafka: the same reasons, the
    same bytes kept, and the valid events become orders."""
    pad_head, pad_tail = '{"pad":"€€'.encode(), b'"}'

    def padded(size: int) -> bytes:
        return pad_head + b"x" * (size - len(pad_head) - len(pad_tail)) + pad_tail

    bad = [
        (padded(1_048_576), "body of 1 MB or more: 1048576 bytes"),
        (padded(1_048_575), "missing field: schema_version"),
        (b"", "empty body"),
        ('{"city": "Montréal"}'.encode("latin-1"), "invalid UTF-8"),
        (b"\xc3\x28 truncated sequence", "invalid UTF-8"),
        (b"\xed\xa0\x80 a surrogate", "invalid UTF-8"),
    ]
    valid = list(generate_messages(6, seed=9, as_of=AS_OF))
    partitions = {"0": [(n, key, body) for n, (key, body) in enumerate(valid[:3] + [(None, b) for b, _ in bad])],
                  "1": [(n, key, body) for n, (key, body) in enumerate(valid[3:])]}
    land(pipeline, stream_rows(partitions))

    results = ingest(pipeline, Hub({"0": (0, 8), "1": (0, 2), "2": (-1, -1)}))
    assert [r.action for r in results][-1] == "merge" and results[-1].rows == 12
    for sql_file in pipeline._bronze_build_files():
        pipeline.warehouse.run_file(sql_file)

    rejected = pipeline.warehouse.query(
        "SELECT body, body_encoding, reason FROM ${catalog}.${bronze}.rejected_events").rows
    kept = sorted((base64.b64decode(b) if e == "base64" else b.encode("utf-8"), r) for b, e, r in rejected)
    assert kept == sorted(bad)
    orders = {r[0] for r in pipeline.warehouse.query("SELECT order_id FROM ${catalog}.${bronze}.orders").rows}
    assert orders == {json.loads(body)["order_id"] for _, body in valid}
    sources = pipeline.warehouse.query("SELECT DISTINCT source, landing_file FROM ${catalog}.${bronze}.raw_events").rows
    assert sources == [(SOURCE, "kafka:orders")]


def test_offsets_that_are_not_sequence_numbers_stop_the_ingest_before_the_merge(pipeline):
    # Byte positions, as the AMQP side's offsets are: 3 events of about 600 bytes each.
    land(pipeline, stream_rows({"0": [(0, "C1", b"{}"), (612, "C1", b"{}"), (1224, "C1", b"{}")]}))
    with pytest.raises(EcomctlError) as caught:
        ingest(pipeline, Hub({"0": (0, 2), "1": (-1, -1)}))
    message = str(caught.value)
    assert message.startswith(f"the Kafka offsets of {SOURCE} are not its Event Hubs sequence numbers")
    assert "partition 0: last Kafka offset 1224, Event Hubs sequence numbers 2..2" in message
    assert "nothing was merged into raw_events" in message and "--mode client" in message
    assert raw_events(pipeline) == []


def test_events_that_arrive_during_the_refresh_are_not_a_mismatch(pipeline):
    land(pipeline, stream_rows({"0": [(n, "C1", b"{}") for n in range(5)],
                                "1": [(0, "C2", b"\xff")]}))
    # Before the refresh partition 0 ended at 2 and partition 1 was empty; both grew meanwhile.
    ingest(pipeline, Hub({"0": (0, 2), "1": (-1, -1)}, after={"0": (0, 7), "1": (0, 0)}))
    assert raw_events(pipeline) == [("0", n, None) for n in range(5)] + [("1", 0, "base64")]


@pytest.mark.parametrize(("table", "before", "after", "problem"), [
    ({"0": [(0, "C1", b"{}")]}, {"0": (0, 0), "1": (0, 3)}, None,
     "partition 1: Event Hubs held events up to sequence number 3 before the refresh, and the streaming "
     "table has none of them"),
    ({"0": [(0, "C1", b"{}"), (1, "C1", b"{}")]}, {"0": (0, 3)}, None,
     "partition 0: last Kafka offset 1, Event Hubs sequence numbers 3..3"),
    ({"0": [(0, "C1", b"{}")]}, {"0": (-1, -1)}, None,
     "partition 0: last Kafka offset 0, Event Hubs sequence numbers -..-1"),
], ids=["partition-not-read", "refresh-stopped-short", "offset-the-hub-never-gave"])
def test_each_kind_of_disagreement_names_its_partition(pipeline, table, before, after, problem):
    land(pipeline, stream_rows(table))
    with pytest.raises(EcomctlError, match="not its Event Hubs sequence numbers") as caught:
        ingest(pipeline, Hub(before, after))
    assert problem in str(caught.value)
    assert raw_events(pipeline) == []


def test_expired_events_still_bound_the_offsets_from_above(pipeline):
    # Every event of partition 0 left the hub (retention); the table keeps what it read back then.
    land(pipeline, stream_rows({"0": [(n, "C1", b"{}") for n in range(3)]}))
    ingest(pipeline, Hub({"0": (3, 2)}))
    assert len(raw_events(pipeline)) == 3


def test_the_stream_file_gives_bodies_as_client_mode_lands_them():
    """The SELECT of the streaming table (it cannot run here): the body is the value's text only when
    is_valid_utf8 says so, otherwise its base64 with body_encoding 'base64', under the same test."""
    [stream] = [f for f in load_step("kafka") if f.name.startswith("kafka/01_")]
    [statement] = split_statements(render(stream.text, {**_object_names(), **NAMES}, stream.name), stream.name)
    select = sqlglot.parse_one(statement.text, read="databricks").find(exp.Select)
    columns = {e.alias: e.this for e in select.expressions}
    body, encoding = columns["body"], columns["body_encoding"]
    assert isinstance(body, exp.Case) and isinstance(encoding.this, exp.Case)
    [when] = body.args["ifs"]
    [encoding_when] = encoding.this.args["ifs"]
    assert when.this.sql("databricks") == encoding_when.this.sql("databricks") == "IS_VALID_UTF8(value)"
    assert when.args["true"].sql("databricks") == "CAST(value AS STRING)"
    assert isinstance(encoding_when.args["true"], exp.Null)
    assert body.args["default"].find(exp.ToBase64).this.sql() == "value"
    assert encoding.this.args["default"].this == "base64"
    # Nowhere else is the value turned into text.
    casts = [c for c in select.find_all(exp.Cast) if c.this.sql() == "value"]
    assert casts == [when.args["true"]]


def test_the_check_sits_between_the_refresh_and_the_merge_in_a_plan(home):
    from ecomctl.plan import Plan

    plan = Plan()
    settings = Settings.load({"target": "databricks", "home": home},
                             environ={"EVENTHUB_NAMESPACE": "shop.servicebus.windows.net",
                                      "ECOMCTL_KAFKA_SERVICE_CREDENTIAL": "eventhubs-reader"})
    with Pipeline(settings, plan=plan) as pipeline:
        pipeline.ingest("kafka")
    texts = [(e.kind, e.text.split("\n")[0]) for e in plan.entries if e.step == "ingest"]
    start = texts.index(("api", "list the partitions of shop.servicebus.windows.net/orders and their "
                                "last sequence numbers"))
    assert texts[start:start + 6] == [
        ("api", "list the partitions of shop.servicebus.windows.net/orders and their last sequence numbers"),
        ("sql", "CREATE OR REFRESH STREAMING TABLE ecommerce.bronze.raw_events_kafka"),
        ("check", CHECK),
        ("sql", "SELECT partition_id, MAX(sequence_number) AS last_offset FROM "
                "ecommerce.bronze.raw_events_kafka GROUP BY partition_id"),
        ("api", "list the partitions of shop.servicebus.windows.net/orders and their last sequence numbers"),
        ("sql", "MERGE INTO ecommerce.bronze.raw_events AS r"),
    ]
    stream = next(e.text for e in plan.entries if e.text.startswith("CREATE OR REFRESH STREAMING"))
    assert "`databricks.serviceCredential` => 'eventhubs-reader'" in stream
    assert "secret(" not in stream and "sasl" not in stream


def _object_names() -> dict[str, str]:
    from ecomctl.warehouse.base import Names

    return Names().as_mapping()
