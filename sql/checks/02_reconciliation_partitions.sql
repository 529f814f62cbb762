-- The balance of each partition, all runs: landed rows, received events (after the transport
-- dedupe), valid events, the orders the partition's events won in bronze.orders (which keeps the
-- winning event's source and partition: the dedupe rule lives in bronze/02_orders.sql only) and
-- rejected events, each from its own table.
WITH landed AS (
  SELECT source, partition_id, COUNT(*) AS landed
  FROM ${catalog}.${bronze}.raw_events
  GROUP BY source, partition_id
),
received AS (
  SELECT source, partition_id, COUNT(*) AS received, count_if(reason IS NULL) AS valid_events
  FROM ${catalog}.${bronze}.received_events
  GROUP BY source, partition_id
),
won AS (
  SELECT source, partition_id, COUNT(*) AS valid_orders
  FROM ${catalog}.${bronze}.orders
  GROUP BY source, partition_id
),
rejected AS (
  SELECT source, partition_id, COUNT(*) AS rejected
  FROM ${catalog}.${bronze}.rejected_events
  GROUP BY source, partition_id
)
SELECT
  l.source, l.partition_id, l.landed,
  coalesce(r.received, 0) AS received,
  coalesce(r.valid_events, 0) AS valid_events,
  coalesce(w.valid_orders, 0) AS valid_orders,
  coalesce(j.rejected, 0) AS rejected
FROM landed AS l
LEFT JOIN received AS r ON r.source = l.source AND r.partition_id = l.partition_id
LEFT JOIN won AS w ON w.source = l.source AND w.partition_id = l.partition_id
LEFT JOIN rejected AS j ON j.source = l.source AND j.partition_id = l.partition_id
ORDER BY l.source, l.partition_id
