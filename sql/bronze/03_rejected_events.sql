-- bronze.rejected_events: one row per received event (after the transport dedupe) that broke a rule,
-- with its raw row and the first failing check as `reason`. Bad events are kept, never dropped.
-- Incremental: the rejects received since this table last took their partition's (above its
-- largest sequence number there) are inserted unless already there (by their transport key), so
-- running it again changes nothing.

CREATE TABLE IF NOT EXISTS ${catalog}.${bronze}.rejected_events (
  source          STRING,
  partition_id    STRING,
  sequence_number BIGINT,
  `offset`        STRING,
  enqueued_time   TIMESTAMP,
  partition_key   STRING,
  body            STRING,
  body_encoding   STRING,
  landing_file    STRING,
  landed_at       TIMESTAMP,
  reason          STRING
)
COMMENT 'Received events that failed validation, with the raw row and the reason';

MERGE INTO ${catalog}.${bronze}.rejected_events AS t
USING (
  SELECT r.source, r.partition_id, r.sequence_number, r.`offset`, r.enqueued_time, r.partition_key,
         r.body, r.body_encoding, r.landing_file, r.landed_at, r.reason
  FROM ${catalog}.${bronze}.received_events AS r
  LEFT JOIN (
    SELECT source, partition_id, MAX(sequence_number) AS merged_to
    FROM ${catalog}.${bronze}.rejected_events
    GROUP BY source, partition_id
  ) AS m
    ON r.source <=> m.source AND r.partition_id <=> m.partition_id
  WHERE r.reason IS NOT NULL AND r.sequence_number > coalesce(m.merged_to, -1)
) AS s
ON t.source <=> s.source AND t.partition_id <=> s.partition_id AND t.sequence_number <=> s.sequence_number
WHEN NOT MATCHED THEN INSERT (source, partition_id, sequence_number, `offset`, enqueued_time, partition_key,
                              body, body_encoding, landing_file, landed_at, reason)
VALUES (s.source, s.partition_id, s.sequence_number, s.`offset`, s.enqueued_time, s.partition_key,
        s.body, s.body_encoding, s.landing_file, s.landed_at, s.reason);
