"""One root error type; every handled failure is an EcomctlError with a message that says what, where and what to do."""

from __future__ import annotations


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


class TransportError(EcomctlError):
    """The event transport (embedded log or Event Hubs) failed or is unreachable."""


class WarehouseError(EcomctlError):
    """The SQL warehouse failed or is unreachable."""


class UsageError(EcomctlError):
    """A command asked for something its target cannot do (e.g. ingest --mode kafka locally); exit 2."""
