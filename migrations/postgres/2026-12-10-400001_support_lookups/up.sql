-- SPEC §12 support API and account deletion: an operator finds the accounts holding a
-- number (its pending change included), and deleting an account removes its sign-in and
-- reset codes, which are keyed by number and name the account without a foreign key.
CREATE INDEX phone_numbers_pending_e164 ON phone_numbers (pending_e164) WHERE pending_e164 IS NOT NULL;
CREATE INDEX auth_codes_user ON auth_codes (user_id) WHERE user_id IS NOT NULL;
