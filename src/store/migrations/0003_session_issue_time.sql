-- When a session was issued, so a timeline follows only the sessions that can be active in its window.
ALTER TABLE sessions ADD COLUMN issued_ms INTEGER;
DROP INDEX IF EXISTS sessions_issuer_principal;
DROP INDEX IF EXISTS sessions_issuer_key;
CREATE INDEX sessions_issuer_principal ON sessions(issuer_principal_id, issued_ms) WHERE issuer_principal_id IS NOT NULL;
CREATE INDEX sessions_issuer_key ON sessions(issuer_access_key_id, issued_ms) WHERE issuer_access_key_id IS NOT NULL;
UPDATE sessions SET issued_ms = (SELECT event_time FROM events WHERE events.id = sessions.issued_by_event)
 WHERE issued_by_event IS NOT NULL;
