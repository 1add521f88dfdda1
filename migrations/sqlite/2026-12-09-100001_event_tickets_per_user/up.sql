-- SPEC §11: an account holds at most five live event tickets; issuing one more deletes
-- the account's oldest, which reads the account's tickets by this index.
CREATE INDEX event_tickets_user ON event_tickets (user_id, expires_at);
