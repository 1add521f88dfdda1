-- SPEC §8: the verified number as a credential.
ALTER TABLE users ADD COLUMN two_factor BOOLEAN NOT NULL DEFAULT FALSE;

-- Codes that prove possession of a number for a purpose (sign_in, password_reset,
-- two_factor, login): one live code per number and purpose. A row without user_id is a
-- decoy for a number with no account: it counts and answers like a live code, but its
-- hash matches no code. `challenge` binds a login code to the mfa_token that asked.
CREATE TABLE auth_codes (
    e164 TEXT NOT NULL,
    purpose TEXT NOT NULL,
    user_id BIGINT,
    code_hash TEXT NOT NULL,
    challenge TEXT,
    attempts_left INTEGER NOT NULL,
    expires_at BIGINT NOT NULL,
    resend_after BIGINT NOT NULL,
    sent BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (e164, purpose)
);
CREATE INDEX auth_codes_expires_at ON auth_codes (expires_at);

-- A password login waiting for its second factor (the mfa_token, hashed).
CREATE TABLE mfa_challenges (
    token_hash TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX mfa_challenges_expires_at ON mfa_challenges (expires_at);

-- The language a message was written in, so a retry sends the same text.
ALTER TABLE sms_messages ADD COLUMN locale TEXT NOT NULL DEFAULT 'en';
