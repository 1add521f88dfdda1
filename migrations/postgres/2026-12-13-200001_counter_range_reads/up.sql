-- The fraud guard reads its counters by key range of rate_counters' primary key (every
-- row under a prefix, from a window start on) on every send, once before it counts and
-- once after. Each connection keeps these reads prepared, and PostgreSQL plans a kept
-- statement for the table as it is at that moment: on a new database the table is
-- nearly empty, a sequential scan is the cheapest plan, and that plan stays in every
-- connection's cache until the next ANALYZE, a minute or more later, while the table
-- grows to thousands of rows. Measured under `scripts/bench.sh`: each second look took
-- 3-30 ms, scanning the whole table while the send held the counters every other send
-- waits for.
--
-- This function holds the reads, planned without sequential scans: a key range of the
-- primary key is always an index range. One call takes parallel arrays, one range
-- each: every row with `lo <= key < hi` in a window from `since` on.
CREATE FUNCTION phonereg_counter_ranges(lo TEXT[], hi TEXT[], since BIGINT[])
RETURNS TABLE (key TEXT, window_start BIGINT, count BIGINT)
LANGUAGE plpgsql STABLE
ROWS 32
SET enable_seqscan = off
AS $$
BEGIN
    RETURN QUERY
        SELECT c.key, c.window_start, c.count
        FROM unnest(lo, hi, since) AS p (lo, hi, since)
        CROSS JOIN LATERAL (
            SELECT r.key, r.window_start, r.count FROM rate_counters r
            WHERE r.key >= p.lo AND r.key < p.hi AND r.window_start >= p.since
        ) c;
END
$$;
