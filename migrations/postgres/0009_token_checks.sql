-- A replayed authorization code is marked, so that the exchange that consumed it first sees
-- the replay even when the replay lands before that exchange recorded what it issued.
-- Resource servers: a client registered with `--introspect` may introspect the access tokens
-- of every client (the others only their own).

ALTER TABLE auth_codes ADD COLUMN replayed_at BIGINT;
ALTER TABLE clients ADD COLUMN introspect BIGINT NOT NULL DEFAULT 0;
