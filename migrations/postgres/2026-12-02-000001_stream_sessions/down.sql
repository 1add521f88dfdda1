DROP INDEX refresh_tokens_revoked;
ALTER TABLE event_tickets DROP COLUMN token_expires_at;
ALTER TABLE event_tickets DROP COLUMN session;
