//! Lineage answers: time-respecting walks upstream and downstream from a target (docs/lineage.md), and the whole
//! graph of a window for `export`.

use super::context::{Contexts, Ctx, Scope, HORIZON};
use super::graph::confidence::{self, rank};
use super::graph::{edge, kind, Edge, Graph, Node};
use super::rules::{self, Flow};
use super::versions::{self, ObjectVersions, Version};
use crate::correlate::{QueryError, Result};
use crate::model::integrity;
use crate::model::time::format_ms;
use crate::store::query::{EventRow, ResourceRow, Touch};
use crate::store::Store;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::rc::Rc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Upstream,
    Downstream,
    Both,
}

#[derive(Debug, Clone)]
pub struct LineageQuery {
    pub target: String,
    pub direction: Direction,
    /// Dataset-to-dataset hops.
    pub depth: usize,
    pub since: Option<i64>,
    pub until: Option<i64>,
    /// `--at TIME`: for an object target, the version current at that time.
    pub at: Option<i64>,
}

/// Event names that can move data (a first filter before resolving contexts).
const DATA_NAMES: &[&str] = &[
    "GetObject",
    "GetObjectTorrent",
    "SelectObjectContent",
    "CopyObject",
    "UploadPartCopy",
    "PutObject",
    "UploadPart",
    "CompleteMultipartUpload",
    "RestoreObject",
    "DeleteObject",
    "DeleteObjects",
    "Decrypt",
    "GetItem",
    "BatchGetItem",
    "Query",
    "Scan",
    "ExportTableToPointInTime",
    "ExecuteStatement",
    "PutItem",
    "UpdateItem",
    "BatchWriteItem",
    "TransactWriteItems",
    "ImportTable",
    "DeleteItem",
    "GetRecords",
    "SubscribeToShard",
    "PutRecord",
    "PutRecords",
    "PutRecordBatch",
];

/// A dataset: a resource row (objects, DynamoDB tables, streams), or one only a statement's SQL names (a
/// Redshift table, an S3 prefix), known by its node id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Ds {
    Res(i64),
    Sql(String),
}

#[derive(Debug, Clone)]
struct Fact {
    event: EventRow,
    ds: Ds,
    node: Node,
    flow: Flow,
    kms: bool,
    /// Named by a statement's SQL (certain), not seen in a data call.
    sql: bool,
}

#[derive(Default)]
struct Agg {
    first: Option<i64>,
    last: Option<i64>,
    events: BTreeSet<String>,
    rows: BTreeSet<i64>,
    confidence: &'static str,
    /// Named by the request that started the work, not observed in a data call.
    named: bool,
}

fn weakest(a: &'static str, b: &'static str) -> &'static str {
    if rank(a) <= rank(b) {
        a
    } else {
        b
    }
}

/// The node of a dataset resource (`TYPE|ACCOUNT|REGION|ID` key parts fill what the ARN lacks).
pub fn dataset_node(rtype: &str, key: &str, resource_id: &str, arn: Option<&str>) -> Option<Node> {
    let k = rules::dataset_kind(rtype)?;
    let mut parts = key.split('|');
    let (_, account, region) = (
        parts.next(),
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
    );
    let opt = |s: &str| (!s.is_empty()).then(|| s.to_string());
    let mut n = Node {
        id: String::new(),
        kind: k.into(),
        label: resource_id.to_string(),
        account: opt(account),
        region: opt(region),
        namespace: None,
        name: None,
        properties: BTreeMap::new(),
    };
    match k {
        kind::S3_OBJECT => {
            let (b, key) = resource_id.split_once('/').unwrap_or((resource_id, ""));
            n.id = format!("s3://{resource_id}");
            n.label = key.to_string();
            n.namespace = Some(format!("s3://{b}"));
            n.name = Some(key.to_string());
            n.properties
                .insert("bucket".into(), Value::String(b.to_string()));
        }
        kind::TABLE => {
            let arn = arn
                .map(str::to_string)
                .unwrap_or_else(|| format!("arn:aws:glue:{region}:{account}:table/{resource_id}"));
            n.id = arn;
            n.namespace = Some(format!("arn:aws:glue:{region}:{account}"));
            n.name = Some(format!("table/{resource_id}"));
        }
        kind::DYNAMODB_TABLE => {
            n.id = arn.map(str::to_string).unwrap_or_else(|| {
                format!("arn:aws:dynamodb:{region}:{account}:table/{resource_id}")
            });
            n.namespace = Some(format!("arn:aws:dynamodb:{region}:{account}"));
            n.name = Some(format!("table/{resource_id}"));
        }
        _ => {
            n.id = arn
                .map(str::to_string)
                .unwrap_or_else(|| format!("stream:{key}"));
            n.namespace = Some(format!("arn:aws:kinesis:{region}:{account}"));
            n.name = Some(format!("stream/{resource_id}"));
        }
    }
    Some(n)
}

/// The dataset an `s3://` (or `s3a://`) location names: a prefix when it ends with `/` (or `prefix` says the
/// location is a folder, as an Athena output location is), else an object.
fn s3_dataset(location: &str, prefix: bool) -> Option<Node> {
    let rest = location
        .strip_prefix("s3://")
        .or_else(|| location.strip_prefix("s3a://"))?;
    let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return None;
    }
    if prefix || key.is_empty() || key.ends_with('/') {
        let key = if key.is_empty() || key.ends_with('/') {
            key.to_string()
        } else {
            format!("{key}/")
        };
        return Some(Node::s3_prefix(&format!("s3://{bucket}/{key}")));
    }
    dataset_node(
        "AWS::S3::Object",
        &format!("AWS::S3::Object|||{bucket}/{key}"),
        &format!("{bucket}/{key}"),
        None,
    )
}

fn touch_node(t: &Touch) -> Option<Node> {
    dataset_node(&t.rtype, &t.key, &t.resource_id, t.arn.as_deref())
}

fn resource_node(r: &ResourceRow) -> Option<Node> {
    dataset_node(&r.rtype, &r.key, &r.resource_id, r.arn.as_deref())
}

pub struct Builder<'s> {
    cx: Contexts<'s>,
    since: Option<i64>,
    until: Option<i64>,
    nodes: BTreeMap<String, Node>,
    edges: BTreeMap<(String, String, &'static str, Option<String>), Agg>,
    up_done: HashMap<String, i64>,
    down_done: HashMap<String, i64>,
    touches: HashMap<i64, Vec<Touch>>,
    statements: Option<Vec<Ctx>>,
    /// A scope's data calls of one UTC day, by the actor each resolves to, in time order.
    day_cache: HashMap<(Scope, i64), Rc<ByActor>>,
    /// Stop expanding once the answer has this many edges (`truncated` is then set).
    limit: usize,
    truncated: bool,
    /// Derivations weaker than this are not followed (`--min-confidence`).
    min_rank: u8,
    /// Each S3 object's versions (by resource row id), from its logged writes and deletes.
    versions: HashMap<i64, Rc<ObjectVersions>>,
    /// The versions of the object the answer is about (`versions` of the answer).
    listed: Vec<Version>,
    /// What the keys probed so far said about each bucket's versioning.
    buckets: HashMap<String, BucketProbe>,
}

/// Keys of one bucket whose latest write carried no S3 version id, and whether one did.
#[derive(Debug, Clone, Copy, Default)]
struct BucketProbe {
    unversioned: u32,
    versioned: bool,
}

/// After this many keys of a bucket were found unversioned (and none versioned), the bucket is taken as
/// unversioned for the rest of the answer: its keys' versions are generations, and no record is read to say so.
const UNVERSIONED_PROBES: u32 = 8;

const DAY: i64 = 86_400_000;

/// One scope's data calls of one day, by the actor node each resolves to, in time order.
type ByActor = HashMap<String, Vec<Rc<Fact>>>;

impl<'s> Builder<'s> {
    pub fn new(store: &'s Store, since: Option<i64>, until: Option<i64>) -> Self {
        Builder {
            cx: Contexts::new(store),
            since,
            until,
            nodes: BTreeMap::new(),
            edges: BTreeMap::new(),
            up_done: HashMap::new(),
            down_done: HashMap::new(),
            touches: HashMap::new(),
            statements: None,
            day_cache: HashMap::new(),
            limit: usize::MAX,
            truncated: false,
            min_rank: 0,
            versions: HashMap::new(),
            listed: Vec::new(),
            buckets: HashMap::new(),
        }
    }

    /// Caps the answer's size: a walk stops expanding after `limit` edges and says so.
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }

    /// Follows only derivations at least this sure (`low`, `medium`, `high`).
    pub fn min_confidence(mut self, c: &str) -> Self {
        self.min_rank = rank(c);
        self
    }

    fn full(&mut self) -> bool {
        if self.edges.len() >= self.limit {
            self.truncated = true;
        }
        self.truncated
    }

    fn store(&self) -> &'s Store {
        self.cx.store()
    }

    fn node(&mut self, n: &Node) {
        self.nodes.entry(n.id.clone()).or_insert_with(|| n.clone());
    }

    fn edge(
        &mut self,
        from: &str,
        to: &str,
        kind: &'static str,
        actor: Option<&str>,
        conf: &'static str,
        e: &EventRow,
    ) {
        let a = self
            .edges
            .entry((
                from.to_string(),
                to.to_string(),
                kind,
                actor.map(str::to_string),
            ))
            .or_insert_with(|| Agg {
                confidence: conf,
                ..Agg::default()
            });
        if rank(conf) > rank(a.confidence) {
            a.confidence = conf;
        }
        if let Some(t) = e.time_ms {
            a.first = Some(a.first.map_or(t, |f| f.min(t)));
            a.last = Some(a.last.map_or(t, |l| l.max(t)));
        }
        a.events.insert(e.event_id.clone());
        a.rows.insert(e.id);
    }

    fn load_touches(&mut self, ids: &[i64]) -> Result<()> {
        let missing: Vec<i64> = ids
            .iter()
            .copied()
            .filter(|i| !self.touches.contains_key(i))
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let mut got = self.store().event_resources_many(&missing)?;
        for i in missing {
            self.touches.insert(i, got.remove(&i).unwrap_or_default());
        }
        Ok(())
    }

    /// The data facts of some events (each event's datasets and flows).
    fn facts(&mut self, events: Vec<EventRow>) -> Result<Vec<Fact>> {
        let events: Vec<EventRow> = events
            .into_iter()
            .filter(|e| e.error_code.is_none() && DATA_NAMES.contains(&e.event_name.as_str()))
            .collect();
        let ids: Vec<i64> = events.iter().map(|e| e.id).collect();
        self.load_touches(&ids)?;
        self.prefetch_versions(&ids)?;
        let mut out = Vec::new();
        for e in events {
            for t in self.touches.get(&e.id).cloned().unwrap_or_default() {
                if let (Some(flow), Some(node)) = (
                    rules::flow(&e.event_source, &e.event_name, &t.rtype, &t.access),
                    touch_node(&t),
                ) {
                    let node = if node.kind == kind::S3_OBJECT {
                        self.version_node(&e, &t, flow, node)?
                    } else {
                        node
                    };
                    out.push(Fact {
                        kms: e.event_source == "kms.amazonaws.com",
                        event: e.clone(),
                        ds: Ds::Res(t.resource),
                        node,
                        flow,
                        sql: false,
                    });
                }
            }
            if e.event_name == "ExportTableToPointInTime"
                && e.event_source == "dynamodb.amazonaws.com"
            {
                // The export's destination is named by the request: the table is copied to that prefix.
                if let Some(prefix) = self.export_destination(&e)? {
                    out.push(Fact {
                        kms: false,
                        event: e.clone(),
                        ds: Ds::Sql(prefix.id.clone()),
                        node: prefix,
                        flow: Flow::Write,
                        sql: true,
                    });
                }
            }
        }
        Ok(out)
    }

    /// The versions of an S3 object (cached): from every logged write and delete of it, whatever the window (a
    /// version's existence does not depend on the question). Raw records are read only for a key written more
    /// than once.
    fn versions(&mut self, resource: i64, resource_id: &str) -> Result<Rc<ObjectVersions>> {
        if let Some(v) = self.versions.get(&resource) {
            return Ok(v.clone());
        }
        let calls: Vec<EventRow> = self
            .store()
            .resource_events_with(resource, &["write"], None, None)?
            .into_iter()
            .filter(|e| e.error_code.is_none() && e.event_source == "s3.amazonaws.com")
            .collect();
        let creates = calls
            .iter()
            .filter(|e| versions::CREATES.contains(&e.event_name.as_str()))
            .count();
        // Whether the key's versions have S3 version ids: its latest write says (a versioned bucket writes one
        // into every response). Only then are the other writes' and the deletes' records read; an unversioned
        // key's versions are generations, named by event ids the row already has. A bucket probed unversioned
        // on `UNVERSIONED_PROBES` keys in this answer, and never versioned, is not probed again.
        let bucket = resource_id.split_once('/').map_or(resource_id, |(b, _)| b);
        let probe = self.buckets.get(bucket).copied().unwrap_or_default();
        let mut versioned = false;
        let mut latest: Option<(usize, Option<Value>)> = None;
        if creates > 1 && (probe.versioned || probe.unversioned < UNVERSIONED_PROBES) {
            if let Some(i) = calls
                .iter()
                .rposition(|e| versions::CREATES.contains(&e.event_name.as_str()))
            {
                let raw = self.store().raw_json(calls[i].id)?;
                versioned = raw
                    .as_ref()
                    .and_then(|r| r.pointer("/responseElements/x-amz-version-id"))
                    .and_then(Value::as_str)
                    .is_some_and(|v| !v.is_empty() && v != "null");
                let p = self.buckets.entry(bucket.to_string()).or_default();
                if versioned {
                    p.versioned = true;
                } else {
                    p.unversioned += 1;
                }
                latest = Some((i, raw));
            }
        }
        let mut with_raw = Vec::with_capacity(calls.len());
        for (i, e) in calls.into_iter().enumerate() {
            let raw = match &latest {
                Some((l, raw)) if *l == i => raw.clone(),
                _ if versioned => self.store().raw_json(e.id)?,
                _ => None,
            };
            with_raw.push((e, raw));
        }
        let key = resource_id.split_once('/').map_or("", |(_, k)| k);
        let v = Rc::new(ObjectVersions::build(key, &with_raw));
        self.versions.insert(resource, v.clone());
        Ok(v)
    }

    /// For the S3 objects the calls touched and whose versions are not known yet: one index lookup of how many
    /// calls wrote each; an object written at most once has one version, and its calls need not be read.
    fn prefetch_versions(&mut self, events: &[i64]) -> Result<()> {
        let mut objects: Vec<i64> = events
            .iter()
            .filter_map(|e| self.touches.get(e))
            .flatten()
            .filter(|t| t.rtype == "AWS::S3::Object" && !self.versions.contains_key(&t.resource))
            .map(|t| t.resource)
            .collect();
        objects.sort_unstable();
        objects.dedup();
        if objects.is_empty() {
            return Ok(());
        }
        for (resource, writes) in self.store().write_counts(&objects)? {
            if writes <= 1 {
                self.versions
                    .insert(resource, Rc::new(ObjectVersions::default()));
            }
        }
        Ok(())
    }

    /// The node of the version of an object a call read, wrote or deleted (the key's own node when it has one
    /// version in the store).
    fn version_node(&mut self, e: &EventRow, t: &Touch, flow: Flow, node: Node) -> Result<Node> {
        let vs = self.versions(t.resource, &t.resource_id)?;
        if !vs.multi() {
            return Ok(node);
        }
        let named = if flow == Flow::Read && vs.versioned && e.event_source == "s3.amazonaws.com" {
            self.store()
                .raw_json(e.id)?
                .and_then(|r| versions::read_version(&e.event_name, &r))
        } else {
            None
        };
        let b = if flow == Flow::Read {
            vs.bind_read(e, named.as_deref())
        } else {
            vs.bind(e)
        };
        Ok(vs.node(&node, &b))
    }

    /// The `s3://bucket/prefix/` a DynamoDB export writes to (`s3Bucket`, `s3Prefix` of the request).
    fn export_destination(&self, e: &EventRow) -> Result<Option<Node>> {
        let Some(v) = self.store().raw_json(e.id)? else {
            return Ok(None);
        };
        let text = |p: &str| v.pointer(p).and_then(Value::as_str).map(str::to_string);
        let Some(bucket) = text("/requestParameters/s3Bucket") else {
            return Ok(None);
        };
        let prefix = text("/requestParameters/s3Prefix").unwrap_or_default();
        Ok(s3_dataset(&format!("s3://{bucket}/{prefix}"), true))
    }

    /// The data calls of an actor context in a window (inclusive), in time order.
    fn context_facts(&mut self, ctx: &Ctx, lo: i64, hi: i64) -> Result<Vec<Rc<Fact>>> {
        // A statement's calls are all of its context, whatever their order (its SQL states the derivation).
        let (lo, hi) = if ctx.statement {
            (i64::MIN, i64::MAX)
        } else {
            (lo, hi)
        };
        let mut sql = Vec::new();
        if let (true, Some(st)) = (ctx.statement, &ctx.started_by) {
            for (nodes, flow) in [(&ctx.sql_reads, Flow::Read), (&ctx.sql_writes, Flow::Write)] {
                for n in nodes {
                    sql.push(Rc::new(Fact {
                        event: st.clone(),
                        ds: Ds::Sql(n.id.clone()),
                        node: n.clone(),
                        flow,
                        kms: false,
                        sql: true,
                    }));
                }
            }
        }
        let lo = lo
            .max(ctx.start.unwrap_or(i64::MIN))
            .max(self.since.unwrap_or(i64::MIN));
        let hi = hi
            .min(ctx.end.unwrap_or(i64::MAX))
            .min(self.until.unwrap_or(i64::MAX));
        if lo > hi {
            return Ok(Vec::new());
        }
        let mut facts = Vec::new();
        if hi.saturating_sub(lo) > 400 * DAY {
            // An unbounded context: read it directly (not cached).
            for (f, id) in self.scope_facts(&ctx.scope, lo, hi)? {
                if id == ctx.node.id {
                    facts.push(Rc::new(f));
                }
            }
        } else {
            // Cached per scope and UTC day: a walk asks many overlapping windows of the same sessions.
            for day in lo.div_euclid(DAY)..=hi.div_euclid(DAY) {
                let key = (ctx.scope.clone(), day);
                if !self.day_cache.contains_key(&key) {
                    let mut by_actor: HashMap<String, Vec<Rc<Fact>>> = HashMap::new();
                    for (f, id) in self.scope_facts(&ctx.scope, day * DAY, day * DAY + DAY - 1)? {
                        by_actor.entry(id).or_default().push(Rc::new(f));
                    }
                    self.day_cache.insert(key.clone(), Rc::new(by_actor));
                }
                let cached = self.day_cache.get(&key).cloned().unwrap_or_default();
                if let Some(v) = cached.get(&ctx.node.id) {
                    // In time order (events come sorted): a binary search finds the window.
                    let time = |f: &Rc<Fact>| f.event.time_ms.unwrap_or(i64::MIN);
                    let a = v.partition_point(|f| time(f) < lo);
                    let b = v.partition_point(|f| time(f) <= hi);
                    facts.extend(v[a..b].iter().cloned());
                }
            }
        }
        facts.extend(sql);
        Ok(facts)
    }

    /// The data facts of one scope (key or principal) in a window, each with the actor its call resolves to.
    fn scope_facts(&mut self, scope: &Scope, lo: i64, hi: i64) -> Result<Vec<(Fact, String)>> {
        let events = match scope {
            Scope::Key(k) => self.store().events_by_access_key(k, Some(lo), Some(hi))?,
            Scope::Principal(p) => self.store().events_by_principal(*p, Some(lo), Some(hi))?,
        };
        let events: Vec<EventRow> = events
            .into_iter()
            .filter(|e| e.error_code.is_none() && DATA_NAMES.contains(&e.event_name.as_str()))
            .collect();
        let mut out = Vec::new();
        for f in self.facts(events)? {
            let id = self.cx.of(&f.event)?.node.id;
            out.push((f, id));
        }
        Ok(out)
    }

    /// Every Redshift Data API statement in the window, with what its SQL reads and writes.
    fn statements(&mut self) -> Result<Vec<Ctx>> {
        if let Some(s) = &self.statements {
            return Ok(s.clone());
        }
        let (lo, hi) = (
            self.since.unwrap_or(i64::MIN),
            self.until.unwrap_or(i64::MAX),
        );
        let mut out = Vec::new();
        for e in
            self.store()
                .events_named(&["ExecuteStatement", "BatchExecuteStatement"], lo, hi)?
        {
            if let Some(c) = self.cx.statement_ctx(&e)? {
                out.push(c);
            }
        }
        self.statements = Some(out.clone());
        Ok(out)
    }

    /// The actor of a fact: a SQL-named dataset belongs to its statement.
    fn ctx_of(&mut self, f: &Fact) -> Result<Ctx> {
        if f.sql {
            if let Some(c) = self.cx.statement_ctx(&f.event)? {
                return Ok(c);
            }
        }
        self.cx.of(&f.event)
    }

    /// Calls of one dataset with the given access (`read`/`write`), strictly inside (after, before).
    fn dataset_facts(
        &mut self,
        ds: &Ds,
        node: &str,
        access: &str,
        after: i64,
        before: i64,
    ) -> Result<Vec<Fact>> {
        let inside = |t: Option<i64>| t.is_some_and(|t| t > after && t < before);
        match ds {
            Ds::Res(resource) => {
                let events: Vec<EventRow> = self
                    .store()
                    .resource_events_with(*resource, &[access], self.since, self.until)?
                    .into_iter()
                    .filter(|e| inside(e.time_ms))
                    .collect();
                Ok(self
                    .facts(events)?
                    .into_iter()
                    .filter(|f| f.ds == *ds && f.node.id == node)
                    .collect())
            }
            Ds::Sql(id) => {
                let mut out = Vec::new();
                for st in self.statements()? {
                    let Some(ev) = &st.started_by else { continue };
                    if !inside(ev.time_ms) {
                        continue;
                    }
                    let (nodes, flow) = if access == "write" {
                        (&st.sql_writes, Flow::Write)
                    } else {
                        (&st.sql_reads, Flow::Read)
                    };
                    for n in nodes.iter().filter(|n| n.id == *id) {
                        out.push(Fact {
                            event: ev.clone(),
                            ds: ds.clone(),
                            node: n.clone(),
                            flow,
                            kms: false,
                            sql: true,
                        });
                    }
                }
                Ok(out)
            }
        }
    }

    fn add_ctx(&mut self, ctx: &Ctx) -> Result<()> {
        self.node(&ctx.node);
        if let Some(st) = ctx.started_by.clone() {
            let starter = self.cx.of(&st)?;
            self.node(&starter.node);
            let id = starter.node.id.clone();
            self.edge(
                &id,
                &ctx.node.id,
                edge::STARTS,
                Some(&id),
                confidence::HIGH,
                &st,
            );
        }
        Ok(())
    }

    /// How sure the attribution of one call to its actor is (each call's own context decides: in one Athena
    /// query, the results file named after it is certain, the reads are not).
    fn conf(&mut self, f: &Fact) -> Result<&'static str> {
        Ok(if f.sql {
            confidence::HIGH
        } else if f.kms {
            confidence::LOW
        } else {
            self.ctx_of(f)?.attribution
        })
    }

    /// Where the data of a dataset came from: the writes before `before`, the reads they derive from, and so on.
    fn upstream(&mut self, ds: &Ds, node: &Node, before: i64, depth: usize) -> Result<()> {
        if depth == 0 || self.full() || self.up_done.get(&node.id).is_some_and(|b| *b >= before) {
            return Ok(());
        }
        self.up_done.insert(node.id.clone(), before);
        self.node(node);
        for w in self.dataset_facts(ds, &node.id, "write", i64::MIN, before)? {
            if self.full() {
                break;
            }
            if w.flow != Flow::Write {
                continue;
            }
            let t = w.event.time_ms.unwrap_or(i64::MIN);
            let ctx = self.ctx_of(&w)?;
            self.add_ctx(&ctx)?;
            let wconf = self.conf(&w)?;
            self.edge(
                &ctx.node.id,
                &node.id,
                edge::WRITE,
                Some(&ctx.node.id),
                wconf,
                &w.event,
            );
            if !w.sql && rules::COPIES.contains(&w.event.event_name.as_str()) {
                for src in self.facts(vec![w.event.clone()])? {
                    if src.flow == Flow::Read && src.node.id != node.id {
                        self.node(&src.node);
                        self.edge(
                            &src.node.id,
                            &node.id,
                            edge::COPY,
                            Some(&ctx.node.id),
                            confidence::HIGH,
                            &w.event,
                        );
                        self.edge(
                            &src.node.id,
                            &node.id,
                            edge::DERIVED,
                            Some(&ctx.node.id),
                            confidence::HIGH,
                            &w.event,
                        );
                        self.edge(
                            &src.node.id,
                            &ctx.node.id,
                            edge::READ,
                            Some(&ctx.node.id),
                            ctx.attribution,
                            &w.event,
                        );
                        self.upstream(&src.ds, &src.node, t, depth - 1)?;
                    }
                }
                continue;
            }
            if rank(ctx.derivation) < self.min_rank {
                continue;
            }
            let lo = if ctx.start.is_some() {
                i64::MIN
            } else {
                t.saturating_sub(HORIZON)
            };
            for r in self.context_facts(&ctx, lo, t - 1)? {
                let rt = r.event.time_ms.unwrap_or(i64::MIN);
                if r.flow != Flow::Read || r.node.id == node.id || (!ctx.statement && rt >= t) {
                    continue;
                }
                self.node(&r.node);
                if self.full() {
                    break;
                }
                let rconf = self.conf(&r)?;
                let d = weakest(weakest(rconf, wconf), ctx.derivation);
                if rank(d) < self.min_rank {
                    continue;
                }
                self.edge(
                    &r.node.id,
                    &ctx.node.id,
                    edge::READ,
                    Some(&ctx.node.id),
                    rconf,
                    &r.event,
                );
                self.edge(
                    &r.node.id,
                    &node.id,
                    edge::DERIVED,
                    Some(&ctx.node.id),
                    d,
                    &r.event,
                );
                self.edge(
                    &r.node.id,
                    &node.id,
                    edge::DERIVED,
                    Some(&ctx.node.id),
                    d,
                    &w.event,
                );
                self.upstream(&r.ds, &r.node, rt, depth - 1)?;
            }
        }
        Ok(())
    }

    /// Who consumed a dataset's data after `after`: the reads, the writes they lead to, and so on.
    fn downstream(&mut self, ds: &Ds, node: &Node, after: i64, depth: usize) -> Result<()> {
        if depth == 0 || self.full() || self.down_done.get(&node.id).is_some_and(|a| *a <= after) {
            return Ok(());
        }
        self.down_done.insert(node.id.clone(), after);
        self.node(node);
        for r in self.dataset_facts(ds, &node.id, "read", after, i64::MAX)? {
            if self.full() {
                break;
            }
            if r.flow != Flow::Read {
                continue;
            }
            let t = r.event.time_ms.unwrap_or(i64::MIN);
            let ctx = self.ctx_of(&r)?;
            self.add_ctx(&ctx)?;
            let rconf = self.conf(&r)?;
            self.edge(
                &node.id,
                &ctx.node.id,
                edge::READ,
                Some(&ctx.node.id),
                rconf,
                &r.event,
            );
            if !r.sql && rules::COPIES.contains(&r.event.event_name.as_str()) {
                for dst in self.facts(vec![r.event.clone()])? {
                    if dst.flow == Flow::Write && dst.node.id != node.id {
                        self.node(&dst.node);
                        self.edge(
                            &node.id,
                            &dst.node.id,
                            edge::COPY,
                            Some(&ctx.node.id),
                            confidence::HIGH,
                            &r.event,
                        );
                        self.edge(
                            &node.id,
                            &dst.node.id,
                            edge::DERIVED,
                            Some(&ctx.node.id),
                            confidence::HIGH,
                            &r.event,
                        );
                        self.edge(
                            &ctx.node.id,
                            &dst.node.id,
                            edge::WRITE,
                            Some(&ctx.node.id),
                            ctx.attribution,
                            &r.event,
                        );
                        self.downstream(&dst.ds, &dst.node, t, depth - 1)?;
                    }
                }
                continue;
            }
            if rank(ctx.derivation) < self.min_rank {
                continue; // no derivation through this actor can be followed
            }
            let hi = if ctx.end.is_some() || ctx.start.is_some() {
                i64::MAX
            } else {
                t.saturating_add(HORIZON)
            };
            for w in self.context_facts(&ctx, t + 1, hi)? {
                let wt = w.event.time_ms.unwrap_or(i64::MIN);
                if w.node.id == node.id || (!ctx.statement && wt <= t) {
                    continue;
                }
                if self.full() {
                    break;
                }
                let wconf = self.conf(&w)?;
                match w.flow {
                    Flow::Write => {
                        let d = weakest(weakest(rconf, wconf), ctx.derivation);
                        if rank(d) < self.min_rank {
                            continue;
                        }
                        self.node(&w.node);
                        self.edge(
                            &ctx.node.id,
                            &w.node.id,
                            edge::WRITE,
                            Some(&ctx.node.id),
                            wconf,
                            &w.event,
                        );
                        self.edge(
                            &node.id,
                            &w.node.id,
                            edge::DERIVED,
                            Some(&ctx.node.id),
                            d,
                            &r.event,
                        );
                        self.edge(
                            &node.id,
                            &w.node.id,
                            edge::DERIVED,
                            Some(&ctx.node.id),
                            d,
                            &w.event,
                        );
                        self.downstream(&w.ds, &w.node, wt, depth - 1)?;
                    }
                    // Deleting another dataset is not a use of this one's data.
                    Flow::Delete | Flow::Read => {}
                }
            }
        }
        // Who removed the dataset itself after `after`.
        for d in self.dataset_facts(ds, &node.id, "write", after, i64::MAX)? {
            if d.flow == Flow::Delete && !self.full() {
                let ctx = self.ctx_of(&d)?;
                self.add_ctx(&ctx)?;
                let c = self.conf(&d)?;
                self.edge(
                    &ctx.node.id,
                    &node.id,
                    edge::DELETE,
                    Some(&ctx.node.id),
                    c,
                    &d.event,
                );
            }
        }
        Ok(())
    }

    /// An actor as the target: its reads (and what they came from) and its writes (and who consumed them).
    fn actor(&mut self, ctx: &Ctx, q: &LineageQuery) -> Result<()> {
        self.add_ctx(ctx)?;
        let facts = self.context_facts(ctx, i64::MIN, i64::MAX)?;
        for f in &facts {
            let t = f.event.time_ms.unwrap_or(i64::MIN);
            self.node(&f.node);
            match f.flow {
                Flow::Read if q.direction != Direction::Downstream => {
                    let c = self.conf(f)?;
                    self.edge(
                        &f.node.id,
                        &ctx.node.id,
                        edge::READ,
                        Some(&ctx.node.id),
                        c,
                        &f.event,
                    );
                    self.upstream(&f.ds, &f.node, t, q.depth)?;
                }
                Flow::Write if q.direction != Direction::Upstream => {
                    self.edge(
                        &ctx.node.id,
                        &f.node.id,
                        edge::WRITE,
                        Some(&ctx.node.id),
                        ctx.attribution,
                        &f.event,
                    );
                    self.downstream(&f.ds, &f.node, t, q.depth)?;
                }
                Flow::Delete if q.direction != Direction::Upstream => {
                    self.edge(
                        &ctx.node.id,
                        &f.node.id,
                        edge::DELETE,
                        Some(&ctx.node.id),
                        ctx.attribution,
                        &f.event,
                    );
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// A dataset as the target (or under one). An object with more than one version in the store is answered
    /// for the version `tag` names (`versionId=V`, `generation=G`) or the one current at `--at` (its node id is
    /// returned: it is the answer's root), or else for every version, each `part_of` the key.
    fn dataset(
        &mut self,
        r: &ResourceRow,
        n: &Node,
        q: &LineageQuery,
        tag: Option<&str>,
    ) -> Result<Option<String>> {
        if n.kind == kind::S3_OBJECT {
            let vs = self.versions(r.id, &r.resource_id)?;
            if vs.multi() {
                if self.listed.is_empty() {
                    self.listed = vs.list(n);
                }
                let one = if let Some(tag) = tag {
                    Some(vs.find(tag).ok_or_else(|| QueryError::NotFound {
                        what: "object version",
                        query: format!("{}?{tag}", n.id),
                    })?)
                } else {
                    q.at.map(|at| vs.current_at(at.saturating_add(1)))
                };
                if let Some(b) = one {
                    let vn = vs.node(n, &b);
                    self.walk_dataset(r, &vn, q)?;
                    return Ok(Some(vn.id));
                }
                self.node(n);
                for b in vs.all() {
                    let vn = vs.node(n, &b);
                    self.walk_dataset(r, &vn, q)?;
                    self.part_of(&vn.id, &n.id);
                }
                return Ok(None);
            }
            if let Some(tag) = tag {
                // One version in the store: its id must be the one named.
                if vs.find(tag).is_none() {
                    return Err(QueryError::NotFound {
                        what: "object version",
                        query: format!("{}?{tag}", n.id),
                    });
                }
            }
        }
        self.walk_dataset(r, n, q)?;
        Ok(None)
    }

    fn walk_dataset(&mut self, r: &ResourceRow, n: &Node, q: &LineageQuery) -> Result<()> {
        if q.direction != Direction::Downstream {
            self.upstream(&Ds::Res(r.id), n, i64::MAX, q.depth)?;
        }
        if q.direction != Direction::Upstream {
            self.down_done.remove(&n.id);
            self.downstream(&Ds::Res(r.id), n, i64::MIN, q.depth)?;
        }
        self.node(n);
        Ok(())
    }

    /// The contexts of the calls of a job run or query: found from the calls that touched its resource.
    fn contexts_of_run(&mut self, run: &ResourceRow) -> Result<Vec<Ctx>> {
        let starts = self
            .store()
            .resource_events_with(run.id, &["target"], None, None)?;
        let mut out: Vec<Ctx> = Vec::new();
        for st in starts
            .iter()
            .filter(|e| rules::STARTS.contains(&e.event_name.as_str()) && e.error_code.is_none())
        {
            let t = st.time_ms.unwrap_or(0);
            // Candidate calls: Athena's on the starter's key; Glue's by sessions issued to Glue after the start.
            let mut candidates: Vec<EventRow> = Vec::new();
            if let Some(k) = &st.access_key_id {
                candidates.extend(self.store().events_by_access_key(
                    k,
                    Some(t),
                    Some(t + 30 * 60_000),
                )?);
            }
            if let Some(g) = self
                .store()
                .principal_by_key("service:glue.amazonaws.com")?
            {
                for (k, _) in self.store().sessions_issued_by(g.id, t, t + 10 * 60_000)? {
                    candidates.extend(
                        self.store()
                            .events_by_access_key(&k, Some(t), None)?
                            .into_iter()
                            .take(1),
                    );
                }
            }
            for c in candidates {
                if !DATA_NAMES.contains(&c.event_name.as_str()) {
                    continue;
                }
                let ctx = self.cx.of(&c)?;
                if ctx.node.id.ends_with(&run.resource_id)
                    && !out.iter().any(|o| o.node.id == ctx.node.id)
                {
                    out.push(ctx);
                }
            }
        }
        Ok(out)
    }

    /// Answers `lineage TARGET`.
    pub fn lineage(mut self, q: &LineageQuery) -> Result<Graph> {
        let store = self.store();
        let target = q.target.trim();
        let root: String;
        if let Some(rest) = target
            .strip_prefix("s3://")
            .filter(|r| r.ends_with('/') || !r.contains('/'))
        {
            // A prefix (or a whole bucket): every object under it, rolled up.
            let prefix = if rest.contains('/') {
                rest.to_string()
            } else {
                format!("{rest}/")
            };
            root = format!("s3://{prefix}");
            let pnode = Node::s3_prefix(&root);
            self.node(&pnode);
            let objects = store.objects_under(&prefix)?;
            if objects.is_empty() {
                return Err(QueryError::NotFound {
                    what: "dataset",
                    query: target.to_string(),
                });
            }
            for o in objects {
                if let Some(n) = resource_node(&o) {
                    self.dataset(&o, &n, q, None)?;
                    self.part_of(&n.id, &root);
                }
            }
        } else if let Some(r) = self.find_run(target)? {
            root = match r.rtype.as_str() {
                "AWS::Athena::QueryExecution" => format!("athena_query:{}", r.resource_id),
                "AWS::RedshiftData::Statement" => format!("redshift_statement:{}", r.resource_id),
                _ => format!("glue_job_run:{}", r.resource_id),
            };
            let ctxs = if r.rtype == "AWS::RedshiftData::Statement" {
                let mut out = Vec::new();
                for st in self
                    .store()
                    .resource_events_with(r.id, &["target"], None, None)?
                {
                    out.extend(self.cx.statement_ctx(&st)?);
                }
                out
            } else {
                self.contexts_of_run(&r)?
            };
            for c in &ctxs {
                self.actor(c, q)?;
            }
            if !ctxs.iter().any(|c| c.node.id == root) {
                // Started, but none of its data calls are in the trail: the run itself and who started it.
                self.bare_run(&r, &root)?;
            }
        } else if let Some(job) = self.find_job(target)? {
            let mut parts = job.key.split('|').skip(1);
            let (acct, region) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
            root = job
                .arn
                .clone()
                .unwrap_or_else(|| format!("arn:aws:glue:{region}:{acct}:job/{}", job.resource_id));
            let jnode = Node {
                id: root.clone(),
                kind: "glue_job".into(),
                label: job.resource_id.clone(),
                account: Some(acct.to_string()),
                region: Some(region.to_string()),
                namespace: Some(format!("arn:aws:glue:{region}:{acct}")),
                name: Some(format!("job/{}", job.resource_id)),
                properties: BTreeMap::new(),
            };
            self.node(&jnode);
            let runs: Vec<String> = store
                .resource_events_with(job.id, &["target"], self.since, self.until)?
                .into_iter()
                .filter(|e| e.event_name == "StartJobRun" && e.error_code.is_none())
                .map(|e| e.id)
                .collect::<Vec<_>>()
                .chunks(500)
                .map(|c| store.event_resources_many(c))
                .collect::<std::result::Result<Vec<_>, _>>()?
                .into_iter()
                .flat_map(|m| m.into_values().flatten())
                .filter(|t| t.rtype == "AWS::Glue::JobRun")
                .map(|t| t.resource_id)
                .collect();
            for run in runs {
                if let Some(r) = store.resources_typed("AWS::Glue::JobRun", &run)?.pop() {
                    for c in self.contexts_of_run(&r)? {
                        self.actor(&c, q)?;
                        self.part_of(&c.node.id, &root);
                    }
                }
            }
        } else if let Some((table, location)) = self.find_table(target)? {
            // A Glue/Athena table: the objects under its location (from CreateTable/UpdateTable), rolled up.
            let tnode = resource_node(&table).ok_or_else(|| QueryError::NotFound {
                what: "table",
                query: target.to_string(),
            })?;
            root = tnode.id.clone();
            self.node(&tnode);
            let mut tnode = tnode;
            if let Some(loc) = &location {
                tnode
                    .properties
                    .insert("location".into(), Value::String(loc.clone()));
                self.nodes.insert(tnode.id.clone(), tnode.clone());
                let prefix = loc.trim_start_matches("s3://").trim_start_matches("s3a://");
                for o in store.objects_under(prefix)? {
                    if let Some(n) = resource_node(&o) {
                        self.dataset(&o, &n, q, None)?;
                        self.part_of(&n.id, &root);
                    }
                }
            }
        } else {
            // `s3://bucket/key?versionId=V` or `?generation=G`: one version of the object.
            let (base, tag) = if target.starts_with("s3://") {
                versions::split_id(target)
            } else {
                (target, None)
            };
            let r = self.find_dataset(base)?;
            let n = resource_node(&r).ok_or_else(|| QueryError::NotFound {
                what: "dataset",
                query: target.to_string(),
            })?;
            root = self.dataset(&r, &n, q, tag)?.unwrap_or(n.id.clone());
        }
        self.finish(Some(root))
    }

    fn part_of(&mut self, from: &str, to: &str) {
        self.edges
            .entry((from.to_string(), to.to_string(), edge::PART_OF, None))
            .or_insert_with(|| Agg {
                confidence: confidence::HIGH,
                ..Agg::default()
            });
    }

    /// A job run, query or statement whose data calls are not in the trail: its node, the `starts` edge and the
    /// datasets its start request names (`named_by_request`).
    fn bare_run(&mut self, r: &ResourceRow, root: &str) -> Result<()> {
        let (kind, label) = match r.rtype.as_str() {
            "AWS::Athena::QueryExecution" => (
                kind::ATHENA_QUERY,
                format!("Athena query {}", r.resource_id),
            ),
            "AWS::RedshiftData::Statement" => (
                kind::REDSHIFT_STATEMENT,
                format!("Redshift statement {}", r.resource_id),
            ),
            _ => (
                kind::GLUE_JOB_RUN,
                format!("Glue job run {}", r.resource_id),
            ),
        };
        let mut parts = r.key.split('|').skip(1);
        let opt = |s: Option<&str>| s.filter(|s| !s.is_empty()).map(str::to_string);
        let node = Node {
            id: root.to_string(),
            kind: kind.into(),
            label,
            account: opt(parts.next()),
            region: opt(parts.next()),
            namespace: None,
            name: None,
            properties: [("data_calls_in_trail".to_string(), Value::Bool(false))]
                .into_iter()
                .collect(),
        };
        self.node(&node);
        for st in self
            .store()
            .resource_events_with(r.id, &["target"], None, None)?
        {
            if st.error_code.is_none() && rules::STARTS.contains(&st.event_name.as_str()) {
                let starter = self.cx.of(&st)?;
                self.node(&starter.node);
                let id = starter.node.id.clone();
                self.edge(&id, root, edge::STARTS, Some(&id), confidence::HIGH, &st);
                for (n, kind) in self.requested(&st)? {
                    self.node(&n);
                    self.named_edge(root, &n.id, kind, &st);
                }
            }
        }
        Ok(())
    }

    /// An edge of a dataset the start request names (not observed in a data call): medium confidence.
    fn named_edge(&mut self, run: &str, dataset: &str, kind: &'static str, e: &EventRow) {
        self.edge(run, dataset, kind, Some(run), confidence::MEDIUM, e);
        if let Some(a) = self.edges.get_mut(&(
            run.to_string(),
            dataset.to_string(),
            kind,
            Some(run.to_string()),
        )) {
            a.named = true;
        }
    }

    /// The datasets a start request names: an Athena query's output location (`write`), the `s3://` values of
    /// a Glue job run's arguments (`named`: the request does not say whether the job reads or writes them).
    fn requested(&self, st: &EventRow) -> Result<Vec<(Node, &'static str)>> {
        let Some(v) = self.store().raw_json(st.id)? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        match st.event_name.as_str() {
            "StartQueryExecution" => {
                if let Some(loc) = v
                    .pointer("/requestParameters/resultConfiguration/outputLocation")
                    .and_then(Value::as_str)
                {
                    out.extend(s3_dataset(loc, true).map(|n| (n, edge::WRITE)));
                }
            }
            "StartJobRun" => {
                if let Some(args) = v
                    .pointer("/requestParameters/arguments")
                    .and_then(Value::as_object)
                {
                    for val in args.values().filter_map(Value::as_str) {
                        for part in val.split(',') {
                            out.extend(s3_dataset(part.trim(), false).map(|n| (n, edge::NAMED)));
                        }
                    }
                }
            }
            _ => {}
        }
        out.sort_by(|a, b| a.0.id.cmp(&b.0.id));
        out.dedup_by(|a, b| a.0.id == b.0.id);
        Ok(out)
    }

    fn find_run(&self, target: &str) -> Result<Option<ResourceRow>> {
        if target.starts_with("s3://") || target.starts_with("arn:") {
            return Ok(None);
        }
        let id = target
            .strip_prefix("glue_job_run:")
            .or_else(|| target.strip_prefix("athena_query:"))
            .or_else(|| target.strip_prefix("redshift_statement:"))
            .unwrap_or(target);
        for t in [
            "AWS::Glue::JobRun",
            "AWS::Athena::QueryExecution",
            "AWS::RedshiftData::Statement",
        ] {
            if let Some(r) = self.store().resources_typed(t, id)?.pop() {
                return Ok(Some(r));
            }
        }
        Ok(None)
    }

    fn find_job(&self, target: &str) -> Result<Option<ResourceRow>> {
        if target.starts_with("s3://") {
            return Ok(None);
        }
        let name = target
            .strip_prefix("arn:")
            .map_or(target, |_| target.rsplit('/').next().unwrap_or(target));
        if target.starts_with("arn:") && !target.contains(":job/") {
            return Ok(None);
        }
        Ok(self.store().resources_typed("AWS::Glue::Job", name)?.pop())
    }

    /// A Glue table (`db.table`, `db/table`, its ARN or `AWS::Glue::Table:db/table`) and its S3 location, from
    /// the latest `CreateTable`/`UpdateTable` (or a `GetTable` response) that names one.
    fn find_table(&self, target: &str) -> Result<Option<(ResourceRow, Option<String>)>> {
        if target.starts_with("s3://") {
            return Ok(None);
        }
        let id = match target.strip_prefix("arn:aws:glue:") {
            Some(rest) => match rest.split_once(":table/") {
                Some((_, t)) => t.to_string(),
                None => return Ok(None),
            },
            None => target
                .trim_start_matches("AWS::Glue::Table:")
                .replacen('.', "/", 1),
        };
        let Some(table) = self.store().resources_typed("AWS::Glue::Table", &id)?.pop() else {
            return Ok(None);
        };
        let mut location = None;
        for e in self
            .store()
            .resource_events_with(table.id, &["target"], None, self.until)?
        {
            if e.error_code.is_some()
                || !matches!(
                    e.event_name.as_str(),
                    "CreateTable" | "UpdateTable" | "GetTable"
                )
            {
                continue;
            }
            let v = self.store().raw_json(e.id)?;
            let loc = v.as_ref().and_then(|v| {
                v.pointer("/requestParameters/tableInput/storageDescriptor/location")
                    .or_else(|| v.pointer("/responseElements/table/storageDescriptor/location"))
                    .and_then(Value::as_str)
                    .map(str::to_string)
            });
            if loc.is_some() {
                location = loc;
            }
        }
        Ok(Some((table, location)))
    }

    fn find_dataset(&self, target: &str) -> Result<ResourceRow> {
        let found: Vec<ResourceRow> = self
            .store()
            .resolve_resource(target)?
            .into_iter()
            .filter(|r| rules::dataset_kind(&r.rtype).is_some())
            .collect();
        match found.len() {
            0 => Err(QueryError::NotFound {
                what: "dataset",
                query: target.to_string(),
            }),
            1 => Ok(found.into_iter().next().unwrap_or_else(|| unreachable!())),
            _ => Err(QueryError::Ambiguous {
                what: "dataset",
                query: target.to_string(),
                candidates: found.into_iter().map(|r| r.key).collect(),
            }),
        }
    }

    /// The whole graph of a window: every data call's read/write/copy/delete edge with its actor, the calls that
    /// started work, and the successful changes of resources (who-changed) as `changed` edges.
    pub fn whole(mut self) -> Result<Graph> {
        let (lo, hi) = (
            self.since.unwrap_or(i64::MIN),
            self.until.unwrap_or(i64::MAX),
        );
        let names: Vec<&str> = DATA_NAMES
            .iter()
            .chain(rules::STARTS.iter())
            .copied()
            .collect();
        let events = self.store().events_named(&names, lo, hi)?;
        let started: Vec<EventRow> = events
            .iter()
            .filter(|e| e.error_code.is_none() && rules::STARTS.contains(&e.event_name.as_str()))
            .cloned()
            .collect();
        for chunk in events.chunks(2000) {
            let facts = self.facts(chunk.to_vec())?;
            let mut by_event: BTreeMap<i64, Vec<Fact>> = BTreeMap::new();
            for f in facts {
                by_event.entry(f.event.id).or_default().push(f);
            }
            for e in chunk {
                if rules::STARTS.contains(&e.event_name.as_str()) {
                    self.start_edges(e)?;
                }
                let Some(facts) = by_event.remove(&e.id) else {
                    continue;
                };
                let ctx = self.cx.of(e)?;
                self.add_ctx(&ctx)?;
                let copy = rules::COPIES.contains(&e.event_name.as_str());
                for f in &facts {
                    self.node(&f.node);
                    let c = self.conf(f)?;
                    match f.flow {
                        Flow::Read => self.edge(
                            &f.node.id,
                            &ctx.node.id,
                            edge::READ,
                            Some(&ctx.node.id),
                            c,
                            e,
                        ),
                        Flow::Write => self.edge(
                            &ctx.node.id,
                            &f.node.id,
                            edge::WRITE,
                            Some(&ctx.node.id),
                            c,
                            e,
                        ),
                        Flow::Delete => self.edge(
                            &ctx.node.id,
                            &f.node.id,
                            edge::DELETE,
                            Some(&ctx.node.id),
                            c,
                            e,
                        ),
                    }
                }
                if copy {
                    for s in facts.iter().filter(|f| f.flow == Flow::Read) {
                        for d in facts.iter().filter(|f| f.flow == Flow::Write) {
                            self.edge(
                                &s.node.id,
                                &d.node.id,
                                edge::COPY,
                                Some(&ctx.node.id),
                                confidence::HIGH,
                                e,
                            );
                        }
                    }
                }
            }
        }
        self.started_units(&started)?;
        self.changes(lo, hi)?;
        self.finish(None)
    }

    /// Every started unit of work is in the export: a job run or query none of whose data calls made its node
    /// is added as `lineage RUN` shows it (node, `starts` edge, the datasets its request names).
    fn started_units(&mut self, started: &[EventRow]) -> Result<()> {
        for chunk in started.chunks(2000) {
            let ids: Vec<i64> = chunk.iter().map(|e| e.id).collect();
            self.load_touches(&ids)?;
            for e in chunk {
                let runs: Vec<Touch> = self
                    .touches
                    .get(&e.id)
                    .into_iter()
                    .flatten()
                    .filter(|t| {
                        t.access == "target"
                            && matches!(
                                t.rtype.as_str(),
                                "AWS::Glue::JobRun" | "AWS::Athena::QueryExecution"
                            )
                    })
                    .cloned()
                    .collect();
                for t in runs {
                    let root = match t.rtype.as_str() {
                        "AWS::Athena::QueryExecution" => format!("athena_query:{}", t.resource_id),
                        _ => format!("glue_job_run:{}", t.resource_id),
                    };
                    if self.nodes.contains_key(&root) {
                        continue;
                    }
                    let r = ResourceRow {
                        id: t.resource,
                        key: t.key.clone(),
                        rtype: t.rtype.clone(),
                        arn: t.arn.clone(),
                        resource_id: t.resource_id.clone(),
                        name: None,
                    };
                    self.bare_run(&r, &root)?;
                }
            }
        }
        Ok(())
    }

    /// A Redshift statement's `starts` edge and SQL-named reads and writes (Glue runs and Athena queries get theirs
    /// from their calls' contexts).
    fn start_edges(&mut self, e: &EventRow) -> Result<()> {
        if e.error_code.is_some() {
            return Ok(());
        }
        if let Some(st) = self.cx.statement_ctx(e)? {
            self.add_ctx(&st)?;
            for n in &st.sql_reads {
                self.node(n);
                self.edge(
                    &n.id,
                    &st.node.id,
                    edge::READ,
                    Some(&st.node.id),
                    confidence::HIGH,
                    e,
                );
            }
            for n in &st.sql_writes {
                self.node(n);
                self.edge(
                    &st.node.id,
                    &n.id,
                    edge::WRITE,
                    Some(&st.node.id),
                    confidence::HIGH,
                    e,
                );
            }
        }
        Ok(())
    }

    /// Successful mutating calls on resources (the who-changed rule) as principal → resource `changed` edges.
    fn changes(&mut self, lo: i64, hi: i64) -> Result<()> {
        let events = self.store().events_in_window(lo, hi)?;
        let events: Vec<EventRow> = events
            .into_iter()
            .filter(|e| e.error_code.is_none() && e.read_only != Some(true))
            .collect();
        for chunk in events.chunks(2000) {
            let ids: Vec<i64> = chunk.iter().map(|e| e.id).collect();
            self.load_touches(&ids)?;
            for e in chunk {
                let touched = self.touches.get(&e.id).cloned().unwrap_or_default();
                for t in touched.iter().filter(|t| t.access == "target") {
                    if !crate::correlate::rules::is_change(&t.rtype, &e.event_name, e.read_only) {
                        continue;
                    }
                    let actor = self.cx.of(e)?;
                    self.node(&actor.node);
                    let id = format!("resource:{}", t.key);
                    self.node(&Node {
                        id: id.clone(),
                        kind: kind::RESOURCE.into(),
                        label: t.resource_id.clone(),
                        account: t
                            .key
                            .split('|')
                            .nth(1)
                            .filter(|s| !s.is_empty())
                            .map(str::to_string),
                        region: t
                            .key
                            .split('|')
                            .nth(2)
                            .filter(|s| !s.is_empty())
                            .map(str::to_string),
                        namespace: None,
                        name: None,
                        properties: [("type".to_string(), Value::String(t.rtype.clone()))]
                            .into_iter()
                            .chain(t.arn.clone().map(|a| ("arn".to_string(), Value::String(a))))
                            .collect(),
                    });
                    let aid = actor.node.id.clone();
                    self.edge(&aid, &id, edge::CHANGED, Some(&aid), confidence::HIGH, e);
                }
            }
        }
        Ok(())
    }

    /// The graph, sorted, with each edge's integrity (the worst over its events' source files).
    fn finish(self, root: Option<String>) -> Result<Graph> {
        let rows: Vec<i64> = self
            .edges
            .values()
            .flat_map(|a| a.rows.iter().copied())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut worst: HashMap<i64, String> = HashMap::new();
        for chunk in rows.chunks(5000) {
            for (ev, ev_rows) in self.store().evidence_many(chunk)? {
                let w = integrity::worst(ev_rows.iter().map(|r| r.integrity.as_str()));
                worst.insert(ev, w.to_string());
            }
        }
        let mut g = Graph {
            root,
            nodes: self.nodes.into_values().collect(),
            edges: Vec::new(),
            truncated: self.truncated,
            versions: self.listed,
            ..Graph::default()
        };
        for ((from, to, kind, actor), a) in self.edges {
            let integrity = integrity::worst(
                a.rows
                    .iter()
                    .map(|r| worst.get(r).map(String::as_str).unwrap_or("unverified")),
            )
            .to_string();
            g.edges.push(Edge {
                from,
                to,
                kind: kind.to_string(),
                time: a.first.map(format_ms),
                last_time: a.last.map(format_ms),
                event_ids: a.events.into_iter().collect(),
                actor,
                confidence: a.confidence.to_string(),
                integrity,
                named_by_request: a.named,
            });
        }
        g.sort();
        Ok(g)
    }
}
