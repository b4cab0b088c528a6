-- Views for `trailgraph sql` (issue 7, docs/sql.md): stable, documented column names over the tables above.
-- Times are ISO 8601 UTC text to the second (`2023-10-01T12:00:00Z`), so they compare as text.
-- tg_raw_record(chunk, n) decodes record n of a raw chunk: the columns that need the raw record
-- (requestparameters, responseelements, additionaleventdata, useridentity, resources) decompress a chunk
-- (cached: consecutive rows of one chunk decode it once), the others are plain columns.
CREATE VIEW IF NOT EXISTS cloudtrail_logs AS
SELECT e.event_version AS eventversion,
       json_extract(tg_raw_record((SELECT c.data FROM raw_chunks c WHERE c.source_id = e.source_id AND c.chunk_no = e.record_index / 256), e.source_id * 1000000000 + e.record_index / 256, e.record_index % 256), '$.userIdentity') AS useridentity,
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
       json_extract(tg_raw_record((SELECT c.data FROM raw_chunks c WHERE c.source_id = e.source_id AND c.chunk_no = e.record_index / 256), e.source_id * 1000000000 + e.record_index / 256, e.record_index % 256), '$.requestParameters') AS requestparameters,
       json_extract(tg_raw_record((SELECT c.data FROM raw_chunks c WHERE c.source_id = e.source_id AND c.chunk_no = e.record_index / 256), e.source_id * 1000000000 + e.record_index / 256, e.record_index % 256), '$.responseElements') AS responseelements,
       json_extract(tg_raw_record((SELECT c.data FROM raw_chunks c WHERE c.source_id = e.source_id AND c.chunk_no = e.record_index / 256), e.source_id * 1000000000 + e.record_index / 256, e.record_index % 256), '$.additionalEventData') AS additionaleventdata,
       e.request_id AS requestid,
       e.event_id AS eventid,
       json_extract(tg_raw_record((SELECT c.data FROM raw_chunks c WHERE c.source_id = e.source_id AND c.chunk_no = e.record_index / 256), e.source_id * 1000000000 + e.record_index / 256, e.record_index % 256), '$.resources') AS resources,
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
  FROM events e
  LEFT JOIN principals p ON p.id = e.principal_id
  LEFT JOIN sources s ON s.id = e.source_id;

-- Successful mutating calls about a resource (the calls `who-changed` starts from, before its per-type rules).
CREATE VIEW IF NOT EXISTS changes AS
SELECT strftime('%Y-%m-%dT%H:%M:%SZ', e.event_time / 1000, 'unixepoch') AS eventtime,
       e.event_id AS eventid, e.event_source AS eventsource, e.event_name AS eventname,
       r.type AS resource_type, r.resource_id, r.arn AS resource_arn,
       e.user_identity_arn AS useridentity_arn, e.access_key_id AS useridentity_accesskeyid,
       e.source_ip AS sourceipaddress, e.aws_region AS awsregion, e.recipient_account AS recipientaccountid,
       s.path AS source_file, s.integrity AS integrity, e.event_time AS eventtime_ms, e.id AS event_row
  FROM event_resources er
  JOIN events e ON e.id = er.event
  JOIN resources r ON r.id = er.resource
  LEFT JOIN sources s ON s.id = e.source_id
 WHERE er.access = 'target' AND e.error_code IS NULL
   AND (e.read_only = 0 OR (e.read_only IS NULL AND e.event_name NOT GLOB 'Get*' AND e.event_name NOT GLOB 'List*'
        AND e.event_name NOT GLOB 'Describe*' AND e.event_name NOT GLOB 'Head*'));

-- Configuration states (AWS Config items): each valid from capturetime until the resource's next one.
CREATE VIEW IF NOT EXISTS config_states AS
SELECT strftime('%Y-%m-%dT%H:%M:%SZ', ci.capture_time / 1000, 'unixepoch') AS capturetime,
       ci.resource_type, ci.resource_id, ci.resource_name, r.arn AS resource_arn, ci.account_id, ci.region,
       ci.status, ci.state_id, ci.configuration, ci.supplementary AS supplementary_configuration, ci.tags,
       ci.relationships, ci.related_events, ci.origin, s.path AS source_file, ci.capture_time AS capturetime_ms
  FROM config_items ci
  JOIN resources r ON r.id = ci.resource
  LEFT JOIN sources s ON s.id = ci.source_id;

-- Normalized identities, with how many calls each made.
CREATE VIEW IF NOT EXISTS principals_v AS
SELECT p.key AS principal, p.type, p.arn, p.account_id, p.name,
       (SELECT count(*) FROM events e WHERE e.principal_id = p.id) AS calls
  FROM principals p;

-- Temporary credentials (role sessions, federation tokens) and who obtained them.
CREATE VIEW IF NOT EXISTS sessions_v AS
SELECT se.access_key_id, se.session_arn, se.session_name, rp.arn AS role_arn, se.source_identity,
       CASE se.mfa_authenticated WHEN 1 THEN 'true' WHEN 0 THEN 'false' END AS mfa_authenticated,
       strftime('%Y-%m-%dT%H:%M:%SZ', se.issued_ms / 1000, 'unixepoch') AS issued,
       strftime('%Y-%m-%dT%H:%M:%SZ', se.expiration_ms / 1000, 'unixepoch') AS expiration,
       ie.event_id AS issued_by_eventid, ie.event_name AS issued_by_eventname,
       ip.arn AS issuer_arn, ip.key AS issuer_principal, se.issuer_access_key_id, se.issue_kind,
       se.on_behalf_of, se.identity_provider
  FROM sessions se
  LEFT JOIN principals rp ON rp.id = se.principal_id
  LEFT JOIN events ie ON ie.id = se.issued_by_event
  LEFT JOIN principals ip ON ip.id = se.issuer_principal_id;

-- Every ingested source with its integrity status (`validated` | `invalid` | `unverified`, docs/integrity.md).
CREATE VIEW IF NOT EXISTS integrity AS
SELECT s.path AS source_file, s.kind, s.sha256, s.account_id, s.region, s.service, s.records,
       s.events_new AS events, s.config_items, s.integrity,
       strftime('%Y-%m-%dT%H:%M:%SZ', s.ingested_at / 1000, 'unixepoch') AS ingested
  FROM sources s;
