-- Trousseau's foundation schema. Ids are TEXT (UUID v7 or hashes), times are
-- unix seconds, booleans are 0/1 integers, lists are JSON text: one query set
-- serves SQLite and PostgreSQL.

CREATE TABLE identities (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    given_name TEXT NOT NULL,
    family_name TEXT NOT NULL,
    email TEXT,
    status TEXT NOT NULL DEFAULT 'active',
    status_reason TEXT,
    status_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE credentials (
    id TEXT PRIMARY KEY,
    identity_id TEXT NOT NULL REFERENCES identities(id),
    kind TEXT NOT NULL,
    secret TEXT,
    label TEXT,
    data TEXT,
    disabled BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT
);
CREATE INDEX credentials_identity ON credentials(identity_id, kind);

CREATE TABLE login_throttle (
    key TEXT PRIMARY KEY,
    failures BIGINT NOT NULL,
    window_start BIGINT NOT NULL,
    locks BIGINT NOT NULL DEFAULT 0,
    locked_until BIGINT
);

CREATE TABLE clients (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    secret_hash TEXT,
    public BIGINT NOT NULL,
    auth_method TEXT NOT NULL,
    jwks TEXT,
    redirect_uris TEXT NOT NULL,
    post_logout_redirect_uris TEXT NOT NULL,
    grants TEXT NOT NULL,
    scopes TEXT NOT NULL,
    signing_alg TEXT NOT NULL,
    backchannel_logout_uri TEXT,
    first_party BIGINT NOT NULL,
    require_pkce BIGINT NOT NULL,
    min_acr TEXT,
    max_auth_age BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY,
    alg TEXT NOT NULL,
    state TEXT NOT NULL,
    public_jwk TEXT NOT NULL,
    private_enc TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    activated_at BIGINT,
    retired_at BIGINT,
    publish_until BIGINT
);

CREATE TABLE sso_sessions (
    id TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    identity_id TEXT NOT NULL REFERENCES identities(id),
    created_at BIGINT NOT NULL,
    last_active_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    auth_time BIGINT NOT NULL,
    ended_at BIGINT,
    end_reason TEXT
);
CREATE INDEX sso_sessions_identity ON sso_sessions(identity_id);

CREATE TABLE auth_events (
    id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sso_sessions(id),
    identity_id TEXT NOT NULL,
    method TEXT NOT NULL,
    amr TEXT NOT NULL,
    user_verified BIGINT NOT NULL,
    phishing_resistant BIGINT NOT NULL,
    at BIGINT NOT NULL,
    source_ip TEXT
);
CREATE INDEX auth_events_session ON auth_events(session_id);

CREATE TABLE session_clients (
    session_id TEXT NOT NULL REFERENCES sso_sessions(id),
    client_id TEXT NOT NULL,
    first_at BIGINT NOT NULL,
    PRIMARY KEY (session_id, client_id)
);

CREATE TABLE auth_flows (
    id TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    params TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    login_done BIGINT NOT NULL DEFAULT 0,
    consent_done BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE auth_codes (
    code_hash TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    identity_id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    scope TEXT NOT NULL,
    nonce TEXT,
    code_challenge TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    family_id TEXT,
    access_jti TEXT,
    access_expires_at BIGINT
);

CREATE TABLE refresh_families (
    id TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    identity_id TEXT NOT NULL,
    session_id TEXT,
    scope TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT,
    revoked_reason TEXT,
    session_claims TEXT NOT NULL
);
CREATE INDEX refresh_families_session ON refresh_families(session_id);
CREATE INDEX refresh_families_identity ON refresh_families(identity_id);

CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    family_id TEXT NOT NULL REFERENCES refresh_families(id),
    created_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX refresh_tokens_family ON refresh_tokens(family_id);

CREATE TABLE revoked_tokens (
    jti TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);

CREATE TABLE used_assertions (
    jti TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);

CREATE TABLE consents (
    identity_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    scopes TEXT NOT NULL,
    granted_at BIGINT NOT NULL,
    PRIMARY KEY (identity_id, client_id)
);

CREATE TABLE par_requests (
    uri_hash TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    params TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);

CREATE TABLE logout_deliveries (
    id TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    uri TEXT NOT NULL,
    logout_token TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    locked_until BIGINT,
    last_error TEXT,
    done_at BIGINT,
    failed_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX logout_deliveries_due ON logout_deliveries(done_at, failed_at, next_attempt_at);

CREATE TABLE audit_events (
    id TEXT PRIMARY KEY,
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    outcome TEXT NOT NULL,
    reason TEXT,
    actor TEXT,
    subject TEXT,
    client_id TEXT,
    source_ip TEXT,
    request_id TEXT,
    details TEXT
);
CREATE INDEX audit_events_at ON audit_events(at);
CREATE INDEX audit_events_subject ON audit_events(subject);
