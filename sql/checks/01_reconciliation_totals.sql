-- The all-time balance of bronze: each count from its own table. Every landed event is a valid
-- order, a rejected event or a duplicate (a transport redelivery or a producer resend).
-- Counts only, no distinct count or window over the history: this runs after every ingest.
-- unmerged_orders: the orders this run's merge batch names that bronze.orders lacks (0 unless an
-- order was lost); 03_distinct_orders.sql checks every order of the history, for `status`.
SELECT
  (SELECT COUNT(*) FROM ${catalog}.${bronze}.raw_events) AS landed,
  (SELECT COUNT(*) FROM ${catalog}.${bronze}.received_events) AS received,
  (SELECT COUNT(*) FROM ${catalog}.${bronze}.received_events WHERE reason IS NULL) AS valid_events,
  (SELECT COUNT(DISTINCT b.order_id)
   FROM ${catalog}.${bronze}.merge_batch AS b
   LEFT ANTI JOIN ${catalog}.${bronze}.orders AS o ON o.order_id = b.order_id) AS unmerged_orders,
  (SELECT COUNT(*) FROM ${catalog}.${bronze}.rejected_events) AS rejected,
  (SELECT COUNT(*) FROM ${catalog}.${bronze}.orders) AS valid_orders
