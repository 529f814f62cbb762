-- bronze.raw_events.body_encoding: how `body` holds the event's bytes. NULL (every UTF-8 event):
-- body is the text, as sent. 'base64': the bytes were not valid UTF-8, so no JSON landing file and
-- no STRING column can hold them as text; body keeps them base64-encoded (nothing lost) and bronze
-- rejects the event as `invalid UTF-8`. Landing files carry the field only when it is not NULL;
-- COPY INTO reads a missing field as NULL.

ALTER TABLE ${catalog}.${bronze}.raw_events ADD COLUMN body_encoding STRING;
