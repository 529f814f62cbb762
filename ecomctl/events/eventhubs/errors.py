"""Event Hubs, azure-identity and Key Vault failures as one ecomctl error line with no secret in it."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

from ecomctl.errors import ConfigError, EcomctlError, TransportError, first_line

_SECRET_PATTERNS = (
    re.compile(r"(SharedAccessKey=)[^;\s'\"]+", re.IGNORECASE),
    re.compile(r"(SharedAccessSignature=)[^;\s'\"]+", re.IGNORECASE),
    re.compile(r"(\bsig=)[^&\s'\"]+", re.IGNORECASE),
)



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


_DNS_MARKERS = ("name or service not known", "nodename nor servname", "getaddrinfo failed",
                "temporary failure in name resolution", "no address associated", "failed to resolve",
                "name resolution")


def translate_error(exc: BaseException, *, action: str, namespace: str, hub: str,
                    setting: str, secrets: Iterable[str] = ()) -> EcomctlError:
    """One clear line for an Event Hubs / azure-identity / Key Vault failure while doing `action`."""
    if isinstance(exc, EcomctlError):
        return exc
    from azure.core.exceptions import ClientAuthenticationError
    from azure.eventhub.exceptions import AuthenticationError

    secrets = list(secrets)
    text = redact(str(exc), secrets)
    lowered = text.lower()
    detail = first_line(text)
    where = f"{namespace}/{hub}"
    if isinstance(exc, ClientAuthenticationError):
        return TransportError(
            f"{action} failed: no Azure credential for Entra ID: {_credential_summary(text)}",
            hint="run `az login`, or set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET, "
                 "or use EVENTHUB_CONNECTION_STRING instead")
    if "via proxy" in lowered or "proxy" in lowered and "connect" in lowered:
        return TransportError(f"{action} failed: the proxy did not open a tunnel to {namespace} ({detail})",
                              hint="check EVENTHUB_PROXY_HOST, EVENTHUB_PROXY_PORT, EVENTHUB_PROXY_USER "
                                   "and EVENTHUB_PROXY_PASSWORD")
    if "certificate verify failed" in lowered:
        return TransportError(f"{action} failed: the TLS certificate presented for {namespace} is not trusted "
                              f"({detail})",
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
        return TransportError(f"{action} on {where} was refused: authentication failed ({detail})",
                              hint=f"check the key in {setting}, or the identity's 'Azure Event Hubs "
                                   "Data Sender/Receiver' role")
    if isinstance(exc, (ConnectionError, TimeoutError, OSError)) or "timed out" in lowered \
            or "timeout" in lowered:
        return TransportError(f"{action} failed: cannot reach {namespace} ({detail})",
                              hint="check the network, the firewall (AMQP uses port 5671; "
                                   "EVENTHUB_TRANSPORT=websockets uses 443) and the proxy settings")
    return TransportError(f"{action} on {where} failed: {type(exc).__name__}: {detail}")


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
        return ConfigError(url_setting, f"cannot reach the Key Vault {url}: {first_line(text)}")
    if isinstance(exc, HttpResponseError):
        status = getattr(exc, "status_code", None)
        if status == 403:
            return TransportError(f"reading the Key Vault secret {secret_name!r} from {url} was refused (403)",
                                  hint="give the identity the 'Key Vault Secrets User' role or a get-secret policy")
        return TransportError(f"reading the Key Vault secret {secret_name!r} from {url} failed: "
                              f"{first_line(text)}")
    return TransportError(f"reading the Key Vault secret {secret_name!r} from {url} failed: "
                          f"{type(exc).__name__}: {first_line(text)}")


def _credential_summary(text: str) -> str:
    """DefaultAzureCredential lists every credential it tried over many lines; keep the useful ones."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for wanted in ("AzureCliCredential", "EnvironmentCredential"):
        for line in lines:
            if line.startswith(wanted + ":"):
                return line
    return lines[0] if lines else "DefaultAzureCredential found no credential"
