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


class JsonLines:
    """The events of a JSON-lines file ('-' = standard input) as messages for a transport's send.

    Nothing is opened until the messages are iterated, so a planned send reads nothing: it uses
    `description` and `partition_key_rule`. `count` says how far the reading got.
    `on_terminal` is called when the lines come from a terminal (typed or pasted events).
    """

    partition_key_rule = "(partition key: the line's customer_id when it has one)"
    planned_count = 0  # unknown until the file is read

    def __init__(self, source: "str | Path | BinaryIO", name: str | None = None, *,
                 on_terminal: Callable[[], None] | None = None) -> None:
        if isinstance(source, (str, Path)) and str(source) == "-":
            source, name = sys.stdin.buffer, name or "<stdin>"
        elif isinstance(source, (str, Path)):
            name = name or str(source)
        self.source = source
        self.count = LineCount(name or "<stream>")
        self.total: int | None = None  # lines in the file, once it is opened (None for a stream)
        self.on_terminal = on_terminal
        # A file that cannot be opened ends the messages before the first one; send_lines raises
        # this after the transport's send (which would otherwise wrap it as a transport error).
        self.error: EcomctlError | None = None

    @property
    def name(self) -> str:
        return self.count.name

    @property
    def description(self) -> str:
        return f"each line of {self.name} as one event body, byte for byte and unvalidated,"

    def __iter__(self) -> Iterator[tuple[str | None, bytes]]:
        if not isinstance(self.source, (str, Path)):
            if self.on_terminal is not None and _is_terminal(self.source):
                self.on_terminal()
            yield from read_messages(self.source, self.count)
            return
        path = Path(self.source)
        try:
            with open(path, "rb") as handle:
                self.total = sum(1 for _ in handle)
            stream: BinaryIO = open(path, "rb")
        except OSError as exc:
            self.error = EcomctlError(f"cannot read {path}: {exc.strerror or exc}",
                                      hint="give a JSON-lines file, or - for standard input")
            return
        with stream:
            yield from read_messages(stream, self.count)


def _is_terminal(stream: BinaryIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def send_lines(transport, lines: JsonLines, *,
               on_progress: Callable[[int, int | None], None] | None = None):
    """Send every line; returns the transport's SendResult. A line too large for one event stops
    the send with an error naming the line and where to resume."""
    count = lines.count
    progress = (lambda events, nbytes: on_progress(count.lines, lines.total)) if on_progress else None
    try:
        sent = transport.send(lines, on_progress=progress)
    except EventTooLargeError as exc:
        raise EcomctlError(
            f"{count.name}, line {count.current}: {exc}",
            hint=f"lines before {count.current} were sent; fix or remove line {count.current} and "
                 f"send the rest, e.g. tail -n +{count.current} FILE | ecomctl send -") from None
    if lines.error is not None:
        raise lines.error
    return sent
