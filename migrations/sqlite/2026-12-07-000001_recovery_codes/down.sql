ALTER TABLE users DROP COLUMN recovery_codes_left;
DROP TABLE recovery_codes;
