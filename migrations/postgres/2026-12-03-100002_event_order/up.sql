-- Issue #10: events commit in any order, but their ids are taken at insert, so a
-- stream that moved past id N could miss id N-1 committing later. Each event now
-- records its transaction (a 64-bit, never-wrapping xid8), and streams read events in
-- (txid, id) order, only those of transactions older than every transaction still
-- running (pg_snapshot_xmin): that set never grows below what has been read.
ALTER TABLE events ADD COLUMN txid BIGINT NOT NULL DEFAULT (pg_current_xact_id()::text::bigint);
DROP INDEX events_user;
CREATE INDEX events_user ON events (user_id, txid, id);
CREATE INDEX events_txid ON events (txid, id);
