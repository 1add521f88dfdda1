-- SPEC §11: a bot-challenge token is accepted once. Every API process checks tokens
-- against this one table (an in-memory list would let a token be replayed once per
-- process). Tokens are stored as SHA-256 digests and dropped once no provider would
-- still vouch for them.
CREATE TABLE captcha_tokens (
    token_hash TEXT PRIMARY KEY NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX captcha_tokens_expires_at ON captcha_tokens (expires_at);
