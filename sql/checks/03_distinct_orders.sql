-- The orders every valid event of the history names: bronze.orders must hold exactly that many.
-- A distinct count over every received event, so `status` runs it (the audit of all runs), not
-- each ingest (whose own check is the merge batch's orders, 01_reconciliation_totals.sql).
SELECT COUNT(DISTINCT order_id) AS distinct_orders
FROM ${catalog}.${bronze}.received_events
WHERE reason IS NULL
