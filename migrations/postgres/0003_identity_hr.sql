-- Identity model (issue 3): HR data, the RPPS link, HR import runs, reconciliation
-- findings and the leases that keep one node per sync job. Dates are ISO text
-- (YYYY-MM-DD), times unix seconds.

ALTER TABLE identities ADD COLUMN employee_number TEXT;
ALTER TABLE identities ADD COLUMN department TEXT;
ALTER TABLE identities ADD COLUMN hr_arrival TEXT;
ALTER TABLE identities ADD COLUMN hr_departure TEXT;
ALTER TABLE identities ADD COLUMN birth_date TEXT;
CREATE UNIQUE INDEX identities_employee_number ON identities(employee_number);

CREATE TABLE rpps_links (
    identity_id TEXT PRIMARY KEY REFERENCES identities(id),
    idnat TEXT NOT NULL UNIQUE,
    method TEXT NOT NULL,
    linked_at BIGINT NOT NULL,
    linked_by TEXT NOT NULL
);

CREATE TABLE hr_runs (
    id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    finished_at BIGINT NOT NULL,
    lines BIGINT NOT NULL,
    created BIGINT NOT NULL,
    updated BIGINT NOT NULL,
    unchanged BIGINT NOT NULL,
    departed BIGINT NOT NULL,
    rejected BIGINT NOT NULL
);

CREATE TABLE reconcile_findings (
    id TEXT PRIMARY KEY,
    category TEXT NOT NULL,
    identity_id TEXT,
    idnat TEXT,
    detail TEXT NOT NULL,
    first_seen BIGINT NOT NULL,
    seen_at BIGINT NOT NULL
);
CREATE INDEX reconcile_findings_key ON reconcile_findings(category, identity_id, idnat);

CREATE TABLE job_leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE TABLE job_state (
    name TEXT PRIMARY KEY,
    fingerprint TEXT,
    last_run_at BIGINT
);
