"""Bad event bodies, one kind per reject rule of docs/tables.md, each with the reason bronze must give."""

from __future__ import annotations

import json

from reference import REQUIRED_FIELDS

# A valid event (docs/design.md, "The event"); each bad kind breaks exactly one rule of it.
VALID = {
    "schema_version": 1, "event_id": "e-bad", "event_type": "order_created",
    "event_time": "2026-11-19T08:00:00Z", "order_id": "BAD-0", "customer_id": "C4242",
    "customer_name": "Bea Bad", "customer_email": "bea@example.com", "city": "Austin",
    "state": "TX", "country": "US", "order_ts": "2026-11-18T09:30:00Z", "product_id": "P001",
    "product_name": "Laptop", "brand": "Dell", "category": "Electronics", "base_price": 1200.00,
    "unit_price": 1200.00, "quantity": 2, "discount_pct": 10, "total_amount": 2160.00,
    "payment_method": "credit_card", "order_status": "placed",
}


def _event(n: int, **changes) -> bytes:
    body = {**VALID, "event_id": f"e-bad-{n}", "order_id": f"BAD-{n:05d}"}
    for key, value in changes.items():
        if value is _OMIT:
            body.pop(key)
        else:
            body[key] = value
    return json.dumps(body).encode()


_OMIT = object()


def _kinds(n: int) -> list[tuple[bytes, str]]:
    whole = _event(n)
    kinds = [
        (b"this is not json " + str(n).encode(), "invalid JSON"),
        (whole[: len(whole) // 2], "invalid JSON"),  # truncated
        (b"   ", "invalid JSON"),
        (b"[1, 2, %d]" % n, "not a JSON object"),
        (b'"order %d"' % n, "not a JSON object"),
        (b"%d" % n, "not a JSON object"),
        (_event(n, quantity="2"), "wrong type: quantity must be integer"),
        (_event(n, quantity=2.5), "wrong type: quantity must be integer"),
        (_event(n, unit_price="1200.00"), "wrong type: unit_price must be number"),
        (_event(n, order_ts="last tuesday"), "wrong type: order_ts must be timestamp"),
        (_event(n, city=7), "wrong type: city must be string"),
        (_event(n, schema_version=2), "unknown schema_version: 2"),
        (_event(n, quantity=0, total_amount=0), "quantity below 1: 0"),
        (_event(n, discount_pct=150), "discount_pct out of range: 150"),
        (_event(n, discount_pct=-1), "discount_pct out of range: -1"),
        (_event(n, order_status="lost"), "unknown order_status: lost"),
        (_event(n, total_amount=2160.02), "total_amount mismatch: 2160.02"),
        (b'{"order_id": "BAD-%d", "caf\xe9": "latin-1, not UTF-8"}' % n, "invalid UTF-8"),
        (b"\xff\xfe" + _event(n), "invalid UTF-8"),
    ]
    # each missing required field (JSON null counts as missing)
    field = REQUIRED_FIELDS[n % len(REQUIRED_FIELDS)]
    kinds.append((_event(n, **{field: _OMIT}), f"missing field: {field}"))
    kinds.append((_event(n, **{field: None}), f"missing field: {field}"))
    return kinds


def bad_events(count: int) -> list[tuple[bytes, str]]:
    """`count` distinct bad bodies cycling over every kind, each with its exact reason."""
    out: list[tuple[bytes, str]] = []
    n = 0
    while len(out) < count:
        kinds = _kinds(n)
        out.append(kinds[n % len(kinds)])
        n += 1
    return out
