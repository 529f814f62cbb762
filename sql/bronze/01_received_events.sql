-- bronze.received_events: one row per event received (raw_events after the transport dedupe), with
-- its validation `reason` (NULL when valid) and, for valid events only, its fields typed per docs/tables.md.
-- The single place where event bodies are parsed; orders, products and rejected_events read from it.

CREATE OR REPLACE TABLE ${catalog}.${bronze}.received_events
COMMENT 'Received order events after the transport dedupe: raw columns, validation reason, typed fields of valid events'
AS
WITH received AS (
  -- The transport delivers at least once and a file may be landed twice: keep the first landed copy
  -- of each (source, partition_id, sequence_number).
  SELECT *
  FROM ${catalog}.${bronze}.raw_events
  QUALIFY ROW_NUMBER() OVER (
    PARTITION BY source, partition_id, sequence_number
    ORDER BY landed_at ASC NULLS LAST, landing_file ASC NULLS LAST
  ) = 1
),

parsed AS (
  -- try_parse_json gives NULL for a body that is not JSON (parse_json would fail the whole statement).
  SELECT *, try_parse_json(body) AS v
  FROM received
),

field_types AS (
  -- The JSON type of the body and of each required field: 'BIGINT' (JSON integer), 'DOUBLE' or
  -- 'DECIMAL(p,s)' (other numbers), 'STRING', 'BOOLEAN', 'OBJECT<...>', 'ARRAY<...>'.
  -- A missing field gives NULL and a JSON null gives 'VOID'; nullif makes both NULL = missing.
  SELECT
    *,
    schema_of_variant(v)                                 AS t_body,
    nullif(schema_of_variant(v:schema_version), 'VOID') AS t_schema_version,
    nullif(schema_of_variant(v:event_id), 'VOID')       AS t_event_id,
    nullif(schema_of_variant(v:event_type), 'VOID')     AS t_event_type,
    nullif(schema_of_variant(v:event_time), 'VOID')     AS t_event_time,
    nullif(schema_of_variant(v:order_id), 'VOID')       AS t_order_id,
    nullif(schema_of_variant(v:customer_id), 'VOID')    AS t_customer_id,
    nullif(schema_of_variant(v:customer_name), 'VOID')  AS t_customer_name,
    nullif(schema_of_variant(v:customer_email), 'VOID') AS t_customer_email,
    nullif(schema_of_variant(v:city), 'VOID')           AS t_city,
    nullif(schema_of_variant(v:state), 'VOID')          AS t_state,
    nullif(schema_of_variant(v:country), 'VOID')        AS t_country,
    nullif(schema_of_variant(v:order_ts), 'VOID')       AS t_order_ts,
    nullif(schema_of_variant(v:product_id), 'VOID')     AS t_product_id,
    nullif(schema_of_variant(v:product_name), 'VOID')   AS t_product_name,
    nullif(schema_of_variant(v:brand), 'VOID')          AS t_brand,
    nullif(schema_of_variant(v:category), 'VOID')       AS t_category,
    nullif(schema_of_variant(v:base_price), 'VOID')     AS t_base_price,
    nullif(schema_of_variant(v:unit_price), 'VOID')     AS t_unit_price,
    nullif(schema_of_variant(v:quantity), 'VOID')       AS t_quantity,
    nullif(schema_of_variant(v:discount_pct), 'VOID')   AS t_discount_pct,
    nullif(schema_of_variant(v:total_amount), 'VOID')   AS t_total_amount,
    nullif(schema_of_variant(v:payment_method), 'VOID') AS t_payment_method,
    nullif(schema_of_variant(v:order_status), 'VOID')   AS t_order_status
  FROM parsed
),

timestamps AS (
  -- A timestamp is a JSON string in ISO-8601 form (date, 'T' or space, hh:mm[:ss[.ffffff]], then
  -- nothing = UTC, 'Z' or ±hh:mm) that casts to TIMESTAMP. The pattern pins the accepted forms
  -- (a plain cast also takes '2024', '2024-01-01' ...); the cast rejects impossible dates.
  SELECT
    *,
    CASE
      WHEN t_event_time = 'STRING'
       AND v:event_time::string RLIKE '^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9]([.][0-9]{1,6})?)?(Z|[+-][0-9]{2}:[0-5][0-9])?$'
      THEN try_cast(v:event_time::string AS TIMESTAMP)
    END AS event_time_parsed,
    CASE
      WHEN t_order_ts = 'STRING'
       AND v:order_ts::string RLIKE '^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9]([.][0-9]{1,6})?)?(Z|[+-][0-9]{2}:[0-5][0-9])?$'
      THEN try_cast(v:order_ts::string AS TIMESTAMP)
    END AS order_ts_parsed
  FROM field_types
),

checked AS (
  -- The checks of docs/tables.md in their order; the first failing one is the reason.
  -- Every field's presence is checked before any field's type (DESIGN section 4 field order).
  SELECT
    *,
    CASE
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

      -- Value rules; every field now has its JSON type, so the casts below cannot fail.
      -- <value> is the field's JSON text (::string of a JSON number gives the number as text).
      WHEN v:schema_version::bigint <> 1
        THEN concat('unknown schema_version: ', v:schema_version::string)
      WHEN v:quantity::bigint < 1
        THEN concat('quantity below 1: ', v:quantity::string)
      -- DOUBLE, not DECIMAL: an absurd value (1e40) must be rejected, not overflow the cast.
      WHEN v:discount_pct::double < 0 OR v:discount_pct::double > 100
        THEN concat('discount_pct out of range: ', v:discount_pct::string)
      WHEN v:order_status::string NOT IN ('placed', 'shipped', 'delivered', 'cancelled', 'returned')
        THEN concat('unknown order_status: ', v:order_status::string)
      -- The total rule on the numbers as sent (scale 6, before the money casts); exactly 0.01 off
      -- is accepted, so the comparison must be exact decimal arithmetic.
      WHEN abs(
             v:total_amount::decimal(18, 6)
             - ROUND(v:quantity::bigint * v:unit_price::decimal(18, 6)
                     * (100 - v:discount_pct::decimal(18, 6)) / 100, 2)
           ) > 0.01
        THEN concat('total_amount mismatch: ', v:total_amount::string)
    END AS reason
  FROM timestamps
),

classified AS (
  -- valid_body is the parsed body of valid events only (NULL otherwise), so the typed extraction
  -- below never casts a rejected value (a failing cast would fail the whole statement).
  SELECT *, CASE WHEN reason IS NULL THEN v END AS valid_body
  FROM checked
)

SELECT
  CAST(source AS STRING)                  AS source,
  CAST(partition_id AS STRING)            AS partition_id,
  CAST(sequence_number AS BIGINT)         AS sequence_number,
  CAST(`offset` AS STRING)                AS `offset`,
  CAST(enqueued_time AS TIMESTAMP)        AS enqueued_time,
  CAST(partition_key AS STRING)           AS partition_key,
  CAST(body AS STRING)                    AS body,
  CAST(landing_file AS STRING)            AS landing_file,
  CAST(landed_at AS TIMESTAMP)            AS landed_at,
  CAST(reason AS STRING)                  AS reason,
  valid_body:schema_version::int          AS schema_version,
  valid_body:event_id::string             AS event_id,
  valid_body:event_type::string           AS event_type,
  CAST(CASE WHEN reason IS NULL THEN event_time_parsed END AS TIMESTAMP) AS event_time,
  valid_body:order_id::string             AS order_id,
  valid_body:customer_id::string          AS customer_id,
  valid_body:customer_name::string        AS customer_name,
  valid_body:customer_email::string       AS customer_email,
  valid_body:city::string                 AS city,
  valid_body:state::string                AS state,
  valid_body:country::string              AS country,
  CAST(CASE WHEN reason IS NULL THEN order_ts_parsed END AS TIMESTAMP)   AS order_ts,
  valid_body:product_id::string           AS product_id,
  valid_body:product_name::string         AS product_name,
  valid_body:brand::string                AS brand,
  valid_body:category::string             AS category,
  -- Money casts round HALF_UP to 2 decimals, like the reference.
  valid_body:base_price::decimal(12, 2)   AS base_price,
  valid_body:unit_price::decimal(12, 2)   AS unit_price,
  valid_body:quantity::int                AS quantity,
  valid_body:discount_pct::decimal(5, 2)  AS discount_pct,
  valid_body:total_amount::decimal(12, 2) AS total_amount,
  valid_body:payment_method::string       AS payment_method,
  valid_body:order_status::string         AS order_status
FROM classified;
