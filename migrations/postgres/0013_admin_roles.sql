-- Administration roles (console, admin API, helpdesk functions): assigned locally here, or
-- mapped from directory groups by [admin.roles] and kept on the directory account. Never the
-- `roles` claim of relying parties.
-- The identity check recorded before an enrolment code is handed over (who checked, which
-- document, in person or remote), and the code it authorised.

CREATE TABLE identity_roles (
    identity_id TEXT NOT NULL REFERENCES identities(id),
    role TEXT NOT NULL,
    granted_by TEXT NOT NULL,
    granted_at BIGINT NOT NULL,
    PRIMARY KEY (identity_id, role)
);

ALTER TABLE directory_accounts ADD COLUMN admin_roles TEXT NOT NULL DEFAULT '[]';

CREATE TABLE identity_checks (
    id TEXT PRIMARY KEY,
    identity_id TEXT NOT NULL REFERENCES identities(id),
    checked_by TEXT NOT NULL,
    document TEXT NOT NULL,
    remote BIGINT NOT NULL,
    checked_at BIGINT NOT NULL,
    recorded_by TEXT NOT NULL
);
CREATE INDEX identity_checks_identity ON identity_checks(identity_id, checked_at);

ALTER TABLE enrolment_codes ADD COLUMN identity_check_id TEXT REFERENCES identity_checks(id);
