DROP INDEX sms_messages_queued;
CREATE INDEX sms_messages_due ON sms_messages (status, next_attempt_at);
