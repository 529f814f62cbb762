-- Loads new landing files into bronze.raw_events (one row per event received).
-- COPY INTO skips files it has already loaded, so ingest can re-run this after a crash without
-- loading anything twice; the schema is fixed by setup (no inference, no evolution).

COPY INTO ${catalog}.${bronze}.raw_events
FROM '/Volumes/${catalog}/${bronze}/${volume}/'
FILEFORMAT = JSON
FORMAT_OPTIONS ('inferSchema' = 'false')
COPY_OPTIONS ('mergeSchema' = 'false');
