-- The three medallion schemas of the pipeline, in the configured catalog.
-- Versioned migration: applied once; every table inside is created by later files.

CREATE SCHEMA IF NOT EXISTS ${catalog}.${bronze}
COMMENT 'Bronze: order events as received (raw_events, append-only) and normalized (orders, products, rejected_events)';

CREATE SCHEMA IF NOT EXISTS ${catalog}.${silver}
COMMENT 'Silver: order_details, one row per order enriched with its product and calendar fields';

CREATE SCHEMA IF NOT EXISTS ${catalog}.${gold}
COMMENT 'Gold: sales, location, product and customer aggregates, and the eight dashboard materialized views';
