DROP TABLE sms_early_statuses;
UPDATE sms_messages SET next_attempt_ms = next_attempt_ms / 1000;
ALTER TABLE sms_messages RENAME COLUMN next_attempt_ms TO next_attempt_at;
ALTER TABLE sms_messages DROP COLUMN code_expires_at;
ALTER TABLE sms_messages DROP COLUMN fingerprint;
