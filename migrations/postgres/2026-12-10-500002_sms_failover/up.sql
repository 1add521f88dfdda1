-- Issue #21: automatic failover between SMS providers (SPEC §13).
--
-- `provider_tries`: retryable failures of a message at its current provider; past
-- SMS_FAILOVER_ATTEMPTS it moves to the next one (reset when it does).
ALTER TABLE sms_messages ADD COLUMN provider_tries INTEGER NOT NULL DEFAULT 0;

-- One circuit per provider, shared by every API process: retryable failures counted in
-- a fixed 60 s window; `opened_at` set once they reach SMS_CIRCUIT_FAILURES (the
-- circuit is half-open 120 s later); `disabled_at` set by an operator.
CREATE TABLE sms_circuits (
    provider TEXT PRIMARY KEY,
    window_start BIGINT NOT NULL,
    failures INTEGER NOT NULL,
    opened_at BIGINT,
    last_error TEXT,
    updated_at BIGINT NOT NULL
);
