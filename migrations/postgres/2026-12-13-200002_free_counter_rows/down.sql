DROP FUNCTION phonereg_hit_free_rows_once(TEXT, BIGINT, BIGINT, TEXT[], BIGINT[], BIGINT[], INT[]);
DROP FUNCTION phonereg_hit_free_rows(TEXT[], BIGINT[], BIGINT[], INT[]);
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
