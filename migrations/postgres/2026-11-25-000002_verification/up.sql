-- One live code per phone record; a resend replaces the row (and so kills the old code).
CREATE TABLE verification_codes (
    phone_id BIGINT PRIMARY KEY REFERENCES phone_numbers(id) ON DELETE CASCADE,
    e164 TEXT NOT NULL,              -- the number the code proves: current or pending
    code_hash TEXT NOT NULL,         -- HMAC-SHA256 keyed by a server secret
    attempts_left INTEGER NOT NULL,
    expires_at BIGINT NOT NULL,
    resend_after BIGINT NOT NULL,
    sent BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL
);

-- The transactional outbox: requests insert rows, the worker sends them.
CREATE TABLE sms_messages (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    phone_id BIGINT REFERENCES phone_numbers(id) ON DELETE SET NULL,
    to_e164 TEXT NOT NULL,
    body TEXT NOT NULL,
    kind TEXT NOT NULL,              -- code, notice, test
    status TEXT NOT NULL,            -- queued, sending, sent, delivered, undelivered, failed
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    claimed_until BIGINT,
    provider_sid TEXT UNIQUE,
    error_code BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX sms_messages_due ON sms_messages (status, next_attempt_at);
CREATE INDEX sms_messages_phone ON sms_messages (phone_id, id);

-- The phone's last message, kept beside it so reading a phone is one row.
ALTER TABLE phone_numbers ADD COLUMN last_message_id BIGINT;
ALTER TABLE phone_numbers ADD COLUMN last_message_status TEXT;
ALTER TABLE phone_numbers ADD COLUMN last_message_error BIGINT;
ALTER TABLE phone_numbers ADD COLUMN last_message_at BIGINT;
