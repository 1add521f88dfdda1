-- SQLite only: its counters became a WITHOUT ROWID table in this migration. PostgreSQL
-- keeps its heap and primary-key index (its prune walks ctids, and a B-tree-only table
-- is not something PostgreSQL has); kept here so both backends list the same migrations.
SELECT 1;
