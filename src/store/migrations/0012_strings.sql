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
