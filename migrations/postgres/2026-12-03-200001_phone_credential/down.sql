ALTER TABLE sms_messages DROP COLUMN locale;
DROP TABLE mfa_challenges;
DROP TABLE auth_codes;
ALTER TABLE users DROP COLUMN two_factor;
