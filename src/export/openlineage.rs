//! OpenLineage RunEvents (spec 2-0-2), one compact JSON document per line (JSON Lines, the form of the
//! OpenLineage file transport and of batch HTTP clients).
//!
//! For each job node (`kind::is_job`: Glue job run, Athena query, Redshift statement, Lambda function, EMR step)
//! that has at least one timed edge: a `START` event at its earliest edge time and a `COMPLETE` event at its
//! latest. The edges of a job are those it is an end of, or the `actor` of.
//! - `run.runId`: [`run_id`], a UUID (RFC 9562 version 8, variant 10) made of the first 128 bits of
//!   SHA-256(`trailgraph:openlineage:run:` + node id): the same node always gives the same run id.
//! - `job.namespace` / `job.name`: the node's `namespace` / `name`; else `aws://ACCOUNT` (or `aws`) and the node
//!   id.
//! - `inputs`: datasets with a `read` edge into the job; `outputs`: datasets with a `write` edge out of it; named by
//!   the dataset node's `namespace` / `name`, else `s3://BUCKET` / key for `s3://` ids, else `aws://ACCOUNT` (or
//!   `aws`) / the node id. Both events carry both lists, sorted and without duplicates.
//! - `producer`: [`producer`]; the custom run facet `trailgraph_cloudtrail` ([`FACET`], schema
//!   `schemas/openlineage-facet.schema.json`) carries the CloudTrail `eventIds` behind the job's edges (sorted),
//!   the trailgraph node id and kind, the principals that started it, and the weakest confidence and integrity.
//!
//! Events are sorted by event time, then job name, job namespace, `START` before `COMPLETE`, then run id.
//! Times are RFC 3339 UTC with milliseconds; edge times that do not parse are ignored.

use crate::lineage::graph::{confidence, edge, kind, Graph, Node};
use crate::model::time::{format_ms, parse_time_str};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::io::Write;

/// The OpenLineage spec version the events follow.
pub const SPEC_VERSION: &str = "2-0-2";
/// `schemaURL` of every event.
pub const SCHEMA_URL: &str = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent";
/// The name of the custom run facet.
pub const FACET: &str = "trailgraph_cloudtrail";

/// The producer URI: the source tree of this trailgraph version.
pub fn producer() -> String {
    format!(
        "https://github.com/trailgraph/trailgraph/tree/v{}",
        env!("CARGO_PKG_VERSION")
    )
}

/// `_schemaURL` of the custom facet: its JSON schema in the source tree of this version.
pub fn facet_schema_url() -> String {
    format!(
        "{}/schemas/openlineage-facet.schema.json#/$defs/TrailgraphCloudtrailRunFacet",
        producer()
    )
}

/// The run id of a job node: a version 8 UUID from SHA-256 of the node id (deterministic, collision-free in
/// practice, and distinct from any random v4 id).
pub fn run_id(node_id: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"trailgraph:openlineage:run:");
    h.update(node_id.as_bytes());
    let d = h.finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    b[6] = (b[6] & 0x0f) | 0x80; // version 8
    b[8] = (b[8] & 0x3f) | 0x80; // variant 10
    let x = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &x[0..8],
        &x[8..12],
        &x[12..16],
        &x[16..20],
        &x[20..32]
    )
}

struct Run {
    start: i64,
    end: i64,
    job_namespace: String,
    job_name: String,
    run_id: String,
    inputs: Vec<Value>,
    outputs: Vec<Value>,
    facet: Value,
}

pub fn write(graph: &Graph, out: &mut dyn Write) -> std::io::Result<()> {
    let graph = &*super::sorted(graph);
    let runs: Vec<Run> = graph
        .nodes
        .iter()
        .filter(|n| kind::is_job(&n.kind))
        .filter_map(|n| run(graph, n))
        .collect();
    let producer = producer();
    let mut events: Vec<(i64, &str, &str, u8, &str, Value)> = Vec::with_capacity(runs.len() * 2);
    for r in &runs {
        for (order, event_type, t) in [(0u8, "START", r.start), (1, "COMPLETE", r.end)] {
            let v = json!({
                "eventType": event_type,
                "eventTime": format_ms(t),
                "producer": producer,
                "schemaURL": SCHEMA_URL,
                "run": {"runId": r.run_id, "facets": {FACET: r.facet}},
                "job": {"namespace": r.job_namespace, "name": r.job_name},
                "inputs": r.inputs,
                "outputs": r.outputs,
            });
            events.push((t, &r.job_name, &r.job_namespace, order, &r.run_id, v));
        }
    }
    events.sort_by(|a, b| (a.0, a.1, a.2, a.3, a.4).cmp(&(b.0, b.1, b.2, b.3, b.4)));
    for e in events {
        let line = serde_json::to_string(&e.5).map_err(std::io::Error::from)?;
        out.write_all(line.as_bytes())?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

fn run(graph: &Graph, node: &Node) -> Option<Run> {
    let id = node.id.as_str();
    let edges: Vec<_> = graph
        .edges
        .iter()
        .filter(|e| e.from == id || e.to == id || e.actor.as_deref() == Some(id))
        .collect();
    let times: Vec<i64> = edges
        .iter()
        .flat_map(|e| [e.time.as_deref(), e.last_time.as_deref()])
        .flatten()
        .filter_map(parse_time_str)
        .collect();
    let start = *times.iter().min()?;
    let end = *times.iter().max()?;

    let mut inputs = BTreeSet::new();
    let mut outputs = BTreeSet::new();
    let mut event_ids = BTreeSet::new();
    let mut started_by = BTreeSet::new();
    let mut named = BTreeSet::new();
    let mut weakest: Option<&str> = None;
    let mut worst_integrity: Option<&str> = None;
    for e in &edges {
        event_ids.extend(e.event_ids.iter().map(String::as_str));
        if e.kind == edge::READ && e.to == id {
            if let Some(d) = dataset(graph, &e.from) {
                inputs.insert(d);
            }
        }
        if e.kind == edge::WRITE && e.from == id {
            if let Some(d) = dataset(graph, &e.to) {
                outputs.insert(d);
            }
        }
        if e.kind == edge::NAMED && e.from == id {
            if let Some(d) = dataset(graph, &e.to) {
                inputs.insert(d);
            }
        }
        if e.named_by_request && e.from == id {
            named.insert(e.to.as_str());
        }
        if e.kind == edge::STARTS && e.to == id {
            started_by.insert(e.from.as_str());
        }
        if weakest.is_none_or(|w| confidence::rank(&e.confidence) < confidence::rank(w)) {
            weakest = Some(&e.confidence);
        }
        if worst_integrity.is_none_or(|w| {
            crate::model::integrity::rank(&e.integrity) < crate::model::integrity::rank(w)
        }) {
            worst_integrity = Some(&e.integrity);
        }
    }
    let dataset_json = |(ns, name): (String, String)| json!({"namespace": ns, "name": name});
    let facet = json!({
        "_producer": producer(),
        "_schemaURL": facet_schema_url(),
        "eventIds": event_ids.into_iter().collect::<Vec<_>>(),
        "nodeId": node.id,
        "nodeKind": node.kind,
        "account": node.account,
        "region": node.region,
        "startedBy": started_by.into_iter().collect::<Vec<_>>(),
        "namedByRequest": named.into_iter().collect::<Vec<_>>(),
        "dataCallsInTrail": node.properties.get("data_calls_in_trail") != Some(&Value::Bool(false)),
        "confidence": weakest,
        "integrity": worst_integrity,
    });
    Some(Run {
        start,
        end,
        job_namespace: node
            .namespace
            .clone()
            .unwrap_or_else(|| fallback_namespace(node.account.as_deref())),
        job_name: node.name.clone().unwrap_or_else(|| node.id.clone()),
        run_id: run_id(&node.id),
        inputs: inputs.into_iter().map(dataset_json).collect(),
        outputs: outputs.into_iter().map(dataset_json).collect(),
        facet,
    })
}

/// The OpenLineage (namespace, name) of a dataset end of an edge. `None` when the node is known and not a
/// dataset; an id that names no node is named from the id alone.
fn dataset(graph: &Graph, id: &str) -> Option<(String, String)> {
    let node = graph.node(id);
    if let Some(n) = node {
        if !kind::is_dataset(&n.kind) {
            return None;
        }
        if let (Some(ns), Some(name)) = (&n.namespace, &n.name) {
            return Some((ns.clone(), name.clone()));
        }
    }
    if let Some(rest) = id.strip_prefix("s3://") {
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        let name = if key.is_empty() { "/" } else { key };
        return Some((format!("s3://{bucket}"), name.to_owned()));
    }
    let account = node.and_then(|n| n.account.as_deref());
    Some((fallback_namespace(account), id.to_owned()))
}

fn fallback_namespace(account: Option<&str>) -> String {
    match account {
        Some(a) => format!("aws://{a}"),
        None => "aws".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_openlineage_run_ids_are_stable_v8_uuids() {
        let a = run_id("glue_job_run:jr_1");
        assert_eq!(a, run_id("glue_job_run:jr_1"));
        assert_ne!(a, run_id("glue_job_run:jr_2"));
        assert_eq!(a.len(), 36);
        let parts: Vec<&str> = a.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            vec![8, 4, 4, 4, 12]
        );
        assert!(parts[2].starts_with('8'), "{a}");
        assert!(matches!(&parts[3][..1], "8" | "9" | "a" | "b"), "{a}");
    }

    #[test]
    fn export_openlineage_names_s3_datasets_from_ids() {
        let g = Graph::default();
        assert_eq!(
            dataset(&g, "s3://bucket/a/b.csv"),
            Some(("s3://bucket".into(), "a/b.csv".into()))
        );
        assert_eq!(
            dataset(&g, "s3://bucket"),
            Some(("s3://bucket".into(), "/".into()))
        );
        assert_eq!(
            dataset(&g, "arn:aws:dynamodb:us-east-1:1:table/t"),
            Some(("aws".into(), "arn:aws:dynamodb:us-east-1:1:table/t".into()))
        );
    }
}
