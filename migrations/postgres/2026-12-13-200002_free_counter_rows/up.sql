-- Counting a send on PostgreSQL without queueing behind other sends (issue 25).
--
-- A counter every send shares (a client network, the daily budget, the fraud guard's
-- range, country and global counts) is striped over a few rows, and each send took one
-- row chosen at random, waiting when another transaction held it. A send holds its rows
-- until it commits, and it counts six such counters, so under 16 concurrent sends nearly
-- every send met a held row, and then waited for that send's whole remaining
-- transaction while holding its own rows: sends queued behind each other (under
-- scripts/bench.sh most of the time a send spent in PostgreSQL was `Lock:transactionid`).
--
-- `phonereg_hit_free_rows` takes, for each counter in turn, a row of it that no other
-- transaction holds and that has room (`FOR UPDATE SKIP LOCKED`), and waits only when
-- every row with room is held or none exists yet. Arguments are parallel arrays of
-- candidate rows: `want_counter[i]` says which counter row i belongs to (counters
-- numbered 1, 2, … in the order to count them, each counter's rows together, in the
-- order to try them), `want_caps[i]` how many that row may hold. Returns one row per
-- counter: its number, the key of the row it took and that row's new count. When every
-- row of a counter is full, nothing is counted and no row stays locked (the block is a
-- subtransaction, rolled back): no rows come back.
--
-- No two sends wait on each other in a circle: every send counts its counters in the
-- same order, waits at most on one row at a time, never keeps a row of a counter
-- locked while it waits for another row of the same counter, and having taken a row
-- of a counter never comes back to it.
CREATE FUNCTION phonereg_hit_free_rows(
    want_keys TEXT[], want_windows BIGINT[], want_caps BIGINT[], want_counter INT[]
) RETURNS TABLE (counter INT, counted_key TEXT, counted_count BIGINT)
LANGUAGE plpgsql VOLATILE
-- Rows by key only: see 2026-12-13-200001 (a plan kept from a small table scans it all).
SET enable_seqscan = off
AS $$
DECLARE
    n INT := coalesce(cardinality(want_keys), 0);
    i INT := 1;
    j INT;
    m INT;
    got_key TEXT;
    got_count BIGINT;
    out_counter INT[] := '{}';
    out_key TEXT[] := '{}';
    out_count BIGINT[] := '{}';
BEGIN
    BEGIN
        WHILE i <= n LOOP
            j := i;
            WHILE j <= n AND want_counter[j] = want_counter[i] LOOP
                j := j + 1;
            END LOOP;
            got_key := NULL;
            IF j - i > 1 THEN
                -- A row of this counter with room that no one holds, in the order given
                -- (two point lookups by key: a row comparison with a subquery would not
                -- use the index).
                SELECT f.key INTO got_key FROM rate_counters f
                WHERE f.key = ANY (want_keys[i:j - 1]) AND f.window_start = want_windows[i]
                    AND f.count < want_caps[i - 1 + array_position(want_keys[i:j - 1], f.key)]
                ORDER BY array_position(want_keys[i:j - 1], f.key)
                LIMIT 1
                FOR UPDATE SKIP LOCKED;
                IF got_key IS NOT NULL THEN
                    UPDATE rate_counters r SET count = r.count + 1
                    WHERE r.key = got_key AND r.window_start = want_windows[i]
                    RETURNING r.count INTO got_count;
                END IF;
            END IF;
            -- None: the rows with room are all held, or not created yet. Take them in
            -- order, waiting for a held one, until one has room. A plain conditional
            -- UPDATE leaves a full row unlocked (an ON CONFLICT DO UPDATE would lock it
            -- even when it changes nothing, and two sends trying the rows in different
            -- orders would then wait on each other).
            m := i;
            WHILE got_key IS NULL AND m < j LOOP
                UPDATE rate_counters r SET count = r.count + 1
                WHERE r.key = want_keys[m] AND r.window_start = want_windows[m]
                    AND r.count < want_caps[m]
                RETURNING r.key, r.count INTO got_key, got_count;
                IF got_key IS NULL THEN
                    INSERT INTO rate_counters AS r (key, window_start, count)
                    VALUES (want_keys[m], want_windows[m], 1)
                    ON CONFLICT (key, window_start) DO NOTHING
                    RETURNING r.key, r.count INTO got_key, got_count;
                END IF;
                IF got_key IS NULL THEN
                    -- Created by another transaction since the UPDATE looked.
                    UPDATE rate_counters r SET count = r.count + 1
                    WHERE r.key = want_keys[m] AND r.window_start = want_windows[m]
                        AND r.count < want_caps[m]
                    RETURNING r.key, r.count INTO got_key, got_count;
                END IF;
                m := m + 1;
            END LOOP;
            IF got_key IS NULL THEN
                RAISE EXCEPTION 'every row of a capped counter was full' USING ERRCODE = 'PRFUL';
            END IF;
            out_counter := out_counter || want_counter[i];
            out_key := out_key || got_key;
            out_count := out_count || got_count;
            i := j;
        END LOOP;
    EXCEPTION WHEN SQLSTATE 'PRFUL' THEN
        RETURN;
    END;
    RETURN QUERY SELECT * FROM unnest(out_counter, out_key, out_count);
END
$$;

-- A verify's credit: takes the row of `once_key` unless the key has a row in a window
-- from `since` on, and only then counts the candidates as `phonereg_hit_free_rows` does
-- (uncapped: the guard's verified counts). Whether it took the row.
CREATE FUNCTION phonereg_hit_free_rows_once(
    once_key TEXT, once_window BIGINT, since BIGINT,
    want_keys TEXT[], want_windows BIGINT[], want_caps BIGINT[], want_counter INT[]
) RETURNS BOOLEAN
LANGUAGE plpgsql VOLATILE
SET enable_seqscan = off
AS $$
BEGIN
    INSERT INTO rate_counters (key, window_start, count)
    SELECT once_key, once_window, 1
    WHERE NOT EXISTS (
        SELECT 1 FROM rate_counters WHERE key = once_key AND window_start >= since)
    ON CONFLICT (key, window_start) DO NOTHING;
    IF NOT FOUND THEN
        RETURN FALSE;
    END IF;
    PERFORM phonereg_hit_free_rows(want_keys, want_windows, want_caps, want_counter);
    RETURN TRUE;
END
$$;

-- Replaced by phonereg_hit_free_rows.
DROP FUNCTION phonereg_hit_capped_or_none(TEXT[], BIGINT[], BIGINT[]);
