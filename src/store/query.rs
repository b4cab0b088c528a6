//! Read queries for the query commands (who-changed, timeline). Rows are plain values; the logic is in `correlate`.

use super::{Result, Store};
use crate::model::resource::{canonical_type, Access};
use crate::model::ResourceRef;
use rusqlite::{params, Row};
use std::collections::HashMap;

#[derive(Debug, Clone)]
pub struct ResourceRow {
    pub id: i64,
    pub key: String,
    pub rtype: String,
    pub arn: Option<String>,
    pub resource_id: String,
    /// A name from a Config item, when one is known.
    pub name: Option<String>,
}

#[derive(Debug, Clone)]
pub struct EventRow {
    pub id: i64,
    pub event_id: String,
    pub time_ms: Option<i64>,
    pub event_source: String,
    pub event_name: String,
    pub region: Option<String>,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub read_only: Option<bool>,
    pub account: String,
    pub identity_arn: Option<String>,
    pub identity_type: Option<String>,
    pub access_key_id: Option<String>,
    pub principal_id: i64,
    /// How the call touched the resource it was found through (target, read, write), when found through one.
    pub access: Option<String>,
    /// The source (file) of its first delivery, and its position there (`events.source_id`, `record_index`).
    pub first_source: i64,
    pub first_record_index: i64,
    /// `eventType` (AwsApiCall, AwsServiceEvent, AwsConsoleSignIn, AwsCloudTrailInsight...).
    pub event_type: Option<String>,
}

#[derive(Debug, Clone)]
pub struct PrincipalRow {
    pub id: i64,
    pub key: String,
    pub ptype: String,
    pub arn: Option<String>,
    pub account: Option<String>,
    pub name: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct SessionRow {
    pub access_key_id: String,
    pub principal_id: Option<i64>,
    pub session_arn: Option<String>,
    pub session_name: Option<String>,
    pub source_identity: Option<String>,
    pub issuer_principal_id: Option<i64>,
    pub issuer_access_key_id: Option<String>,
    pub issue_kind: Option<String>,
    pub on_behalf_of: Option<String>,
    pub issued_by_event: Option<i64>,
    /// When the issuing call was made (epoch ms).
    pub issued_ms: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct ItemRow {
    pub id: i64,
    pub capture_ms: Option<i64>,
    pub state_id: String,
    pub status: Option<String>,
    pub configuration: Option<String>,
    pub supplementary: Option<String>,
    pub tags: Option<String>,
    pub related_events: Vec<String>,
    pub relationships: Option<String>,
    /// The notification's `configurationItemDiff` (change type, changedProperties JSON), when one was ingested.
    pub diff_change_type: Option<String>,
    pub diff: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Touch {
    /// The resource's row id.
    pub resource: i64,
    pub rtype: String,
    pub key: String,
    pub resource_id: String,
    pub arn: Option<String>,
    pub access: String,
}

#[derive(Debug, Clone)]
pub struct EvidenceRow {
    pub path: String,
    pub kind: String,
    pub sha256: String,
    pub integrity: String,
    pub record_index: i64,
}

const EVENT_COLS: &str = "e.id, e.event_id, e.event_time, e.event_source, e.event_name, e.aws_region, e.source_ip,
    e.user_agent, e.error_code, e.error_message, e.read_only, e.recipient_account, e.user_identity_arn,
    e.user_identity_type, e.access_key_id, e.principal_id, e.source_id, e.record_index, e.event_type";

fn event_row(r: &Row, access: bool) -> rusqlite::Result<EventRow> {
    Ok(EventRow {
        id: r.get(0)?,
        event_id: r.get(1)?,
        time_ms: r.get(2)?,
        event_source: r.get(3)?,
        event_name: r.get(4)?,
        region: r.get(5)?,
        source_ip: r.get(6)?,
        user_agent: r.get(7)?,
        error_code: r.get(8)?,
        error_message: r.get(9)?,
        read_only: r.get(10)?,
        account: r.get(11)?,
        identity_arn: r.get(12)?,
        identity_type: r.get(13)?,
        access_key_id: r.get(14)?,
        principal_id: r.get(15)?,
        access: if access { r.get(19)? } else { None },
        event_type: r.get(18)?,
        first_source: r.get(16)?,
        first_record_index: r.get(17)?,
    })
}

/// The indexed columns events are looked up by (each with an index on (column, event_time)).
#[derive(Debug, Clone, Copy)]
enum EventKey {
    Principal,
    AccessKey,
    SourceIp,
}

/// Which sessions can matter to a window [since, until]: issued before its end and at most 36 hours (the longest
/// role session) before its start, and expired (as the issuing call's response says) no earlier than one hour and
/// five minutes before its start. A session that expired earlier made no call in the window, and neither did the
/// sessions it issued: sessions issued with session credentials are role chaining, which AWS caps at one hour.
/// The five minutes cover clock skew between regions.
fn issue_window(since: Option<i64>, until: Option<i64>) -> (i64, i64, i64) {
    const LONGEST_SESSION_MS: i64 = 36 * 3600 * 1000;
    const CHAINED_SESSION_MS: i64 = 3600 * 1000;
    const GRACE_MS: i64 = 5 * 60 * 1000;
    (
        since.map_or(i64::MIN, |s| s.saturating_sub(LONGEST_SESSION_MS)),
        until.unwrap_or(i64::MAX),
        since.map_or(i64::MIN, |s| {
            s.saturating_sub(CHAINED_SESSION_MS + GRACE_MS)
        }),
    )
}

/// The time filter on `e.event_time` with bounds ?2 and ?3: a plain range when a window is given (usable by the
/// (column, event_time) indexes; events without a time are outside any window), none otherwise.
/// SQL for the name of `er.access` (an `event_resource_rows` row aliased `er`; migration 0013).
const ACCESS_NAME_SQL: &str =
    "CASE er.access WHEN 0 THEN 'target' WHEN 1 THEN 'read' WHEN 2 THEN 'write' END";

fn time_condition(since: Option<i64>, until: Option<i64>) -> &'static str {
    if since.is_none() && until.is_none() {
        "?2 <= ?3"
    } else {
        "e.event_time BETWEEN ?2 AND ?3"
    }
}

/// Time bounds as SQL parameters: NULL means unbounded.
fn bounds(since: Option<i64>, until: Option<i64>) -> (i64, i64) {
    (since.unwrap_or(i64::MIN), until.unwrap_or(i64::MAX))
}

impl Store {
    pub(super) fn collect<T>(
        &self,
        sql: &str,
        p: impl rusqlite::Params,
        f: impl FnMut(&Row) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>> {
        let mut st = self.conn().prepare_cached(sql).map_err(|e| self.q(e))?;
        let rows = st.query_map(p, f).map_err(|e| self.q(e))?;
        rows.collect::<rusqlite::Result<Vec<T>>>()
            .map_err(|e| self.q(e))
    }

    /// Resources a user's words may mean: an ARN, `s3://bucket[/key]`, `AWS::TYPE:NAME`, or a bare name or id
    /// (bucket, role, security group, function, key id...). Several rows mean the name is ambiguous.
    pub fn resolve_resource(&self, query: &str) -> Result<Vec<ResourceRow>> {
        let q = query.trim();
        let mut keys: Vec<String> = Vec::new();
        if let Some(rest) = q.strip_prefix("s3://") {
            let rest = rest.trim_end_matches('/');
            keys.push(match rest.split_once('/') {
                Some((b, k)) => ResourceRef::s3_object(b, k).key,
                None => ResourceRef::s3_bucket(rest).key,
            });
        } else if let Some(r) = ResourceRef::from_arn(q) {
            keys.push(r.key);
        }
        let mut out: Vec<ResourceRow> = Vec::new();
        let sql_cols = "r.id, r.key, r.type, r.arn, r.resource_id,
            (SELECT c.resource_name FROM config_items c WHERE c.resource = r.id AND c.resource_name IS NOT NULL LIMIT 1)";
        let row = |r: &Row| -> rusqlite::Result<ResourceRow> {
            Ok(ResourceRow {
                id: r.get(0)?,
                key: r.get(1)?,
                rtype: r.get(2)?,
                arn: r.get(3)?,
                resource_id: r.get(4)?,
                name: r.get(5)?,
            })
        };
        for k in &keys {
            out.extend(self.collect(
                &format!("SELECT {sql_cols} FROM resources r WHERE r.key_hash = tg_key_hash(?1) AND r.key = ?1"),
                [k],
                row,
            )?);
        }
        if out.is_empty() && q.starts_with("arn:") {
            out.extend(self.collect(
                &format!("SELECT {sql_cols} FROM resources r WHERE r.arn = ?1"),
                [q],
                row,
            )?);
        }
        if out.is_empty() && !q.starts_with("arn:") && !q.starts_with("s3://") {
            // `AWS::S3::Bucket:NAME` (the id may itself hold `:` or `/`: an ARN, a queue URL) or a bare name/id.
            let (rtype, name) = match split_typed(q) {
                Some((t, n)) => (Some(canonical_type(t).unwrap_or(t)), n),
                None => (None, q),
            };
            let by_name = |name: &str| {
                self.collect(
                    &format!(
                        "SELECT {sql_cols} FROM resources r WHERE r.id IN (
                        SELECT id FROM resource_rows WHERE resource_id = ?1 AND type IS NOT NULL
                        UNION SELECT resource FROM resource_aliases WHERE alias = ?1
                        UNION SELECT resource FROM config_items WHERE resource_name = ?1)
                     ORDER BY r.key"
                    ),
                    [name],
                    row,
                )
            };
            let mut found = by_name(name)?;
            if let (Some(t), true, true) = (rtype, found.is_empty(), name.starts_with("arn:")) {
                // A typed ARN: the key its shape maps to, the key of its type, or the ARN column.
                let keys = [
                    ResourceRef::from_arn(name).map(|r| r.key),
                    ResourceRef::from_typed_arn(t, name).map(|r| r.key),
                ];
                for k in keys.iter().flatten() {
                    found.extend(self.collect(
                        &format!("SELECT {sql_cols} FROM resources r WHERE r.key_hash = tg_key_hash(?1) AND r.key = ?1"),
                        [k],
                        row,
                    )?);
                }
                found.extend(self.collect(
                    &format!("SELECT {sql_cols} FROM resources r WHERE r.arn = ?1"),
                    [name],
                    row,
                )?);
            }
            if let (true, Some(s3)) = (found.is_empty(), s3_typed(rtype, name)) {
                found.extend(self.collect(
                    &format!("SELECT {sql_cols} FROM resources r WHERE r.key_hash = tg_key_hash(?1) AND r.key = ?1"),
                    [&s3],
                    row,
                )?);
            }
            out.extend(
                found
                    .into_iter()
                    .filter(|r| rtype.is_none_or(|t| t.eq_ignore_ascii_case(&r.rtype))),
            );
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        out.dedup_by_key(|r| r.id);
        Ok(out)
    }

    /// Calls that touched a resource, in time order, with how they touched it.
    pub fn resource_events(
        &self,
        resource: i64,
        since: Option<i64>,
        until: Option<i64>,
    ) -> Result<Vec<EventRow>> {
        self.resource_events_with(resource, &["target", "read", "write"], since, until)
    }

    /// Calls that touched a resource in one of the given ways (an index range per access), in time order.
    pub fn resource_events_with(
        &self,
        resource: i64,
        accesses: &[&str],
        since: Option<i64>,
        until: Option<i64>,
    ) -> Result<Vec<EventRow>> {
        let (s, u) = bounds(since, until);
        let mut out = Vec::new();
        for a in accesses {
            out.extend(self.collect(
                &format!(
                    "SELECT {EVENT_COLS}, {ACCESS_NAME_SQL} FROM event_resource_rows er JOIN events e ON e.id = er.event
                     WHERE er.resource = ?1 AND er.access = ?4 AND {}",
                    time_condition(since, until)
                ),
                params![resource, s, u, Access::from_name(a).map(Access::code)],
                |r| event_row(r, true),
            )?);
        }
        out.sort_by(|a, b| {
            (a.time_ms, &a.event_id, a.id, &a.access).cmp(&(
                b.time_ms,
                &b.event_id,
                b.id,
                &b.access,
            ))
        });
        Ok(out)
    }

    pub fn resource_items(&self, resource: i64) -> Result<Vec<ItemRow>> {
        self.collect(
            "SELECT id, capture_time, state_id, status, configuration, supplementary, tags, related_events,
                    relationships, diff_change_type, diff
             FROM config_items WHERE resource = ?1 ORDER BY capture_time, id",
            [resource],
            |r| {
                let related: Option<String> = r.get(7)?;
                Ok(ItemRow {
                    id: r.get(0)?,
                    capture_ms: r.get(1)?,
                    state_id: r.get(2)?,
                    status: r.get(3)?,
                    configuration: r.get(4)?,
                    supplementary: r.get(5)?,
                    tags: r.get(6)?,
                    related_events: related.and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default(),
                    relationships: r.get(8)?,
                    diff_change_type: r.get(9)?,
                    diff: r.get(10)?,
                })
            },
        )
    }

    pub fn principal(&self, id: i64) -> Result<Option<PrincipalRow>> {
        Ok(self
            .collect(
                "SELECT id, key, type, arn, account_id, name FROM principals WHERE id = ?1",
                [id],
                principal_row,
            )?
            .pop())
    }

    /// Principals a user's words may mean: a key or ARN (exact), or a name (user, role, service).
    pub fn resolve_principal(&self, query: &str) -> Result<Vec<PrincipalRow>> {
        let exact = self.collect(
            "SELECT id, key, type, arn, account_id, name FROM principals WHERE key = ?1 OR arn = ?1 ORDER BY key",
            [query],
            principal_row,
        )?;
        if !exact.is_empty() {
            return Ok(exact);
        }
        self.collect(
            "SELECT id, key, type, arn, account_id, name FROM principals WHERE name = ?1 ORDER BY key",
            [query],
            principal_row,
        )
    }

    pub fn session(&self, access_key: &str) -> Result<Option<SessionRow>> {
        Ok(self
            .collect(
                &format!("SELECT {SESSION_COLS} FROM sessions WHERE access_key_id = ?1"),
                [access_key],
                session_row,
            )?
            .pop())
    }

    /// The sessions of many access keys in one query (keys with no session are absent from the answer).
    pub fn sessions_many(&self, access_keys: &[&str]) -> Result<HashMap<String, SessionRow>> {
        let keys = text_array(access_keys.iter().copied());
        let rows = self.collect(
            &format!("SELECT {SESSION_COLS} FROM sessions WHERE access_key_id IN rarray(?1)"),
            [keys],
            session_row,
        )?;
        Ok(rows
            .into_iter()
            .map(|s| (s.access_key_id.clone(), s))
            .collect())
    }

    /// Access keys issued by calls of a principal that can matter to the window (see `issue_window`). Sessions
    /// whose issue time is unknown count.
    pub fn keys_issued_by_principal(
        &self,
        principal: i64,
        since: Option<i64>,
        until: Option<i64>,
    ) -> Result<Vec<String>> {
        let (s, u, e) = issue_window(since, until);
        self.collect(
            // Two indexed ranges: `issued_ms BETWEEN .. OR issued_ms IS NULL` would read every session of the
            // principal through the index (a busy user starts ~100,000 a month).
            "SELECT access_key_id FROM sessions WHERE issuer_principal_id = ?1 AND issued_ms BETWEEN ?2 AND ?3
               AND (expiration_ms IS NULL OR expiration_ms >= ?4)
             UNION SELECT access_key_id FROM sessions WHERE issuer_principal_id = ?1 AND issued_ms IS NULL
             ORDER BY access_key_id",
            params![principal, s, u, e],
            |r| r.get(0),
        )
    }

    /// Access keys seen in calls of a principal (its long-term keys, or the sessions of a role).
    pub fn keys_used_by_principal(&self, principal: i64) -> Result<Vec<String>> {
        self.collect(
            "SELECT access_key_id FROM sessions WHERE principal_id = ?1 ORDER BY access_key_id",
            [principal],
            |r| r.get(0),
        )
    }

    /// Access keys issued by calls made with a given key, that can matter to the window (as above).
    pub fn keys_issued_by_key(
        &self,
        key: &str,
        since: Option<i64>,
        until: Option<i64>,
    ) -> Result<Vec<String>> {
        self.keys_issued_by_keys(&[key.to_string()], since, until)
    }

    /// Access keys issued by calls made with any of the given keys, that can matter to the window: one query
    /// for a whole level of a session tree.
    pub fn keys_issued_by_keys(
        &self,
        keys: &[String],
        since: Option<i64>,
        until: Option<i64>,
    ) -> Result<Vec<String>> {
        let (s, u, e) = issue_window(since, until);
        let list = text_array(keys.iter().map(String::as_str));
        self.collect(
            "SELECT access_key_id FROM sessions WHERE issuer_access_key_id IN rarray(?1)
               AND issued_ms BETWEEN ?2 AND ?3 AND (expiration_ms IS NULL OR expiration_ms >= ?4)
             UNION SELECT access_key_id FROM sessions WHERE issuer_access_key_id IN rarray(?1) AND issued_ms IS NULL
             ORDER BY access_key_id",
            params![list, s, u, e],
            |r| r.get(0),
        )
    }

    pub fn events_by_principal(
        &self,
        principal: i64,
        since: Option<i64>,
        until: Option<i64>,
    ) -> Result<Vec<EventRow>> {
        self.events_where(EventKey::Principal, &principal, since, until)
    }

    /// Principals a string from a log names (federated-user ARN, the unique id of a principalId, an Identity
    /// Center or SSO user name), each with the userIdentity.arn its calls were logged with ('' for all).
    pub fn logged_identities(&self, text: &str) -> Result<Vec<(i64, String)>> {
        self.collect(
            "SELECT DISTINCT principal_id, arn FROM logged_identities WHERE text = ?1 ORDER BY principal_id, arn",
            [text],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
    }

    /// Role principals of an account by role name (an assumed-role session ARN names its role without the path).
    pub fn roles_named(&self, account: &str, name: &str) -> Result<Vec<PrincipalRow>> {
        self.collect(
            "SELECT id, key, type, arn, account_id, name FROM principals
              WHERE type = 'Role' AND account_id = ?1 AND name = ?2 ORDER BY key",
            [account, name],
            principal_row,
        )
    }

    /// The other accounts' copies (`userIdentity.type` AWSAccount) of cross-account calls among `events` (rows),
    /// found by their shared event id: (copy, the row it is a copy of).
    pub fn cross_account_copies(&self, events: &[i64]) -> Result<Vec<(EventRow, String)>> {
        let list = id_array(events);
        self.collect(
            &format!(
                "SELECT {EVENT_COLS}, o.event_id FROM events o
                   JOIN event_rows x ON x.shared_event_id = o.shared_event_id
                   JOIN events e ON e.id = x.id
                  WHERE o.id IN rarray(?1) AND o.shared_event_id IS NOT NULL AND e.id <> o.id
                    AND x.shared_event_id IS NOT NULL AND x.user_identity_type = 'AWSAccount'"
            ),
            [list],
            |r| Ok((event_row(r, false)?, r.get(19)?)),
        )
    }

    /// CloudTrail Insights events in a window (through their own partial index).
    pub fn insight_events(&self, since: Option<i64>, until: Option<i64>) -> Result<Vec<EventRow>> {
        let (s, u) = bounds(since, until);
        self.collect(
            &format!(
                "SELECT {EVENT_COLS} FROM event_rows x JOIN events e ON e.id = x.id
                  WHERE x.event_type = 'AwsCloudTrailInsight' AND {}",
                time_condition(since, until)
            ),
            params![0i64, s, u],
            |r| event_row(r, false),
        )
    }

    pub fn events_by_access_key(
        &self,
        key: &str,
        since: Option<i64>,
        until: Option<i64>,
    ) -> Result<Vec<EventRow>> {
        self.events_where(EventKey::AccessKey, &key, since, until)
    }

    /// The events of many access keys in a time window (no particular order): one query instead of one per
    /// key (a timeline follows hundreds of sessions).
    pub fn events_by_access_keys(
        &self,
        keys: &[String],
        since: Option<i64>,
        until: Option<i64>,
    ) -> Result<Vec<EventRow>> {
        let (s, u) = bounds(since, until);
        let list = text_array(keys.iter().map(String::as_str));
        self.collect(
            &format!(
                "SELECT {EVENT_COLS} FROM events e WHERE e.access_key_id IN rarray(?1) AND {}",
                time_condition(since, until)
            ),
            params![list, s, u],
            |r| event_row(r, false),
        )
    }

    pub fn events_by_ip(
        &self,
        ip: &str,
        since: Option<i64>,
        until: Option<i64>,
    ) -> Result<Vec<EventRow>> {
        self.events_where(EventKey::SourceIp, &ip, since, until)
    }

    /// Events with one indexed column equal to a value, in a time window, in time order.
    fn events_where(
        &self,
        column: EventKey,
        value: &dyn rusqlite::ToSql,
        since: Option<i64>,
        until: Option<i64>,
    ) -> Result<Vec<EventRow>> {
        let (s, u) = bounds(since, until);
        // The column name comes from the enum, never from input.
        let col = match column {
            EventKey::Principal => "principal_id",
            EventKey::AccessKey => "access_key_id",
            EventKey::SourceIp => "source_ip",
        };
        let mut rows = self.collect(
            &format!(
                "SELECT {EVENT_COLS} FROM events e WHERE e.{col} = ?1 AND {}",
                time_condition(since, until)
            ),
            params![value, s, u],
            |r| event_row(r, false),
        )?;
        // Sorted here, not by SQLite: its sorter copies every row once more, and the index already gives time
        // order, so this sort mostly checks.
        rows.sort_by(|a, b| (a.time_ms, &a.event_id, a.id).cmp(&(b.time_ms, &b.event_id, b.id)));
        Ok(rows)
    }

    /// Resources each event touched, and how: one query for many events.
    /// How many calls wrote each resource (`write` access: puts, copies, deletes, parts, ACL and tag changes), from
    /// the resource index alone. Lineage uses it to find the objects written more than once (object versions)
    /// without reading their calls.
    pub fn write_counts(&self, resources: &[i64]) -> Result<HashMap<i64, i64>> {
        Ok(self
            .collect(
                "SELECT a.value, (SELECT count(*) FROM event_resource_rows er
                                   WHERE er.resource = a.value AND er.access = ?2)
                   FROM rarray(?1) a",
                params![id_array(&ascending(resources)), Access::Write.code()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?
            .into_iter()
            .collect())
    }

    pub fn event_resources_many(&self, events: &[i64]) -> Result<HashMap<i64, Vec<Touch>>> {
        // Two lookups instead of a join: the (event, resource, access) rows come from the event index alone, and
        // each distinct resource is read once however many events touched it.
        let pairs: Vec<(i64, i64, String)> = self.collect(
            &format!(
                "SELECT er.event, er.resource, {ACCESS_NAME_SQL}
                 FROM rarray(?1) a CROSS JOIN event_resource_rows er ON er.event = a.value"
            ),
            [id_array(&ascending(events))],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        let mut ids: Vec<i64> = pairs.iter().map(|(_, r, _)| *r).collect();
        ids.sort_unstable();
        ids.dedup();
        let resources: HashMap<i64, (String, String, String, Option<String>)> = self
            .collect(
                "SELECT id, type, key, resource_id, arn FROM resources WHERE id IN rarray(?1)",
                [id_array(&ids)],
                |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))),
            )?
            .into_iter()
            .collect();
        let mut rows: Vec<(i64, Touch)> = pairs
            .into_iter()
            .filter_map(|(event, resource, access)| {
                let (rtype, key, resource_id, arn) = resources.get(&resource)?.clone();
                Some((
                    event,
                    Touch {
                        resource,
                        rtype,
                        key,
                        resource_id,
                        arn,
                        access,
                    },
                ))
            })
            .collect();
        // Each event's resources by key, then access.
        rows.sort_by(|(ea, a), (eb, b)| (ea, &a.key, &a.access).cmp(&(eb, &b.key, &b.access)));
        Ok(group_by_event(rows))
    }

    /// [`Store::evidence_many`] of events already read: their first delivery is in the row, so only the later
    /// deliveries and the sources are looked up (two queries, and no second read of the events).
    pub fn evidence_of_rows<'e>(
        &self,
        events: impl IntoIterator<Item = &'e EventRow>,
    ) -> Result<HashMap<i64, Vec<EvidenceRow>>> {
        let firsts: Vec<(i64, i64, i64)> = events
            .into_iter()
            .map(|e| (e.id, e.first_source, e.first_record_index))
            .collect();
        self.evidence_from(&firsts)
    }

    /// Evidence of events given as (event, source of its first delivery, position there): the later deliveries
    /// and the sources are looked up, each source once. Rows: the first delivery, then the others by path.
    fn evidence_from(&self, firsts: &[(i64, i64, i64)]) -> Result<HashMap<i64, Vec<EvidenceRow>>> {
        let ids: Vec<i64> = firsts.iter().map(|(e, _, _)| *e).collect();
        let later: Vec<(i64, (i64, i64))> = self.collect(
            "SELECT d.event, d.source_id, d.record_index
             FROM rarray(?1) a CROSS JOIN event_deliveries d ON d.event = a.value",
            [id_array(&ascending(&ids))],
            |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?))),
        )?;
        let mut source_ids: Vec<i64> = firsts
            .iter()
            .map(|(_, s, _)| *s)
            .chain(later.iter().map(|(_, (s, _))| *s))
            .collect();
        source_ids.sort_unstable();
        source_ids.dedup();
        let sources: HashMap<i64, (String, String, String, String)> = self
            .collect(
                "SELECT id, path, kind, sha256, integrity FROM sources WHERE id IN rarray(?1)",
                [id_array(&source_ids)],
                |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))),
            )?
            .into_iter()
            .collect();
        let row = |source: i64, record_index: i64| {
            sources
                .get(&source)
                .map(|(path, kind, sha256, integrity)| EvidenceRow {
                    path: path.clone(),
                    kind: kind.clone(),
                    sha256: sha256.clone(),
                    integrity: integrity.clone(),
                    record_index,
                })
        };
        let mut later = group_by_event(later);
        let mut out = HashMap::with_capacity(firsts.len());
        for &(event, first_source, first_record_index) in firsts {
            // First delivery first, then the re-deliveries by path.
            let mut rows: Vec<EvidenceRow> =
                row(first_source, first_record_index).into_iter().collect();
            let mut rest: Vec<EvidenceRow> = later
                .remove(&event)
                .unwrap_or_default()
                .into_iter()
                .filter_map(|(s, i)| row(s, i))
                .collect();
            rest.sort_by(|a, b| a.path.cmp(&b.path));
            rows.extend(rest);
            if !rows.is_empty() {
                out.insert(event, rows);
            }
        }
        Ok(out)
    }

    /// The files each event came from (first delivery first), with their integrity status: one query for many.
    pub fn evidence_many(&self, events: &[i64]) -> Result<HashMap<i64, Vec<EvidenceRow>>> {
        let firsts: Vec<(i64, i64, i64)> = self.collect(
            "SELECT id, source_id, record_index FROM events WHERE id IN rarray(?1)",
            [id_array(events)],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        self.evidence_from(&firsts)
    }
}

/// Lineage lookups (docs/lineage.md).
impl Store {
    const RESOURCE_COLS: &'static str = "r.id, r.key, r.type, r.arn, r.resource_id, NULL";

    pub fn resource_by_row(&self, id: i64) -> Result<Option<ResourceRow>> {
        Ok(self
            .collect(
                &format!(
                    "SELECT {} FROM resources r WHERE r.id = ?1",
                    Self::RESOURCE_COLS
                ),
                [id],
                resource_row,
            )?
            .pop())
    }

    /// S3 objects whose `bucket/key` starts with the given text, in key order.
    pub fn objects_under(&self, prefix: &str) -> Result<Vec<ResourceRow>> {
        let upper = format!("{prefix}\u{10FFFF}");
        self.collect(
            &format!(
                "SELECT {} FROM resource_rows x JOIN resources r ON r.id = x.id
                  WHERE x.type IS NULL AND x.resource_id >= ?1 AND x.resource_id < ?2
                  ORDER BY x.resource_id",
                Self::RESOURCE_COLS
            ),
            [prefix, upper.as_str()],
            resource_row,
        )
    }

    /// Resources of one type with the given id (job names, run ids, query ids...; not S3 objects, whose ids have
    /// their own index).
    pub fn resources_typed(&self, rtype: &str, id: &str) -> Result<Vec<ResourceRow>> {
        self.collect(
            &format!(
                "SELECT {} FROM resource_rows x JOIN resources r ON r.id = x.id
                  WHERE x.resource_id = ?1 AND x.type = ?2 AND x.type IS NOT NULL
                 ORDER BY r.key",
                Self::RESOURCE_COLS
            ),
            [id, rtype],
            resource_row,
        )
    }

    /// Successful calls with one of the given names in a time window (inclusive), in time order.
    pub fn events_named(&self, names: &[&str], since: i64, until: i64) -> Result<Vec<EventRow>> {
        let mut out = Vec::new();
        for n in names {
            out.extend(self.collect(
                &format!(
                    "SELECT {EVENT_COLS} FROM events e WHERE e.event_name = ?1 AND e.event_time BETWEEN ?2 AND ?3
                     AND e.error_code IS NULL"
                ),
                params![n, since, until],
                |r| event_row(r, false),
            )?);
        }
        out.sort_by(|a, b| (a.time_ms, &a.event_id, a.id).cmp(&(b.time_ms, &b.event_id, b.id)));
        Ok(out)
    }

    /// Sessions issued by a principal in a time window, with their issue time, in issue order.
    pub fn sessions_issued_by(
        &self,
        issuer: i64,
        since: i64,
        until: i64,
    ) -> Result<Vec<(String, i64)>> {
        self.collect(
            "SELECT access_key_id, issued_ms FROM sessions WHERE issuer_principal_id = ?1 AND issued_ms BETWEEN ?2 AND ?3
             ORDER BY issued_ms, access_key_id",
            params![issuer, since, until],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
    }

    /// The principal row with this key (e.g. `service:glue.amazonaws.com`).
    pub fn principal_by_key(&self, key: &str) -> Result<Option<PrincipalRow>> {
        Ok(self
            .collect(
                "SELECT id, key, type, arn, account_id, name FROM principals WHERE key = ?1",
                [key],
                principal_row,
            )?
            .pop())
    }

    /// Every event in a time window (inclusive), in time order.
    pub fn events_in_window(&self, since: i64, until: i64) -> Result<Vec<EventRow>> {
        self.collect(
            &format!(
                "SELECT {EVENT_COLS} FROM events e WHERE e.event_time BETWEEN ?1 AND ?2 ORDER BY e.event_time, e.event_id, e.id"
            ),
            params![since, until],
            |r| event_row(r, false),
        )
    }

    /// Events named by `eventID` (each delivery of an id logged in two accounts is a row of its own).
    pub fn events_by_event_id(&self, ids: &[String]) -> Result<Vec<EventRow>> {
        let mut out = Vec::new();
        for id in ids {
            out.extend(self.collect(
                &format!(
                    "SELECT {EVENT_COLS} FROM events e WHERE e.event_key = tg_event_key(?1) AND e.event_id = ?1"
                ),
                [id],
                |r| event_row(r, false),
            )?);
        }
        Ok(out)
    }

    /// One event by row id.
    pub fn event_row(&self, id: i64) -> Result<Option<EventRow>> {
        Ok(self
            .collect(
                &format!("SELECT {EVENT_COLS} FROM events e WHERE e.id = ?1"),
                [id],
                |r| event_row(r, false),
            )?
            .pop())
    }
}

fn resource_row(r: &Row) -> rusqlite::Result<ResourceRow> {
    Ok(ResourceRow {
        id: r.get(0)?,
        key: r.get(1)?,
        rtype: r.get(2)?,
        arn: r.get(3)?,
        resource_id: r.get(4)?,
        name: r.get(5)?,
    })
}

/// Rows of a batched lookup `(event, row)`, grouped by event (in query order within each event).
fn group_by_event<T>(rows: Vec<(i64, T)>) -> HashMap<i64, Vec<T>> {
    let mut out: HashMap<i64, Vec<T>> = HashMap::new();
    for (e, t) in rows {
        out.entry(e).or_default().push(t);
    }
    out
}

/// A list of strings as a parameter of `rarray(?)`.
fn text_array<'a>(items: impl Iterator<Item = &'a str>) -> rusqlite::vtab::array::Array {
    std::rc::Rc::new(
        items
            .map(|t| rusqlite::types::Value::from(t.to_string()))
            .collect(),
    )
}

/// Row ids sorted and deduplicated, for `FROM rarray(?) a CROSS JOIN t ON t.col = a.value`: SQLite then probes
/// the index once per id in key order (neighbouring probes share pages), without first building a temporary
/// index of the list as it does for `col IN rarray(?)`.
fn ascending(ids: &[i64]) -> Vec<i64> {
    let mut v = ids.to_vec();
    v.sort_unstable();
    v.dedup();
    v
}

/// A list of row ids as a parameter of `rarray(?)`.
fn id_array(ids: &[i64]) -> rusqlite::vtab::array::Array {
    std::rc::Rc::new(
        ids.iter()
            .copied()
            .map(rusqlite::types::Value::from)
            .collect(),
    )
}

const SESSION_COLS: &str = "access_key_id, principal_id, (SELECT text FROM strings WHERE id = arn_s), session_name, \
    source_identity, \
    issuer_principal_id, issuer_access_key_id, issue_kind, on_behalf_of, issued_by_event, issued_ms";

fn session_row(r: &Row) -> rusqlite::Result<SessionRow> {
    Ok(SessionRow {
        access_key_id: r.get(0)?,
        principal_id: r.get(1)?,
        session_arn: r.get(2)?,
        session_name: r.get(3)?,
        source_identity: r.get(4)?,
        issuer_principal_id: r.get(5)?,
        issuer_access_key_id: r.get(6)?,
        issue_kind: r.get(7)?,
        on_behalf_of: r.get(8)?,
        issued_by_event: r.get(9)?,
        issued_ms: r.get(10)?,
    })
}

fn principal_row(r: &Row) -> rusqlite::Result<PrincipalRow> {
    Ok(PrincipalRow {
        id: r.get(0)?,
        key: r.get(1)?,
        ptype: r.get(2)?,
        arn: r.get(3)?,
        account: r.get(4)?,
        name: r.get(5)?,
    })
}

/// `AWS::SERVICE::TYPE:ID` split at the first `:` after the type, so the id may hold `:` and `/` (an ELBv2 ARN, an
/// SQS queue URL). `None` unless the text starts with three `::`-separated alphanumeric names and has an id.
pub(crate) fn split_typed(q: &str) -> Option<(&str, &str)> {
    let mut parts = q.splitn(3, "::");
    let (a, b, rest) = (parts.next()?, parts.next()?, parts.next()?);
    let (c, id) = rest.split_once(':')?;
    let word = |s: &str| !s.is_empty() && s.bytes().all(|x| x.is_ascii_alphanumeric());
    if !(word(a) && word(b) && word(c)) || id.is_empty() {
        return None;
    }
    Some((&q[..a.len() + b.len() + c.len() + 4], id))
}

/// The key of a typed S3 name (buckets and objects are keyed globally, not found through `resource_id`).
fn s3_typed(rtype: Option<&str>, name: &str) -> Option<String> {
    match rtype? {
        "AWS::S3::Object" => name
            .split_once('/')
            .map(|(b, k)| ResourceRef::s3_object(b, k).key),
        _ => None,
    }
}
