-- The SMS fraud guard (SPEC §9). Its send and verify counts live in rate_counters
-- (hourly rows keyed fraud:r:<range>:s|v and fraud:c:<country>:s|v); these tables hold
-- what it decided. Shared by every API process.

-- A paused destination range ('+55119') or country ('BR'). Active while until > now
-- and not lifted; enforced is false for pauses taken in record mode (shown, not applied).
CREATE TABLE sms_fraud_pauses (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    country TEXT NOT NULL,
    since BIGINT NOT NULL,
    until BIGINT NOT NULL,
    sent BIGINT NOT NULL,
    verified BIGINT NOT NULL,
    enforced BOOLEAN NOT NULL,
    lifted_at BIGINT
);
CREATE INDEX sms_fraud_pauses_key ON sms_fraud_pauses (key, until);

-- What the guard decided and when: pauses, record-mode pauses, lifts.
CREATE TABLE sms_fraud_decisions (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at BIGINT NOT NULL,
    action TEXT NOT NULL,
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    country TEXT NOT NULL,
    sent BIGINT NOT NULL,
    verified BIGINT NOT NULL,
    pause_id BIGINT
);
CREATE INDEX sms_fraud_decisions_at ON sms_fraud_decisions (at);
