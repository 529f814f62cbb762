"""The two sessions of the Databricks warehouse: all its talking to Databricks goes through one.

`LiveSession` talks to the workspace: the REST API through databricks-sdk (warehouse state, Files
API) and SQL through databricks-sql-connector. Authentication is the SDK's unified `Config`
(profile, host + token, OAuth M2M, Azure CLI), handed to the connector through
`credentials_provider`, with short timeouts so a wrong host fails in seconds.

`PlannedSession` records into a dry-run Plan what the live one would send, and answers every query
with no rows, so a dry run makes exactly the decisions a run on a fresh workspace does.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from ecomctl.errors import WarehouseError, first_line, first_sentence
from ecomctl.warehouse.databricks.access import (HTTP_TIMEOUT_SECONDS, RETRY_TIMEOUT_SECONDS,
                                                 DatabricksAccess)
from ecomctl.warehouse.databricks.errors import network_reason, translate_connector_error
from ecomctl.warehouse.statements import select_names

if TYPE_CHECKING:  # pragma: no cover
    from ecomctl.plan import Plan
    from ecomctl.results import Reporter

WAREHOUSE_START_TIMEOUT = timedelta(minutes=20)

# Every SQL session runs in UTC, whatever TIMEZONE an admin gave the warehouse: offset-less
# timestamp casts, to_date, hour, dayofweek and date_format follow the session time zone, and the
# figures must be those of the local target, which runs in UTC. TIMEZONE is the Databricks SQL
# configuration parameter (docs: sql/language-manual/parameters/timezone); the connector sends
# session_configuration in the Thrift OpenSession request (and keeps TIMEZONE among the few keys
# its Statement Execution backend accepts).
SESSION_CONFIGURATION = {"TIMEZONE": "UTC"}

# databricks-sdk's files.upload sends a file of this size or more as a multipart upload (its
# Config.files_ext_multipart_upload_min_stream_size; a test keeps the two equal).
MULTIPART_THRESHOLD_MIB = 50

# Removing loaded landing files lists and deletes in the Volume: Unity Catalog privileges.
VOLUME_ACCESS_HINT = ("the landing files are removed with READ VOLUME and WRITE VOLUME on the Volume; "
                      "grant them, or set ECOMCTL_LANDING_RETENTION_HOURS=0 to keep every file")


@dataclass
class Outcome:
    """What a session answers for a statement."""

    columns: list[str] = field(default_factory=list)
    rows: list[tuple] = field(default_factory=list)
    rowcount: int = -1


# -- the live session ----------------------------------------------------------------------------
class LiveSession:
    """Talks to the workspace: REST API through the SDK, SQL through the connector."""

    dry_run = False

    def __init__(self, access: DatabricksAccess, *, reporter: "Reporter | None" = None,
                 start_timeout: timedelta = WAREHOUSE_START_TIMEOUT,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        _quiet_library_logging()
        self.access = access
        self.reporter = reporter
        self.start_timeout = start_timeout
        self._sleep = sleep
        self.warehouse_info: Any = None
        self._connection: Any = None

    @cached_property
    def config(self) -> Any:
        from databricks.sdk.core import Config

        self._check_host_resolves()
        kwargs: dict[str, Any] = {"retry_timeout_seconds": RETRY_TIMEOUT_SECONDS,
                                  "http_timeout_seconds": HTTP_TIMEOUT_SECONDS,
                                  "warehouse_id": self.access.warehouse_id}
        if self.access.host:
            kwargs["host"] = self.access.host
        if self.access.token:
            kwargs["token"] = self.access.token.reveal()
        if self.access.profile:
            kwargs["profile"] = self.access.profile
        try:
            return Config(**kwargs)
        except Exception as exc:  # ValueError from the SDK's auth resolution, or a failed request
            raise WarehouseError(
                f"cannot configure Databricks authentication for {self.access.host_label}: "
                f"{first_sentence(exc)}",
                hint="set DATABRICKS_HOST and DATABRICKS_TOKEN, or DATABRICKS_CONFIG_PROFILE, "
                     "or the OAuth / Azure CLI settings of the Databricks unified auth") from None

    def _check_host_resolves(self) -> None:
        """An unknown host name fails here at once, instead of after the SDK's retries."""
        import socket
        from urllib.parse import urlparse

        hostname = urlparse(self.access.host).hostname if self.access.host else None
        if not hostname:
            return  # the host comes from a profile or the environment: the SDK resolves it
        try:
            socket.getaddrinfo(hostname, None)
        except socket.gaierror:
            raise WarehouseError(f"the Databricks workspace {self.access.host} does not resolve "
                                 "(unknown host name)",
                                 hint="check DATABRICKS_HOST and the network") from None

    @cached_property
    def workspace_client(self) -> Any:
        from databricks.sdk import WorkspaceClient

        return WorkspaceClient(config=self.config)

    def ensure_running(self) -> None:
        """Wait until the warehouse runs, whatever state it is found in: STOPPED is started,
        STARTING waited for, STOPPING waited for until it has stopped and then started (a start
        sent while it stops would end in STOPPED); DELETED and DELETING, a warehouse that stops
        again after ecomctl started it, and one not running within `start_timeout` stop the run
        with one line. The SDK's own waits raise OperationFailed or TimeoutError, which are not
        DatabricksErrors, on the way; polling here keeps every outcome ours to word."""
        from databricks.sdk.service.sql import State

        warehouses = self.workspace_client.warehouses
        wid = self.access.warehouse_id
        info = self._api(lambda: warehouses.get(wid), f"read the state of SQL warehouse {wid}")
        name = info.name or wid
        found = _state_name(info)
        started = False
        deadline = time.monotonic() + self.start_timeout.total_seconds()
        attempt = 0
        try:
            while info.state != State.RUNNING:
                state = _state_name(info)
                if info.state in (State.DELETED, State.DELETING):
                    raise WarehouseError(f"SQL warehouse {wid} is {state}",
                                         hint="set DATABRICKS_WAREHOUSE_ID to a warehouse that exists")
                if info.state == State.STOPPED:
                    if started:
                        raise WarehouseError(
                            f"SQL warehouse {name} stopped again after ecomctl started it"
                            f"{_health(info)}",
                            hint="look at the warehouse's events in the workspace, then run again")
                    self._api(lambda: warehouses.start(wid), f"start SQL warehouse {wid}")
                    started = True
                    self._waiting(f"starting SQL warehouse {name} (it was {found})")
                elif info.state == State.STOPPING:
                    self._waiting(f"waiting for SQL warehouse {name} to stop, to start it again")
                else:
                    self._waiting(f"starting SQL warehouse {name}: {state}")
                if time.monotonic() >= deadline:
                    seconds = self.start_timeout.total_seconds()
                    waited = f"{seconds / 60:g} minutes" if seconds >= 60 else f"{seconds:g} s"
                    raise WarehouseError(
                        f"SQL warehouse {name} is still {state} after {waited} (it was {found})",
                        hint="look at the warehouse in the workspace, then run again")
                attempt += 1
                self._sleep(min(attempt, 10))  # the SDK's own waits poll 1, 2 ... 10 s apart
                info = self._api(lambda: warehouses.get(wid),
                                 f"read the state of SQL warehouse {wid}")
            if found != "running":
                self._waiting(f"SQL warehouse {name} is running")
        finally:
            if found != "running":
                self._waiting(None)
        self.warehouse_info = info

    def can_host_materialized_views(self) -> bool | None:
        """False on a classic warehouse; None when unknown (the server's answer decides)."""
        from databricks.sdk.service.sql import GetWarehouseResponseWarehouseType as Type

        info = self.warehouse_info
        if info is None:
            return None
        if info.enable_serverless_compute or info.warehouse_type == Type.PRO:
            return True
        return False if info.warehouse_type == Type.CLASSIC else None

    def execute(self, text: str) -> Outcome:
        from databricks.sql import exc as sql_exc

        connection = self._connect()
        try:
            with connection.cursor() as cursor:
                cursor.execute(text)
                columns = [d[0] for d in cursor.description or []]
                rows = [tuple(r) for r in cursor.fetchall()] if columns else []
                return Outcome(columns, rows, cursor.rowcount)
        except sql_exc.Error as exc:
            raise translate_connector_error(exc) from exc

    def reconnect(self) -> None:
        self.close()

    def upload(self, local: Path, remote: str) -> None:
        with open(local, "rb") as handle:
            self._api(lambda: self.workspace_client.files.upload(remote, handle, overwrite=True),
                      f"upload {local.name} to {remote}")

    def list_files(self, remote_dir: str) -> list[tuple[str, float]]:
        """The files (not folders) directly in a Volume folder, with their modification times in
        POSIX seconds: files.list_directory_contents, which pages through GET
        /api/2.0/fs/directories. A file the API gives no time for is left out (its age unknown)."""
        files = self.workspace_client.files

        def listing() -> list[tuple[str, float]]:
            return [(entry.name, entry.last_modified / 1000)
                    for entry in files.list_directory_contents(remote_dir + "/")
                    if not entry.is_directory and entry.name and entry.last_modified is not None]
        return self._api(listing, f"list the files in {remote_dir}",
                         not_found_hint="run `ecomctl setup`, which creates the Volume",
                         denied_hint=VOLUME_ACCESS_HINT)

    def delete_file(self, remote: str) -> None:
        """files.delete (DELETE /api/2.0/fs/files/...); a file already gone is what was asked."""
        from databricks.sdk.errors import NotFound

        files = self.workspace_client.files

        def delete() -> None:
            try:
                files.delete(remote)
            except NotFound:  # removed meanwhile, by another ingest say
                pass
        self._api(delete, f"delete {remote}", denied_hint=VOLUME_ACCESS_HINT)

    def close(self) -> None:
        if self._connection is not None:
            try:
                self._connection.close()
            except Exception:  # already closed or the network is gone: nothing left to release
                pass
            self._connection = None

    def connect_arguments(self) -> dict[str, Any]:
        """What databricks.sql.connect receives: the SDK config's auth as the credentials provider."""
        config = self.config
        return {"server_hostname": config.hostname, "http_path": self.access.http_path,
                "credentials_provider": lambda: config.authenticate,
                # The warehouse runs before the first connect, so the long retries the connector
                # keeps for cold starts (900 s) would only hide a wrong HTTP path or a network
                # problem; statement-level retries are ours (RETRY_DELAYS).
                "_retry_stop_after_attempts_count": 4, "_retry_stop_after_attempts_duration": 20.0,
                "_retry_delay_max": 8.0, "_socket_timeout": 120, "user_agent_entry": "ecomctl",
                "session_configuration": dict(SESSION_CONFIGURATION)}

    def _connect(self) -> Any:
        if self._connection is None:
            from databricks import sql
            from databricks.sql import exc as sql_exc

            arguments = self.connect_arguments()
            try:
                self._connection = sql.connect(**arguments)
            except Exception as exc:  # the connector's errors, and urllib3's when the network fails
                if not (isinstance(exc, (sql_exc.Error, ValueError)) or network_reason(exc)):
                    raise
                reason = network_reason(exc)
                raise WarehouseError(
                    f"cannot open a session on SQL warehouse {self.access.warehouse_id} at "
                    f"{self.access.host_label}: " + (f"the host {reason}" if reason else first_line(exc)),
                    hint="check DATABRICKS_HTTP_PATH / DATABRICKS_WAREHOUSE_ID") from None
        return self._connection

    def _api(self, call: Callable[[], Any], what: str, *,
             not_found_hint: str = "check DATABRICKS_WAREHOUSE_ID / DATABRICKS_HTTP_PATH",
             denied_hint: str = "check DATABRICKS_TOKEN or the profile's credentials") -> Any:
        """A REST call whose failure becomes one line naming what was attempted."""
        from databricks.sdk.errors import DatabricksError, NotFound, PermissionDenied, Unauthenticated

        try:
            return call()
        except NotFound as exc:
            raise WarehouseError(f"cannot {what}: not found ({first_line(exc)})",
                                 hint=not_found_hint) from None
        except (Unauthenticated, PermissionDenied) as exc:
            raise WarehouseError(f"cannot {what}: access denied ({first_line(exc)})",
                                 hint=denied_hint) from None
        except DatabricksError as exc:
            raise WarehouseError(f"cannot {what}: {first_line(exc)}") from None
        except Exception as exc:  # the SDK's TimeoutError over requests' ConnectionError, and the like
            reason = network_reason(exc)
            if reason is None:
                raise
            raise WarehouseError(f"cannot {what}: {self.access.host_label} {reason}",
                                 hint="check DATABRICKS_HOST and the network") from None

    def _waiting(self, text: str | None) -> None:
        if self.reporter is not None and hasattr(self.reporter, "waiting"):
            self.reporter.waiting(text)


def upload_description(local: Path, remote: str) -> str:
    """What databricks-sdk's files.upload sends, for the plan. A file under the SDK's multipart
    threshold (Config.files_ext_multipart_upload_min_stream_size, 50 MiB) goes in one PUT; a larger
    one (a 100,000-event landing file is about 85 MB) goes as a multipart upload, its parts to
    presigned cloud-storage URLs, and as one PUT when the workspace offers no multipart upload
    (tests/fake_workspace.py speaks both)."""
    mib = MULTIPART_THRESHOLD_MIB
    return (f"PUT /api/2.0/fs/files{remote}?overwrite=true (Files API) from {local} when it is under "
            f"{mib} MiB; from {mib} MiB a multipart upload instead: POST ?action=initiate-upload on "
            "that path, POST /api/2.0/fs/create-upload-part-urls, each part PUT to its presigned "
            "cloud-storage URL, POST ?action=complete-upload (one PUT where the workspace offers no "
            "multipart upload)")


def _configuration_text(configuration: dict[str, str]) -> str:
    return ", ".join(f"{key}={value}" for key, value in configuration.items())


# -- the planned session (dry run) -----------------------------------------------------------------
class PlannedSession:
    """Records what the live session would send; answers every query with no rows."""

    dry_run = True

    def __init__(self, access: DatabricksAccess | None, plan: "Plan") -> None:
        self.access = access
        self.plan = plan
        self.warehouse_info = None

    @property
    def _warehouse(self) -> str:
        return self.access.warehouse_id if self.access else "<DATABRICKS_WAREHOUSE_ID>"

    def ensure_running(self) -> None:
        self.plan.add("api", f"GET /api/2.0/sql/warehouses/{self._warehouse}: read its state and "
                             "poll until RUNNING (STOPPED: POST .../start first; STOPPING: wait until "
                             "stopped, then start; DELETED or DELETING: stop with an error); SQL "
                             "sessions then open with session configuration "
                             f"{_configuration_text(SESSION_CONFIGURATION)}")

    def can_host_materialized_views(self) -> bool | None:
        return None

    def execute(self, text: str) -> Outcome:
        self.plan.add("sql", text)
        return Outcome(columns=select_names(text))

    def reconnect(self) -> None:
        pass

    def upload(self, local: Path, remote: str) -> None:
        self.plan.add("upload", upload_description(local, remote))

    def list_files(self, remote_dir: str) -> list[tuple[str, float]]:
        self.plan.add("api", f"GET /api/2.0/fs/directories{remote_dir}/ (Files API): list the files "
                             "with their modification times, page by page")
        return []

    def delete_file(self, remote: str) -> None:
        self.plan.add("api", f"DELETE /api/2.0/fs/files{remote} (Files API)")

    @property
    def workspace_client(self) -> Any:
        raise WarehouseError("a dry run has no workspace client; it records API calls instead")

    def close(self) -> None:
        pass


def _state_name(info: Any) -> str:
    return info.state.value.lower() if info.state is not None else "in an unknown state"


def _health(info: Any) -> str:
    """The warehouse's own account of its health, when it gives one (why it stopped, say)."""
    summary = getattr(getattr(info, "health", None), "summary", None)
    return f" ({first_line(summary)})" if summary else ""


_logging_quieted = False


def _drop_host_metadata_warning(record: logging.LogRecord) -> bool:
    """Config() probes {host}/.well-known/databricks-config and, on workspaces without it, logs a
    warning that it falls back to the configuration it was given, which is what ecomctl wants."""
    return not str(record.msg).startswith("Failed to automatically resolve config from host metadata")


def _quiet_library_logging() -> None:
    """The SDK and the connector log warnings (host metadata, pyarrow) that are not ours to print;
    failures reach the user as our own one-line errors instead. The NullHandler keeps Python's
    last-resort handler from printing them to stderr when nothing configured logging; the filter
    drops the host-metadata warning even where something did (pytest, an embedding program)."""
    global _logging_quieted
    if not _logging_quieted:
        logging.getLogger("databricks").addHandler(logging.NullHandler())
        logging.getLogger("databricks.sdk").addFilter(_drop_host_metadata_warning)
        _logging_quieted = True
