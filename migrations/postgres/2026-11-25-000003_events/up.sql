-- Live updates for `GET /users/me/events`. Written in the transaction of the change;
-- every API process's streams read them, so an event raised by one reaches all.
CREATE TABLE events (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,        -- phone (data: phone id) or message (data: JSON)
    data TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX events_user ON events (user_id, id);

-- Single-use, short-lived tickets for EventSource, which cannot send headers.
CREATE TABLE event_tickets (
    ticket_hash TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    expires_at BIGINT NOT NULL
);
