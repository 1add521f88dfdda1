-- Issue #25: fewer round trips on PostgreSQL's write paths, as functions.
--
-- 1. A write that decides on a row it must read after taking an advisory lock (send-code
-- and verify on a phone record, sms start and sign-in on a number's code) took two round
-- trips, the lock and then the read. `phonereg_locked_record` and
-- `phonereg_locked_auth_code` do both in one.
--
-- Why a function and not one statement: under READ COMMITTED a statement reads from the
-- snapshot taken when it starts, so `SELECT … WHERE pg_advisory_xact_lock(…) IS NOT
-- NULL` would read the rows as they were before the lock was granted, and miss the code
-- the request that held the lock committed. A VOLATILE function takes a new snapshot for
-- each statement it runs (PostgreSQL docs, "Function Volatility Categories"), so its
-- read, which runs after `pg_advisory_xact_lock` returned, sees every commit made before
-- the lock was granted. PL/pgSQL keeps the plan of its query across calls. The callers
-- pass the lock keys, which stay computed in Rust (crates/api/src/persistence).

-- The phone record `record_id` of `owner_id` with its live code (NULL when none), after
-- taking the record's lock (`pg_advisory_xact_lock(lock_space, lock_key)`). No row when
-- the account has no such record; the lock is taken all the same.
CREATE FUNCTION phonereg_locked_record(
    lock_space INTEGER, lock_key INTEGER, record_id BIGINT, owner_id BIGINT
) RETURNS TABLE (phone phone_numbers, code verification_codes)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(lock_space, lock_key);
    RETURN QUERY
        SELECT p, c
        FROM phone_numbers p LEFT JOIN verification_codes c ON c.phone_id = p.id
        WHERE p.id = record_id AND p.user_id = owner_id;
END
$$;

-- The live code of number `number_e164` for `code_purpose`, if any, after taking the
-- pair's lock (`pg_advisory_xact_lock(lock_key)`).
CREATE FUNCTION phonereg_locked_auth_code(
    lock_key BIGINT, number_e164 TEXT, code_purpose TEXT
) RETURNS SETOF auth_codes
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(lock_key);
    RETURN QUERY
        SELECT * FROM auth_codes a WHERE a.e164 = number_e164 AND a.purpose = code_purpose;
END
$$;

-- 2. The caps of a send, its striped counters included, in one upsert all-or-nothing
-- (crates/api/src/persistence/rate_limits.rs, `hit_capped_or_none`): each counter row
-- `want_keys[i]` in window `want_windows[i]` gains one if it holds fewer than
-- `want_caps[i]` (a missing row is created at 1), locked in the order given. When a
-- row was full nothing is counted and no row stays locked (the block is a
-- subtransaction, rolled back): no rows come back, and the caller counts one row at a
-- time, in order. This was a `SAVEPOINT`, the upsert, and `ROLLBACK TO` when a row was
-- full: one round trip more on every send.
CREATE FUNCTION phonereg_hit_capped_or_none(
    want_keys TEXT[], want_windows BIGINT[], want_caps BIGINT[]
) RETURNS TABLE (counted_key TEXT, counted_window BIGINT, counted_count BIGINT)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    k TEXT[];
    w BIGINT[];
    n BIGINT[];
BEGIN
    BEGIN
        WITH want AS (
            SELECT * FROM unnest(want_keys, want_windows, want_caps) WITH ORDINALITY
                AS u (key, window_start, cap, ord)
        ), hit AS (
            INSERT INTO rate_counters AS r (key, window_start, count)
            SELECT want.key, want.window_start, 1 FROM want ORDER BY want.ord
            ON CONFLICT (key, window_start) DO UPDATE SET count = r.count + 1
            WHERE r.count < (SELECT x.cap FROM want x
                             WHERE x.key = excluded.key AND x.window_start = excluded.window_start)
            RETURNING r.key, r.window_start, r.count
        )
        SELECT array_agg(hit.key), array_agg(hit.window_start), array_agg(hit.count)
            INTO k, w, n FROM hit;
        IF coalesce(cardinality(k), 0) < cardinality(want_keys) THEN
            RAISE EXCEPTION 'a capped counter row was full' USING ERRCODE = 'PRFUL';
        END IF;
    EXCEPTION WHEN SQLSTATE 'PRFUL' THEN
        RETURN;
    END;
    RETURN QUERY SELECT * FROM unnest(k, w, n);
END
$$;
