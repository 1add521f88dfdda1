-- Timestamps are UNIX seconds (UTC) so both backends share one schema.rs.
CREATE TABLE users (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    full_name TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Identity columns never reuse ids: a deleted record's id is never handed out again, so it stays 404.
CREATE TABLE phone_numbers (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id BIGINT NOT NULL UNIQUE REFERENCES users(id) ON DELETE CASCADE,
    e164 TEXT NOT NULL,
    national TEXT NOT NULL,
    international TEXT NOT NULL,
    country TEXT NOT NULL,
    number_type TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('unverified', 'verified')),
    verified_at BIGINT,
    pending_e164 TEXT,
    sms_opted_out BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
-- A number can be verified on one account only; racing verifications cannot both win.
CREATE UNIQUE INDEX phone_numbers_verified_e164 ON phone_numbers (e164) WHERE status = 'verified';
CREATE INDEX phone_numbers_e164 ON phone_numbers (e164);

CREATE TABLE phone_history (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    phone_id BIGINT NOT NULL REFERENCES phone_numbers(id) ON DELETE CASCADE,
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    detail TEXT
);
CREATE INDEX phone_history_phone ON phone_history (phone_id, id);

CREATE TABLE refresh_tokens (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    family TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    rotated_at BIGINT,
    revoked_at BIGINT
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family);

-- Fixed windows aligned to UTC: one row per (limit key, window start).
CREATE TABLE rate_counters (
    key TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    count BIGINT NOT NULL,
    PRIMARY KEY (key, window_start)
);
