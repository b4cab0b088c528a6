//! The rows `report` needs beyond `correlate` and `lineage`: what the store holds and how much of it was
//! validated, the last `verify` run, and the evidence of events named by id.

use super::query::EvidenceRow;
use super::{Result, Store};
use std::collections::BTreeMap;

/// Sources of one kind with one integrity status.
#[derive(Debug, Clone)]
pub struct SourceGroup {
    pub kind: String,
    pub integrity: String,
    pub files: i64,
    pub events: i64,
}

/// The newest `verify` run recorded in the store.
#[derive(Debug, Clone)]
pub struct Verification {
    pub verified_at_ms: i64,
    pub findings: i64,
    /// The JSON report of that run (schemas/verify.schema.json).
    pub report: String,
}

impl Store {
    /// Sources grouped by kind and integrity status, with the events first delivered by them.
    pub fn source_groups(&self) -> Result<Vec<SourceGroup>> {
        self.collect(
            "SELECT kind, integrity, count(*), sum(events_new) FROM sources
              GROUP BY kind, integrity ORDER BY kind, integrity",
            [],
            |r| {
                Ok(SourceGroup {
                    kind: r.get(0)?,
                    integrity: r.get(1)?,
                    files: r.get(2)?,
                    events: r.get::<_, Option<i64>>(3)?.unwrap_or(0),
                })
            },
        )
    }

    /// Number of events and the first and last event time (epoch ms).
    pub fn event_span(&self) -> Result<(i64, Option<i64>, Option<i64>)> {
        self.conn()
            .query_row(
                "SELECT count(*), min(event_time), max(event_time) FROM event_rows",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .map_err(|e| self.q(e))
    }

    pub fn latest_verification(&self) -> Result<Option<Verification>> {
        Ok(self
            .collect(
                "SELECT verified_at, findings, report FROM verifications ORDER BY verified_at DESC, id DESC LIMIT 1",
                [],
                |r| {
                    Ok(Verification {
                        verified_at_ms: r.get(0)?,
                        findings: r.get(1)?,
                        report: r.get(2)?,
                    })
                },
            )?
            .into_iter()
            .next())
    }

    /// The evidence (every delivery: source file, integrity, record index) of events named by `eventID`.
    pub fn evidence_by_event_id(
        &self,
        ids: &[String],
    ) -> Result<BTreeMap<String, Vec<EvidenceRow>>> {
        let mut rows: Vec<(i64, String)> = Vec::new();
        for id in ids {
            rows.extend(self.collect(
                "SELECT id, event_id FROM events WHERE event_key = tg_event_key(?1) AND event_id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?);
        }
        let row_ids: Vec<i64> = rows.iter().map(|(i, _)| *i).collect();
        let mut by_row = self.evidence_many(&row_ids)?;
        let mut out: BTreeMap<String, Vec<EvidenceRow>> = BTreeMap::new();
        for (row, id) in rows {
            out.entry(id)
                .or_default()
                .extend(by_row.remove(&row).unwrap_or_default());
        }
        Ok(out)
    }
}
