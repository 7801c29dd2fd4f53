-- The dashboard counts identities by status on every load: an index it can read alone.
CREATE INDEX identities_status ON identities(status);
