DROP TABLE sms_provider_failures;
ALTER TABLE sms_circuits DROP COLUMN closed_at;
ALTER TABLE sms_circuits DROP COLUMN disabled_at;
