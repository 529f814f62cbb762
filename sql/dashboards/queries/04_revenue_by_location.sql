-- title: Revenue by location
-- description: Net revenue (revenue orders), orders, customers and delivery rate per city and state; every location that has an order is listed, with net revenue 0 where none of its orders is a revenue order.
-- chart: bar
-- x: location
-- y: net_revenue
SELECT
  CAST(RANK() OVER (ORDER BY net_revenue DESC) AS BIGINT) AS revenue_rank,
  concat_ws(', ', city, state) AS location,
  city,
  state,
  net_revenue,
  order_count,
  revenue_orders,
  unique_customers,
  delivery_rate
FROM ${catalog}.${gold}.location_performance
ORDER BY net_revenue DESC, city, state
