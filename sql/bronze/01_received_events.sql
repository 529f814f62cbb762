-- bronze.received_events: one row per event received (raw_events after the transport dedupe), with
-- its validation `reason` (NULL when valid), the raw body of rejected events only, and, for valid
-- events only, their fields typed per docs/tables.md.
-- The single place where event bodies are parsed; orders, products and rejected_events read from it.
-- Incremental: each ingest appends the raw_events rows above the largest sequence number per source
-- and partition already here (found from data, like the ingest checkpoint, never from a counter
-- beside it). Appending again finds nothing new, so the statement is safe to run again.

CREATE TABLE IF NOT EXISTS ${catalog}.${bronze}.received_events (
  source          STRING,
  partition_id    STRING,
  sequence_number BIGINT,
  `offset`        STRING,
  enqueued_time   TIMESTAMP,
  partition_key   STRING,
  body            STRING,
  body_encoding   STRING,
  landing_file    STRING,
  landed_at       TIMESTAMP,
  reason          STRING,
  schema_version  INT,
  event_id        STRING,
  event_type      STRING,
  event_time      TIMESTAMP,
  order_id        STRING,
  customer_id     STRING,
  customer_name   STRING,
  customer_email  STRING,
  city            STRING,
  state           STRING,
  country         STRING,
  order_ts        TIMESTAMP,
  product_id      STRING,
  product_name    STRING,
  brand           STRING,
  category        STRING,
  base_price      DECIMAL(12, 2),
  unit_price      DECIMAL(12, 2),
  quantity        INT,
  discount_pct    DECIMAL(5, 2),
  total_amount    DECIMAL(12, 2),
  payment_method  STRING,
  order_status    STRING
)
COMMENT 'Received order events after the transport dedupe: raw columns, validation reason, typed fields of valid events';

INSERT INTO ${catalog}.${bronze}.received_events
WITH processed AS (
  -- Per source and partition, the largest sequence number already processed. Events are landed
  -- in sequence order per partition, so everything above it is new, and a transport redelivery
  -- of a processed event (landed again in a later run) is at or below it.
  SELECT source, partition_id, MAX(sequence_number) AS processed_to
  FROM ${catalog}.${bronze}.received_events
  GROUP BY source, partition_id
),

new_keys AS (
  -- The raw rows above those positions, read by their key columns only (no body: cheap).
  SELECT r.landed_at
  FROM ${catalog}.${bronze}.raw_events AS r
  LEFT JOIN processed AS p
    ON r.source <=> p.source AND r.partition_id <=> p.partition_id
  WHERE r.sequence_number > coalesce(p.processed_to, -1)
),

new_rows AS (
  -- The same rows with every column. The earliest landed_at of a new row is a plain bound the
  -- engine checks before it reads a body, so the old rows (landed before it: nearly all of the
  -- history, whatever each partition's position) are skipped; a bound on sequence_number could
  -- not do that once partitions differ in size. Both parts are exact: a new row is at or after
  -- the earliest new row, and a row without landed_at (the loaders always set it) is taken as is.
  SELECT r.*
  FROM ${catalog}.${bronze}.raw_events AS r
  LEFT JOIN processed AS p
    ON r.source <=> p.source AND r.partition_id <=> p.partition_id
  WHERE r.sequence_number > coalesce(p.processed_to, -1)
    AND r.landed_at >= (SELECT MIN(landed_at) FROM new_keys)
  UNION ALL
  SELECT r.*
  FROM ${catalog}.${bronze}.raw_events AS r
  LEFT JOIN processed AS p
    ON r.source <=> p.source AND r.partition_id <=> p.partition_id
  WHERE r.sequence_number > coalesce(p.processed_to, -1)
    AND r.landed_at IS NULL
),

duplicated AS (
  -- The transport delivers at least once and a file may be landed twice: the (source, partition_id,
  -- sequence_number) keys received more than once. Usually none, so only their rows go through the
  -- window below instead of every row with its body (on a single-node engine the window sorts and
  -- holds every row it ranks: most of this statement's time and memory).
  SELECT source, partition_id, sequence_number
  FROM new_rows
  GROUP BY source, partition_id, sequence_number
  HAVING COUNT(*) > 1
),

received AS (
  -- One row per key: a key received once as is (<=> so that a NULL key part matches, as in the
  -- GROUP BY above), and of a key received more than once the first landed copy.
  SELECT r.*
  FROM new_rows AS r
  LEFT ANTI JOIN duplicated AS d
    ON r.source <=> d.source AND r.partition_id <=> d.partition_id
   AND r.sequence_number <=> d.sequence_number
  UNION ALL
  SELECT r.*
  FROM new_rows AS r
  LEFT SEMI JOIN duplicated AS d
    ON r.source <=> d.source AND r.partition_id <=> d.partition_id
   AND r.sequence_number <=> d.sequence_number
  QUALIFY ROW_NUMBER() OVER (
    PARTITION BY r.source, r.partition_id, r.sequence_number
    ORDER BY r.landed_at ASC NULLS LAST, r.landing_file ASC NULLS LAST
  ) = 1
),

parsed AS (
  -- try_parse_json gives NULL for a body that is not JSON (parse_json would fail the whole statement).
  -- A base64 body (not UTF-8) or one of 1 MB or more is rejected before parsing: never parsed.
  -- The guard is the argument (try_parse_json(NULL) is NULL), not a CASE around the call: an engine
  -- may then compute the parse once per row, where a call inside a CASE branch is not shared.
  SELECT
    *,
    try_parse_json(CASE WHEN body_encoding IS NULL AND octet_length(body) < 1048576 THEN body END) AS v
  FROM received
),

fields AS (
  -- Each required field is extracted ONCE into a column (v:field is a VARIANT: its JSON value with
  -- its JSON type, a JSON null kept as a VARIANT null, a missing field SQL NULL); every later check
  -- and cast reads that column. Same values as repeating v:field, but on engines where a VARIANT
  -- is JSON text (the local DuckDB) each v:field re-parses the whole body, ~55 times per event.
  SELECT
    *,
    schema_of_variant(v) AS t_body,
    v:schema_version AS j_schema_version,
    v:event_id       AS j_event_id,
    v:event_type     AS j_event_type,
    v:event_time     AS j_event_time,
    v:order_id       AS j_order_id,
    v:customer_id    AS j_customer_id,
    v:customer_name  AS j_customer_name,
    v:customer_email AS j_customer_email,
    v:city           AS j_city,
    v:state          AS j_state,
    v:country        AS j_country,
    v:order_ts       AS j_order_ts,
    v:product_id     AS j_product_id,
    v:product_name   AS j_product_name,
    v:brand          AS j_brand,
    v:category       AS j_category,
    v:base_price     AS j_base_price,
    v:unit_price     AS j_unit_price,
    v:quantity       AS j_quantity,
    v:discount_pct   AS j_discount_pct,
    v:total_amount   AS j_total_amount,
    v:payment_method AS j_payment_method,
    v:order_status   AS j_order_status
  FROM parsed
),

field_types AS (
  -- The JSON type of each required field: 'BIGINT' (JSON integer), 'DOUBLE' or 'DECIMAL(p,s)'
  -- (other numbers), 'STRING', 'BOOLEAN', 'OBJECT<...>', 'ARRAY<...>'.
  -- A missing field gives NULL and a JSON null gives 'VOID'; nullif makes both NULL = missing.
  SELECT
    *,
    nullif(schema_of_variant(j_schema_version), 'VOID') AS t_schema_version,
    nullif(schema_of_variant(j_event_id), 'VOID')       AS t_event_id,
    nullif(schema_of_variant(j_event_type), 'VOID')     AS t_event_type,
    nullif(schema_of_variant(j_event_time), 'VOID')     AS t_event_time,
    nullif(schema_of_variant(j_order_id), 'VOID')       AS t_order_id,
    nullif(schema_of_variant(j_customer_id), 'VOID')    AS t_customer_id,
    nullif(schema_of_variant(j_customer_name), 'VOID')  AS t_customer_name,
    nullif(schema_of_variant(j_customer_email), 'VOID') AS t_customer_email,
    nullif(schema_of_variant(j_city), 'VOID')           AS t_city,
    nullif(schema_of_variant(j_state), 'VOID')          AS t_state,
    nullif(schema_of_variant(j_country), 'VOID')        AS t_country,
    nullif(schema_of_variant(j_order_ts), 'VOID')       AS t_order_ts,
    nullif(schema_of_variant(j_product_id), 'VOID')     AS t_product_id,
    nullif(schema_of_variant(j_product_name), 'VOID')   AS t_product_name,
    nullif(schema_of_variant(j_brand), 'VOID')          AS t_brand,
    nullif(schema_of_variant(j_category), 'VOID')       AS t_category,
    nullif(schema_of_variant(j_base_price), 'VOID')     AS t_base_price,
    nullif(schema_of_variant(j_unit_price), 'VOID')     AS t_unit_price,
    nullif(schema_of_variant(j_quantity), 'VOID')       AS t_quantity,
    nullif(schema_of_variant(j_discount_pct), 'VOID')   AS t_discount_pct,
    nullif(schema_of_variant(j_total_amount), 'VOID')   AS t_total_amount,
    nullif(schema_of_variant(j_payment_method), 'VOID') AS t_payment_method,
    nullif(schema_of_variant(j_order_status), 'VOID')   AS t_order_status
  FROM fields
),

timestamps AS (
  -- A timestamp is a JSON string in ISO-8601 form (date, 'T' or space, hh:mm[:ss[.ffffff]], then
  -- nothing = UTC, 'Z' or ±hh:mm) that casts to TIMESTAMP. The pattern pins the accepted forms
  -- (a plain cast also takes '2024', '2024-01-01' ...); the cast rejects impossible dates.
  SELECT
    *,
    CASE
      WHEN t_event_time = 'STRING'
       AND j_event_time::string RLIKE '^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9]([.][0-9]{1,6})?)?(Z|[+-][0-9]{2}:[0-5][0-9])?$'
      THEN try_cast(j_event_time::string AS TIMESTAMP)
    END AS event_time_parsed,
    CASE
      WHEN t_order_ts = 'STRING'
       AND j_order_ts::string RLIKE '^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9]([.][0-9]{1,6})?)?(Z|[+-][0-9]{2}:[0-5][0-9])?$'
      THEN try_cast(j_order_ts::string AS TIMESTAMP)
    END AS order_ts_parsed
  FROM field_types
),

checked AS (
  -- The checks of docs/tables.md in their order; the first failing one is the reason.
  -- Every field's presence is checked before any field's type, each in the field order of docs/tables.md.
  SELECT
    *,
    CASE
      WHEN body_encoding IS NOT NULL THEN 'invalid UTF-8'
      WHEN octet_length(body) >= 1048576
        THEN concat('body of 1 MB or more: ', CAST(octet_length(body) AS STRING), ' bytes')
      WHEN octet_length(body) = 0 THEN 'empty body'
      WHEN v IS NULL THEN 'invalid JSON'
      WHEN t_body NOT LIKE 'OBJECT%' THEN 'not a JSON object'

      WHEN t_schema_version IS NULL THEN 'missing field: schema_version'
      WHEN t_event_id IS NULL       THEN 'missing field: event_id'
      WHEN t_event_type IS NULL     THEN 'missing field: event_type'
      WHEN t_event_time IS NULL     THEN 'missing field: event_time'
      WHEN t_order_id IS NULL       THEN 'missing field: order_id'
      WHEN t_customer_id IS NULL    THEN 'missing field: customer_id'
      WHEN t_customer_name IS NULL  THEN 'missing field: customer_name'
      WHEN t_customer_email IS NULL THEN 'missing field: customer_email'
      WHEN t_city IS NULL           THEN 'missing field: city'
      WHEN t_state IS NULL          THEN 'missing field: state'
      WHEN t_country IS NULL        THEN 'missing field: country'
      WHEN t_order_ts IS NULL       THEN 'missing field: order_ts'
      WHEN t_product_id IS NULL     THEN 'missing field: product_id'
      WHEN t_product_name IS NULL   THEN 'missing field: product_name'
      WHEN t_brand IS NULL          THEN 'missing field: brand'
      WHEN t_category IS NULL       THEN 'missing field: category'
      WHEN t_base_price IS NULL     THEN 'missing field: base_price'
      WHEN t_unit_price IS NULL     THEN 'missing field: unit_price'
      WHEN t_quantity IS NULL       THEN 'missing field: quantity'
      WHEN t_discount_pct IS NULL   THEN 'missing field: discount_pct'
      WHEN t_total_amount IS NULL   THEN 'missing field: total_amount'
      WHEN t_payment_method IS NULL THEN 'missing field: payment_method'
      WHEN t_order_status IS NULL   THEN 'missing field: order_status'

      -- integer = a JSON integer only ('2', 2.5, 2.0 and true are not); number = any JSON number.
      WHEN t_schema_version <> 'BIGINT' THEN 'wrong type: schema_version must be integer'
      WHEN t_event_id <> 'STRING'       THEN 'wrong type: event_id must be string'
      WHEN t_event_type <> 'STRING'     THEN 'wrong type: event_type must be string'
      WHEN event_time_parsed IS NULL    THEN 'wrong type: event_time must be timestamp'
      WHEN t_order_id <> 'STRING'       THEN 'wrong type: order_id must be string'
      WHEN t_customer_id <> 'STRING'    THEN 'wrong type: customer_id must be string'
      WHEN t_customer_name <> 'STRING'  THEN 'wrong type: customer_name must be string'
      WHEN t_customer_email <> 'STRING' THEN 'wrong type: customer_email must be string'
      WHEN t_city <> 'STRING'           THEN 'wrong type: city must be string'
      WHEN t_state <> 'STRING'          THEN 'wrong type: state must be string'
      WHEN t_country <> 'STRING'        THEN 'wrong type: country must be string'
      WHEN order_ts_parsed IS NULL      THEN 'wrong type: order_ts must be timestamp'
      WHEN t_product_id <> 'STRING'     THEN 'wrong type: product_id must be string'
      WHEN t_product_name <> 'STRING'   THEN 'wrong type: product_name must be string'
      WHEN t_brand <> 'STRING'          THEN 'wrong type: brand must be string'
      WHEN t_category <> 'STRING'       THEN 'wrong type: category must be string'
      WHEN NOT (t_base_price IN ('BIGINT', 'DOUBLE') OR t_base_price LIKE 'DECIMAL%')
        THEN 'wrong type: base_price must be number'
      WHEN NOT (t_unit_price IN ('BIGINT', 'DOUBLE') OR t_unit_price LIKE 'DECIMAL%')
        THEN 'wrong type: unit_price must be number'
      WHEN t_quantity <> 'BIGINT'       THEN 'wrong type: quantity must be integer'
      WHEN NOT (t_discount_pct IN ('BIGINT', 'DOUBLE') OR t_discount_pct LIKE 'DECIMAL%')
        THEN 'wrong type: discount_pct must be number'
      WHEN NOT (t_total_amount IN ('BIGINT', 'DOUBLE') OR t_total_amount LIKE 'DECIMAL%')
        THEN 'wrong type: total_amount must be number'
      WHEN t_payment_method <> 'STRING' THEN 'wrong type: payment_method must be string'
      WHEN t_order_status <> 'STRING'   THEN 'wrong type: order_status must be string'

      -- Ranges (field order): a number that does not fit its column type is rejected, never cast.
      -- A failing cast would fail this statement, and every later ingest with it (the batch
      -- would stay unprocessed). try_cast is NULL exactly where the cast would fail; a money cast
      -- rounds HALF_UP to 2 decimals first (9999999999.995 does not fit DECIMAL(12,2)).
      WHEN try_cast(j_base_price AS DECIMAL(12, 2)) IS NULL   THEN 'out of range: base_price'
      WHEN try_cast(j_unit_price AS DECIMAL(12, 2)) IS NULL   THEN 'out of range: unit_price'
      WHEN try_cast(j_quantity AS INT) IS NULL                THEN 'out of range: quantity'
      WHEN try_cast(j_total_amount AS DECIMAL(12, 2)) IS NULL THEN 'out of range: total_amount'

      -- Value rules. Every field now has its JSON type (an integer is a BIGINT: a larger JSON
      -- integer is a DECIMAL(p,0), a wrong type above) and the money and quantity fit their
      -- columns, so the casts below cannot fail.
      -- <value> is the field's JSON text (::string of a JSON number gives the number as text).
      WHEN j_schema_version::bigint <> 1
        THEN concat('unknown schema_version: ', j_schema_version::string)
      WHEN j_quantity::bigint < 1
        THEN concat('quantity below 1: ', j_quantity::string)
      -- DOUBLE, not DECIMAL: an absurd value (1e40) must be rejected, not overflow the cast.
      WHEN j_discount_pct::double < 0 OR j_discount_pct::double > 100
        THEN concat('discount_pct out of range: ', j_discount_pct::string)
      WHEN j_order_status::string NOT IN ('placed', 'shipped', 'delivered', 'cancelled', 'returned')
        THEN concat('unknown order_status: ', j_order_status::string)
      -- The total rule on the numbers as sent (scale 6, before the money casts); exactly 0.01 off
      -- is accepted, so the comparison must be exact decimal arithmetic. The ranges above keep
      -- every operand within DECIMAL(18, 6) (a cast to a smaller scale rounds, it does not fail).
      WHEN abs(
             j_total_amount::decimal(18, 6)
             - ROUND(j_quantity::bigint * j_unit_price::decimal(18, 6)
                     * (100 - j_discount_pct::decimal(18, 6)) / 100, 2)
           ) > 0.01
        THEN concat('total_amount mismatch: ', j_total_amount::string)
      -- Last, a derived value: silver's gross_amount = quantity x unit_price must fit
      -- DECIMAL(12,2) as well (each may fit while the product does not, e.g. at 100% discount).
      WHEN try_cast(j_quantity::bigint * j_unit_price::decimal(12, 2) AS DECIMAL(12, 2)) IS NULL
        THEN 'out of range: gross_amount'
    END AS reason
  FROM timestamps
)

-- The typed fields of valid events only (NULL otherwise): the CASE comes before the cast, so a
-- rejected value is never cast (a failing cast would fail the whole statement).
SELECT
  CAST(source AS STRING)           AS source,
  CAST(partition_id AS STRING)     AS partition_id,
  CAST(sequence_number AS BIGINT)  AS sequence_number,
  CAST(`offset` AS STRING)         AS `offset`,
  CAST(enqueued_time AS TIMESTAMP) AS enqueued_time,
  CAST(partition_key AS STRING)    AS partition_key,
  -- The body of rejected events only (rejected_events keeps it; a valid event's body stays in
  -- raw_events): a second copy of every body doubled this table's write, most of its time at 1M events.
  CAST(CASE WHEN reason IS NOT NULL THEN body END AS STRING) AS body,
  CAST(body_encoding AS STRING)    AS body_encoding,
  CAST(landing_file AS STRING)     AS landing_file,
  CAST(landed_at AS TIMESTAMP)     AS landed_at,
  CAST(reason AS STRING)           AS reason,
  CAST(CASE WHEN reason IS NULL THEN j_schema_version END AS INT)          AS schema_version,
  CAST(CASE WHEN reason IS NULL THEN j_event_id END AS STRING)             AS event_id,
  CAST(CASE WHEN reason IS NULL THEN j_event_type END AS STRING)           AS event_type,
  CAST(CASE WHEN reason IS NULL THEN event_time_parsed END AS TIMESTAMP)   AS event_time,
  CAST(CASE WHEN reason IS NULL THEN j_order_id END AS STRING)             AS order_id,
  CAST(CASE WHEN reason IS NULL THEN j_customer_id END AS STRING)          AS customer_id,
  CAST(CASE WHEN reason IS NULL THEN j_customer_name END AS STRING)        AS customer_name,
  CAST(CASE WHEN reason IS NULL THEN j_customer_email END AS STRING)       AS customer_email,
  CAST(CASE WHEN reason IS NULL THEN j_city END AS STRING)                 AS city,
  CAST(CASE WHEN reason IS NULL THEN j_state END AS STRING)                AS state,
  CAST(CASE WHEN reason IS NULL THEN j_country END AS STRING)              AS country,
  CAST(CASE WHEN reason IS NULL THEN order_ts_parsed END AS TIMESTAMP)     AS order_ts,
  CAST(CASE WHEN reason IS NULL THEN j_product_id END AS STRING)           AS product_id,
  CAST(CASE WHEN reason IS NULL THEN j_product_name END AS STRING)         AS product_name,
  CAST(CASE WHEN reason IS NULL THEN j_brand END AS STRING)                AS brand,
  CAST(CASE WHEN reason IS NULL THEN j_category END AS STRING)             AS category,
  -- Money casts round HALF_UP to 2 decimals, like the reference.
  CAST(CASE WHEN reason IS NULL THEN j_base_price END AS DECIMAL(12, 2))   AS base_price,
  CAST(CASE WHEN reason IS NULL THEN j_unit_price END AS DECIMAL(12, 2))   AS unit_price,
  CAST(CASE WHEN reason IS NULL THEN j_quantity END AS INT)                AS quantity,
  CAST(CASE WHEN reason IS NULL THEN j_discount_pct END AS DECIMAL(5, 2))  AS discount_pct,
  CAST(CASE WHEN reason IS NULL THEN j_total_amount END AS DECIMAL(12, 2)) AS total_amount,
  CAST(CASE WHEN reason IS NULL THEN j_payment_method END AS STRING)       AS payment_method,
  CAST(CASE WHEN reason IS NULL THEN j_order_status END AS STRING)         AS order_status
FROM checked;
