-- gold.sales_by_brand_category: one row per (brand, category) with at least one revenue order;
-- volumes, money and customers over revenue orders (placed, shipped, delivered) only.

CREATE OR REPLACE TABLE ${catalog}.${gold}.sales_by_brand_category
COMMENT 'Revenue orders by brand and category'
AS
SELECT
  CAST(brand AS STRING)                           AS brand,
  CAST(category AS STRING)                        AS category,
  CAST(COUNT(*) AS BIGINT)                        AS order_count,
  CAST(SUM(quantity) AS BIGINT)                   AS units_sold,
  CAST(SUM(gross_amount) AS DECIMAL(18, 2))       AS gross_sales,
  CAST(SUM(discount_amount) AS DECIMAL(18, 2))    AS discount_total,
  CAST(SUM(total_amount) AS DECIMAL(18, 2))       AS net_revenue,
  CAST(COUNT(DISTINCT customer_id) AS BIGINT)     AS unique_customers,
  CAST(ROUND(SUM(total_amount) / COUNT(*), 2) AS DECIMAL(18, 2)) AS avg_order_value
FROM ${catalog}.${silver}.order_details
WHERE is_revenue
GROUP BY brand, category;
