-- Issue #22: the live code by voice or WhatsApp (SPEC §13).
--
-- A second channel resends the live code (same expiry), so the code must be readable
-- again while it lives: `code_sealed` holds it sealed with a key derived from the
-- server's secret (`nonce:digits`, the digits offset by a keyed pseudo-random number;
-- crates/api/src/services/codes.rs), NULL for a code nobody may read (a start for a
-- number without an account). `channels` lists the channels the live code went by,
-- first channel first: each channel carries one code at most once.
ALTER TABLE verification_codes ADD COLUMN code_sealed TEXT;
ALTER TABLE verification_codes ADD COLUMN channels TEXT NOT NULL DEFAULT 'sms';
ALTER TABLE auth_codes ADD COLUMN code_sealed TEXT;
ALTER TABLE auth_codes ADD COLUMN channels TEXT NOT NULL DEFAULT 'sms';
