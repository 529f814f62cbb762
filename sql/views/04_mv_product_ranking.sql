-- gold.mv_product_ranking: every product of gold.product_performance, ranked by net revenue and
-- by units sold (two independent RANKs; ties share a rank).

CREATE MATERIALIZED VIEW ${catalog}.${gold}.mv_product_ranking
COMMENT 'Products ranked by net revenue and by units sold (revenue orders)'
AS
SELECT
  CAST(product_id AS STRING)              AS product_id,
  CAST(product_name AS STRING)            AS product_name,
  CAST(brand AS STRING)                   AS brand,
  CAST(units_sold AS BIGINT)              AS units_sold,
  CAST(net_revenue AS DECIMAL(18, 2))     AS net_revenue,
  CAST(RANK() OVER (ORDER BY net_revenue DESC) AS BIGINT) AS revenue_rank,
  CAST(RANK() OVER (ORDER BY units_sold DESC) AS BIGINT)  AS units_rank
FROM ${catalog}.${gold}.product_performance;
