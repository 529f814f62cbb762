-- gold.mv_brand_location_matrix: one row per (brand, city) with at least one revenue order, for
-- the brand-by-city heat map. Grouped by city alone, as the dashboard shows it.

CREATE MATERIALIZED VIEW ${catalog}.${gold}.mv_brand_location_matrix
COMMENT 'Revenue orders by brand and city'
AS
SELECT
  CAST(brand AS STRING)                       AS brand,
  CAST(city AS STRING)                        AS city,
  CAST(COUNT(*) AS BIGINT)                    AS order_count,
  CAST(SUM(total_amount) AS DECIMAL(18, 2))   AS net_revenue
FROM ${catalog}.${silver}.order_details
WHERE is_revenue
GROUP BY brand, city;
