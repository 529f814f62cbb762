"""The Event Hubs transport, offline: real EventDataBatch, real clients, real SDK exceptions.

No Azure is reachable here. What needs a hub is exercised through the SDK's own objects with the
network methods replaced by scripted ones (create_batch -> a real EventDataBatch, receive_batch ->
real received EventData), or against things that fail the way a user's typo does (a namespace
that does not resolve, a proxy that refuses, a Key Vault stand-in over local HTTPS).
"""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest

from ecomctl.config import Secret, Settings
from ecomctl.errors import ConfigError, TransportError
from ecomctl.events.eventhubs import (
    EventHubsConfig,
    EventHubsTransport,
    HandshakeTimeoutContext,
    PartitionChooser,
    PartitionDrain,
    Proxy,
    fill_batches,
    key_hash,
    partition_for_key,
    partition_state_from_properties,
    redact,
    starting_position,
    translate_error,
    translate_keyvault_error,
)
from ecomctl.events.eventhubs.batching import keyed_event
from ecomctl.events.transport import PartitionState, Transport

KEY = "c2VjcmV0a2V5"
CONN = ("Endpoint=sb://nonexistent-ns.servicebus.windows.net/;SharedAccessKeyName=k;"
        f"SharedAccessKey={KEY};EntityPath=orders")
CONN_NO_ENTITY = f"Endpoint=sb://myns.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey={KEY}"


def settings(**env: str) -> Settings:
    return Settings.load({"target": "databricks"}, environ=env)


def transport(conn: str = CONN, **config) -> EventHubsTransport:
    config.setdefault("retries", 0)
    return EventHubsTransport(EventHubsConfig("orders", connection_string=Secret(conn), **config))


class StaticTokenCredential:
    """A TokenCredential that hands out a fixed token, for the auth modes that need one offline."""

    def __init__(self) -> None:
        self.scopes: list[tuple] = []

    def get_token(self, *scopes, **kwargs):
        from azure.core.credentials import AccessToken

        self.scopes.append(scopes)
        return AccessToken("offline-token", int(time.time()) + 3600)


def received(sequence: int, body: bytes = b"{}", key: str | None = "C1001", offset: int | None = None):
    """An EventData as the consumer builds it from a received AMQP message."""
    from azure.eventhub import EventData
    from azure.eventhub._pyamqp.message import Message

    annotations = {b"x-opt-sequence-number": sequence,
                   b"x-opt-offset": str(offset if offset is not None else sequence * 100).encode(),
                   b"x-opt-enqueued-time": int(time.time() * 1000)}
    if key is not None:
        annotations[b"x-opt-partition-key"] = key.encode()
    return EventData._from_message(Message(data=[body], message_annotations=annotations))


# -- batches ---------------------------------------------------------------------------------------


def one_kb_messages(count: int, keys: int = 50) -> list[tuple[str, bytes]]:
    messages = []
    for i in range(count):
        head = json.dumps({"event_id": f"e{i:08d}", "customer_id": f"C{1000 + i % keys}", "pad": ""})
        body = (head[:-2] + "x" * (1024 - len(head)) + '"}').encode()
        assert len(body) == 1024
        messages.append((f"C{1000 + i % keys}", body))
    return messages


def run_fill(messages, limit: int, partitions: int = 4):
    from azure.eventhub import EventDataBatch

    chooser = PartitionChooser([str(p) for p in range(partitions)])
    sent: list = []

    def new_batch(pid: str):
        # What producer.create_batch(partition_id=pid) returns once the link reports its limit.
        return EventDataBatch(max_size_in_bytes=limit, partition_id=pid)

    progress: list[tuple[int, int]] = []
    stats = fill_batches(messages, chooser, new_batch, sent.append, lambda n, b: progress.append((n, b)))
    return stats, sent, progress


@pytest.mark.parametrize("limit", [262_144, 1_048_576], ids=["256KB-basic", "1MB-standard"])
def test_batches_of_1kb_events_fill_at_least_95_percent_of_the_limit(limit):
    messages = one_kb_messages(8_000)
    stats, sent, progress = run_fill(messages, limit)
    assert stats.events == len(messages) == sum(len(b) for b in sent)
    assert stats.body_bytes == 1024 * len(messages)
    assert all(b.size_in_bytes <= limit for b in sent)
    full = [size / cap for size, cap, was_full in stats.batch_sizes if was_full]
    assert len(full) >= 4 and sum(full) / len(full) >= 0.95, f"average fill {sum(full) / len(full):.4f}"
    # Only the last batch of each of the 4 partitions goes out before it is full (the end of the input).
    assert len(stats.batch_sizes) - len(full) <= 4
    # Every full batch was sent because the next event did not fit: there was no room for 1 KB more.
    assert all(cap - size < 1024 + 100 for size, cap, was_full in stats.batch_sizes if was_full)
    assert progress[-1] == (stats.events, stats.body_bytes)
    assert [n for n, _ in progress] == sorted(n for n, _ in progress)


def test_a_batch_holds_events_of_many_customers_and_each_keeps_its_partition_key():
    stats, sent, _ = run_fill(one_kb_messages(4000, keys=300), 1_048_576)
    partition_of_key: dict[str, str] = {}
    for batch in sent:
        keys = {e.annotations[b"x-opt-partition-key"] for e in batch._internal_events}
        assert len(keys) > 10  # not one batch per customer
        for key in keys:
            assert partition_of_key.setdefault(key, batch._partition_id) == batch._partition_id
            assert partition_for_key(key, ["0", "1", "2", "3"]) == batch._partition_id
    assert len(partition_of_key) == 300
    assert len(set(partition_of_key.values())) == 4


def test_the_event_hubs_transport_uses_the_sdks_public_api_only():
    """Private modules (a leading underscore) of azure-eventhub change without notice between versions."""
    import ast
    from pathlib import Path

    import ecomctl.events.eventhubs as package

    private = []
    for path in sorted(Path(package.__file__).parent.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([node.module or ""] if isinstance(node, ast.ImportFrom) else
                     [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            private += [f"{path.name}: {n}" for n in names
                        if n.startswith("azure") and any(part.startswith("_") for part in n.split("."))]
    assert private == []


# The hash codes the .NET SDK's tests pin for its port of the service's key hash
# (Azure/azure-sdk-for-net, sdk/eventhub/Azure.Messaging.EventHubs/tests/Core/PartitionResolverTests.cs,
# PartitionHashTestCases); the Java and JavaScript SDKs carry the same algorithm.
SERVICE_HASHES = [
    ("7", -15263), ("131", 30562), ("7149583486996073602", 12977), ("FWfAT", -22341),
    ("sOdeEAsyQoEuEFPGerWO", -6503),
    ("FAyAIctPeCgmiwLKbJcyswoHglHVjQdvtBowLACDNORsYvOcLddNJYDmhAVkbyLOrHTKLneMNcbgWVlasVywOByANjs", 5226),
    ("1XYM6!(7(lF5wq4k4m*e$Nc!1ezLJv*1YK1Y-C^*&B$O)lq^iUkG(TNzXG;Zi#z2Og*Qq0#^*k):vXh$3,C7We7%W0meJ;b3,"
     "rQCg^J;^twXgs5E$$hWKxqp", 23950),
    ("E(x;RRIaQcJs*P;D&jTPau-4K04oqr:lF6Z):ERpo&;9040qyV@G1_c9mgOs-8_8/10Fwa-7b7-yP!T-!IH&968)FWuI;(^g$2fN;)"
     "HJ^^yTn:", -29304),
    ("!c*_!I@1^c", 15372), ("p4*!jioeO/z-!-;w:dh", -3104), ("$0cb", 26269), ("-4189260826195535198", 453),
]


@pytest.mark.parametrize(("key", "expected"), SERVICE_HASHES, ids=[k[:12] for k, _ in SERVICE_HASHES])
def test_the_key_hash_is_the_services(key, expected):
    assert key_hash(key) == expected


def test_a_key_goes_to_the_partition_the_hub_picks():
    four = ["0", "1", "2", "3"]
    # |hash % n| with C#'s truncated remainder: -15263 % 4 is -3 there, so partition 3. (Python's
    # floored % gives 1: the private resolver of the Python SDK sends such keys elsewhere.)
    assert partition_for_key("7", four) == "3"
    assert partition_for_key("131", four) == "2"  # 30562 % 4
    assert partition_for_key("$0cb", [str(p) for p in range(32)]) == str(26269 % 32)
    assert partition_for_key("Zoë", four) in four  # a key that is not ASCII: its UTF-8 bytes are hashed
    # Every customer of the generator lands on one partition, and all partitions get customers.
    spread = {partition_for_key(f"C{n}", four) for n in range(1000, 1500)}
    assert spread == set(four)


def test_keyless_events_go_round_the_partitions():
    chooser = PartitionChooser(["0", "1", "2"])
    assert [chooser(None) for _ in range(7)] == ["0", "1", "2", "0", "1", "2", "0"]
    assert chooser("C1001") == partition_for_key("C1001", ["0", "1", "2"])


def test_a_keyed_event_goes_out_as_the_sdk_sends_an_event_of_a_keyed_batch():
    """The event built from public types carries the same bytes the SDK itself encodes for an event of
    create_batch(partition_key=...), the public way of keying events, and one without a key just its body."""
    from azure.eventhub import EventData, EventDataBatch

    for key in ("C1001", "Zoë-7", None):
        ours = EventDataBatch(max_size_in_bytes=1_048_576, partition_id="2")
        ours.add(keyed_event(b'{"order_id": "ORD-1"}', key))
        sdk = EventDataBatch(max_size_in_bytes=1_048_576, partition_key=key)
        sdk.add(EventData(b'{"order_id": "ORD-1"}'))
        assert [bytes(m) for m in ours._message.data] == [bytes(m) for m in sdk._message.data], key


def test_an_event_too_large_for_any_batch_is_an_error_after_sending_what_came_before():
    messages = one_kb_messages(300) + [("C1", b"x" * 300_000)] + one_kb_messages(5)
    with pytest.raises(TransportError, match=r"an event of 300000 bytes .* at most 262144 bytes; \d+ events were sent"):
        run_fill(messages, 262_144)


def test_send_through_the_producer_client_counts_events_batches_and_bytes(monkeypatch):
    """EventHubsTransport.send with a real producer client whose network calls are scripted."""
    from azure.eventhub import EventDataBatch, EventHubProducerClient

    hub = transport()
    producer = hub.new_producer()
    assert isinstance(producer, EventHubProducerClient)
    sent = []
    monkeypatch.setattr(producer, "get_partition_ids", lambda: ["0", "1", "2", "3"])
    monkeypatch.setattr(producer, "create_batch",
                        lambda partition_id=None: EventDataBatch(max_size_in_bytes=262_144, partition_id=partition_id))
    monkeypatch.setattr(producer, "send_batch", sent.append)
    hub._producer_client = producer
    hub._management_client = producer  # partition ids come from the same scripted call
    progress = []
    result = hub.send(one_kb_messages(2000), on_progress=lambda n, b: progress.append((n, b)))
    assert (result.events, result.bytes) == (2000, 2000 * 1024)
    assert result.batches == len(sent) == len(progress) >= 8
    assert progress[-1] == (2000, 2000 * 1024)
    assert hub.max_batch_bytes == 262_144
    full = [size / cap for size, cap, was_full in hub.last_send_stats.batch_sizes if was_full]
    assert full and min(full) > 0.95


def test_a_failed_send_reports_what_was_sent_before_it(monkeypatch):
    from azure.eventhub import EventDataBatch
    from azure.eventhub._pyamqp.error import MessageException
    from azure.eventhub.exceptions import EventDataSendError

    hub = transport()
    producer = hub.new_producer()
    calls = []

    def send_batch(batch):
        calls.append(batch)
        if len(calls) == 3:
            # What the SDK raises once its retries of a throttled send are spent.
            busy = MessageException(b"com.microsoft:server-busy",
                                    description="The request was terminated because the namespace is being throttled.")
            raise EventDataSendError(str(busy), busy)

    monkeypatch.setattr(producer, "get_partition_ids", lambda: ["0"])
    monkeypatch.setattr(producer, "create_batch",
                        lambda partition_id=None: EventDataBatch(max_size_in_bytes=262_144, partition_id=partition_id))
    monkeypatch.setattr(producer, "send_batch", send_batch)
    hub._producer_client = hub._management_client = producer
    with pytest.raises(TransportError) as caught:
        hub.send(one_kb_messages(1000))
    message = str(caught.value)
    assert "throttled" in message and f"{2 * len(calls[0])} events were sent before the failure" in message
    assert "\n" not in message


# -- settings and client construction ------------------------------------------------------------


def test_generate_on_databricks_needs_only_event_hub_settings():
    config = EventHubsConfig.from_settings(settings(EVENTHUB_CONNECTION_STRING=CONN))
    assert config.auth_mode == "connection string" and config.retries == 3 and config.idle_seconds == 10


@pytest.mark.parametrize("env, setting, words", [
    ({}, "EVENTHUB_CONNECTION_STRING", "needs Event Hubs credentials"),
    ({"KEYVAULT_URL": "https://v.vault.azure.net"}, "KEYVAULT_SECRET_NAME", "name the secret"),
    ({"KEYVAULT_SECRET_NAME": "eh"}, "KEYVAULT_URL", "give the vault URL"),
    ({"KEYVAULT_URL": "http://v.vault.azure.net", "KEYVAULT_SECRET_NAME": "eh"}, "KEYVAULT_URL", "https://"),
    ({"EVENTHUB_CONNECTION_STRING": "not a connection string"}, "EVENTHUB_CONNECTION_STRING", "not a valid"),
    ({"EVENTHUB_NAMESPACE": "ns", "EVENTHUB_TRANSPORT": "http"}, "EVENTHUB_TRANSPORT", "unknown transport"),
    ({"EVENTHUB_NAMESPACE": "ns", "EVENTHUB_PROXY_HOST": "proxy"}, "EVENTHUB_PROXY_HOST", "websockets"),
    ({"EVENTHUB_NAMESPACE": "ns", "EVENTHUB_TRANSPORT": "websockets", "EVENTHUB_PROXY_HOST": "p",
      "EVENTHUB_PROXY_PORT": "99999"}, "EVENTHUB_PROXY_PORT", "1 to 65535"),
    ({"EVENTHUB_NAMESPACE": "ns", "EVENTHUB_PROXY_PASSWORD": "pw"}, "EVENTHUB_PROXY_HOST", "is empty"),
])
def test_event_hub_settings_errors_name_the_setting(env, setting, words):
    with pytest.raises(ConfigError) as caught:
        EventHubsConfig.from_settings(settings(**env))
    assert caught.value.setting == setting and words in str(caught.value)
    assert KEY not in str(caught.value)


def test_connection_string_clients_use_the_entity_path_retries_and_consumer_group():
    from azure.eventhub import EventHubConsumerClient, EventHubProducerClient, TransportType

    hub = EventHubsTransport(EventHubsConfig.from_settings(settings(
        EVENTHUB_CONNECTION_STRING=CONN, EVENTHUB_CONSUMER_GROUP="ecomctl", EVENTHUB_NAME="ignored")))
    assert hub.source == "nonexistent-ns.servicebus.windows.net/orders"
    producer, consumer = hub.new_producer(), hub.new_consumer()
    assert isinstance(producer, EventHubProducerClient) and isinstance(consumer, EventHubConsumerClient)
    assert producer._address.hostname == "nonexistent-ns.servicebus.windows.net"
    assert producer.eventhub_name == consumer.eventhub_name == "orders"
    assert consumer._consumer_group == "ecomctl"
    assert (producer._config.retry_total, producer._config.backoff_factor, producer._config.backoff_max) == (3, 0.5, 8)
    assert isinstance(producer._config.ssl_context, HandshakeTimeoutContext)
    assert producer._config.transport_type == TransportType.Amqp and producer._config.http_proxy is None
    assert isinstance(hub, Transport)


def test_connection_string_without_entity_path_uses_eventhub_name():
    hub = EventHubsTransport(EventHubsConfig.from_settings(settings(
        EVENTHUB_CONNECTION_STRING=CONN_NO_ENTITY, EVENTHUB_NAME="clicks")))
    assert hub.source == "myns.servicebus.windows.net/clicks"
    assert hub.new_consumer().eventhub_name == "clicks"


def test_entra_id_uses_the_fully_qualified_namespace_and_a_token_credential():
    from azure.eventhub import EventHubProducerClient

    config = EventHubsConfig.from_settings(settings(EVENTHUB_NAMESPACE="myns", EVENTHUB_NAME="orders"))
    assert config.auth_mode == "entra id" and config.namespace == "myns.servicebus.windows.net"
    credential = StaticTokenCredential()
    hub = EventHubsTransport(config, credential_factory=lambda: credential)
    producer = hub.new_producer()
    assert isinstance(producer, EventHubProducerClient)
    assert producer._address.hostname == "myns.servicebus.windows.net" and producer.eventhub_name == "orders"
    assert producer._credential is credential
    assert credential.scopes == [("https://eventhubs.azure.net/.default",)]  # asked once, up front
    assert hub.source == "myns.servicebus.windows.net/orders"


def test_the_default_credential_is_default_azure_credential():
    from azure.identity import DefaultAzureCredential

    from ecomctl.events.eventhubs import default_credential

    assert isinstance(default_credential(), DefaultAzureCredential)


def test_entra_id_without_an_azure_login_is_one_line_fast(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")  # no az, azd or pwsh to ask
    config = EventHubsConfig.from_settings(settings(EVENTHUB_NAMESPACE="myns.servicebus.windows.net"))
    started = time.monotonic()
    with pytest.raises(TransportError) as caught:
        EventHubsTransport(config).new_producer()
    assert time.monotonic() - started < 30
    message = str(caught.value)
    assert "no Azure credential" in message and "az login" in message and "\n" not in message


def test_websockets_and_proxy_reach_the_client_config():
    from azure.eventhub import TransportType

    config = EventHubsConfig.from_settings(settings(
        EVENTHUB_CONNECTION_STRING=CONN, EVENTHUB_TRANSPORT="websockets", EVENTHUB_PROXY_HOST="proxy.corp",
        EVENTHUB_PROXY_PORT="8080", EVENTHUB_PROXY_USER="alice", EVENTHUB_PROXY_PASSWORD="pw-s3cret"))
    assert "pw-s3cret" not in repr(config)
    producer = EventHubsTransport(config).new_producer()
    assert producer._config.transport_type == TransportType.AmqpOverWebsocket
    assert producer._config.http_proxy == {"proxy_hostname": "proxy.corp", "proxy_port": 8080,
                                           "username": "alice", "password": "pw-s3cret"}


def local_server(handle, backlog: int = 5) -> socket.socket:
    """A TCP server on a free local port that hands each accepted connection to `handle` in a
    daemon thread; closing the returned socket stops it."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(backlog)

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            handle(conn)

    threading.Thread(target=serve, daemon=True).start()
    return server


def test_websockets_go_through_the_proxy_with_its_login():
    """A local proxy stand-in that records the CONNECT and refuses it: the real SDK's WebSocket
    transport must ask it for the namespace on port 443 with the configured login."""
    seen: list[bytes] = []

    def refuse(conn) -> None:
        seen.append(conn.recv(65536))
        conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
        conn.close()

    server = local_server(refuse)
    try:
        hub = transport(transport_type="websockets",
                        proxy=Proxy("127.0.0.1", server.getsockname()[1], "alice", Secret("pw-s3cret")))
        started = time.monotonic()
        with pytest.raises(TransportError) as caught:
            hub.check()
        assert time.monotonic() - started < 30
    finally:
        server.close()
    request = seen[0].decode()
    assert request.startswith("CONNECT nonexistent-ns.servicebus.windows.net:443 HTTP/1.1")
    assert "Proxy-Authorization: Basic " + base64.b64encode(b"alice:pw-s3cret").decode() in request
    message = str(caught.value)
    assert "proxy" in message and "EVENTHUB_PROXY_HOST" in message
    assert "pw-s3cret" not in message and KEY not in message


def test_building_the_transport_touches_no_network():
    started = time.monotonic()
    hub = transport()
    hub.new_producer()
    hub.new_consumer()
    assert time.monotonic() - started < 1


# -- Key Vault -------------------------------------------------------------------------------------


def self_signed_certificate(folder):
    """cert.pem and key.pem for localhost in `folder`."""
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
            .sign(key, hashes.SHA256()))
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                       serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    return folder / "cert.pem", folder / "key.pem"


@pytest.fixture(scope="module")
def local_vault(tmp_path_factory):
    """A Key Vault stand-in over HTTPS on localhost: the challenge, then GET /secrets/<name>."""
    import http.server
    import ssl

    folder = tmp_path_factory.mktemp("vault")
    self_signed_certificate(folder)
    secrets = {"eventhub-conn": CONN_NO_ENTITY}
    requests: list[tuple[str, str | None]] = []

    class Vault(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:
            auth = self.headers.get("Authorization")
            requests.append((self.path, auth))
            if not auth:
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Bearer authorization="https://login.microsoftonline.com/'
                                 '00000000-0000-0000-0000-000000000000", resource="https://vault.azure.net"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            secret_name = self.path.split("?")[0].strip("/").split("/")[1]
            if secret_name in secrets:
                status, body = 200, {"value": secrets[secret_name], "id": f"https://localhost/secrets/{secret_name}/1",
                                     "attributes": {"enabled": True}}
            else:
                status, body = 404, {"error": {"code": "SecretNotFound",
                                               "message": f"A secret with (name/id) {secret_name} was not found in this key vault."}}
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Vault)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield {"url": f"https://localhost:{server.server_address[1]}", "ca": str(folder / "cert.pem"),
           "requests": requests}
    server.shutdown()


def vault_transport(vault, secret_name: str) -> EventHubsTransport:
    config = EventHubsConfig.from_settings(settings(KEYVAULT_URL=vault["url"], KEYVAULT_SECRET_NAME=secret_name,
                                                    EVENTHUB_NAME="orders", EVENTHUB_RETRIES="0"))
    assert config.auth_mode == "key vault"
    # The stand-in's certificate is trusted explicitly; its challenge names vault.azure.net, not localhost.
    return EventHubsTransport(config, credential_factory=StaticTokenCredential,
                              keyvault_options={"connection_verify": vault["ca"],
                                                "verify_challenge_resource": False})


def test_key_vault_secret_is_read_with_secret_client_and_becomes_the_connection_string(local_vault):
    hub = vault_transport(local_vault, "eventhub-conn")
    assert hub.source == "myns.servicebus.windows.net/orders"  # ingest asks for it before any client
    producer = hub.new_producer()
    assert producer._address.hostname == "myns.servicebus.windows.net" and producer.eventhub_name == "orders"
    paths = [path for path, _ in local_vault["requests"]]
    assert paths and all(p.startswith("/secrets/eventhub-conn") for p in paths)
    assert local_vault["requests"][-1][1] == "Bearer offline-token"
    assert any(KEY in secret for secret in hub._secrets())  # the fetched string is scrubbed from this transport's errors


def test_a_missing_key_vault_secret_names_the_setting(local_vault):
    with pytest.raises(ConfigError) as caught:
        vault_transport(local_vault, "no-such-secret").new_producer()
    assert caught.value.setting == "KEYVAULT_SECRET_NAME"
    assert "'no-such-secret' does not exist in the Key Vault" in str(caught.value)


def test_key_vault_without_an_azure_login_is_one_line(local_vault, monkeypatch):
    """The real SecretClient and the real DefaultAzureCredential, with nobody logged in."""
    from ecomctl.events.eventhubs import default_credential

    monkeypatch.setenv("PATH", "/nonexistent")
    config = EventHubsConfig.from_settings(settings(KEYVAULT_URL=local_vault["url"], KEYVAULT_SECRET_NAME="eventhub-conn",
                                                    EVENTHUB_RETRIES="0"))
    hub = EventHubsTransport(config, credential_factory=default_credential,
                             keyvault_options={"connection_verify": local_vault["ca"],
                                               "verify_challenge_resource": False})
    started = time.monotonic()
    with pytest.raises(TransportError) as caught:
        hub.new_producer()
    assert time.monotonic() - started < 30
    message = str(caught.value)
    assert message.startswith("reading the Key Vault secret 'eventhub-conn' failed: no Azure credential")
    assert "az login" in message and "\n" not in message


def test_the_real_secret_client_is_built_for_the_vault():
    from azure.keyvault.secrets import SecretClient

    from ecomctl.events.eventhubs import keyvault_client

    client = keyvault_client("https://myvault.vault.azure.net", credential=StaticTokenCredential(), retries=2)
    assert isinstance(client, SecretClient) and client.vault_url == "https://myvault.vault.azure.net"


def test_an_unresolvable_vault_names_the_url_setting():
    config = EventHubsConfig.from_settings(settings(KEYVAULT_URL="https://nonexistent-vault-3f9.vault.azure.net",
                                                    KEYVAULT_SECRET_NAME="eh", EVENTHUB_RETRIES="0"))
    started = time.monotonic()
    with pytest.raises(ConfigError) as caught:
        EventHubsTransport(config, credential_factory=StaticTokenCredential).new_producer()
    assert time.monotonic() - started < 30
    assert caught.value.setting == "KEYVAULT_URL" and "cannot resolve" in str(caught.value)


# -- reading: starting position, drain and stop -----------------------------------------------------


def test_starting_position_is_after_the_checkpoint_or_the_earliest_event_never_latest():
    assert starting_position(-1, -1) == ("-1", False)
    assert starting_position(-1, 500) == ("-1", False)
    assert starting_position(41, 0) == (41, False)
    assert starting_position(41, 42) == (41, False)  # the next event is the first retained one
    assert starting_position(41, 100) == ("-1", False)  # the events after it expired


class ScriptedReceive:
    """Stands in for receive_batch: delivers batches, then empty batches every poll, until stopped."""

    def __init__(self, batches, poll: float = 0.02, ignore_stop: bool = False, error: BaseException | None = None):
        self.batches = list(batches)
        self.poll = poll
        self.ignore_stop = ignore_stop
        self.error = error
        self.stopped = threading.Event()
        self.released = threading.Event()

    def __call__(self, on_event_batch, on_error) -> None:
        for batch in self.batches:
            on_event_batch(None, batch)
        if self.error is not None:
            on_error(None, self.error)
        while not (self.stopped.is_set() and not self.ignore_stop) and not self.released.is_set():
            on_event_batch(None, [])
            time.sleep(self.poll)

    def stop(self) -> None:
        self.stopped.set()


def drain(**kwargs) -> PartitionDrain:
    kwargs.setdefault("idle_seconds", 5)
    return PartitionDrain("0", poll_seconds=0.02, join_seconds=1, **kwargs)


def test_drain_stops_at_the_end_sequence_seen_when_ingest_started():
    receive = ScriptedReceive([[received(s) for s in range(6)], [received(s) for s in range(6, 15)]])
    result = drain(after_sequence=-1, end_sequence=9, max_events=1000).run(receive, receive.stop)
    assert [e.sequence_number for e in result.events] == list(range(10))
    assert result.stopped_by == "end of partition" and receive.stopped.is_set()


def test_drain_stops_at_max_events_and_skips_redelivered_events():
    receive = ScriptedReceive([[received(s) for s in range(3, 9)], [received(s) for s in range(9, 20)]])
    result = drain(after_sequence=5, end_sequence=99, max_events=7).run(receive, receive.stop)
    assert [e.sequence_number for e in result.events] == list(range(6, 13))
    assert result.stopped_by == "max events"


def test_drain_stops_after_the_idle_time_when_the_end_never_arrives():
    receive = ScriptedReceive([[received(0), received(1)]])
    started = time.monotonic()
    result = drain(after_sequence=-1, end_sequence=50, max_events=100, idle_seconds=0.3).run(receive, receive.stop)
    assert [e.sequence_number for e in result.events] == [0, 1]
    assert result.stopped_by == "idle" and 0.3 <= time.monotonic() - started < 3


def test_drain_returns_even_when_the_receiver_ignores_close():
    receive = ScriptedReceive([], ignore_stop=True)
    started = time.monotonic()
    result = drain(after_sequence=-1, end_sequence=5, max_events=10, idle_seconds=0.2).run(receive, receive.stop)
    assert result.events == [] and time.monotonic() - started < 3
    receive.released.set()


def test_drain_raises_the_first_receive_error():
    from azure.eventhub.exceptions import ConnectError

    receive = ScriptedReceive([], error=ConnectError("Failed to initiate the connection"))
    with pytest.raises(ConnectError):
        drain(after_sequence=-1, end_sequence=5, max_events=10).run(receive, receive.stop)
    assert receive.stopped.is_set()


def test_drain_ignores_an_error_reported_while_the_client_closes():
    from azure.eventhub.exceptions import ClientClosedError

    stopped = threading.Event()

    def receive(on_event_batch, on_error):
        on_event_batch(None, [received(0), received(1), received(2)])
        stopped.wait(5)
        on_error(None, ClientClosedError("This client has been closed."))

    result = drain(after_sequence=-1, end_sequence=2, max_events=10).run(receive, stopped.set)
    assert [e.sequence_number for e in result.events] == [0, 1, 2]


def test_check_reads_the_hub_properties_and_partitions(monkeypatch):
    hub = transport()
    management = hub.new_consumer()
    monkeypatch.setattr(management, "get_eventhub_properties",
                        lambda: {"eventhub_name": "orders", "created_at": None, "partition_ids": ["0", "1"]})
    hub._management_client = management
    hub.check()
    assert hub.partition_ids() == ["0", "1"]


def test_received_events_keep_sequence_offset_time_and_key():
    receive = ScriptedReceive([[received(7, b'{"order_id":"ORD1"}', key="C1042", offset=4096)]])
    [event] = drain(after_sequence=6, end_sequence=7, max_events=10).run(receive, receive.stop).events
    assert (event.partition_id, event.sequence_number, event.offset, event.partition_key, event.body) == \
        ("0", 7, "4096", "C1042", b'{"order_id":"ORD1"}')
    assert event.enqueued_time.tzinfo is not None and abs(event.enqueued_time - datetime.now(timezone.utc)) < timedelta(minutes=1)


def hub_with_partitions(monkeypatch, partitions: dict[str, dict], hub_events: dict[str, list[int]]):
    """A transport whose management calls answer `partitions` and whose consumers are real clients with
    receive_batch scripted to deliver the sequence numbers in `hub_events` from the requested start."""
    hub = transport(idle_seconds=2)
    management = hub.new_consumer()
    monkeypatch.setattr(management, "get_partition_ids", lambda: list(partitions))
    monkeypatch.setattr(management, "get_partition_properties", lambda pid: partitions[pid])
    hub._management_client = management

    def batches(kwargs):
        pid, start, size = kwargs["partition_id"], kwargs["starting_position"], kwargs["max_batch_size"]
        sequences = [s for s in hub_events[pid] if start == "-1" or s > start]
        return [[received(s, key=f"C{s}") for s in sequences[i:i + size]]
                for i in range(0, len(sequences), size)]

    return hub, script_consumers(monkeypatch, hub, batches)


def script_consumers(monkeypatch, hub, batches_for) -> list[dict]:
    """Make every consumer the hub opens a real client whose receive_batch delivers
    batches_for(receive_batch kwargs), then an empty batch every poll until the consumer is closed.
    Returns the kwargs of each receive_batch call, in order."""
    calls: list[dict] = []
    real_new_consumer = hub.new_consumer

    def new_consumer():
        consumer = real_new_consumer()
        stop = threading.Event()

        def receive_batch(on_event_batch, **kwargs):
            calls.append(kwargs)
            for batch in batches_for(kwargs):
                if stop.is_set():
                    return
                on_event_batch(None, batch)
            while not stop.wait(0.02):
                on_event_batch(None, [])

        monkeypatch.setattr(consumer, "receive_batch", receive_batch)
        monkeypatch.setattr(consumer, "close", stop.set)
        return consumer

    monkeypatch.setattr(hub, "new_consumer", new_consumer)
    return calls


def props(beginning: int, last: int, empty: bool = False) -> dict:
    return {"eventhub_name": "orders", "id": "0", "beginning_sequence_number": beginning,
            "last_enqueued_sequence_number": last, "last_enqueued_offset": str(last * 100),
            "last_enqueued_time_utc": datetime.now(timezone.utc), "is_empty": empty}


def test_read_passes_the_checkpoint_as_an_exclusive_sequence_number(monkeypatch):
    hub, calls = hub_with_partitions(monkeypatch, {"0": props(0, 99)}, {"0": list(range(100))})
    events = hub.read("0", 41, 10)
    assert [e.sequence_number for e in events] == list(range(42, 52))
    assert calls[-1]["starting_position"] == 41 and calls[-1]["starting_position_inclusive"] is False
    assert calls[-1]["partition_id"] == "0" and calls[-1]["max_wait_time"] > 0  # empty batches keep coming
    assert hub.read("0", -1, 5)[0].sequence_number == 0
    assert calls[-1]["starting_position"] == "-1"


def test_ingest_drains_every_partition_to_its_end_and_counts_expired_events(monkeypatch):
    """The real ingest loop over the Event Hubs transport: partition 0 lost events 10..49 to
    retention before they were landed; partition 1 was never written; partition 2 is fresh."""
    from ecomctl.ingest import ingest_partitions

    partitions = {"0": props(50, 79), "1": props(-1, -1, empty=True), "2": props(0, 24)}
    hub_events = {"0": list(range(50, 90)), "1": [], "2": list(range(30))}  # more arrive after the snapshot
    hub, calls = hub_with_partitions(monkeypatch, partitions, hub_events)
    landed: dict[str, list[int]] = {"0": list(range(10))}

    published: list[int] = []

    def publish(pid, events):
        landed.setdefault(pid, []).extend(e.sequence_number for e in events)
        published.append(len(events))

    def load():
        rows = sum(published)
        published.clear()
        return rows

    started = time.monotonic()
    summary = ingest_partitions(hub, lambda: {p: max(s) for p, s in landed.items() if s},
                                lambda pid, events: lambda: publish(pid, events), load, 8)
    assert time.monotonic() - started < 10
    assert landed["0"] == list(range(10)) + list(range(50, 80))
    assert landed["2"] == list(range(25)) and "1" not in landed
    by_pid = {p.partition_id: p for p in summary.partitions}
    assert by_pid["0"].expired == 40 and summary.expired == 40
    assert summary.received == 30 + 25
    assert calls[0]["starting_position"] == "-1"  # the checkpoint's successors expired: start at the earliest


def test_read_of_an_unreachable_namespace_stops_the_real_consumer_and_fails_in_one_line(monkeypatch):
    """The real EventHubConsumerClient.receive_batch never returns on its own; read() must."""
    hub = transport(idle_seconds=60)
    hub._states["0"] = PartitionState("0", 0, 10, None)  # as if partition_state had been read
    started = time.monotonic()
    with pytest.raises(TransportError) as caught:
        hub.read("0", -1, 100)
    assert time.monotonic() - started < 30
    assert "cannot resolve the namespace 'nonexistent-ns.servicebus.windows.net'" in str(caught.value)
    assert not [t for t in threading.enumerate() if t.name.startswith("eventhubs-receive-")]


def test_partition_properties_map_to_partition_state():
    assert partition_state_from_properties("3", props(-1, -1, empty=True)) == PartitionState("3", -1, -1, None)
    expired = partition_state_from_properties("0", props(0, 9, empty=True))
    assert (expired.beginning_sequence_number, expired.last_sequence_number, expired.is_empty) == (10, 9, True)
    live = partition_state_from_properties("1", props(5, 9))
    assert (live.beginning_sequence_number, live.last_sequence_number) == (5, 9)
    assert live.last_enqueued_time.tzinfo is not None


# -- error translation ---------------------------------------------------------------------------


def sdk_error(pyamqp_error):
    from azure.eventhub._transport._pyamqp_transport import PyamqpTransport

    return PyamqpTransport._create_eventhub_exception(pyamqp_error)


def translate(exc):
    return str(translate_error(exc, action="sending events", namespace="myns.servicebus.windows.net",
                               hub="orders", setting="EVENTHUB_CONNECTION_STRING", secrets=[CONN]))


def test_wrong_key_is_an_authentication_line():
    from azure.eventhub._pyamqp.error import TokenAuthFailure

    message = translate(sdk_error(TokenAuthFailure(401, b"InvalidSignature: The token has an invalid signature.")))
    assert "authentication failed" in message and "EVENTHUB_CONNECTION_STRING" in message


def test_missing_hub_names_the_hub():
    from azure.eventhub._transport._pyamqp_transport import PyamqpTransport

    error = sdk_error(PyamqpTransport.get_error(
        404, "The messaging entity 'sb://myns.servicebus.windows.net/orders' could not be found."))
    assert "the event hub 'orders' was not found in myns.servicebus.windows.net" in translate(error)


def test_unresolvable_namespace_says_so():
    from azure.eventhub.exceptions import ConnectError

    error = ConnectError("Failed to initiate the connection due to exception: [Errno -2] Name or service not known\n"
                         "Error condition: ErrorCondition.SocketError")
    assert "cannot resolve the namespace 'myns.servicebus.windows.net'" in translate(error)


def test_no_azure_login_is_one_line_naming_az_login():
    from azure.identity import DefaultAzureCredential

    with pytest.raises(Exception) as caught:
        DefaultAzureCredential(exclude_managed_identity_credential=True).get_token("https://eventhubs.azure.net/.default")
    message = translate(caught.value)
    assert "no Azure credential" in message and "az login" in message and "\n" not in message


def test_key_vault_errors():
    from azure.core.exceptions import HttpResponseError, ResourceNotFoundError, ServiceRequestError

    def kv(exc):
        return translate_keyvault_error(exc, url="https://v.vault.azure.net", secret_name="eh",
                                        url_setting="KEYVAULT_URL", name_setting="KEYVAULT_SECRET_NAME")

    missing = kv(ResourceNotFoundError("(SecretNotFound) A secret with (name/id) eh was not found in this key vault."))
    assert isinstance(missing, ConfigError) and missing.setting == "KEYVAULT_SECRET_NAME"
    dns = kv(ServiceRequestError("<urllib3.connection.HTTPSConnection>: Failed to resolve 'v.vault.azure.net'"))
    assert isinstance(dns, ConfigError) and dns.setting == "KEYVAULT_URL"
    forbidden = HttpResponseError("Forbidden")
    forbidden.status_code = 403
    assert "refused (403)" in str(kv(forbidden))


def test_messages_are_one_line_and_never_carry_keys():
    from azure.eventhub.exceptions import EventHubError

    leaky = EventHubError(f"something odd with {CONN}\nand SharedAccessSignature=sr=x&sig=abcd1234&se=1")
    message = translate(leaky)
    assert KEY not in message and "abcd1234" not in message and "\n" not in message
    assert redact(f"SharedAccessKey={KEY};x") == "SharedAccessKey=**********;x"


def test_the_pipeline_ingests_from_event_hubs_without_knowing_it(monkeypatch, tmp_path):
    """Pipeline.setup and ingest on a real DuckDB warehouse, with the Event Hubs transport in place of
    the embedded log (its network calls scripted): every event lands once, the second ingest starts
    after the checkpoint derived from raw_events and lands nothing."""
    from ecomctl.events.generator import generate_messages
    from ecomctl.pipeline import Pipeline

    bodies: dict[str, list[tuple[str, bytes]]] = {pid: [] for pid in "0123"}
    for key, body in generate_messages(200, seed=5, as_of=datetime(2026, 11, 1, tzinfo=timezone.utc)):
        bodies[partition_for_key(key, list(bodies))].append((key, body))

    hub = transport(idle_seconds=2)
    management = hub.new_consumer()
    monkeypatch.setattr(management, "get_eventhub_properties",
                        lambda: {"eventhub_name": "orders", "created_at": None, "partition_ids": list(bodies)})
    monkeypatch.setattr(management, "get_partition_ids", lambda: list(bodies))
    monkeypatch.setattr(management, "get_partition_properties",
                        lambda pid: props(0, len(bodies[pid]) - 1, empty=not bodies[pid]) if bodies[pid]
                        else props(-1, -1, empty=True))
    hub._management_client = management

    def batches(kwargs):
        pid, start = kwargs["partition_id"], kwargs["starting_position"]
        first = 0 if start == "-1" else start + 1
        return [[received(seq, body, key=key) for seq, (key, body) in enumerate(bodies[pid]) if seq >= first]]

    calls = script_consumers(monkeypatch, hub, batches)
    settings = Settings.load({"home": tmp_path / "home"}, environ={})
    with Pipeline(settings) as pipeline:
        pipeline.__dict__["transport"] = hub  # the only difference from the local target
        pipeline.setup()
        first = pipeline.ingest().details
        ends = {pid: len(events) - 1 for pid, events in bodies.items()}
        for key, body in generate_messages(30, seed=6, as_of=datetime(2026, 11, 2, tzinfo=timezone.utc)):
            bodies[partition_for_key(key, list(bodies))].append((key, body))
        calls.clear()
        second = pipeline.ingest().details
        third = pipeline.ingest().details
        starts = [(c["partition_id"], c["starting_position"]) for c in calls]  # of both
        landed_sources = pipeline.warehouse.query(
            "SELECT DISTINCT source FROM ${catalog}.${bronze}.raw_events").rows
    assert first["received"] == first["landed"] == 200 and first["expired"] == 0
    assert second["received"] == second["landed"] == 30
    # The second ingest started right after each partition's checkpoint in raw_events.
    assert sorted(starts) == sorted((pid, end) for pid, end in ends.items() if len(bodies[pid]) - 1 > end)
    assert third["received"] == 0
    assert landed_sources == [("nonexistent-ns.servicebus.windows.net/orders",)]


# -- peers that never answer -----------------------------------------------------------------------


@pytest.fixture
def silent_peer(tmp_path):
    """A local server that accepts connections and never says a word; with tls=True it first
    completes the TLS handshake (so the SDK then waits for AMQP, which pyamqp does without a bound)."""
    import ssl

    servers = []

    def start(tls: bool):
        context = None
        if tls:
            cert, key = self_signed_certificate(tmp_path)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(cert, key)
        held = []

        def hold(conn) -> None:
            try:
                held.append(context.wrap_socket(conn, server_side=True) if context else conn)
            except OSError:
                conn.close()

        server = local_server(hold, backlog=50)
        servers.append(server)
        return server.getsockname()[1], (tmp_path / "cert.pem") if tls else None

    yield start
    for server in servers:
        server.close()


def point_at(hub: EventHubsTransport, port: int, ca_file=None) -> None:
    """Send the SDK's connections to localhost:port instead of the namespace."""
    from ecomctl.events.eventhubs import tls_context

    options = hub.client_options

    def local_options():
        extra = {"custom_endpoint_address": f"sb://localhost:{port}"}
        if ca_file is not None:
            extra["ssl_context"] = tls_context(str(ca_file))
        return {**options(), **extra}

    hub.client_options = local_options


@pytest.mark.slow
def test_a_peer_that_never_answers_the_tls_handshake_fails_within_30s_with_default_settings(silent_peer):
    port, _ = silent_peer(tls=False)
    hub = EventHubsTransport(EventHubsConfig.from_settings(settings(EVENTHUB_CONNECTION_STRING=CONN)))
    point_at(hub, port)
    started = time.monotonic()
    with pytest.raises(TransportError) as caught:
        hub.partition_ids()
    assert time.monotonic() - started < 30
    assert "cannot reach nonexistent-ns.servicebus.windows.net" in str(caught.value)
    assert "handshake" in str(caught.value) and "\n" not in str(caught.value)


def test_a_peer_that_goes_silent_after_tls_is_abandoned_at_the_call_deadline(silent_peer):
    port, ca_file = silent_peer(tls=True)
    hub = transport(timeout_seconds=2)
    point_at(hub, port, ca_file)
    started = time.monotonic()
    with pytest.raises(TransportError, match=r"listing the partitions .* got no answer within 2 s"):
        hub.partition_ids()
    assert time.monotonic() - started < 5
    hub.close()  # returns although the abandoned connection is still stuck
    assert time.monotonic() - started < 10


def test_a_receiver_that_never_connects_is_an_error_not_an_empty_partition(silent_peer):
    port, ca_file = silent_peer(tls=True)
    hub = transport(idle_seconds=2)
    point_at(hub, port, ca_file)
    hub._states["0"] = PartitionState("0", 0, 10, None)
    started = time.monotonic()
    with pytest.raises(TransportError, match="no answer within 2 s"):
        hub.read("0", -1, 100)
    assert time.monotonic() - started < 15


def test_websockets_use_the_same_tls_context(tmp_path):
    """Over WebSockets the SDK hands our SSLContext to websocket-client: a local TLS server with its
    own CA is refused by the default roots and reached when that CA is trusted."""
    import ssl

    cert, key = self_signed_certificate(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    upgrades: list[bytes] = []

    def answer(conn) -> None:
        try:
            tls = context.wrap_socket(conn, server_side=True)
            upgrades.append(tls.recv(4096))
            tls.sendall(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n")
            tls.close()
        except OSError:
            conn.close()

    server = local_server(answer)
    try:
        untrusted = transport(transport_type="websockets")
        point_at(untrusted, server.getsockname()[1])
        with pytest.raises(TransportError, match="TLS certificate presented for .* is not trusted"):
            untrusted.check()
        trusted = transport(transport_type="websockets")
        point_at(trusted, server.getsockname()[1], cert)
        with pytest.raises(TransportError, match="authentication failed"):
            trusted.check()
    finally:
        server.close()
    assert upgrades and upgrades[0].startswith(b"GET /$servicebus/websocket HTTP/1.1")
