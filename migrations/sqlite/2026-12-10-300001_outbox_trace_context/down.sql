ALTER TABLE sms_messages DROP COLUMN trace_context;
