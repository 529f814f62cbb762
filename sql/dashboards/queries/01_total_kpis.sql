-- title: Total KPIs
-- description: Headline figures over every order: orders, revenue orders, net revenue, average order value, customers, units sold, delivery rate, cancelled and returned orders. Revenue orders are placed, shipped or delivered.
-- chart: counter
-- y: net_revenue
SELECT
  CAST(COUNT(*) AS BIGINT) AS total_orders,
  CAST(COALESCE(SUM(CASE WHEN is_revenue THEN 1 ELSE 0 END), 0) AS BIGINT) AS revenue_orders,
  CAST(COALESCE(SUM(CASE WHEN is_revenue THEN total_amount END), 0) AS DECIMAL(18, 2)) AS net_revenue,
  CAST(ROUND(
    SUM(CASE WHEN is_revenue THEN total_amount END)
      / NULLIF(SUM(CASE WHEN is_revenue THEN 1 ELSE 0 END), 0),
    2) AS DECIMAL(18, 2)) AS avg_order_value,
  CAST(COUNT(DISTINCT customer_id) AS BIGINT) AS unique_customers,
  CAST(COALESCE(SUM(CASE WHEN is_revenue THEN quantity END), 0) AS BIGINT) AS units_sold,
  CAST(ROUND(
    CAST(SUM(CASE WHEN is_delivered THEN 1 ELSE 0 END) AS DECIMAL(18, 0)) / NULLIF(COUNT(*), 0),
    4) AS DECIMAL(5, 4)) AS delivery_rate,
  CAST(COALESCE(SUM(CASE WHEN order_status = 'cancelled' THEN 1 ELSE 0 END), 0) AS BIGINT) AS cancelled_orders,
  CAST(COALESCE(SUM(CASE WHEN order_status = 'returned' THEN 1 ELSE 0 END), 0) AS BIGINT) AS returned_orders
FROM ${catalog}.${silver}.order_details
-- Always one row (an aggregate without GROUP BY); ORDER BY only for the every-query-is-ordered rule.
ORDER BY total_orders
