-- e-CPS pairings: the national identity (IdNat) that a Pro Santé Connect validation proved for
-- an identity, by which means, when and until when; revoked rows keep who, why and when. At
-- most one active pairing per identity. Pending CIBA requests wait here, bound to the session
-- (browser and person) that started them, until the polling worker settles them.

CREATE TABLE pairings (
    id TEXT PRIMARY KEY,
    identity_id TEXT NOT NULL REFERENCES identities(id),
    idnat TEXT NOT NULL,
    means TEXT NOT NULL,
    validated_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    status TEXT NOT NULL,
    created_link INTEGER NOT NULL DEFAULT 0,
    revoked_at INTEGER,
    revoked_by TEXT,
    revoked_reason TEXT
);
CREATE UNIQUE INDEX pairings_one_active ON pairings(identity_id) WHERE status = 'active';
CREATE INDEX pairings_expiry ON pairings(status, expires_at);

CREATE TABLE pairing_requests (
    id TEXT PRIMARY KEY,
    identity_id TEXT NOT NULL REFERENCES identities(id),
    session_id TEXT NOT NULL,
    idnat TEXT NOT NULL,
    binding_message TEXT NOT NULL,
    auth_req_id TEXT NOT NULL,
    interval_secs INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    state TEXT NOT NULL,
    reason TEXT,
    pairing_id TEXT,
    settled_at INTEGER
);
CREATE INDEX pairing_requests_state ON pairing_requests(state, expires_at);
CREATE INDEX pairing_requests_identity ON pairing_requests(identity_id);
