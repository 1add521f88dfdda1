-- SPEC §10: single-use recovery codes of a two-factor account, stored as keyed hashes
-- (HMAC with the server's secret), so whoever holds only the SIM cannot reset the
-- account and a copy of the database cannot test guesses.
CREATE TABLE recovery_codes (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    used_at BIGINT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, code_hash)
);

-- Kept in step with the table in the same transactions, so every `user` answer can say
-- how many are left without another query.
ALTER TABLE users ADD COLUMN recovery_codes_left INTEGER NOT NULL DEFAULT 0;
