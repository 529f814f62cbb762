"""Reproducible, realistic order events: a fixed customer pool, the catalog, and seeded random choices.

Speed matters (the generator feeds a transport at >100k events/s), so Faker runs once to build a
customer pool and every event is a handful of weighted draws over precomputed JSON fragments.
"""

from __future__ import annotations

import base64
import json
import os
import random
import re
import time
from bisect import bisect
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import ClassVar
from itertools import accumulate

from ecomctl.events.model import (
    CENT,
    EVENT_TYPE,
    ORDER_STATUSES,
    PAYMENT_METHODS,
    PRODUCTS,
    SCHEMA_VERSION,
    order_total,
)

CUSTOMER_POOL_SIZE = 500
FIRST_CUSTOMER_NUMBER = 1000
ORDER_WINDOW = timedelta(days=30)

# A constant seed: the customer pool is the same for every run and every --seed, so customers
# accumulate orders across runs like real ones do (given the same Faker version).
_POOL_SEED = 2024
# Order share of the customer with popularity rank r is proportional to r ** -_CUSTOMER_SKEW:
# a few customers order often, most order rarely (the top one gets ~4% of orders).
_CUSTOMER_SKEW = 0.65

# Real cities weighted roughly by population, so location dashboards have a few large groups.
_CITIES = (
    ("New York", "NY", 8), ("Los Angeles", "CA", 6), ("Chicago", "IL", 4), ("Houston", "TX", 4),
    ("Phoenix", "AZ", 3), ("Philadelphia", "PA", 3), ("San Antonio", "TX", 2), ("San Diego", "CA", 2),
    ("Dallas", "TX", 2), ("Austin", "TX", 2), ("Seattle", "WA", 2), ("Denver", "CO", 2),
    ("Boston", "MA", 2), ("Miami", "FL", 2), ("Atlanta", "GA", 2), ("Portland", "OR", 1),
    ("Nashville", "TN", 1), ("Minneapolis", "MN", 1), ("Columbus", "OH", 1), ("Charlotte", "NC", 1),
)
_EMAIL_DOMAINS = ("gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "icloud.com")

# Weights of each draw, in the order of the value tuples they index.
_PRODUCT_WEIGHTS = (8, 10, 14, 6, 10, 14, 10, 12, 8, 8)
_MARKDOWNS = (Decimal("0"), Decimal("0.05"), Decimal("0.10"))  # unit_price = base_price x (1 - markdown)
_MARKDOWN_WEIGHTS = (80, 12, 8)
_QUANTITIES = (1, 2, 3, 4, 5)
_QUANTITY_WEIGHTS = (50, 28, 12, 6, 4)
_DISCOUNTS = tuple(Decimal(p).quantize(CENT) for p in (0, 5, 10, 15, 20, 25, 30))
_DISCOUNT_WEIGHTS = (60, 10, 12, 7, 6, 3, 2)
_PAYMENT_WEIGHTS = (45, 20, 18, 8, 4, 5)
_STATUS_WEIGHTS = {"placed": 12, "shipped": 18, "delivered": 55, "cancelled": 8, "returned": 7}

# uuid.UUID(int=n, version=4) done with two masks, without building a UUID object per event.
_UUID_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_UUID_SET = (0x4000 << 64) | (0x8000 << 48)


@dataclass(frozen=True)
class Customer:
    customer_id: str
    customer_name: str
    customer_email: str
    city: str
    state: str
    country: str


@lru_cache(maxsize=1)
def customer_pool() -> tuple[Customer, ...]:
    """The 500 customers C1000..C1499, identical in every run (Faker seeded with a constant)."""
    from faker import Faker  # heavy import, only when events are generated

    fake = Faker("en_US")
    fake.seed_instance(_POOL_SEED)
    pool_rng = random.Random(_POOL_SEED)
    cities = [(city, state) for city, state, _ in _CITIES]
    city_weights = [weight for _, _, weight in _CITIES]
    used_emails: set[str] = set()
    customers = []
    for number in range(FIRST_CUSTOMER_NUMBER, FIRST_CUSTOMER_NUMBER + CUSTOMER_POOL_SIZE):
        first, last = fake.first_name(), fake.last_name()
        local = re.sub(r"[^a-z]", "", first.lower()) + "." + re.sub(r"[^a-z]", "", last.lower())
        email = f"{local}@{pool_rng.choice(_EMAIL_DOMAINS)}"
        suffix = 2
        while email in used_emails:  # namesakes get a number, as mail providers do
            email = f"{local}{suffix}@{email.split('@')[1]}"
            suffix += 1
        used_emails.add(email)
        city, state = pool_rng.choices(cities, city_weights)[0]
        customers.append(Customer(f"C{number}", f"{first} {last}", email, city, state, "US"))
    return tuple(customers)


@lru_cache(maxsize=1)
def _customer_cum_weights() -> list[float]:
    # Popularity ranks are shuffled so that the frequent buyers are not simply C1000, C1001...
    ranks = list(range(1, CUSTOMER_POOL_SIZE + 1))
    random.Random(_POOL_SEED + 1).shuffle(ranks)
    return list(accumulate(rank ** -_CUSTOMER_SKEW for rank in ranks))


def unit_price(product_index: int, markdown_index: int) -> Decimal:
    base = PRODUCTS[product_index].base_price
    return (base * (1 - _MARKDOWNS[markdown_index])).quantize(CENT, rounding=ROUND_HALF_UP)


def json_string(text: str) -> str:
    """A JSON string literal; UTF-8 is kept as is (bodies are UTF-8), control characters escaped."""
    return json.dumps(text, ensure_ascii=False)


def format_timestamp(moment: datetime) -> str:
    """ISO-8601 UTC with a 'Z' (a naive datetime is taken as UTC); fractions only when present."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment.isoformat() + "Z"


def encode_event(event: Mapping[str, object]) -> bytes:
    """Compact UTF-8 JSON: Decimal as a JSON number as written (1200.00), datetime as a UTC string."""
    members = ",".join(f"{json_string(str(key))}:{_json_value(value)}" for key, value in event.items())
    return ("{" + members + "}").encode("utf-8")


def _json_value(value: object) -> str:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} is not a JSON number")
        return format(value, "f")
    if isinstance(value, datetime):
        return json_string(format_timestamp(value))
    if value is None or isinstance(value, (str, int, float)):  # bool is an int
        return json.dumps(value, ensure_ascii=False, allow_nan=False)
    raise TypeError(f"cannot encode {type(value).__name__} in an event")


def generate_events(count: int, *, seed: int | None = None,
                    as_of: datetime | None = None) -> Iterator[dict]:
    """Yield `count` order events (docs/design.md, "The event") as dicts: decimals as Decimal,
    times as strings.

    With a seed the events are reproducible byte for byte; as_of then defaults to today's midnight
    UTC, so the same seed on the same day gives identical events (pass as_of to pin it for good).
    Without a seed, as_of is now and event_time is the moment each event is produced.
    """
    customers = customer_pool()
    for (event_id, event_time, order_id, customer_index, order_ts, product_index, markdown_index,
         quantity, discount_index, payment_index, status_index) in _draw_orders(count, seed, as_of):
        customer = customers[customer_index]
        product = PRODUCTS[product_index]
        price = unit_price(product_index, markdown_index)
        discount = _DISCOUNTS[discount_index]
        yield {
            "schema_version": SCHEMA_VERSION,
            "event_id": event_id,
            "event_type": EVENT_TYPE,
            "event_time": event_time,
            "order_id": order_id,
            "customer_id": customer.customer_id,
            "customer_name": customer.customer_name,
            "customer_email": customer.customer_email,
            "city": customer.city,
            "state": customer.state,
            "country": customer.country,
            "order_ts": order_ts,
            "product_id": product.product_id,
            "product_name": product.product_name,
            "brand": product.brand,
            "category": product.category,
            "base_price": product.base_price,
            "unit_price": price,
            "quantity": quantity,
            "discount_pct": discount,
            "total_amount": order_total(quantity, price, discount),
            "payment_method": PAYMENT_METHODS[payment_index],
            "order_status": ORDER_STATUSES[status_index],
        }


def generate_messages(count: int, *, seed: int | None = None,
                      as_of: datetime | None = None) -> Iterator[tuple[str, bytes]]:
    """Yield (partition_key = customer_id, body) pairs; body == encode_event() of the same event.

    Same draws as generate_events, but the body is assembled from precomputed JSON fragments.
    """
    customers = customer_pool()
    customer_parts = [
        (c.customer_id, ",".join(f'"{field}":{json_string(getattr(c, field))}'
                                 for field in Customer.__dataclass_fields__))
        for c in customers
    ]
    product_parts = _product_fragments()
    tail_parts = [
        [f'"payment_method":{json_string(method)},"order_status":{json_string(status)}}}'
         for status in ORDER_STATUSES]
        for method in PAYMENT_METHODS
    ]
    head = f'{{"schema_version":{SCHEMA_VERSION},"event_id":"'
    type_part = f'","event_type":{json_string(EVENT_TYPE)},"event_time":"'
    for (event_id, event_time, order_id, customer_index, order_ts, product_index, markdown_index,
         quantity, discount_index, payment_index, status_index) in _draw_orders(count, seed, as_of):
        key, customer_part = customer_parts[customer_index]
        body = (f'{head}{event_id}{type_part}{event_time}","order_id":"{order_id}",{customer_part},'
                f'"order_ts":"{order_ts}",'
                f'{product_parts[product_index][markdown_index][quantity - 1][discount_index]},'
                f'{tail_parts[payment_index][status_index]}')
        yield key, body.encode("utf-8")


# Below this many events a child process costs more (about 0.5 s to start) than it saves.
BACKGROUND_MIN_EVENTS = 50_000
_CHUNK = 20_000  # messages per hand-over from the child: large enough that pickling is cheap


@dataclass(frozen=True)
class OrderEvents:
    """The messages `generate` sends, for a transport's send: iterating draws them (in a child
    process for large counts); a planned send uses `description` and draws nothing."""

    count: int
    seed: int | None = None
    as_of: datetime | None = None
    partition_key_rule: ClassVar[str] = "(partition key customer_id)"

    @property
    def planned_count(self) -> int:
        return self.count

    @property
    def description(self) -> str:
        seeded = f" (seed {self.seed})" if self.seed is not None else ""
        return f"{self.count:,} order events{seeded}"

    def __iter__(self) -> Iterator[tuple[str, bytes]]:
        return generate_messages_in_background(self.count, seed=self.seed, as_of=self.as_of)


def generate_messages_in_background(count: int, *, seed: int | None = None,
                                    as_of: datetime | None = None,
                                    min_events: int = BACKGROUND_MIN_EVENTS,
                                    ) -> Iterator[tuple[str, bytes]]:
    """The messages of generate_messages (the same ones for a seed), drawn in a child process.

    Drawing the events and writing them to the transport are each about half of `generate`;
    in one process they share one core, in two they overlap (measured: ~85k -> ~120k events/s
    into the embedded log on two cores). Small counts are drawn in this process.
    """
    if count < min_events:
        yield from generate_messages(count, seed=seed, as_of=as_of)
        return
    child = _DrawingProcess(count, seed, as_of)
    try:
        yield from child.messages()
    finally:
        child.stop()


def stop_child_processes() -> None:
    """Stop every drawing process still running (the CLI calls this however a command ends)."""
    for child in list(_CHILDREN):
        child.stop()


_CHILDREN: "set[_DrawingProcess]" = set()

# The child's whole program: it ignores Ctrl-C (the terminal sends it to the whole process group;
# the parent decides what happens) and reads its arguments, sys.path included, from stdin.
_CHILD_MAIN = """
import pickle, signal, sys
signal.signal(signal.SIGINT, signal.SIG_IGN)
arguments = pickle.load(sys.stdin.buffer)
sys.path[:] = arguments.pop("path")
from ecomctl.events.generator import _draw_into_stdout
_draw_into_stdout(**arguments)
"""


class _DrawingProcess:
    """A child process that draws the messages and hands them over through a pipe, in pickled
    chunks: a list of messages, then None at the end, or the exception that stopped it.

    A plain pipe, not multiprocessing: no resource tracker process, and no way for the child to
    outlive this process. If this process dies, even by SIGKILL, the child's next write fails
    (nothing reads the pipe any more) and it exits; if this process stops reading, stop()
    terminates it, and stop_child_processes() runs at exit for any generator left unclosed.
    """

    def __init__(self, count: int, seed: int | None, as_of: datetime | None) -> None:
        import pickle
        import subprocess
        import sys
        import tempfile

        self._errors = tempfile.TemporaryFile()  # the child's stderr, quoted if it dies
        self.process = subprocess.Popen([sys.executable, "-c", _CHILD_MAIN], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=self._errors,
                                        bufsize=1 << 20)
        if not _CHILDREN:
            import atexit

            atexit.register(stop_child_processes)
        _CHILDREN.add(self)
        self.finished = False
        try:
            pickle.dump({"path": list(sys.path), "count": count, "seed": seed, "as_of": as_of},
                        self.process.stdin)
            self.process.stdin.close()
        except BaseException:
            self.stop()
            raise

    def messages(self) -> Iterator[tuple[str, bytes]]:
        import pickle

        while True:
            try:
                item = pickle.load(self.process.stdout)
            except EOFError:
                code = self.process.wait()
                raise RuntimeError(f"the event generator process stopped (exit code {code})"
                                   f"{self._last_error_line()}") from None
            if item is None:
                self.finished = True
                return
            if isinstance(item, BaseException):
                raise item
            yield from item

    def stop(self) -> None:
        import subprocess

        _CHILDREN.discard(self)
        process = self.process
        if process.poll() is None:
            try:
                if not self.finished:  # one that has sent its last chunk exits by itself
                    process.terminate()
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        process.stdout.close()
        self._errors.close()

    def _last_error_line(self) -> str:
        self._errors.seek(0)
        lines = [line for line in self._errors.read().decode(errors="replace").splitlines() if line.strip()]
        return f": {lines[-1].strip()}" if lines else ""


def _draw_into_stdout(count: int, seed: int | None, as_of: datetime | None) -> None:
    """The child's side: draw, and write pickled chunks to stdout from a thread of their own, so
    drawing goes on while the parent is busy (up to four chunks ahead)."""
    import pickle
    import queue
    import sys
    import threading

    stream = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # whatever else prints goes to stderr, not into the stream of chunks
    chunks: queue.Queue = queue.Queue(maxsize=4)

    def write() -> None:
        while True:
            item = chunks.get()
            try:
                pickle.dump(item, stream, protocol=pickle.HIGHEST_PROTOCOL)
                stream.flush()
            except (BrokenPipeError, OSError):
                os._exit(0)  # the parent is gone: nothing is waiting for these events
            if item is None or isinstance(item, BaseException):
                return

    writer = threading.Thread(target=write, name="ecomctl-generate-writer", daemon=True)
    writer.start()
    try:
        chunk: list[tuple[str, bytes]] = []
        for message in generate_messages(count, seed=seed, as_of=as_of):
            chunk.append(message)
            if len(chunk) == _CHUNK:
                chunks.put(chunk)
                chunk = []
        if chunk:
            chunks.put(chunk)
        chunks.put(None)
    except BaseException as exc:  # noqa: BLE001 - handed to the parent, which raises it
        try:
            pickle.dumps(exc)
        except Exception:  # noqa: BLE001 - an exception that cannot travel travels as its text
            exc = RuntimeError(f"{type(exc).__name__}: {exc}")
        chunks.put(exc)
    writer.join()
    stream.close()
    sys.exit(0)


@lru_cache(maxsize=1)
def _product_fragments() -> list:
    """JSON from product_id to total_amount for every (product, markdown, quantity, discount): ~1000 strings."""
    fragments = []
    for p, product in enumerate(PRODUCTS):
        by_markdown = []
        for m in range(len(_MARKDOWNS)):
            price = unit_price(p, m)
            by_markdown.append([
                [",".join((
                    f'"product_id":{json_string(product.product_id)}',
                    f'"product_name":{json_string(product.product_name)}',
                    f'"brand":{json_string(product.brand)}',
                    f'"category":{json_string(product.category)}',
                    f'"base_price":{_json_value(product.base_price)}',
                    f'"unit_price":{_json_value(price)}',
                    f'"quantity":{quantity}',
                    f'"discount_pct":{_json_value(discount)}',
                    f'"total_amount":{_json_value(order_total(quantity, price, discount))}',
                )) for discount in _DISCOUNTS]
                for quantity in _QUANTITIES
            ])
        fragments.append(by_markdown)
    return fragments


def _draw_orders(count: int, seed: int | None, as_of: datetime | None) -> Iterator[tuple]:
    """The random part of each event, as indexes into the pools; the only consumer of the RNG.

    Only random() and getrandbits() are used: their output for a seed is stable across Python
    versions, unlike some helpers built on them.
    """
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ValueError(f"count must be a non-negative integer, got {count!r}")
    if seed is not None:
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ValueError(f"seed must be an integer, got {seed!r}")
        rng = random.Random(seed)
        order_prefix = f"ORD-S{seed}-"
        if as_of is None:
            as_of = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    else:
        rng = random.Random(int.from_bytes(os.urandom(16), "big"))
        # A random token keeps order ids of separate unseeded runs apart.
        order_prefix = f"ORD-{base64.b32encode(os.urandom(5)).decode('ascii')}-"
        if as_of is None:
            as_of = datetime.now(timezone.utc)
    if as_of.tzinfo is None:
        as_of = as_of.replace(tzinfo=timezone.utc)
    as_of_epoch = int(as_of.timestamp())  # whole seconds: every timestamp is written to the second
    window = int(ORDER_WINDOW.total_seconds())
    window_start = as_of_epoch - window

    rand = rng.random
    getrandbits = rng.getrandbits
    customer_cum = _customer_cum_weights()
    draws = [(customer_cum, customer_cum[-1], len(customer_cum) - 1)]
    for weights in (_PRODUCT_WEIGHTS, _MARKDOWN_WEIGHTS, _QUANTITY_WEIGHTS, _DISCOUNT_WEIGHTS,
                    _PAYMENT_WEIGHTS, tuple(_STATUS_WEIGHTS[s] for s in ORDER_STATUSES)):
        cum = list(accumulate(weights))
        draws.append((cum, cum[-1], len(cum) - 1))
    (cust, cust_total, cust_hi), (prod, prod_total, prod_hi), (mark, mark_total, mark_hi), \
        (qty, qty_total, qty_hi), (disc, disc_total, disc_hi), (pay, pay_total, pay_hi), \
        (stat, stat_total, stat_hi) = draws
    clock = _TimestampFormatter()
    fixed_event_time = clock.format(as_of_epoch) if seed is not None else None
    last_second, event_time = -1, ""

    for n in range(1, count + 1):
        uuid_int = (getrandbits(128) & _UUID_CLEAR) | _UUID_SET
        h = f"{uuid_int:032x}"
        event_id = f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
        if fixed_event_time is None:
            second = int(time.time())
            if second != last_second:
                last_second, event_time = second, clock.format(max(second, as_of_epoch))
        else:
            event_time = fixed_event_time
        yield (
            event_id,
            event_time,
            f"{order_prefix}{n:06d}",
            bisect(cust, rand() * cust_total, 0, cust_hi),
            clock.format(window_start + int(rand() * window)),
            bisect(prod, rand() * prod_total, 0, prod_hi),
            bisect(mark, rand() * mark_total, 0, mark_hi),
            _QUANTITIES[bisect(qty, rand() * qty_total, 0, qty_hi)],
            bisect(disc, rand() * disc_total, 0, disc_hi),
            bisect(pay, rand() * pay_total, 0, pay_hi),
            bisect(stat, rand() * stat_total, 0, stat_hi),
        )


class _TimestampFormatter:
    """Epoch seconds to 'YYYY-MM-DDTHH:MM:SSZ' from lookup tables (strftime per event is too slow)."""

    _HOUR_MINUTE = [f"{m // 60:02d}:{m % 60:02d}:" for m in range(1440)]
    _SECOND = [f"{s:02d}Z" for s in range(60)]

    def __init__(self) -> None:
        self._day_prefix: dict[int, str] = {}

    def format(self, epoch_seconds: int) -> str:
        day, in_day = divmod(epoch_seconds, 86400)
        prefix = self._day_prefix.get(day)
        if prefix is None:
            prefix = (datetime(1970, 1, 1) + timedelta(days=day)).strftime("%Y-%m-%dT")
            self._day_prefix[day] = prefix
        minute, second = divmod(in_day, 60)
        return prefix + self._HOUR_MINUTE[minute] + self._SECOND[second]
