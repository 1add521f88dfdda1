DROP INDEX auth_codes_user;
DROP INDEX phone_numbers_pending_e164;
