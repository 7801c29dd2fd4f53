-- The audit trail is sealed into a hash chain (src/audit/chain.rs): each event receives its
-- place in the chain (seq, from 1, no gaps) and a MAC over its content, its place and the MAC
-- before it, keyed by a key derived from the master key. Events stay unsealed (seq NULL) for
-- the few seconds between their writing and the next sealing round.
ALTER TABLE audit_events ADD COLUMN seq BIGINT;
ALTER TABLE audit_events ADD COLUMN mac TEXT;
-- One event per place: two sealers that raced would fail here rather than fork the chain.
CREATE UNIQUE INDEX audit_events_seq ON audit_events(seq);
CREATE INDEX audit_events_unsealed ON audit_events(at, id) WHERE seq IS NULL;

-- Where the chain starts again after a retention purge: the last purged event's place and MAC,
-- itself MACed, so that the remaining events still verify and a silent deletion of the oldest
-- events without an anchor does not.
CREATE TABLE audit_anchors (
    seq BIGINT PRIMARY KEY,
    mac TEXT NOT NULL,
    purged_before BIGINT NOT NULL,
    anchor_mac TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
