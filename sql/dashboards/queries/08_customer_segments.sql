-- title: Customer segments
-- description: Customers and lifetime value per segment (High: lifetime value of 5000 or more, Medium: 1000 or more, Low: the rest), with each segment's share of customers.
-- chart: bar
-- x: segment
-- y: total_lifetime_value
SELECT
  segment,
  customer_count,
  CAST(ROUND(CAST(100 * customer_count AS DECIMAL(18, 0)) / NULLIF(SUM(customer_count) OVER (), 0), 2)
       AS DECIMAL(5, 2)) AS customer_share_pct,
  total_lifetime_value,
  avg_lifetime_value
FROM ${catalog}.${gold}.mv_customer_segments
ORDER BY
  CASE segment WHEN 'High' THEN 0 WHEN 'Medium' THEN 1 WHEN 'Low' THEN 2 ELSE 3 END,
  segment
