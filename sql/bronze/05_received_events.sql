-- bronze.received_events: every received event (after the transport dedupe) with its validation,
-- appended from the batch last: what it holds is what bronze has processed (01_received_batch.sql
-- reads its largest sequence number per source and partition). The append skips what is already
-- there by that same rule, so running it again changes nothing.

INSERT INTO ${catalog}.${bronze}.received_events
SELECT b.*
FROM ${catalog}.${bronze}.received_batch AS b
LEFT JOIN (
  SELECT source, partition_id, MAX(sequence_number) AS processed_to
  FROM ${catalog}.${bronze}.received_events
  GROUP BY source, partition_id
) AS p
  ON b.source <=> p.source AND b.partition_id <=> p.partition_id
WHERE b.sequence_number > coalesce(p.processed_to, -1);
