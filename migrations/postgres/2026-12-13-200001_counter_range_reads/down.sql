DROP FUNCTION phonereg_counter_ranges(TEXT[], TEXT[], BIGINT[]);
