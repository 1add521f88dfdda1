ALTER TABLE phone_numbers DROP COLUMN last_message_at;
ALTER TABLE phone_numbers DROP COLUMN last_message_error;
ALTER TABLE phone_numbers DROP COLUMN last_message_status;
ALTER TABLE phone_numbers DROP COLUMN last_message_id;
DROP TABLE sms_messages;
DROP TABLE verification_codes;
