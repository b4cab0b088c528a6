//! Correlation: who changed a resource (calls ↔ Config states, before/after, diff) and timelines that follow role
//! sessions back to the people who started them. Reads through `store`; knows no SQL.

pub mod diff;
mod render;
pub mod rules;

use crate::model::time::format_ms;
use crate::store::query::{EventRow, EvidenceRow, ItemRow, PrincipalRow, ResourceRow, SessionRow};
use crate::store::{Store, StoreError};
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::rc::Rc;

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no {what} matches {query:?}")]
    NotFound { what: &'static str, query: String },
    #[error("{query:?} is ambiguous: it matches {} {what}s", candidates.len())]
    Ambiguous {
        what: &'static str,
        query: String,
        candidates: Vec<String>,
    },
}

pub type Result<T> = std::result::Result<T, QueryError>;

/// Who made a call, and the person or principal behind the session (the `actor` object of the JSON contract).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Actor {
    /// `userIdentity.arn` as logged (the session ARN for a role session).
    pub arn: Option<String>,
    /// `userIdentity.type` as logged.
    #[serde(rename = "type")]
    pub utype: Option<String>,
    pub account: Option<String>,
    /// The normalized principal (`principals.key`): the role of a role session, the user...
    pub principal: String,
    pub access_key_id: Option<String>,
    pub session_issuer_arn: Option<String>,
    pub session_name: Option<String>,
    pub source_identity: Option<String>,
    /// The human or principal that obtained the session, followed through the AssumeRole* chain; null when the
    /// call that issued the session is not in the store (say so rather than guess).
    pub original_principal_arn: Option<String>,
    pub original_principal_type: Option<String>,
    /// Session ARNs (or access keys) from the call's session back to the original principal.
    pub session_chain: Vec<String>,
}

/// An actor shared by every call with the same identity (a session's calls have one), rendered to JSON once.
pub type SharedActor = render::Shared<Actor>;

/// A configuration state shared by the calls that have it as before or after, rendered to JSON once.
pub type SharedState = render::Shared<State>;

#[derive(Debug, Clone, Serialize)]
pub struct Evidence {
    pub source: String,
    pub kind: String,
    pub sha256: String,
    pub integrity: String,
    pub record_index: i64,
}

impl From<EvidenceRow> for Evidence {
    fn from(e: EvidenceRow) -> Self {
        Evidence {
            source: e.path,
            kind: e.kind,
            sha256: e.sha256,
            integrity: e.integrity,
            record_index: e.record_index,
        }
    }
}

/// A configuration state (a Config item) as shown in before/after.
#[derive(Debug, Clone, Serialize)]
pub struct State {
    pub capture_time: Option<String>,
    pub state_id: String,
    pub status: Option<String>,
    pub configuration: Value,
    pub supplementary_configuration: Value,
    pub tags: Value,
    pub related_events: Vec<String>,
}

fn json_or_null(t: &Option<String>) -> Value {
    t.as_deref()
        .and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or(Value::Null)
}

impl State {
    fn from_item(i: &ItemRow) -> State {
        State {
            capture_time: i.capture_ms.map(format_ms),
            state_id: i.state_id.clone(),
            status: i.status.clone(),
            configuration: diff::decode(json_or_null(&i.configuration)),
            supplementary_configuration: diff::decode(json_or_null(&i.supplementary)),
            tags: json_or_null(&i.tags),
            related_events: i.related_events.clone(),
        }
    }

    /// What is compared between two states: the parts of the document `{"configuration",
    /// "supplementaryConfiguration", "tags"}`, in its key order.
    fn parts(&self) -> [(&'static str, &Value); 3] {
        [
            ("configuration", &self.configuration),
            (
                "supplementaryConfiguration",
                &self.supplementary_configuration,
            ),
            ("tags", &self.tags),
        ]
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ResourceOut {
    pub arn: Option<String>,
    #[serde(rename = "type")]
    pub rtype: String,
    pub id: String,
    pub name: Option<String>,
    pub key: String,
}

impl From<&ResourceRow> for ResourceOut {
    fn from(r: &ResourceRow) -> Self {
        ResourceOut {
            arn: r.arn.clone(),
            rtype: r.rtype.clone(),
            id: r.resource_id.clone(),
            name: r.name.clone(),
            key: r.key.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Change {
    pub time: Option<String>,
    pub event_id: String,
    pub event_source: String,
    pub event_name: String,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    pub region: Option<String>,
    pub account: String,
    pub actor: SharedActor,
    /// `related_events` when the after-state names the event; `window` when matched by resource and time.
    pub correlation: &'static str,
    pub before: Option<SharedState>,
    pub after: Option<SharedState>,
    /// RFC 6902 operations from before to after (empty when either is missing).
    pub diff: Rc<Vec<Value>>,
    pub diff_lines: Rc<Vec<String>>,
    /// Other calls whose after-state is the same Config item (several calls between two captures).
    pub same_after_state_as: Vec<String>,
    pub evidence: Vec<Evidence>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Attempt {
    pub time: Option<String>,
    pub event_id: String,
    pub event_source: String,
    pub event_name: String,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    pub region: Option<String>,
    pub account: String,
    pub actor: SharedActor,
    pub evidence: Vec<Evidence>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Unexplained {
    pub before: Option<SharedState>,
    pub after: SharedState,
    pub diff: Rc<Vec<Value>>,
    pub diff_lines: Rc<Vec<String>>,
}

/// The answer of `who-changed` (schemas/who-changed.schema.json).
#[derive(Debug, Clone, Serialize)]
pub struct WhoChanged {
    pub resource: ResourceOut,
    pub changes: Vec<Change>,
    pub failed_attempts: Vec<Attempt>,
    pub unexplained_changes: Vec<Unexplained>,
}

/// Resolves principals and session chains, with caches (one query command = many events of few sessions).
pub struct Actors<'s> {
    store: &'s Store,
    principals: HashMap<i64, Option<PrincipalRow>>,
    sessions: HashMap<String, Option<SessionRow>>,
    shared: HashMap<ActorKey, SharedActor>,
}

/// The longest session chain followed (a bound against cycles and runaway data; real chains are a few links).
const MAX_CHAIN: usize = 16;

/// What an actor is computed from: the identity fields of a call.
type ActorKey = (i64, Option<String>, Option<String>, Option<String>, String);

impl<'s> Actors<'s> {
    pub fn new(store: &'s Store) -> Self {
        Actors {
            store,
            principals: HashMap::new(),
            sessions: HashMap::new(),
            shared: HashMap::new(),
        }
    }

    fn principal(&mut self, id: i64) -> Result<Option<PrincipalRow>> {
        if let Some(p) = self.principals.get(&id) {
            return Ok(p.clone());
        }
        let p = self.store.principal(id)?;
        self.principals.insert(id, p.clone());
        Ok(p)
    }

    /// Loads the sessions of these keys, and of the keys that issued them, back along the chains, in one query
    /// per link instead of one per key (a resource's changes or a principal's hour can use thousands of keys).
    pub fn prefetch<'k>(&mut self, keys: impl IntoIterator<Item = &'k str>) -> Result<()> {
        let mut want: BTreeSet<String> = keys
            .into_iter()
            .filter(|k| !self.sessions.contains_key(*k))
            .map(str::to_string)
            .collect();
        for _ in 0..MAX_CHAIN {
            if want.is_empty() {
                break;
            }
            let asked: Vec<&str> = want.iter().map(String::as_str).collect();
            let mut found = self.store.sessions_many(&asked)?;
            let mut next = BTreeSet::new();
            for k in &want {
                let s = found.remove(k);
                if let Some(issuer) = s.as_ref().and_then(|s| s.issuer_access_key_id.as_ref()) {
                    if !self.sessions.contains_key(issuer) && !want.contains(issuer) {
                        next.insert(issuer.clone());
                    }
                }
                self.sessions.insert(k.clone(), s);
            }
            want = next;
        }
        Ok(())
    }

    pub fn session(&mut self, key: &str) -> Result<Option<SessionRow>> {
        if let Some(s) = self.sessions.get(key) {
            return Ok(s.clone());
        }
        let s = self.store.session(key)?;
        self.sessions.insert(key.to_string(), s.clone());
        Ok(s)
    }

    /// The actor of one call, shared with the other calls of the same identity.
    pub fn shared(&mut self, ev: &EventRow) -> Result<SharedActor> {
        let key: ActorKey = (
            ev.principal_id,
            ev.access_key_id.clone(),
            ev.identity_arn.clone(),
            ev.identity_type.clone(),
            ev.account.clone(),
        );
        if let Some(a) = self.shared.get(&key) {
            return Ok(a.clone());
        }
        let a = SharedActor::new(self.actor(ev)?);
        self.shared.insert(key, a.clone());
        Ok(a)
    }

    /// The actor of one call.
    pub fn actor(&mut self, ev: &EventRow) -> Result<Actor> {
        let p = self.principal(ev.principal_id)?;
        let ptype = p
            .as_ref()
            .map(|p| p.ptype.clone())
            .unwrap_or_else(|| "Unknown".into());
        let session = match &ev.access_key_id {
            Some(k) => self.session(k)?,
            None => None,
        };
        let is_session = matches!(
            ev.identity_type.as_deref(),
            Some("AssumedRole" | "FederatedUser")
        );
        let mut a = Actor {
            arn: ev
                .identity_arn
                .clone()
                .or_else(|| p.as_ref().and_then(|p| p.arn.clone())),
            utype: ev.identity_type.clone(),
            account: p
                .as_ref()
                .and_then(|p| p.account.clone())
                .or_else(|| Some(ev.account.clone())),
            principal: p
                .as_ref()
                .map(|p| p.key.clone())
                .unwrap_or_else(|| "unknown".into()),
            access_key_id: ev.access_key_id.clone(),
            session_issuer_arn: if is_session {
                p.as_ref().and_then(|p| p.arn.clone())
            } else {
                None
            },
            session_name: session.as_ref().and_then(|s| s.session_name.clone()),
            source_identity: session.as_ref().and_then(|s| s.source_identity.clone()),
            original_principal_arn: None,
            original_principal_type: None,
            session_chain: Vec::new(),
        };
        if is_session {
            if let Some(k) = &ev.access_key_id {
                let (orig, chain, source_identity) = self.follow(k)?;
                a.session_chain = chain;
                if a.source_identity.is_none() {
                    a.source_identity = source_identity;
                }
                if let Some(o) = orig {
                    a.original_principal_arn = Some(o.arn.clone().unwrap_or(o.key.clone()));
                    a.original_principal_type = Some(o.ptype);
                }
            }
        } else if let Some(p) = &p {
            // A long-term identity (user, root, service, Identity Center user): it is its own origin.
            a.original_principal_arn = Some(p.arn.clone().unwrap_or(p.key.clone()));
            a.original_principal_type = Some(ptype);
        }
        Ok(a)
    }

    /// Follows a session's access key back through the calls that issued it, to the first principal that is
    /// not itself a role session. Returns that principal (None when a link is missing), the chain of sessions,
    /// and the first `sourceIdentity` met.
    pub fn follow(
        &mut self,
        key: &str,
    ) -> Result<(Option<PrincipalRow>, Vec<String>, Option<String>)> {
        let mut chain = Vec::new();
        let mut source_identity = None;
        let mut key = key.to_string();
        let mut seen = BTreeSet::new();
        while seen.insert(key.clone()) && seen.len() <= MAX_CHAIN {
            let Some(s) = self.session(&key)? else {
                return Ok((None, chain, source_identity));
            };
            chain.push(s.session_arn.clone().unwrap_or_else(|| key.clone()));
            if source_identity.is_none() {
                source_identity = s.source_identity.clone();
            }
            if let Some(obo) = &s.on_behalf_of {
                // Identity Center: the user on whose behalf the session runs.
                let p = PrincipalRow {
                    id: 0,
                    key: format!("identitycenter:{obo}"),
                    ptype: "IdentityCenterUser".into(),
                    arn: None,
                    account: None,
                    name: None,
                };
                return Ok((Some(p), chain, source_identity));
            }
            let Some(issuer) = s.issuer_principal_id else {
                return Ok((None, chain, source_identity));
            };
            let Some(p) = self.principal(issuer)? else {
                return Ok((None, chain, source_identity));
            };
            match (&s.issuer_access_key_id, p.ptype.as_str()) {
                // Issued to a role session: keep going back through the key that session used.
                (Some(k), "Role") => key = k.clone(),
                // The copy of a cross-account AssumeRole logged in the role's account names the caller only as
                // its account; the caller's key says who it was.
                (Some(k), "AWSAccount" | "Unknown") => {
                    match self.session(k)?.and_then(|o| o.principal_id) {
                        Some(owner) => match self.principal(owner)? {
                            Some(o) if o.ptype == "Role" => key = k.clone(),
                            Some(o) if !matches!(o.ptype.as_str(), "AWSAccount" | "Unknown") => {
                                chain.push(k.clone());
                                return Ok((Some(o), chain, source_identity));
                            }
                            _ => return Ok((Some(p), chain, source_identity)),
                        },
                        None => return Ok((Some(p), chain, source_identity)),
                    }
                }
                _ => return Ok((Some(p), chain, source_identity)),
            }
        }
        Ok((None, chain, source_identity))
    }
}

/// Exactly one resource for the user's words, or a NotFound / Ambiguous error listing the candidates.
pub fn resolve_one(store: &Store, query: &str) -> Result<ResourceRow> {
    let mut found = store.resolve_resource(query)?;
    match found.len() {
        0 => Err(QueryError::NotFound {
            what: "resource",
            query: query.to_string(),
        }),
        1 => Ok(found.remove(0)),
        _ => Err(QueryError::Ambiguous {
            what: "resource",
            query: query.to_string(),
            candidates: found
                .iter()
                .map(|r| format!("{} ({})", r.arn.clone().unwrap_or(r.key.clone()), r.rtype))
                .collect(),
        }),
    }
}

/// Decoded states and diffs, computed once per item and per pair and shared (not copied) by the calls that
/// have the same before/after: a resource with thousands of changes decodes and diffs each state once.
#[derive(Default)]
struct States {
    states: HashMap<usize, SharedState>,
    diffs: HashMap<(usize, usize), Diff>,
}

type Diff = (Rc<Vec<Value>>, Rc<Vec<String>>);

impl States {
    fn get(&mut self, items: &[ItemRow], i: usize) -> SharedState {
        self.states
            .entry(i)
            .or_insert_with(|| SharedState::new(State::from_item(&items[i])))
            .clone()
    }

    fn diff(&mut self, items: &[ItemRow], b: usize, a: usize) -> Diff {
        if let Some(d) = self.diffs.get(&(b, a)) {
            return d.clone();
        }
        let (before, after) = (self.get(items, b), self.get(items, a));
        let (mut ops, mut lines) = (Vec::new(), Vec::new());
        for ((name, old), (_, new)) in before.parts().into_iter().zip(after.parts()) {
            // The parts are diffed in place (no copy of the states) and their paths prefixed: the same
            // operations, in the same order, as diffing the whole documents.
            let (o, l) = diff::patch_under(&format!("/{name}"), old, new);
            ops.extend(o);
            lines.extend(l);
        }
        let d = (Rc::new(ops), Rc::new(lines));
        self.diffs.insert((b, a), d.clone());
        d
    }
}

/// Who changed a resource: every successful mutating call with before/after states, failed attempts, and
/// configuration changes no logged call explains.
pub fn who_changed(
    store: &Store,
    query: &str,
    since: Option<i64>,
    until: Option<i64>,
) -> Result<WhoChanged> {
    let r = resolve_one(store, query)?;
    let mut actors = Actors::new(store);
    let mut seen = BTreeSet::new();
    let calls: Vec<EventRow> = store
        .resource_events_with(r.id, rules::change_accesses(&r.rtype), since, until)?
        .into_iter()
        .filter(|e| rules::is_change(&r.rtype, &e.event_name, e.read_only))
        .filter(|e| seen.insert(e.id))
        .collect();
    actors.prefetch(calls.iter().filter_map(|e| e.access_key_id.as_deref()))?;
    let items: Vec<ItemRow> = store
        .resource_items(r.id)?
        .into_iter()
        .filter(|i| i.capture_ms.is_some())
        .collect();

    // Which item is the after-state of each call: the one naming it in relatedEvents, else the first captured
    // after it. Items are in capture order, so the time match is a binary search.
    let mut named: HashMap<&str, usize> = HashMap::new();
    for (i, item) in items.iter().enumerate() {
        for id in &item.related_events {
            named.entry(id.as_str()).or_insert(i);
        }
    }
    let after_of = |e: &EventRow| -> Option<usize> {
        if let Some(i) = named.get(e.event_id.as_str()) {
            return Some(*i);
        }
        let t = e.time_ms?;
        let i = items.partition_point(|i| i.capture_ms.is_some_and(|c| c <= t));
        (i < items.len()).then_some(i)
    };
    let before_of = |e: &EventRow, after: Option<usize>| -> Option<usize> {
        match after {
            Some(a) => a.checked_sub(1),
            None => {
                let t = e.time_ms?;
                items
                    .partition_point(|i| i.capture_ms.is_some_and(|c| c <= t))
                    .checked_sub(1)
            }
        }
    };
    let mut evidence = store.evidence_of_rows(&calls)?;
    let mut evidence_of = |id: i64| -> Vec<Evidence> {
        evidence
            .remove(&id)
            .unwrap_or_default()
            .into_iter()
            .map(Evidence::from)
            .collect()
    };

    let mut states = States::default();
    let mut changes = Vec::new();
    let mut failed = Vec::new();
    let mut explained: BTreeSet<usize> = BTreeSet::new();
    let mut by_after: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    for e in &calls {
        if e.error_code.is_some() {
            failed.push(Attempt {
                time: e.time_ms.map(format_ms),
                event_id: e.event_id.clone(),
                event_source: e.event_source.clone(),
                event_name: e.event_name.clone(),
                error_code: e.error_code.clone(),
                error_message: e.error_message.clone(),
                source_ip: e.source_ip.clone(),
                user_agent: e.user_agent.clone(),
                region: e.region.clone(),
                account: e.account.clone(),
                actor: actors.shared(e)?,
                evidence: evidence_of(e.id),
            });
            continue;
        }
        let after = after_of(e);
        let before = before_of(e, after);
        if let Some(a) = after {
            explained.insert(a);
            by_after.entry(a).or_default().push(e.event_id.clone());
        }
        let correlation = match after {
            Some(a) if items[a].related_events.contains(&e.event_id) => "related_events",
            _ => "window",
        };
        let before_s = before.map(|i| states.get(&items, i));
        let after_s = after.map(|i| states.get(&items, i));
        let (ops, lines) = match (before, after) {
            (Some(b), Some(a)) => states.diff(&items, b, a),
            _ => Diff::default(),
        };
        changes.push((
            after,
            Change {
                time: e.time_ms.map(format_ms),
                event_id: e.event_id.clone(),
                event_source: e.event_source.clone(),
                event_name: e.event_name.clone(),
                source_ip: e.source_ip.clone(),
                user_agent: e.user_agent.clone(),
                region: e.region.clone(),
                account: e.account.clone(),
                actor: actors.shared(e)?,
                correlation,
                before: before_s,
                after: after_s,
                diff: ops,
                diff_lines: lines,
                same_after_state_as: Vec::new(),
                evidence: evidence_of(e.id),
            },
        ));
    }
    let changes: Vec<Change> = changes
        .into_iter()
        .map(|(after, mut c)| {
            if let Some(ids) = after.and_then(|a| by_after.get(&a)) {
                c.same_after_state_as = ids
                    .iter()
                    .filter(|id| **id != c.event_id)
                    .cloned()
                    .collect();
            }
            c
        })
        .collect();

    // Configuration changes that no call explains. The first state of a resource is not a change.
    let mut unexplained = Vec::new();
    for i in 1..items.len() {
        if explained.contains(&i) {
            continue;
        }
        let cur = &items[i];
        let in_window = cur
            .capture_ms
            .is_some_and(|c| since.is_none_or(|s| c >= s) && until.is_none_or(|u| c <= u));
        if !in_window {
            continue;
        }
        let b = states.get(&items, i - 1);
        let a = states.get(&items, i);
        let (ops, lines) = states.diff(&items, i - 1, i);
        if ops.is_empty() && b.status == a.status {
            continue; // a new state id with the same configuration (relationships only): not a change
        }
        unexplained.push(Unexplained {
            before: Some(b),
            after: a,
            diff: ops,
            diff_lines: lines,
        });
    }
    Ok(WhoChanged {
        resource: ResourceOut::from(&r),
        changes,
        failed_attempts: failed,
        unexplained_changes: unexplained,
    })
}

/// Which events a timeline shows.
#[derive(Debug, Default, Clone)]
pub struct TimelineQuery {
    pub principal: Option<String>,
    pub access_key: Option<String>,
    pub ip: Option<String>,
    pub resource: Option<String>,
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub follow_sessions: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SessionOf {
    pub access_key_id: String,
    pub session_arn: Option<String>,
    pub session_name: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TouchedResource {
    #[serde(rename = "type")]
    pub rtype: String,
    pub id: String,
    pub arn: Option<String>,
    pub access: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct TimelineEvent {
    pub time: Option<String>,
    pub event_id: String,
    pub event_source: String,
    pub event_name: String,
    pub actor: SharedActor,
    /// Set when the event was found by following a session the selected principal (or key) started.
    pub session_of: Option<SessionOf>,
    pub resources: Vec<TouchedResource>,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    pub error_code: Option<String>,
    pub read_only: Option<bool>,
    pub region: Option<String>,
    pub account: String,
    /// The worst integrity status over the files the event came from (`invalid` < `unverified` < `validated`).
    pub integrity: String,
    /// The files the event came from (first delivery first), with their integrity status.
    pub evidence: Vec<Evidence>,
}

/// The answer of `timeline` (schemas/timeline.schema.json).
#[derive(Debug, Clone, Serialize)]
pub struct Timeline {
    pub events: Vec<TimelineEvent>,
}

/// Keys issued, directly or through chains, starting from the given keys (only sessions that can be active in
/// the window).
fn descendants(
    store: &Store,
    mut frontier: Vec<String>,
    since: Option<i64>,
    until: Option<i64>,
) -> Result<Vec<String>> {
    // Level by level, one query per level; the cap bounds a runaway (cyclic or enormous) tree.
    let mut all: BTreeSet<String> = BTreeSet::new();
    frontier.retain(|k| all.insert(k.clone()));
    while !frontier.is_empty() && all.len() < 100_000 {
        frontier = store.keys_issued_by_keys(&frontier, since, until)?;
        frontier.retain(|k| all.insert(k.clone()));
    }
    Ok(all.into_iter().collect())
}

pub fn resolve_principal(store: &Store, query: &str) -> Result<PrincipalRow> {
    let mut found = store.resolve_principal(query)?;
    match found.len() {
        0 => Err(QueryError::NotFound {
            what: "principal",
            query: query.to_string(),
        }),
        1 => Ok(found.remove(0)),
        _ => Err(QueryError::Ambiguous {
            what: "principal",
            query: query.to_string(),
            candidates: found.into_iter().map(|p| p.key).collect(),
        }),
    }
}

/// An event selected for a timeline, with the key of the session it was found through (when followed). The row is
/// boxed: a timeline sorts thousands of them twice, and moving a pointer is cheaper than moving the row.
type Selected = (Box<EventRow>, Option<String>);

/// Events found directly by a selector (not through a session).
fn direct(rows: Vec<EventRow>) -> Vec<Selected> {
    rows.into_iter().map(|e| (Box::new(e), None)).collect()
}

/// Events of the sessions started from `roots` (keys), each with its own key as the session it came through.
fn followed(
    store: &Store,
    roots: Vec<String>,
    since: Option<i64>,
    until: Option<i64>,
) -> Result<Vec<Selected>> {
    let keys = descendants(store, roots, since, until)?;
    Ok(store
        .events_by_access_keys(&keys, since, until)?
        .into_iter()
        .map(|e| {
            let k = e.access_key_id.clone();
            (Box::new(e), k)
        })
        .collect())
}

/// Every matching event once, in time order, with its actor, the session it came through and what it touched.
pub fn timeline(store: &Store, q: &TimelineQuery) -> Result<Timeline> {
    let (since, until) = (q.since, q.until);
    // Each selector gives a list of (event, session it came through); several selectors intersect. Within a
    // selector an event found twice keeps its first finding (own calls before followed sessions).
    let mut sets: Vec<Vec<Selected>> = Vec::new();
    if let Some(p) = &q.principal {
        let p = resolve_principal(store, p)?;
        let mut set = direct(store.events_by_principal(p.id, since, until)?);
        if q.follow_sessions {
            // Sessions the principal's calls started: found by the caller principal, or by the caller's key
            // (the cross-account copy of an AssumeRole names the caller only by account and key).
            let mut roots = store.keys_issued_by_principal(p.id, since, until)?;
            // A role's own keys are its sessions, already followed above; a user's are few (long-term keys).
            if p.ptype != "Role" {
                let own = store.keys_used_by_principal(p.id)?;
                roots.extend(store.keys_issued_by_keys(&own, since, until)?);
            }
            set.extend(followed(store, roots, since, until)?);
        }
        sets.push(set);
    }
    if let Some(k) = &q.access_key {
        let mut set = direct(store.events_by_access_key(k, since, until)?);
        if q.follow_sessions {
            let roots = store.keys_issued_by_key(k, since, until)?;
            set.extend(followed(store, roots, since, until)?);
        }
        sets.push(set);
    }
    if let Some(ip) = &q.ip {
        sets.push(direct(store.events_by_ip(ip, since, until)?));
    }
    if let Some(r) = &q.resource {
        let r = resolve_one(store, r)?;
        sets.push(direct(store.resource_events(r.id, since, until)?));
    }
    let mut sets = sets.into_iter();
    let mut rows = sets.next().unwrap_or_default();
    // A stable sort: the first finding of each event stays first, and is the one kept.
    rows.sort_by_key(|(e, _)| e.id);
    rows.dedup_by_key(|(e, _)| e.id);
    for other in sets {
        let ids: HashSet<i64> = other.iter().map(|(e, _)| e.id).collect();
        rows.retain(|(e, _)| ids.contains(&e.id));
    }
    rows.sort_by(|(a, _), (b, _)| {
        (a.time_ms, &a.event_id, a.id).cmp(&(b.time_ms, &b.event_id, b.id))
    });

    let mut actors = Actors::new(store);
    actors.prefetch(
        rows.iter()
            .flat_map(|(e, via)| [e.access_key_id.as_deref(), via.as_deref()])
            .flatten(),
    )?;
    let ids: Vec<i64> = rows.iter().map(|(e, _)| e.id).collect();
    let mut touched = store.event_resources_many(&ids)?;
    let mut evidence = store.evidence_of_rows(rows.iter().map(|(e, _)| &**e))?;

    let mut events = Vec::with_capacity(rows.len());
    for (e, via) in rows {
        let session_of = match via {
            Some(k) => {
                let s = actors.session(&k)?;
                Some(SessionOf {
                    access_key_id: k,
                    session_arn: s.as_ref().and_then(|s| s.session_arn.clone()),
                    session_name: s.as_ref().and_then(|s| s.session_name.clone()),
                })
            }
            None => None,
        };
        let resources = touched
            .remove(&e.id)
            .unwrap_or_default()
            .into_iter()
            .map(|t| TouchedResource {
                rtype: t.rtype,
                id: t.resource_id,
                arn: t.arn,
                access: t.access,
            })
            .collect();
        let evidence: Vec<Evidence> = evidence
            .remove(&e.id)
            .unwrap_or_default()
            .into_iter()
            .map(Evidence::from)
            .collect();
        let integrity =
            crate::model::integrity::worst(evidence.iter().map(|e| e.integrity.as_str()))
                .to_string();
        let actor = actors.shared(&e)?;
        events.push(TimelineEvent {
            time: e.time_ms.map(format_ms),
            event_id: e.event_id,
            event_source: e.event_source,
            event_name: e.event_name,
            actor,
            session_of,
            resources,
            source_ip: e.source_ip,
            user_agent: e.user_agent,
            error_code: e.error_code,
            read_only: e.read_only,
            region: e.region,
            account: e.account,
            integrity,
            evidence,
        });
    }
    Ok(Timeline { events })
}
