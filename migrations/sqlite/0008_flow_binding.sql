-- Authorization flows are bound to the browser that started them (a binding cookie, stored
-- hashed) and record which session logged in or consented within them, instead of a bare flag
-- that anyone holding the flow id could use. Pending flows are short-lived: they are dropped
-- rather than converted (a person in the middle of a login at upgrade time starts again).
DROP TABLE auth_flows;

CREATE TABLE auth_flows (
    id TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    params TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    -- Last time a page of the flow was opened: a flow nobody touches goes after 10 minutes.
    touched_at INTEGER NOT NULL,
    -- SHA-256 of the browser binding cookie that created the flow.
    binding_hash TEXT NOT NULL,
    -- SHA-256 of the binding cookie of the card-login host, once a card ticket was used there.
    card_binding_hash TEXT,
    -- SHA-256 of the nonce of the one card ticket that may still be used.
    card_nonce_hash TEXT,
    -- The client address that opened the flow (after trusted proxies), for the per-address cap.
    source_ip TEXT,
    -- 1 when the flow was restarted in another browser: only a login in this flow satisfies it.
    fresh_login INTEGER NOT NULL DEFAULT 0,
    -- The session that logged in (or stepped up) within this flow.
    login_session TEXT,
    -- The session that consented within this flow.
    consent_session TEXT
);

CREATE INDEX auth_flows_source_ip ON auth_flows (source_ip, touched_at);
CREATE INDEX auth_flows_touched ON auth_flows (touched_at);
