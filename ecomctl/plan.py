"""The plan of a dry run: every statement, file upload and API call a command would make, in order.

A dry run builds the same steps with adapters that record instead of connecting, so the plan is
what the real run sends to a fresh workspace: queries return no rows, as nothing exists yet.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable

from ecomctl.events.transport import PartitionState, SendResult

# The kinds of entry the pipeline records, and what each stands for; the console prints the kind
# beside each entry. Other adapters (the dashboard API) may record kinds of their own.
KINDS = {
    "sql": "a statement sent to the SQL warehouse",
    "upload": "a landing file uploaded to the Volume",
    "api": "a REST API call (workspace, warehouse, dashboards)",
    "send": "events sent to the event hub",
    "receive": "events read from the event hub",
    "write": "a local file written",
    "check": "a condition checked before the step goes on",
}


@dataclass(frozen=True)
class PlanEntry:
    number: int
    step: str
    kind: str
    text: str


@dataclass
class Plan:
    entries: list[PlanEntry] = field(default_factory=list)
    step: str = ""

    def add(self, kind: str, text: str) -> None:
        if not kind or not kind.replace("-", "").replace("_", "").isalpha():
            raise ValueError(f"a plan entry kind is one word, e.g. {', '.join(KINDS)}; got {kind!r}")
        self.entries.append(PlanEntry(len(self.entries) + 1, self.step, kind, text))

    def of_kind(self, kind: str) -> list[PlanEntry]:
        return [e for e in self.entries if e.kind == kind]

    def as_dicts(self) -> list[dict]:
        return [{"number": e.number, "step": e.step, "kind": e.kind, "text": e.text}
                for e in self.entries]


class PlannedTransport:
    """The event hub in a plan: a send counts and records what would be sent, a read records what
    would be read and returns no events; nothing connects."""

    def __init__(self, source: str, max_batch_bytes: int, plan: Plan) -> None:
        self.source = source
        self.max_batch_bytes = max_batch_bytes
        self.plan = plan

    def check(self) -> None:
        self.plan.add("api", f"check that {self.source} is reachable (read its partitions)")

    def partition_ids(self) -> list[str]:
        self.plan.add("api", f"list the partitions of {self.source} and their last sequence numbers")
        return []

    def partition_state(self, partition_id: str) -> PartitionState:
        return PartitionState(partition_id, -1, -1, None)

    def send(self, messages: Iterable, on_progress: Callable[[int, int], None] | None = None,
             ) -> SendResult:
        """`messages` describes itself (`description`, `partition_key_rule`, `planned_count`);
        it is not iterated, so nothing is generated or read."""
        self.plan.add("send", f"send {messages.description} to {self.source} in batches of at most "
                              f"{self.max_batch_bytes:,} bytes {messages.partition_key_rule}")
        return SendResult(events=messages.planned_count, batches=0, bytes=0, seconds=0.0)

    def read(self, partition_id: str, after_sequence: int, max_events: int) -> list:
        self.plan.add("receive", f"read each partition of {self.source} from after its checkpoint "
                                 f"to its end when ingest starts, at most {max_events:,} events per read")
        return []

    def close(self) -> None:
        pass


class Checks:
    """A condition a step checks before it goes on: `check()` raises when it does not hold."""

    def verify(self, description: str, check: Callable[[], None]) -> None:
        check()


class PlannedChecks(Checks):
    """In a plan a check is recorded and its reads are made (so the plan shows them), but its
    answer is only known when the plan runs: a failing answer does not stop the plan."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan

    def verify(self, description: str, check: Callable[[], None]) -> None:
        from ecomctl.errors import EcomctlError

        self.plan.add("check", description)
        try:
            check()
        except EcomctlError:
            pass
