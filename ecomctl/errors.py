"""One root error type; every handled failure is an EcomctlError with a message that says what, where and what to do."""

from __future__ import annotations

import re


class EcomctlError(Exception):
    """A failure the user can act on; the CLI prints it as one line and exits 1."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint

    def __str__(self) -> str:
        text = super().__str__()
        return f"{text} ({self.hint})" if self.hint else text


class ConfigError(EcomctlError):
    """A setting is missing or invalid; the message names the setting."""

    def __init__(self, setting: str, problem: str, *, hint: str | None = None) -> None:
        super().__init__(f"setting {setting}: {problem}", hint=hint)
        self.setting = setting


class SqlError(EcomctlError):
    """A SQL file failed; names the file, the statement number and its first line."""

    def __init__(self, file: str, problem: str, *, statement: int | None = None,
                 line: int | None = None, hint: str | None = None) -> None:
        where = file
        if statement is not None:
            where += f", statement {statement}"
        if line is not None:
            where += f" (line {line})"
        super().__init__(f"{where}: {problem}", hint=hint)
        self.file = file
        self.problem = problem
        self.statement = statement
        self.line = line


class MigrationError(SqlError):
    """A versioned setup file conflicts with the history (edited after it was applied)."""


class ReconciliationError(EcomctlError):
    """Bronze does not add up; carries the reconciliation so the run report can show it."""

    def __init__(self, message: str, reconciliation: dict, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.reconciliation = reconciliation


class TransportError(EcomctlError):
    """The event transport (embedded log or Event Hubs) failed or is unreachable."""


class WarehouseError(EcomctlError):
    """The SQL warehouse failed or is unreachable."""


class UsageError(EcomctlError):
    """A command asked for something its target cannot do (e.g. ingest --mode kafka locally); exit 2."""


def is_usage_error(exc: BaseException) -> bool:
    """Whether the command line itself is at fault (exit 2): a UsageError, or a bad value of a
    command-line option (a ConfigError against `--home`, say). A bad setting from the
    environment or a .env file is a failed run (exit 1), reported against its variable."""
    return isinstance(exc, UsageError) or (isinstance(exc, ConfigError) and exc.setting.startswith("-"))


# Out of space, or over a file size limit (RLIMIT_FSIZE, a quota): the words each layer uses.
_DISK_FULL_ERRNOS = {"ENOSPC", "EFBIG", "EDQUOT"}
_DISK_FULL_WORDS = ("no space left on device", "file too large", "disk quota exceeded",
                    "database or disk is full", "out of disk space")
DISK_FULL_HINT = ("the disk (or a file size limit) is full: free space under the home folder and "
                  "run again; what finished is kept and a re-run picks up where this one stopped")


def is_disk_full(exc: BaseException | str) -> bool:
    import errno

    if isinstance(exc, OSError) and exc.errno is not None:
        if errno.errorcode.get(exc.errno) in _DISK_FULL_ERRNOS:
            return True
    text = str(exc).lower()
    return any(word in text for word in _DISK_FULL_WORDS)


def describe_os_error(exc: OSError) -> str:
    """One line for an OSError that escaped every layer: what failed, on which file, and why."""
    where = f" {exc.filename}" if exc.filename else ""
    reason = exc.strerror or str(exc)
    if is_disk_full(exc):
        return f"cannot write{where}: {reason} ({DISK_FULL_HINT})"
    return f"file system error on{where or ' a file'}: {reason}"


# The tail SDK messages add after what went wrong: where to read more, which the hint replaces.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(])|,\s+(?i:please)\s")


def first_sentence(value: "BaseException | str", longer_than: int = 120) -> str:
    """The first line of an error (as first_line), cut to its first sentence when it is longer
    than `longer_than` characters: an SDK's message can run to hundreds of characters of advice
    and echoed configuration, where ecomctl's own hint names the settings to check."""
    line = first_line(value)
    if len(line) <= longer_than:
        return line
    found = _SENTENCE_END.search(line)
    return line[: found.start()].rstrip(" .,;:") if found else line


def first_line(value: "BaseException | str") -> str:
    """The first non-blank line of an exception's text (an engine's message can run on to a
    caret diagram or a stack), else its type name: what a one-line error shows of it. For a text
    (an already scrubbed message), its first non-blank line, else ''."""
    text = str(value)
    fallback = type(value).__name__ if isinstance(value, BaseException) else text.strip()
    return next((line.strip() for line in text.splitlines() if line.strip()), fallback)
