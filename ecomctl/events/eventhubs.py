"""EventHubsTransport: the databricks target's transport, Azure Event Hubs through azure-eventhub.

Sending fills `create_batch` batches per partition up to the hub's size limit. Reading drains one
partition from a checkpoint with `receive_batch`, which never returns by itself: it runs in a
thread that is stopped when the partition reaches the end it had when ingest started, or after an
idle time, or on the first error. Every SDK, azure-identity and Key Vault failure leaves as one
TransportError / ConfigError line with no secret in it.
"""

from __future__ import annotations

import logging
import re
import ssl
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timezone
from typing import TYPE_CHECKING, Any

from ecomctl.config import Secret
from ecomctl.errors import ConfigError, EcomctlError, TransportError
from ecomctl.events.transport import PartitionState, ProgressCallback, ReceivedEvent, SendResult

if TYPE_CHECKING:
    from ecomctl.config import Settings

EVENTHUBS_SCOPE = "https://eventhubs.azure.net/.default"
DEFAULT_MAX_BATCH_BYTES = 1_048_576  # Standard tier and above; create_batch tells the real limit
# Backoff between SDK retries (factor x 2**n): 1 s, 2 s, 4 s ... capped, so that three retries of
# a connection that fails, even one that times out in the TLS handshake, end inside 30 seconds.
RETRY_BACKOFF_FACTOR = 0.5
RETRY_BACKOFF_MAX = 8.0
# How long one receive_batch call waits before handing an empty batch to the callback; it bounds
# how late an idle timeout or a close is noticed.
RECEIVE_POLL_SECONDS = 1.0
# How long to wait for the receive thread after closing its client.
RECEIVE_JOIN_SECONDS = 10.0
TRANSPORT_TYPES = ("amqp", "websockets")
# pyamqp runs the TLS handshake on a socket without a timeout, so a peer that accepts the TCP
# connection and then says nothing (a middlebox, a wrong host) would hang it forever.
TLS_HANDSHAKE_SECONDS = 4.0

_SECRET_PATTERNS = (
    re.compile(r"(SharedAccessKey=)[^;\s'\"]+", re.IGNORECASE),
    re.compile(r"(SharedAccessSignature=)[^;\s'\"]+", re.IGNORECASE),
    re.compile(r"(\bsig=)[^&\s'\"]+", re.IGNORECASE),
)


class HandshakeTimeoutContext(ssl.SSLContext):
    """An SSLContext that bounds the TLS handshake; the SDK takes it as `ssl_context`."""

    handshake_seconds = TLS_HANDSHAKE_SECONDS

    def wrap_socket(self, sock, *args, **kwargs):
        sock.settimeout(self.handshake_seconds)
        return super().wrap_socket(sock, *args, **kwargs)


def tls_context(ca_file: str | None = None) -> ssl.SSLContext:
    """What the SDK builds by default (TLS client, hostname check, certifi's roots), plus the bound."""
    import certifi

    context = HandshakeTimeoutContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(ca_file or certifi.where())
    return context


# -- configuration ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Proxy:
    host: str
    port: int
    username: str = ""
    password: Secret = field(default_factory=lambda: Secret(""))

    def as_sdk_dict(self) -> dict[str, Any]:
        proxy: dict[str, Any] = {"proxy_hostname": self.host, "proxy_port": self.port}
        if self.username:
            proxy["username"] = self.username
            proxy["password"] = self.password.reveal()
        return proxy


@dataclass(frozen=True)
class EventHubsConfig:
    """Everything the transport needs, taken from Settings; one of the three auth modes is set."""

    eventhub_name: str
    consumer_group: str = "$Default"
    connection_string: Secret = field(default_factory=lambda: Secret(""))
    keyvault_url: str = ""
    keyvault_secret_name: str = ""
    namespace: str = ""
    transport_type: str = "amqp"
    proxy: Proxy | None = None
    retries: int = 3
    idle_seconds: float = 10.0
    timeout_seconds: float = 25.0

    @property
    def auth_mode(self) -> str:
        if self.connection_string:
            return "connection string"
        if self.keyvault_url:
            return "key vault"
        return "entra id"

    @classmethod
    def from_settings(cls, settings: "Settings") -> "EventHubsConfig":
        """Check the Event Hubs settings (and only those) and build the config; ConfigError names the setting."""
        origin = settings.origin
        if settings.keyvault_url and not settings.keyvault_secret_name:
            raise ConfigError(origin("keyvault_secret_name"),
                              f"is empty but {origin('keyvault_url')} is set; name the secret that holds "
                              "the Event Hubs connection string")
        if settings.keyvault_secret_name and not settings.keyvault_url:
            raise ConfigError(origin("keyvault_url"),
                              f"is empty but {origin('keyvault_secret_name')} is set; give the vault URL, "
                              "e.g. https://myvault.vault.azure.net")
        if settings.keyvault_url and not settings.keyvault_url.lower().startswith("https://"):
            raise ConfigError(origin("keyvault_url"),
                              f"{settings.keyvault_url!r} is not an https:// URL, e.g. https://myvault.vault.azure.net")
        if not (settings.eventhub_connection_string or settings.keyvault_url or settings.eventhub_namespace):
            raise ConfigError(origin("eventhub_connection_string"),
                              "the databricks target needs Event Hubs credentials: set "
                              f"{origin('eventhub_connection_string')}, or {origin('keyvault_url')} and "
                              f"{origin('keyvault_secret_name')}, or {origin('eventhub_namespace')} "
                              "(Entra ID via DefaultAzureCredential)")
        if settings.eventhub_connection_string:
            _parse_connection_string(settings.eventhub_connection_string.reveal(),
                                     origin("eventhub_connection_string"))
        namespace = settings.eventhub_namespace.strip().lower()
        if namespace:
            namespace = _namespace_host(namespace)
            if "." not in namespace:
                # A bare name is what people type; the SDK needs the fully qualified one.
                namespace += ".servicebus.windows.net"
        transport_type = settings.eventhub_transport.strip().lower()
        if transport_type not in TRANSPORT_TYPES:
            raise ConfigError(origin("eventhub_transport"),
                              f"unknown transport {settings.eventhub_transport!r}; choose amqp (port 5671) "
                              "or websockets (AMQP over WebSockets, port 443, can use a proxy)")
        proxy = None
        if settings.eventhub_proxy_host:
            if transport_type != "websockets":
                raise ConfigError(origin("eventhub_proxy_host"),
                                  f"a proxy needs {origin('eventhub_transport')}=websockets "
                                  "(the SDK tunnels only AMQP over WebSockets through a proxy)")
            port_text = settings.eventhub_proxy_port.strip() or "3128"
            if not port_text.isdigit() or not 0 < int(port_text) < 65536:
                raise ConfigError(origin("eventhub_proxy_port"),
                                  f"expected a port number from 1 to 65535, got {settings.eventhub_proxy_port!r}")
            proxy = Proxy(settings.eventhub_proxy_host.strip(), int(port_text),
                          settings.eventhub_proxy_user, settings.eventhub_proxy_password)
        elif settings.eventhub_proxy_user or settings.eventhub_proxy_password:
            raise ConfigError(origin("eventhub_proxy_host"),
                              "is empty but a proxy user or password is set")
        return cls(eventhub_name=settings.eventhub_name,
                   consumer_group=settings.eventhub_consumer_group or "$Default",
                   connection_string=settings.eventhub_connection_string,
                   keyvault_url=settings.keyvault_url.strip(),
                   keyvault_secret_name=settings.keyvault_secret_name.strip(),
                   namespace=namespace, transport_type=transport_type, proxy=proxy,
                   retries=settings.eventhub_retries, idle_seconds=float(settings.eventhub_idle_seconds),
                   timeout_seconds=float(settings.eventhub_timeout_seconds))


def _namespace_host(text: str) -> str:
    text = text.strip()
    for prefix in ("sb://", "amqps://", "https://"):
        if text.lower().startswith(prefix):
            text = text[len(prefix):]
    return text.strip("/").lower()


def _parse_connection_string(conn_str: str, setting: str) -> tuple[str, str | None]:
    """(fully qualified namespace, EntityPath or None); ConfigError without echoing the string."""
    from azure.eventhub import parse_connection_string

    try:
        props = parse_connection_string(conn_str)
    except (ValueError, TypeError, AttributeError) as exc:
        raise ConfigError(setting, f"is not a valid Event Hubs connection string ({redact(str(exc))})",
                          hint="expected Endpoint=sb://<namespace>.servicebus.windows.net/;"
                               "SharedAccessKeyName=<name>;SharedAccessKey=<key>[;EntityPath=<hub>]") from None
    return _namespace_host(props.fully_qualified_namespace), props.eventhub_name or None


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Remove keys and SAS signatures (and any known secret value) from an SDK message."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "**********")
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(r"\1**********", text)
    return text


def quiet_azure_loggers() -> None:
    """The SDKs log each failure at WARNING before raising it, and Python's last-resort handler
    prints those on stderr: the same message twice, with retry chatter. Errors reach the user
    through our exceptions instead."""
    logger = logging.getLogger("azure")
    logger.setLevel(logging.CRITICAL + 1)
    logger.propagate = False


# -- error translation ---------------------------------------------------------------------------

_DNS_MARKERS = ("name or service not known", "nodename nor servname", "getaddrinfo failed",
                "temporary failure in name resolution", "no address associated", "failed to resolve",
                "name resolution")


def translate_error(exc: BaseException, *, action: str, namespace: str, hub: str,
                    setting: str, secrets: Iterable[str] = ()) -> EcomctlError:
    """One clear line for an Event Hubs / azure-identity / Key Vault failure while doing `action`."""
    if isinstance(exc, EcomctlError):
        return exc
    from azure.core.exceptions import ClientAuthenticationError
    from azure.eventhub.exceptions import AuthenticationError, EventHubError

    secrets = list(secrets)
    text = redact(str(exc), secrets)
    lowered = text.lower()
    first_line = _first_line(text)
    where = f"{namespace}/{hub}"
    if isinstance(exc, ClientAuthenticationError):
        return TransportError(
            f"{action} failed: no Azure credential for Entra ID: {_credential_summary(text)}",
            hint="run `az login`, or set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET, "
                 "or use EVENTHUB_CONNECTION_STRING instead")
    if "via proxy" in lowered or "proxy" in lowered and "connect" in lowered:
        return TransportError(f"{action} failed: the proxy did not open a tunnel to {namespace} ({first_line})",
                              hint="check EVENTHUB_PROXY_HOST, EVENTHUB_PROXY_PORT, EVENTHUB_PROXY_USER "
                                   "and EVENTHUB_PROXY_PASSWORD")
    if "certificate verify failed" in lowered:
        return TransportError(f"{action} failed: the TLS certificate presented for {namespace} is not trusted "
                              f"({first_line})",
                              hint="a TLS-inspecting proxy or a wrong namespace; its CA must be trusted")
    if any(marker in lowered for marker in _DNS_MARKERS):
        return TransportError(f"{action} failed: cannot resolve the namespace {namespace!r} (DNS lookup failed)",
                              hint=f"check the namespace in {setting}")
    if "status code: 404" in lowered or "notfound" in lowered.replace(" ", "") \
            or "amqp:not-found" in lowered or "could not be found" in lowered:
        return TransportError(f"{action} failed: the event hub {hub!r} was not found in {namespace}",
                              hint="check EVENTHUB_NAME or the connection string's EntityPath")
    if isinstance(exc, AuthenticationError) or "status code: 401" in lowered \
            or "unauthorized" in lowered or "invalidsignature" in lowered:
        return TransportError(f"{action} on {where} was refused: authentication failed ({first_line})",
                              hint=f"check the key in {setting}, or the identity's 'Azure Event Hubs "
                                   "Data Sender/Receiver' role")
    if isinstance(exc, (ConnectionError, TimeoutError, OSError)) or "timed out" in lowered \
            or "timeout" in lowered:
        return TransportError(f"{action} failed: cannot reach {namespace} ({first_line})",
                              hint="check the network, the firewall (AMQP uses port 5671; "
                                   "EVENTHUB_TRANSPORT=websockets uses 443) and the proxy settings")
    if isinstance(exc, EventHubError):
        return TransportError(f"{action} on {where} failed: {type(exc).__name__}: {first_line}")
    return TransportError(f"{action} on {where} failed: {type(exc).__name__}: {first_line}")


def translate_keyvault_error(exc: BaseException, *, url: str, secret_name: str,
                             url_setting: str, name_setting: str) -> EcomctlError:
    from azure.core.exceptions import (ClientAuthenticationError, HttpResponseError,
                                       ResourceNotFoundError, ServiceRequestError)

    text = redact(str(exc))
    if isinstance(exc, ResourceNotFoundError):
        return ConfigError(name_setting, f"the secret {secret_name!r} does not exist in the Key Vault {url}")
    if isinstance(exc, ClientAuthenticationError):
        return TransportError(f"reading the Key Vault secret {secret_name!r} failed: no Azure credential: "
                              f"{_credential_summary(text)}",
                              hint="run `az login`, or set AZURE_TENANT_ID, AZURE_CLIENT_ID and "
                                   "AZURE_CLIENT_SECRET")
    if isinstance(exc, ServiceRequestError):
        lowered = text.lower()
        if any(marker in lowered for marker in _DNS_MARKERS):
            return ConfigError(url_setting, f"cannot resolve the Key Vault host of {url} (DNS lookup failed)")
        return ConfigError(url_setting, f"cannot reach the Key Vault {url}: {_first_line(text)}")
    if isinstance(exc, HttpResponseError):
        status = getattr(exc, "status_code", None)
        if status == 403:
            return TransportError(f"reading the Key Vault secret {secret_name!r} from {url} was refused (403)",
                                  hint="give the identity the 'Key Vault Secrets User' role or a get-secret policy")
        return TransportError(f"reading the Key Vault secret {secret_name!r} from {url} failed: "
                              f"{_first_line(text)}")
    return TransportError(f"reading the Key Vault secret {secret_name!r} from {url} failed: "
                          f"{type(exc).__name__}: {_first_line(text)}")


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return text.strip()


def _credential_summary(text: str) -> str:
    """DefaultAzureCredential lists every credential it tried over many lines; keep the useful ones."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for wanted in ("AzureCliCredential", "EnvironmentCredential"):
        for line in lines:
            if line.startswith(wanted + ":"):
                return line
    return lines[0] if lines else "DefaultAzureCredential found no credential"


# -- sending ------------------------------------------------------------------------------------


@dataclass
class BatchStats:
    """What a send did, batch by batch; fill is size_in_bytes / max_size_in_bytes."""

    events: int = 0
    batches: int = 0
    body_bytes: int = 0
    batch_sizes: list[tuple[int, int, bool]] = field(default_factory=list)  # (size, limit, was_full)


def fill_batches(messages: Iterable[tuple[str | None, bytes]],
                 partition_for: Callable[[str | None], str],
                 new_batch: Callable[[str], Any],
                 send_batch: Callable[[Any], None],
                 on_progress: ProgressCallback | None = None) -> BatchStats:
    """Fill one EventDataBatch per partition until `add` says it is full, send it, start the next.

    Each event keeps its partition key (customer_id) as the AMQP annotation the service uses, and
    goes to the partition the SDK's resolver computes for that key (the same routing as the SDK's
    buffered mode), so batches mix customers and fill up instead of holding one customer each.
    """
    from azure.eventhub import EventData
    from azure.eventhub._transport._pyamqp_transport import PyamqpTransport
    from azure.eventhub._utils import set_event_partition_key

    stats = BatchStats()
    open_batches: dict[str, Any] = {}
    open_bytes: dict[str, int] = {}

    def send(pid: str, was_full: bool) -> None:
        batch = open_batches.pop(pid)
        nbytes = open_bytes.pop(pid)
        send_batch(batch)
        stats.events += len(batch)
        stats.batches += 1
        stats.body_bytes += nbytes
        stats.batch_sizes.append((batch.size_in_bytes, batch.max_size_in_bytes, was_full))
        if on_progress is not None:
            on_progress(stats.events, stats.body_bytes)

    for key, body in messages:
        if type(body) is not bytes:
            raise TypeError(f"event bodies must be bytes, got {type(body).__name__}")
        pid = partition_for(key)
        event = EventData(body)
        set_event_partition_key(event, key, PyamqpTransport)
        batch = open_batches.get(pid)
        if batch is None:
            batch = open_batches[pid] = new_batch(pid)
            open_bytes[pid] = 0
        try:
            batch.add(event)
        except ValueError:
            if len(batch) == 0:
                raise TransportError(
                    f"an event of {len(body)} bytes (partition key {key!r}) does not fit in a batch of at "
                    f"most {batch.max_size_in_bytes} bytes; {stats.events} events were sent before it",
                    hint="make the event smaller") from None
            send(pid, was_full=True)
            batch = open_batches[pid] = new_batch(pid)
            open_bytes[pid] = 0
            try:
                batch.add(event)
            except ValueError:
                raise TransportError(
                    f"an event of {len(body)} bytes (partition key {key!r}) does not fit in a batch of at "
                    f"most {batch.max_size_in_bytes} bytes; {stats.events} events were sent before it",
                    hint="make the event smaller") from None
        open_bytes[pid] += len(body)
    for pid in sorted(open_batches):
        send(pid, was_full=False)
    return stats


# -- reading ------------------------------------------------------------------------------------


def starting_position(after_sequence: int, beginning_sequence_number: int | None) -> tuple[str | int, bool]:
    """Where receive_batch starts: right after the checkpoint, or at the earliest retained event.

    The SDK's default is "@latest", which would skip everything already in the hub. "-1" is the
    start of the stream; it is also used when the events after the checkpoint have expired, so
    the read starts at what is left instead of at a sequence number the hub no longer has.
    """
    if after_sequence < 0:
        return "-1", False
    if beginning_sequence_number is not None and beginning_sequence_number >= 0 \
            and after_sequence + 1 < beginning_sequence_number:
        return "-1", False
    return after_sequence, False


def to_received_event(partition_id: str, event: Any) -> ReceivedEvent:
    """A received azure.eventhub.EventData as the transport-neutral ReceivedEvent."""
    body = event.body
    if not isinstance(body, (bytes, bytearray)):
        body = b"".join(bytes(part) for part in body)
    key = event.partition_key
    if isinstance(key, (bytes, bytearray)):
        key = bytes(key).decode("utf-8", errors="replace")
    enqueued = event.enqueued_time
    if enqueued is not None and enqueued.tzinfo is None:
        enqueued = enqueued.replace(tzinfo=timezone.utc)
    return ReceivedEvent(partition_id, int(event.sequence_number), str(event.offset), enqueued,
                         key, bytes(body))


@dataclass
class DrainResult:
    events: list[ReceivedEvent]
    stopped_by: str  # "max events" | "end of partition" | "idle" | "receiver ended"
    seconds: float


class PartitionDrain:
    """Runs a blocking receive in a thread and stops it when the read is complete.

    `receive(on_event_batch, on_error)` must block like EventHubConsumerClient.receive_batch;
    `stop()` must make it return (closing the client does). The read is complete when
    max_events are in, when the partition reaches end_sequence (its last sequence number when
    ingest started), when no event arrived for idle_seconds, or on the first error.
    """

    def __init__(self, partition_id: str, *, after_sequence: int, end_sequence: int | None,
                 max_events: int, idle_seconds: float,
                 poll_seconds: float = RECEIVE_POLL_SECONDS,
                 join_seconds: float = RECEIVE_JOIN_SECONDS) -> None:
        self.partition_id = partition_id
        self.after_sequence = after_sequence
        self.end_sequence = end_sequence
        self.max_events = max_events
        self.idle_seconds = idle_seconds
        self.poll_seconds = poll_seconds
        self.join_seconds = join_seconds
        self._events: list[ReceivedEvent] = []
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._stopped_by = ""
        self._error: BaseException | None = None
        self._last_event_at = 0.0
        self._answered = False  # any callback, even an empty batch, means the receiver is connected

    def on_event_batch(self, partition_context: Any, batch: list) -> None:
        with self._lock:
            self._answered = True
            if self._done.is_set():
                return
            if batch:
                self._last_event_at = time.monotonic()
            for event in batch:
                sequence = event.sequence_number
                if sequence is None or sequence <= self.after_sequence:
                    continue  # at-least-once delivery: already landed
                if self.end_sequence is not None and sequence > self.end_sequence:
                    self._finish("end of partition")
                    return
                self._events.append(to_received_event(self.partition_id, event))
                if len(self._events) >= self.max_events:
                    self._finish("max events")
                    return
                if self.end_sequence is not None and sequence >= self.end_sequence:
                    self._finish("end of partition")
                    return

    def on_error(self, partition_context: Any, error: BaseException) -> None:
        with self._lock:
            if self._done.is_set():
                return  # e.g. the client reporting its own close: the read is already complete
            if self._error is None:
                self._error = error
            self._finish("error")

    def _finish(self, reason: str) -> None:
        if not self._done.is_set():
            self._stopped_by = reason
            self._done.set()

    def run(self, receive: Callable[[Callable, Callable], None], stop: Callable[[], None]) -> DrainResult:
        started = time.monotonic()
        if self.max_events <= 0 or (self.end_sequence is not None and self.after_sequence >= self.end_sequence):
            return DrainResult([], "end of partition", 0.0)
        self._last_event_at = started

        def target() -> None:
            try:
                receive(self.on_event_batch, self.on_error)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
                self.on_error(None, exc)
            finally:
                with self._lock:
                    self._finish("receiver ended")

        thread = threading.Thread(target=target, name=f"eventhubs-receive-{self.partition_id}", daemon=True)
        thread.start()
        try:
            while not self._done.wait(self.poll_seconds):
                if time.monotonic() - self._last_event_at >= self.idle_seconds:
                    with self._lock:
                        self._finish("idle")
        finally:
            # Closing a client whose connection is stuck can block as well: bound it too.
            stopper = threading.Thread(target=stop, name=f"eventhubs-stop-{self.partition_id}", daemon=True)
            stopper.start()
            stopper.join(self.join_seconds)
            thread.join(self.join_seconds)
        with self._lock:
            if self._error is not None:
                raise self._error
            if self._stopped_by == "idle" and not self._answered:
                raise TimeoutError(f"the receiver of partition {self.partition_id} got no answer "
                                   f"within {self.idle_seconds:g} s")
            return DrainResult(list(self._events), self._stopped_by, time.monotonic() - started)


# -- the transport --------------------------------------------------------------------------------


def fetch_keyvault_secret(vault_url: str, secret_name: str, *, credential: Any, retries: int,
                          **client_options: Any) -> str:
    """The value of a Key Vault secret, read with SecretClient."""
    client = keyvault_client(vault_url, credential=credential, retries=retries, **client_options)
    with client:
        return client.get_secret(secret_name).value


def keyvault_client(vault_url: str, *, credential: Any, retries: int, **client_options: Any):
    from azure.keyvault.secrets import SecretClient

    # Short retries and timeouts: an unreachable vault must fail in seconds, not minutes.
    options = {"retry_total": retries, "retry_backoff_factor": RETRY_BACKOFF_FACTOR,
               "retry_backoff_max": RETRY_BACKOFF_MAX, "connection_timeout": 10, "read_timeout": 20,
               **client_options}
    return SecretClient(vault_url, credential, **options)


def default_credential():
    from azure.identity import DefaultAzureCredential

    # Interactive browser login is already excluded by default; the CLI must never wait on a person.
    return DefaultAzureCredential(process_timeout=10)


class EventHubsTransport:
    """A Transport over one event hub. Clients open lazily: building it touches no network.

    credential_factory and keyvault_options exist for tests and special networks (e.g. a custom
    CA bundle for the vault); the CLI uses the defaults.
    """

    def __init__(self, config: EventHubsConfig, *,
                 credential_factory: Callable[[], Any] = default_credential,
                 keyvault_options: dict[str, Any] | None = None) -> None:
        quiet_azure_loggers()
        self.config = config
        self._keyvault_options = dict(keyvault_options or {})
        self._credential_factory = credential_factory
        self._credential: Any = None
        self._resolved_connection_string: Secret | None = None
        self._producer_client: Any = None
        self._management_client: Any = None
        self._partition_ids: list[str] | None = None
        self._states: dict[str, PartitionState] = {}
        self.max_batch_bytes = DEFAULT_MAX_BATCH_BYTES
        self.last_send_stats: BatchStats | None = None
        self._namespace, self._hub = self._locate()

    # -- identity ---------------------------------------------------------------------------------

    @property
    def source(self) -> str:
        """"namespace/hub", the same whichever way the hub is authenticated, so checkpoints match."""
        return f"{self.namespace}/{self._hub}"

    @property
    def namespace(self) -> str:
        if not self._namespace:
            self.connection_string()  # Key Vault mode: the namespace is inside the secret
        return self._namespace

    @property
    def eventhub_name(self) -> str:
        return self._hub

    def _locate(self) -> tuple[str, str]:
        """(namespace, hub) without network where possible; Key Vault mode reads the secret."""
        config = self.config
        if config.connection_string:
            namespace, entity = _parse_connection_string(config.connection_string.reveal(),
                                                         "EVENTHUB_CONNECTION_STRING")
            return namespace, entity or config.eventhub_name
        if config.keyvault_url:
            # The namespace is inside the secret: read it when a client is first needed.
            return "", config.eventhub_name
        return config.namespace, config.eventhub_name

    def _auth_setting(self) -> str:
        return {"connection string": "EVENTHUB_CONNECTION_STRING", "key vault": "KEYVAULT_SECRET_NAME",
                "entra id": "EVENTHUB_NAMESPACE"}[self.config.auth_mode]

    def _secrets(self) -> list[str]:
        values = [self.config.connection_string.reveal()]
        if self._resolved_connection_string:
            values.append(self._resolved_connection_string.reveal())
        if self.config.proxy is not None:
            values.append(self.config.proxy.password.reveal())
        return [v for v in values if v]

    def _where(self) -> str:
        return f"{self._namespace or 'the namespace'}/{self._hub}"

    def _error(self, exc: BaseException, action: str) -> EcomctlError:
        return translate_error(exc, action=action, namespace=self._namespace or "the namespace",
                               hub=self._hub, setting=self._auth_setting(), secrets=self._secrets())

    def connection_string(self) -> str | None:
        """The connection string in force (read from Key Vault once), or None for Entra ID."""
        config = self.config
        if config.connection_string:
            return config.connection_string.reveal()
        if not config.keyvault_url:
            return None
        if self._resolved_connection_string is None:
            try:
                value = self._call(f"reading the Key Vault secret {config.keyvault_secret_name!r} from "
                                   f"{config.keyvault_url}", fetch_keyvault_secret, config.keyvault_url,
                                   config.keyvault_secret_name, credential=self.credential(),
                                   retries=config.retries, **self._keyvault_options)
            except EcomctlError:
                raise
            except Exception as exc:
                raise translate_keyvault_error(exc, url=config.keyvault_url,
                                               secret_name=config.keyvault_secret_name,
                                               url_setting="KEYVAULT_URL",
                                               name_setting="KEYVAULT_SECRET_NAME") from None
            if not value:
                raise ConfigError("KEYVAULT_SECRET_NAME",
                                  f"the secret {config.keyvault_secret_name!r} in {config.keyvault_url} is empty")
            self._resolved_connection_string = Secret(value)
            namespace, entity = _parse_connection_string(
                value, f"KEYVAULT_SECRET_NAME (the secret {config.keyvault_secret_name!r})")
            self._namespace, self._hub = namespace, entity or config.eventhub_name
        return self._resolved_connection_string.reveal()

    def credential(self):
        """DefaultAzureCredential. For Entra ID it is asked for an Event Hubs token once up front, so
        a missing login fails in one clear line instead of inside the SDK's connection retries; the
        Key Vault client asks for its own token (with the vault's scope, whatever the cloud)."""
        if self._credential is None:
            credential = self._credential_factory()
            if not self.config.keyvault_url:
                try:
                    self._call("signing in with DefaultAzureCredential", credential.get_token, EVENTHUBS_SCOPE)
                except EcomctlError:
                    raise
                except Exception as exc:
                    raise translate_error(exc, action="signing in to Event Hubs", namespace=self._namespace,
                                          hub=self._hub, setting=self._auth_setting()) from None
            self._credential = credential
        return self._credential

    # -- clients ------------------------------------------------------------------------------------

    def client_options(self) -> dict[str, Any]:
        from azure.eventhub import TransportType

        options: dict[str, Any] = {
            "retry_total": self.config.retries,
            "retry_backoff_factor": RETRY_BACKOFF_FACTOR,
            "retry_backoff_max": RETRY_BACKOFF_MAX,
            "retry_mode": "exponential",
            "transport_type": (TransportType.AmqpOverWebsocket if self.config.transport_type == "websockets"
                               else TransportType.Amqp),
            "ssl_context": tls_context(),
        }
        if self.config.proxy is not None:
            options["http_proxy"] = self.config.proxy.as_sdk_dict()
        return options

    def new_producer(self):
        from azure.eventhub import EventHubProducerClient

        conn_str = self.connection_string()
        if conn_str is not None:
            kwargs = {} if self._has_entity_path() else {"eventhub_name": self._hub}
            return EventHubProducerClient.from_connection_string(conn_str, **kwargs, **self.client_options())
        return EventHubProducerClient(self._namespace, self._hub, self.credential(), **self.client_options())

    def new_consumer(self):
        from azure.eventhub import EventHubConsumerClient

        conn_str = self.connection_string()
        group = self.config.consumer_group
        if conn_str is not None:
            kwargs = {} if self._has_entity_path() else {"eventhub_name": self._hub}
            return EventHubConsumerClient.from_connection_string(conn_str, consumer_group=group, **kwargs,
                                                                 **self.client_options())
        return EventHubConsumerClient(self._namespace, self._hub, group, self.credential(),
                                      **self.client_options())

    def _has_entity_path(self) -> bool:
        conn_str = self.connection_string()
        return conn_str is not None and _parse_connection_string(conn_str, self._auth_setting())[1] is not None

    def _producer(self):
        if self._producer_client is None:
            self._producer_client = self.new_producer()
        return self._producer_client

    def _management(self):
        if self._management_client is None:
            self._management_client = self.new_consumer()
        return self._management_client

    def _call(self, action: str, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run one SDK call with a deadline (EVENTHUB_TIMEOUT_SECONDS).

        The SDK's retries end most failures in seconds, but some waits have no bound in pyamqp
        (e.g. a peer that completes TLS and then never speaks AMQP); the call runs in a thread
        and is abandoned, with its clients, when the deadline passes.
        """
        outcome: dict[str, Any] = {}
        finished = threading.Event()

        def run() -> None:
            try:
                outcome["value"] = function(*args, **kwargs)
            except BaseException as exc:  # noqa: BLE001 - re-raised on the caller's thread
                outcome["error"] = exc
            finally:
                finished.set()

        threading.Thread(target=run, name="eventhubs-call", daemon=True).start()
        if not finished.wait(self.config.timeout_seconds):
            self._abandon_clients()
            raise TransportError(
                f"{action} got no answer within {self.config.timeout_seconds:g} s",
                hint="check the network, the firewall (AMQP uses port 5671; EVENTHUB_TRANSPORT=websockets "
                     "uses 443) and the proxy; EVENTHUB_TIMEOUT_SECONDS sets this limit")
        if "error" in outcome:
            raise outcome["error"]
        return outcome.get("value")

    def _abandon_clients(self, wait_seconds: float = 0.0) -> None:
        clients = [c for c in (self._producer_client, self._management_client) if c is not None]
        self._producer_client = self._management_client = None
        if not clients:
            return

        def close_all() -> None:  # closing a stuck connection can block too
            for client in clients:
                try:
                    client.close()
                except Exception:  # noqa: BLE001 - closing a broken connection must not mask the real error
                    pass

        closer = threading.Thread(target=close_all, name="eventhubs-close", daemon=True)
        closer.start()
        closer.join(wait_seconds)

    # -- Transport ----------------------------------------------------------------------------------

    def check(self) -> None:
        try:
            properties = self._call(f"connecting to {self._where()}", self._management().get_eventhub_properties)
        except Exception as exc:
            raise self._error(exc, "connecting to Event Hubs") from None
        self._partition_ids = [str(pid) for pid in properties["partition_ids"]]

    def partition_ids(self) -> list[str]:
        if self._partition_ids is None:
            try:
                ids = self._call(f"listing the partitions of {self._where()}", self._management().get_partition_ids)
                self._partition_ids = [str(pid) for pid in ids]
            except Exception as exc:
                raise self._error(exc, "listing the partitions") from None
        return list(self._partition_ids)

    def partition_state(self, partition_id: str) -> PartitionState:
        try:
            props = self._call(f"reading partition {partition_id} of {self._where()}",
                               self._management().get_partition_properties, partition_id)
        except Exception as exc:
            raise self._error(exc, f"reading partition {partition_id}") from None
        state = partition_state_from_properties(partition_id, props)
        self._states[partition_id] = state  # the end a later read drains to
        return state

    def send(self, messages: Iterable[tuple[str | None, bytes]],
             on_progress: ProgressCallback | None = None) -> SendResult:
        from azure.eventhub._buffered_producer._partition_resolver import PartitionResolver

        started = time.perf_counter()
        stats = BatchStats()
        try:
            producer = self._producer()
            resolver = PartitionResolver(self.partition_ids())

            def partition_for(key: str | None) -> str:
                if key is None:
                    return resolver.get_next_partition_id()
                return resolver.get_partition_id_by_partition_key(key)

            def new_batch(pid: str):
                batch = self._call(f"opening a sender to {self._where()}", producer.create_batch, partition_id=pid)
                self.max_batch_bytes = batch.max_size_in_bytes
                return batch

            def progress(events: int, nbytes: int) -> None:
                stats.events, stats.body_bytes = events, nbytes
                if on_progress is not None:
                    on_progress(events, nbytes)

            def send_batch(batch) -> None:
                self._call(f"sending a batch to {self._where()}", producer.send_batch, batch)

            stats = fill_batches(messages, partition_for, new_batch, send_batch, progress)
        except EcomctlError:
            raise
        except Exception as exc:
            error = self._error(exc, "sending events")
            raise TransportError(f"{error}; {stats.events} events were sent before the failure") from None
        self.last_send_stats = stats
        return SendResult(stats.events, stats.batches, stats.body_bytes, time.perf_counter() - started)

    def read(self, partition_id: str, after_sequence: int, max_events: int) -> list[ReceivedEvent]:
        """Up to max_events events after `after_sequence`, stopping at the partition's end as seen by
        the last partition_state call (its end when ingest started), or after EVENTHUB_IDLE_SECONDS."""
        if max_events < 0:
            raise ValueError(f"max_events must be 0 or more, got {max_events}")
        state = self._states.get(partition_id)
        if state is None:
            state = self.partition_state(partition_id)
        if max_events == 0 or state.is_empty or after_sequence >= state.last_sequence_number:
            return []
        position, inclusive = starting_position(after_sequence, state.beginning_sequence_number)
        drain = PartitionDrain(partition_id, after_sequence=after_sequence,
                               end_sequence=state.last_sequence_number, max_events=max_events,
                               idle_seconds=self.config.idle_seconds)
        try:
            consumer = self.new_consumer()
        except EcomctlError:
            raise
        except Exception as exc:
            raise self._error(exc, f"reading partition {partition_id}") from None
        batch_size = max(1, min(max_events, 1000))

        def receive(on_event_batch, on_error) -> None:
            consumer.receive_batch(on_event_batch, partition_id=partition_id,
                                   starting_position=position, starting_position_inclusive=inclusive,
                                   max_batch_size=batch_size, prefetch=max(batch_size, 300),
                                   max_wait_time=RECEIVE_POLL_SECONDS, on_error=on_error)

        try:
            result = drain.run(receive, consumer.close)
        except Exception as exc:
            raise self._error(exc, f"reading partition {partition_id}") from None
        return result.events

    def close(self) -> None:
        # close(flush=True) sends nothing here (no buffered mode); it only ends the connections.
        self._abandon_clients(wait_seconds=RECEIVE_JOIN_SECONDS)
        if self._credential is not None and hasattr(self._credential, "close"):
            try:
                self._credential.close()
            except Exception:  # noqa: BLE001
                pass
            self._credential = None


def partition_state_from_properties(partition_id: str, props: dict) -> PartitionState:
    """get_partition_properties() as a PartitionState (-1 / -1 / None for a partition never written)."""
    last = int(props["last_enqueued_sequence_number"])
    beginning = int(props["beginning_sequence_number"])
    if last < 0:
        return PartitionState(partition_id, -1, -1, None)
    if props.get("is_empty"):
        # Everything expired: the hub keeps the head, like the embedded log.
        beginning = max(beginning, last + 1)
    enqueued = props.get("last_enqueued_time_utc")
    if enqueued is not None and enqueued.tzinfo is None:
        enqueued = enqueued.replace(tzinfo=timezone.utc)
    return PartitionState(partition_id, beginning, last, enqueued)
