-- SPEC §12: the audit log. Append-only: rows are written in the transaction of the change
-- they record and deleted only by the retention prune. No foreign keys: a deleted
-- account's rows stay, holding only its ids. `detail` is a small JSON object, never a
-- code, token, password or message body. A later webhook outbox is fed from the same
-- transaction, keyed by `id`.
CREATE TABLE security_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at BIGINT NOT NULL,
    type TEXT NOT NULL,
    actor TEXT NOT NULL,
    actor_name TEXT,
    user_id BIGINT,
    phone_id BIGINT,
    client TEXT,
    user_agent TEXT,
    request_id TEXT,
    outcome TEXT NOT NULL,
    detail TEXT
);
CREATE INDEX security_events_user ON security_events (user_id, id);
CREATE INDEX security_events_type ON security_events (type, id);
CREATE INDEX security_events_at ON security_events (at);
