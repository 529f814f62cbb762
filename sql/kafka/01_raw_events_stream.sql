-- ingest --mode kafka (Databricks only; never run on the local target): a streaming table reads the
-- event hub through its Kafka endpoint on the server, then new events are merged into raw_events,
-- after which ingest runs the same bronze SQL as in client mode.
-- The last options of read_kafka sign Databricks in to the hub; ecomctl renders them from the
-- settings (ecomctl/targets.py, kafka_names): a Unity Catalog service credential
-- (ECOMCTL_KAFKA_SERVICE_CREDENTIAL) or the connection string kept in a Databricks secret
-- (ECOMCTL_KAFKA_SECRET_SCOPE / ECOMCTL_KAFKA_SECRET_KEY). The connection string never passes
-- through ecomctl; docs/databricks.md says what each form needs.
-- UNVERIFIED on a live namespace: Event Hubs gives the event's sequence number as the Kafka offset,
-- which the partition checkpoints of raw_events are built on.

CREATE OR REFRESH STREAMING TABLE ${catalog}.${bronze}.raw_events_kafka
COMMENT 'Order events read by Databricks from the Event Hubs Kafka endpoint (ingest --mode kafka)'
AS
SELECT
  CAST(partition AS STRING) AS partition_id,
  offset                    AS sequence_number,
  CAST(offset AS STRING)    AS `offset`,
  timestamp                 AS enqueued_time,
  CAST(key AS STRING)       AS partition_key,
  CAST(value AS STRING)     AS body
FROM STREAM read_kafka(
  bootstrapServers => '${kafka_bootstrap}',
  subscribe => '${eventhub_name}',
  startingOffsets => 'earliest',
  ${kafka_auth}
);

-- Events the stream holds that raw_events lacks; a redelivery (same partition and sequence number)
-- is not inserted twice, so running ingest again is safe.
MERGE INTO ${catalog}.${bronze}.raw_events AS r
USING (
  SELECT '${source}' AS source, k.partition_id, k.sequence_number, k.`offset`, k.enqueued_time,
         k.partition_key, k.body
  FROM ${catalog}.${bronze}.raw_events_kafka AS k
) AS s
ON r.source = s.source AND r.partition_id = s.partition_id AND r.sequence_number = s.sequence_number
WHEN NOT MATCHED THEN INSERT
  (source, partition_id, sequence_number, `offset`, enqueued_time, partition_key, body, landing_file, landed_at)
VALUES
  (s.source, s.partition_id, s.sequence_number, s.`offset`, s.enqueued_time, s.partition_key, s.body,
   'kafka:${eventhub_name}', current_timestamp());
