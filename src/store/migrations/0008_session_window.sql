-- Sessions a timeline follows (docs/correlation.md): the issue-time range and the expiration filter are read from
-- the index alone. A busy principal issues thousands of sessions in the 36 hours before a window, and reading each
-- row for its expiration cost more than the rest of an hour's timeline.
DROP INDEX IF EXISTS sessions_issuer_principal;
DROP INDEX IF EXISTS sessions_issuer_key;
CREATE INDEX sessions_issuer_principal ON sessions(issuer_principal_id, issued_ms, expiration_ms, access_key_id)
 WHERE issuer_principal_id IS NOT NULL;
CREATE INDEX sessions_issuer_key ON sessions(issuer_access_key_id, issued_ms, expiration_ms, access_key_id)
 WHERE issuer_access_key_id IS NOT NULL;
