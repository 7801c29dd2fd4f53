-- Security keys enrolled on the authority of e-CPS. A pairing keeps the acr of the e-CPS
-- validation that proved it. A CIBA request made for an enrolment
-- (purpose 'enrolment') proves the person's IdNat without recording a pairing: it keeps the acr
-- of the proof and when an enrolment spent it (one proof, one key). A ceremony remembers the
-- e-CPS authority it was started on (the pairing or the request), checked again, and spent,
-- when the key is stored.

ALTER TABLE pairing_requests ADD COLUMN purpose TEXT NOT NULL DEFAULT 'pairing';
ALTER TABLE pairing_requests ADD COLUMN acr TEXT;
ALTER TABLE pairing_requests ADD COLUMN used_at BIGINT;
CREATE INDEX pairing_requests_session ON pairing_requests(session_id, purpose);
ALTER TABLE webauthn_ceremonies ADD COLUMN ecps_grant TEXT;
ALTER TABLE pairings ADD COLUMN acr TEXT;
