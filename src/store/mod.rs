//! The SQLite store: the only module that speaks SQL.
//!
//! One file in WAL mode. Each source is written inside a transaction together with its `sources` row, so a run
//! killed at any point leaves whole sources only, and a rerun (which skips known sources) completes the work.

mod raw;
mod stats;
mod writer;

pub use raw::{decode_chunk, encode_chunk};
pub use stats::Stats;
pub use writer::{SourceMeta, WriteOutcome, Writer};

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
    #[error("database {path}: {source}")]
    Query {
        path: PathBuf,
        source: rusqlite::Error,
    },
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// The SQL schema, one numbered file per migration.
const MIGRATIONS: &[&str] = &[include_str!("migrations/0001_init.sql")];

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
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_secs(30))
            .map_err(err)?;
        conn.pragma_update(None, "query_only", true).map_err(err)?;
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

    fn q(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Query {
            path: self.path.clone(),
            source,
        }
    }

    /// A writer that batches sources into large transactions.
    pub fn writer(&mut self) -> Writer<'_> {
        Writer::new(&self.conn, &self.path)
    }

    /// The raw record of an event (by `events.id`), exactly as it arrived.
    pub fn raw_record(&self, event_row: i64) -> Result<Option<String>> {
        let row: Option<(Vec<u8>, i64)> = self
            .conn
            .query_row(
                "SELECT c.data, e.raw_index FROM events e JOIN raw_chunks c ON c.id = e.raw_chunk WHERE e.id = ?1",
                [event_row],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map(Some)
            .or_else(|e| if e == rusqlite::Error::QueryReturnedNoRows { Ok(None) } else { Err(e) })
            .map_err(|e| self.q(e))?;
        Ok(row.and_then(|(data, idx)| decode_chunk(&data).ok()?.into_iter().nth(idx as usize)))
    }
}
