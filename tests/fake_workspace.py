"""A local HTTP server standing in for the Databricks REST endpoints that ecomctl calls.

It keeps workspace objects, Lakeview dashboards, saved queries, Genie spaces, one SQL warehouse and
the files uploaded to Volumes in memory, answers like the real API (JSON bodies, 404
RESOURCE_DOES_NOT_EXIST, paged lists) and records every request, so tests can drive the real
databricks-sdk WorkspaceClient offline and look at what it sent.

Files reach a Volume the two ways databricks-sdk's files.upload sends them (mixins/files.py): one
PUT to the Files API, or, from its multipart threshold (50 MiB), a multipart upload: POST
?action=initiate-upload, POST /api/2.0/fs/create-upload-part-urls for presigned URLs, each part
PUT to its URL (here on this server under /presigned/, refused with credentials or without the
headers the URL came with, as cloud storage would), then POST ?action=complete-upload.
Volume files are listed (GET /api/2.0/fs/directories, paged, with their modification times) and
deleted (DELETE /api/2.0/fs/files) as the Files API does.

Of the SQL connector's Thrift protocol it answers OpenSession and CloseSession on the warehouse's
HTTP path, with the connector's own generated Thrift code, and records each session's
configuration; statements are not run here: tests replace the SQL session for those.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

PAGE_SIZE = 4  # small, so the client's paging is exercised


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    body: dict[str, Any] | None
    headers: dict[str, str]

    @property
    def line(self) -> str:
        return f"{self.method} {self.path}"


@dataclass
class WorkspaceState:
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)      # workspace path -> ObjectInfo
    dashboards: dict[str, dict[str, Any]] = field(default_factory=dict)   # dashboard_id -> Dashboard
    published: dict[str, dict[str, Any]] = field(default_factory=dict)    # dashboard_id -> publish body
    queries: dict[str, dict[str, Any]] = field(default_factory=dict)      # id -> Query
    spaces: dict[str, dict[str, Any]] = field(default_factory=dict)       # space_id -> GenieSpace
    # The SQL warehouse: its id, the states GET reports in turn (the last one stays), its type, and
    # the states a start leads to (each start records the state it was sent in).
    warehouse: dict[str, Any] = field(default_factory=lambda: {
        "id": "wh1", "name": "shop", "states": ["RUNNING"], "warehouse_type": "PRO",
        "enable_serverless_compute": False, "start_states": ["STARTING", "RUNNING"], "starts": []})
    files: dict[str, bytes] = field(default_factory=dict)                 # /Volumes/... -> uploaded bytes
    # /Volumes/... -> last modified, in milliseconds since the epoch, as the Files API lists it.
    file_times: dict[str, int] = field(default_factory=dict)
    # Multipart uploads in progress: session token -> {"path", "overwrite", "parts": {number: bytes}}.
    uploads: dict[str, dict[str, Any]] = field(default_factory=dict)
    # SQL sessions the connector opened: {"configuration": {...}, "authorization": header, "open": bool}.
    sql_sessions: list[dict[str, Any]] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    # (method, path regex) -> (status, error_code, message): make a call fail like the real API.
    failures: dict[tuple[str, str], tuple[int, str, str]] = field(default_factory=dict)
    # The Genie answers ("list", "get") that include a space's parent_path: the field is Public Preview,
    # so a workspace may leave it out of either or both.
    genie_folder_in: set[str] = field(default_factory=lambda: {"list", "get"})


class FakeWorkspace:
    """Start with `with FakeWorkspace() as ws:`; `ws.host` is the URL to give WorkspaceClient."""

    def __init__(self) -> None:
        self.state = WorkspaceState()
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        handler = type("Handler", (_Handler,), {"workspace": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    @property
    def host(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> "FakeWorkspace":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):06d}"

    def api_requests(self) -> list[Request]:
        return [r for r in self.state.requests if r.path.startswith("/api/")]

    def clear_requests(self) -> None:
        self.state.requests.clear()

    # -- seeding -------------------------------------------------------------------------------
    def add_folder(self, path: str) -> None:
        parts = path.strip("/").split("/")
        for i in range(1, len(parts) + 1):
            folder = "/" + "/".join(parts[:i])
            self.state.objects.setdefault(folder, {"path": folder, "object_type": "DIRECTORY",
                                                   "object_id": next(self._ids)})

    def add_query(self, display_name: str, parent_path: str, query_text: str = "SELECT 1") -> str:
        query_id = self.new_id("q")
        self.add_folder(parent_path)
        self.state.queries[query_id] = {"id": query_id, "display_name": display_name, "parent_path": parent_path,
                                        "query_text": query_text}
        return query_id

    def add_space(self, title: str, parent_path: str) -> str:
        """A space someone else made, in `parent_path`."""
        space_id = self.new_id("s")
        self.add_folder(parent_path)
        self.state.spaces[space_id] = {"space_id": space_id, "title": title, "parent_path": parent_path,
                                       "warehouse_id": "other", "serialized_space": "{}"}
        return space_id

    def add_file(self, path: str) -> None:
        self.state.objects[path] = {"path": path, "object_type": "FILE", "object_id": next(self._ids)}


_ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    ("GET", re.compile(r"^/api/2\.0/sql/warehouses/(?P<id>[^/]+)$"), "get_warehouse"),
    ("POST", re.compile(r"^/api/2\.0/sql/warehouses/(?P<id>[^/]+)/start$"), "start_warehouse"),
    ("PUT", re.compile(r"^/api/2\.0/fs/files(?P<path>/Volumes/.+)$"), "upload_file"),
    ("POST", re.compile(r"^/api/2\.0/fs/files(?P<path>/Volumes/.+)$"), "multipart_upload"),
    ("DELETE", re.compile(r"^/api/2\.0/fs/files(?P<path>/Volumes/.+)$"), "delete_file"),
    ("GET", re.compile(r"^/api/2\.0/fs/directories(?P<path>/Volumes/.+)$"), "list_directory"),
    ("POST", re.compile(r"^/api/2\.0/fs/create-upload-part-urls$"), "create_upload_part_urls"),
    ("PUT", re.compile(r"^/presigned/(?P<token>[^/]+)/(?P<number>\d+)$"), "put_part"),
    ("POST", re.compile(r"^/sql/1\.0/warehouses/(?P<id>[^/]+)$"), "thrift"),
    ("POST", re.compile(r"^/api/2\.0/workspace/mkdirs$"), "mkdirs"),
    ("GET", re.compile(r"^/api/2\.0/workspace/get-status$"), "get_status"),
    ("GET", re.compile(r"^/api/2\.0/lakeview/dashboards$"), "list_dashboards"),
    ("POST", re.compile(r"^/api/2\.0/lakeview/dashboards$"), "create_dashboard"),
    ("PATCH", re.compile(r"^/api/2\.0/lakeview/dashboards/(?P<id>[^/]+)$"), "update_dashboard"),
    ("POST", re.compile(r"^/api/2\.0/lakeview/dashboards/(?P<id>[^/]+)/published$"), "publish_dashboard"),
    ("GET", re.compile(r"^/api/2\.0/sql/queries$"), "list_queries"),
    ("POST", re.compile(r"^/api/2\.0/sql/queries$"), "create_query"),
    ("GET", re.compile(r"^/api/2\.0/sql/queries/(?P<id>[^/]+)$"), "get_query"),
    ("PATCH", re.compile(r"^/api/2\.0/sql/queries/(?P<id>[^/]+)$"), "update_query"),
    ("GET", re.compile(r"^/api/2\.0/genie/spaces$"), "list_spaces"),
    ("POST", re.compile(r"^/api/2\.0/genie/spaces$"), "create_space"),
    ("GET", re.compile(r"^/api/2\.0/genie/spaces/(?P<id>[^/]+)$"), "get_space"),
    ("PATCH", re.compile(r"^/api/2\.0/genie/spaces/(?P<id>[^/]+)$"), "update_space"),
]


class _NotFound(Exception):
    pass


def _etag(data: bytes) -> str:
    import hashlib

    return '"' + hashlib.md5(data).hexdigest() + '"'


class _ThriftAnswers:
    """The server side of the connector's OpenSession and CloseSession, on the generated types."""

    def __init__(self, workspace: "FakeWorkspace", authorization: str | None) -> None:
        self.workspace = workspace
        self.authorization = authorization

    def OpenSession(self, request):
        import uuid

        from databricks.sql.thrift_api.TCLIService import ttypes

        handle = ttypes.THandleIdentifier(guid=uuid.uuid4().bytes, secret=uuid.uuid4().bytes)
        self.workspace.state.sql_sessions.append({"configuration": dict(request.configuration or {}),
                                                  "authorization": self.authorization, "open": True,
                                                  "guid": handle.guid})
        return ttypes.TOpenSessionResp(
            status=ttypes.TStatus(statusCode=ttypes.TStatusCode.SUCCESS_STATUS),
            serverProtocolVersion=request.client_protocol_i64 or ttypes.TProtocolVersion.SPARK_CLI_SERVICE_PROTOCOL_V7,
            sessionHandle=ttypes.TSessionHandle(sessionId=handle))

    def CloseSession(self, request):
        from databricks.sql.thrift_api.TCLIService import ttypes

        for session in self.workspace.state.sql_sessions:
            if session["guid"] == request.sessionHandle.sessionId.guid:
                session["open"] = False
        return ttypes.TCloseSessionResp(status=ttypes.TStatus(statusCode=ttypes.TStatusCode.SUCCESS_STATUS))


class _Handler(BaseHTTPRequestHandler):
    workspace: FakeWorkspace

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        is_json = raw and "json" in (self.headers.get("Content-Type") or "json")
        body = json.loads(raw) if is_json else ({"content": raw} if raw else None)
        ws = self.workspace
        with ws._lock:
            ws.state.requests.append(Request(method, url.path, query, body, dict(self.headers.items())))
            for (fail_method, pattern), (status, code, message) in ws.state.failures.items():
                if fail_method == method and re.match(pattern, url.path):
                    return self._send(status, {"error_code": code, "message": message})
            for route_method, pattern, name in _ROUTES:
                match = pattern.match(url.path)
                if route_method == method and match:
                    headers: dict[str, str] = {}
                    try:
                        status, payload, *extra = getattr(self, name)(query, body or {}, **match.groupdict())
                        headers = extra[0] if extra else {}
                    except _NotFound as exc:
                        status, payload = 404, {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": str(exc)}
                    return self._send(status, payload, headers)
        # Anything else (e.g. the SDK's host-metadata probe) is not there, as on a workspace without it.
        self._send(404, {"error_code": "ENDPOINT_NOT_FOUND", "message": f"no API at {method} {url.path}"})

    def _send(self, status: int, payload: dict[str, Any] | bytes | None,
              headers: dict[str, str] | None = None) -> None:
        data = b"" if payload is None else payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if payload is not None and not isinstance(payload, bytes):
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    # -- SQL warehouse and Files API ----------------------------------------------------------------
    def get_warehouse(self, query, body, id):
        warehouse = self.workspace.state.warehouse
        if id != warehouse["id"]:
            raise _NotFound(f"warehouse {id} not found")
        states = warehouse["states"]
        state = states.pop(0) if len(states) > 1 else states[0]
        warehouse["state"] = state
        hidden = ("states", "start_states", "starts")
        return 200, {k: v for k, v in warehouse.items() if k not in hidden} | {"state": state}

    def start_warehouse(self, query, body, id):
        warehouse = self.workspace.state.warehouse
        if id != warehouse["id"]:
            raise _NotFound(f"warehouse {id} not found")
        warehouse["starts"].append(warehouse.get("state"))
        warehouse["states"] = list(warehouse["start_states"])
        return 200, {}

    def upload_file(self, query, body, path):
        self._store(path, body["content"] if body else b"")
        return 204, None

    def _store(self, path: str, content: bytes) -> None:
        import time

        self.workspace.state.files[path] = content
        self.workspace.state.file_times[path] = int(time.time() * 1000)

    def delete_file(self, query, body, path):
        state = self.workspace.state
        if path not in state.files:
            raise _NotFound(f"The file {path} does not exist.")
        del state.files[path]
        state.file_times.pop(path, None)
        return 204, None

    def list_directory(self, query, body, path):
        """A folder's entries, files and folders, a page at a time; a Volume itself (three names
        below /Volumes) always exists, any other folder only while a file is under it."""
        state = self.workspace.state
        folder = path.rstrip("/")
        entries: dict[str, dict[str, Any]] = {}
        for name in sorted(state.files):
            if not name.startswith(folder + "/"):
                continue
            child, _, rest = name[len(folder) + 1:].partition("/")
            if rest:
                entries.setdefault(child, {"name": child, "path": f"{folder}/{child}/", "is_directory": True})
            else:
                entries[child] = {"name": child, "path": name, "is_directory": False,
                                  "file_size": len(state.files[name]), "last_modified": state.file_times[name]}
        if not entries and len(folder.strip("/").split("/")) < 4:
            raise _NotFound(f"The directory {path} does not exist.")
        items = [entries[k] for k in sorted(entries)]
        start = int(query.get("page_token") or 0)
        payload: dict[str, Any] = {"contents": items[start:start + PAGE_SIZE]}
        if start + PAGE_SIZE < len(items):
            payload["next_page_token"] = str(start + PAGE_SIZE)
        return 200, payload

    # Multipart uploads, as databricks-sdk's files.upload sends a file from 50 MiB.
    def multipart_upload(self, query, body, path):
        ws = self.workspace
        action = query.get("action")
        if action == "initiate-upload":
            token = ws.new_id("upload")
            ws.state.uploads[token] = {"path": path, "overwrite": query.get("overwrite"), "parts": {}}
            return 200, {"multipart_upload": {"session_token": token}}
        upload = ws.state.uploads.get(query.get("session_token", ""))
        if upload is None or upload["path"] != path:
            return 400, {"error_code": "INVALID_PARAMETER_VALUE", "message": "unknown upload session"}
        if action == "abort-upload":
            del ws.state.uploads[query["session_token"]]
            return 200, {}
        if action != "complete-upload":
            return 400, {"error_code": "INVALID_PARAMETER_VALUE", "message": f"unknown action {action}"}
        listed = [(p["part_number"], p["etag"]) for p in body.get("parts", [])]
        numbers = [number for number, _ in listed]
        if numbers != list(range(1, len(numbers) + 1)) or sorted(upload["parts"]) != numbers:
            return 400, {"error_code": "INVALID_PARAMETER_VALUE", "message": f"parts {numbers} do not match "
                         f"the uploaded parts {sorted(upload['parts'])}"}
        if any(etag != _etag(upload["parts"][number]) for number, etag in listed):
            return 400, {"error_code": "INVALID_PARAMETER_VALUE", "message": "a part's ETag does not match"}
        self._store(path, b"".join(upload["parts"][n] for n in numbers))
        del ws.state.uploads[query["session_token"]]
        return 200, {}

    def create_upload_part_urls(self, query, body):
        upload = self.workspace.state.uploads.get(body.get("session_token", ""))
        if upload is None or upload["path"] != body.get("path"):
            return 400, {"error_code": "INVALID_PARAMETER_VALUE", "message": "unknown upload session"}
        first, count = int(body["start_part_number"]), int(body["count"])
        return 200, {"upload_part_urls": [
            {"url": f"{self.workspace.host}/presigned/{body['session_token']}/{n}", "part_number": n,
             "headers": [{"name": "x-ms-blob-type", "value": "BlockBlob"}]}
            for n in range(first, first + count)]}

    def put_part(self, query, body, token, number):
        # Cloud storage trusts the signed URL alone: credentials, or a missing header the URL came
        # with, are refused there.
        if "Authorization" in self.headers or self.headers.get("x-ms-blob-type") != "BlockBlob":
            return 403, {"error_code": "AuthenticationFailed", "message": "not as presigned"}
        upload = self.workspace.state.uploads.get(token)
        if upload is None:
            return 404, {"error_code": "BlobNotFound", "message": "no such upload"}
        upload["parts"][int(number)] = body.get("content", b"")
        return 201, None, {"ETag": _etag(upload["parts"][int(number)])}

    # The SQL connector's Thrift protocol: OpenSession and CloseSession only.
    def thrift(self, query, body, id):
        from thrift.protocol import TBinaryProtocol
        from thrift.transport import TTransport

        from databricks.sql.thrift_api.TCLIService import TCLIService

        if id != self.workspace.state.warehouse["id"]:
            raise _NotFound(f"warehouse {id} not found")
        answers = _ThriftAnswers(self.workspace, self.headers.get("Authorization"))
        output = TTransport.TMemoryBuffer()
        TCLIService.Processor(answers).process(
            TBinaryProtocol.TBinaryProtocol(TTransport.TMemoryBuffer(body.get("content", b""))),
            TBinaryProtocol.TBinaryProtocol(output))
        return 200, output.getvalue(), {"Content-Type": "application/x-thrift"}

    # -- workspace -------------------------------------------------------------------------------
    def mkdirs(self, query, body):
        self.workspace.add_folder(body["path"])
        return 200, {}

    def get_status(self, query, body):
        found = self.workspace.state.objects.get(query["path"])
        if found is None:
            raise _NotFound(f"Path ({query['path']}) doesn't exist.")
        return 200, found

    # -- Lakeview ----------------------------------------------------------------------------------
    def list_dashboards(self, query, body):
        return 200, {"dashboards": list(self.workspace.state.dashboards.values())}

    def create_dashboard(self, query, body):
        ws = self.workspace
        parent = body["parent_path"]
        if parent not in ws.state.objects:
            raise _NotFound(f"Path ({parent}) doesn't exist.")
        dashboard_id = ws.new_id("d")
        path = f"{parent}/{body['display_name']}.lvdash.json"
        dashboard = dict(body, dashboard_id=dashboard_id, path=path, etag="1", lifecycle_state="ACTIVE")
        ws.state.dashboards[dashboard_id] = dashboard
        ws.state.objects[path] = {"path": path, "object_type": "DASHBOARD", "resource_id": dashboard_id,
                                  "object_id": next(ws._ids)}
        return 200, dashboard

    def update_dashboard(self, query, body, id):
        dashboard = self.workspace.state.dashboards.get(id)
        if dashboard is None:
            raise _NotFound(f"dashboard {id} not found")
        dashboard.update(body, etag=str(int(dashboard["etag"]) + 1))
        return 200, dashboard

    def publish_dashboard(self, query, body, id):
        if id not in self.workspace.state.dashboards:
            raise _NotFound(f"dashboard {id} not found")
        self.workspace.state.published[id] = body
        return 200, {"display_name": self.workspace.state.dashboards[id]["display_name"], **body}

    # -- saved queries -------------------------------------------------------------------------------
    def list_queries(self, query, body):
        items = sorted(self.workspace.state.queries.values(), key=lambda q: q["id"])
        start = int(query.get("page_token") or 0)
        page = items[start:start + PAGE_SIZE]
        # The list API does not return parent_path.
        listed = [{k: v for k, v in q.items() if k != "parent_path"} for q in page]
        payload: dict[str, Any] = {"results": listed}
        if start + PAGE_SIZE < len(items):
            payload["next_page_token"] = str(start + PAGE_SIZE)
        return 200, payload

    def create_query(self, query, body):
        ws = self.workspace
        request = body["query"]
        if request.get("parent_path") not in ws.state.objects:
            raise _NotFound(f"Path ({request.get('parent_path')}) doesn't exist.")
        query_id = ws.new_id("q")
        ws.state.queries[query_id] = dict(request, id=query_id)
        return 200, ws.state.queries[query_id]

    def get_query(self, query, body, id):
        found = self.workspace.state.queries.get(id)
        if found is None:
            raise _NotFound(f"query {id} not found")
        return 200, found

    def update_query(self, query, body, id):
        found = self.workspace.state.queries.get(id)
        if found is None:
            raise _NotFound(f"query {id} not found")
        for name in body["update_mask"].split(","):
            if name in body["query"]:
                found[name] = body["query"][name]
        return 200, found

    # -- Genie -------------------------------------------------------------------------------------------
    def _space(self, space: dict[str, Any], answer: str, *, serialized: bool = True) -> dict[str, Any]:
        hidden = {"serialized_space"} if not serialized else set()
        if answer not in self.workspace.state.genie_folder_in:
            hidden.add("parent_path")
        return {k: v for k, v in space.items() if k not in hidden}

    def list_spaces(self, query, body):
        items = sorted(self.workspace.state.spaces.values(), key=lambda s: s["space_id"])
        start = int(query.get("page_token") or 0)
        page = [self._space(s, "list", serialized=False) for s in items[start:start + PAGE_SIZE]]
        payload: dict[str, Any] = {"spaces": page}
        if start + PAGE_SIZE < len(items):
            payload["next_page_token"] = str(start + PAGE_SIZE)
        return 200, payload

    def create_space(self, query, body):
        ws = self.workspace
        if body.get("parent_path") not in ws.state.objects:
            raise _NotFound(f"Path ({body.get('parent_path')}) doesn't exist.")
        space_id = ws.new_id("s")
        ws.state.spaces[space_id] = dict(body, space_id=space_id)
        return 200, self._space(ws.state.spaces[space_id], "get", serialized=False)

    def get_space(self, query, body, id):
        found = self.workspace.state.spaces.get(id)
        if found is None:
            raise _NotFound(f"space {id} not found")
        return 200, self._space(found, "get")

    def update_space(self, query, body, id):
        found = self.workspace.state.spaces.get(id)
        if found is None:
            raise _NotFound(f"space {id} not found")
        found.update(body)
        return 200, self._space(found, "get", serialized=False)
