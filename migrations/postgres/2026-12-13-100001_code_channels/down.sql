ALTER TABLE auth_codes DROP COLUMN channels;
ALTER TABLE auth_codes DROP COLUMN code_sealed;
ALTER TABLE verification_codes DROP COLUMN channels;
ALTER TABLE verification_codes DROP COLUMN code_sealed;
