-- Issue #21: operators switch SMS providers off and on (SPEC §13,
-- `POST /admin/sms/providers/{name}/disable|enable`) and read each one's last hour.
--
-- `disabled_at`: set by an operator; every process skips the provider while it is set,
-- as it skips an open circuit. `closed_at`: when the circuit last closed (a success
-- after failures, or an operator's enable), for the admin view's `since`.
ALTER TABLE sms_circuits ADD COLUMN disabled_at BIGINT;
ALTER TABLE sms_circuits ADD COLUMN closed_at BIGINT;

-- Tries that did not hand a message over, per provider and minute (the admin view's
-- `failed_1h`). Counted here rather than read from `sms_messages`: a message that failed
-- at one provider and moved on names only the provider that carried it. Written only
-- when a try fails, so a healthy send costs nothing more; minutes older than an hour
-- are deleted as new ones are written.
CREATE TABLE sms_provider_failures (
    provider TEXT NOT NULL,
    minute BIGINT NOT NULL,
    failures INTEGER NOT NULL,
    PRIMARY KEY (provider, minute)
);
