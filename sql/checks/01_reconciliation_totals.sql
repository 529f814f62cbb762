-- The all-time balance of bronze: each count from its own table. Every landed event is a valid
-- order, a rejected event or a duplicate (a transport redelivery or a producer resend).
-- distinct_orders is what the valid events name; bronze.orders must hold exactly that many.
SELECT
  (SELECT COUNT(*) FROM ${catalog}.${bronze}.raw_events) AS landed,
  (SELECT COUNT(*) FROM ${catalog}.${bronze}.received_events) AS received,
  (SELECT COUNT(*) FROM ${catalog}.${bronze}.received_events WHERE reason IS NULL) AS valid_events,
  (SELECT COUNT(DISTINCT order_id) FROM ${catalog}.${bronze}.received_events WHERE reason IS NULL)
    AS distinct_orders,
  (SELECT COUNT(*) FROM ${catalog}.${bronze}.rejected_events) AS rejected,
  (SELECT COUNT(*) FROM ${catalog}.${bronze}.orders) AS valid_orders
