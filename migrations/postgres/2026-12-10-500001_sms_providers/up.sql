-- Issue #21: one provider boundary (SPEC §13).
--
-- Each message records who carries it (`provider`: console, twilio, http, script; set
-- when it is first claimed, so a message whose send may have landed is looked up at
-- the provider it was sent to) and how (`channel`, `sms`). A provider's message id is
-- only unique within that provider.
ALTER TABLE sms_messages ADD COLUMN provider TEXT;
ALTER TABLE sms_messages ADD COLUMN channel TEXT NOT NULL DEFAULT 'sms';
UPDATE sms_messages SET provider = CASE
    WHEN provider_sid LIKE 'console-%' THEN 'console'
    ELSE 'twilio' END
  WHERE provider_sid IS NOT NULL OR fingerprint IS NOT NULL;
ALTER TABLE sms_messages DROP CONSTRAINT sms_messages_provider_sid_key;
ALTER TABLE sms_messages ADD CONSTRAINT sms_messages_provider_sid_key UNIQUE (provider, provider_sid);

-- Early status reports are kept per provider too.
ALTER TABLE sms_early_statuses ADD COLUMN provider TEXT NOT NULL DEFAULT 'twilio';
ALTER TABLE sms_early_statuses ALTER COLUMN provider DROP DEFAULT;
ALTER TABLE sms_early_statuses DROP CONSTRAINT sms_early_statuses_pkey;
ALTER TABLE sms_early_statuses ADD PRIMARY KEY (provider, sid);

-- The last message as the record shows it, and each delivery outcome in its history.
ALTER TABLE phone_numbers ADD COLUMN last_message_provider TEXT;
ALTER TABLE phone_numbers ADD COLUMN last_message_channel TEXT;
ALTER TABLE phone_history ADD COLUMN provider TEXT;
ALTER TABLE phone_history ADD COLUMN channel TEXT;
