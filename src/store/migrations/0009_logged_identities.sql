-- Principals as CloudTrail logs them (issue 13): the strings a responder copies from a log — an assumed-role
-- session ARN, a federated-user ARN, a principalId (`AROA...:session`), an IAM Identity Center user name — each
-- mapped to the stored principal and the userIdentity.arn its calls were logged with ('' when none). Rows are
-- written once per distinct string by the writer; the principal's own key and ARN are not repeated here.
CREATE TABLE IF NOT EXISTS logged_identities (
    text         TEXT NOT NULL,
    principal_id INTEGER NOT NULL REFERENCES principals(id),
    arn          TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (text, principal_id, arn)
) WITHOUT ROWID;
INSERT OR IGNORE INTO logged_identities(text, principal_id, arn)
SELECT DISTINCT e.user_identity_arn, e.principal_id, e.user_identity_arn
  FROM events e JOIN principals p ON p.id = e.principal_id
 WHERE e.user_identity_arn IS NOT NULL AND e.user_identity_arn <> p.key AND e.user_identity_arn IS NOT p.arn;
-- The other account's copy of a cross-account call (same sharedEventID): only cross-account events carry one.
CREATE INDEX IF NOT EXISTS events_shared_event ON events(shared_event_id) WHERE shared_event_id IS NOT NULL;
