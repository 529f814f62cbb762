"""Quarantine: every reject rule of the event (docs/design.md) lands the event in bronze.rejected_events with its own
reason, bad input arrives through `ecomctl send` as it would in a replay, and valid events in the
same batch are unaffected."""

from __future__ import annotations

import base64
import json
import random
from collections import Counter
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from bad_events import bad_events
from ecomctl.cli.main import app
from ecomctl.config import Settings
from ecomctl.events.eventlog import EmbeddedEventLog
from ecomctl.events.generator import generate_messages
from ecomctl.pipeline import Pipeline
from processes import AS_OF_DT


def _query(home: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(home / "ecommerce.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _raw_bytes(body: str, encoding: str | None) -> bytes:
    return base64.b64decode(body) if encoding == "base64" else body.encode("utf-8")


def test_send_1000_valid_and_200_bad_lines_gives_1000_orders_and_200_reasons(cli, home, tmp_path):
    valid = [body for _, body in generate_messages(1000, seed=42, as_of=AS_OF_DT)]
    bad = bad_events(200)
    lines = valid + [body for body, _ in bad]
    random.Random(5).shuffle(lines)
    path = tmp_path / "replay.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")

    assert cli("setup").exit_code == 0
    sent = cli("--json", "send", str(path))
    assert sent.exit_code == 0, sent.stderr
    details = json.loads(sent.stdout)["steps"][0]["details"]
    assert (details["lines"], details["events"], details["empty_lines_skipped"]) == (1200, 1200, 0)
    ingested = cli("--json", "ingest")
    assert ingested.exit_code == 0, ingested.stderr
    reconciliation = json.loads(ingested.stdout)["reconciliation"]
    assert (reconciliation["valid_orders"], reconciliation["rejected"]) == (1000, 200)
    assert reconciliation["balanced"]

    orders = {r[0] for r in _query(home, "SELECT order_id FROM bronze.orders")}
    assert orders == {json.loads(b)["order_id"] for b in valid}
    rejected = _query(home, "SELECT body, body_encoding, reason FROM bronze.rejected_events")
    assert Counter((_raw_bytes(b, e), r) for b, e, r in rejected) == Counter(bad)
    # every rule kind is there, each with its own reason
    kinds = {r.split(":")[0] for _, _, r in rejected}
    assert kinds >= {"invalid JSON", "not a JSON object", "missing field", "wrong type",
                     "unknown schema_version", "quantity below 1", "discount_pct out of range",
                     "unknown order_status", "total_amount mismatch", "invalid UTF-8"}


def test_send_from_stdin_trims_line_ends_skips_empty_lines_and_keys_by_customer(cli, home):
    event = next(iter(generate_messages(1, seed=3, as_of=AS_OF_DT)))[1]
    stdin = b"\n" + event + b"\r\n" + b"\n\n" + b"not json\n" + b'{"customer_id": 17}'  # no final LF
    assert cli("setup").exit_code == 0
    result = CliRunner().invoke(app, ["--home", str(home), "send", "-"], input=stdin)
    assert result.exit_code == 0, result.stderr
    assert "sent 3 events" in result.stdout
    assert "skipped 3 empty lines of <stdin>" in result.stdout
    assert cli("ingest").exit_code == 0
    rows = dict(_query(home, "SELECT body, partition_key FROM bronze.raw_events"))
    assert rows == {event.decode(): json.loads(event)["customer_id"], "not json": None,
                    '{"customer_id": 17}': None}


def test_send_stops_at_a_line_too_large_for_an_event_and_says_where_to_resume(cli, home, tmp_path):
    path = tmp_path / "big.jsonl"
    path.write_bytes(b'{"n": 1}\n{"n": 2}\n' + b'{"pad": "' + b"x" * 1_100_000 + b'"}\n{"n": 4}\n')
    assert cli("setup").exit_code == 0
    result = cli("send", str(path))
    assert result.exit_code == 1
    assert f"{path}, line 3: an event of 1100011 bytes" in result.stderr
    assert "tail -n +3" in result.stderr
    assert cli("ingest").exit_code == 0
    assert sorted(r[0] for r in _query(home, "SELECT body FROM bronze.raw_events")) == \
        ['{"n": 1}', '{"n": 2}']


def test_send_of_a_missing_file_is_one_clear_line(cli, tmp_path):
    result = cli("send", str(tmp_path / "nope.jsonl"))
    assert result.exit_code == 1
    assert f"cannot read {tmp_path / 'nope.jsonl'}: No such file or directory" in result.stderr


@pytest.fixture
def big_event_pipeline(home):
    """A pipeline whose event log takes events up to 3 MB (Event Hubs Premium/Dedicated allow
    more than 1 MB), so a body of 1 MB or more can reach bronze as it could on Databricks."""
    settings = Settings.load({"home": home}, environ={})
    pipeline = Pipeline(settings)
    pipeline.__dict__["transport"] = EmbeddedEventLog(settings.eventlog_path,
                                                      max_batch_bytes=3 * 1_048_576)
    pipeline.setup()
    yield pipeline
    pipeline.close()


def _padded(size: int) -> bytes:
    """A JSON object of exactly `size` bytes of UTF-8 (with multi-byte characters in it)."""
    head, tail = '{"pad":"€€'.encode(), b'"}'
    return head + b"x" * (size - len(head) - len(tail)) + tail


def test_body_size_utf8_and_empty_rules_keep_the_raw_bytes_and_spare_valid_events(big_event_pipeline):
    pipeline = big_event_pipeline
    valid = list(generate_messages(50, seed=9, as_of=AS_OF_DT))
    latin1 = '{"city": "Montréal"}'.encode("latin-1")
    bad = [
        (_padded(1_048_576), "body of 1 MB or more: 1048576 bytes"),
        (_padded(2_000_000), "body of 1 MB or more: 2000000 bytes"),
        (_padded(1_048_575), "missing field: schema_version"),  # just under: parsed and checked
        (b"", "empty body"),
        (latin1, "invalid UTF-8"),
        (b"\xc3\x28 truncated sequence", "invalid UTF-8"),
        (b"\xed\xa0\x80 a surrogate", "invalid UTF-8"),  # UTF-8 forbids encoded surrogates
    ]
    messages = valid[:25] + [(None, body) for body, _ in bad] + valid[25:]  # one batch, mixed
    pipeline.transport.send(messages)
    pipeline.ingest()
    home = pipeline.settings.home
    pipeline.close()
    rows = _query(home, "SELECT body, body_encoding, reason FROM bronze.rejected_events")
    assert sorted((_raw_bytes(b, e), r) for b, e, r in rows) == sorted(bad)
    assert {r[0] for r in _query(home, "SELECT body_encoding FROM bronze.rejected_events "
                                       "WHERE reason = 'invalid UTF-8'")} == {"base64"}
    orders = {r[0] for r in _query(home, "SELECT order_id FROM bronze.orders")}
    assert orders == {json.loads(body)["order_id"] for _, body in valid}
