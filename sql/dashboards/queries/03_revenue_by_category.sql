-- title: Revenue by category
-- description: Net revenue, orders, units, average order value and share of total net revenue per product category, over revenue orders.
-- chart: bar
-- x: category
-- y: net_revenue
SELECT
  category,
  net_revenue,
  revenue_share_pct,
  order_count,
  units_sold,
  avg_order_value
FROM ${catalog}.${gold}.mv_category_summary
ORDER BY net_revenue DESC, category
