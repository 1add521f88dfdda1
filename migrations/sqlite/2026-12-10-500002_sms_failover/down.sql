DROP TABLE sms_circuits;
ALTER TABLE sms_messages DROP COLUMN provider_tries;
