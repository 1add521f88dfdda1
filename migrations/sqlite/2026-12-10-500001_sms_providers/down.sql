ALTER TABLE phone_history DROP COLUMN channel;
ALTER TABLE phone_history DROP COLUMN provider;
ALTER TABLE phone_numbers DROP COLUMN last_message_channel;
ALTER TABLE phone_numbers DROP COLUMN last_message_provider;

CREATE TABLE sms_early_statuses_old (
    sid TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    error_code BIGINT,
    received_at BIGINT NOT NULL
);
INSERT OR IGNORE INTO sms_early_statuses_old (sid, status, error_code, received_at)
    SELECT sid, status, error_code, received_at FROM sms_early_statuses;
DROP TABLE sms_early_statuses;
ALTER TABLE sms_early_statuses_old RENAME TO sms_early_statuses;
CREATE INDEX sms_early_statuses_received ON sms_early_statuses (received_at);

CREATE TABLE sms_messages_old (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    phone_id BIGINT REFERENCES phone_numbers(id) ON DELETE SET NULL,
    to_e164 TEXT NOT NULL,
    body TEXT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms BIGINT NOT NULL,
    claimed_until BIGINT,
    provider_sid TEXT UNIQUE,
    error_code BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    locale TEXT NOT NULL DEFAULT 'en',
    fingerprint TEXT,
    code_expires_at BIGINT,
    trace_context TEXT
);
INSERT INTO sms_messages_old (id, phone_id, to_e164, body, kind, status, attempts,
    next_attempt_ms, claimed_until, provider_sid, error_code, created_at, updated_at,
    locale, fingerprint, code_expires_at, trace_context)
SELECT id, phone_id, to_e164, body, kind, status, attempts, next_attempt_ms,
    claimed_until,
    CASE WHEN provider IN ('twilio', 'console') OR provider IS NULL THEN provider_sid
         ELSE provider || ':' || provider_sid END,
    error_code, created_at, updated_at, locale, fingerprint, code_expires_at, trace_context
FROM sms_messages;
DROP TABLE sms_messages;
ALTER TABLE sms_messages_old RENAME TO sms_messages;
CREATE INDEX sms_messages_phone ON sms_messages (phone_id, id);
CREATE INDEX sms_messages_queued ON sms_messages (id) WHERE status = 'queued' AND provider_sid IS NULL;
