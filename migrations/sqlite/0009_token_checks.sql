-- A replayed authorization code is marked, so that the exchange that consumed it first sees
-- the replay even when the replay lands before that exchange recorded what it issued.

ALTER TABLE auth_codes ADD COLUMN replayed_at INTEGER;
