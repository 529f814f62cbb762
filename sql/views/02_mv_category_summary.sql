-- gold.mv_category_summary: one row per category with at least one revenue order, with its
-- share of the total net revenue of all revenue orders.

CREATE MATERIALIZED VIEW ${catalog}.${gold}.mv_category_summary
COMMENT 'Revenue orders by category, with the share of total net revenue'
AS
SELECT
  CAST(category AS STRING)                     AS category,
  CAST(COUNT(*) AS BIGINT)                     AS order_count,
  CAST(SUM(quantity) AS BIGINT)                AS units_sold,
  CAST(SUM(total_amount) AS DECIMAL(18, 2))    AS net_revenue,
  CAST(ROUND(SUM(total_amount) / COUNT(*), 2) AS DECIMAL(18, 2)) AS avg_order_value,
  -- The window total runs over the grouped rows, i.e. all revenue orders.
  CAST(ROUND(100 * SUM(total_amount) / SUM(SUM(total_amount)) OVER (), 2) AS DECIMAL(5, 2)) AS revenue_share_pct
FROM ${catalog}.${silver}.order_details
WHERE is_revenue
GROUP BY category;
