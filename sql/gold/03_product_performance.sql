-- gold.product_performance: one row per product with at least one revenue order; volumes, money
-- and average discount over revenue orders only.

CREATE OR REPLACE TABLE ${catalog}.${gold}.product_performance
COMMENT 'Revenue orders by product'
AS
SELECT
  CAST(product_id AS STRING)                      AS product_id,
  CAST(product_name AS STRING)                    AS product_name,
  CAST(brand AS STRING)                           AS brand,
  CAST(category AS STRING)                        AS category,
  CAST(COUNT(*) AS BIGINT)                        AS order_count,
  CAST(SUM(quantity) AS BIGINT)                   AS units_sold,
  CAST(SUM(gross_amount) AS DECIMAL(18, 2))       AS gross_sales,
  CAST(SUM(discount_amount) AS DECIMAL(18, 2))    AS discount_total,
  CAST(SUM(total_amount) AS DECIMAL(18, 2))       AS net_revenue,
  -- The average as an exact sum / count, rounded once (AVG of a decimal is DOUBLE on some engines).
  CAST(ROUND(SUM(discount_pct) / COUNT(*), 2) AS DECIMAL(5, 2))           AS avg_discount_pct,
  CAST(ROUND(SUM(total_amount) / SUM(quantity), 2) AS DECIMAL(18, 2))    AS revenue_per_unit
FROM ${catalog}.${silver}.order_details
WHERE is_revenue
-- bronze.products has one row per product_id, so the product fields are constant within a product.
GROUP BY product_id, product_name, brand, category;
