-- /metrics counts the live sessions once a minute (trousseau_sessions_active): only sessions
-- not ended and not past their lifetime are read, through this index, however many ended
-- sessions the table keeps.
CREATE INDEX sso_sessions_open ON sso_sessions(expires_at) WHERE ended_at IS NULL;
