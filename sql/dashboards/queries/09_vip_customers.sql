-- title: VIP customers
-- description: The ten customers with the highest lifetime value (net revenue of their revenue orders), with their city, number of orders and favorite brand.
-- chart: table
SELECT
  vip_rank,
  customer_id,
  customer_name,
  city,
  lifetime_value,
  order_count,
  favorite_brand
FROM ${catalog}.${gold}.mv_vip_customers
ORDER BY vip_rank, customer_id
