-- bronze.rejected_events: one row per received event (after the transport dedupe) that broke a rule,
-- with its raw row and the first failing check as `reason`. Bad events are kept, never dropped.

CREATE OR REPLACE TABLE ${catalog}.${bronze}.rejected_events
COMMENT 'Received events that failed validation, with the raw row and the reason'
AS
SELECT
  CAST(source AS STRING)           AS source,
  CAST(partition_id AS STRING)     AS partition_id,
  CAST(sequence_number AS BIGINT)  AS sequence_number,
  CAST(`offset` AS STRING)         AS `offset`,
  CAST(enqueued_time AS TIMESTAMP) AS enqueued_time,
  CAST(partition_key AS STRING)    AS partition_key,
  CAST(body AS STRING)             AS body,
  CAST(body_encoding AS STRING)    AS body_encoding,
  CAST(landing_file AS STRING)     AS landing_file,
  CAST(landed_at AS TIMESTAMP)     AS landed_at,
  CAST(reason AS STRING)           AS reason
FROM ${catalog}.${bronze}.received_events
WHERE reason IS NOT NULL;
