"""`ecomctl send`: each line of a JSON-lines file becomes one event body, unvalidated.

For replaying captured events and for backfills. Bronze is where events are validated, so a line
is sent byte for byte (bad JSON, invalid UTF-8 and all) and lands in rejected_events with its
reason if it breaks a rule; nothing is fixed or dropped on the way.

- A line ends at LF; a CRLF line ending is removed too (the CR is not part of the event).
- Empty lines (nothing between two line ends) are skipped and counted: they are layout, not
  events. A line of spaces is sent (and rejected as invalid JSON).
- Partition key: the line's customer_id when the line is a JSON object whose customer_id is a
  string (what `generate` uses, so a customer's events stay in order in one partition); otherwise
  no key, and the transport spreads keyless events over the partitions.
- A line too large for one event of the transport stops the send with an error naming the line;
  the lines before it stay sent (as with any event hub) and the message says where to resume.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable, Iterator

from ecomctl.errors import EcomctlError
from ecomctl.events.transport import EventTooLargeError


@dataclass
class LineCount:
    name: str
    lines: int = 0  # lines read, empty ones included
    empty: int = 0  # empty lines skipped
    current: int = 0  # line number of the last line handed to the transport


def partition_key(line: bytes) -> str | None:
    """customer_id of a JSON object line when it is a string; else None (no key)."""
    if b'"customer_id"' not in line:  # cheap test first: most bad lines never parse
        return None
    try:
        value = json.loads(line)
    except (ValueError, RecursionError):
        return None
    if isinstance(value, dict):
        key = value.get("customer_id")
        if isinstance(key, str) and key:
            return key
    return None


def read_messages(stream: BinaryIO, count: LineCount) -> Iterator[tuple[str | None, bytes]]:
    for raw in stream:
        count.lines += 1
        line = raw[:-1] if raw.endswith(b"\n") else raw
        if line.endswith(b"\r"):
            line = line[:-1]
        if not line:
            count.empty += 1
            continue
        count.current = count.lines
        yield partition_key(line), line


def send_lines(transport, source: "str | Path | BinaryIO", name: str | None = None, *,
               on_progress: Callable[[int, int | None], None] | None = None):
    """Send every line of `source` ('-' = standard input); returns (SendResult, LineCount)."""
    if isinstance(source, (str, Path)) and str(source) == "-":
        source = sys.stdin.buffer
        name = name or "<stdin>"
    total: int | None = None
    if isinstance(source, (str, Path)):
        path = Path(source)
        name = name or str(path)
        try:
            with open(path, "rb") as handle:
                total = sum(1 for _ in handle)
            stream: BinaryIO = open(path, "rb")
        except OSError as exc:
            raise EcomctlError(f"cannot read {path}: {exc.strerror or exc}",
                               hint="give a JSON-lines file, or - for standard input") from None
    else:
        stream = source
    count = LineCount(name or "<stream>")
    progress = (lambda events, nbytes: on_progress(count.lines, total)) if on_progress else None
    try:
        sent = transport.send(read_messages(stream, count), on_progress=progress)
    except EventTooLargeError as exc:
        raise EcomctlError(
            f"{count.name}, line {count.current}: {exc}",
            hint=f"lines before {count.current} were sent; fix or remove line {count.current} and "
                 f"send the rest, e.g. tail -n +{count.current} FILE | ecomctl send -") from None
    finally:
        if stream is not source:
            stream.close()
    return sent, count
