-- title: Revenue by brand
-- description: Net revenue, orders, customers and average order value per brand, over revenue orders (placed, shipped, delivered), ranked by net revenue.
-- chart: bar
-- x: brand
-- y: net_revenue
SELECT
  revenue_rank,
  brand,
  net_revenue,
  order_count,
  unique_customers,
  CAST(ROUND(net_revenue / NULLIF(order_count, 0), 2) AS DECIMAL(18, 2)) AS avg_order_value
FROM ${catalog}.${gold}.mv_top_brands
ORDER BY net_revenue DESC, brand
