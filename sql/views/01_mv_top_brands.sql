-- gold.mv_top_brands: one row per brand with at least one revenue order, ranked by net revenue.
-- From silver, not sales_by_brand_category: unique customers cannot be summed across categories.

CREATE MATERIALIZED VIEW ${catalog}.${gold}.mv_top_brands
COMMENT 'Brands ranked by net revenue (revenue orders)'
AS
SELECT
  CAST(brand AS STRING)                       AS brand,
  CAST(SUM(total_amount) AS DECIMAL(18, 2))   AS net_revenue,
  CAST(COUNT(*) AS BIGINT)                    AS order_count,
  CAST(COUNT(DISTINCT customer_id) AS BIGINT) AS unique_customers,
  -- RANK: brands with equal revenue share a rank.
  CAST(RANK() OVER (ORDER BY SUM(total_amount) DESC) AS BIGINT) AS revenue_rank
FROM ${catalog}.${silver}.order_details
WHERE is_revenue
GROUP BY brand;
