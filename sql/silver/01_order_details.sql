-- silver.order_details: one row per order of bronze.orders, re-joined to its product and enriched
-- with calendar fields (UTC, from order_ts), amounts and flags that every gold table reuses.
-- Incremental: only the orders that changed since the last transform are rebuilt and merged in:
-- those whose winning event in bronze.orders is beyond what this table holds for its partition
-- (bronze processes each partition in sequence order, so anything new is above it), and those
-- whose product row changed since the last transform (order_details_products keeps the product
-- rows it was built with). They are put in order_details_changes first (a table lets the engine
-- see how few they are), then merged in; merging the same rows again changes nothing.

CREATE TABLE IF NOT EXISTS ${catalog}.${silver}.order_details (
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
  product_name    STRING,
  brand           STRING,
  category        STRING,
  base_price      DECIMAL(12, 2),
  order_date      DATE,
  order_hour      INT,
  day_of_week     INT,
  order_month     STRING,
  gross_amount    DECIMAL(12, 2),
  discount_amount DECIMAL(12, 2),
  is_revenue      BOOLEAN,
  is_delivered    BOOLEAN,
  discount_band   STRING,
  source          STRING,
  partition_id    STRING,
  sequence_number BIGINT
)
COMMENT 'One row per order: order, product (from bronze.products), calendar fields, amounts and flags';

CREATE TABLE IF NOT EXISTS ${catalog}.${silver}.order_details_products (
  product_id   STRING,
  product_name STRING,
  brand        STRING,
  category     STRING,
  base_price   DECIMAL(12, 2)
)
COMMENT 'The bronze.products rows order_details was last built with';

CREATE OR REPLACE TABLE ${catalog}.${silver}.order_details_changes
COMMENT 'The orders the current transform merges into order_details (replaced by every transform)'
AS
WITH built AS (
  SELECT source, partition_id, MAX(sequence_number) AS built_to
  FROM ${catalog}.${silver}.order_details
  GROUP BY source, partition_id
),
changed_products AS (
  SELECT p.product_id
  FROM ${catalog}.${bronze}.products AS p
  LEFT JOIN ${catalog}.${silver}.order_details_products AS a
    ON a.product_id = p.product_id
  WHERE a.product_id IS NULL
     OR NOT (p.product_name <=> a.product_name AND p.brand <=> a.brand
             AND p.category <=> a.category AND p.base_price <=> a.base_price)
),
built_floor AS (
  -- The lowest of those over every partition of bronze.orders (-1 for one not built yet): a plain
  -- bound that lets the engine skip most old orders before the join.
  SELECT coalesce(MIN(coalesce(b.built_to, -1)), -1) AS floor_to
  FROM (SELECT DISTINCT source, partition_id FROM ${catalog}.${bronze}.orders) AS k
  LEFT JOIN built AS b
    ON k.source <=> b.source AND k.partition_id <=> b.partition_id
),
changed AS (
  SELECT o.*
  FROM ${catalog}.${bronze}.orders AS o
  LEFT JOIN built AS b
    ON o.source <=> b.source AND o.partition_id <=> b.partition_id
  WHERE o.sequence_number > coalesce(b.built_to, -1)
    AND o.sequence_number > (SELECT floor_to FROM built_floor)
  UNION ALL
  -- the orders of a product whose catalog row changed, not already above
  SELECT o.*
  FROM ${catalog}.${bronze}.orders AS o
  LEFT JOIN built AS b
    ON o.source <=> b.source AND o.partition_id <=> b.partition_id
  WHERE o.product_id IN (SELECT product_id FROM changed_products)
    AND o.sequence_number <= coalesce(b.built_to, -1)
)
SELECT
  CAST(o.order_id AS STRING)                 AS order_id,
  CAST(o.customer_id AS STRING)              AS customer_id,
  CAST(o.customer_name AS STRING)            AS customer_name,
  CAST(o.customer_email AS STRING)           AS customer_email,
  CAST(o.city AS STRING)                     AS city,
  CAST(o.state AS STRING)                    AS state,
  CAST(o.country AS STRING)                  AS country,
  CAST(o.order_ts AS TIMESTAMP)              AS order_ts,
  CAST(o.product_id AS STRING)               AS product_id,
  CAST(o.quantity AS INT)                    AS quantity,
  CAST(o.unit_price AS DECIMAL(12, 2))       AS unit_price,
  CAST(o.discount_pct AS DECIMAL(5, 2))      AS discount_pct,
  CAST(o.total_amount AS DECIMAL(12, 2))     AS total_amount,
  CAST(o.payment_method AS STRING)           AS payment_method,
  CAST(o.order_status AS STRING)             AS order_status,
  CAST(o.event_id AS STRING)                 AS event_id,
  CAST(o.event_time AS TIMESTAMP)            AS event_time,
  -- Product fields come from bronze.products (the latest catalog data), not from the order's event.
  CAST(p.product_name AS STRING)             AS product_name,
  CAST(p.brand AS STRING)                    AS brand,
  CAST(p.category AS STRING)                 AS category,
  CAST(p.base_price AS DECIMAL(12, 2))       AS base_price,
  CAST(to_date(o.order_ts) AS DATE)          AS order_date,
  CAST(hour(o.order_ts) AS INT)              AS order_hour,
  -- dayofweek: 1 = Sunday ... 7 = Saturday.
  CAST(dayofweek(o.order_ts) AS INT)         AS day_of_week,
  CAST(date_format(o.order_ts, 'yyyy-MM') AS STRING) AS order_month,
  CAST(o.quantity * o.unit_price AS DECIMAL(12, 2))                  AS gross_amount,
  CAST(o.quantity * o.unit_price - o.total_amount AS DECIMAL(12, 2)) AS discount_amount,
  -- Cancelled and returned orders are not revenue.
  CAST(o.order_status IN ('placed', 'shipped', 'delivered') AS BOOLEAN) AS is_revenue,
  CAST(o.order_status = 'delivered' AS BOOLEAN)                      AS is_delivered,
  CAST(
    CASE
      WHEN o.discount_pct = 0 THEN 'none'
      WHEN o.discount_pct <= 10 THEN '1-10%'
      WHEN o.discount_pct <= 20 THEN '11-20%'
      ELSE '21%+'
    END AS STRING)                           AS discount_band,
  -- The order's winning event in bronze.orders: how far this table has followed each partition.
  CAST(o.source AS STRING)                   AS source,
  CAST(o.partition_id AS STRING)             AS partition_id,
  CAST(o.sequence_number AS BIGINT)          AS sequence_number
FROM changed AS o
-- Every valid order's own event also produced its product row, so no order is lost here; LEFT
-- keeps the one-row-per-order grain even if that ever stopped being true.
LEFT JOIN ${catalog}.${bronze}.products AS p
  ON p.product_id = o.product_id;

MERGE INTO ${catalog}.${silver}.order_details AS t
USING ${catalog}.${silver}.order_details_changes AS s
ON t.order_id = s.order_id
WHEN MATCHED THEN UPDATE SET
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
    product_name = s.product_name,
    brand = s.brand,
    category = s.category,
    base_price = s.base_price,
    order_date = s.order_date,
    order_hour = s.order_hour,
    day_of_week = s.day_of_week,
    order_month = s.order_month,
    gross_amount = s.gross_amount,
    discount_amount = s.discount_amount,
    is_revenue = s.is_revenue,
    is_delivered = s.is_delivered,
    discount_band = s.discount_band,
    source = s.source,
    partition_id = s.partition_id,
    sequence_number = s.sequence_number
WHEN NOT MATCHED THEN INSERT (
  order_id, customer_id, customer_name, customer_email, city, state,
  country, order_ts, product_id, quantity, unit_price, discount_pct,
  total_amount, payment_method, order_status, event_id, event_time, product_name,
  brand, category, base_price, order_date, order_hour, day_of_week,
  order_month, gross_amount, discount_amount, is_revenue, is_delivered, discount_band,
  source, partition_id, sequence_number
)
VALUES (
  s.order_id, s.customer_id, s.customer_name, s.customer_email, s.city, s.state,
  s.country, s.order_ts, s.product_id, s.quantity, s.unit_price, s.discount_pct,
  s.total_amount, s.payment_method, s.order_status, s.event_id, s.event_time, s.product_name,
  s.brand, s.category, s.base_price, s.order_date, s.order_hour, s.day_of_week,
  s.order_month, s.gross_amount, s.discount_amount, s.is_revenue, s.is_delivered, s.discount_band,
  s.source, s.partition_id, s.sequence_number
);

CREATE OR REPLACE TABLE ${catalog}.${silver}.order_details_products
COMMENT 'The bronze.products rows order_details was last built with'
AS
SELECT product_id, product_name, brand, category, base_price
FROM ${catalog}.${bronze}.products;
