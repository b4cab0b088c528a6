//! The SQLite store: the only module that speaks SQL.
//!
//! One file in WAL mode. Each source is written inside a transaction together with its `sources` row, so a run
//! killed at any point leaves whole sources only, and a rerun (which skips known sources) completes the work.

mod collect;
mod ids;
mod integrity;
mod lock;
pub mod query;
mod raw;
mod report;
pub mod sql;
mod stats;
mod writer;

pub use integrity::{NewestEvent, StoredKey};
pub use lock::{lock_path, LockError, RunLock};
pub use report::{SourceGroup, Verification};
pub use stats::Stats;
pub use writer::{
    encode_chunks, key_hash, Resolved, SourceMeta, WriteOutcome, Writer, CHUNK_RECORDS,
};

use rusqlite::{Connection, OpenFlags};
use rusqlite_migration::{Migrations, M};
use std::path::{Path, PathBuf};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("database {path}: {source}")]
    Sqlite {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("database {path}: schema migration failed: {source}")]
    Migration {
        path: PathBuf,
        source: rusqlite_migration::Error,
    },
    #[error("database {path} does not exist (run `trailgraph ingest` first)")]
    Missing { path: PathBuf },
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// The SQL schema, one numbered file per migration.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_init.sql"),
    include_str!("migrations/0002_query_indexes.sql"),
    include_str!("migrations/0003_session_issue_time.sql"),
    include_str!("migrations/0004_integrity.sql"),
    include_str!("migrations/0005_lineage.sql"),
    include_str!("migrations/0006_collect.sql"),
    include_str!("migrations/0007_sql_views.sql"),
    include_str!("migrations/0008_session_window.sql"),
    include_str!("migrations/0009_logged_identities.sql"),
    include_str!("migrations/0010_config_diffs.sql"),
    include_str!("migrations/0011_event_raw_hash.sql"),
    include_str!("migrations/0012_strings.sql"),
    include_str!("migrations/0013_raw_values.sql"),
];

/// SQL functions available to every connection: `tg_event_key(event_id)`, `tg_key_hash(resource_key)`,
/// `tg_raw_record(chunk, chunk_key, n)` (record n of a raw chunk, as text; the views of docs/sql.md use it).
/// Also the `rarray(?)` table-valued function, so one query can take a list of ids (batched lookups).
fn register_functions(conn: &Connection) -> rusqlite::Result<()> {
    use rusqlite::functions::FunctionFlags;
    rusqlite::vtab::array::load_module(conn)?;
    for name in ["tg_event_key", "tg_key_hash"] {
        conn.create_scalar_function(
            name,
            1,
            FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
            |ctx| Ok(key_hash(&ctx.get::<String>(0)?)),
        )?;
    }
    // Event and request ids stored as 16 bytes when they are canonical UUIDs (store::ids).
    conn.create_scalar_function(
        "tg_id_text",
        1,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| Ok(ids::text_of(ctx.get_raw(0))),
    )?;
    conn.create_scalar_function(
        "tg_id_compact",
        1,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| Ok(ids::compact(ctx.get_raw(0))),
    )?;
    // The last chunk decompressed, by its key: consecutive rows of a scan usually sit in the same chunk, and a
    // view row asks for several fields of one record. Only the record asked for is copied out of it.
    // tg_raw_record(chunk, chunk_key, n, VALUES...): the values of raw::FIELDS from the event's row, which the
    // chunk left out of the record; with three arguments, a record that needs a value reads as NULL.
    let cache = std::sync::Arc::new(std::sync::Mutex::new(None::<(i64, Vec<u8>)>));
    for arity in [3, 3 + raw::FIELDS.len() as i32] {
        let cache = cache.clone();
        conn.create_scalar_function(
            "tg_raw_record",
            arity,
            FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
            move |ctx| {
                let key: Option<i64> = ctx.get(1)?;
                let n: Option<i64> = ctx.get(2)?;
                let (Some(key), Some(n)) = (key, n) else {
                    return Ok(None);
                };
                let mut v: raw::OwnedValues = Default::default();
                for (i, slot) in v.iter_mut().enumerate() {
                    if 3 + i < ctx.len() {
                        *slot = ctx.get(3 + i)?;
                    }
                }
                let mut guard = cache.lock().unwrap_or_else(|p| p.into_inner());
                if guard.as_ref().map(|(k, _)| *k) != Some(key) {
                    let data: Option<Vec<u8>> = ctx.get(0)?;
                    let Some(buf) = data.and_then(|d| raw::decompress(&d).ok()) else {
                        return Ok(None);
                    };
                    *guard = Some((key, buf));
                }
                Ok(guard.as_ref().and_then(|(_, buf)| {
                    raw::nth_record(buf, usize::try_from(n).ok()?, &raw::values(&v))
                }))
            },
        )?;
    }
    Ok(())
}

/// Indexes that only serve queries (not the writer's own lookups): dropped and rebuilt around a bulk load.
const DEFERRABLE_INDEXES: &[&str] = &[
    "events_identity",
    "events_time",
    "events_principal",
    "events_access_key",
    "events_source_ip",
    "event_resources_resource",
    "resources_resource_id",
    "config_items_time",
    "sessions_issuer_key",
    "sessions_issuer_principal",
    "config_items_name",
    "sessions_principal",
    "events_shared_event",
    "events_insight",
    "resources_object_id",
    "events_name_time",
    "diagnostics_source",
    "diagnostics_path",
];

pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl Store {
    /// Opens (creating if needed) the store for writing and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Store> {
        let err = |source| StoreError::Sqlite {
            path: path.to_path_buf(),
            source,
        };
        let mut conn = Connection::open(path).map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_secs(30))
            .map_err(err)?;
        // WAL + NORMAL: a killed process loses nothing committed; an OS crash may lose the last transactions,
        // never consistency. Sources are re-ingested on the next run in that case.
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(err)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(err)?;
        conn.pragma_update(None, "foreign_keys", "OFF")
            .map_err(err)?;
        conn.pragma_update(None, "cache_size", -65536)
            .map_err(err)?; // 64 MiB page cache
        conn.pragma_update(None, "temp_store", "MEMORY")
            .map_err(err)?;
        register_functions(&conn).map_err(err)?;
        let migrations = Migrations::new(MIGRATIONS.iter().map(|sql| M::up(sql)).collect());
        migrations
            .to_latest(&mut conn)
            .map_err(|source| StoreError::Migration {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(Store {
            conn,
            path: path.to_path_buf(),
        })
    }

    /// Opens an existing store read-only (query commands).
    pub fn open_read_only(path: &Path) -> Result<Store> {
        if !path.exists() {
            return Err(StoreError::Missing {
                path: path.to_path_buf(),
            });
        }
        let err = |source| StoreError::Sqlite {
            path: path.to_path_buf(),
            source,
        };
        // A store written by an older trailgraph is brought up to date first.
        let version: i64 = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
            .and_then(|c| c.query_row("PRAGMA user_version", [], |r| r.get(0)))
            .map_err(err)?;
        if version < MIGRATIONS.len() as i64 {
            let mut s = Store::open(path)?;
            s.restore_indexes()?;
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_secs(30))
            .map_err(err)?;
        conn.pragma_update(None, "query_only", true).map_err(err)?;
        // Queries read pages scattered over a large file: map it (no read syscall and copy per page) and keep
        // more pages cached than the default 2 MB. The bundled SQLite would cap the map at 2 GB;
        // `.cargo/config.toml` raises the cap at build time (docs/performance.md).
        conn.pragma_update(None, "mmap_size", 1i64 << 40)
            .map_err(err)?;
        conn.pragma_update(None, "cache_size", -65536)
            .map_err(err)?;
        register_functions(&conn).map_err(err)?;
        Ok(Store {
            conn,
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    pub(super) fn q(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    /// Drops the secondary indexes for a bulk load, remembering their SQL in `deferred_indexes`, in one
    /// transaction. Only worth it (and only done) when the store holds no events yet.
    pub fn defer_indexes(&mut self) -> Result<bool> {
        let empty: bool = self
            .conn
            .query_row("SELECT NOT EXISTS (SELECT 1 FROM event_rows)", [], |r| {
                r.get(0)
            })
            .map_err(|e| self.q(e))?;
        if !empty {
            return Ok(false);
        }
        let tx = self.conn.unchecked_transaction().map_err(|e| self.q(e))?;
        let names: Vec<(String, String)> = {
            let mut st = tx
                .prepare(
                    "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL
                     AND name IN (SELECT value FROM json_each(?1))",
                )
                .map_err(|e| self.q(e))?;
            let list = serde_json::to_string(DEFERRABLE_INDEXES).unwrap_or_default();
            let rows = st
                .query_map([list], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(|e| self.q(e))?;
            rows.collect::<std::result::Result<_, _>>()
                .map_err(|e| self.q(e))?
        };
        for (name, sql) in &names {
            tx.execute(
                "INSERT OR REPLACE INTO deferred_indexes(name, sql) VALUES (?1, ?2)",
                [name, sql],
            )
            .map_err(|e| self.q(e))?;
            // Index names come from the constant list above, never from input.
            tx.execute_batch(&format!("DROP INDEX IF EXISTS \"{name}\""))
                .map_err(|e| self.q(e))?;
        }
        tx.commit().map_err(|e| self.q(e))?;
        Ok(!names.is_empty())
    }

    /// Bulk mode, only for a first load into an empty store: no fsync at checkpoints (`synchronous=OFF`).
    /// A killed process still loses nothing committed (the OS has the writes); an OS crash during the first load
    /// could damage the new file, but it held nothing before and the inputs are still there. `end_bulk` restores
    /// durability and syncs everything.
    pub fn begin_bulk(&mut self) -> Result<()> {
        self.conn
            .pragma_update(None, "synchronous", "OFF")
            .map_err(|e| self.q(e))
    }

    pub fn end_bulk(&mut self) -> Result<()> {
        self.conn
            .pragma_update(None, "synchronous", "NORMAL")
            .map_err(|e| self.q(e))?;
        // A full checkpoint under synchronous=NORMAL fsyncs the WAL and the database.
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .map_err(|e| self.q(e))
    }

    /// Rebuilds the indexes a bulk load (possibly an interrupted one) dropped. The identity index comes first: a
    /// bulk load stored every event it read, and the events stored more than once are settled before it is built
    /// (`Writer::resolve_duplicates`), in the same transaction. Returns the indexes built and what was settled.
    pub fn restore_indexes(&mut self) -> Result<(usize, Resolved)> {
        let pending: Vec<(String, String)> = {
            let mut st = self
                .conn
                .prepare("SELECT name, sql FROM deferred_indexes ORDER BY name")
                .map_err(|e| self.q(e))?;
            let rows = st
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(|e| self.q(e))?;
            rows.collect::<std::result::Result<_, _>>()
                .map_err(|e| self.q(e))?
        };
        if !pending.is_empty() {
            // The sorter of an index build takes as much memory as the page cache: shrink both first, so the
            // peak memory of a bulk load stays that of the load itself.
            self.conn
                .pragma_update(None, "cache_size", -16384)
                .map_err(|e| self.q(e))?;
            self.conn
                .execute_batch("PRAGMA shrink_memory")
                .map_err(|e| self.q(e))?;
            // The sorter spills what does not fit in the cache to temporary files; with temp_store=MEMORY those
            // "files" are heap, and the peak memory of the build grew with the store (817 MB at 10M records).
            self.conn
                .pragma_update(None, "temp_store", "FILE")
                .map_err(|e| self.q(e))?;
            // The parsers are done: the sorter may use every core.
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            self.conn
                .pragma_update(None, "threads", cores as i64)
                .map_err(|e| self.q(e))?;
        }
        let mut resolved = Resolved::default();
        if let Some((_, sql)) = pending.iter().find(|(n, _)| n == "events_identity") {
            // A plain index to find the keys stored more than once; dropped when the unique one exists.
            self.conn
                .execute_batch(
                    "CREATE INDEX IF NOT EXISTS events_key_pending ON event_rows(event_key)",
                )
                .map_err(|e| self.q(e))?;
            let mut writer = Writer::new(&self.conn, &self.path);
            writer.begin()?;
            resolved = writer.resolve_duplicates()?;
            let unique = sql.replacen(
                "CREATE UNIQUE INDEX",
                "CREATE UNIQUE INDEX IF NOT EXISTS",
                1,
            );
            self.conn
                .execute_batch(&format!(
                    "{unique}; DROP INDEX IF EXISTS events_key_pending;
                     DELETE FROM deferred_indexes WHERE name = 'events_identity';"
                ))
                .map_err(|e| self.q(e))?;
            writer.commit()?;
        }
        for (name, sql) in pending.iter().filter(|(n, _)| n != "events_identity") {
            let tx = self.conn.unchecked_transaction().map_err(|e| self.q(e))?;
            let sql = sql.replacen("CREATE INDEX", "CREATE INDEX IF NOT EXISTS", 1);
            tx.execute_batch(&sql).map_err(|e| self.q(e))?;
            tx.execute("DELETE FROM deferred_indexes WHERE name = ?1", [name])
                .map_err(|e| self.q(e))?;
            tx.commit().map_err(|e| self.q(e))?;
        }
        if !pending.is_empty() {
            self.conn
                .pragma_update(None, "temp_store", "MEMORY")
                .map_err(|e| self.q(e))?;
        }
        Ok((pending.len(), resolved))
    }

    /// A writer that batches sources into large transactions.
    pub fn writer(&mut self) -> Writer<'_> {
        Writer::new(&self.conn, &self.path)
    }

    /// The raw record of an event (by `events.id`), exactly as it arrived: its chunk's text with the row's values
    /// put back (`raw::FIELDS`).
    pub fn raw_record(&self, event_row: i64) -> Result<Option<String>> {
        raw::row_record(&self.conn, event_row, &mut None).map_err(|e| self.q(e))
    }

    /// The raw record of an event parsed as JSON, for readers that look fields up in it (`None` when the store
    /// has no record for the row or it is not a JSON value).
    pub fn raw_json(&self, event_row: i64) -> Result<Option<serde_json::Value>> {
        Ok(self
            .raw_record(event_row)?
            .and_then(|r| serde_json::from_str(&r).ok()))
    }
}
