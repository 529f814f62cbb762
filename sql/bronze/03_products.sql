-- bronze.products: one row per product_id among valid events (the product half of each event).
-- Catalog fields can change over time, so the latest event wins, with the same order as orders.

CREATE OR REPLACE TABLE ${catalog}.${bronze}.products
COMMENT 'One row per product seen in valid events (latest event wins)'
AS
SELECT
  CAST(product_id AS STRING)         AS product_id,
  CAST(product_name AS STRING)       AS product_name,
  CAST(brand AS STRING)              AS brand,
  CAST(category AS STRING)           AS category,
  CAST(base_price AS DECIMAL(12, 2)) AS base_price
FROM ${catalog}.${bronze}.received_events
WHERE reason IS NULL
QUALIFY ROW_NUMBER() OVER (
  PARTITION BY product_id
  ORDER BY event_time DESC, sequence_number DESC, partition_id DESC
) = 1;
