-- CPS cards: every card certificate seen (issuer + serial), the identity it reached, first
-- and last use, and an administrator's block; structure-card bindings; IdNats that an
-- administrator expects a first card login to link.

CREATE TABLE card_credentials (
    id TEXT PRIMARY KEY,
    issuer TEXT NOT NULL,
    serial TEXT NOT NULL,
    identity_id TEXT REFERENCES identities(id),
    idnat TEXT,
    holder TEXT,
    not_after BIGINT,
    first_seen_at BIGINT,
    last_used_at BIGINT,
    blocked_at BIGINT,
    blocked_by TEXT,
    block_reason TEXT,
    UNIQUE (issuer, serial)
);
CREATE INDEX card_credentials_identity ON card_credentials(identity_id);

CREATE TABLE card_bindings (
    idnat TEXT PRIMARY KEY,
    identity_id TEXT NOT NULL REFERENCES identities(id),
    bound_at BIGINT NOT NULL,
    bound_by TEXT NOT NULL
);

CREATE TABLE card_expectations (
    idnat TEXT PRIMARY KEY,
    identity_id TEXT NOT NULL UNIQUE REFERENCES identities(id),
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL
);
