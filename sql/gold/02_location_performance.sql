-- gold.location_performance: one row per (city, state) over all orders; net_revenue counts revenue
-- orders only and is 0.00 for a location without any, so every location is listed.

CREATE OR REPLACE TABLE ${catalog}.${gold}.location_performance
COMMENT 'All orders by city and state: volumes, revenue, delivery and cancellation'
AS
SELECT
  CAST(city AS STRING)                                  AS city,
  CAST(state AS STRING)                                 AS state,
  CAST(COUNT(*) AS BIGINT)                              AS order_count,
  CAST(count_if(is_revenue) AS BIGINT)                  AS revenue_orders,
  CAST(SUM(CASE WHEN is_revenue THEN total_amount ELSE 0 END) AS DECIMAL(18, 2)) AS net_revenue,
  CAST(COUNT(DISTINCT customer_id) AS BIGINT)           AS unique_customers,
  CAST(count_if(is_delivered) AS BIGINT)                AS delivered_orders,
  CAST(count_if(order_status = 'cancelled') AS BIGINT)  AS cancelled_orders,
  -- An integer / integer division is DOUBLE; the DECIMAL numerator keeps the ratio exact before ROUND.
  CAST(ROUND(CAST(count_if(is_delivered) AS DECIMAL(18, 0)) / COUNT(*), 4) AS DECIMAL(5, 4)) AS delivery_rate
FROM ${catalog}.${silver}.order_details
GROUP BY city, state;
