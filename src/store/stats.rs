//! `stats`: what the store holds. The field names of [`Stats`] are a contract (schemas/stats.schema.json).

use super::{Result, Store};
use serde::Serialize;

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Stats {
    /// Distinct CloudTrail events.
    pub events: i64,
    /// Distinct configuration states (resource + configurationStateId).
    pub config_items: i64,
    pub sources: i64,
    pub principals: i64,
    pub resources: i64,
    pub diagnostics: i64,
    /// Earliest and latest `eventTime`, RFC 3339 UTC; null when there are no timed events.
    pub first_event_time: Option<String>,
    pub last_event_time: Option<String>,
    pub first_event_time_ms: Option<i64>,
    pub last_event_time_ms: Option<i64>,
    pub sessions: i64,
    /// Deliveries of events already stored (the same eventID in another file).
    pub duplicate_deliveries: i64,
    pub diagnostics_by_severity: std::collections::BTreeMap<String, i64>,
    /// Files that could not be ingested at all (their latest failure).
    pub failed_files: i64,
    /// Files passed over as not audit data (docs/ingest.md).
    pub skipped_files: i64,
    pub sources_by_kind: std::collections::BTreeMap<String, i64>,
    /// The five principals with the most events.
    pub top_principals: Vec<TopPrincipal>,
    pub accounts: Vec<String>,
    pub regions: Vec<String>,
    /// Sources per integrity verdict of `verify` (`validated`, `invalid`, `unverified`).
    pub integrity: std::collections::BTreeMap<String, i64>,
    /// Events per integrity verdict of the file they were first delivered in.
    pub events_by_integrity: std::collections::BTreeMap<String, i64>,
    /// Public keys kept for `verify`.
    pub public_keys: i64,
    /// When `verify` last ran against this store (RFC 3339 UTC), null if never.
    pub last_verified_at: Option<String>,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct TopPrincipal {
    pub key: String,
    #[serde(rename = "type")]
    pub ptype: String,
    pub events: i64,
}

impl Store {
    pub fn stats(&self) -> Result<Stats> {
        let c = self.conn();
        let q = |sql: &str| -> Result<i64> {
            c.query_row(sql, [], |r| r.get(0)).map_err(|e| self.q(e))
        };
        let (first, last): (Option<i64>, Option<i64>) = c
            .query_row(
                "SELECT min(event_time), max(event_time) FROM event_rows",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(|e| self.q(e))?;
        let grouped = |sql: &str| -> Result<std::collections::BTreeMap<String, i64>> {
            let mut st = c.prepare(sql).map_err(|e| self.q(e))?;
            let rows = st
                .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
                .map_err(|e| self.q(e))?;
            rows.collect::<std::result::Result<_, _>>()
                .map_err(|e| self.q(e))
        };
        let list = |sql: &str| -> Result<Vec<String>> {
            let mut st = c.prepare(sql).map_err(|e| self.q(e))?;
            let rows = st
                .query_map([], |r| r.get::<_, String>(0))
                .map_err(|e| self.q(e))?;
            rows.collect::<std::result::Result<_, _>>()
                .map_err(|e| self.q(e))
        };
        Ok(Stats {
            events: q("SELECT count(*) FROM event_rows")?,
            config_items: q("SELECT count(*) FROM config_items")?,
            sources: q("SELECT count(*) FROM sources")?,
            principals: q("SELECT count(*) FROM principals")?,
            resources: q("SELECT count(*) FROM resources")?,
            diagnostics: q("SELECT count(*) FROM diagnostics")?,
            first_event_time: first.map(crate::model::time::format_ms),
            last_event_time: last.map(crate::model::time::format_ms),
            first_event_time_ms: first,
            last_event_time_ms: last,
            sessions: q("SELECT count(*) FROM sessions")?,
            duplicate_deliveries: q("SELECT count(*) FROM event_deliveries")?,
            diagnostics_by_severity: grouped("SELECT severity, count(*) FROM diagnostics GROUP BY severity ORDER BY severity")?,
            failed_files: q("SELECT count(*) FROM diagnostics WHERE source_id IS NULL AND severity = 'error'")?,
            skipped_files: q("SELECT count(*) FROM diagnostics WHERE source_id IS NULL AND code = 'file_skipped'")?,
            sources_by_kind: grouped("SELECT kind, count(*) FROM sources GROUP BY kind ORDER BY kind")?,
            top_principals: {
                let mut st = c
                    .prepare(
                        "SELECT p.key, p.type, n FROM (SELECT principal_id, count(*) AS n FROM event_rows GROUP BY principal_id) e
                         JOIN principals p ON p.id = e.principal_id ORDER BY n DESC, p.key LIMIT 5",
                    )
                    .map_err(|e| self.q(e))?;
                let rows = st
                    .query_map([], |r| Ok(TopPrincipal { key: r.get(0)?, ptype: r.get(1)?, events: r.get(2)? }))
                    .map_err(|e| self.q(e))?;
                rows.collect::<std::result::Result<_, _>>().map_err(|e| self.q(e))?
            },
            accounts: list(
                "SELECT text FROM strings WHERE id IN (SELECT account_s FROM event_rows) AND text <> ''
                 UNION SELECT DISTINCT account_id FROM config_items WHERE account_id <> '' ORDER BY 1",
            )?,
            regions: list(
                "SELECT text FROM strings WHERE id IN (SELECT region_s FROM event_rows)
                 UNION SELECT DISTINCT region FROM config_items WHERE region <> '' ORDER BY 1",
            )?,
            integrity: grouped("SELECT integrity, count(*) FROM sources GROUP BY integrity ORDER BY integrity")?,
            events_by_integrity: grouped(
                "SELECT s.integrity, sum(n) FROM (SELECT source_id, count(*) AS n FROM event_rows GROUP BY source_id) e
                 JOIN sources s ON s.id = e.source_id GROUP BY s.integrity ORDER BY s.integrity",
            )?,
            public_keys: q("SELECT count(*) FROM public_keys")?,
            last_verified_at: c
                .query_row("SELECT max(verified_at) FROM verifications", [], |r| r.get::<_, Option<i64>>(0))
                .map_err(|e| self.q(e))?
                .map(crate::model::time::format_ms),
        })
    }
}
