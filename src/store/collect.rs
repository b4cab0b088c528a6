//! What `collect` keeps in the store: the S3 objects it fetched (`s3_objects`), so a rerun skips them.

use super::{Result, Store, Writer};
use rusqlite::params;
use std::collections::HashMap;

impl Store {
    /// The fetched objects of a bucket whose key starts with `prefix`: key → (ETag, size).
    pub fn s3_objects(&self, bucket: &str, prefix: &str) -> Result<HashMap<String, (String, u64)>> {
        let mut st = self
            .conn()
            .prepare(
                "SELECT key, etag, size FROM s3_objects WHERE bucket = ?1 AND substr(key, 1, length(?2)) = ?2",
            )
            .map_err(|e| self.q(e))?;
        let rows = st
            .query_map(params![bucket, prefix], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    (r.get(1)?, r.get::<_, i64>(2)? as u64),
                ))
            })
            .map_err(|e| self.q(e))?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(|e| self.q(e))
    }
}

impl Writer<'_> {
    /// Remembers a fetched object, linked to the source stored at `source_path` (in the current transaction, so
    /// an object is remembered exactly when its source is committed).
    pub fn record_s3_object(
        &mut self,
        bucket: &str,
        key: &str,
        etag: &str,
        size: u64,
        source_path: &str,
    ) -> Result<()> {
        self.begin()?;
        self.conn
            .prepare_cached(
                "INSERT INTO s3_objects(bucket, key, etag, size, fetched_at, source_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, (SELECT source_id FROM source_locations WHERE path = ?6))
                 ON CONFLICT(bucket, key) DO UPDATE SET etag = excluded.etag, size = excluded.size,
                     fetched_at = excluded.fetched_at, source_id = excluded.source_id",
            )
            .and_then(|mut s| {
                s.execute(params![
                    bucket,
                    key,
                    etag,
                    size as i64,
                    chrono::Utc::now().timestamp_millis(),
                    source_path
                ])
            })
            .map_err(|e| self.e(e))?;
        Ok(())
    }
}
