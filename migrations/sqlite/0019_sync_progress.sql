-- HR import runs are recorded when they start and their counters written as they go, so the
-- console can follow a run; `finished_at` stays 0 while `status` is 'running'.
ALTER TABLE hr_runs ADD COLUMN status TEXT NOT NULL DEFAULT 'succeeded';
ALTER TABLE hr_runs ADD COLUMN error TEXT;
CREATE INDEX hr_runs_started ON hr_runs(started_at);
-- Directory sync runs likewise: `finished_at` is NULL while the run goes on.
CREATE INDEX ldap_sync_runs_started ON ldap_sync_runs(started_at);
-- The console's reconciliation report pages through the findings by category, then id.
CREATE INDEX reconcile_findings_page ON reconcile_findings(category, id);
