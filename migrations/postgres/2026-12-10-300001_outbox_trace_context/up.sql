-- SPEC §14 "Operations": the W3C trace context (`traceparent`) of the request that queued
-- a message, so the courier's send and the provider's receipt join that request's trace.
-- NULL when tracing is off or the request was not traced.
ALTER TABLE sms_messages ADD COLUMN trace_context TEXT;
