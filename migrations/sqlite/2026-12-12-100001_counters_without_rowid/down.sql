CREATE TABLE rate_counters_by_rowid (
    key TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    count BIGINT NOT NULL,
    PRIMARY KEY (key, window_start)
);
INSERT INTO rate_counters_by_rowid (key, window_start, count)
    SELECT key, window_start, count FROM rate_counters;
DROP TABLE rate_counters;
ALTER TABLE rate_counters_by_rowid RENAME TO rate_counters;
