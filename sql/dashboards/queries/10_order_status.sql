-- title: Order status and delivery rate
-- description: Orders per status (every status is listed, 0 when none), each status's share of all orders, and the overall delivery rate (delivered orders / all orders).
-- chart: bar
-- x: order_status
-- y: order_count
WITH status_counts AS (
  SELECT order_status, CAST(COUNT(*) AS BIGINT) AS order_count
  FROM ${catalog}.${silver}.order_details
  GROUP BY order_status
),
totals AS (
  SELECT
    SUM(order_count) AS all_orders,
    SUM(CASE WHEN order_status = 'delivered' THEN order_count ELSE 0 END) AS delivered_orders
  FROM status_counts
)
SELECT
  s.order_status,
  CAST(COALESCE(c.order_count, 0) AS BIGINT) AS order_count,
  CAST(COALESCE(ROUND(CAST(100 * c.order_count AS DECIMAL(18, 0)) / NULLIF(t.all_orders, 0), 2), 0)
       AS DECIMAL(5, 2)) AS share_pct,
  s.is_revenue,
  CAST(ROUND(CAST(t.delivered_orders AS DECIMAL(18, 0)) / NULLIF(t.all_orders, 0), 4) AS DECIMAL(5, 4)) AS delivery_rate
-- Every status is listed, in lifecycle order, even when no order has it.
FROM VALUES
  ('placed', 1, true),
  ('shipped', 2, true),
  ('delivered', 3, true),
  ('cancelled', 4, false),
  ('returned', 5, false) AS s(order_status, status_order, is_revenue)
LEFT JOIN status_counts AS c ON c.order_status = s.order_status
CROSS JOIN totals AS t
ORDER BY s.status_order
