-- The counters as one b-tree in the order of their key (SQLite's WITHOUT ROWID): every
-- send bumps several of them, and each bump wrote the table and the primary key's index;
-- now it writes one. A prune deletes neighbouring entries instead of rewriting one index
-- leaf page per row (persistence/pruning.rs). Counters hold only the current windows, so
-- the copy is small.
CREATE TABLE rate_counters_by_key (
    key TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    count BIGINT NOT NULL,
    PRIMARY KEY (key, window_start)
) WITHOUT ROWID;
INSERT INTO rate_counters_by_key (key, window_start, count)
    SELECT key, window_start, count FROM rate_counters;
DROP TABLE rate_counters;
ALTER TABLE rate_counters_by_key RENAME TO rate_counters;
