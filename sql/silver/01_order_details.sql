-- silver.order_details: one row per order of bronze.orders, re-joined to its product and enriched
-- with calendar fields (UTC, from order_ts), amounts and flags that every gold table reuses.

CREATE OR REPLACE TABLE ${catalog}.${silver}.order_details
COMMENT 'One row per order: order, product (from bronze.products), calendar fields, amounts and flags'
AS
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
    END AS STRING)                           AS discount_band
FROM ${catalog}.${bronze}.orders AS o
-- Every valid order's own event also produced its product row, so no order is lost here; LEFT
-- keeps the one-row-per-order grain even if that ever stopped being true.
LEFT JOIN ${catalog}.${bronze}.products AS p
  ON p.product_id = o.product_id;
