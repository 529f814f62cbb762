-- gold.mv_discount_analysis: one row per discount band with at least one revenue order, to show
-- what each band of discounts costs and brings in.

CREATE MATERIALIZED VIEW ${catalog}.${gold}.mv_discount_analysis
COMMENT 'Revenue orders by discount band'
AS
SELECT
  CAST(discount_band AS STRING)                 AS discount_band,
  CAST(COUNT(*) AS BIGINT)                      AS order_count,
  CAST(SUM(quantity) AS BIGINT)                 AS units_sold,
  CAST(SUM(gross_amount) AS DECIMAL(18, 2))     AS gross_sales,
  CAST(SUM(discount_amount) AS DECIMAL(18, 2))  AS discount_total,
  CAST(SUM(total_amount) AS DECIMAL(18, 2))     AS net_revenue,
  CAST(ROUND(SUM(total_amount) / COUNT(*), 2) AS DECIMAL(18, 2)) AS avg_order_value
FROM ${catalog}.${silver}.order_details
WHERE is_revenue
GROUP BY discount_band;
