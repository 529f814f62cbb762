"""Property-based tests (hypothesis): the event validator and the SQL statement splitter.

Validator: generated bodies (valid events with random breakage, raw text and raw bytes) go
through the real landing writer, COPY INTO and sql/bronze/01_received_events.sql on DuckDB, in
batches (one bronze run per example, not per body, to stay fast), and each reason must equal
tests/reference.py's `validate` value by value.
Splitter: files built from statements with quotes, escapes, comments and `;` in every place they
may hide must split back into exactly those statements, with their line numbers.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from itertools import count

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ecomctl.errors import SqlError
from ecomctl.events.transport import ReceivedEvent
from ecomctl.ingest import prepare_landing_file
from ecomctl.warehouse import migrations
from ecomctl.warehouse.base import Names
from ecomctl.warehouse.duckdb import DuckDBWarehouse
from ecomctl.warehouse.sqlfiles import load_step, split_statements
from reference import FIELD_TYPES, REQUIRED_FIELDS, validate

# -- the validator --------------------------------------------------------------------------------

VALID = {
    "schema_version": 1, "event_id": "e-1", "event_type": "order_created",
    "event_time": "2026-11-19T08:00:00Z", "order_id": "ORD-P-1", "customer_id": "C1001",
    "customer_name": "Ann Example", "customer_email": "ann@example.com", "city": "Denver",
    "state": "CO", "country": "US", "order_ts": "2026-11-18T09:30:00Z", "product_id": "P002",
    "product_name": "Phone", "brand": "Apple", "category": "Electronics", "base_price": 999,
    "unit_price": 899, "quantity": 3, "discount_pct": 25, "total_amount": 2022.75,
    "payment_method": "paypal", "order_status": "shipped",
}

# Numbers written so that DuckDB's rendering of a JSON number equals the text the reference
# reads (a documented local gap: 100.50 reads back as '100.5' locally), i.e. canonical decimals.
_integers = st.integers(min_value=-10**12, max_value=10**12)
_decimals = st.decimals(min_value=-10**6, max_value=10**6, places=2, allow_nan=False,
                        allow_infinity=False).map(lambda d: d.normalize()).filter(
    lambda d: "E" not in str(d))
_numbers = st.one_of(_integers, _decimals.map(lambda d: json.loads(str(d)) if "." in str(d) else int(d)))
_timestamps = st.one_of(
    st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1)).map(
        lambda t: t.replace(microsecond=0).isoformat() + "Z"),
    st.sampled_from(["2026-02-30T10:00:00Z", "2026-11-01", "yesterday", "2026-11-01 10:00",
                     "2026-11-01T10:00:00+05:30", "2026-11-01T25:00:00Z"]))
_text = st.text(max_size=12)
_any_value = st.one_of(st.none(), st.booleans(), _numbers, _text, st.lists(_integers, max_size=2),
                       st.dictionaries(_text, _integers, max_size=2))


@st.composite
def event_bodies(draw) -> bytes:
    kind = draw(st.sampled_from(["mutated"] * 6 + ["text", "bytes", "truncated"]))
    if kind == "text":
        return draw(st.text(max_size=40)).encode()
    if kind == "bytes":
        return draw(st.binary(max_size=40))
    event = dict(VALID)
    event["order_id"] = f"ORD-P-{draw(st.integers(0, 10**6))}"
    for field in draw(st.lists(st.sampled_from(REQUIRED_FIELDS), max_size=3)):
        action = draw(st.sampled_from(["drop", "null", "any", "typed", "typed", "typed", "typed"]))
        if action == "drop":
            event.pop(field, None)
        elif action == "null":
            event[field] = None
        elif action == "any":
            event[field] = draw(_any_value)
        else:  # a value of the right JSON type, so the value rules get exercised
            kind_of = FIELD_TYPES[field]
            event[field] = draw({"integer": st.integers(-5, 5), "number": _numbers,
                                 "timestamp": _timestamps,
                                 "string": st.sampled_from(["placed", "Shipped", "lost", "", "x"])
                                 if field == "order_status" else _text}[kind_of])
    if draw(st.booleans()):  # keep the total rule satisfiable sometimes
        try:
            q, u, d = event["quantity"], event["unit_price"], event["discount_pct"]
            from decimal import ROUND_HALF_UP, Decimal

            total = (Decimal(str(q)) * Decimal(str(u)) * (100 - Decimal(str(d))) / 100).quantize(
                Decimal("0.01"), rounding=ROUND_HALF_UP)
            event["total_amount"] = json.loads(str(total.normalize())) if abs(total) < 10**9 else 0
        except Exception:  # noqa: BLE001 - a broken field: the body stays broken
            pass
    body = json.dumps(event, ensure_ascii=draw(st.booleans())).encode()
    if kind == "truncated":
        body = body[: draw(st.integers(0, len(body) - 1))]
    return body


NAMES = Names(catalog="props", bronze="b", silver="s", gold="g", volume="landing")
_sequence = count()


@pytest.fixture(scope="module")
def bronze(tmp_path_factory):
    home = tmp_path_factory.mktemp("props")
    warehouse = DuckDBWarehouse(home / "w.duckdb", NAMES, volumes_root=home / "landing")
    migrations.apply_pending(warehouse, load_step("setup"))
    files = [f for f in load_step("bronze") if f.name.startswith(("bronze/00_", "bronze/01_"))]
    yield warehouse, home / "landing", files
    warehouse.close()


@settings(max_examples=20, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(bodies=st.lists(event_bodies(), min_size=20, max_size=60))
def test_sql_validation_equals_the_reference(bronze, bodies):
    warehouse, landing, files = bronze
    now = datetime.now(timezone.utc)
    events = [ReceivedEvent("7", next(_sequence), "0", now, None, body) for body in bodies]
    landed = _write_landing_file(landing, "local/props", "7", events)
    for sql_file in files:
        warehouse.run_file(sql_file)
    got = dict(warehouse.query(
        "SELECT sequence_number, reason FROM ${catalog}.${bronze}.received_events "
        f"WHERE landing_file = '{landed.name}'").rows)
    for event in events:
        try:
            text, encoding = event.body.decode("utf-8"), None
        except UnicodeDecodeError:
            text, encoding = "", "base64"
        _, expected = validate(text, encoding)
        assert got[event.sequence_number] == expected, event.body


# -- the splitter -----------------------------------------------------------------------------------

_word = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,6}", fullmatch=True)
_inner = st.text(alphabet=st.sampled_from(list("ab ;-*/\n'\"`\\")), max_size=10)


def _quoted(quote: str, body: str) -> str:
    if quote == "`":
        return "`" + body.replace("`", "``") + "`"
    return quote + body.replace("\\", "\\\\").replace(quote, "\\" + quote) + quote


_string = st.builds(_quoted, st.sampled_from(["'", '"', "`"]), _inner)
_block_comment = _inner.filter(lambda s: "/*" not in s and "*/" not in s and not s.endswith(("/", "*"))) \
    .map(lambda s: "/*" + s + "*/")
_nested_comment = _block_comment.map(lambda c: "/* outer " + c + " ; */")
_line_comment = st.text(alphabet=st.sampled_from(list("ab ;'\"`*/")), max_size=8).map(lambda s: "--" + s + "\n")
_token = st.one_of(_word, _word, _string, _block_comment, _nested_comment, _line_comment,
                   st.sampled_from(["(", ")", ",", "=", "1", "a.b"]))
_space = st.sampled_from([" ", "\n", "\t", "  \n "])


@st.composite
def statements(draw) -> str:
    """A statement: starts and ends with a real token; comments and quotes anywhere inside."""
    parts = [draw(_word)] + draw(st.lists(_token, max_size=6)) + [draw(st.one_of(_word, _string))]
    out = parts[0]
    for part in parts[1:]:
        out += draw(_space) + part
    return out


# Between statements: blanks, comments and empty statements (a bare `;`), in any order.
_gap = st.lists(st.one_of(_space, _line_comment, _block_comment, st.just(";")), max_size=3).map("".join)


@settings(max_examples=300, deadline=None, database=None)
@given(chunks=st.lists(st.tuples(_gap, statements()), min_size=1, max_size=5), tail=_gap,
       final_semicolon=st.booleans())
def test_split_statements_recovers_each_statement_and_its_line(chunks, tail, final_semicolon):
    text, expected = "", []
    for gap, statement in chunks:
        text += (";" if expected else "") + gap
        expected.append((text.count("\n") + 1, statement))
        text += statement
    # Without a final `;` the last statement runs to the end of the file, so only blanks may
    # follow it (a comment there would be part of its text, which is harmless to an engine).
    text += ";" + tail if final_semicolon else " \n"
    got = split_statements(text, "prop.sql")
    assert [(s.line, s.text) for s in got] == expected
    assert [s.index for s in got] == list(range(1, len(expected) + 1))


@settings(max_examples=100, deadline=None, database=None)
@given(before=statements(), quote=st.sampled_from(["'", '"', "`"]), body=_inner)
def test_an_unterminated_quote_names_its_line(before, quote, body):
    assume(quote not in body and "\\" not in body)
    text = before + ";\n" + "SELECT " + quote + body
    with pytest.raises(SqlError) as error:
        split_statements(text, "bad.sql")
    assert error.value.line == before.count("\n") + 2
    assert error.value.statement == 2


def _write_landing_file(directory, source, partition_id, events):
    """Write one landing file and publish it, as ingest's load thread does."""
    return prepare_landing_file(directory, source, partition_id, events).publish()
