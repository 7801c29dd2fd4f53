-- Directory accounts (AD/LDAP): one row per directory entry, tied to one identity,
-- found by its immutable id (objectGUID / entryUUID). Lists are JSON text.

CREATE TABLE directory_accounts (
    unique_id TEXT PRIMARY KEY,
    identity_id TEXT NOT NULL REFERENCES identities(id),
    dn TEXT NOT NULL,
    username TEXT NOT NULL,
    upn TEXT,
    enabled INTEGER NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0,
    group_dns TEXT NOT NULL,
    roles TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    seen_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX directory_accounts_identity ON directory_accounts(identity_id);
CREATE INDEX directory_accounts_username ON directory_accounts(username);
CREATE INDEX directory_accounts_upn ON directory_accounts(upn);

-- A login that the directory answered "password expired / must change": the
-- change-password page of the same authorization flow.
CREATE TABLE password_changes (
    id TEXT PRIMARY KEY,
    flow_id TEXT NOT NULL,
    login TEXT NOT NULL,
    dn TEXT NOT NULL,
    reason TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);

CREATE TABLE ldap_sync_runs (
    id TEXT PRIMARY KEY,
    mode TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    finished_at INTEGER,
    seen INTEGER NOT NULL DEFAULT 0,
    created INTEGER NOT NULL DEFAULT 0,
    linked INTEGER NOT NULL DEFAULT 0,
    updated INTEGER NOT NULL DEFAULT 0,
    unchanged INTEGER NOT NULL DEFAULT 0,
    disabled INTEGER NOT NULL DEFAULT 0,
    enabled INTEGER NOT NULL DEFAULT 0,
    deleted INTEGER NOT NULL DEFAULT 0,
    conflicts INTEGER NOT NULL DEFAULT 0,
    group_count INTEGER NOT NULL DEFAULT 0,
    marker TEXT,
    error TEXT
);

-- The sync links accounts to identities by login name, compared lower-case.
CREATE INDEX identities_username_lower ON identities(lower(username));
