-- gold.mv_vip_customers: the 10 customers with the highest lifetime value, vip_rank 1 to 10.
-- ROW_NUMBER, not RANK: exactly ten rows without gaps; equal values go to the lower customer_id.

CREATE MATERIALIZED VIEW ${catalog}.${gold}.mv_vip_customers
COMMENT 'Top 10 customers by lifetime value'
AS
SELECT
  CAST(vip_rank AS INT)                   AS vip_rank,
  CAST(customer_id AS STRING)             AS customer_id,
  CAST(customer_name AS STRING)           AS customer_name,
  CAST(city AS STRING)                    AS city,
  CAST(lifetime_value AS DECIMAL(18, 2))  AS lifetime_value,
  CAST(order_count AS BIGINT)             AS order_count,
  CAST(favorite_brand AS STRING)          AS favorite_brand
FROM (
  SELECT
    *,
    ROW_NUMBER() OVER (ORDER BY lifetime_value DESC, customer_id ASC) AS vip_rank
  FROM ${catalog}.${gold}.customer_insights
) AS ranked
WHERE vip_rank <= 10;
