-- The administration console's search: the folded words of each identity's names, username,
-- email and employee number (no accents, lower case), one row per word, maintained on every
-- write of those fields. A prefix search reads the index on `term`.

CREATE TABLE identity_search (
    identity_id TEXT NOT NULL REFERENCES identities(id),
    term TEXT NOT NULL COLLATE NOCASE,
    PRIMARY KEY (identity_id, term)
);
CREATE INDEX identity_search_term ON identity_search(term);

-- Logins of the day on the dashboard, read by kind and time.
CREATE INDEX audit_events_kind_at ON audit_events(kind, at);
