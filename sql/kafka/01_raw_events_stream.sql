-- ingest --mode kafka (Databricks only; never run on the local target), step 1 of 2: a streaming table
-- reads the event hub through its Kafka endpoint, on the server. ecomctl then checks that the Kafka
-- offsets it read are the hub's sequence numbers (ecomctl/kafka_ingest.py) before
-- 02_merge_raw_events.sql lands the new events in raw_events; the same bronze SQL as in client mode
-- runs after that.
-- The last options of read_kafka sign Databricks in to the hub; ecomctl renders them from the
-- settings (ecomctl/targets.py, kafka_names): a Unity Catalog service credential
-- (ECOMCTL_KAFKA_SERVICE_CREDENTIAL) or the connection string kept in a Databricks secret
-- (ECOMCTL_KAFKA_SECRET_SCOPE / ECOMCTL_KAFKA_SECRET_KEY). The connection string never passes
-- through ecomctl; docs/databricks.md says what each form needs.
-- Bodies land as in client mode (ecomctl/ingest.py, landing_body_members): bytes that are UTF-8 as
-- their text, any other bytes base64-encoded with body_encoding = 'base64', which bronze rejects as
-- `invalid UTF-8`, keeping the bytes. Casting those bytes to STRING instead would hand bronze text
-- that is not UTF-8. The 1 MB rule needs nothing here: bronze measures octet_length(body), the
-- byte length of the text, in both modes. base64 follows RFC 2045 (MIME), whose line breaks are
-- removed so that the text is the one client mode lands.

CREATE OR REFRESH STREAMING TABLE ${catalog}.${bronze}.raw_events_kafka
COMMENT 'Order events read by Databricks from the Event Hubs Kafka endpoint (ingest --mode kafka)'
AS
SELECT
  CAST(partition AS STRING) AS partition_id,
  offset                    AS sequence_number,
  CAST(offset AS STRING)    AS `offset`,
  timestamp                 AS enqueued_time,
  CAST(key AS STRING)       AS partition_key,
  CASE WHEN is_valid_utf8(value) THEN CAST(value AS STRING)
       ELSE regexp_replace(base64(value), '[\r\n]', '') END AS body,
  CAST(CASE WHEN is_valid_utf8(value) THEN NULL ELSE 'base64' END AS STRING) AS body_encoding
FROM STREAM read_kafka(
  bootstrapServers => '${kafka_bootstrap}',
  subscribe => '${eventhub_name}',
  startingOffsets => 'earliest',
  ${kafka_auth}
);
