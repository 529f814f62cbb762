-- bronze.orders: one row per order_id among valid events, the order and customer fields as sent.
-- A producer may resend an order: the latest event wins (event_time, then sequence_number, then
-- partition_id, all descending), so a re-run or a resend never counts an order twice. The winning
-- event's source, partition_id and sequence_number are kept: the next batch is compared with
-- them, and the reconciliation counts each partition's orders from this table.
-- Incremental: the valid events received since this table last merged their partition (above its
-- largest sequence number there: events are processed in sequence order per partition) are
-- reduced to one per order by the rule, then merged in; a stored row is replaced only by a later
-- event by the same rule, so merging the same events again changes nothing.

CREATE TABLE IF NOT EXISTS ${catalog}.${bronze}.orders (
  order_id        STRING,
  customer_id     STRING,
  customer_name   STRING,
  customer_email  STRING,
  city            STRING,
  state           STRING,
  country         STRING,
  order_ts        TIMESTAMP,
  product_id      STRING,
  quantity        INT,
  unit_price      DECIMAL(12, 2),
  discount_pct    DECIMAL(5, 2),
  total_amount    DECIMAL(12, 2),
  payment_method  STRING,
  order_status    STRING,
  event_id        STRING,
  event_time      TIMESTAMP,
  source          STRING,
  partition_id    STRING,
  sequence_number BIGINT
)
COMMENT 'One row per valid order (latest event wins)';

MERGE INTO ${catalog}.${bronze}.orders AS t
USING (
  SELECT
    CAST(order_id AS STRING)             AS order_id,
    CAST(customer_id AS STRING)          AS customer_id,
    CAST(customer_name AS STRING)        AS customer_name,
    CAST(customer_email AS STRING)       AS customer_email,
    CAST(city AS STRING)                 AS city,
    CAST(state AS STRING)                AS state,
    CAST(country AS STRING)              AS country,
    CAST(order_ts AS TIMESTAMP)          AS order_ts,
    CAST(product_id AS STRING)           AS product_id,
    CAST(quantity AS INT)                AS quantity,
    CAST(unit_price AS DECIMAL(12, 2))   AS unit_price,
    CAST(discount_pct AS DECIMAL(5, 2))  AS discount_pct,
    CAST(total_amount AS DECIMAL(12, 2)) AS total_amount,
    CAST(payment_method AS STRING)       AS payment_method,
    CAST(order_status AS STRING)         AS order_status,
    CAST(event_id AS STRING)             AS event_id,
    CAST(event_time AS TIMESTAMP)        AS event_time,
    CAST(source AS STRING)               AS source,
    CAST(partition_id AS STRING)         AS partition_id,
    CAST(sequence_number AS BIGINT)      AS sequence_number
  FROM ${catalog}.${bronze}.received_events AS r
  LEFT JOIN (
    -- How far this table has merged each partition: an event received since is above it.
    SELECT source AS merged_source, partition_id AS merged_partition, MAX(sequence_number) AS merged_to
    FROM ${catalog}.${bronze}.orders
    GROUP BY source, partition_id
  ) AS m
    ON r.source <=> m.merged_source AND r.partition_id <=> m.merged_partition
  WHERE r.reason IS NULL AND r.sequence_number > coalesce(m.merged_to, -1)
  QUALIFY ROW_NUMBER() OVER (
    PARTITION BY order_id
    ORDER BY event_time DESC, sequence_number DESC, partition_id DESC
  ) = 1
) AS s
ON t.order_id = s.order_id
WHEN MATCHED AND (
  s.event_time > t.event_time
  OR (s.event_time = t.event_time AND s.sequence_number > t.sequence_number)
  OR (s.event_time = t.event_time AND s.sequence_number = t.sequence_number
      AND s.partition_id > t.partition_id)
) THEN UPDATE SET
    order_id = s.order_id,
    customer_id = s.customer_id,
    customer_name = s.customer_name,
    customer_email = s.customer_email,
    city = s.city,
    state = s.state,
    country = s.country,
    order_ts = s.order_ts,
    product_id = s.product_id,
    quantity = s.quantity,
    unit_price = s.unit_price,
    discount_pct = s.discount_pct,
    total_amount = s.total_amount,
    payment_method = s.payment_method,
    order_status = s.order_status,
    event_id = s.event_id,
    event_time = s.event_time,
    source = s.source,
    partition_id = s.partition_id,
    sequence_number = s.sequence_number
WHEN NOT MATCHED THEN INSERT (order_id, customer_id, customer_name, customer_email, city, state, country, order_ts, product_id, quantity, unit_price, discount_pct, total_amount, payment_method, order_status, event_id, event_time, source, partition_id, sequence_number)
VALUES (s.order_id, s.customer_id, s.customer_name, s.customer_email, s.city, s.state, s.country, s.order_ts, s.product_id, s.quantity, s.unit_price, s.discount_pct, s.total_amount, s.payment_method, s.order_status, s.event_id, s.event_time, s.source, s.partition_id, s.sequence_number);
