-- Issue 16: a smaller store (docs/performance.md).
-- Raw chunks leave out of each record the values its event row holds verbatim (src/store/raw.rs: the event and
-- request ids, the access key, source IP, identity ARN, user agent, error message, the time when it has whole
-- seconds, and the names stored as `strings`): stored once, not twice. tg_raw_record(chunk, key, n, VALUES...) takes
-- them from the row to put them back, so the view passes them (in the order of raw::FIELDS), once per row.
DROP VIEW IF EXISTS cloudtrail_logs;
CREATE VIEW cloudtrail_logs AS
SELECT e.event_version AS eventversion,
       json_extract(e.raw, '$.userIdentity') AS useridentity,
       e.user_identity_type AS useridentity_type,
       e.user_identity_arn AS useridentity_arn,
       p.account_id AS useridentity_accountid,
       e.access_key_id AS useridentity_accesskeyid,
       strftime('%Y-%m-%dT%H:%M:%SZ', e.event_time / 1000, 'unixepoch') AS eventtime,
       e.event_source AS eventsource,
       e.event_name AS eventname,
       e.aws_region AS awsregion,
       e.source_ip AS sourceipaddress,
       e.user_agent AS useragent,
       e.error_code AS errorcode,
       e.error_message AS errormessage,
       json_extract(e.raw, '$.requestParameters') AS requestparameters,
       json_extract(e.raw, '$.responseElements') AS responseelements,
       json_extract(e.raw, '$.additionalEventData') AS additionaleventdata,
       e.request_id AS requestid,
       e.event_id AS eventid,
       json_extract(e.raw, '$.resources') AS resources,
       e.event_type AS eventtype,
       CASE e.read_only WHEN 1 THEN 'true' WHEN 0 THEN 'false' END AS readonly,
       e.recipient_account AS recipientaccountid,
       e.shared_event_id AS sharedeventid,
       e.vpc_endpoint_id AS vpcendpointid,
       e.event_category AS eventcategory,
       CASE e.management_event WHEN 1 THEN 'true' WHEN 0 THEN 'false' END AS managementevent,
       e.event_time AS eventtime_ms,
       s.path AS source_file,
       s.integrity AS integrity,
       e.id AS event_row
  FROM (SELECT e.*, tg_raw_record((SELECT c.data FROM raw_chunks c WHERE c.source_id = e.source_id AND c.chunk_no = e.record_index / 256), e.source_id * 1000000000 + e.record_index / 256, e.record_index % 256, e.event_id, e.request_id, e.access_key_id, e.source_ip, e.user_identity_arn, e.user_agent, e.error_message, CASE WHEN e.event_time % 1000 = 0 AND e.event_time BETWEEN 0 AND 253402300799000 THEN strftime('%Y-%m-%dT%H:%M:%SZ', e.event_time / 1000, 'unixepoch') END, e.event_source, e.event_name, e.aws_region, e.recipient_account, e.event_version, e.event_category, e.event_type, e.user_identity_type) AS raw
          FROM events e) e
  LEFT JOIN principals p ON p.id = e.principal_id
  LEFT JOIN sources s ON s.id = e.source_id;
-- A session's context JSON (sessionContext, onBehalfOf as first seen) was read by nothing and cost about a third of
-- the sessions table: every call made with the session holds it in its raw record (`show EVENT --raw`).
ALTER TABLE sessions DROP COLUMN context;
-- A resource's key is TYPE|ACCOUNT|REGION|ID, and an S3 object's ARN is arn:aws:s3:::BUCKET/KEY: both are derived
-- from the other columns when read (`resources` is a view with the same columns as before); the table keeps a
-- key or an ARN only where it differs from the derived one. An S3 object (most resources) has no type stored.
CREATE TABLE resource_rows (
    id          INTEGER PRIMARY KEY,
    key_hash    INTEGER NOT NULL,            -- tg_key_hash(key)
    key         TEXT,                        -- NULL: TYPE|ACCOUNT|REGION|ID
    type        TEXT,                        -- AWS Config resource type; NULL: AWS::S3::Object
    arn         TEXT,                        -- NULL for an S3 object: arn:aws:s3:::ID
    account_id  TEXT,
    region      TEXT,
    resource_id TEXT NOT NULL
);
INSERT INTO resource_rows(id, key_hash, key, type, arn, account_id, region, resource_id)
SELECT id, key_hash,
       nullif(key, type || '|' || ifnull(account_id, '') || '|' || ifnull(region, '') || '|' || resource_id),
       nullif(type, 'AWS::S3::Object'),
       CASE WHEN type = 'AWS::S3::Object' AND arn IS 'arn:aws:s3:::' || resource_id THEN NULL ELSE arn END,
       account_id, region, resource_id
  FROM resources ORDER BY id;
DROP TABLE resources;
CREATE VIEW resources AS
SELECT id, key_hash,
       coalesce(key, coalesce(type, 'AWS::S3::Object') || '|' || ifnull(account_id, '') || '|' || ifnull(region, '')
           || '|' || resource_id) AS key,
       coalesce(type, 'AWS::S3::Object') AS type,
       coalesce(arn, CASE WHEN type IS NULL THEN 'arn:aws:s3:::' || resource_id END) AS arn,
       account_id, region, resource_id
  FROM resource_rows;
CREATE INDEX resources_key ON resource_rows(key_hash);
CREATE INDEX resources_object_id ON resource_rows(resource_id) WHERE type IS NULL;
CREATE INDEX resources_resource_id ON resource_rows(resource_id) WHERE type IS NOT NULL;
-- A store whose bulk load was killed had these dropped: they were just built.
DELETE FROM deferred_indexes WHERE name IN ('resources_object_id', 'resources_resource_id');
-- Event and request ids that are canonical lowercase UUIDs are stored as their 16 bytes (src/store/ids.rs), and
-- read as text through the events view (in plain SQL, so that any SQLite client reads it), so every reader sees
-- what it saw.
-- The common values of event_type and user_identity_type are stored as a one-byte code (src/store/ids.rs), read as
-- text through the view; AwsCloudTrailInsight and AWSAccount, which partial indexes name, stay text.
UPDATE event_rows SET event_id = tg_id_compact(event_id), request_id = tg_id_compact(request_id),
    event_type = CASE event_type WHEN 'AwsApiCall' THEN x'01' WHEN 'AwsServiceEvent' THEN x'02' WHEN 'AwsConsoleAction' THEN x'03' WHEN 'AwsConsoleSignIn' THEN x'04' WHEN 'AwsVpceEvent' THEN x'05' ELSE event_type END,
    user_identity_type = CASE user_identity_type WHEN 'AssumedRole' THEN x'01' WHEN 'IAMUser' THEN x'02' WHEN 'AWSService' THEN x'03' WHEN 'Root' THEN x'04' WHEN 'FederatedUser' THEN x'05' WHEN 'WebIdentityUser' THEN x'06' WHEN 'SAMLUser' THEN x'07' WHEN 'IdentityCenterUser' THEN x'08' WHEN 'Unknown' THEN x'09' WHEN 'Directory' THEN x'0a' ELSE user_identity_type END;
DROP VIEW events;
CREATE VIEW events AS
SELECT r.id,
       r.event_key,
       CASE WHEN typeof(r.event_id) = 'blob' THEN lower(substr(hex(r.event_id), 1, 8) || '-' || substr(hex(r.event_id), 9, 4) || '-' || substr(hex(r.event_id), 13, 4) || '-' || substr(hex(r.event_id), 17, 4) || '-' || substr(hex(r.event_id), 21)) ELSE r.event_id END AS event_id,
       s_account.text AS recipient_account,
       r.variant,
       r.event_time,
       s_version.text AS event_version,
       s_source.text AS event_source,
       s_name.text AS event_name,
       s_region.text AS aws_region,
       s_ip.text AS source_ip,
       s_agent.text AS user_agent,
       s_error.text AS error_code,
       r.error_message,
       CASE WHEN typeof(r.request_id) = 'blob' THEN lower(substr(hex(r.request_id), 1, 8) || '-' || substr(hex(r.request_id), 9, 4) || '-' || substr(hex(r.request_id), 13, 4) || '-' || substr(hex(r.request_id), 17, 4) || '-' || substr(hex(r.request_id), 21)) ELSE r.request_id END AS request_id,
       CASE WHEN typeof(r.event_type) = 'blob' THEN CASE r.event_type WHEN x'01' THEN 'AwsApiCall' WHEN x'02' THEN 'AwsServiceEvent' WHEN x'03' THEN 'AwsConsoleAction' WHEN x'04' THEN 'AwsConsoleSignIn' WHEN x'05' THEN 'AwsVpceEvent' END ELSE r.event_type END AS event_type,
       s_category.text AS event_category,
       r.read_only,
       r.management_event,
       r.shared_event_id,
       r.vpc_endpoint_id,
       r.principal_id,
       CASE WHEN typeof(r.user_identity_type) = 'blob' THEN CASE r.user_identity_type WHEN x'01' THEN 'AssumedRole' WHEN x'02' THEN 'IAMUser' WHEN x'03' THEN 'AWSService' WHEN x'04' THEN 'Root' WHEN x'05' THEN 'FederatedUser' WHEN x'06' THEN 'WebIdentityUser' WHEN x'07' THEN 'SAMLUser' WHEN x'08' THEN 'IdentityCenterUser' WHEN x'09' THEN 'Unknown' WHEN x'0a' THEN 'Directory' END ELSE r.user_identity_type END AS user_identity_type,
       s_arn.text AS user_identity_arn,
       s_key.text AS access_key_id,
       r.source_id,
       r.record_index,
       r.raw_hash
  FROM event_rows r
  LEFT JOIN strings s_account ON s_account.id = r.account_s
  LEFT JOIN strings s_version ON s_version.id = r.version_s
  LEFT JOIN strings s_source ON s_source.id = r.source_s
  LEFT JOIN strings s_name ON s_name.id = r.name_s
  LEFT JOIN strings s_region ON s_region.id = r.region_s
  LEFT JOIN strings s_agent ON s_agent.id = r.agent_s
  LEFT JOIN strings s_error ON s_error.id = r.error_s
  LEFT JOIN strings s_category ON s_category.id = r.category_s
  LEFT JOIN strings s_arn ON s_arn.id = r.arn_s
  LEFT JOIN strings s_ip ON s_ip.id = r.ip_s
  LEFT JOIN strings s_key ON s_key.id = r.key_s;
-- The fingerprint (time, source, name, caller, request id) only sped up settling a record against a stored one with
-- its id: byte-identical re-deliveries are settled by raw_hash, and any other record with the id is compared with
-- the stored record in full, which decides alone (records that compare the same have the same fingerprint).
ALTER TABLE event_rows DROP COLUMN fingerprint;
-- event_resources stores the access as a number (0 target, 1 read, 2 write: SQLite writes 0 and 1 in no bytes, in
-- the table and in its index); `event_resources` is a view with the names, as before.
CREATE TABLE event_resource_rows (
    event    INTEGER NOT NULL REFERENCES event_rows(id),
    resource INTEGER NOT NULL REFERENCES resource_rows(id),
    access   INTEGER NOT NULL,               -- 0 target | 1 read | 2 write
    PRIMARY KEY (event, resource, access)
) WITHOUT ROWID;
INSERT INTO event_resource_rows(event, resource, access)
SELECT event, resource, CASE access WHEN 'target' THEN 0 WHEN 'read' THEN 1 WHEN 'write' THEN 2 END
  FROM event_resources ORDER BY 1, 2, 3;
DROP TABLE event_resources;
CREATE VIEW event_resources AS
SELECT event, resource, CASE access WHEN 0 THEN 'target' WHEN 1 THEN 'read' WHEN 2 THEN 'write' END AS access
  FROM event_resource_rows;
CREATE INDEX event_resources_resource ON event_resource_rows(resource, access, event);
DELETE FROM deferred_indexes WHERE name = 'event_resources_resource';
-- A session's ARN is the identity ARN its calls are logged with, already in `strings`: the session refers to it.
ALTER TABLE sessions ADD COLUMN arn_s INTEGER;           -- session ARN (strings.id)
INSERT OR IGNORE INTO strings(text) SELECT DISTINCT session_arn FROM sessions WHERE session_arn IS NOT NULL;
UPDATE sessions SET arn_s = (SELECT s.id FROM strings s WHERE s.text = sessions.session_arn)
 WHERE session_arn IS NOT NULL;
DROP VIEW sessions_v;
ALTER TABLE sessions DROP COLUMN session_arn;
CREATE VIEW sessions_v AS
SELECT se.access_key_id, sa.text AS session_arn, se.session_name, rp.arn AS role_arn, se.source_identity,
       CASE se.mfa_authenticated WHEN 1 THEN 'true' WHEN 0 THEN 'false' END AS mfa_authenticated,
       strftime('%Y-%m-%dT%H:%M:%SZ', se.issued_ms / 1000, 'unixepoch') AS issued,
       strftime('%Y-%m-%dT%H:%M:%SZ', se.expiration_ms / 1000, 'unixepoch') AS expiration,
       ie.event_id AS issued_by_eventid, ie.event_name AS issued_by_eventname,
       ip.arn AS issuer_arn, ip.key AS issuer_principal, se.issuer_access_key_id, se.issue_kind,
       se.on_behalf_of, se.identity_provider
  FROM sessions se
  LEFT JOIN strings sa ON sa.id = se.arn_s
  LEFT JOIN principals rp ON rp.id = se.principal_id
  LEFT JOIN events ie ON ie.id = se.issued_by_event
  LEFT JOIN principals ip ON ip.id = se.issuer_principal_id;
