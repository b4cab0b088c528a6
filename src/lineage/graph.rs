//! The lineage graph as every output sees it: nodes with stable string ids, edges with time, evidence and
//! confidence. `lineage` (a traversal from one target) and `export` (the whole store or a window) both produce a
//! `Graph`; the writers in `crate::export` turn it into JSON, DOT, GraphML or OpenLineage. The field names are the
//! contract of `schemas/lineage.schema.json` (docs/lineage.md).

use super::analysis::{Chokepoint, Consumer, DataPath};
use super::versions::Version;
use serde::Serialize;
use std::collections::BTreeMap;

/// Node kinds (the `kind` field). Datasets: `s3_object`, `s3_prefix`, `table`, `dynamodb_table`, `stream`.
/// Actors (the work between a read and a write): `glue_job_run`, `athena_query`, `redshift_statement`,
/// `lambda_function`, `emr_step`, `principal` (a person or role session), `service` (an AWS service acting on
/// its own, e.g. CloudTrail delivering log files). Resources changed by calls (export only): `resource`.
pub mod kind {
    pub const S3_OBJECT: &str = "s3_object";
    pub const S3_PREFIX: &str = "s3_prefix";
    pub const TABLE: &str = "table";
    pub const DYNAMODB_TABLE: &str = "dynamodb_table";
    pub const STREAM: &str = "stream";
    pub const GLUE_JOB_RUN: &str = "glue_job_run";
    pub const ATHENA_QUERY: &str = "athena_query";
    pub const REDSHIFT_STATEMENT: &str = "redshift_statement";
    pub const LAMBDA_FUNCTION: &str = "lambda_function";
    pub const EMR_STEP: &str = "emr_step";
    pub const PRINCIPAL: &str = "principal";
    pub const SERVICE: &str = "service";
    pub const RESOURCE: &str = "resource";

    /// Datasets hold data; every other kind is an actor (a job, query, function or person that reads and writes).
    pub fn is_dataset(kind: &str) -> bool {
        matches!(
            kind,
            S3_OBJECT | S3_PREFIX | TABLE | DYNAMODB_TABLE | STREAM | RESOURCE
        )
    }

    /// Actors that are OpenLineage jobs (one run each).
    pub fn is_job(kind: &str) -> bool {
        matches!(
            kind,
            GLUE_JOB_RUN | ATHENA_QUERY | REDSHIFT_STATEMENT | LAMBDA_FUNCTION | EMR_STEP
        )
    }
}

/// Edge kinds (the `kind` field).
/// - `read`: dataset → actor (the actor read the dataset's data).
/// - `write`: actor → dataset (wrote or replaced it; `CompleteMultipartUpload` included).
/// - `delete`: actor → dataset (removed it).
/// - `copy`: dataset → dataset, one call (`CopyObject`, `UploadPartCopy`): the source is certain.
/// - `derived`: dataset → dataset through an actor: a write that derives from a read before it in the same actor
///   context (`actor` names it). Only in `lineage` answers, which show paths; `export` shows the read and write.
/// - `starts`: principal → job run, query or statement (`StartJobRun`, `StartQueryExecution`, `ExecuteStatement`,
///   `Invoke`).
/// - `part_of`: object → prefix or table (the catalog names the table's location).
/// - `changed`: principal → resource (a successful mutating call, as in who-changed; export only).
/// - `named`: job run → dataset its start request names (a job argument) without saying whether it is read or
///   written; always `named_by_request`.
pub mod edge {
    pub const READ: &str = "read";
    pub const WRITE: &str = "write";
    pub const DELETE: &str = "delete";
    pub const COPY: &str = "copy";
    pub const DERIVED: &str = "derived";
    pub const STARTS: &str = "starts";
    pub const PART_OF: &str = "part_of";
    pub const CHANGED: &str = "changed";
    pub const NAMED: &str = "named";
}

/// How sure an edge is: `high` (the log names both ends: a copy source, a results file named after its query, a
/// statement's SQL), `medium` (same job run or query context, attributed by session and time), `low` (same
/// long-lived session or function, or inferred from a KMS call's encryption context).
pub mod confidence {
    pub const HIGH: &str = "high";
    pub const MEDIUM: &str = "medium";
    pub const LOW: &str = "low";

    /// The order of confidences: `low` (and anything unknown) 0, `medium` 1, `high` 2.
    pub fn rank(c: &str) -> u8 {
        match c {
            HIGH => 2,
            MEDIUM => 1,
            _ => 0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Node {
    /// Stable id: `s3://bucket/key`, `s3://bucket/prefix/`, an ARN (tables, functions, streams, DynamoDB tables,
    /// principals as logged), `glue_job_run:RUNID`, `athena_query:ID`, `redshift_statement:ID`,
    /// `service:NAME.amazonaws.com`, `resource:TYPE|ACCOUNT|REGION|ID`.
    pub id: String,
    pub kind: String,
    /// Short human label (object key, job name and run id, session name...). Attacker-controlled text: escape it.
    pub label: String,
    pub account: Option<String>,
    pub region: Option<String>,
    /// OpenLineage naming (datasets and jobs): e.g. namespace `s3://bucket`, name `path/to/key`.
    pub namespace: Option<String>,
    pub name: Option<String>,
    /// Kind-specific details (job name, run id, query text, original principal...), sorted by key.
    pub properties: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Edge {
    pub from: String,
    pub to: String,
    pub kind: String,
    /// Earliest call behind the edge (RFC 3339 UTC, milliseconds).
    pub time: Option<String>,
    /// Latest call behind the edge (the same as `time` for one call).
    pub last_time: Option<String>,
    /// The CloudTrail event ids behind the edge, sorted.
    pub event_ids: Vec<String>,
    /// The actor node id whose context made the edge (for `read`/`write`/`derived`: the job run, query, function
    /// or principal; for `starts`/`changed`: the principal itself).
    pub actor: Option<String>,
    pub confidence: String,
    /// Worst integrity status over the source files of `event_ids`: `invalid` < `unverified` < `validated`.
    pub integrity: String,
    /// The request that started a unit of work names this dataset (an Athena query's output location, a Glue
    /// job's arguments); no data call of it was observed.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub named_by_request: bool,
}

/// A graph answer. `root` is the traversal's target (`lineage`) or null (`export`). Nodes are sorted by id,
/// edges by (from, to, kind, time).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Graph {
    pub root: Option<String>,
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
    /// Set when a lineage walk stopped at its edge limit (`--limit`): the answer is a part of the lineage.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
    /// Data cycles (a job that reads its own earlier output), each a sorted list of node ids (`analysis::cycles`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cycles: Vec<Vec<String>>,
    /// Nodes every path between the target and its consumers (or its ingestion points) passes through.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub chokepoints: Vec<Chokepoint>,
    /// With `--paths`: every path of data from an ingestion point to a consumer, bounded by `--limit`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paths: Option<Vec<DataPath>>,
    /// Set when the paths stopped at `--limit`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub paths_truncated: bool,
    /// The versions of the object the answer is about, when it has more than one in the store (docs/lineage.md,
    /// "Object versions").
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub versions: Vec<Version>,
    /// With `--consumers`: who received anything derived from the target.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consumers: Option<Vec<Consumer>>,
}

impl Node {
    /// An S3 prefix (`s3://bucket/prefix/`, or a bucket) as a dataset: OpenLineage namespace `s3://bucket`, name
    /// the prefix; labelled with the prefix (the bucket when the prefix is empty).
    pub fn s3_prefix(path: &str) -> Node {
        let rest = path.trim_start_matches("s3://");
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        Node {
            id: path.to_string(),
            kind: kind::S3_PREFIX.into(),
            label: if prefix.is_empty() { bucket } else { prefix }.to_string(),
            account: None,
            region: None,
            namespace: Some(format!("s3://{bucket}")),
            name: Some(prefix.to_string()),
            properties: BTreeMap::new(),
        }
    }
}

impl Graph {
    /// Sorts nodes and edges into the documented order (the only order any writer emits).
    pub fn sort(&mut self) {
        self.nodes.sort_by(|a, b| a.id.cmp(&b.id));
        self.nodes.dedup_by(|a, b| a.id == b.id);
        self.edges.sort_by(|a, b| {
            (&a.from, &a.to, &a.kind, &a.time, &a.actor)
                .cmp(&(&b.from, &b.to, &b.kind, &b.time, &b.actor))
        });
    }

    pub fn node(&self, id: &str) -> Option<&Node> {
        self.nodes
            .binary_search_by(|n| n.id.as_str().cmp(id))
            .ok()
            .map(|i| &self.nodes[i])
    }
}
