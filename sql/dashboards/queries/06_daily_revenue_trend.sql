-- title: Daily revenue trend
-- description: Revenue orders, units sold and net revenue per order date (UTC), oldest first.
-- chart: line
-- x: order_date
-- y: net_revenue
SELECT
  order_date,
  CAST(COUNT(*) AS BIGINT) AS order_count,
  CAST(SUM(quantity) AS BIGINT) AS units_sold,
  CAST(SUM(total_amount) AS DECIMAL(18, 2)) AS net_revenue
FROM ${catalog}.${silver}.order_details
WHERE is_revenue
GROUP BY order_date
ORDER BY order_date
