-- trailgraph store, schema version 1. Documented in docs/schema.md; copied to schemas/store.sql.
-- Times are UTC epoch milliseconds. Raw records are kept zstd-compressed in raw_chunks.

CREATE TABLE sources (
    id                INTEGER PRIMARY KEY,
    sha256            TEXT NOT NULL UNIQUE,      -- over the uncompressed bytes
    kind              TEXT NOT NULL,             -- cloudtrail_delivery, config_file, cloudtrail_digest, ...
    path              TEXT NOT NULL,             -- first location it was ingested from
    size              INTEGER NOT NULL,          -- bytes on disk
    uncompressed_size INTEGER NOT NULL,
    compressed        INTEGER NOT NULL,
    account_id        TEXT,                      -- from the S3 key layout, when present
    region            TEXT,
    service           TEXT,                      -- CloudTrail, CloudTrail-Digest, Config
    org_id            TEXT,
    records           INTEGER NOT NULL,
    events_new        INTEGER NOT NULL,
    events_duplicate  INTEGER NOT NULL,
    config_items      INTEGER NOT NULL,
    skipped           INTEGER NOT NULL,
    diagnostics       INTEGER NOT NULL,
    ingested_at       INTEGER NOT NULL,
    integrity         TEXT NOT NULL DEFAULT 'unverified'
);

-- Every path a source was seen at; (size, mtime) lets a rerun skip unchanged files without reading them.
CREATE TABLE source_locations (
    path      TEXT PRIMARY KEY,
    source_id INTEGER NOT NULL REFERENCES sources(id),
    size      INTEGER NOT NULL,
    mtime_ms  INTEGER NOT NULL
) WITHOUT ROWID;

-- Raw records of a source's events, 256 per chunk: zstd frames of (u32 little-endian length, bytes)*.
-- Event n of a source (events.record_index) is record n % 256 of chunk n / 256. Chunks holding no new event
-- (every event in them was already stored) are not kept.
CREATE TABLE raw_chunks (
    id        INTEGER PRIMARY KEY,
    source_id INTEGER NOT NULL REFERENCES sources(id),
    chunk_no  INTEGER NOT NULL,
    records   INTEGER NOT NULL,
    data      BLOB NOT NULL
);
CREATE UNIQUE INDEX raw_chunks_source ON raw_chunks(source_id, chunk_no);

CREATE TABLE principals (
    id         INTEGER PRIMARY KEY,
    key        TEXT NOT NULL UNIQUE,
    type       TEXT NOT NULL,
    arn        TEXT,
    account_id TEXT,
    name       TEXT
);

CREATE TABLE events (
    id                 INTEGER PRIMARY KEY,
    event_key          INTEGER NOT NULL,             -- tg_event_key(event_id): first 8 bytes of SHA-256, as i64
    event_id           TEXT NOT NULL,
    recipient_account  TEXT NOT NULL,
    variant            INTEGER NOT NULL DEFAULT 0,   -- >0: same key, different event or content (docs/ingest.md)
    event_time         INTEGER,
    event_version      TEXT,
    event_source       TEXT NOT NULL,
    event_name         TEXT NOT NULL,
    aws_region         TEXT,
    source_ip          TEXT,
    user_agent         TEXT,
    error_code         TEXT,
    error_message      TEXT,
    request_id         TEXT,
    event_type         TEXT,
    event_category     TEXT,
    read_only          INTEGER,
    management_event   INTEGER,
    shared_event_id    TEXT,
    vpc_endpoint_id    TEXT,
    principal_id       INTEGER NOT NULL REFERENCES principals(id),
    user_identity_type TEXT,
    user_identity_arn  TEXT,
    access_key_id      TEXT,
    fingerprint        INTEGER NOT NULL,
    source_id          INTEGER NOT NULL REFERENCES sources(id),   -- first delivery
    record_index       INTEGER NOT NULL                            -- position among that source's events
);
-- Identity and lookup by event id: an 8-byte key indexes far faster than the 36-character id.
-- Find an event with: WHERE event_key = tg_event_key(?1) AND event_id = ?1.
CREATE UNIQUE INDEX events_identity ON events(event_key, variant);
CREATE INDEX events_time ON events(event_time);
CREATE INDEX events_principal ON events(principal_id, event_time);
CREATE INDEX events_access_key ON events(access_key_id, event_time) WHERE access_key_id IS NOT NULL;
CREATE INDEX events_source_ip ON events(source_ip, event_time);

-- Further deliveries of an event already stored (the first is events.source_id).
CREATE TABLE event_deliveries (
    event        INTEGER NOT NULL REFERENCES events(id),
    source_id    INTEGER NOT NULL REFERENCES sources(id),
    record_index INTEGER NOT NULL,
    PRIMARY KEY (event, source_id, record_index)
) WITHOUT ROWID;

-- Role sessions and other temporary credentials, keyed by access key id.
CREATE TABLE sessions (
    id                   INTEGER PRIMARY KEY,
    access_key_id        TEXT NOT NULL UNIQUE,
    principal_id         INTEGER REFERENCES principals(id),   -- whose credentials (role, user)
    session_arn          TEXT,
    session_name         TEXT,
    source_identity      TEXT,
    mfa_authenticated    INTEGER,
    created_ms           INTEGER,
    expiration_ms        INTEGER,
    issued_by_event      INTEGER REFERENCES events(id),        -- the AssumeRole*/GetSessionToken call
    issuer_principal_id  INTEGER REFERENCES principals(id),   -- who made that call
    issuer_access_key_id TEXT,                                 -- with which key (follow it for chains)
    issue_kind           TEXT,
    on_behalf_of         TEXT,
    identity_provider    TEXT,
    context              TEXT                                  -- sessionContext/onBehalfOf JSON, first seen
);
CREATE INDEX sessions_issuer_key ON sessions(issuer_access_key_id);

CREATE TABLE resources (
    id          INTEGER PRIMARY KEY,
    key_hash    INTEGER NOT NULL,            -- tg_key_hash(key): first 8 bytes of SHA-256, as i64
    key         TEXT NOT NULL,               -- TYPE|ACCOUNT|REGION|ID, unique (kept so by the writer)
    type        TEXT NOT NULL,               -- AWS Config resource type
    arn         TEXT,
    account_id  TEXT,
    region      TEXT,
    resource_id TEXT NOT NULL
);
-- Find a resource by key with: WHERE key_hash = tg_key_hash(?1) AND key = ?1.
CREATE INDEX resources_key ON resources(key_hash);
-- Lookups by ARN go through the canonical key (an ARN maps to one key); by bare name or id through this index.
-- S3 objects are found by bucket/key through the key, and are left out of it: there are millions.
CREATE INDEX resources_resource_id ON resources(resource_id) WHERE type <> 'AWS::S3::Object';

-- Extra names a resource is known by, beyond its ARN and resource_id (Config resourceId of an IAM role,
-- `alias/NAME` of a KMS alias, the name of a resource Config knows by id).
CREATE TABLE resource_aliases (
    alias    TEXT NOT NULL,
    resource INTEGER NOT NULL REFERENCES resources(id),
    PRIMARY KEY (alias, resource)
) WITHOUT ROWID;

CREATE TABLE event_resources (
    resource INTEGER NOT NULL REFERENCES resources(id),
    event    INTEGER NOT NULL REFERENCES events(id),
    access   TEXT NOT NULL,                  -- target | read | write
    PRIMARY KEY (resource, event, access)
) WITHOUT ROWID;
CREATE INDEX event_resources_event ON event_resources(event);

CREATE TABLE config_items (
    id                   INTEGER PRIMARY KEY,
    resource             INTEGER NOT NULL REFERENCES resources(id),
    resource_type        TEXT NOT NULL,
    resource_id          TEXT NOT NULL,
    resource_name        TEXT,
    account_id           TEXT,
    region               TEXT,
    capture_time         INTEGER,
    state_id             TEXT NOT NULL,
    state_id_synthesized INTEGER NOT NULL,
    status               TEXT,
    version              TEXT,
    md5                  TEXT,
    creation_time        INTEGER,
    availability_zone    TEXT,
    configuration        TEXT,                -- JSON, JSON-in-strings decoded; NULL for oversized summaries
    supplementary        TEXT,
    tags                 TEXT,
    relationships        TEXT,
    related_events       TEXT,                -- JSON array of event ids
    origin               TEXT NOT NULL,       -- file | api | select | notification | oversized | rule_event
    source_id            INTEGER NOT NULL REFERENCES sources(id),
    record_index         INTEGER NOT NULL,
    raw                  BLOB NOT NULL        -- zstd of the item as received, re-serialized
);
CREATE UNIQUE INDEX config_items_state ON config_items(resource, state_id);
CREATE INDEX config_items_time ON config_items(resource, capture_time);

CREATE TABLE config_item_deliveries (
    item         INTEGER NOT NULL REFERENCES config_items(id),
    source_id    INTEGER NOT NULL REFERENCES sources(id),
    record_index INTEGER NOT NULL,
    PRIMARY KEY (item, source_id, record_index)
) WITHOUT ROWID;

-- Per-record and per-file problems. source_id is NULL for files that failed as a whole.
CREATE TABLE diagnostics (
    id           INTEGER PRIMARY KEY,
    source_id    INTEGER REFERENCES sources(id),
    path         TEXT NOT NULL,
    record_index INTEGER,
    severity     TEXT NOT NULL,               -- error | warning
    code         TEXT NOT NULL,
    message      TEXT NOT NULL
);
CREATE INDEX diagnostics_source ON diagnostics(source_id);
CREATE INDEX diagnostics_path ON diagnostics(path);

-- Secondary indexes dropped for a bulk load into an empty store and rebuilt at its end (building an index after
-- the load is faster than maintaining it row by row). Kept here so that a run killed midway still rebuilds them.
CREATE TABLE deferred_indexes (
    name TEXT PRIMARY KEY,
    sql  TEXT NOT NULL
) WITHOUT ROWID;

-- Digest files and signature sidecars, kept verbatim for `verify`.
CREATE TABLE digests (
    source_id INTEGER PRIMARY KEY REFERENCES sources(id),
    kind      TEXT NOT NULL,                  -- digest | signature
    body      TEXT NOT NULL
);
-- Indexes for who-changed and timeline (issue 3).
CREATE INDEX sessions_issuer_principal ON sessions(issuer_principal_id) WHERE issuer_principal_id IS NOT NULL;
CREATE INDEX config_items_name ON config_items(resource_name) WHERE resource_name IS NOT NULL;
-- who-changed reads only the calls about a resource (`target`), not the millions of object reads of a bucket.
CREATE INDEX event_resources_access ON event_resources(resource, access, event);
CREATE INDEX sessions_principal ON sessions(principal_id);
-- When a session was issued, so a timeline follows only the sessions that can be active in its window.
ALTER TABLE sessions ADD COLUMN issued_ms INTEGER;
DROP INDEX IF EXISTS sessions_issuer_principal;
DROP INDEX IF EXISTS sessions_issuer_key;
CREATE INDEX sessions_issuer_principal ON sessions(issuer_principal_id, issued_ms) WHERE issuer_principal_id IS NOT NULL;
CREATE INDEX sessions_issuer_key ON sessions(issuer_access_key_id, issued_ms) WHERE issuer_access_key_id IS NOT NULL;
UPDATE sessions SET issued_ms = (SELECT event_time FROM events WHERE events.id = sessions.issued_by_event)
 WHERE issued_by_event IS NOT NULL;
-- Integrity (issue 5): public keys kept for offline `verify` runs, and one row per `verify` run.
CREATE TABLE public_keys (
    fingerprint TEXT NOT NULL,               -- hex MD5 of the PKCS#1 DER
    der         BLOB NOT NULL,               -- PKCS#1 RSAPublicKey DER
    valid_from  INTEGER,                     -- epoch ms, NULL when unknown (PEM/DER files)
    valid_to    INTEGER,
    source      TEXT NOT NULL,               -- file it was first loaded from
    PRIMARY KEY (fingerprint, der)
) WITHOUT ROWID;
-- sources.integrity is set by `verify`: validated | invalid | unverified (matched by sources.sha256).
CREATE TABLE verifications (
    id          INTEGER PRIMARY KEY,
    verified_at INTEGER NOT NULL,            -- epoch ms
    paths       TEXT NOT NULL,               -- JSON array of the paths given
    findings    INTEGER NOT NULL,
    report      TEXT NOT NULL                -- the JSON report
);
-- Lineage (issue 4): objects under a prefix are found by a range over their id (`bucket/key`), and the calls
-- that start work (StartJobRun, StartQueryExecution, ExecuteStatement...) by name and time.
CREATE INDEX IF NOT EXISTS resources_object_id ON resources(resource_id) WHERE type = 'AWS::S3::Object';
CREATE INDEX IF NOT EXISTS events_name_time ON events(event_name, event_time);
-- Data flows as rows: which dataset each successful data call read or wrote (docs/lineage.md, docs/sql.md).
CREATE VIEW IF NOT EXISTS flows AS
SELECT e.id AS event, e.event_id, e.event_time, e.event_source, e.event_name, er.access,
       r.type AS resource_type, r.resource_id, r.arn AS resource_arn,
       e.principal_id, e.user_identity_arn, e.access_key_id, e.source_ip
  FROM event_resources er
  JOIN events e ON e.id = er.event
  JOIN resources r ON r.id = er.resource
 WHERE er.access IN ('read', 'write') AND e.error_code IS NULL
   AND r.type IN ('AWS::S3::Object', 'AWS::DynamoDB::Table', 'AWS::Kinesis::Stream', 'AWS::KinesisFirehose::DeliveryStream');
-- Collect (issue 6): the S3 objects `collect` fetched, so the next run skips those whose ETag and size are
-- unchanged without downloading them. source_id is the source the object's bytes became (sources.id).
CREATE TABLE s3_objects (
    bucket     TEXT NOT NULL,
    key        TEXT NOT NULL,
    etag       TEXT NOT NULL,
    size       INTEGER NOT NULL,
    fetched_at INTEGER NOT NULL,             -- epoch ms
    source_id  INTEGER REFERENCES sources(id),
    PRIMARY KEY (bucket, key)
) WITHOUT ROWID;
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
-- Sessions a timeline follows (docs/correlation.md): the issue-time range and the expiration filter are read from
-- the index alone. A busy principal issues thousands of sessions in the 36 hours before a window, and reading each
-- row for its expiration cost more than the rest of an hour's timeline.
DROP INDEX IF EXISTS sessions_issuer_principal;
DROP INDEX IF EXISTS sessions_issuer_key;
CREATE INDEX sessions_issuer_principal ON sessions(issuer_principal_id, issued_ms, expiration_ms, access_key_id)
 WHERE issuer_principal_id IS NOT NULL;
CREATE INDEX sessions_issuer_key ON sessions(issuer_access_key_id, issued_ms, expiration_ms, access_key_id)
 WHERE issuer_access_key_id IS NOT NULL;
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
-- The change a Config change notification carries (issue 13): `configurationItemDiff.changeType` (CREATE, UPDATE,
-- DELETE) and `changedProperties` (JSON: path -> previousValue, updatedValue, changeType). who-changed rebuilds
-- the state before the item from it when no earlier full state is stored (docs/correlation.md).
ALTER TABLE config_items ADD COLUMN diff_change_type TEXT;
ALTER TABLE config_items ADD COLUMN diff TEXT;
-- The first 8 bytes of SHA-256 over an event's raw record as it arrived (issue 13). A re-delivery with the same
-- bytes is recognized from the row alone; only a record with the same id and fingerprint but other bytes (a Lake
-- or LookupEvents copy, or a real variant) is compared with the stored record (docs/ingest.md). NULL on rows
-- written before this migration.
ALTER TABLE events ADD COLUMN raw_hash INTEGER;
