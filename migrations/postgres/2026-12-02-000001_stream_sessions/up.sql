-- An event stream opened with a ticket ends with the session and access token that
-- asked for the ticket.
ALTER TABLE event_tickets ADD COLUMN session TEXT;
ALTER TABLE event_tickets ADD COLUMN token_expires_at BIGINT;
-- Each API process looks every second for sessions revoked elsewhere.
CREATE INDEX refresh_tokens_revoked ON refresh_tokens (revoked_at) WHERE revoked_at IS NOT NULL;
