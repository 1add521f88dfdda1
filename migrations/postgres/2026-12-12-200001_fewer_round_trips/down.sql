DROP FUNCTION phonereg_hit_capped_or_none(TEXT[], BIGINT[], BIGINT[]);
DROP FUNCTION phonereg_locked_auth_code(BIGINT, TEXT, TEXT);
DROP FUNCTION phonereg_locked_record(INTEGER, INTEGER, BIGINT, BIGINT);
