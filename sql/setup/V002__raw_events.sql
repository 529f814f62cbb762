-- bronze.raw_events: one row per event received from the transport, exactly as delivered.
-- Append-only (loaded by COPY INTO from the landing files); redeliveries are removed downstream,
-- never here, so the table is the audit trail and the source of every partition's checkpoint.

CREATE TABLE IF NOT EXISTS ${catalog}.${bronze}.raw_events (
  source          STRING    COMMENT 'Transport source, namespace/hub (e.g. local/orders)',
  partition_id    STRING    COMMENT 'Partition the event was read from',
  sequence_number BIGINT    COMMENT 'Sequence number within the partition; the checkpoint is its maximum',
  `offset`        STRING    COMMENT 'Transport offset of the event',
  enqueued_time   TIMESTAMP COMMENT 'When the transport accepted the event (UTC)',
  partition_key   STRING    COMMENT 'Partition key the producer used (customer_id)',
  body            STRING    COMMENT 'The raw event body, unparsed',
  landing_file    STRING    COMMENT 'Name of the landing file that carried the event',
  landed_at       TIMESTAMP COMMENT 'When the landing file was written (UTC)'
)
USING DELTA
COMMENT 'Order events as received from the event transport; append-only';
