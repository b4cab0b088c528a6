//! Writes parsed sources. Prepared statements, large transactions, bounded in-memory id caches.

pub use super::raw::CHUNK_RECORDS;
use super::raw::{encode_chunk, event_time_text, ChunkCache, Values};
use super::{Result, StoreError};
use crate::model::{ConfigItem, Diagnostic, Event, Principal, ResourceRef};
use rusqlite::{params, Connection, OptionalExtension};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The raw records of a source's events, compressed in chunks of [`CHUNK_RECORDS`]. CPU work that callers do on
/// their parser threads, not on the writer's.
pub fn encode_chunks(events: &[Event]) -> std::io::Result<Vec<Vec<u8>>> {
    events
        .chunks(CHUNK_RECORDS)
        .map(|c| {
            let times: Vec<Option<String>> = c
                .iter()
                .map(|e| e.time_ms.and_then(event_time_text))
                .collect();
            encode_chunk(
                c.iter()
                    .zip(&times)
                    .map(|(e, t)| (e.raw.as_str(), row_values(e, t.as_deref()))),
            )
        })
        .collect()
}

/// The values of [`super::raw::FIELDS`] as the event's row stores them (`insert_event_row`; `time` is
/// [`event_time_text`] of its time): the raw chunk leaves them out of the record and reading puts them back from
/// the row.
pub fn row_values<'a>(ev: &'a Event, time: Option<&'a str>) -> Values<'a> {
    [
        Some(ev.event_id.as_str()),
        ev.request_id.as_deref(),
        ev.identity.access_key_id.as_deref(),
        ev.source_ip.as_deref(),
        ev.identity.arn.as_deref(),
        ev.user_agent.as_deref(),
        ev.error_message.as_deref(),
        time,
        Some(ev.event_source.as_str()),
        Some(ev.event_name.as_str()),
        ev.region.as_deref(),
        Some(ev.recipient_account.as_str()),
        ev.event_version.as_deref(),
        ev.event_category.as_deref(),
        ev.event_type.as_deref(),
        ev.identity.utype.as_deref(),
    ]
}

/// Entries kept in each id cache: two generations of at most half this many (`Generations`), so that memory stays
/// flat however long the load (a few tens of MB per cache) and the recent working set stays cached.
const CACHE_LIMIT: usize = 400_000;

/// A bounded cache: lookups see the current and the previous generation (a hit in the previous one moves the
/// entry forward); when the current one is full it becomes the previous one, and the oldest entries go.
struct Generations<K, V> {
    current: HashMap<K, V, PassThrough>,
    previous: HashMap<K, V, PassThrough>,
}

impl<K: std::hash::Hash + Eq, V: Copy> Generations<K, V> {
    fn new() -> Self {
        Generations {
            current: HashMap::default(),
            previous: HashMap::default(),
        }
    }

    fn get(&mut self, k: &K) -> Option<V> {
        if let Some(v) = self.current.get(k) {
            return Some(*v);
        }
        let (k, v) = self.previous.remove_entry(k)?;
        self.insert(k, v);
        Some(v)
    }

    fn insert(&mut self, k: K, v: V) {
        if self.current.len() >= CACHE_LIMIT / 2 {
            self.previous = std::mem::take(&mut self.current);
        }
        self.current.insert(k, v);
    }

    fn remove(&mut self, k: &K) {
        self.current.remove(k);
        self.previous.remove(k);
    }
}

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
    /// By the hash of the principal's key ([`text_hash`]).
    principals: Generations<u128, (i64, u8)>,
    /// By the 64-bit key hash (`resources.key_hash`).
    resources: Generations<i64, (i64, u8)>,
    /// By the 128-bit hash of the access key ([`text_hash`]), as the two caches below: a text cache of a
    /// million entries costs about 100 MB held as `String`s, 40 MB held as hashes.
    sessions: Generations<u128, u8>,
    /// `logged_identities` rows already written, by the hash of (text, principal, arn).
    logged: Generations<u128, ()>,
    /// `strings` ids by the hash of the text.
    strings: Generations<u128, i64>,
}

/// The 128-bit XXH3 hash of a text: the key of the writer's text caches. Two texts of one load sharing it is
/// about as likely as 2^-60 (a million entries): a cache hit is taken as the text.
fn text_hash(parts: &[&[u8]]) -> u128 {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    for p in parts {
        h.update(&(p.len() as u64).to_le_bytes());
        h.update(p);
    }
    h.digest128()
}

/// The hasher of maps keyed by [`text_hash`]: the key is already a uniform hash.
#[derive(Default, Clone, Copy)]
struct PassThrough;

impl std::hash::BuildHasher for PassThrough {
    type Hasher = PassThroughHasher;
    fn build_hasher(&self) -> PassThroughHasher {
        PassThroughHasher(0)
    }
}

struct PassThroughHasher(u64);

impl std::hash::Hasher for PassThroughHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only u128 keys reach here through write_u128; anything else is folded in.
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u128(&mut self, v: u128) {
        self.0 = v as u64;
    }
    fn write_i64(&mut self, v: i64) {
        // `resources.key_hash`: already 8 bytes of SHA-256.
        self.0 = v as u64;
    }
}

/// A bit per optional field that is present (`Some`).
fn mask(fields: &[bool]) -> u8 {
    fields
        .iter()
        .enumerate()
        .fold(0, |m, (i, present)| m | (u8::from(*present) << i))
}

pub struct Writer<'c> {
    pub(super) conn: &'c Connection,
    path: PathBuf,
    in_tx: bool,
    caches: Caches,
    /// What the last `insert_event` did.
    last: EventInsert,
    /// event_resources rows of the current source, written in multi-row statements.
    touches: Vec<(i64, i64, i64)>,
    touch_sql_full: String,
    touch_sql_one: String,
    /// The last raw chunk read back to compare a re-delivered record with the stored one: (source, chunk), bytes.
    raw_cache: ChunkCache,
}

fn multi_row_sql(rows: usize) -> String {
    let values: Vec<&str> = vec!["(?, ?, ?)"; rows];
    format!(
        "INSERT OR IGNORE INTO event_resource_rows(resource, event, access) VALUES {}",
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
                principals: Generations::new(),
                resources: Generations::new(),
                sessions: Generations::new(),
                logged: Generations::new(),
                strings: Generations::new(),
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
            let h = text_hash(&[text.as_bytes(), &principal.to_le_bytes(), arn.as_bytes()]);
            if self.caches.logged.get(&h).is_some() {
                continue;
            }
            self.caches.logged.insert(h, ());
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
        // content, or, vanishingly rarely, another id with the same 64-bit key). Equal raw hashes settle a
        // byte-identical re-delivery from the rows; any other record of the same id is compared with the stored one.
        let rows: Vec<StoredKey> = {
            let mut st = c
                .prepare_cached(
                    "SELECT id, variant, event_id = ?2 AND recipient_account = ?3, source_id, record_index, raw_hash
                       FROM events WHERE event_key = ?1 ORDER BY variant",
                )
                .map_err(|e| self.e(e))?;
            let rows = st
                .query_map(
                    params![key_hash(&ev.event_id), ev.event_id, ev.recipient_account],
                    |r| r.try_into(),
                )
                .map_err(|e| self.e(e))?;
            rows.collect::<rusqlite::Result<_>>()
                .map_err(|e| self.e(e))?
        };
        let settled = self.settle(&rows, Some(ev.raw_hash), |w, row| {
            // A record of the source being written is not stored yet: it is read from the source.
            Ok(if row.3 == source_id {
                events
                    .get(row.4 as usize)
                    .is_some_and(|s| crate::model::json::same_record(&s.raw, &ev.raw))
            } else {
                w.stored_raw(row.0)?
                    .is_some_and(|s| crate::model::json::same_record(&s, &ev.raw))
            })
        })?;
        let (variant, same_id_seen) = match settled {
            Settled::DeliveryOf(id) => {
                c.prepare_cached("INSERT OR IGNORE INTO event_deliveries(event, source_id, record_index) VALUES (?1, ?2, ?3)")
                    .and_then(|mut s| s.execute(params![id, source_id, index as i64]))
                    .map_err(|e| self.e(e))?;
                self.last = EventInsert::Duplicate;
                return Ok(EventInsert::Duplicate);
            }
            Settled::Variant { variant, conflict } => (variant, conflict),
        };
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

    /// How a record settles against the rows stored under its key (`rows`, in variant order): the delivery of the
    /// first row whose id and account are its own and whose record is the same (the same raw bytes,
    /// or `same(self, row)`: the same record, compared canonically); else the next variant, a conflict when a row
    /// has its id and account. The one rule of identity for an insert (`insert_event`) and for the end of a bulk
    /// load (`resolve_duplicates`).
    fn settle(
        &mut self,
        rows: &[StoredKey],
        raw_hash: Option<i64>,
        mut same: impl FnMut(&mut Self, &StoredKey) -> Result<bool>,
    ) -> Result<Settled> {
        let mut conflict = false;
        for row in rows {
            let &(id, _, same_id, _, _, stored_hash) = row;
            conflict |= same_id;
            if same_id && ((stored_hash.is_some() && stored_hash == raw_hash) || same(self, row)?) {
                return Ok(Settled::DeliveryOf(id));
            }
        }
        let variant = rows.iter().map(|r| r.1 + 1).max().unwrap_or(0);
        Ok(Settled::Variant { variant, conflict })
    }

    /// The raw record of a stored event row (its chunk decompressed once for consecutive re-deliveries from the
    /// same file), its values put back from the row.
    fn stored_raw(&mut self, row: i64) -> Result<Option<String>> {
        let mut cache = self.raw_cache.take();
        let record = super::raw::row_record(self.conn, row, &mut cache);
        self.raw_cache = cache;
        record.map_err(|e| self.e(e))
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
        let id = &ev.identity;
        let account = self.string_id(&ev.recipient_account)?;
        let version = self.opt_string_id(ev.event_version.as_deref())?;
        let event_source = self.string_id(&ev.event_source)?;
        let event_name = self.string_id(&ev.event_name)?;
        let region = self.opt_string_id(ev.region.as_deref())?;
        let agent = self.opt_string_id(ev.user_agent.as_deref())?;
        let error = self.opt_string_id(ev.error_code.as_deref())?;
        let category = self.opt_string_id(ev.event_category.as_deref())?;
        let arn = self.opt_string_id(id.arn.as_deref())?;
        let ip = self.opt_string_id(ev.source_ip.as_deref())?;
        let key = self.opt_string_id(id.access_key_id.as_deref())?;
        let c = self.conn;
        c.prepare_cached(
            "INSERT INTO event_rows(event_key, event_id, account_s, variant, event_time, version_s, source_s, name_s,
                region_s, ip_s, agent_s, error_s, error_message, request_id, event_type, category_s,
                read_only, management_event, shared_event_id, vpc_endpoint_id, principal_id, user_identity_type,
                arn_s, key_s, source_id, record_index, raw_hash)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22,
                ?23, ?24, ?25, ?26, ?27)
             ON CONFLICT DO NOTHING",
        )
        .and_then(|mut s| {
            s.execute(params![
                key_hash(&ev.event_id),
                super::ids::stored(&ev.event_id),
                account,
                variant,
                ev.time_ms,
                version,
                event_source,
                event_name,
                region,
                ip,
                agent,
                error,
                ev.error_message,
                ev.request_id.as_deref().map(super::ids::stored),
                ev.event_type.as_deref().map(|t| super::ids::coded(super::ids::EVENT_TYPES, t)),
                category,
                b(ev.read_only),
                b(ev.management_event),
                ev.shared_event_id,
                ev.vpc_endpoint_id,
                principal,
                id.utype.as_deref().map(|t| super::ids::coded(super::ids::IDENTITY_TYPES, t)),
                arn,
                key,
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
            self.touches.push((rid, event_row, access.code()));
        }
        if let Some(key) = &id.access_key_id {
            self.observe_session(key, principal, ev)?;
        }
        self.log_identity(ev, principal)?;
        if let Some(issued) = &ev.issued {
            if ev.error_code.is_none() {
                let session_arn = self.opt_string_id(issued.session_arn.as_deref())?;
                self.conn
                    .prepare_cached(
                        "INSERT INTO sessions(access_key_id, arn_s, session_name, source_identity, expiration_ms,
                            issued_by_event, issuer_principal_id, issuer_access_key_id, issue_kind, issued_ms)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                         ON CONFLICT(access_key_id) DO UPDATE SET
                            arn_s = coalesce(sessions.arn_s, excluded.arn_s),
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
                            session_arn,
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
                self.caches
                    .sessions
                    .remove(&text_hash(&[issued.access_key_id.as_bytes()]));
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
        ]);
        let hash = text_hash(&[key.as_bytes()]);
        let known = self.caches.sessions.get(&hash);
        if known.is_some_and(|k| have & !k == 0) {
            return Ok(()); // nothing this record could add
        }
        let session_arn = self.opt_string_id(id.arn.as_deref())?;
        self.conn
            .prepare_cached(
                "INSERT INTO sessions(access_key_id, principal_id, arn_s, session_name, source_identity,
                    mfa_authenticated, created_ms, on_behalf_of, identity_provider)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                 ON CONFLICT(access_key_id) DO UPDATE SET
                    principal_id = coalesce(sessions.principal_id, excluded.principal_id),
                    arn_s = coalesce(sessions.arn_s, excluded.arn_s),
                    session_name = coalesce(sessions.session_name, excluded.session_name),
                    source_identity = coalesce(sessions.source_identity, excluded.source_identity),
                    mfa_authenticated = coalesce(sessions.mfa_authenticated, excluded.mfa_authenticated),
                    created_ms = coalesce(sessions.created_ms, excluded.created_ms),
                    on_behalf_of = coalesce(sessions.on_behalf_of, excluded.on_behalf_of),
                    identity_provider = coalesce(sessions.identity_provider, excluded.identity_provider)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    key,
                    principal,
                    session_arn,
                    id.session_name,
                    id.source_identity,
                    b(id.mfa_authenticated),
                    id.session_created_ms,
                    id.on_behalf_of,
                    id.identity_provider,
                ])
            })
            .map_err(|e| self.e(e))?;
        self.caches.sessions.insert(hash, known.unwrap_or(0) | have);
        Ok(())
    }

    /// The id of a text in `strings` (the text an event row references instead of holding it).
    fn string_id(&mut self, text: &str) -> Result<i64> {
        let hash = text_hash(&[text.as_bytes()]);
        if let Some(id) = self.caches.strings.get(&hash) {
            return Ok(id);
        }
        let id: i64 = self
            .conn
            .prepare_cached(
                "INSERT INTO strings(text) VALUES (?1)
                 ON CONFLICT(text) DO UPDATE SET text = excluded.text RETURNING id",
            )
            .and_then(|mut s| s.query_row([text], |r| r.get(0)))
            .map_err(|e| self.e(e))?;
        self.caches.strings.insert(hash, id);
        Ok(id)
    }

    fn opt_string_id(&mut self, text: Option<&str>) -> Result<Option<i64>> {
        text.map(|t| self.string_id(t)).transpose()
    }

    fn principal_id(&mut self, p: &Principal) -> Result<i64> {
        let have = mask(&[p.arn.is_some(), p.account.is_some(), p.name.is_some()]);
        let hash = text_hash(&[p.key.as_bytes()]);
        let cached = self.caches.principals.get(&hash);
        if let Some((id, known)) = cached {
            if have & !known == 0 {
                return Ok(id);
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
        let known = cached.map_or(0, |(_, k)| k);
        self.caches.principals.insert(hash, (id, known | have));
        Ok(id)
    }

    fn resource_id(&mut self, r: &ResourceRef) -> Result<i64> {
        let hash = key_hash(&r.key);
        // What `resource_rows` keeps: the key and ARN only where they differ from those the `resources` view
        // derives (migration 0013), and no type for an S3 object. An S3 object's ARN is always known.
        let object = r.rtype == "AWS::S3::Object";
        let stored_arn = r
            .arn
            .as_deref()
            .filter(|a| !(object && a.strip_prefix("arn:aws:s3:::") == Some(r.id.as_str())));
        let has_arn = u8::from(r.arn.is_some() || object);
        let set_arn = |c: &Connection, id: i64| {
            c.prepare_cached("UPDATE resource_rows SET arn = ?2 WHERE id = ?1 AND arn IS NULL")
                .and_then(|mut s| s.execute(params![id, stored_arn]))
        };
        if let Some((id, known)) = self.caches.resources.get(&hash) {
            if has_arn & !known == 0 && r.aliases.is_empty() {
                return Ok(id);
            }
            if has_arn & !known != 0 && stored_arn.is_some() {
                set_arn(self.conn, id).map_err(|e| self.e(e))?;
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
                if stored_arn.is_some() {
                    set_arn(c, id).map_err(|e| self.e(e))?;
                }
                id
            }
            None => {
                let derived_key = format!("{}|{}|{}|{}", r.rtype, r.account, r.region, r.id);
                let stored_key = (r.key != derived_key).then_some(r.key.as_str());
                c.prepare_cached(
                    "INSERT INTO resource_rows(key_hash, key, type, arn, account_id, region, resource_id)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )
                .and_then(|mut s| {
                    s.execute(params![
                        hash,
                        stored_key,
                        (!object).then_some(&r.rtype),
                        stored_arn,
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

/// What settling the events a bulk load stored more than once found (`Writer::resolve_duplicates`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Resolved {
    /// Rows that were re-deliveries of an event stored before them: now `event_deliveries` rows.
    pub duplicates: u64,
    /// Rows with the id and account of an earlier event but other content: kept as variants.
    pub conflicting: u64,
}

/// A row of a key stored more than once: id, event id, account, raw hash, source, record index.
type PendingRow = (i64, String, i64, Option<i64>, i64, i64);

impl Writer<'_> {
    /// A bulk load into an empty store writes every event it reads, without the identity index (maintaining a
    /// random 8-byte key per event is what made a load slow down as the store grew). This settles, inside the
    /// caller's transaction, the keys stored more than once, exactly as inserting into an indexed store would
    /// have: in load order, a row whose id, account and record equal an earlier row's is that
    /// event's delivery (its row, its resource rows and any raw chunk left without events go); any other row
    /// of the key is the next variant. Needs an index on `event_rows(event_key)`.
    pub fn resolve_duplicates(&mut self) -> Result<Resolved> {
        let mut out = Resolved::default();
        let c = self.conn;
        let keys: Vec<i64> = {
            let mut st = c
                .prepare("SELECT event_key FROM event_rows GROUP BY event_key HAVING count(*) > 1 ORDER BY event_key")
                .map_err(|e| self.e(e))?;
            let rows = st.query_map([], |r| r.get(0)).map_err(|e| self.e(e))?;
            rows.collect::<rusqlite::Result<_>>()
                .map_err(|e| self.e(e))?
        };
        // Events removed per raw chunk: a chunk all of whose events went is not kept.
        let mut removed: HashMap<(i64, i64), i64> = HashMap::new();
        for key in keys {
            let rows: Vec<PendingRow> = {
                let mut st = c
                    .prepare_cached(
                        "SELECT id, tg_id_text(event_id), account_s, raw_hash, source_id, record_index
                           FROM event_rows WHERE event_key = ?1 ORDER BY id",
                    )
                    .map_err(|e| self.e(e))?;
                let rows = st
                    .query_map([key], |r| r.try_into())
                    .map_err(|e| self.e(e))?;
                rows.collect::<rusqlite::Result<_>>()
                    .map_err(|e| self.e(e))?
            };
            // The rows settled so far, as the rows an insert would have found: (id, variant, same id and account
            // as the row being settled, source, record index, raw hash).
            let mut kept: Vec<(PendingRow, i64)> = Vec::new();
            for row in rows {
                let (id, ref event_id, account, raw_hash, source, index) = row;
                let stored: Vec<StoredKey> = kept
                    .iter()
                    .map(|(k, variant)| {
                        (
                            k.0,
                            *variant,
                            k.1 == *event_id && k.2 == account,
                            k.4,
                            k.5,
                            k.3,
                        )
                    })
                    .collect();
                let settled = self.settle(&stored, raw_hash, |w, k| {
                    let a = w.stored_raw(k.0)?;
                    let b = w.stored_raw(id)?;
                    Ok(matches!((a, b), (Some(a), Some(b)) if crate::model::json::same_record(&a, &b)))
                })?;
                match settled {
                    Settled::DeliveryOf(first) => {
                        for (sql, p) in [
                            ("DELETE FROM event_rows WHERE id = ?1", params![id]),
                            ("DELETE FROM event_resource_rows WHERE event = ?1", params![id]),
                            (
                                "INSERT OR IGNORE INTO event_deliveries(event, source_id, record_index) VALUES (?1, ?2, ?3)",
                                params![first, source, index],
                            ),
                            (
                                "UPDATE sources SET events_new = events_new - 1, events_duplicate = events_duplicate + 1
                                  WHERE id = ?1",
                                params![source],
                            ),
                        ] {
                            c.prepare_cached(sql)
                                .and_then(|mut st| st.execute(p))
                                .map_err(|e| self.e(e))?;
                        }
                        *removed
                            .entry((source, index / CHUNK_RECORDS as i64))
                            .or_default() += 1;
                        out.duplicates += 1;
                    }
                    Settled::Variant { variant, conflict } => {
                        if variant > 0 {
                            c.prepare_cached("UPDATE event_rows SET variant = ?2 WHERE id = ?1")
                                .and_then(|mut st| st.execute(params![id, variant]))
                                .map_err(|e| self.e(e))?;
                        }
                        out.conflicting += u64::from(conflict);
                        kept.push((row, variant));
                    }
                }
            }
        }
        let mut removed: Vec<_> = removed.into_iter().collect();
        removed.sort_unstable();
        for ((source, chunk), n) in removed {
            c.prepare_cached(
                "DELETE FROM raw_chunks WHERE source_id = ?1 AND chunk_no = ?2 AND records = ?3",
            )
            .and_then(|mut st| st.execute(params![source, chunk, n]))
            .map_err(|e| self.e(e))?;
        }
        self.raw_cache = None;
        Ok(out)
    }
}

/// An event row with the key of one being inserted: id, variant, whether id and account are the same, first
/// source and record index, raw-record hash.
type StoredKey = (i64, i64, bool, i64, i64, Option<i64>);

/// Where a record goes among the rows stored under its key (`Writer::settle`).
enum Settled {
    /// It is a delivery of this stored event.
    DeliveryOf(i64),
    /// It is a new event with this variant number; `conflict`: another row has its id and account.
    Variant { variant: i64, conflict: bool },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EventInsert {
    New,
    Duplicate,
    Conflict,
}
