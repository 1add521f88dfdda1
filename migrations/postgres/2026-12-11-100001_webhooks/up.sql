-- SPEC §12 outbound webhooks. A request writes at most one `webhook_events` row per event
-- (and only while an endpoint is enabled); the worker fans out: each endpoint keeps its
-- place in the events (`cursor_*`), so it gets them in order, one at a time, and a
-- lease (`lease_until_ms`, `lease_token`) lets one process at a time post its head.
CREATE TABLE webhook_endpoints (
    id BIGSERIAL PRIMARY KEY,
    url TEXT NOT NULL,
    description TEXT,
    -- A JSON array of exact types and `prefix.*` patterns.
    event_types TEXT NOT NULL,
    status TEXT NOT NULL,
    disabled_reason TEXT,
    -- `whsec_…`: needed to sign, so kept as given; never returned after creation.
    secret TEXT NOT NULL,
    previous_secret TEXT,
    previous_secret_until BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    -- The last event this endpoint is done with (read in (txid, id) order, settled only: see persistence::events).
    cursor_txid BIGINT NOT NULL DEFAULT 0,
    cursor_id BIGINT NOT NULL DEFAULT 0,
    -- Failed attempts at the head event, and since when it has been failing.
    attempts INTEGER NOT NULL DEFAULT 0,
    failing_since BIGINT,
    next_attempt_ms BIGINT NOT NULL DEFAULT 0,
    lease_until_ms BIGINT NOT NULL DEFAULT 0,
    lease_token TEXT
);
CREATE INDEX webhook_endpoints_status ON webhook_endpoints (status);

CREATE TABLE webhook_events (
    id BIGSERIAL PRIMARY KEY,
    txid BIGINT NOT NULL DEFAULT (pg_current_xact_id()::text::bigint),
    type TEXT NOT NULL,
    at_ms BIGINT NOT NULL,
    user_id BIGINT,
    phone_id BIGINT,
    e164 TEXT,
    -- A JSON object of further facts (statuses, ids); never a code, token or body.
    data TEXT NOT NULL,
    -- Test events and redeliveries go to this endpoint only.
    endpoint_id BIGINT,
    -- A redelivery: the event first sent (its `webhook-id` is reused).
    replay_of BIGINT
);
CREATE INDEX webhook_events_at ON webhook_events (at_ms);
CREATE INDEX webhook_events_place ON webhook_events (txid, id);

CREATE TABLE webhook_deliveries (
    id BIGSERIAL PRIMARY KEY,
    endpoint_id BIGINT NOT NULL,
    event_id BIGINT NOT NULL,
    webhook_id TEXT NOT NULL,
    type TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    result TEXT NOT NULL,
    status_code INTEGER,
    error TEXT,
    duration_ms BIGINT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, id);
CREATE INDEX webhook_deliveries_at ON webhook_deliveries (at);
