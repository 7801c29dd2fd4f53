-- The audit page and its export read the trail newest first by keyset on (at, id), filtered
-- by person (subject or actor), client or kind: each filter reads an index in that order, so
-- a page costs the same on the first day and after a million events.

DROP INDEX audit_events_at;
CREATE INDEX audit_events_at_id ON audit_events(at, id);
DROP INDEX audit_events_subject;
CREATE INDEX audit_events_subject_at ON audit_events(subject, at, id);
CREATE INDEX audit_events_actor_at ON audit_events(actor, at, id);
CREATE INDEX audit_events_client_at ON audit_events(client_id, at, id);
DROP INDEX audit_events_kind_at;
CREATE INDEX audit_events_kind_at ON audit_events(kind, at, id);
