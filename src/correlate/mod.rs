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
    /// Where the state comes from: `config_item` (a stored configuration item), or `notification_diff` (rebuilt
    /// from the item after it and the previous values its change notification listed: docs/correlation.md).
    pub source: &'static str,
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
            source: "config_item",
        }
    }

    /// The state before `i`, rebuilt from `i` and its notification's `configurationItemDiff`: every changed
    /// property set back to its `previousValue` (removed where the change created it). None when the item has no
    /// diff or the change created the resource (there was no state before).
    fn before_from_diff(i: &ItemRow) -> Option<State> {
        let props: serde_json::Map<String, Value> =
            serde_json::from_str(i.diff.as_deref()?).ok()?;
        if i.diff_change_type.as_deref() == Some("CREATE") {
            return None;
        }
        let mut s = State::from_item(i);
        // Values are set back first, array elements in index order (a deleted element at index n goes back at
        // n, after those before it); then what the change created is removed, last index first, so that removals
        // do not shift the indices still to come.
        let mut paths: Vec<(Vec<Seg>, Vec<String>, bool, &Value)> = props
            .iter()
            .map(|(k, v)| {
                let path: Vec<String> = k.split('.').map(str::to_string).collect();
                let created = v.get("changeType").and_then(Value::as_str) == Some("CREATE");
                (path.iter().map(|x| Seg::of(x)).collect(), path, created, v)
            })
            .collect();
        paths.sort_by(|a, b| match (a.2, b.2) {
            (false, false) => a.0.cmp(&b.0),
            (true, true) => b.0.cmp(&a.0),
            (created, _) => created.cmp(&b.2),
        });
        for (_, path, created, change) in paths {
            let Some((head, rest)) = path.split_first() else {
                continue;
            };
            let doc = match head.to_ascii_lowercase().as_str() {
                "configuration" => &mut s.configuration,
                "supplementaryconfiguration" => &mut s.supplementary_configuration,
                "tags" => &mut s.tags,
                _ => continue, // relationships are reported as relationship_changes
            };
            let previous = change
                .get("previousValue")
                .filter(|_| !created)
                .cloned()
                .map(diff::decode);
            put_back(doc, rest, previous);
        }
        s.capture_time = None;
        s.state_id = format!("{}~before", i.state_id);
        s.related_events = Vec::new();
        if matches!(
            i.status.as_deref(),
            Some("ResourceDeleted" | "ResourceDeletedNotRecorded")
        ) {
            s.status = Some("OK".into());
        }
        s.source = "notification_diff";
        Some(s)
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

/// The relationships a change notification says were added and removed (`Relationships.N` paths of its diff).
fn relationship_diff(i: &ItemRow) -> Option<(Vec<Value>, Vec<Value>)> {
    let props: serde_json::Map<String, Value> = serde_json::from_str(i.diff.as_deref()?).ok()?;
    let (mut added, mut removed) = (Vec::new(), Vec::new());
    for (path, change) in &props {
        if !path.to_ascii_lowercase().starts_with("relationships") {
            continue;
        }
        for (key, list) in [
            ("updatedValue", &mut added),
            ("previousValue", &mut removed),
        ] {
            match change.get(key) {
                Some(Value::Array(a)) => list.extend(a.iter().filter(|v| !v.is_null()).cloned()),
                Some(v) if !v.is_null() => list.push(v.clone()),
                _ => {}
            }
        }
    }
    let key = |v: &Value| v.to_string();
    added.sort_by_key(key);
    removed.sort_by_key(key);
    (!added.is_empty() || !removed.is_empty()).then_some((added, removed))
}

/// How far before the first stored state of a resource the calls explaining its notification's relationship
/// changes are looked for (docs/correlation.md).
const FIRST_ITEM_LOOKBACK_MS: i64 = 24 * 3600 * 1000;

/// A segment of a diff path as a sort key: array indices as numbers, before names (a total order, whatever the
/// input).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Seg {
    Index(u64),
    Name(String),
}

impl Seg {
    fn of(s: &str) -> Seg {
        match s.parse::<u64>() {
            Ok(n) => Seg::Index(n),
            Err(_) => Seg::Name(s.to_string()),
        }
    }
}

/// Sets (Some) or removes (None) the value at `path` in `doc`. Config names properties in diffs with a capital
/// first letter (`Configuration.State`) and in items as the service returns them (`state`): keys match without
/// regard to case, and a missing key is created in the document's style.
fn put_back(doc: &mut Value, path: &[String], value: Option<Value>) {
    let Some((last, parents)) = path.split_last() else {
        if let Some(v) = value {
            *doc = v;
        }
        return;
    };
    let mut cur = doc;
    for seg in parents {
        let next = match cur {
            Value::Object(m) => {
                let key = find_key(m, seg);
                if !m.contains_key(&key) {
                    if value.is_none() {
                        return;
                    }
                    m.insert(key.clone(), Value::Object(Default::default()));
                }
                m.get_mut(&key)
            }
            Value::Array(a) => seg.parse::<usize>().ok().and_then(|n| a.get_mut(n)),
            Value::Null if value.is_some() => {
                *cur = Value::Object(Default::default());
                let Value::Object(m) = cur else { return };
                m.insert(seg.clone(), Value::Object(Default::default()));
                m.get_mut(seg)
            }
            _ => None,
        };
        match next {
            Some(n) => cur = n,
            None => return,
        }
    }
    match (cur, value) {
        (Value::Object(m), v) => {
            let key = find_key(m, last);
            match v {
                Some(v) => {
                    m.insert(key, v);
                }
                None => {
                    m.remove(&key);
                }
            }
        }
        (Value::Array(a), v) => {
            let Ok(n) = last.parse::<usize>() else { return };
            match v {
                Some(v) if n < a.len() => a[n] = v,
                // Bounded: a diff cannot make the array longer than its own paths reach (and no further than
                // 100,000 elements, whatever an index says).
                Some(v) if n < 100_000 => {
                    a.resize(n, Value::Null);
                    a.push(v);
                }
                Some(_) => {}
                None if n < a.len() => {
                    a.remove(n);
                }
                None => {}
            }
        }
        (cur @ Value::Null, Some(v)) => {
            let mut m = serde_json::Map::new();
            m.insert(last.clone(), v);
            *cur = Value::Object(m);
        }
        _ => {}
    }
}

/// The key of `m` that `seg` names: exact, else without regard to case, else `seg` in the style of the
/// document's keys (first letter lower-case when they are).
fn find_key(m: &serde_json::Map<String, Value>, seg: &str) -> String {
    if m.contains_key(seg) {
        return seg.to_string();
    }
    if let Some(k) = m.keys().find(|k| k.eq_ignore_ascii_case(seg)) {
        return k.clone();
    }
    let lower_style = m
        .keys()
        .next()
        .is_some_and(|k| k.starts_with(|c: char| c.is_ascii_lowercase()));
    let mut c = seg.chars();
    match (lower_style, c.next()) {
        (true, Some(f)) => f.to_ascii_lowercase().to_string() + c.as_str(),
        _ => seg.to_string(),
    }
}

/// A change of a resource's Config relationships between two states (a security group attached to a new
/// network interface), with the calls on the related resources that explain it.
#[derive(Debug, Clone, Serialize)]
pub struct RelationshipChange {
    pub time: Option<String>,
    pub before_state_id: Option<String>,
    pub after_state_id: String,
    pub added: Vec<Value>,
    pub removed: Vec<Value>,
    /// Calls on a related resource (added or removed) between the two captures that can explain the change.
    pub explained_by: Vec<RelatedCall>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RelatedCall {
    pub time: Option<String>,
    pub event_id: String,
    pub event_source: String,
    pub event_name: String,
    pub resource_type: String,
    pub resource_id: String,
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
    /// CREATE, UPDATE or DELETE when a change notification said so; else null.
    pub change_type: Option<String>,
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
    pub relationship_changes: Vec<RelationshipChange>,
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
    /// State `i` of `items`, decoded once.
    fn get(&mut self, items: &[ItemRow], i: usize) -> SharedState {
        self.states
            .entry(i)
            .or_insert_with(|| SharedState::new(State::from_item(&items[i])))
            .clone()
    }

    /// The state before the first item, rebuilt from its change notification when it has a diff that describes
    /// one: kept under the index `items.len()`, which that index then names.
    fn rebuild_first(&mut self, items: &[ItemRow]) -> Option<usize> {
        let s = State::before_from_diff(items.first()?)?;
        self.states.insert(items.len(), SharedState::new(s));
        Some(items.len())
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
    let mut states = States::default();
    // The state before the first item, rebuilt from its notification: once per answer.
    let rebuilt_first = states.rebuild_first(&items);
    let before_of = |e: &EventRow, after: Option<usize>| -> Option<usize> {
        match after {
            Some(a) => a.checked_sub(1).or(rebuilt_first),
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

    // Configuration changes that no call explains. The first state of a resource is not a change, unless a
    // change notification says what changed (its diff) or the state records a deletion.
    let in_window = |c: Option<i64>| {
        c.is_some_and(|c| since.is_none_or(|s| c >= s) && until.is_none_or(|u| c <= u))
    };
    let mut unexplained = Vec::new();
    for i in 0..items.len() {
        if explained.contains(&i) || !in_window(items[i].capture_ms) {
            continue;
        }
        let change_type = items[i].diff_change_type.clone();
        let before = match i.checked_sub(1) {
            Some(b) => Some(b),
            None => {
                let first_is_change = items[0].diff.is_some()
                    || matches!(
                        items[0].status.as_deref(),
                        Some(
                            "ResourceDeleted"
                                | "ResourceNotRecorded"
                                | "ResourceDeletedNotRecorded"
                        )
                    );
                if !first_is_change {
                    continue;
                }
                rebuilt_first
            }
        };
        let a = states.get(&items, i);
        let Some(b_idx) = before else {
            unexplained.push(Unexplained {
                change_type,
                before: None,
                after: a,
                diff: Rc::default(),
                diff_lines: Rc::default(),
            });
            continue;
        };
        let b = states.get(&items, b_idx);
        let (ops, lines) = states.diff(&items, b_idx, i);
        if ops.is_empty() && b.status == a.status {
            continue; // a new state id with the same configuration (relationships only: see below)
        }
        unexplained.push(Unexplained {
            change_type,
            before: Some(b),
            after: a,
            diff: ops,
            diff_lines: lines,
        });
    }

    // Relationship changes: consecutive states whose relationships differ.
    // The first state's change notification lists the relationships it changed (`Relationships.N`).
    let mut relationship_changes = Vec::new();
    let rels: Vec<Vec<Value>> = items
        .iter()
        .map(|i| {
            let mut v: Vec<Value> = match json_or_null(&i.relationships) {
                Value::Array(a) => a,
                _ => Vec::new(),
            };
            v.sort_by_key(|x| x.to_string());
            v
        })
        .collect();
    for i in 0..items.len() {
        if !in_window(items[i].capture_ms) {
            continue;
        }
        let (added, removed, before_state_id) = if i == 0 {
            let Some((added, removed)) = relationship_diff(&items[0]) else {
                continue;
            };
            (
                added,
                removed,
                Some(format!("{}~before", items[0].state_id)),
            )
        } else {
            let (old, new) = (&rels[i - 1], &rels[i]);
            if old == new {
                continue;
            }
            (
                new.iter().filter(|r| !old.contains(r)).cloned().collect(),
                old.iter().filter(|r| !new.contains(r)).cloned().collect(),
                Some(items[i - 1].state_id.clone()),
            )
        };
        // Between the two captures; before the first stored item, the day before it (Config records a change
        // within minutes, and an unbounded look-back would list every call ever made on a busy related
        // resource). Without a capture time, no call is searched.
        let window_start = match i.checked_sub(1) {
            Some(b) => items[b].capture_ms.map(|t| t + 1),
            None => items[i].capture_ms.map(|t| t - FIRST_ITEM_LOOKBACK_MS),
        };
        let mut explained_by = Vec::new();
        let mut seen_calls = BTreeSet::new();
        for rel in added.iter().chain(&removed) {
            let text = |k: &str| rel.get(k).and_then(Value::as_str).unwrap_or("");
            let (rtype, rid) = (text("resourceType"), text("resourceId"));
            if rtype.is_empty() || rid.is_empty() || window_start.is_none() {
                continue;
            }
            for related in store
                .resolve_resource(rid)?
                .into_iter()
                .filter(|r| r.rtype == rtype)
            {
                let calls = store.resource_events(related.id, window_start, items[i].capture_ms)?;
                for e in calls {
                    if e.error_code.is_some()
                        || e.read_only == Some(true)
                        || !seen_calls.insert(e.id)
                    {
                        continue;
                    }
                    explained_by.push(RelatedCall {
                        time: e.time_ms.map(format_ms),
                        event_id: e.event_id,
                        event_source: e.event_source,
                        event_name: e.event_name,
                        resource_type: related.rtype.clone(),
                        resource_id: related.resource_id.clone(),
                    });
                }
            }
        }
        relationship_changes.push(RelationshipChange {
            time: items[i].capture_ms.map(format_ms),
            before_state_id,
            after_state_id: items[i].state_id.clone(),
            added,
            removed,
            explained_by,
        });
    }
    Ok(WhoChanged {
        resource: ResourceOut::from(&r),
        changes,
        failed_attempts: failed,
        unexplained_changes: unexplained,
        relationship_changes,
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
    /// CloudTrail Insights events (unusual API call or error rates) in the window.
    pub insights: bool,
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
    /// On the other account's copy of a cross-account call (`userIdentity.type` AWSAccount, same
    /// `sharedEventID`): the event id of the caller's own record. Absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cross_account_copy_of: Option<String>,
    /// On a CloudTrail Insights event: what was unusual (absent on other events).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub insight: Option<Insight>,
}

/// The unusual activity a CloudTrail Insights event reports, as logged in `insightDetails`.
#[derive(Debug, Clone, Serialize)]
pub struct Insight {
    /// Start or End.
    pub state: Option<String>,
    /// ApiCallRateInsight or ApiErrorRateInsight.
    pub insight_type: Option<String>,
    /// The error code an ApiErrorRateInsight is about.
    pub error_code: Option<String>,
    /// Average calls (or errors) per minute over the baseline period, and during the insight.
    pub baseline_average: Option<f64>,
    pub insight_average: Option<f64>,
    /// Minutes.
    pub baseline_duration: Option<f64>,
    pub insight_duration: Option<f64>,
}

impl Insight {
    fn from_record(raw: &str) -> Option<Insight> {
        let v: Value = serde_json::from_str(raw).ok()?;
        let d = v.get("insightDetails")?;
        let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
        let num = |v: Option<&Value>| {
            v.and_then(|x| {
                x.as_f64()
                    .or_else(|| x.as_str().and_then(|s| s.parse().ok()))
            })
        };
        let stats = d.pointer("/insightContext/statistics");
        let at = |p: &str| num(stats.and_then(|s| s.pointer(p)));
        Some(Insight {
            state: text(d.get("state")),
            insight_type: text(d.get("insightType")),
            error_code: text(d.get("errorCode")),
            baseline_average: at("/baseline/average"),
            insight_average: at("/insight/average"),
            baseline_duration: at("/baselineDuration"),
            insight_duration: at("/insightDuration"),
        })
    }
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

/// Whether a string is an access key id (`AKIA...` long-term, `ASIA...` temporary).
fn looks_like_access_key(s: &str) -> bool {
    s.len() == 20
        && (s.starts_with("AKIA") || s.starts_with("ASIA"))
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// The events of an access key, and of the sessions issued through it when followed.
fn select_key(
    store: &Store,
    key: &str,
    since: Option<i64>,
    until: Option<i64>,
    follow: bool,
) -> Result<Vec<Selected>> {
    let mut set = direct(store.events_by_access_key(key, since, until)?);
    if follow {
        let roots = store.keys_issued_by_key(key, since, until)?;
        set.extend(followed(store, roots, since, until)?);
    }
    Ok(set)
}

/// The events of a principal given in any form a log shows it (docs/correlation.md, "Principals as logged"):
/// a principal's key or ARN (role, user, root, federated user, service), a name, an assumed-role or
/// federated-user session ARN, a `principalId` (`AROA...:session`), an IAM Identity Center or SSO user name, or
/// an access key id.
fn select_principal(
    store: &Store,
    query: &str,
    since: Option<i64>,
    until: Option<i64>,
    follow: bool,
) -> Result<Vec<Selected>> {
    let found = match resolve_principal(store, query) {
        Ok(p) => Some(p),
        Err(QueryError::NotFound { .. }) => None,
        Err(e) => return Err(e),
    };
    if let Some(p) = found {
        // Calls of a federated user (GetFederationToken) belong to the IAM user that obtained the token, and come
        // through that session like a role session's calls do: marked with it, and left out with
        // --no-follow-sessions. A role's sessions are the role's own calls.
        let through_session = |e: &EventRow| {
            p.ptype != "Role"
                && p.ptype != "FederatedUser"
                && matches!(
                    e.identity_type.as_deref(),
                    Some("FederatedUser" | "AssumedRole")
                )
        };
        let mut set: Vec<Selected> = store
            .events_by_principal(p.id, since, until)?
            .into_iter()
            .filter(|e| follow || !through_session(e))
            .map(|e| {
                let via = through_session(&e)
                    .then(|| e.access_key_id.clone())
                    .flatten();
                (Box::new(e), via)
            })
            .collect();
        if follow {
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
        return Ok(set);
    }
    // A string a call was logged with: the principal(s) it belongs to, and which of their calls it names.
    let mut targets: Vec<(i64, LoggedAs)> = Vec::new();
    if let Some((account, role)) = crate::model::arn::session_role(query) {
        for p in store.roles_named(account, role)? {
            targets.push((p.id, LoggedAs::Arn(query.to_string())));
        }
        // Calls of the session stored under another principal (no sessionIssuer, edited data).
        for (principal, arn) in store.logged_identities(query)? {
            if !targets.iter().any(|(p, _)| *p == principal) {
                targets.push((principal, LoggedAs::Arn(arn)));
            }
        }
    }
    if targets.is_empty() {
        // `AROA...:SESSION` is the role's unique id and the session name.
        let (unique, session) = crate::model::arn::unique_id(query).unwrap_or((query, None));
        for (principal, arn) in store.logged_identities(unique)? {
            let which = match (session, arn.is_empty()) {
                (Some(s), _) => LoggedAs::Session(format!("/{s}")),
                (None, true) => LoggedAs::Any,
                (None, false) => LoggedAs::Arn(arn),
            };
            targets.push((principal, which));
        }
    }
    if targets.is_empty() {
        if looks_like_access_key(query) {
            return select_key(store, query, since, until, follow);
        }
        return Err(QueryError::NotFound {
            what: "principal",
            query: query.to_string(),
        });
    }
    // A session as logged: its own calls, plus the sessions it started.
    let mut set = Vec::new();
    for (principal, which) in targets {
        let mut rows = store.events_by_principal(principal, since, until)?;
        rows.retain(|e| which.matches(e.identity_arn.as_deref()));
        set.extend(direct(rows));
    }
    if follow {
        let own: BTreeSet<String> = set
            .iter()
            .filter_map(|(e, _)| e.access_key_id.clone())
            .collect();
        let own: Vec<String> = own.into_iter().collect();
        let roots = store.keys_issued_by_keys(&own, since, until)?;
        set.extend(followed(store, roots, since, until)?);
    }
    Ok(set)
}

/// Which of a principal's calls a logged string names, by their `userIdentity.arn`.
enum LoggedAs {
    Any,
    Arn(String),
    /// An assumed-role session ARN ending in `/SESSION` (from a `principalId`).
    Session(String),
}

impl LoggedAs {
    fn matches(&self, arn: Option<&str>) -> bool {
        match self {
            LoggedAs::Any => true,
            LoggedAs::Arn(a) => arn == Some(a.as_str()),
            LoggedAs::Session(suffix) => {
                arn.is_some_and(|a| a.contains(":assumed-role/") && a.ends_with(suffix.as_str()))
            }
        }
    }
}

/// Every matching event once, in time order, with its actor, the session it came through and what it touched.
pub fn timeline(store: &Store, q: &TimelineQuery) -> Result<Timeline> {
    let (since, until) = (q.since, q.until);
    // Each selector gives a list of (event, session it came through); several selectors intersect. Within a
    // selector an event found twice keeps its first finding (own calls before followed sessions).
    let mut sets: Vec<Vec<Selected>> = Vec::new();
    // The other account's copies of the cross-account calls a person or key made (AssumeRole into another
    // account is logged twice: by the caller's account, and by the role's account with an AWSAccount identity).
    let mut copies: HashMap<i64, String> = HashMap::new();
    let mut with_copies = |set: &mut Vec<Selected>| -> Result<()> {
        let ids: Vec<i64> = set.iter().map(|(e, _)| e.id).collect();
        for (copy, of) in store.cross_account_copies(&ids)? {
            copies.entry(copy.id).or_insert(of);
            set.push((Box::new(copy), None));
        }
        Ok(())
    };
    if let Some(p) = &q.principal {
        let mut set = select_principal(store, p, since, until, q.follow_sessions)?;
        with_copies(&mut set)?;
        sets.push(set);
    }
    if let Some(k) = &q.access_key {
        let mut set = select_key(store, k, since, until, q.follow_sessions)?;
        with_copies(&mut set)?;
        sets.push(set);
    }
    if let Some(ip) = &q.ip {
        sets.push(direct(store.events_by_ip(ip, since, until)?));
    }
    if let Some(r) = &q.resource {
        let r = resolve_one(store, r)?;
        sets.push(direct(store.resource_events(r.id, since, until)?));
    }
    if q.insights {
        sets.push(direct(store.insight_events(since, until)?));
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
        let insight = if e.event_type.as_deref() == Some("AwsCloudTrailInsight") {
            store
                .raw_record(e.id)?
                .and_then(|raw| Insight::from_record(&raw))
        } else {
            None
        };
        let cross_account_copy_of = copies.remove(&e.id);
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
            cross_account_copy_of,
            insight,
        });
    }
    Ok(Timeline { events })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(configuration: &str, diff: &str) -> ItemRow {
        ItemRow {
            id: 1,
            capture_ms: Some(0),
            state_id: "s".into(),
            status: Some("OK".into()),
            configuration: Some(configuration.into()),
            supplementary: None,
            tags: None,
            related_events: Vec::new(),
            relationships: None,
            diff_change_type: Some("UPDATE".into()),
            diff: Some(diff.into()),
        }
    }

    /// Two ingress rules deleted from the tail: both come back, in place (second reading of issue 13).
    #[test]
    fn deleted_tail_elements_are_put_back_in_place() {
        let i = item(
            r#"{"ipPermissions":[{"fromPort":80},{"fromPort":443}]}"#,
            r#"{"Configuration.IpPermissions.3":{"previousValue":{"fromPort":23},"changeType":"DELETE"},
                "Configuration.IpPermissions.2":{"previousValue":{"fromPort":22},"changeType":"DELETE"}}"#,
        );
        let b = State::before_from_diff(&i).unwrap();
        let ports: Vec<i64> = b.configuration["ipPermissions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["fromPort"].as_i64().unwrap())
            .collect();
        assert_eq!(ports, [80, 443, 22, 23]);
        assert_eq!(b.source, "notification_diff");
    }

    /// Paths mixing numbers and names in one position (`9`, `10`, `1a`) used to break the sort's total order.
    #[test]
    fn diff_paths_in_any_mix_do_not_panic() {
        let mut props = serde_json::Map::new();
        for n in 0..200 {
            let change = serde_json::json!({"previousValue": n, "changeType": "UPDATE"});
            props.insert(format!("Configuration.x.{n}"), change.clone());
            props.insert(format!("Configuration.x.{n}a"), change);
        }
        let i = item(r#"{"x":{}}"#, &Value::Object(props).to_string());
        assert!(State::before_from_diff(&i).is_some());
    }
}
