-- Issue 24: counter subjects and known sign-ins are now a keyed hash (HMAC keyed by the
-- server's secret). The rows written before held a number, an address or an unsalted
-- SHA-256 of one, and no new key matches them: delete them now rather than leave them
-- until pruning (90 days for known sign-ins). Current windows start again once. The
-- fraud guard's range and country counters keep their readable keys.
DELETE FROM rate_counters WHERE key NOT LIKE 'fraud:%';
DELETE FROM known_sign_ins;
