DROP INDEX events_txid;
DROP INDEX events_user;
CREATE INDEX events_user ON events (user_id, id);
ALTER TABLE events DROP COLUMN txid;
