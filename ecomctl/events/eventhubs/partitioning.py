"""Which partition an event goes to: the one Event Hubs itself picks for its partition key.

The sender fills one batch per partition (batches of many customers fill up; a batch per key would
not), so it must name each event's partition itself. For the events of a customer to land where the
hub would put them, it uses the hub's own key hash: Jenkins' lookup3 (hashlittle2) over the key's
UTF-8 bytes, the two results XORed and kept as a signed 16-bit number, then |hash % partitions| with
the remainder truncated toward zero. The .NET, Java and JavaScript SDKs carry this as "a direct port
of the Event Hubs service code" (Azure.Messaging.EventHubs, Core/PartitionResolver.cs), and their
test vectors pin it (tests/test_eventhubs.py). The Python SDK's copy is private and differs for
negative hashes (Python's % floors) and for keys that are not ASCII (it hashes code points, not
bytes), so it is not used.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

_MASK = 0xFFFFFFFF


def _rot(x: int, k: int) -> int:
    return ((x << k) | (x >> (32 - k))) & _MASK


def _mix(a: int, b: int, c: int) -> tuple[int, int, int]:
    a = ((a - c) & _MASK) ^ _rot(c, 4)
    c = (c + b) & _MASK
    b = ((b - a) & _MASK) ^ _rot(a, 6)
    a = (a + c) & _MASK
    c = ((c - b) & _MASK) ^ _rot(b, 8)
    b = (b + a) & _MASK
    a = ((a - c) & _MASK) ^ _rot(c, 16)
    c = (c + b) & _MASK
    b = ((b - a) & _MASK) ^ _rot(a, 19)
    a = (a + c) & _MASK
    c = ((c - b) & _MASK) ^ _rot(b, 4)
    b = (b + a) & _MASK
    return a, b, c


def _final(a: int, b: int, c: int) -> tuple[int, int, int]:
    c = ((c ^ b) - _rot(b, 14)) & _MASK
    a = ((a ^ c) - _rot(c, 11)) & _MASK
    b = ((b ^ a) - _rot(a, 25)) & _MASK
    c = ((c ^ b) - _rot(b, 16)) & _MASK
    a = ((a ^ c) - _rot(c, 4)) & _MASK
    b = ((b ^ a) - _rot(a, 14)) & _MASK
    c = ((c ^ b) - _rot(b, 24)) & _MASK
    return a, b, c


def _lookup3(data: bytes) -> tuple[int, int]:
    """(c, b) of hashlittle2 with both seeds 0."""
    a = b = c = (0xDEADBEEF + len(data)) & _MASK
    rest = data
    while len(rest) > 12:
        a = (a + int.from_bytes(rest[0:4], "little")) & _MASK
        b = (b + int.from_bytes(rest[4:8], "little")) & _MASK
        c = (c + int.from_bytes(rest[8:12], "little")) & _MASK
        a, b, c = _mix(a, b, c)
        rest = rest[12:]
    if not rest:  # only an empty key ends here: lookup3 returns without the final mix
        return c, b
    tail = rest.ljust(12, b"\0")  # the last 1..12 bytes, as the original's switch adds them
    a = (a + int.from_bytes(tail[0:4], "little")) & _MASK
    b = (b + int.from_bytes(tail[4:8], "little")) & _MASK
    c = (c + int.from_bytes(tail[8:12], "little")) & _MASK
    a, b, c = _final(a, b, c)
    return c, b


def key_hash(partition_key: str) -> int:
    """The hub's 16-bit signed hash of a partition key."""
    c, b = _lookup3(partition_key.encode("utf-8"))
    value = (c ^ b) & 0xFFFF
    return value - 0x10000 if value >= 0x8000 else value


def partition_for_key(partition_key: str, partition_ids: Sequence[str]) -> str:
    """The partition the hub assigns to `partition_key`; `partition_ids` in the hub's order."""
    # abs() of a remainder truncated toward zero, as in C#: the same as abs(hash) % n.
    return partition_ids[abs(key_hash(partition_key)) % len(partition_ids)]


class PartitionChooser:
    """A key's events go where the hub would put them; keyless events go round the partitions in
    turn, as the hub spreads events sent without a key."""

    def __init__(self, partition_ids: Sequence[str]) -> None:
        if not partition_ids:
            raise ValueError("an event hub has at least one partition")
        self.partition_ids = list(partition_ids)
        self._turn = itertools.cycle(self.partition_ids)

    def __call__(self, partition_key: str | None) -> str:
        if not partition_key:
            return next(self._turn)
        return partition_for_key(partition_key, self.partition_ids)
