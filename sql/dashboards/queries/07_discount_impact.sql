-- title: Discount impact
-- description: Per discount band (none, 1-10%, 11-20%, 21%+), over revenue orders: orders, gross sales, discount given, net revenue, average order value and the effective discount (discount as a percentage of gross sales).
-- chart: bar
-- x: discount_band
-- y: discount_total
SELECT
  discount_band,
  order_count,
  units_sold,
  gross_sales,
  discount_total,
  net_revenue,
  avg_order_value,
  CAST(ROUND(100 * discount_total / NULLIF(gross_sales, 0), 2) AS DECIMAL(5, 2)) AS effective_discount_pct
FROM ${catalog}.${gold}.mv_discount_analysis
ORDER BY
  CASE discount_band WHEN 'none' THEN 0 WHEN '1-10%' THEN 1 WHEN '11-20%' THEN 2 WHEN '21%+' THEN 3 ELSE 4 END,
  discount_band
