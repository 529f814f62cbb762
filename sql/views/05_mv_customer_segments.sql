-- gold.mv_customer_segments: one row per customer segment that occurs (High, Medium, Low) with its
-- customer count and lifetime value.

CREATE MATERIALIZED VIEW ${catalog}.${gold}.mv_customer_segments
COMMENT 'Customers and lifetime value by segment'
AS
SELECT
  CAST(segment AS STRING)                        AS segment,
  CAST(COUNT(*) AS BIGINT)                       AS customer_count,
  CAST(SUM(lifetime_value) AS DECIMAL(18, 2))    AS total_lifetime_value,
  CAST(ROUND(SUM(lifetime_value) / COUNT(*), 2) AS DECIMAL(18, 2)) AS avg_lifetime_value
FROM ${catalog}.${gold}.customer_insights
GROUP BY segment;
