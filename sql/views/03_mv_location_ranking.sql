-- gold.mv_location_ranking: every (city, state) of gold.location_performance, ranked by net revenue
-- (locations without revenue orders rank last, tied at 0.00).

CREATE MATERIALIZED VIEW ${catalog}.${gold}.mv_location_ranking
COMMENT 'Locations ranked by net revenue'
AS
SELECT
  CAST(city AS STRING)                    AS city,
  CAST(state AS STRING)                   AS state,
  CAST(net_revenue AS DECIMAL(18, 2))     AS net_revenue,
  CAST(order_count AS BIGINT)             AS order_count,
  CAST(delivery_rate AS DECIMAL(5, 4))    AS delivery_rate,
  CAST(RANK() OVER (ORDER BY net_revenue DESC) AS BIGINT) AS revenue_rank
FROM ${catalog}.${gold}.location_performance;
