"""Ctrl-C and SIGTERM stop a command the way a failure does: one line, a run report of what
finished, no child process left behind, and the shell's exit code for a signal (128 + its
number: 130 for Ctrl-C, 143 for SIGTERM, which schedulers and CI runners send).

Python's default turns SIGINT into KeyboardInterrupt but lets SIGTERM kill the process on the
spot, with no clean-up at all. While a command runs, both raise `Stopped` (a KeyboardInterrupt)
in the main thread instead, and the signal is remembered, so the CLI knows which one it was even
when an engine reports it as an error of its own (DuckDB: "query interrupted"). A second signal
during the clean-up is ignored, so the report still gets written; SIGKILL stops at once. A
signal that was ignored when ecomctl started (nohup, a shell's background job) stays ignored.

While events are sent, a signal stops the send at the next batch boundary instead (`defer`,
then `check` after each batch is counted), so the count of events sent is exact: raised right
after a batch committed, it would lose that batch from the count. If no boundary comes within
DEFERRED_SECONDS (a slow network), it stops where it is.
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Iterator

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
DEFERRED_SECONDS = 2.0
_ALARM = getattr(signal, "SIGALRM", None)  # POSIX; elsewhere a deferred stop waits for a boundary


class Stopped(KeyboardInterrupt):
    """A stop signal arrived while a command ran."""

    def __init__(self, signal_number: int) -> None:
        super().__init__(signal.Signals(signal_number).name)
        self.signal_number = signal_number


class StopSignals:
    def __init__(self) -> None:
        self.received: int | None = None
        self._armed = True
        self._deferred = False
        self._pending = False  # received while deferred, not raised yet

    def handle(self, signal_number: int, frame: object) -> None:
        if self.received is not None:
            return  # the first one is being handled: let its clean-up and report finish
        self.received = signal_number
        if not self._armed:
            return
        if self._deferred:
            self._pending = True
            if _ALARM is not None:
                signal.setitimer(signal.ITIMER_REAL, DEFERRED_SECONDS)
            return
        raise Stopped(signal_number)

    def _deadline(self, signal_number: int, frame: object) -> None:
        self.check()

    def defer(self) -> None:
        """Until `resume`, a signal is only raised by `check` (at a batch boundary)."""
        self._deferred = True

    def resume(self, *, raise_pending: bool = True) -> None:
        """Back to stopping at once; a signal that came meanwhile is raised now (unless the
        step is failing already: then it is only remembered)."""
        self._deferred = False
        if raise_pending:
            self.check()

    def check(self) -> None:
        """A safe point: raise the signal that came while deferred, if one did."""
        if self._pending and self._armed:
            self._pending = False
            self._cancel_deadline()
            raise Stopped(self.received)

    def signal_number(self, default: int | None = signal.SIGINT) -> int | None:
        """The signal that stopped the command; `default` when none did (a bare
        KeyboardInterrupt is Ctrl-C)."""
        return self.received if self.received is not None else default

    def disarm(self) -> None:
        """From here on a signal is remembered but raises nothing (the report is being written)."""
        self._armed = False
        self._cancel_deadline()

    def _cancel_deadline(self) -> None:
        if _ALARM is not None:
            signal.setitimer(signal.ITIMER_REAL, 0)


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
    if _ALARM is not None:
        previous[_ALARM] = signal.signal(_ALARM, stop._deadline)
    try:
        yield stop
    finally:
        stop.disarm()
        for number, handler in previous.items():
            signal.signal(number, handler)


class StopAtBatches:
    """The reporter a command's steps talk to: the console, with `generate` and `send` stopped
    by a signal at a batch boundary. Each step counts a batch before it reports progress, so a
    stop raised from `progress` leaves the step's count exact."""

    _SENDING = ("generate", "send")

    def __init__(self, reporter, stop: StopSignals) -> None:
        self._reporter = reporter
        self._stop = stop

    def __getattr__(self, name: str):
        return getattr(self._reporter, name)

    def step_started(self, step: str, description: str) -> None:
        self._reporter.step_started(step, description)
        if step in self._SENDING:
            self._stop.defer()

    def progress(self, task: str, completed: int, total: int | None, nbytes: int | None = None) -> None:
        self._reporter.progress(task, completed, total, nbytes)
        self._stop.check()

    def step_finished(self, result) -> None:
        self._reporter.step_finished(result)
        self._stop.resume()

    def step_failed(self, result) -> None:
        self._reporter.step_failed(result)
        self._stop.resume(raise_pending=False)


def describe(signal_number: int) -> str:
    if signal_number == signal.SIGINT:
        return "interrupted (Ctrl-C, SIGINT)"
    if signal_number == signal.SIGTERM:
        return "terminated (SIGTERM)"
    return f"stopped by {signal.Signals(signal_number).name}"


def exit_code(signal_number: int) -> int:
    return 128 + int(signal_number)
