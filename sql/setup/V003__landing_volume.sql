-- The Unity Catalog Volume that receives the landing files ingest writes and COPY INTO loads.
-- Locally the same path maps to the landing/ folder of the ecomctl home.

CREATE VOLUME IF NOT EXISTS ${catalog}.${bronze}.${volume}
COMMENT 'Landing files of order events (JSON lines, one object per raw_events row), loaded into raw_events by COPY INTO';
