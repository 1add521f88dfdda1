ALTER TABLE phone_history DROP COLUMN channel;
ALTER TABLE phone_history DROP COLUMN provider;
ALTER TABLE phone_numbers DROP COLUMN last_message_channel;
ALTER TABLE phone_numbers DROP COLUMN last_message_provider;
DELETE FROM sms_early_statuses WHERE provider <> 'twilio';
ALTER TABLE sms_early_statuses DROP CONSTRAINT sms_early_statuses_pkey;
ALTER TABLE sms_early_statuses ADD PRIMARY KEY (sid);
ALTER TABLE sms_early_statuses DROP COLUMN provider;
UPDATE sms_messages SET provider_sid = provider || ':' || provider_sid
  WHERE provider NOT IN ('twilio', 'console') AND provider_sid IS NOT NULL;
ALTER TABLE sms_messages DROP CONSTRAINT sms_messages_provider_sid_key;
ALTER TABLE sms_messages ADD CONSTRAINT sms_messages_provider_sid_key UNIQUE (provider_sid);
ALTER TABLE sms_messages DROP COLUMN channel;
ALTER TABLE sms_messages DROP COLUMN provider;
