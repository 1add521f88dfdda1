-- Email and client-network pairs that signed in successfully (hashed, like rate-limit
-- keys): their logins get the password-hashing places reserved for them, so a login
-- flood from elsewhere cannot shut the owner out.
CREATE TABLE known_sign_ins (
    pair TEXT PRIMARY KEY,
    last_at BIGINT NOT NULL
);
CREATE INDEX known_sign_ins_last_at ON known_sign_ins (last_at);
