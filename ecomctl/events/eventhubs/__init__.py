"""Azure Event Hubs, the databricks target's transport (azure-eventhub).

Sending fills `create_batch` batches per partition up to the hub's size limit (batching.py), each
event in the partition the hub itself picks for its key (partitioning.py); only the SDK's public API
is used.
Reading drains one partition from a checkpoint with `receive_batch`, which never returns by
itself: it runs in a thread that is stopped when the partition reaches the end it had when
ingest started, after an idle time, or on the first error (receiving.py). Every SDK,
azure-identity and Key Vault failure leaves as one TransportError / ConfigError line with no
secret in it (errors.py). Nothing here imports azure until it is used.
"""

from ecomctl.events.eventhubs.batching import BatchStats, fill_batches
from ecomctl.events.eventhubs.errors import quiet_azure_loggers, redact, translate_error, translate_keyvault_error
from ecomctl.events.eventhubs.partitioning import PartitionChooser, key_hash, partition_for_key
from ecomctl.events.eventhubs.receiving import (DrainResult, PartitionDrain, partition_state_from_properties,
                                                starting_position, to_received_event)
from ecomctl.events.eventhubs.settings import EventHubsConfig, Proxy
from ecomctl.events.eventhubs.transport import (EventHubsTransport, HandshakeTimeoutContext, default_credential,
                                                fetch_keyvault_secret, keyvault_client, tls_context)

__all__ = [
    "BatchStats", "DrainResult", "EventHubsConfig", "EventHubsTransport", "HandshakeTimeoutContext",
    "PartitionChooser", "PartitionDrain", "Proxy", "default_credential", "fetch_keyvault_secret", "fill_batches",
    "key_hash", "keyvault_client", "partition_for_key", "partition_state_from_properties", "quiet_azure_loggers",
    "redact", "starting_position", "tls_context", "to_received_event", "translate_error", "translate_keyvault_error",
]
