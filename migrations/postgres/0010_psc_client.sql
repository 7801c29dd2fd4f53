-- Trousseau as a client of Pro Santé Connect.
-- An authorization sent to PSC and waiting for the browser to come back to /psc/callback:
-- keyed by the hash of its state, bound to the browser that started it (hash of its binding
-- cookie), with what the callback needs (nonce, sealed PKCE verifier) and what it is for.
CREATE TABLE psc_pending (
    state_hash TEXT PRIMARY KEY,
    -- 'login' (e-CPS login, continues flow_id) or 'pairing' (pairs identity_id).
    purpose TEXT NOT NULL,
    nonce TEXT NOT NULL,
    -- The PKCE verifier, sealed with the master key.
    pkce_verifier TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    binding_hash TEXT NOT NULL,
    flow_id TEXT,
    identity_id TEXT,
    source_ip TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX psc_pending_expires ON psc_pending (expires_at);

-- Nonces of PSC ID tokens already accepted (hashed): a nonce is accepted once.
CREATE TABLE psc_used_nonces (
    nonce_hash TEXT PRIMARY KEY,
    used_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX psc_used_nonces_expires ON psc_used_nonces (expires_at);
