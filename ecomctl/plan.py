"""The plan of a dry run: every statement, file upload and API call a command would make, in order.

A dry run builds the same steps with adapters that record instead of connecting, so the plan is
what the real run sends to a fresh workspace: queries return no rows, as nothing exists yet.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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


class DryRunTransport:
    """Stands in for the event hub: records what would be sent or read, connects to nothing."""

    def __init__(self, source: str, max_batch_bytes: int, plan: Plan) -> None:
        self.source = source
        self.max_batch_bytes = max_batch_bytes
        self.plan = plan

    def check(self) -> None:
        self.plan.add("api", f"check that {self.source} is reachable (read its partitions)")

    def partition_ids(self) -> list[str]:
        self.plan.add("api", f"list the partitions of {self.source} and their last sequence numbers")
        return []

    def plan_send(self, count: int, seed: int | None) -> None:
        seeded = f" (seed {seed})" if seed is not None else ""
        self.plan.add("send", f"send {count:,} order events{seeded} to {self.source} in batches of "
                              f"at most {self.max_batch_bytes:,} bytes (partition key customer_id)")

    def plan_send_lines(self, name: str) -> None:
        self.plan.add("send", f"send each line of {name} as one event body, byte for byte and "
                              f"unvalidated, to {self.source} in batches of at most "
                              f"{self.max_batch_bytes:,} bytes (partition key: the line's customer_id "
                              "when it has one)")

    def plan_receive(self, batch: int) -> None:
        self.plan.add("receive", f"read each partition of {self.source} from after its checkpoint "
                                 f"to its end when ingest starts, at most {batch:,} events per read")

    def close(self) -> None:
        pass
