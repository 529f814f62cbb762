-- gold.customer_insights: one row per customer_id over all orders: name and city of the latest
-- order, volumes, lifetime value (revenue orders), favorite brand and value segment.

CREATE OR REPLACE TABLE ${catalog}.${gold}.customer_insights
COMMENT 'One row per customer: latest name and city, order counts, lifetime value, favorite brand, segment'
AS
WITH latest_order AS (
  -- Name and city can change between orders: take them from the latest order_ts (ties: greatest
  -- order_id). max_by over (order_ts, order_id) picks that row in one aggregation pass; a window
  -- ranking every order of every customer costs a sort of the whole table.
  SELECT
    customer_id,
    max_by(customer_name, struct(order_ts, order_id)) AS customer_name,
    max_by(city, struct(order_ts, order_id))          AS city
  FROM ${catalog}.${silver}.order_details
  GROUP BY customer_id
),

brand_revenue AS (
  -- Net revenue per customer and brand over revenue orders, to pick the favorite brand.
  SELECT customer_id, brand, SUM(total_amount) AS net_revenue
  FROM ${catalog}.${silver}.order_details
  WHERE is_revenue
  GROUP BY customer_id, brand
),

favorite_brand AS (
  -- Highest net revenue; ties go to the alphabetically first brand.
  SELECT customer_id, brand AS favorite_brand
  FROM brand_revenue
  QUALIFY ROW_NUMBER() OVER (PARTITION BY customer_id ORDER BY net_revenue DESC, brand ASC) = 1
),

totals AS (
  SELECT
    customer_id,
    COUNT(*)                                                     AS order_count,
    count_if(is_revenue)                                         AS revenue_orders,
    CAST(SUM(CASE WHEN is_revenue THEN total_amount ELSE 0 END) AS DECIMAL(18, 2)) AS lifetime_value,
    MIN(order_ts)                                                AS first_order_ts,
    MAX(order_ts)                                                AS last_order_ts
  FROM ${catalog}.${silver}.order_details
  GROUP BY customer_id
)

SELECT
  CAST(t.customer_id AS STRING)                 AS customer_id,
  CAST(l.customer_name AS STRING)               AS customer_name,
  CAST(l.city AS STRING)                        AS city,
  CAST(t.order_count AS BIGINT)                 AS order_count,
  CAST(t.revenue_orders AS BIGINT)              AS revenue_orders,
  CAST(t.lifetime_value AS DECIMAL(18, 2))      AS lifetime_value,
  -- NULLIF: a customer without revenue orders has no average (and no division by zero).
  CAST(ROUND(t.lifetime_value / NULLIF(t.revenue_orders, 0), 2) AS DECIMAL(18, 2)) AS avg_order_value,
  CAST(t.first_order_ts AS TIMESTAMP)           AS first_order_ts,
  CAST(t.last_order_ts AS TIMESTAMP)            AS last_order_ts,
  CAST(f.favorite_brand AS STRING)              AS favorite_brand,
  CAST(
    CASE
      WHEN t.lifetime_value >= 5000 THEN 'High'
      WHEN t.lifetime_value >= 1000 THEN 'Medium'
      ELSE 'Low'
    END AS STRING)                              AS segment
FROM totals AS t
JOIN latest_order AS l ON l.customer_id = t.customer_id
LEFT JOIN favorite_brand AS f ON f.customer_id = t.customer_id;
