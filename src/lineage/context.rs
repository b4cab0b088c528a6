//! Actor contexts: which job run, query, function, stream delivery, service or principal did the work of a call
//! (docs/lineage.md, "Actor contexts"). Resolved at query time from the store, so the answer does not depend on
//! the order files were ingested in.

use super::graph::{confidence, kind, Node};
use super::rules;
use crate::correlate::Actors;
use crate::correlate::Result;
use crate::store::query::{EventRow, SessionRow};
use crate::store::Store;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

const MINUTE: i64 = 60_000;
/// How long after its start a query's calls are attributed to it.
const QUERY_LIFETIME: i64 = 30 * MINUTE;
/// How long before a Glue session's issue its `StartJobRun` may be.
const GLUE_START_WINDOW: i64 = 10 * MINUTE;
/// How far back a long-lived context (a principal, a service, a function's session) looks for the reads a write
/// derives from.
pub const HORIZON: i64 = 24 * 60 * MINUTE;

/// Which events belong to a context: those made with one access key, or by one principal (no key logged).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    Key(String),
    Principal(i64),
}

/// An actor context.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub node: Node,
    pub scope: Scope,
    /// Only calls made through Athena (`athena.amazonaws.com`) belong to an Athena query context; no other
    /// context takes them.
    pub athena: bool,
    /// How sure the attribution of a call to this actor is.
    pub attribution: &'static str,
    /// How sure a derivation (write from earlier read) inside this actor is.
    pub derivation: &'static str,
    /// The earliest time a call can belong to it (a query's start, a session's issue), if bounded.
    pub start: Option<i64>,
    /// The latest time (a query's lifetime), if bounded.
    pub end: Option<i64>,
    /// The call that started it (`StartJobRun`, `StartQueryExecution`, `ExecuteStatement`), for `starts` edges.
    pub started_by: Option<EventRow>,
    /// A Redshift statement: its SQL states what it reads and writes, so inside it every input derives every
    /// output whatever the order of the calls (docs/lineage.md).
    pub statement: bool,
    /// Datasets the statement's SQL reads (`COPY … FROM 's3://…'`, the tables an UNLOAD selects from) and writes
    /// (the table a COPY loads, the `TO 's3://…'` of an UNLOAD).
    pub sql_reads: Vec<Node>,
    pub sql_writes: Vec<Node>,
}

#[derive(Debug, Clone)]
struct Statement {
    id: String,
    sql: String,
    cluster: String,
    database: String,
}

/// Resolves contexts with caches: one lineage answer resolves many calls of few contexts.
pub struct Contexts<'s> {
    store: &'s Store,
    pub actors: Actors<'s>,
    by_event: HashMap<i64, Ctx>,
    glue_runs: HashMap<String, Option<(EventRow, String)>>,
    query_ids: HashMap<i64, Option<String>>,
    statement_sql: HashMap<i64, Option<Statement>>,
    service_principals: HashMap<String, Option<i64>>,
}

fn is_athena(e: &EventRow) -> bool {
    e.source_ip.as_deref() == Some("athena.amazonaws.com")
        || e.user_agent.as_deref() == Some("athena.amazonaws.com")
}

fn props(pairs: &[(&str, Option<&str>)]) -> BTreeMap<String, Value> {
    pairs
        .iter()
        .filter_map(|(k, v)| v.map(|v| (k.to_string(), Value::String(v.to_string()))))
        .collect()
}

impl<'s> Contexts<'s> {
    pub fn new(store: &'s Store) -> Self {
        Contexts {
            store,
            actors: Actors::new(store),
            by_event: HashMap::new(),
            glue_runs: HashMap::new(),
            query_ids: HashMap::new(),
            statement_sql: HashMap::new(),
            service_principals: HashMap::new(),
        }
    }

    pub fn store(&self) -> &'s Store {
        self.store
    }

    /// The actor that made a call.
    pub fn of(&mut self, e: &EventRow) -> Result<Ctx> {
        if let Some(c) = self.by_event.get(&e.id) {
            return Ok(c.clone());
        }
        let c = self.resolve(e)?;
        self.by_event.insert(e.id, c.clone());
        Ok(c)
    }

    fn scope(e: &EventRow) -> Scope {
        match &e.access_key_id {
            Some(k) => Scope::Key(k.clone()),
            None => Scope::Principal(e.principal_id),
        }
    }

    fn resolve(&mut self, e: &EventRow) -> Result<Ctx> {
        if is_athena(e) {
            return self.athena(e);
        }
        if e.identity_type.as_deref() == Some("AWSService") {
            let p = self.store.principal(e.principal_id)?;
            let name = p
                .as_ref()
                .and_then(|p| p.key.strip_prefix("service:").map(str::to_string))
                .or_else(|| e.identity_arn.clone())
                .unwrap_or_else(|| "unknown".into());
            return Ok(Ctx {
                node: Node {
                    id: format!("service:{name}"),
                    kind: kind::SERVICE.into(),
                    label: name.clone(),
                    account: None,
                    region: None,
                    namespace: None,
                    name: None,
                    properties: BTreeMap::new(),
                },
                scope: Scope::Principal(e.principal_id),
                athena: false,
                attribution: confidence::HIGH,
                derivation: confidence::LOW,
                start: None,
                end: None,
                started_by: None,
                statement: false,
                sql_reads: Vec::new(),
                sql_writes: Vec::new(),
            });
        }
        let session = match &e.access_key_id {
            Some(k) => self.actors.session(k)?,
            None => None,
        };
        if let Some(s) = &session {
            let issuer = match s.issuer_principal_id {
                Some(i) => self.store.principal(i)?,
                None => None,
            };
            if let Some(svc) = issuer.as_ref().and_then(|p| p.key.strip_prefix("service:")) {
                let svc = svc.to_string();
                match svc.as_str() {
                    "glue.amazonaws.com" => return self.glue(e, s),
                    "lambda.amazonaws.com" => return Ok(self.lambda(e, s)),
                    "redshift.amazonaws.com" => return self.redshift(e, s),
                    "firehose.amazonaws.com" => return self.firehose(e, s),
                    _ => {}
                }
            }
        }
        self.principal(e)
    }

    /// A person or role session (or any principal no more specific rule covers).
    fn principal(&mut self, e: &EventRow) -> Result<Ctx> {
        let a = self.actors.actor(e)?;
        let id = a.arn.clone().unwrap_or_else(|| a.principal.clone());
        let label = id.rsplit(['/', ':']).next().unwrap_or(&id).to_string();
        Ok(Ctx {
            node: Node {
                id,
                kind: kind::PRINCIPAL.into(),
                label,
                account: a.account.clone(),
                region: None,
                namespace: None,
                name: None,
                properties: props(&[
                    ("type", a.utype.as_deref()),
                    (
                        "original_principal_arn",
                        a.original_principal_arn.as_deref(),
                    ),
                    ("source_identity", a.source_identity.as_deref()),
                ]),
            },
            scope: Self::scope(e),
            athena: false,
            attribution: confidence::HIGH,
            derivation: confidence::LOW,
            start: None,
            end: None,
            started_by: None,
            statement: false,
            sql_reads: Vec::new(),
            sql_writes: Vec::new(),
        })
    }

    /// The query id a `StartQueryExecution` call started (from its response).
    fn query_id(&mut self, start: &EventRow) -> Result<Option<String>> {
        if let Some(q) = self.query_ids.get(&start.id) {
            return Ok(q.clone());
        }
        let q = self
            .store
            .event_resources_many(&[start.id])?
            .remove(&start.id)
            .unwrap_or_default()
            .into_iter()
            .find(|t| t.rtype == "AWS::Athena::QueryExecution")
            .map(|t| t.resource_id);
        self.query_ids.insert(start.id, q.clone());
        Ok(q)
    }

    /// A call Athena made on the caller's behalf: the caller's query running at that time.
    fn athena(&mut self, e: &EventRow) -> Result<Ctx> {
        let t = e.time_ms.unwrap_or(0);
        // Athena may call with the caller's key or, through forward access sessions, with another key of the same
        // session: look by key first, then by the session as logged.
        let is_start = |c: &EventRow| {
            c.event_name == "StartQueryExecution" && c.error_code.is_none() && !is_athena(c)
        };
        let mut candidates: Vec<EventRow> = match &e.access_key_id {
            Some(k) => self
                .store
                .events_by_access_key(k, Some(t - QUERY_LIFETIME), Some(t))?,
            None => Vec::new(),
        }
        .into_iter()
        .filter(is_start)
        .collect();
        if candidates.is_empty() {
            candidates = self
                .store
                .events_by_principal(e.principal_id, Some(t - QUERY_LIFETIME), Some(t))?
                .into_iter()
                .filter(|c| is_start(c) && c.identity_arn == e.identity_arn)
                .collect();
        }
        let scope = Scope::Principal(e.principal_id);
        let mut started = Vec::new();
        for c in candidates {
            if let Some(q) = self.query_id(&c)? {
                started.push((c, q));
            }
        }
        // A results file is named after its query: that decides, whatever the timing.
        let touched = self
            .store
            .event_resources_many(&[e.id])?
            .remove(&e.id)
            .unwrap_or_default();
        let named = started.iter().find(|(_, q)| {
            touched
                .iter()
                .any(|t| t.rtype == "AWS::S3::Object" && t.resource_id.contains(q.as_str()))
        });
        let (chosen, attribution) = match named {
            Some(s) => (Some(s.clone()), confidence::HIGH),
            None => match started.last() {
                Some(s) if started.len() == 1 => (Some(s.clone()), confidence::MEDIUM),
                Some(s) => (Some(s.clone()), confidence::LOW),
                None => (None, confidence::LOW),
            },
        };
        let (id, label, start, started_by, qid) = match chosen {
            Some((ev, q)) => (
                format!("athena_query:{q}"),
                format!("Athena query {q}"),
                ev.time_ms,
                Some(ev),
                Some(q),
            ),
            None => {
                let k = match &scope {
                    Scope::Key(k) => k.clone(),
                    Scope::Principal(p) => format!("principal-{p}"),
                };
                (
                    format!("athena_query:session/{k}"),
                    "Athena (query not in the trail)".into(),
                    None,
                    None,
                    None,
                )
            }
        };
        let region = e.region.clone();
        Ok(Ctx {
            node: Node {
                id,
                kind: kind::ATHENA_QUERY.into(),
                label,
                account: Some(e.account.clone()),
                region: region.clone(),
                namespace: Some(format!(
                    "arn:aws:athena:{}:{}",
                    region.as_deref().unwrap_or(""),
                    e.account
                )),
                name: Some(match &qid {
                    Some(q) => format!("query/{q}"),
                    None => "query/unknown".into(),
                }),
                properties: props(&[
                    ("query_execution_id", qid.as_deref()),
                    ("access_key_id", e.access_key_id.as_deref()),
                ]),
            },
            scope,
            athena: true,
            attribution,
            derivation: confidence::MEDIUM,
            start,
            end: start.map(|s| s + QUERY_LIFETIME),
            started_by,
            statement: false,
            sql_reads: Vec::new(),
            sql_writes: Vec::new(),
        })
    }

    /// The `StartJobRun` a Glue session serves: sessions issued to Glue and runs started in the same account are
    /// paired in time order, each run taking the first session issued after it (within 10 minutes).
    fn glue_run(
        &mut self,
        key: &str,
        issued: i64,
        account: &str,
    ) -> Result<Option<(EventRow, String)>> {
        if let Some(r) = self.glue_runs.get(key) {
            return Ok(r.clone());
        }
        let glue = self.service_principal("glue.amazonaws.com")?;
        let runs: Vec<EventRow> = self
            .store
            .events_named(
                &["StartJobRun"],
                issued - 2 * GLUE_START_WINDOW,
                issued + GLUE_START_WINDOW,
            )?
            .into_iter()
            .filter(|r| r.account == account)
            .collect();
        let sessions = match glue {
            Some(g) => self.store.sessions_issued_by(
                g,
                issued - 2 * GLUE_START_WINDOW,
                issued + 2 * GLUE_START_WINDOW,
            )?,
            None => Vec::new(),
        };
        // Greedy pairing in time order over the local window.
        let mut taken = vec![false; runs.len()];
        let mut result = None;
        for (k, t) in &sessions {
            let mut best = None;
            for (i, r) in runs.iter().enumerate() {
                let rt = r.time_ms.unwrap_or(i64::MIN);
                if !taken[i] && rt <= *t && *t - rt <= GLUE_START_WINDOW {
                    best = Some(i);
                    break;
                }
            }
            if let Some(i) = best {
                taken[i] = true;
                if k == key {
                    let run_id = self
                        .store
                        .event_resources_many(&[runs[i].id])?
                        .remove(&runs[i].id)
                        .unwrap_or_default()
                        .into_iter()
                        .find(|t| t.rtype == "AWS::Glue::JobRun")
                        .map(|t| t.resource_id);
                    result = run_id.map(|id| (runs[i].clone(), id));
                }
            }
        }
        self.glue_runs.insert(key.to_string(), result.clone());
        Ok(result)
    }

    fn service_principal(&mut self, svc: &str) -> Result<Option<i64>> {
        if let Some(p) = self.service_principals.get(svc) {
            return Ok(*p);
        }
        let p = self
            .store
            .principal_by_key(&format!("service:{svc}"))?
            .map(|p| p.id);
        self.service_principals.insert(svc.to_string(), p);
        Ok(p)
    }

    fn glue(&mut self, e: &EventRow, s: &SessionRow) -> Result<Ctx> {
        let key = s.access_key_id.clone();
        let issued = s.issued_ms.unwrap_or(e.time_ms.unwrap_or(0));
        let run = self.glue_run(&key, issued, &e.account)?;
        let region = e.region.clone();
        let (id, label, job, run_id, attribution, started_by) = match run {
            Some((start, run_id)) => {
                let job = self
                    .store
                    .event_resources_many(&[start.id])?
                    .remove(&start.id)
                    .unwrap_or_default()
                    .into_iter()
                    .find(|t| t.rtype == "AWS::Glue::Job")
                    .map(|t| t.resource_id);
                let short: String = run_id.chars().take(12).collect();
                (
                    format!("glue_job_run:{run_id}"),
                    format!("{} {short}", job.as_deref().unwrap_or("Glue job")),
                    job,
                    Some(run_id),
                    confidence::MEDIUM,
                    Some(start),
                )
            }
            None => (
                format!("glue_job_run:session/{key}"),
                format!(
                    "Glue job (run not in the trail) {}",
                    s.session_name.as_deref().unwrap_or("")
                ),
                None,
                None,
                confidence::LOW,
                None,
            ),
        };
        Ok(Ctx {
            node: Node {
                id,
                kind: kind::GLUE_JOB_RUN.into(),
                label,
                account: Some(e.account.clone()),
                region: region.clone(),
                namespace: Some(format!(
                    "arn:aws:glue:{}:{}",
                    region.as_deref().unwrap_or(""),
                    e.account
                )),
                name: Some(format!("job/{}", job.as_deref().unwrap_or("unknown"))),
                properties: props(&[
                    ("job_name", job.as_deref()),
                    ("job_run_id", run_id.as_deref()),
                    ("access_key_id", Some(&key)),
                    ("session_arn", s.session_arn.as_deref()),
                ]),
            },
            scope: Scope::Key(key),
            athena: false,
            attribution,
            derivation: confidence::MEDIUM,
            start: Some(issued),
            end: None,
            started_by,
            statement: false,
            sql_reads: Vec::new(),
            sql_writes: Vec::new(),
        })
    }

    /// Lambda names the execution role's session after the function.
    fn lambda(&mut self, e: &EventRow, s: &SessionRow) -> Ctx {
        let name = s.session_name.clone().unwrap_or_else(|| "unknown".into());
        let region = e.region.clone().unwrap_or_default();
        let arn = format!("arn:aws:lambda:{region}:{}:function:{name}", e.account);
        Ctx {
            node: Node {
                id: arn.clone(),
                kind: kind::LAMBDA_FUNCTION.into(),
                label: name.clone(),
                account: Some(e.account.clone()),
                region: Some(region.clone()),
                namespace: Some(format!("arn:aws:lambda:{region}:{}", e.account)),
                name: Some(format!("function/{name}")),
                properties: props(&[
                    ("access_key_id", Some(&s.access_key_id)),
                    ("session_arn", s.session_arn.as_deref()),
                ]),
            },
            scope: Scope::Key(s.access_key_id.clone()),
            athena: false,
            attribution: confidence::HIGH,
            derivation: confidence::LOW,
            start: s.issued_ms,
            end: None,
            started_by: None,
            statement: false,
            sql_reads: Vec::new(),
            sql_writes: Vec::new(),
        }
    }

    /// A Redshift Data API statement: its id, SQL, cluster (or workgroup) and database.
    fn statement(&mut self, ev: &EventRow) -> Result<Option<Statement>> {
        if let Some(s) = self.statement_sql.get(&ev.id) {
            return Ok(s.clone());
        }
        let s = self.store.raw_json(ev.id)?.and_then(|v| {
            let text = |p: &str| v.pointer(p).and_then(Value::as_str).map(str::to_string);
            Some(Statement {
                sql: text("/requestParameters/sql")?,
                id: text("/responseElements/id")?,
                cluster: text("/requestParameters/clusterIdentifier")
                    .or_else(|| text("/requestParameters/workgroupName"))
                    .unwrap_or_else(|| "unknown".into()),
                database: text("/requestParameters/database").unwrap_or_else(|| "dev".into()),
            })
        });
        self.statement_sql.insert(ev.id, s.clone());
        Ok(s)
    }

    /// The context of a Redshift Data API call: the statement, what its SQL reads and writes, and the role its
    /// `IAM_ROLE` names (whose session makes the S3 calls).
    pub fn statement_ctx(&mut self, ev: &EventRow) -> Result<Option<Ctx>> {
        if ev.event_source != "redshift-data.amazonaws.com" || ev.error_code.is_some() {
            return Ok(None);
        }
        let Some(st) = self.statement(ev)? else {
            return Ok(None);
        };
        let region = ev.region.clone();
        let r = rules::redshift_sql(&st.sql);
        let table = |t: &str| -> Node {
            let (schema, name) = t.rsplit_once('.').unwrap_or(("public", t));
            let schema = schema.rsplit('.').next().unwrap_or(schema);
            let ns = format!(
                "redshift://{}.{}:5439",
                st.cluster,
                region.as_deref().unwrap_or("")
            );
            let name = format!("{}.{schema}.{name}", st.database);
            Node {
                id: format!("{ns}/{name}"),
                kind: kind::TABLE.into(),
                label: name.clone(),
                account: Some(ev.account.clone()),
                region: region.clone(),
                namespace: Some(ns),
                name: Some(name),
                properties: props(&[("engine", Some("redshift"))]),
            }
        };
        let prefix = Node::s3_prefix;
        let sql_reads: Vec<Node> = r
            .s3_reads
            .iter()
            .map(|p| prefix(p))
            .chain(r.table_reads.iter().map(|t| table(t)))
            .collect();
        let sql_writes: Vec<Node> = r
            .s3_writes
            .iter()
            .map(|p| prefix(p))
            .chain(r.table_writes.iter().map(|t| table(t)))
            .collect();
        let role = match &r.iam_role {
            Some(arn) => self.store.principal_by_key(arn)?.map(|p| p.id),
            None => None,
        };
        let mut node = redshift_node(&st.id, &ev.account, region.as_deref());
        node.properties
            .insert("sql".into(), Value::String(st.sql.clone()));
        node.properties
            .insert("cluster".into(), Value::String(st.cluster.clone()));
        node.properties
            .insert("database".into(), Value::String(st.database.clone()));
        Ok(Some(Ctx {
            node,
            scope: Scope::Principal(role.unwrap_or(-1)),
            athena: false,
            attribution: confidence::MEDIUM,
            derivation: confidence::HIGH,
            start: ev.time_ms,
            end: ev.time_ms.map(|t| t + QUERY_LIFETIME),
            started_by: Some(ev.clone()),
            statement: true,
            sql_reads,
            sql_writes,
        }))
    }

    /// The cluster role's calls: the latest Data API statement at or before the call, in the same account, whose
    /// `IAM_ROLE` is the session's role (medium); else a per-session Redshift actor (low).
    fn redshift(&mut self, e: &EventRow, s: &SessionRow) -> Result<Ctx> {
        let t = e.time_ms.unwrap_or(0);
        let role_arn = match s.principal_id {
            Some(p) => self.store.principal(p)?.and_then(|p| p.arn),
            None => None,
        };
        let mut best = None;
        for st in self
            .store
            .events_named(&["ExecuteStatement"], t - QUERY_LIFETIME, t)?
        {
            if st.account != e.account || st.event_source != "redshift-data.amazonaws.com" {
                continue;
            }
            if let Some(stmt) = self.statement(&st)? {
                let names_role = rules::redshift_sql(&stmt.sql).iam_role;
                if role_arn.is_none() || names_role.is_none() || names_role == role_arn {
                    best = Some(st);
                }
            }
        }
        if let Some(st) = best {
            if let Some(mut ctx) = self.statement_ctx(&st)? {
                ctx.scope = Scope::Principal(e.principal_id);
                return Ok(ctx);
            }
        }
        let region = e.region.clone();
        Ok(Ctx {
            node: Node {
                id: format!("service:redshift.amazonaws.com/{}", s.access_key_id),
                kind: kind::SERVICE.into(),
                label: "Redshift (statement not in the trail)".into(),
                account: Some(e.account.clone()),
                region,
                namespace: None,
                name: None,
                properties: props(&[("access_key_id", Some(&s.access_key_id))]),
            },
            scope: Scope::Key(s.access_key_id.clone()),
            athena: false,
            attribution: confidence::LOW,
            derivation: confidence::LOW,
            start: s.issued_ms,
            end: None,
            started_by: None,
            statement: false,
            sql_reads: Vec::new(),
            sql_writes: Vec::new(),
        })
    }

    /// A Firehose delivery role writes on behalf of the delivery stream that last received records in that
    /// account (medium; low when several streams did).
    fn firehose(&mut self, e: &EventRow, s: &SessionRow) -> Result<Ctx> {
        let t = e.time_ms.unwrap_or(0);
        let puts: Vec<EventRow> = self
            .store
            .events_named(&["PutRecord", "PutRecordBatch"], t - 15 * MINUTE, t)?
            .into_iter()
            .filter(|p| p.event_source == "firehose.amazonaws.com" && p.account == e.account)
            .collect();
        let ids: Vec<i64> = puts.iter().map(|p| p.id).collect();
        let mut touched = self.store.event_resources_many(&ids)?;
        let mut streams: Vec<(i64, String)> = Vec::new();
        for p in &puts {
            for tch in touched.remove(&p.id).unwrap_or_default() {
                if tch.rtype == "AWS::KinesisFirehose::DeliveryStream" {
                    let arn = tch.arn.clone().unwrap_or_else(|| {
                        format!(
                            "arn:aws:firehose:{}:{}:deliverystream/{}",
                            e.region.as_deref().unwrap_or(""),
                            e.account,
                            tch.resource_id
                        )
                    });
                    streams.push((p.time_ms.unwrap_or(0), arn));
                }
            }
        }
        if streams.is_empty() {
            // Firehose's own PutRecord calls are often not in the trail: the stream whose configuration names
            // this delivery role (CreateDeliveryStream / UpdateDestination) is the one writing.
            let role_arn = match s.principal_id {
                Some(p) => self.store.principal(p)?.and_then(|p| p.arn),
                None => None,
            };
            if let Some(role_arn) = role_arn {
                for c in self.store.events_named(
                    &["CreateDeliveryStream", "UpdateDestination"],
                    i64::MIN,
                    t,
                )? {
                    if c.event_source != "firehose.amazonaws.com" || c.account != e.account {
                        continue;
                    }
                    let Some(v) = self.store.raw_json(c.id)? else {
                        continue;
                    };
                    let params = v
                        .get("requestParameters")
                        .map(Value::to_string)
                        .unwrap_or_default();
                    if !params.contains(&format!("\"{role_arn}\"")) {
                        continue;
                    }
                    let arn = v
                        .pointer("/responseElements/deliveryStreamARN")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                        .or_else(|| {
                            v.pointer("/requestParameters/deliveryStreamName")
                                .and_then(Value::as_str)
                                .map(|n| {
                                    format!(
                                        "arn:aws:firehose:{}:{}:deliverystream/{n}",
                                        e.region.as_deref().unwrap_or(""),
                                        e.account
                                    )
                                })
                        });
                    if let Some(arn) = arn {
                        streams.push((c.time_ms.unwrap_or(0), arn));
                    }
                }
            }
        }
        let mut distinct: Vec<&String> = streams.iter().map(|(_, a)| a).collect();
        distinct.sort();
        distinct.dedup();
        let chosen = streams.last().map(|(_, a)| a.clone());
        let attribution = if distinct.len() > 1 {
            confidence::LOW
        } else {
            confidence::MEDIUM
        };
        let (id, label) = match &chosen {
            Some(arn) => (
                arn.clone(),
                arn.rsplit('/').next().unwrap_or(arn).to_string(),
            ),
            None => (
                format!("service:firehose.amazonaws.com/{}", s.access_key_id),
                "Firehose delivery".into(),
            ),
        };
        Ok(Ctx {
            node: Node {
                id,
                kind: if chosen.is_some() {
                    kind::STREAM.into()
                } else {
                    kind::SERVICE.into()
                },
                label,
                account: Some(e.account.clone()),
                region: e.region.clone(),
                namespace: None,
                name: None,
                properties: props(&[("access_key_id", Some(&s.access_key_id))]),
            },
            scope: Scope::Key(s.access_key_id.clone()),
            athena: false,
            attribution: if chosen.is_some() {
                attribution
            } else {
                confidence::LOW
            },
            derivation: confidence::LOW,
            start: s.issued_ms,
            end: None,
            started_by: None,
            statement: false,
            sql_reads: Vec::new(),
            sql_writes: Vec::new(),
        })
    }
}

fn redshift_node(id: &str, account: &str, region: Option<&str>) -> Node {
    Node {
        id: format!("redshift_statement:{id}"),
        kind: kind::REDSHIFT_STATEMENT.into(),
        label: format!("Redshift statement {id}"),
        account: Some(account.to_string()),
        region: region.map(str::to_string),
        namespace: Some(format!(
            "arn:aws:redshift:{}:{account}",
            region.unwrap_or("")
        )),
        name: Some(format!("statement/{id}")),
        properties: props(&[("statement_id", Some(id))]),
    }
}
