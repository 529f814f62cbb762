"""EventHubsTransport: the Transport over one event hub, its clients, credentials and deadlines."""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from ecomctl.config import Secret
from ecomctl.errors import ConfigError, EcomctlError, TransportError
from ecomctl.events.eventhubs.batching import BatchStats, fill_batches
from ecomctl.events.eventhubs.errors import quiet_azure_loggers, translate_error, translate_keyvault_error
from ecomctl.events.eventhubs.partitioning import PartitionChooser
from ecomctl.events.eventhubs.receiving import (RECEIVE_JOIN_SECONDS, RECEIVE_POLL_SECONDS, PartitionDrain,
                                                partition_state_from_properties, starting_position)
from ecomctl.events.eventhubs.settings import EventHubsConfig, hub_location
from ecomctl.events.transport import (EventTooLargeError, PartitionState, ProgressCallback, ReceivedEvent,
                                      SendResult)

EVENTHUBS_SCOPE = "https://eventhubs.azure.net/.default"
DEFAULT_MAX_BATCH_BYTES = 1_048_576  # Standard tier and above; create_batch tells the real limit
# Backoff between SDK retries (factor x 2**n): 1 s, 2 s, 4 s ... capped, so that three retries of
# a connection that fails, even one that times out in the TLS handshake, end inside 30 seconds.
RETRY_BACKOFF_FACTOR = 0.5
RETRY_BACKOFF_MAX = 8.0
# pyamqp runs the TLS handshake on a socket without a timeout, so a peer that accepts the TCP
# connection and then says nothing (a middlebox, a wrong host) would hang it forever.
TLS_HANDSHAKE_SECONDS = 4.0


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

    def _locate(self) -> tuple[str, str]:
        """(namespace, hub) without network where possible; Key Vault mode reads the secret."""
        config = self.config
        if config.connection_string:
            namespace, entity = hub_location(config.connection_string.reveal(), "EVENTHUB_CONNECTION_STRING")
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
            namespace, entity = hub_location(
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
        return conn_str is not None and hub_location(conn_str, self._auth_setting())[1] is not None

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
        started = time.perf_counter()
        stats = BatchStats()
        try:
            producer = self._producer()
            partition_for = PartitionChooser(self.partition_ids())

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
        except (ConfigError, EventTooLargeError):
            raise
        except Exception as exc:
            error = self._error(exc, "sending events")
            if not stats.events:
                raise error from None
            raise TransportError(f"{error.args[0]}; {stats.events} events were sent before the failure",
                                 hint=error.hint) from None
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
