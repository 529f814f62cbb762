-- bronze.products: one row per product_id among valid events (the product half of each event).
-- Catalog fields can change over time, so the latest event wins, with the same rule as orders;
-- the winning event's time and place are kept to compare later events with, and merged in as
-- bronze/02_orders.sql does.

CREATE TABLE IF NOT EXISTS ${catalog}.${bronze}.products (
  product_id      STRING,
  product_name    STRING,
  brand           STRING,
  category        STRING,
  base_price      DECIMAL(12, 2),
  event_time      TIMESTAMP,
  source          STRING,
  partition_id    STRING,
  sequence_number BIGINT
)
COMMENT 'One row per product seen in valid events (latest event wins)';

MERGE INTO ${catalog}.${bronze}.products AS t
USING (
  SELECT
    CAST(product_id AS STRING)         AS product_id,
    CAST(product_name AS STRING)       AS product_name,
    CAST(brand AS STRING)              AS brand,
    CAST(category AS STRING)           AS category,
    CAST(base_price AS DECIMAL(12, 2)) AS base_price,
    CAST(event_time AS TIMESTAMP)      AS event_time,
    CAST(source AS STRING)             AS source,
    CAST(partition_id AS STRING)       AS partition_id,
    CAST(sequence_number AS BIGINT)    AS sequence_number
  FROM ${catalog}.${bronze}.received_events AS r
  LEFT JOIN (
    -- How far this table has merged each partition: an event received since is above it.
    SELECT source AS merged_source, partition_id AS merged_partition, MAX(sequence_number) AS merged_to
    FROM ${catalog}.${bronze}.products
    GROUP BY source, partition_id
  ) AS m
    ON r.source <=> m.merged_source AND r.partition_id <=> m.merged_partition
  WHERE r.reason IS NULL AND r.sequence_number > coalesce(m.merged_to, -1)
  QUALIFY ROW_NUMBER() OVER (
    PARTITION BY product_id
    ORDER BY event_time DESC, sequence_number DESC, partition_id DESC
  ) = 1
) AS s
ON t.product_id = s.product_id
WHEN MATCHED AND (
  s.event_time > t.event_time
  OR (s.event_time = t.event_time AND s.sequence_number > t.sequence_number)
  OR (s.event_time = t.event_time AND s.sequence_number = t.sequence_number
      AND s.partition_id > t.partition_id)
) THEN UPDATE SET
    product_id = s.product_id,
    product_name = s.product_name,
    brand = s.brand,
    category = s.category,
    base_price = s.base_price,
    event_time = s.event_time,
    source = s.source,
    partition_id = s.partition_id,
    sequence_number = s.sequence_number
WHEN NOT MATCHED THEN INSERT (product_id, product_name, brand, category, base_price, event_time, source, partition_id, sequence_number)
VALUES (s.product_id, s.product_name, s.brand, s.category, s.base_price, s.event_time, s.source, s.partition_id, s.sequence_number);
