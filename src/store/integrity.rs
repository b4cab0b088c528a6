//! What `verify` keeps in the store: public keys (for later offline runs), the verdict per source
//! (`sources.integrity`, matched by the SHA-256 of the uncompressed bytes) and one row per run.

use super::{Result, Store};
use rusqlite::params;
use std::collections::BTreeMap;

/// A public key as stored (`public_keys`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKey {
    pub fingerprint: String,
    /// PKCS#1 DER.
    pub der: Vec<u8>,
    pub valid_from: Option<i64>,
    pub valid_to: Option<i64>,
    pub source: String,
}

/// Events the store holds per (account, region), from CloudTrail log files laid out as such.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewestEvent {
    pub time: i64,
    pub event_id: String,
}

impl Store {
    pub fn public_keys(&self) -> Result<Vec<StoredKey>> {
        let mut st = self
            .conn()
            .prepare(
                "SELECT fingerprint, der, valid_from, valid_to, source FROM public_keys
                 ORDER BY fingerprint, valid_from",
            )
            .map_err(|e| self.q(e))?;
        let rows = st
            .query_map([], |r| {
                Ok(StoredKey {
                    fingerprint: r.get(0)?,
                    der: r.get(1)?,
                    valid_from: r.get(2)?,
                    valid_to: r.get(3)?,
                    source: r.get(4)?,
                })
            })
            .map_err(|e| self.q(e))?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(|e| self.q(e))
    }

    /// Keeps keys not stored yet; returns how many were new. A known key gets a validity window it lacked.
    pub fn save_public_keys(&mut self, keys: &[StoredKey]) -> Result<usize> {
        let tx = self.conn.unchecked_transaction().map_err(|e| self.q(e))?;
        let mut new = 0;
        for k in keys {
            new += tx
                .execute(
                    "INSERT OR IGNORE INTO public_keys(fingerprint, der, valid_from, valid_to, source)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![k.fingerprint, k.der, k.valid_from, k.valid_to, k.source],
                )
                .map_err(|e| self.q(e))?;
            tx.execute(
                "UPDATE public_keys SET valid_from = coalesce(valid_from, ?3), valid_to = coalesce(valid_to, ?4)
                 WHERE fingerprint = ?1 AND der = ?2",
                params![k.fingerprint, k.der, k.valid_from, k.valid_to],
            )
            .map_err(|e| self.q(e))?;
        }
        tx.commit().map_err(|e| self.q(e))?;
        Ok(new)
    }

    /// Sets `sources.integrity` for each (sha256, status); returns how many sources were updated.
    pub fn record_integrity(&mut self, statuses: &[(String, &str)]) -> Result<usize> {
        let tx = self.conn.unchecked_transaction().map_err(|e| self.q(e))?;
        let mut n = 0;
        {
            let mut st = tx
                .prepare("UPDATE sources SET integrity = ?2 WHERE sha256 = ?1")
                .map_err(|e| self.q(e))?;
            for (sha, status) in statuses {
                n += st.execute(params![sha, status]).map_err(|e| self.q(e))?;
            }
        }
        tx.commit().map_err(|e| self.q(e))?;
        Ok(n)
    }

    pub fn record_verification(
        &mut self,
        at_ms: i64,
        paths_json: &str,
        findings: usize,
        report_json: &str,
    ) -> Result<i64> {
        self.conn
            .execute(
                "INSERT INTO verifications(verified_at, paths, findings, report) VALUES (?1, ?2, ?3, ?4)",
                params![at_ms, paths_json, findings as i64, report_json],
            )
            .map_err(|e| self.q(e))?;
        Ok(self.conn.last_insert_rowid())
    }

    /// The `StopLogging` call of `account` closest before `to_ms` and not before `from_ms`, if the store has one.
    pub fn stop_logging_event(
        &self,
        account: &str,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Option<String>> {
        self.conn()
            .query_row(
                "SELECT event_id FROM events
                 WHERE event_name = 'StopLogging' AND event_source = 'cloudtrail.amazonaws.com'
                   AND recipient_account = ?1 AND event_time BETWEEN ?2 AND ?3
                 ORDER BY event_time DESC, event_id LIMIT 1",
                params![account, from_ms, to_ms],
                |r| r.get(0),
            )
            .map(Some)
            .or_else(|e| {
                if e == rusqlite::Error::QueryReturnedNoRows {
                    Ok(None)
                } else {
                    Err(e)
                }
            })
            .map_err(|e| self.q(e))
    }

    /// The newest event of each (account, region) whose file sat in a CloudTrail key layout: a digest chain of
    /// that account and region that ends before it is missing its tail.
    pub fn newest_events(&self) -> Result<BTreeMap<(String, String), NewestEvent>> {
        let mut st = self
            .conn()
            .prepare(
                "SELECT s.account_id, s.region, max(e.event_time), tg_id_text(e.event_id) FROM event_rows e
                 JOIN sources s ON s.id = e.source_id
                 WHERE s.service = 'CloudTrail' AND s.account_id IS NOT NULL AND s.region IS NOT NULL
                   AND e.event_time IS NOT NULL
                 GROUP BY s.account_id, s.region ORDER BY 1, 2",
            )
            .map_err(|e| self.q(e))?;
        let rows = st
            .query_map([], |r| {
                Ok((
                    (r.get::<_, String>(0)?, r.get::<_, String>(1)?),
                    NewestEvent {
                        time: r.get(2)?,
                        event_id: r.get(3)?,
                    },
                ))
            })
            .map_err(|e| self.q(e))?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(|e| self.q(e))
    }
}
