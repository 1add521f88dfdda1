-- Issue #10: the transaction of each event, for PostgreSQL's commit-order reading (see
-- the PostgreSQL migration). SQLite commits one writer's batches in id order, so every
-- event here has txid 0 and streams read by id alone.
ALTER TABLE events ADD COLUMN txid BIGINT NOT NULL DEFAULT 0;
