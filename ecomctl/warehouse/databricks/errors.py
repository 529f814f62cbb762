"""How the failures of the SQL connector and the REST API read: whether a statement may be retried
or its session reopened, whether an object was missing, and why a host gave no answer."""

from __future__ import annotations

import re

from ecomctl.errors import first_line
from ecomctl.warehouse.databricks.access import HTTP_TIMEOUT_SECONDS, RETRY_TIMEOUT_SECONDS

_NOT_FOUND = ("TABLE_OR_VIEW_NOT_FOUND", "SCHEMA_NOT_FOUND", "NO_SUCH_CATALOG", "CATALOG_NOT_FOUND",
              "does not exist", "cannot be found")
_SESSION_GONE = ("invalid sessionhandle", "session_not_found", "session has expired",
                 "session is closed", "invalid session")
# Signs of a failure of the moment rather than of the statement. A statement timeout
# (QUERY_EXECUTION_TIMEOUT_EXCEEDED) is not one: running it again would take as long.
_TRANSIENT = re.compile(
    r"temporarily_unavailable|\b(?:http|status|code)[\s:=]*(?:429|502|503|504)\b|"
    r"remote end closed connection|connection reset|gateway timeout|"
    r"connection aborted|could not be scheduled|read timed out|connect timed out|service unavailable|"
    r"too many requests|bad gateway", re.I)


class StatementFailed(Exception):
    """The warehouse refused or failed the statement; `message` is its first line."""

    def __init__(self, message: str, *, transient: bool = False, session_gone: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.transient = transient
        self.session_gone = session_gone


def translate_connector_error(exc: BaseException) -> StatementFailed:
    """A databricks-sql-connector error as a StatementFailed that says whether to retry or reconnect."""
    from databricks.sql import exc as sql_exc

    message = first_line(exc)
    lowered = str(exc).lower()
    session_gone = isinstance(exc, sql_exc.SessionAlreadyClosedError) or any(
        m in lowered for m in _SESSION_GONE)
    transient = not session_gone and (
        isinstance(exc, sql_exc.RequestError) and not isinstance(exc, sql_exc.NonRecoverableNetworkError)
        or bool(_TRANSIENT.search(lowered)))
    return StatementFailed(message, transient=transient, session_gone=session_gone)


def names_missing_object(problem: str) -> bool:
    """Whether the warehouse's message says a table, view, schema or catalog does not exist."""
    return any(marker.lower() in problem.lower() for marker in _NOT_FOUND)


def network_reason(exc: BaseException) -> str | None:
    """Why a REST call got no answer, from the chain of causes; None when it is not a network error."""
    import socket

    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(chain) < 10:
        chain.append(current)
        current = current.__cause__ or current.__context__
    names = {type(e).__name__ for e in chain}
    if "NameResolutionError" in names or any(isinstance(e, socket.gaierror) for e in chain):
        return "does not resolve (unknown host name)"
    if any(isinstance(e, ConnectionRefusedError) for e in chain):
        return "refused the connection"
    if any(isinstance(e, (TimeoutError, socket.timeout)) for e in chain) or "Timeout" in str(names):
        return f"did not answer within {RETRY_TIMEOUT_SECONDS + HTTP_TIMEOUT_SECONDS} s"
    if any(isinstance(e, OSError) or type(e).__module__.startswith(("requests", "urllib3"))
           for e in chain):
        return f"cannot be reached ({first_line(exc)})"
    return None
