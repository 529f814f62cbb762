-- Loads new landing files into bronze.raw_events (one row per event received).
-- COPY INTO skips files it has already loaded, so ingest can re-run this after a crash without
-- loading anything twice; the schema is fixed by setup (no evolution).
-- The explicit form: JSON gives each field a type of its own (text or a number), and the SELECT
-- casts every column to its raw_events type, in the table's order, so the ISO-8601 times of a
-- landing file become TIMESTAMP here (in UTC, the session time zone). Every landing line carries
-- every field, a NULL one as null, so each field exists in any batch of files (JSON reads a field
-- that is null on every line as STRING, since dropFieldIfAllNull is false). FAILFAST makes a
-- malformed line fail the load instead of landing as a row of NULLs.

COPY INTO ${catalog}.${bronze}.raw_events
FROM (
  SELECT
    CAST(source AS STRING) AS source,
    CAST(partition_id AS STRING) AS partition_id,
    CAST(sequence_number AS BIGINT) AS sequence_number,
    CAST(`offset` AS STRING) AS `offset`,
    CAST(enqueued_time AS TIMESTAMP) AS enqueued_time,
    CAST(partition_key AS STRING) AS partition_key,
    CAST(body AS STRING) AS body,
    CAST(landing_file AS STRING) AS landing_file,
    CAST(landed_at AS TIMESTAMP) AS landed_at,
    CAST(body_encoding AS STRING) AS body_encoding
  FROM '/Volumes/${catalog}/${bronze}/${volume}/'
)
FILEFORMAT = JSON
FORMAT_OPTIONS ('mode' = 'FAILFAST', 'dropFieldIfAllNull' = 'false')
COPY_OPTIONS ('mergeSchema' = 'false');
