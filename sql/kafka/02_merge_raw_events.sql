-- ingest --mode kafka, step 2 of 2: the events the streaming table holds that raw_events lacks, once
-- ecomctl has checked that their Kafka offsets are the hub's sequence numbers. A redelivery (same
-- partition and sequence number) is not inserted twice, so running ingest again is safe.

MERGE INTO ${catalog}.${bronze}.raw_events AS r
USING (
  SELECT '${source}' AS source, k.partition_id, k.sequence_number, k.`offset`, k.enqueued_time,
         k.partition_key, k.body, k.body_encoding
  FROM ${catalog}.${bronze}.raw_events_kafka AS k
) AS s
ON r.source = s.source AND r.partition_id = s.partition_id AND r.sequence_number = s.sequence_number
WHEN NOT MATCHED THEN INSERT
  (source, partition_id, sequence_number, `offset`, enqueued_time, partition_key, body, landing_file,
   landed_at, body_encoding)
VALUES
  (s.source, s.partition_id, s.sequence_number, s.`offset`, s.enqueued_time, s.partition_key, s.body,
   'kafka:${eventhub_name}', current_timestamp(), s.body_encoding);
