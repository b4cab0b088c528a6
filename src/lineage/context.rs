//! Actor contexts: which job run, query, function, stream delivery, service or principal did the work of a call
//! (docs/lineage.md, "Actor contexts"). Resolved at query time from the store, so the answer does not depend on
//! the order files were ingested in.

use super::graph::{confidence, kind, Node};
use super::rules;
use crate::correlate::Actors;
use crate::store::query::{EventRow, SessionRow};
use crate::correlate::Result;
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
}

/// Resolves contexts with caches: one lineage answer resolves many calls of few contexts.
pub struct Contexts<'s> {
    store: &'s Store,
    pub actors: Actors<'s>,
    by_event: HashMap<i64, Ctx>,
    glue_runs: HashMap<String, Option<(EventRow, String)>>,
    query_ids: HashMap<i64, Option<String>>,
    statement_sql: HashMap<i64, Option<(String, String)>>,
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
                    ("original_principal_arn", a.original_principal_arn.as_deref()),
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
        let scope = Self::scope(e);
        let candidates: Vec<EventRow> = match &scope {
            Scope::Key(k) => self.store.events_by_access_key(k, Some(t - QUERY_LIFETIME), Some(t))?,
            Scope::Principal(p) => self.store.events_by_principal(*p, Some(t - QUERY_LIFETIME), Some(t))?,
        }
        .into_iter()
        .filter(|c| c.event_name == "StartQueryExecution" && c.error_code.is_none() && !is_athena(c))
        .collect();
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
        let named = started
            .iter()
            .find(|(_, q)| touched.iter().any(|t| t.rtype == "AWS::S3::Object" && t.resource_id.contains(q.as_str())));
        let (chosen, attribution) = match named {
            Some(s) => (Some(s.clone()), confidence::HIGH),
            None => match started.last() {
                Some(s) if started.len() == 1 => (Some(s.clone()), confidence::MEDIUM),
                Some(s) => (Some(s.clone()), confidence::LOW),
                None => (None, confidence::LOW),
            },
        };
        let (id, label, start, started_by, qid) = match chosen {
            Some((ev, q)) => (format!("athena_query:{q}"), format!("Athena query {q}"), ev.time_ms, Some(ev), Some(q)),
            None => {
                let k = match &scope {
                    Scope::Key(k) => k.clone(),
                    Scope::Principal(p) => format!("principal-{p}"),
                };
                (format!("athena_query:session/{k}"), "Athena (query not in the trail)".into(), None, None, None)
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
                namespace: Some(format!("arn:aws:athena:{}:{}", region.as_deref().unwrap_or(""), e.account)),
                name: Some(match &qid {
                    Some(q) => format!("query/{q}"),
                    None => "query/unknown".into(),
                }),
                properties: props(&[("query_execution_id", qid.as_deref()), ("access_key_id", e.access_key_id.as_deref())]),
            },
            scope,
            athena: true,
            attribution,
            derivation: confidence::MEDIUM,
            start,
            end: start.map(|s| s + QUERY_LIFETIME),
            started_by,
        })
    }

    /// The `StartJobRun` a Glue session serves: sessions issued to Glue and runs started in the same account are
    /// paired in time order, each run taking the first session issued after it (within 10 minutes).
    fn glue_run(&mut self, key: &str, issued: i64, account: &str) -> Result<Option<(EventRow, String)>> {
        if let Some(r) = self.glue_runs.get(key) {
            return Ok(r.clone());
        }
        let glue = self.service_principal("glue.amazonaws.com")?;
        let runs: Vec<EventRow> = self
            .store
            .events_named(&["StartJobRun"], issued - 2 * GLUE_START_WINDOW, issued + GLUE_START_WINDOW)?
            .into_iter()
            .filter(|r| r.account == account)
            .collect();
        let sessions = match glue {
            Some(g) => self.store.sessions_issued_by(g, issued - 2 * GLUE_START_WINDOW, issued + 2 * GLUE_START_WINDOW)?,
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
        let p = self.store.principal_by_key(&format!("service:{svc}"))?.map(|p| p.id);
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
                format!("Glue job (run not in the trail) {}", s.session_name.as_deref().unwrap_or("")),
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
                namespace: Some(format!("arn:aws:glue:{}:{}", region.as_deref().unwrap_or(""), e.account)),
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
                properties: props(&[("access_key_id", Some(&s.access_key_id)), ("session_arn", s.session_arn.as_deref())]),
            },
            scope: Scope::Key(s.access_key_id.clone()),
            athena: false,
            attribution: confidence::HIGH,
            derivation: confidence::LOW,
            start: s.issued_ms,
            end: None,
            started_by: None,
        }
    }

    /// The SQL of an `ExecuteStatement` call and the statement id it returned.
    fn statement(&mut self, ev: &EventRow) -> Result<Option<(String, String)>> {
        if let Some(s) = self.statement_sql.get(&ev.id) {
            return Ok(s.clone());
        }
        let raw = self.store.raw_record(ev.id)?;
        let v: Option<Value> = raw.and_then(|r| serde_json::from_str(&r).ok());
        let s = v.and_then(|v| {
            let sql = v.pointer("/requestParameters/sql")?.as_str()?.to_string();
            let id = v.pointer("/responseElements/id")?.as_str()?.to_string();
            Some((sql, id))
        });
        self.statement_sql.insert(ev.id, s.clone());
        Ok(s)
    }

    /// The cluster role's calls: the Data API statement of the same account running at that time whose SQL
    /// names the object's path (high), else the latest one (medium), else a per-session Redshift actor (low).
    fn redshift(&mut self, e: &EventRow, s: &SessionRow) -> Result<Ctx> {
        let t = e.time_ms.unwrap_or(0);
        let touched = self.store.event_resources_many(&[e.id])?.remove(&e.id).unwrap_or_default();
        let paths: Vec<String> = touched
            .iter()
            .filter(|t| t.rtype == "AWS::S3::Object")
            .map(|t| format!("s3://{}", t.resource_id))
            .collect();
        let mut best: Option<(EventRow, String, &'static str)> = None;
        for st in self.store.events_named(&["ExecuteStatement"], t - QUERY_LIFETIME, t)? {
            if st.account != e.account || st.event_source != "redshift-data.amazonaws.com" {
                continue;
            }
            if let Some((sql, id)) = self.statement(&st)? {
                let (r, w) = rules::redshift_paths(&sql);
                let names = r.iter().chain(w.iter()).any(|p| paths.iter().any(|o| o.starts_with(p.as_str())));
                if names {
                    best = Some((st, id, confidence::HIGH));
                } else if best.as_ref().is_none_or(|b| b.2 != confidence::HIGH) {
                    best = Some((st, id, confidence::MEDIUM));
                }
            }
        }
        let region = e.region.clone();
        Ok(match best {
            Some((st, id, attribution)) => Ctx {
                node: redshift_node(&id, &e.account, region.as_deref()),
                scope: Scope::Key(s.access_key_id.clone()),
                athena: false,
                attribution,
                derivation: confidence::MEDIUM,
                start: st.time_ms,
                end: st.time_ms.map(|t| t + QUERY_LIFETIME),
                started_by: Some(st),
            },
            None => Ctx {
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
            },
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
                        format!("arn:aws:firehose:{}:{}:deliverystream/{}", e.region.as_deref().unwrap_or(""), e.account, tch.resource_id)
                    });
                    streams.push((p.time_ms.unwrap_or(0), arn));
                }
            }
        }
        let mut distinct: Vec<&String> = streams.iter().map(|(_, a)| a).collect();
        distinct.sort();
        distinct.dedup();
        let chosen = streams.last().map(|(_, a)| a.clone());
        let attribution = if distinct.len() > 1 { confidence::LOW } else { confidence::MEDIUM };
        let (id, label) = match &chosen {
            Some(arn) => (arn.clone(), arn.rsplit('/').next().unwrap_or(arn).to_string()),
            None => (format!("service:firehose.amazonaws.com/{}", s.access_key_id), "Firehose delivery".into()),
        };
        Ok(Ctx {
            node: Node {
                id,
                kind: if chosen.is_some() { kind::STREAM.into() } else { kind::SERVICE.into() },
                label,
                account: Some(e.account.clone()),
                region: e.region.clone(),
                namespace: None,
                name: None,
                properties: props(&[("access_key_id", Some(&s.access_key_id))]),
            },
            scope: Scope::Key(s.access_key_id.clone()),
            athena: false,
            attribution: if chosen.is_some() { attribution } else { confidence::LOW },
            derivation: confidence::LOW,
            start: s.issued_ms,
            end: None,
            started_by: None,
        })
    }

    /// The Redshift statement `ExecuteStatement` returned (`redshift_statement:ID`), with the S3 paths its SQL
    /// names: (statement node, reads, writes, the call).
    pub fn statement_paths(&mut self, ev: &EventRow) -> Result<Option<(Node, Vec<String>, Vec<String>)>> {
        if ev.event_source != "redshift-data.amazonaws.com" {
            return Ok(None);
        }
        Ok(self.statement(ev)?.map(|(sql, id)| {
            let (r, w) = rules::redshift_paths(&sql);
            let mut node = redshift_node(&id, &ev.account, ev.region.as_deref());
            node.properties.insert("sql".into(), Value::String(sql));
            (node, r, w)
        }))
    }
}

fn redshift_node(id: &str, account: &str, region: Option<&str>) -> Node {
    Node {
        id: format!("redshift_statement:{id}"),
        kind: kind::REDSHIFT_STATEMENT.into(),
        label: format!("Redshift statement {id}"),
        account: Some(account.to_string()),
        region: region.map(str::to_string),
        namespace: Some(format!("arn:aws:redshift:{}:{account}", region.unwrap_or(""))),
        name: Some(format!("statement/{id}")),
        properties: props(&[("statement_id", Some(id))]),
    }
}
