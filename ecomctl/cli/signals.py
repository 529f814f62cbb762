"""Ctrl-C and SIGTERM stop a command the way a failure does: one line, a run report of what
finished, no child process left behind, and the shell's exit code for a signal (128 + its
number: 130 for Ctrl-C, 143 for SIGTERM, which schedulers and CI runners send).

Python's default turns SIGINT into KeyboardInterrupt but lets SIGTERM kill the process on the
spot, with no clean-up at all. While a command runs, both raise `Stopped` (a KeyboardInterrupt)
in the main thread instead, and the signal is remembered, so the CLI knows which one it was even
when an engine reports it as an error of its own (DuckDB: "query interrupted"). A second signal
during the clean-up is ignored, so the report still gets written; SIGKILL stops at once. A
signal that was ignored when ecomctl started (nohup, a shell's background job) stays ignored.
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Iterator

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Stopped(KeyboardInterrupt):
    """A stop signal arrived while a command ran."""

    def __init__(self, signal_number: int) -> None:
        super().__init__(signal.Signals(signal_number).name)
        self.signal_number = signal_number


class StopSignals:
    def __init__(self) -> None:
        self.received: int | None = None
        self._armed = True

    def handle(self, signal_number: int, frame: object) -> None:
        if self.received is not None:
            return  # the first one is being handled: let its clean-up and report finish
        self.received = signal_number
        if self._armed:
            raise Stopped(signal_number)

    def signal_number(self, default: int | None = signal.SIGINT) -> int | None:
        """The signal that stopped the command; `default` when none did (a bare
        KeyboardInterrupt is Ctrl-C)."""
        return self.received if self.received is not None else default

    def disarm(self) -> None:
        """From here on a signal is remembered but raises nothing (the report is being written)."""
        self._armed = False


@contextmanager
def stop_signals() -> Iterator[StopSignals]:
    """SIGINT and SIGTERM raise `Stopped` while the block runs; the previous handlers after it."""
    stop = StopSignals()
    if threading.current_thread() is not threading.main_thread():
        yield stop  # only the main thread may set handlers (the CLI always runs there)
        return
    # A signal ignored when ecomctl started stays ignored (`nohup`, a shell's background job).
    previous = {number: signal.signal(number, stop.handle) for number in STOP_SIGNALS
                if signal.getsignal(number) is not signal.SIG_IGN}
    try:
        yield stop
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def describe(signal_number: int) -> str:
    if signal_number == signal.SIGINT:
        return "interrupted (Ctrl-C, SIGINT)"
    if signal_number == signal.SIGTERM:
        return "terminated (SIGTERM)"
    return f"stopped by {signal.Signals(signal_number).name}"


def exit_code(signal_number: int) -> int:
    return 128 + int(signal_number)
