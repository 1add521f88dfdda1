-- Issue #21: one provider boundary (SPEC §13).
--
-- Each message records who carries it (`provider`: console, twilio, http, script; set
-- when it is first claimed, so a message whose send may have landed is looked up at
-- the provider it was sent to) and how (`channel`, `sms`). A provider's message id is
-- only unique within that provider, so the column-level UNIQUE on `provider_sid` becomes
-- UNIQUE (provider, provider_sid). SQLite cannot drop a column constraint: the table is
-- rebuilt, keeping its ids and its AUTOINCREMENT high-water mark.
CREATE TABLE sms_messages_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    phone_id BIGINT REFERENCES phone_numbers(id) ON DELETE SET NULL,
    to_e164 TEXT NOT NULL,
    body TEXT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms BIGINT NOT NULL,
    claimed_until BIGINT,
    provider_sid TEXT,
    error_code BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    locale TEXT NOT NULL DEFAULT 'en',
    fingerprint TEXT,
    code_expires_at BIGINT,
    trace_context TEXT,
    provider TEXT,
    channel TEXT NOT NULL DEFAULT 'sms',
    UNIQUE (provider, provider_sid)
);
INSERT INTO sms_messages_new (id, phone_id, to_e164, body, kind, status, attempts,
    next_attempt_ms, claimed_until, provider_sid, error_code, created_at, updated_at,
    locale, fingerprint, code_expires_at, trace_context, provider)
SELECT id, phone_id, to_e164, body, kind, status, attempts, next_attempt_ms,
    claimed_until, provider_sid, error_code, created_at, updated_at, locale, fingerprint,
    code_expires_at, trace_context,
    CASE WHEN provider_sid LIKE 'console-%' THEN 'console'
         WHEN provider_sid IS NOT NULL OR fingerprint IS NOT NULL THEN 'twilio'
    END
FROM sms_messages;
INSERT INTO sqlite_sequence (name, seq)
    SELECT 'sms_messages_new', seq FROM sqlite_sequence WHERE name = 'sms_messages'
    AND NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'sms_messages_new');
UPDATE sqlite_sequence
    SET seq = MAX(seq, (SELECT seq FROM sqlite_sequence WHERE name = 'sms_messages'))
    WHERE name = 'sms_messages_new'
    AND EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'sms_messages');
DROP TABLE sms_messages;
ALTER TABLE sms_messages_new RENAME TO sms_messages;
CREATE INDEX sms_messages_phone ON sms_messages (phone_id, id);
CREATE INDEX sms_messages_queued ON sms_messages (id) WHERE status = 'queued' AND provider_sid IS NULL;

-- Early status reports are kept per provider too.
CREATE TABLE sms_early_statuses_new (
    provider TEXT NOT NULL,
    sid TEXT NOT NULL,
    status TEXT NOT NULL,
    error_code BIGINT,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (provider, sid)
);
INSERT INTO sms_early_statuses_new (provider, sid, status, error_code, received_at)
    SELECT 'twilio', sid, status, error_code, received_at FROM sms_early_statuses;
DROP TABLE sms_early_statuses;
ALTER TABLE sms_early_statuses_new RENAME TO sms_early_statuses;
CREATE INDEX sms_early_statuses_received ON sms_early_statuses (received_at);

-- The last message as the record shows it, and each delivery outcome in its history.
ALTER TABLE phone_numbers ADD COLUMN last_message_provider TEXT;
ALTER TABLE phone_numbers ADD COLUMN last_message_channel TEXT;
ALTER TABLE phone_history ADD COLUMN provider TEXT;
ALTER TABLE phone_history ADD COLUMN channel TEXT;
