//! Writes parsed sources. Prepared statements, large transactions, bounded in-memory id caches.

use super::raw::encode_chunk;
use super::{Result, StoreError};
use crate::model::{ConfigItem, Diagnostic, Event, Principal, ResourceRef};
use rusqlite::{params, Connection, OptionalExtension};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Records per raw chunk: big enough to compress well, small enough to decode one event cheaply.
pub const CHUNK_RECORDS: usize = 256;

/// The raw records of a source's events, compressed in chunks of [`CHUNK_RECORDS`]. CPU work that callers do on
/// their parser threads, not on the writer's.
pub fn encode_chunks(events: &[Event]) -> std::io::Result<Vec<Vec<u8>>> {
    events
        .chunks(CHUNK_RECORDS)
        .map(|c| encode_chunk(c.iter().map(|e| e.raw.as_str())))
        .collect()
}
/// Entries kept in each id cache before it is cleared (bounded memory on a year of data: about 40 MB each).
const CACHE_LIMIT: usize = 1_000_000;

/// What the caller knows about a file before it is written.
#[derive(Debug, Clone, Default)]
pub struct SourceMeta {
    pub path: String,
    pub size: u64,
    pub mtime_ms: i64,
    pub sha256: String,
    pub kind: &'static str,
    pub uncompressed_size: u64,
    pub compressed: bool,
    pub account: Option<String>,
    pub region: Option<String>,
    pub service: Option<String>,
    pub org: Option<String>,
    pub records: u64,
    pub skipped: u64,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct WriteOutcome {
    /// The content was already in the store (under another path): only the location was added.
    pub already_known: bool,
    pub events_new: u64,
    pub events_duplicate: u64,
    /// Same eventID and account as a stored event but different content: kept as a variant.
    pub events_conflicting: u64,
    pub items_new: u64,
    pub items_duplicate: u64,
    pub diagnostics: u64,
}

/// Id caches. Each entry also remembers which optional fields the stored row already has, so that a later record
/// carrying a field the row lacks still fills it in: the store must not depend on how the input was split into runs.
struct Caches {
    principals: HashMap<String, (i64, u8)>,
    /// By the 64-bit key hash: small entries, so the cache can hold a year's S3 objects of a busy bucket.
    resources: HashMap<i64, (i64, u8)>,
    sessions: HashMap<String, u8>,
    /// `logged_identities` rows already written, by a hash of (text, principal, arn).
    logged: std::collections::HashSet<u64>,
}

/// A bit per optional field that is present (`Some`).
fn mask(fields: &[bool]) -> u8 {
    fields
        .iter()
        .enumerate()
        .fold(0, |m, (i, present)| m | (u8::from(*present) << i))
}

impl Caches {
    fn bound(&mut self) {
        if self.principals.len() > CACHE_LIMIT {
            self.principals.clear();
        }
        if self.sessions.len() > CACHE_LIMIT {
            self.sessions.clear();
        }
        if self.logged.len() > CACHE_LIMIT {
            self.logged.clear();
        }
        if self.resources.len() > CACHE_LIMIT {
            self.resources.clear();
        }
    }
}

pub struct Writer<'c> {
    pub(super) conn: &'c Connection,
    path: PathBuf,
    in_tx: bool,
    caches: Caches,
    /// What the last `insert_event` did.
    last: EventInsert,
    /// event_resources rows of the current source, written in multi-row statements.
    touches: Vec<(i64, i64, &'static str)>,
    touch_sql_full: String,
    touch_sql_one: String,
    /// The last raw chunk read back to compare a re-delivered record with the stored one: (source, chunk), bytes.
    raw_cache: Option<((i64, i64), Vec<u8>)>,
}

fn multi_row_sql(rows: usize) -> String {
    let values: Vec<&str> = vec!["(?, ?, ?)"; rows];
    format!(
        "INSERT OR IGNORE INTO event_resources(resource, event, access) VALUES {}",
        values.join(", ")
    )
}

/// The indexed key of an event id or a resource key: the first 8 bytes of its SHA-256, as a signed integer.
/// Also the SQL functions `tg_event_key(text)` and `tg_key_hash(text)`.
pub fn key_hash(text: &str) -> i64 {
    use sha2::{Digest, Sha256};
    i64::from_be_bytes(
        Sha256::digest(text.as_bytes())[..8]
            .try_into()
            .expect("8 bytes"),
    )
}

fn b(v: Option<bool>) -> Option<i64> {
    v.map(i64::from)
}

impl<'c> Writer<'c> {
    pub(super) fn new(conn: &'c Connection, path: &Path) -> Writer<'c> {
        Writer {
            conn,
            path: path.to_path_buf(),
            in_tx: false,
            last: EventInsert::New,
            touches: Vec::new(),
            raw_cache: None,
            touch_sql_full: multi_row_sql(64),
            touch_sql_one: multi_row_sql(1),
            caches: Caches {
                principals: HashMap::new(),
                resources: HashMap::new(),
                sessions: HashMap::new(),
                logged: Default::default(),
            },
        }
    }

    pub(super) fn e(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    pub fn begin(&mut self) -> Result<()> {
        if !self.in_tx {
            self.conn
                .execute_batch("BEGIN IMMEDIATE")
                .map_err(|e| self.e(e))?;
            self.in_tx = true;
        }
        Ok(())
    }

    pub fn commit(&mut self) -> Result<()> {
        if self.in_tx {
            self.conn.execute_batch("COMMIT").map_err(|e| self.e(e))?;
            self.in_tx = false;
        }
        Ok(())
    }

    /// Whether a path was already ingested with this size and modification time (rerun fast path).
    pub fn location_unchanged(&self, path: &str, size: u64, mtime_ms: i64) -> Result<bool> {
        let mut st = self
            .conn
            .prepare_cached("SELECT size, mtime_ms FROM source_locations WHERE path = ?1")
            .map_err(|e| self.e(e))?;
        let row: Option<(i64, i64)> = st
            .query_row([path], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()
            .map_err(|e| self.e(e))?;
        Ok(row == Some((size as i64, mtime_ms)))
    }

    /// Records a file that could not be ingested at all. Replaces earlier failures recorded for that path.
    pub fn record_failure(&mut self, path: &str, code: &str, message: &str) -> Result<()> {
        self.record_file(path, "error", code, message)
    }

    /// The one diagnostic kept for a file that is not a source (failed or skipped), in place of any earlier one.
    fn record_file(&mut self, path: &str, severity: &str, code: &str, message: &str) -> Result<()> {
        self.begin()?;
        self.conn
            .execute(
                "DELETE FROM diagnostics WHERE source_id IS NULL AND path = ?1",
                [path],
            )
            .map_err(|e| self.e(e))?;
        self.conn
            .execute(
                "INSERT INTO diagnostics(source_id, path, record_index, severity, code, message) VALUES (NULL, ?1, NULL, ?2, ?3, ?4)",
                params![path, severity, code, message],
            )
            .map_err(|e| self.e(e))?;
        Ok(())
    }

    /// The strings a call's identity was logged as that its principal's key does not give (`logged_identities`,
    /// docs/correlation.md): a federated-user ARN, the unique id in `principalId` (`AROA...` of a role, `AIDA...`
    /// of a user), an Identity Center or SSO user name. Few per principal, written once each; session ARNs need no
    /// row (they name their role and account).
    fn log_identity(&mut self, ev: &Event, principal: i64) -> Result<()> {
        use std::hash::{Hash, Hasher};
        let id = &ev.identity;
        let p = &id.principal;
        let mut rows: [Option<(&str, &str)>; 3] = [None; 3];
        if let Some(a) = id
            .arn
            .as_deref()
            .filter(|a| *a != p.key && Some(*a) != p.arn.as_deref())
        {
            // A session ARN names its role and account: a row only when the principal is not that role (a
            // federated user, a record without sessionIssuer, edited data).
            let derivable = crate::model::arn::session_role(a).is_some_and(|(acct, role)| {
                p.ptype == "Role"
                    && p.account.as_deref() == Some(acct)
                    && p.name.as_deref() == Some(role)
            });
            if !derivable {
                rows[0] = Some((a, a));
            }
        }
        // `AROA...:session`: the role's unique id; the session is found through the session ARN.
        if let Some((unique, _)) = id
            .principal_id
            .as_deref()
            .and_then(crate::model::arn::unique_id)
        {
            if unique != p.key {
                rows[1] = Some((unique, ""));
            }
        }
        // An IAM Identity Center user signs in to AWSReservedSSO_* roles with their user name as session name.
        let sso = p
            .name
            .as_deref()
            .is_some_and(|n| n.starts_with("AWSReservedSSO_"));
        let user = if sso {
            id.session_name.as_deref()
        } else if id.utype.as_deref() == Some("IdentityCenterUser") {
            id.user_name.as_deref()
        } else {
            None
        };
        if let Some(u) = user.filter(|u| p.name.as_deref() != Some(*u)) {
            rows[2] = Some((
                u,
                if sso {
                    id.arn.as_deref().unwrap_or("")
                } else {
                    ""
                },
            ));
        }
        for (text, arn) in rows.into_iter().flatten() {
            if text.is_empty() {
                continue;
            }
            let mut h = std::collections::hash_map::DefaultHasher::new();
            (text, principal, arn).hash(&mut h);
            if !self.caches.logged.insert(h.finish()) {
                continue;
            }
            self.conn
                .prepare_cached(
                    "INSERT OR IGNORE INTO logged_identities(text, principal_id, arn) VALUES (?1, ?2, ?3)",
                )
                .and_then(|mut s| s.execute(params![text, principal, arn]))
                .map_err(|e| self.e(e))?;
        }
        Ok(())
    }

    /// Records that a file was passed over as not audit data (a `file_skipped` warning without a source), in
    /// place of any earlier record of that path.
    pub fn record_skip(&mut self, path: &str, message: &str) -> Result<()> {
        self.record_file(path, "warning", "file_skipped", message)
    }

    /// Writes one source with everything read from it. Must be called inside `begin`/`commit`; the caller
    /// commits only between sources, which makes each source all-or-nothing.
    pub fn write_source(
        &mut self,
        meta: &SourceMeta,
        events: &[Event],
        chunks: &[Vec<u8>],
        items: &[ConfigItem],
        diagnostics: &[Diagnostic],
        digest: Option<&str>,
    ) -> Result<WriteOutcome> {
        self.begin()?;
        let mut out = WriteOutcome::default();
        let c = self.conn;
        let existing: Option<i64> = c
            .prepare_cached("SELECT id FROM sources WHERE sha256 = ?1")
            .and_then(|mut s| s.query_row([&meta.sha256], |r| r.get(0)).optional())
            .map_err(|e| self.e(e))?;
        // A path that failed before and is now readable: its old failure is history.
        c.execute(
            "DELETE FROM diagnostics WHERE source_id IS NULL AND path = ?1",
            [&meta.path],
        )
        .map_err(|e| self.e(e))?;
        if let Some(id) = existing {
            self.upsert_location(id, meta)?;
            out.already_known = true;
            return Ok(out);
        }
        c.prepare_cached(
            "INSERT INTO sources(sha256, kind, path, size, uncompressed_size, compressed, account_id, region, service, org_id,
                 records, events_new, events_duplicate, config_items, skipped, diagnostics, ingested_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 0, 0, 0, ?12, 0, ?13)",
        )
        .and_then(|mut s| {
            s.execute(params![
                meta.sha256,
                meta.kind,
                meta.path,
                meta.size as i64,
                meta.uncompressed_size as i64,
                meta.compressed,
                meta.account,
                meta.region,
                meta.service,
                meta.org,
                meta.records as i64,
                meta.skipped as i64,
                chrono::Utc::now().timestamp_millis(),
            ])
        })
        .map_err(|e| self.e(e))?;
        let source_id = c.last_insert_rowid();
        self.upsert_location(source_id, meta)?;

        // Raw chunks are stored only when they hold at least one new event.
        let mut needed = vec![false; chunks.len()];
        for (i, _) in events.iter().enumerate() {
            match self.insert_event(events, i, source_id)? {
                EventInsert::New => out.events_new += 1,
                EventInsert::Duplicate => out.events_duplicate += 1,
                EventInsert::Conflict => {
                    out.events_new += 1;
                    out.events_conflicting += 1;
                }
            }
            if let (EventInsert::New | EventInsert::Conflict, Some(n)) =
                (self.last, needed.get_mut(i / CHUNK_RECORDS))
            {
                *n = true;
            }
        }
        self.flush_touches()?;
        {
            let mut st = c
                .prepare_cached("INSERT INTO raw_chunks(source_id, chunk_no, records, data) VALUES (?1, ?2, ?3, ?4)")
                .map_err(|e| self.e(e))?;
            for (n, data) in chunks.iter().enumerate().filter(|(n, _)| needed[*n]) {
                let len = CHUNK_RECORDS.min(events.len() - n * CHUNK_RECORDS);
                st.execute(params![source_id, n as i64, len as i64, data])
                    .map_err(|e| self.e(e))?;
            }
        }
        for (i, item) in items.iter().enumerate() {
            if self.insert_item(item, source_id, i as u64)? {
                out.items_new += 1;
            } else {
                out.items_duplicate += 1;
            }
        }
        let mut st = c
            .prepare_cached(
                "INSERT INTO diagnostics(source_id, path, record_index, severity, code, message) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .map_err(|e| self.e(e))?;
        for d in diagnostics {
            st.execute(params![
                source_id,
                meta.path,
                d.record.map(|r| r as i64),
                d.severity.as_str(),
                d.code,
                d.message
            ])
            .map_err(|e| self.e(e))?;
            out.diagnostics += 1;
        }
        if let Some(body) = digest {
            let kind = if meta.kind == "digest_signature" {
                "signature"
            } else {
                "digest"
            };
            c.execute(
                "INSERT INTO digests(source_id, kind, body) VALUES (?1, ?2, ?3)",
                params![source_id, kind, body],
            )
            .map_err(|e| self.e(e))?;
        }
        c.prepare_cached(
            "UPDATE sources SET events_new = ?2, events_duplicate = ?3, config_items = ?4, diagnostics = ?5 WHERE id = ?1",
        )
        .and_then(|mut s| {
            s.execute(params![
                source_id,
                out.events_new as i64,
                out.events_duplicate as i64,
                (out.items_new + out.items_duplicate) as i64,
                out.diagnostics as i64
            ])
        })
        .map_err(|e| self.e(e))?;
        self.caches.bound();
        Ok(out)
    }

    /// Writes the pending event_resources rows, 64 per statement (one statement per row costs more than the row).
    fn flush_touches(&mut self) -> Result<()> {
        const BATCH: usize = 64;
        let rows = std::mem::take(&mut self.touches);
        // Full batches share one statement; the remainder goes row by row (one more cached statement, not one
        // per remainder size, which would push the others out of the statement cache).
        for chunk in rows.chunks(BATCH).flat_map(|c| {
            if c.len() == BATCH {
                vec![c]
            } else {
                c.chunks(1).collect()
            }
        }) {
            let sql = if chunk.len() == BATCH {
                self.touch_sql_full.as_str()
            } else {
                self.touch_sql_one.as_str()
            };
            let mut st = self.conn.prepare_cached(sql).map_err(|e| self.e(e))?;
            let params: Vec<&dyn rusqlite::ToSql> = chunk
                .iter()
                .flat_map(|(r, e, a)| [r as &dyn rusqlite::ToSql, e, a])
                .collect();
            st.execute(params.as_slice()).map_err(|e| self.e(e))?;
        }
        let mut rows = rows;
        rows.clear();
        self.touches = rows;
        Ok(())
    }

    fn upsert_location(&self, source_id: i64, meta: &SourceMeta) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO source_locations(path, source_id, size, mtime_ms) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(path) DO UPDATE SET source_id = excluded.source_id, size = excluded.size, mtime_ms = excluded.mtime_ms",
            )
            .and_then(|mut s| s.execute(params![meta.path, source_id, meta.size as i64, meta.mtime_ms]))
            .map_err(|e| self.e(e))?;
        Ok(())
    }

    /// Inserts event `i` of the source being written. A record whose id and account are stored already is a
    /// re-delivery only when its whole content is the same, compared canonically (`model::json::same_record`);
    /// otherwise it is a variant, so an AccessDenied attempt never hides behind the call that succeeded.
    fn insert_event(&mut self, events: &[Event], i: usize, source_id: i64) -> Result<EventInsert> {
        let ev = &events[i];
        let index = i as u64;
        // Insert first (the common case: a new event); only on a conflict look at what is stored.
        let principal = self.principal_id(&ev.identity.principal)?;
        if self.insert_event_row(ev, 0, principal, source_id, index)? {
            return self.finish_event(ev, principal, EventInsert::New);
        }
        let c = self.conn;
        // Same key stored: a re-delivery if id, account and content match; else a variant (same id with other
        // content, or, vanishingly rarely, another id with the same 64-bit key). The fingerprint (time, source,
        // name, caller, request id) differs for most variants; equal fingerprints are settled on the records.
        let mut variant = 0i64;
        let mut same_id_seen = false;
        let rows: Vec<StoredKey> = {
            let mut st = c
                .prepare_cached(
                    "SELECT id, variant, fingerprint, event_id = ?2 AND recipient_account = ?3, source_id, record_index,
                            raw_hash
                       FROM events WHERE event_key = ?1 ORDER BY variant",
                )
                .map_err(|e| self.e(e))?;
            let rows = st
                .query_map(
                    params![key_hash(&ev.event_id), ev.event_id, ev.recipient_account],
                    |r| {
                        Ok((
                            r.get(0)?,
                            r.get(1)?,
                            r.get(2)?,
                            r.get(3)?,
                            r.get(4)?,
                            r.get(5)?,
                            r.get(6)?,
                        ))
                    },
                )
                .map_err(|e| self.e(e))?;
            rows.collect::<rusqlite::Result<_>>()
                .map_err(|e| self.e(e))?
        };
        for (id, v, fp, same_id, stored_source, stored_index, raw_hash) in rows {
            same_id_seen |= same_id;
            if same_id && fp == ev.fingerprint {
                let same = if raw_hash == Some(ev.raw_hash) {
                    true // the same bytes
                } else if stored_source == source_id {
                    events
                        .get(stored_index as usize)
                        .is_some_and(|s| crate::model::json::same_record(&s.raw, &ev.raw))
                } else {
                    self.stored_raw(stored_source, stored_index)?
                        .is_some_and(|s| crate::model::json::same_record(&s, &ev.raw))
                };
                if same {
                    c.prepare_cached("INSERT OR IGNORE INTO event_deliveries(event, source_id, record_index) VALUES (?1, ?2, ?3)")
                        .and_then(|mut s| s.execute(params![id, source_id, index as i64]))
                        .map_err(|e| self.e(e))?;
                    self.last = EventInsert::Duplicate;
                    return Ok(EventInsert::Duplicate);
                }
            }
            variant = variant.max(v + 1);
        }
        self.insert_event_row(ev, variant, principal, source_id, index)?;
        self.finish_event(
            ev,
            principal,
            if same_id_seen {
                EventInsert::Conflict
            } else {
                EventInsert::New
            },
        )
    }

    /// The raw record of an event stored from an earlier source (its chunk decompressed once for consecutive
    /// re-deliveries from the same file).
    fn stored_raw(&mut self, source_id: i64, record_index: i64) -> Result<Option<String>> {
        let chunk = (source_id, record_index / CHUNK_RECORDS as i64);
        if self.raw_cache.as_ref().map(|(k, _)| *k) != Some(chunk) {
            let data: Option<Vec<u8>> = self
                .conn
                .prepare_cached(
                    "SELECT data FROM raw_chunks WHERE source_id = ?1 AND chunk_no = ?2",
                )
                .and_then(|mut s| {
                    s.query_row(params![chunk.0, chunk.1], |r| r.get(0))
                        .optional()
                })
                .map_err(|e| self.e(e))?;
            let Some(data) = data else { return Ok(None) };
            let Ok(buf) = zstd::stream::decode_all(&data[..]) else {
                return Ok(None);
            };
            self.raw_cache = Some((chunk, buf));
        }
        Ok(self.raw_cache.as_ref().and_then(|(_, buf)| {
            super::raw::nth_record(buf, (record_index % CHUNK_RECORDS as i64) as usize)
        }))
    }

    /// Inserts the event row; false when an event with the same (id, account, variant) exists.
    fn insert_event_row(
        &mut self,
        ev: &Event,
        variant: i64,
        principal: i64,
        source_id: i64,
        index: u64,
    ) -> Result<bool> {
        let c = self.conn;
        let id = &ev.identity;
        c.prepare_cached(
            "INSERT INTO events(event_key, event_id, recipient_account, variant, event_time, event_version, event_source, event_name,
                aws_region, source_ip, user_agent, error_code, error_message, request_id, event_type, event_category,
                read_only, management_event, shared_event_id, vpc_endpoint_id, principal_id, user_identity_type,
                user_identity_arn, access_key_id, fingerprint, source_id, record_index, raw_hash)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22,
                ?23, ?24, ?25, ?26, ?27, ?28)
             ON CONFLICT DO NOTHING",
        )
        .and_then(|mut s| {
            s.execute(params![
                key_hash(&ev.event_id),
                ev.event_id,
                ev.recipient_account,
                variant,
                ev.time_ms,
                ev.event_version,
                ev.event_source,
                ev.event_name,
                ev.region,
                ev.source_ip,
                ev.user_agent,
                ev.error_code,
                ev.error_message,
                ev.request_id,
                ev.event_type,
                ev.event_category,
                b(ev.read_only),
                b(ev.management_event),
                ev.shared_event_id,
                ev.vpc_endpoint_id,
                principal,
                id.utype,
                id.arn,
                id.access_key_id,
                ev.fingerprint,
                source_id,
                index as i64,
                ev.raw_hash,
            ])
        })
        .map(|n| n == 1)
        .map_err(|e| self.e(e))
    }

    /// Links a newly inserted event to its resources and sessions.
    fn finish_event(
        &mut self,
        ev: &Event,
        principal: i64,
        kind: EventInsert,
    ) -> Result<EventInsert> {
        let c = self.conn;
        let id = &ev.identity;
        let event_row = c.last_insert_rowid();
        for (r, access) in &ev.resources {
            let rid = self.resource_id(r)?;
            self.touches.push((rid, event_row, access.as_str()));
        }
        if let Some(key) = &id.access_key_id {
            self.observe_session(key, principal, ev)?;
        }
        self.log_identity(ev, principal)?;
        if let Some(issued) = &ev.issued {
            if ev.error_code.is_none() {
                self.conn
                    .prepare_cached(
                        "INSERT INTO sessions(access_key_id, session_arn, session_name, source_identity, expiration_ms,
                            issued_by_event, issuer_principal_id, issuer_access_key_id, issue_kind, issued_ms)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                         ON CONFLICT(access_key_id) DO UPDATE SET
                            session_arn = coalesce(sessions.session_arn, excluded.session_arn),
                            session_name = coalesce(sessions.session_name, excluded.session_name),
                            source_identity = coalesce(sessions.source_identity, excluded.source_identity),
                            expiration_ms = coalesce(sessions.expiration_ms, excluded.expiration_ms),
                            issued_by_event = coalesce(sessions.issued_by_event, excluded.issued_by_event),
                            issuer_principal_id = coalesce(sessions.issuer_principal_id, excluded.issuer_principal_id),
                            issuer_access_key_id = coalesce(sessions.issuer_access_key_id, excluded.issuer_access_key_id),
                            issue_kind = coalesce(sessions.issue_kind, excluded.issue_kind),
                            issued_ms = coalesce(sessions.issued_ms, excluded.issued_ms)",
                    )
                    .and_then(|mut s| {
                        s.execute(params![
                            issued.access_key_id,
                            issued.session_arn,
                            issued.session_name,
                            issued.source_identity,
                            issued.expiration_ms,
                            event_row,
                            principal,
                            id.access_key_id,
                            issued.kind,
                            ev.time_ms,
                        ])
                    })
                    .map_err(|e| self.e(e))?;
                self.caches.sessions.remove(&issued.access_key_id);
            }
        }
        self.last = kind;
        Ok(kind)
    }

    /// A key used by a call: make sure the session row exists and knows whose it is. Cached: one write per key.
    fn observe_session(&mut self, key: &str, principal: i64, ev: &Event) -> Result<()> {
        let id = &ev.identity;
        let have = mask(&[
            true,
            id.arn.is_some(),
            id.session_name.is_some(),
            id.source_identity.is_some(),
            id.mfa_authenticated.is_some(),
            id.session_created_ms.is_some(),
            id.on_behalf_of.is_some() || id.identity_provider.is_some(),
            id.context_json.is_some(),
        ]);
        let known = self.caches.sessions.get(key).copied();
        if known.is_some_and(|k| have & !k == 0) {
            return Ok(()); // nothing this record could add
        }
        self.conn
            .prepare_cached(
                "INSERT INTO sessions(access_key_id, principal_id, session_arn, session_name, source_identity,
                    mfa_authenticated, created_ms, on_behalf_of, identity_provider, context)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                 ON CONFLICT(access_key_id) DO UPDATE SET
                    principal_id = coalesce(sessions.principal_id, excluded.principal_id),
                    session_arn = coalesce(sessions.session_arn, excluded.session_arn),
                    session_name = coalesce(sessions.session_name, excluded.session_name),
                    source_identity = coalesce(sessions.source_identity, excluded.source_identity),
                    mfa_authenticated = coalesce(sessions.mfa_authenticated, excluded.mfa_authenticated),
                    created_ms = coalesce(sessions.created_ms, excluded.created_ms),
                    on_behalf_of = coalesce(sessions.on_behalf_of, excluded.on_behalf_of),
                    identity_provider = coalesce(sessions.identity_provider, excluded.identity_provider),
                    context = coalesce(sessions.context, excluded.context)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    key,
                    principal,
                    id.arn,
                    id.session_name,
                    id.source_identity,
                    b(id.mfa_authenticated),
                    id.session_created_ms,
                    id.on_behalf_of,
                    id.identity_provider,
                    id.context_json,
                ])
            })
            .map_err(|e| self.e(e))?;
        self.caches
            .sessions
            .insert(key.to_string(), known.unwrap_or(0) | have);
        Ok(())
    }

    fn principal_id(&mut self, p: &Principal) -> Result<i64> {
        let have = mask(&[p.arn.is_some(), p.account.is_some(), p.name.is_some()]);
        if let Some((id, known)) = self.caches.principals.get(&p.key) {
            if have & !known == 0 {
                return Ok(*id);
            }
        }
        let id: i64 = self
            .conn
            .prepare_cached(
                "INSERT INTO principals(key, type, arn, account_id, name) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT(key) DO UPDATE SET arn = coalesce(principals.arn, excluded.arn),
                    account_id = coalesce(principals.account_id, excluded.account_id),
                    name = coalesce(principals.name, excluded.name)
                 RETURNING id",
            )
            .and_then(|mut s| s.query_row(params![p.key, p.ptype, p.arn, p.account, p.name], |r| r.get(0)))
            .map_err(|e| self.e(e))?;
        let known = self.caches.principals.get(&p.key).map_or(0, |(_, k)| *k);
        self.caches
            .principals
            .insert(p.key.clone(), (id, known | have));
        Ok(id)
    }

    fn resource_id(&mut self, r: &ResourceRef) -> Result<i64> {
        let hash = key_hash(&r.key);
        let has_arn = u8::from(r.arn.is_some());
        if let Some((id, known)) = self.caches.resources.get(&hash).copied() {
            if has_arn & !known == 0 && r.aliases.is_empty() {
                return Ok(id);
            }
            if has_arn & !known != 0 {
                self.conn
                    .prepare_cached("UPDATE resources SET arn = ?2 WHERE id = ?1 AND arn IS NULL")
                    .and_then(|mut s| s.execute(params![id, r.arn]))
                    .map_err(|e| self.e(e))?;
            }
            self.insert_aliases(id, r)?;
            self.caches.resources.insert(hash, (id, known | has_arn));
            return Ok(id);
        }
        let c = self.conn;
        let existing: Option<i64> = c
            .prepare_cached("SELECT id FROM resources WHERE key_hash = ?1 AND key = ?2")
            .and_then(|mut s| {
                s.query_row(params![hash, r.key], |row| row.get(0))
                    .optional()
            })
            .map_err(|e| self.e(e))?;
        let id = match existing {
            Some(id) => {
                if r.arn.is_some() {
                    c.prepare_cached("UPDATE resources SET arn = ?2 WHERE id = ?1 AND arn IS NULL")
                        .and_then(|mut s| s.execute(params![id, r.arn]))
                        .map_err(|e| self.e(e))?;
                }
                id
            }
            None => {
                c.prepare_cached(
                    "INSERT INTO resources(key_hash, key, type, arn, account_id, region, resource_id)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )
                .and_then(|mut s| {
                    s.execute(params![
                        hash,
                        r.key,
                        r.rtype,
                        r.arn,
                        (!r.account.is_empty()).then_some(&r.account),
                        (!r.region.is_empty()).then_some(&r.region),
                        r.id
                    ])
                })
                .map_err(|e| self.e(e))?;
                c.last_insert_rowid()
            }
        };
        self.insert_aliases(id, r)?;
        self.caches.resources.insert(hash, (id, has_arn));
        Ok(id)
    }

    fn insert_aliases(&self, id: i64, r: &ResourceRef) -> Result<()> {
        if r.aliases.is_empty() {
            return Ok(());
        }
        let mut st = self
            .conn
            .prepare_cached(
                "INSERT OR IGNORE INTO resource_aliases(alias, resource) VALUES (?1, ?2)",
            )
            .map_err(|e| self.e(e))?;
        for a in &r.aliases {
            st.execute(params![a, id]).map_err(|e| self.e(e))?;
        }
        Ok(())
    }

    /// Returns true when the configuration state is new.
    fn insert_item(&mut self, item: &ConfigItem, source_id: i64, index: u64) -> Result<bool> {
        let rid = self.resource_id(&item.resource)?;
        let c = self.conn;
        let existing: Option<(i64, bool)> = c
            .prepare_cached("SELECT id, configuration IS NULL FROM config_items WHERE resource = ?1 AND state_id = ?2")
            .and_then(|mut s| s.query_row(params![rid, item.state_id], |r| Ok((r.get(0)?, r.get(1)?))).optional())
            .map_err(|e| self.e(e))?;
        let raw = zstd::bulk::compress(item.raw.as_bytes(), 3)
            .map_err(|e| self.e(rusqlite::Error::ToSqlConversionFailure(Box::new(e))))?;
        let related = (!item.related_events.is_empty())
            .then(|| serde_json::to_string(&item.related_events).unwrap_or_default());
        if let Some((id, lacks_configuration)) = existing {
            // The same state seen again. An oversized summary is completed by the full item when it arrives.
            if lacks_configuration && item.configuration.is_some() {
                c.execute(
                    "UPDATE config_items SET configuration = ?2, supplementary = ?3, tags = ?4, relationships = ?5,
                        origin = ?6, raw = ?7 WHERE id = ?1",
                    params![id, item.configuration, item.supplementary, item.tags, item.relationships, item.origin, raw],
                )
                .map_err(|e| self.e(e))?;
            }
            // A notification's diff completes a state first stored from a history file (and is kept when the
            // history file comes after the notification).
            if let Some(d) = &item.diff {
                c.prepare_cached(
                    "UPDATE config_items SET diff_change_type = ?2, diff = ?3 WHERE id = ?1 AND diff IS NULL",
                )
                .and_then(|mut s| s.execute(params![id, d.change_type, d.changed_properties]))
                .map_err(|e| self.e(e))?;
            }
            c.prepare_cached("INSERT OR IGNORE INTO config_item_deliveries(item, source_id, record_index) VALUES (?1, ?2, ?3)")
                .and_then(|mut s| s.execute(params![id, source_id, index as i64]))
                .map_err(|e| self.e(e))?;
            return Ok(false);
        }
        c.prepare_cached(
            "INSERT INTO config_items(resource, resource_type, resource_id, resource_name, account_id, region, capture_time,
                state_id, state_id_synthesized, status, version, md5, creation_time, availability_zone, configuration,
                supplementary, tags, relationships, related_events, origin, source_id, record_index, raw,
                diff_change_type, diff)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23,
                ?24, ?25)",
        )
        .and_then(|mut s| {
            s.execute(params![
                rid,
                item.resource_type,
                item.resource_id,
                item.resource_name,
                item.account,
                item.region,
                item.capture_ms,
                item.state_id,
                item.state_id_synthesized,
                item.status,
                item.version,
                item.md5,
                item.creation_ms,
                item.availability_zone,
                item.configuration,
                item.supplementary,
                item.tags,
                item.relationships,
                related,
                item.origin,
                source_id,
                index as i64,
                raw,
                item.diff.as_ref().and_then(|d| d.change_type.as_deref()),
                item.diff.as_ref().map(|d| d.changed_properties.as_str()),
            ])
        })
        .map_err(|e| self.e(e))?;
        Ok(true)
    }
}

/// An event row with the key of one being inserted: id, variant, fingerprint, whether id and account are the
/// same, first source and record index, raw-record hash.
type StoredKey = (i64, i64, i64, bool, i64, i64, Option<i64>);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EventInsert {
    New,
    Duplicate,
    Conflict,
}
