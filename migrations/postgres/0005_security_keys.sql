-- FIDO2 security keys (WebAuthn credentials), the enrolment codes that authorise
-- a first key, and the pending WebAuthn ceremonies (challenge state, single use).

CREATE TABLE security_keys (
    id TEXT PRIMARY KEY,
    identity_id TEXT NOT NULL REFERENCES identities(id),
    credential_id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    credential TEXT NOT NULL,
    aaguid TEXT,
    model TEXT,
    attested BIGINT NOT NULL,
    user_verified BIGINT NOT NULL,
    counter BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    created_via TEXT NOT NULL,
    last_used_at BIGINT,
    flagged_at BIGINT,
    flag_reason TEXT,
    revoked_at BIGINT,
    revoked_by TEXT,
    revoked_reason TEXT
);
CREATE INDEX security_keys_identity ON security_keys(identity_id);

CREATE TABLE enrolment_codes (
    code_hash TEXT PRIMARY KEY,
    identity_id TEXT NOT NULL REFERENCES identities(id),
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX enrolment_codes_identity ON enrolment_codes(identity_id);

CREATE TABLE webauthn_ceremonies (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    identity_id TEXT,
    flow_id TEXT,
    code_hash TEXT,
    state TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX webauthn_ceremonies_expiry ON webauthn_ceremonies(expires_at);

-- Which credential an authentication event used (a revoked key ends its sessions).
ALTER TABLE auth_events ADD COLUMN credential_ref TEXT;
CREATE INDEX auth_events_credential ON auth_events(credential_ref);
