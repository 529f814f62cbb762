-- title: Top products
-- description: The ten products with the highest net revenue over revenue orders, with units sold, average discount and revenue per unit.
-- chart: bar
-- x: product_name
-- y: net_revenue
SELECT
  CAST(RANK() OVER (ORDER BY net_revenue DESC) AS BIGINT) AS revenue_rank,
  product_id,
  product_name,
  brand,
  category,
  net_revenue,
  units_sold,
  order_count,
  avg_discount_pct,
  revenue_per_unit
FROM ${catalog}.${gold}.product_performance
ORDER BY net_revenue DESC, product_id
LIMIT 10
