-- A client can be disabled without being deleted (its registration and audit trail stay):
-- /authorize answers unauthorized_client and the token endpoint invalid_client while
-- `disabled_at` is set. `secret_rotated_at` is when its current secret was issued.

ALTER TABLE clients ADD COLUMN disabled_at INTEGER;
ALTER TABLE clients ADD COLUMN secret_rotated_at INTEGER;
