-- Principals as CloudTrail logs them (issue 13): the strings a responder copies from a log that a principal's key
-- does not give — a federated-user ARN, the unique id of a principalId (`AROA...` of `AROA...:session`), an IAM
-- Identity Center or SSO user name — each mapped to the stored principal and the userIdentity.arn its calls were
-- logged with ('' for all of them). Few rows per principal, written once each by the writer. An assumed-role session
-- ARN needs a row only when its calls are not stored under the role it names (no sessionIssuer, edited data).
CREATE TABLE IF NOT EXISTS logged_identities (
    text         TEXT NOT NULL,
    principal_id INTEGER NOT NULL REFERENCES principals(id),
    arn          TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (text, principal_id, arn)
) WITHOUT ROWID;
INSERT OR IGNORE INTO logged_identities(text, principal_id, arn)
SELECT DISTINCT e.user_identity_arn, e.principal_id, e.user_identity_arn
  FROM events e JOIN principals p ON p.id = e.principal_id
 WHERE e.user_identity_arn IS NOT NULL AND e.user_identity_arn <> p.key AND e.user_identity_arn IS NOT p.arn
   AND NOT (p.type = 'Role' AND e.user_identity_arn LIKE 'arn:%:sts::' || p.account_id || ':assumed-role/' || p.name || '/%');
-- The other account's copy of a cross-account call (userIdentity.type AWSAccount, same sharedEventID): only those
-- rows are indexed (AWS services' calls carry a sharedEventID too, most of a trail's S3 and KMS events).
CREATE INDEX IF NOT EXISTS events_shared_event ON events(shared_event_id)
 WHERE shared_event_id IS NOT NULL AND user_identity_type = 'AWSAccount';
-- CloudTrail Insights events (`timeline --insights`): a handful in a trail.
CREATE INDEX IF NOT EXISTS events_insight ON events(event_time) WHERE event_type = 'AwsCloudTrailInsight';
