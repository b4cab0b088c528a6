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
-- Ingest that scales (issue 16, docs/performance.md).
-- The text a trail repeats on every call (account, event source and name, region, user agent, error code, category,
-- version, the logged identity ARN, the source IP and the access key) is stored once in `strings` and referenced by
-- id from `event_rows`; `events` is now a view with the same columns as before, so every reader and `trailgraph sql`
-- query reads what it read.
-- event_resources is keyed by (event, resource, access), the order a load writes it in, with one index by
-- (resource, access, event), the order every lookup by resource uses (it replaces the two indexes by resource and
-- by event).
-- The views over these tables name them, and SQLite resolves a view's names when it is read: they stay as they are,
-- but `principals_v`, which now counts calls on event_rows (re-created at the end).
-- raw_hash is XXH3-64 of the raw record from this version on (it was 8 bytes of SHA-256): an older row's hash never
-- equals a new record's, so that record is compared with the stored one in full, as for any other difference.
CREATE TABLE strings (
    id   INTEGER PRIMARY KEY,
    text TEXT NOT NULL UNIQUE
);
INSERT OR IGNORE INTO strings(text) SELECT DISTINCT recipient_account FROM events WHERE recipient_account IS NOT NULL;
INSERT OR IGNORE INTO strings(text) SELECT DISTINCT event_version FROM events WHERE event_version IS NOT NULL;
INSERT OR IGNORE INTO strings(text) SELECT DISTINCT event_source FROM events WHERE event_source IS NOT NULL;
INSERT OR IGNORE INTO strings(text) SELECT DISTINCT event_name FROM events WHERE event_name IS NOT NULL;
INSERT OR IGNORE INTO strings(text) SELECT DISTINCT aws_region FROM events WHERE aws_region IS NOT NULL;
INSERT OR IGNORE INTO strings(text) SELECT DISTINCT user_agent FROM events WHERE user_agent IS NOT NULL;
INSERT OR IGNORE INTO strings(text) SELECT DISTINCT error_code FROM events WHERE error_code IS NOT NULL;
INSERT OR IGNORE INTO strings(text) SELECT DISTINCT event_category FROM events WHERE event_category IS NOT NULL;
INSERT OR IGNORE INTO strings(text) SELECT DISTINCT user_identity_arn FROM events WHERE user_identity_arn IS NOT NULL;
INSERT OR IGNORE INTO strings(text) SELECT DISTINCT source_ip FROM events WHERE source_ip IS NOT NULL;
INSERT OR IGNORE INTO strings(text) SELECT DISTINCT access_key_id FROM events WHERE access_key_id IS NOT NULL;
CREATE TABLE event_rows (
    id                 INTEGER PRIMARY KEY,
    event_key          INTEGER NOT NULL,             -- tg_event_key(event_id)
    event_id           TEXT NOT NULL,
    account_s          INTEGER NOT NULL,             -- recipient_account (strings.id)
    variant            INTEGER NOT NULL DEFAULT 0,
    event_time         INTEGER,
    version_s          INTEGER,                      -- event_version
    source_s           INTEGER NOT NULL,             -- event_source
    name_s             INTEGER NOT NULL,             -- event_name
    region_s           INTEGER,                      -- aws_region
    ip_s               INTEGER,                      -- source_ip
    agent_s            INTEGER,                      -- user_agent
    error_s            INTEGER,                      -- error_code
    error_message      TEXT,
    request_id         TEXT,
    event_type         TEXT,
    category_s         INTEGER,                      -- event_category
    read_only          INTEGER,
    management_event   INTEGER,
    shared_event_id    TEXT,
    vpc_endpoint_id    TEXT,
    principal_id       INTEGER NOT NULL REFERENCES principals(id),
    user_identity_type TEXT,
    arn_s              INTEGER,                      -- user_identity_arn
    key_s              INTEGER,                      -- access_key_id
    fingerprint        INTEGER NOT NULL,
    source_id          INTEGER NOT NULL REFERENCES sources(id),
    record_index       INTEGER NOT NULL,
    raw_hash           INTEGER
);
INSERT INTO event_rows
SELECT e.id,
       e.event_key,
       e.event_id,
       (SELECT s.id FROM strings s WHERE s.text = e.recipient_account),
       e.variant,
       e.event_time,
       (SELECT s.id FROM strings s WHERE s.text = e.event_version),
       (SELECT s.id FROM strings s WHERE s.text = e.event_source),
       (SELECT s.id FROM strings s WHERE s.text = e.event_name),
       (SELECT s.id FROM strings s WHERE s.text = e.aws_region),
       (SELECT s.id FROM strings s WHERE s.text = e.source_ip),
       (SELECT s.id FROM strings s WHERE s.text = e.user_agent),
       (SELECT s.id FROM strings s WHERE s.text = e.error_code),
       e.error_message,
       e.request_id,
       e.event_type,
       (SELECT s.id FROM strings s WHERE s.text = e.event_category),
       e.read_only,
       e.management_event,
       e.shared_event_id,
       e.vpc_endpoint_id,
       e.principal_id,
       e.user_identity_type,
       (SELECT s.id FROM strings s WHERE s.text = e.user_identity_arn),
       (SELECT s.id FROM strings s WHERE s.text = e.access_key_id),
       e.fingerprint,
       e.source_id,
       e.record_index,
       e.raw_hash
  FROM events e ORDER BY e.id;
DROP TABLE events;
-- The events as before: the same columns, strings resolved.
CREATE VIEW events AS
SELECT r.id,
       r.event_key,
       r.event_id,
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
       r.request_id,
       r.event_type,
       s_category.text AS event_category,
       r.read_only,
       r.management_event,
       r.shared_event_id,
       r.vpc_endpoint_id,
       r.principal_id,
       r.user_identity_type,
       s_arn.text AS user_identity_arn,
       s_key.text AS access_key_id,
       r.fingerprint,
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
CREATE UNIQUE INDEX events_identity ON event_rows(event_key, variant);
CREATE INDEX events_time ON event_rows(event_time);
CREATE INDEX events_principal ON event_rows(principal_id, event_time);
CREATE INDEX events_access_key ON event_rows(key_s, event_time) WHERE key_s IS NOT NULL;
CREATE INDEX events_source_ip ON event_rows(ip_s, event_time);
CREATE INDEX events_name_time ON event_rows(name_s, event_time);
CREATE INDEX events_shared_event ON event_rows(shared_event_id)
 WHERE shared_event_id IS NOT NULL AND user_identity_type = 'AWSAccount';
CREATE INDEX events_insight ON event_rows(event_time) WHERE event_type = 'AwsCloudTrailInsight';
-- A store whose bulk load was killed had these dropped: they were just built.
DELETE FROM deferred_indexes WHERE name IN ('events_time', 'events_principal', 'events_access_key', 'events_source_ip',
    'events_name_time', 'events_shared_event', 'events_insight', 'event_resources_event', 'event_resources_access',
    'events_identity');
-- Keyed by event, so a load appends to it (events are numbered in load order); found by resource through
-- event_resources_resource.
CREATE TABLE event_resources_old AS SELECT event, resource, access FROM event_resources;
DROP TABLE event_resources;
CREATE TABLE event_resources (
    event    INTEGER NOT NULL REFERENCES event_rows(id),
    resource INTEGER NOT NULL REFERENCES resources(id),
    access   TEXT NOT NULL,                  -- target | read | write
    PRIMARY KEY (event, resource, access)
) WITHOUT ROWID;
INSERT INTO event_resources(event, resource, access)
SELECT event, resource, access FROM event_resources_old ORDER BY event, resource, access;
DROP TABLE event_resources_old;
CREATE INDEX event_resources_resource ON event_resources(resource, access, event);
-- Normalized identities, with how many calls each made.
DROP VIEW principals_v;
CREATE VIEW principals_v AS
SELECT p.key AS principal, p.type, p.arn, p.account_id, p.name,
       (SELECT count(*) FROM event_rows e WHERE e.principal_id = p.id) AS calls
  FROM principals p;
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
