-- bronze.orders: one row per order_id among valid events, the order and customer fields as sent.
-- A producer may resend an order: the latest event wins (event_time, then sequence_number, then
-- partition_id, all descending), so a re-run or a resend never counts an order twice.
-- The winning event's source, partition_id and sequence_number are kept: the reconciliation
-- counts each partition's orders from this table instead of restating the rule.

CREATE OR REPLACE TABLE ${catalog}.${bronze}.orders
COMMENT 'One row per valid order (latest event wins)'
AS
SELECT
  CAST(order_id AS STRING)             AS order_id,
  CAST(customer_id AS STRING)          AS customer_id,
  CAST(customer_name AS STRING)        AS customer_name,
  CAST(customer_email AS STRING)       AS customer_email,
  CAST(city AS STRING)                 AS city,
  CAST(state AS STRING)                AS state,
  CAST(country AS STRING)              AS country,
  CAST(order_ts AS TIMESTAMP)          AS order_ts,
  CAST(product_id AS STRING)           AS product_id,
  CAST(quantity AS INT)                AS quantity,
  CAST(unit_price AS DECIMAL(12, 2))   AS unit_price,
  CAST(discount_pct AS DECIMAL(5, 2))  AS discount_pct,
  CAST(total_amount AS DECIMAL(12, 2)) AS total_amount,
  CAST(payment_method AS STRING)       AS payment_method,
  CAST(order_status AS STRING)         AS order_status,
  CAST(event_id AS STRING)             AS event_id,
  CAST(event_time AS TIMESTAMP)        AS event_time,
  CAST(source AS STRING)               AS source,
  CAST(partition_id AS STRING)         AS partition_id,
  CAST(sequence_number AS BIGINT)      AS sequence_number
FROM ${catalog}.${bronze}.received_events
WHERE reason IS NULL
QUALIFY ROW_NUMBER() OVER (
  PARTITION BY order_id
  ORDER BY event_time DESC, sequence_number DESC, partition_id DESC
) = 1;
