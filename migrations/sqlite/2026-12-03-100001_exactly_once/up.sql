-- Issue #10: exactly-once delivery.
--
-- `fingerprint`: a keyed hash (HMAC-SHA256 under a key derived from JWT_SECRET) of the
-- exact body handed to the provider, stored when a message is first claimed for sending
-- and kept after its code is erased. A message that has one but no provider Sid may
-- have reached Twilio: it is looked up there by this fingerprint before any new try.
ALTER TABLE sms_messages ADD COLUMN fingerprint TEXT;
-- When the code a message carries dies (NULL: the message carries no code). A code
-- message is retried until then, and never sent after.
ALTER TABLE sms_messages ADD COLUMN code_expires_at BIGINT;
-- Retry times in milliseconds: whole seconds ate the ±20 % jitter of short backoffs.
ALTER TABLE sms_messages RENAME COLUMN next_attempt_at TO next_attempt_ms;
UPDATE sms_messages SET next_attempt_ms = next_attempt_ms * 1000;
UPDATE sms_messages SET code_expires_at = COALESCE(
    (SELECT expires_at FROM verification_codes v WHERE v.phone_id = sms_messages.phone_id),
    created_at)
  WHERE kind = 'code';

-- Status callbacks that named a MessageSid not stored yet (Twilio can report before
-- the sender has recorded Twilio's answer). Applied when the Sid is stored; kept an
-- hour at most, and at most a bounded number of them (see persistence/outbox.rs).
CREATE TABLE sms_early_statuses (
    sid TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    error_code BIGINT,
    received_at BIGINT NOT NULL
);
CREATE INDEX sms_early_statuses_received ON sms_early_statuses (received_at);
