-- bronze.orders: one row per order_id among valid events, the order and customer fields as sent.
-- A producer may resend an order: the latest event wins (event_time, then sequence_number, then
-- partition_id, all descending), so a re-run or a resend never counts an order twice. The winning
-- event's source, partition_id and sequence_number are kept: later events are compared with
-- them, and the reconciliation counts each partition's orders from this table.
-- Incremental: the valid events received since this table last merged their partition (above its
-- largest sequence number there: events are processed in sequence order per partition) are
-- reduced to one per order by the rule, then merged in; a stored row is replaced only by a later
-- event by the same rule, so merging the same events again changes nothing.
--
-- bronze.products: one row per product_id among valid events (the product half of each event).
-- Catalog fields can change over time, so the latest event wins, with the same rule as orders;
-- the winning event's time and place are kept to compare later events with.
-- Incremental: merged in just before orders, from the same events: those above what orders has
-- merged per partition, put in bronze.merge_batch first (a table of this run's events lets the
-- engine see how few they are: merging from the query itself had it scan every stored row). A product's winning events sit in a few partitions, so its own largest
-- sequence numbers would leave the other partitions unbounded (every event there read again on
-- every run); orders' cover every partition with orders, and whatever orders has merged was
-- merged here first.

CREATE TABLE IF NOT EXISTS ${catalog}.${bronze}.orders (
  order_id        STRING,
  customer_id     STRING,
  customer_name   STRING,
  customer_email  STRING,
  city            STRING,
  state           STRING,
  country         STRING,
  order_ts        TIMESTAMP,
  product_id      STRING,
  quantity        INT,
  unit_price      DECIMAL(12, 2),
  discount_pct    DECIMAL(5, 2),
  total_amount    DECIMAL(12, 2),
  payment_method  STRING,
  order_status    STRING,
  event_id        STRING,
  event_time      TIMESTAMP,
  source          STRING,
  partition_id    STRING,
  sequence_number BIGINT
)
COMMENT 'One row per valid order (latest event wins)';

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

CREATE OR REPLACE TABLE ${catalog}.${bronze}.merge_batch
COMMENT 'The valid events the current ingest merges into products and orders (replaced by every ingest)'
AS
WITH merged AS (
  -- How far orders has merged each partition: an event received since is above it.
  SELECT source, partition_id, MAX(sequence_number) AS merged_to
  FROM ${catalog}.${bronze}.orders
  GROUP BY source, partition_id
),

pending AS (
  -- Those events, read by their key columns only.
  SELECT r.landed_at
  FROM ${catalog}.${bronze}.received_events AS r
  LEFT JOIN merged AS m
    ON r.source <=> m.source AND r.partition_id <=> m.partition_id
  WHERE r.reason IS NULL AND r.sequence_number > coalesce(m.merged_to, -1)
)

-- The same events with every column. The earliest landed_at among them is a plain bound that lets
-- the engine skip the old rows before reading their columns (as in 01_received_events.sql); the
-- rows without landed_at are the second part.
SELECT
  r.order_id, r.customer_id, r.customer_name, r.customer_email, r.city, r.state, r.country,
  r.order_ts, r.product_id, r.product_name, r.brand, r.category, r.base_price, r.quantity,
  r.unit_price, r.discount_pct, r.total_amount, r.payment_method, r.order_status, r.event_id,
  r.event_time, r.source, r.partition_id, r.sequence_number
FROM ${catalog}.${bronze}.received_events AS r
LEFT JOIN merged AS m
  ON r.source <=> m.source AND r.partition_id <=> m.partition_id
WHERE r.reason IS NULL AND r.sequence_number > coalesce(m.merged_to, -1)
  AND r.landed_at >= (SELECT MIN(landed_at) FROM pending)
UNION ALL
SELECT
  r.order_id, r.customer_id, r.customer_name, r.customer_email, r.city, r.state, r.country,
  r.order_ts, r.product_id, r.product_name, r.brand, r.category, r.base_price, r.quantity,
  r.unit_price, r.discount_pct, r.total_amount, r.payment_method, r.order_status, r.event_id,
  r.event_time, r.source, r.partition_id, r.sequence_number
FROM ${catalog}.${bronze}.received_events AS r
LEFT JOIN merged AS m
  ON r.source <=> m.source AND r.partition_id <=> m.partition_id
WHERE r.reason IS NULL AND r.sequence_number > coalesce(m.merged_to, -1)
  AND r.landed_at IS NULL;

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
  FROM ${catalog}.${bronze}.merge_batch
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

MERGE INTO ${catalog}.${bronze}.orders AS t
USING (
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
  FROM ${catalog}.${bronze}.merge_batch
  QUALIFY ROW_NUMBER() OVER (
    PARTITION BY order_id
    ORDER BY event_time DESC, sequence_number DESC, partition_id DESC
  ) = 1
) AS s
ON t.order_id = s.order_id
WHEN MATCHED AND (
  s.event_time > t.event_time
  OR (s.event_time = t.event_time AND s.sequence_number > t.sequence_number)
  OR (s.event_time = t.event_time AND s.sequence_number = t.sequence_number
      AND s.partition_id > t.partition_id)
) THEN UPDATE SET
    order_id = s.order_id,
    customer_id = s.customer_id,
    customer_name = s.customer_name,
    customer_email = s.customer_email,
    city = s.city,
    state = s.state,
    country = s.country,
    order_ts = s.order_ts,
    product_id = s.product_id,
    quantity = s.quantity,
    unit_price = s.unit_price,
    discount_pct = s.discount_pct,
    total_amount = s.total_amount,
    payment_method = s.payment_method,
    order_status = s.order_status,
    event_id = s.event_id,
    event_time = s.event_time,
    source = s.source,
    partition_id = s.partition_id,
    sequence_number = s.sequence_number
WHEN NOT MATCHED THEN INSERT (order_id, customer_id, customer_name, customer_email, city, state, country, order_ts, product_id, quantity, unit_price, discount_pct, total_amount, payment_method, order_status, event_id, event_time, source, partition_id, sequence_number)
VALUES (s.order_id, s.customer_id, s.customer_name, s.customer_email, s.city, s.state, s.country, s.order_ts, s.product_id, s.quantity, s.unit_price, s.discount_pct, s.total_amount, s.payment_method, s.order_status, s.event_id, s.event_time, s.source, s.partition_id, s.sequence_number);
