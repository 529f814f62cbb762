"""The generator: reproducible, realistic events that pass the rules of the event
(docs/design.md, "The event")."""

from __future__ import annotations

import json
import re
import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal

import pytest

from ecomctl.events.generator import customer_pool, encode_event, generate_events, generate_messages
from ecomctl.events.model import PRODUCTS_BY_ID, REQUIRED_FIELDS

AS_OF = datetime(2026, 11, 20, 13, 5, 42, tzinfo=timezone.utc)

# Written from docs/design.md ("The event"), independently of ecomctl.events.model.
FIELDS = {
    "schema_version": "integer", "event_id": "string", "event_type": "string",
    "event_time": "timestamp", "order_id": "string", "customer_id": "string",
    "customer_name": "string", "customer_email": "string", "city": "string", "state": "string",
    "country": "string", "order_ts": "timestamp", "product_id": "string", "product_name": "string",
    "brand": "string", "category": "string", "base_price": "number", "unit_price": "number",
    "quantity": "integer", "discount_pct": "number", "total_amount": "number",
    "payment_method": "string", "order_status": "string",
}
STATUSES = {"placed", "shipped", "delivered", "cancelled", "returned"}
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def rejection(body: bytes) -> str | None:
    """Why the event rules (docs/design.md) reject this body, or None when it is a valid event."""
    try:
        event = json.loads(body.decode("utf-8"), parse_float=Decimal, parse_int=int)
    except ValueError:
        return "invalid JSON"
    if not isinstance(event, dict):
        return "not a JSON object"
    for field in FIELDS:
        if event.get(field) is None:
            return f"missing field: {field}"
    for field, kind in FIELDS.items():
        value = event[field]
        ok = {
            "integer": type(value) is int,
            "number": type(value) in (int, Decimal),
            "string": type(value) is str,
            "timestamp": type(value) is str,
        }[kind]
        if kind == "timestamp" and ok:
            try:
                parse_time(value)
            except ValueError:
                ok = False
        if not ok:
            return f"wrong type: {field} must be {kind}"
    if event["schema_version"] != 1:
        return "unknown schema_version"
    if event["quantity"] < 1:
        return "quantity below 1"
    if not 0 <= event["discount_pct"] <= 100:
        return "discount_pct out of range"
    if event["order_status"] not in STATUSES:
        return "unknown order_status"
    exact = event["quantity"] * Decimal(event["unit_price"]) * (100 - Decimal(event["discount_pct"])) / 100
    if abs(Decimal(event["total_amount"]) - exact.quantize(Decimal("0.01"), ROUND_HALF_UP)) > Decimal("0.01"):
        return "total_amount mismatch"
    return None


def decoded(messages) -> list[dict]:
    return [json.loads(body, parse_float=Decimal) for _, body in messages]


def test_validator_rejects_what_design_rejects():
    good = next(generate_messages(1, seed=1, as_of=AS_OF))[1]
    event = json.loads(good, parse_float=Decimal)
    assert rejection(good) is None
    assert rejection(b"{not json") == "invalid JSON"
    for change, reason in [
        ({"quantity": "2"}, "wrong type: quantity must be integer"),
        ({"quantity": True}, "wrong type: quantity must be integer"),
        ({"order_status": "Delivered"}, "unknown order_status"),
        ({"city": None}, "missing field: city"),
        ({"total_amount": event["total_amount"] + Decimal("0.02")}, "total_amount mismatch"),
    ]:
        assert rejection(encode_event({**event, **change})) == reason
    assert rejection(encode_event({**event, "total_amount": event["total_amount"] + Decimal("0.01")})) is None


def test_every_event_is_valid_and_strictly_typed():
    messages = list(generate_messages(2000, seed=11, as_of=AS_OF))
    for key, body in messages:
        assert rejection(body) is None, body
        event = json.loads(body, parse_float=Decimal)
        assert tuple(event) == REQUIRED_FIELDS  # the documented order, nothing extra
        assert key == event["customer_id"]
        assert event["event_type"] == "order_created"
        assert uuid.UUID(event["event_id"]).version == 4
        assert TIMESTAMP.fullmatch(event["event_time"]) and TIMESTAMP.fullmatch(event["order_ts"])
        product = PRODUCTS_BY_ID[event["product_id"]]
        assert (event["product_name"], event["brand"], event["category"], event["base_price"]) == (
            product.product_name, product.brand, product.category, product.base_price)
        assert Decimal("0") < event["unit_price"] <= product.base_price
        assert 1 <= event["quantity"] <= 5
        assert event["discount_pct"] in {Decimal(p) for p in (0, 5, 10, 15, 20, 25, 30)}
        exact = event["quantity"] * event["unit_price"] * (100 - event["discount_pct"]) / 100
        assert event["total_amount"] == exact.quantize(Decimal("0.01"), ROUND_HALF_UP)  # exact, not ±0.01
        assert re.fullmatch(r"C1[0-4]\d\d", event["customer_id"])
        assert re.fullmatch(r"[a-z0-9.]+@[a-z]+\.[a-z]+", event["customer_email"])
        assert event["country"] == "US" and len(event["state"]) == 2


def test_same_seed_gives_byte_identical_events():
    first = list(generate_messages(500, seed=42, as_of=AS_OF))
    second = list(generate_messages(500, seed=42, as_of=AS_OF))
    assert first == second
    # Without as_of a seed pins the events for the day: event_time is today's midnight UTC.
    assert list(generate_messages(50, seed=42)) == list(generate_messages(50, seed=42))


def test_seeded_event_ids_follow_uuid4_from_the_seeded_rng():
    import random

    rng = random.Random(5)
    event = next(generate_events(1, seed=5, as_of=AS_OF))
    assert event["event_id"] == str(uuid.UUID(int=rng.getrandbits(128), version=4))


def test_different_seeds_give_different_events_and_order_ids():
    one = decoded(generate_messages(100, seed=1, as_of=AS_OF))
    two = decoded(generate_messages(100, seed=2, as_of=AS_OF))
    assert one[0]["order_id"] == "ORD-S1-000001" and two[-1]["order_id"] == "ORD-S2-000100"
    assert {e["order_id"] for e in one}.isdisjoint(e["order_id"] for e in two)
    assert [e["customer_id"] for e in one] != [e["customer_id"] for e in two]
    assert {e["event_id"] for e in one}.isdisjoint(e["event_id"] for e in two)


def test_unseeded_runs_never_share_order_or_event_ids():
    one = decoded(generate_messages(300))
    two = decoded(generate_messages(300))
    ids_one, ids_two = [e["order_id"] for e in one], [e["order_id"] for e in two]
    assert len(set(ids_one)) == 300 and set(ids_one).isdisjoint(ids_two)
    assert {e["event_id"] for e in one}.isdisjoint(e["event_id"] for e in two)
    assert re.fullmatch(r"ORD-[A-Z2-7]{8}-000001", ids_one[0])


def test_unseeded_event_time_is_now_and_orders_precede_it():
    before = datetime.now(timezone.utc).replace(microsecond=0)
    events = list(generate_events(200))
    after = datetime.now(timezone.utc)
    for event in events:
        produced, ordered = parse_time(event["event_time"]), parse_time(event["order_ts"])
        assert before <= produced <= after
        assert before - timedelta(days=30) <= ordered <= produced


@pytest.mark.parametrize("seed", [1, 2, 3, 2024])
def test_300_events_show_every_status_and_repeat_customers(seed):
    events = decoded(generate_messages(300, seed=seed, as_of=AS_OF))
    statuses = Counter(e["order_status"] for e in events)
    assert set(statuses) == STATUSES
    assert statuses.most_common(1)[0][0] == "delivered"
    orders_per_customer = Counter(e["customer_id"] for e in events)
    assert max(orders_per_customer.values()) >= 4  # a few customers buy often
    assert sum(1 for n in orders_per_customer.values() if n > 1) >= 20
    assert len({e["product_id"] for e in events}) == 10
    assert len({e["city"] for e in events}) >= 10


def test_order_ts_lies_in_the_30_days_before_as_of_and_event_time_is_as_of():
    events = list(generate_events(1000, seed=9, as_of=AS_OF))
    order_times = [parse_time(e["order_ts"]) for e in events]
    assert all(AS_OF - timedelta(days=30) <= t < AS_OF for t in order_times)
    assert min(order_times) < AS_OF - timedelta(days=25) and max(order_times) > AS_OF - timedelta(days=5)
    assert {e["event_time"] for e in events} == {"2026-11-20T13:05:42Z"}


def test_customers_are_the_same_whatever_the_seed():
    details = {}
    for seed in (1, 2, None):
        for event in generate_events(500, seed=seed, as_of=AS_OF):
            person = (event["customer_name"], event["customer_email"], event["city"], event["state"])
            assert details.setdefault(event["customer_id"], person) == person
    pool = customer_pool()
    assert [c.customer_id for c in pool] == [f"C{n}" for n in range(1000, 1500)]
    assert len({c.customer_email for c in pool}) == 500


def test_events_and_messages_are_the_same_events():
    events = list(generate_events(300, seed=8, as_of=AS_OF))
    messages = list(generate_messages(300, seed=8, as_of=AS_OF))
    assert [encode_event(e) for e in events] == [body for _, body in messages]
    assert isinstance(events[0]["total_amount"], Decimal)


def test_encode_event_writes_numbers_and_escapes_strings():
    body = encode_event({"name": 'Zoë "Z" O\'Brien\n', "price": Decimal("1200.00"), "n": 2, "ok": None,
                         "at": datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)})
    assert body == '{"name":"Zoë \\"Z\\" O\'Brien\\n","price":1200.00,"n":2,"ok":null,"at":"2026-01-02T03:04:05Z"}'.encode()
    assert json.loads(body)["name"] == 'Zoë "Z" O\'Brien\n'
    with pytest.raises(ValueError):
        encode_event({"price": Decimal("NaN")})


def test_count_must_be_a_non_negative_integer():
    assert list(generate_messages(0, seed=1)) == []
    with pytest.raises(ValueError):
        list(generate_messages(-1, seed=1))
    with pytest.raises(ValueError, match="seed must be an integer"):
        list(generate_messages(1, seed="7"))


# -- drawing in a child process -------------------------------------------------------------------

def test_background_generation_sends_the_same_messages_as_in_process():
    # More than two hand-over chunks, drawn in a real spawned child process.
    from ecomctl.events.generator import _CHUNK, generate_messages_in_background

    count = 2 * _CHUNK + 123
    background = list(generate_messages_in_background(count, seed=11, as_of=AS_OF, min_events=0))
    assert background == list(generate_messages(count, seed=11, as_of=AS_OF))


def test_background_generation_raises_the_childs_error_in_the_caller():
    from ecomctl.events.generator import generate_messages_in_background

    with pytest.raises(ValueError, match="seed must be an integer"):
        list(generate_messages_in_background(10, seed="seven", as_of=AS_OF, min_events=0))


def test_stopping_early_stops_the_child_process():
    from ecomctl.events import generator

    messages = generator.generate_messages_in_background(200_000, seed=3, as_of=AS_OF, min_events=0)
    next(messages)
    (child,) = generator._CHILDREN
    assert child.process.poll() is None
    messages.close()
    assert generator._CHILDREN == set() and child.process.poll() is not None


def test_the_child_process_exits_when_its_parent_is_killed(tmp_path):
    """SIGKILL leaves no clean-up to the parent: the child finds its pipe closed and exits."""
    import signal
    import subprocess
    import sys

    from processes import alive, wait_for

    probe = ("import sys, time; from ecomctl.events.generator import generate_messages_in_background;"
             "m = generate_messages_in_background(10_000_000, seed=1, min_events=0); next(m);"
             "from ecomctl.events import generator; (c,) = generator._CHILDREN;"
             "print(c.process.pid, flush=True); time.sleep(60)")
    parent = subprocess.Popen([sys.executable, "-c", probe], stdout=subprocess.PIPE, text=True)
    child_pid = int(parent.stdout.readline())
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    assert wait_for(lambda: not alive(child_pid), timeout=30), f"child {child_pid} outlived its parent"


def test_small_counts_are_drawn_in_process():
    from ecomctl.events import generator

    messages = generator.generate_messages_in_background(300, seed=3, as_of=AS_OF)
    next(messages)
    assert generator._CHILDREN == set()
    assert len(list(messages)) == 299
