"""EventHubsConfig: the Event Hubs settings, checked and shaped for the transport."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ecomctl.config import Secret
from ecomctl.errors import ConfigError
from ecomctl.events.eventhubs.errors import redact

if TYPE_CHECKING:
    from ecomctl.config import Settings

TRANSPORT_TYPES = ("amqp", "websockets")


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
            hub_location(settings.eventhub_connection_string.reveal(),
                                     origin("eventhub_connection_string"))
        namespace = qualified_namespace(settings.eventhub_namespace)
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


def namespace_host(text: str) -> str:
    text = text.strip()
    for prefix in ("sb://", "amqps://", "https://"):
        if text.lower().startswith(prefix):
            text = text[len(prefix):]
    return text.strip("/").lower()


def qualified_namespace(text: str) -> str:
    """EVENTHUB_NAMESPACE as the SDK needs it: the host alone, lower case, and a bare name (what
    people type) completed with .servicebus.windows.net; '' when it is empty."""
    namespace = namespace_host(text)
    if namespace and "." not in namespace:
        namespace += ".servicebus.windows.net"
    return namespace


def hub_location(conn_str: str, setting: str) -> tuple[str, str | None]:
    """(fully qualified namespace, EntityPath or None); ConfigError without echoing the string."""
    from azure.eventhub import parse_connection_string

    try:
        props = parse_connection_string(conn_str)
    except (ValueError, TypeError, AttributeError) as exc:
        raise ConfigError(setting, f"is not a valid Event Hubs connection string ({redact(str(exc))})",
                          hint="expected Endpoint=sb://<namespace>.servicebus.windows.net/;"
                               "SharedAccessKeyName=<name>;SharedAccessKey=<key>[;EntityPath=<hub>]") from None
    return namespace_host(props.fully_qualified_namespace), props.eventhub_name or None
