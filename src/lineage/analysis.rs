//! What an answer means as a graph, computed on petgraph once the walk has found the sub-graph
//! (docs/lineage.md, "Paths, chokepoints, cycles and consumers"):
//!
//! - [`ranks`]: each node's topological rank (a strongly connected component shares one), for left-to-right
//!   layouts;
//! - [`cycles`]: the data cycles (a job that reads its own earlier output), reported, never walked;
//! - [`paths`]: every path of data from an ingestion point to a consumer, bounded;
//! - [`chokepoints`]: the nodes every path between the target and its consumers (or its sources) passes through,
//!   by dominators;
//! - [`consumers`]: who received anything derived from the target (the blast radius).
//!
//! Every function is a pure function of a sorted [`Graph`]; ties are broken by node id, so the answers are
//! deterministic.

use super::graph::{confidence, edge, kind, Edge, Graph};
use petgraph::algo::dominators;
use petgraph::stable_graph::{NodeIndex, StableDiGraph};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};

/// One step of a path of data.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PathStep {
    pub from: String,
    pub to: String,
    /// `derived` or `copy` between datasets; `read` for the last step into a consumer.
    pub kind: String,
    /// The job, query, function or principal that did the step.
    pub actor: Option<String>,
    pub time: Option<String>,
    pub last_time: Option<String>,
    pub confidence: String,
    pub event_ids: Vec<String>,
}

/// A path of data from an ingestion point (or the target) to a consumer (or to a dataset nobody read further).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DataPath {
    /// The node ids along the path, datasets and the final consumer (actors in between are each step's `actor`).
    pub nodes: Vec<String>,
    pub steps: Vec<PathStep>,
    /// The weakest confidence on the path.
    pub confidence: String,
    /// The actor at the end (a read by it ends the path), null when the path ends at a dataset.
    pub consumer: Option<String>,
}

/// A node every path passes through.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Chokepoint {
    pub node: String,
    pub kind: String,
    pub label: String,
    /// `downstream`: every path from the target to its consumers passes through it; `upstream`: every path from
    /// the ingestion points to the target does.
    pub direction: String,
    /// How many consumers (downstream) or ingestion points (upstream) it stands between the target and.
    pub of: usize,
}

/// One receiver of data derived from the target.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Consumer {
    /// The actor node that read (a principal, job run, query, function...).
    pub actor: String,
    pub kind: String,
    pub label: String,
    /// The principal: the actor itself, or for a job, query or statement the principal who started it.
    pub principal: Option<String>,
    /// The person behind the session (`original_principal_arn`), when the log says.
    pub person: Option<String>,
    pub account: Option<String>,
    /// Its account is not the target's.
    pub other_account: bool,
    /// An outside principal: an AWS account outside the trail's (`AWSAccount`), anonymous, or without account.
    pub outside: bool,
    /// First and last read of derived data.
    pub first_read: Option<String>,
    pub last_read: Option<String>,
    /// The datasets it read, sorted.
    pub datasets: Vec<String>,
    /// The read calls, sorted.
    pub event_ids: Vec<String>,
    /// It wrote nothing further in the answer: the data stopped there.
    pub terminal: bool,
    /// The shortest path from the target to it (node ids; jobs in between included).
    pub path: Vec<String>,
}

/// The answer as a petgraph graph: node weights are node ids, edge weights index `Graph::edges`.
pub struct Net<'g> {
    pub graph: StableDiGraph<&'g str, usize>,
    pub index: HashMap<&'g str, NodeIndex>,
}

impl<'g> Net<'g> {
    /// The graph of the edges `keep` accepts (every node of `g` is in it, and any endpoint without a node).
    pub fn new(g: &'g Graph, keep: impl Fn(&Edge) -> bool) -> Net<'g> {
        let mut net = Net {
            graph: StableDiGraph::new(),
            index: HashMap::new(),
        };
        for n in &g.nodes {
            net.add(&n.id);
        }
        for (i, e) in g.edges.iter().enumerate() {
            if keep(e) {
                let (a, b) = (net.add(&e.from), net.add(&e.to));
                net.graph.add_edge(a, b, i);
            }
        }
        net
    }

    fn add(&mut self, id: &'g str) -> NodeIndex {
        if let Some(i) = self.index.get(id) {
            return *i;
        }
        let i = self.graph.add_node(id);
        self.index.insert(id, i);
        i
    }
}

fn is_data(e: &Edge) -> bool {
    matches!(
        e.kind.as_str(),
        edge::READ | edge::WRITE | edge::COPY | edge::NAMED
    )
}

/// Each node's topological rank over every edge of the answer: 0 for nodes nothing points to, else one more
/// than the highest rank pointing to it. A strongly connected component (a cycle) is one rank.
pub fn ranks(g: &Graph) -> BTreeMap<String, usize> {
    let net = Net::new(g, |_| true);
    // Tarjan's components come in reverse topological order.
    let sccs = petgraph::algo::tarjan_scc(&net.graph);
    let mut comp: HashMap<NodeIndex, usize> = HashMap::new();
    for (c, nodes) in sccs.iter().enumerate() {
        for n in nodes {
            comp.insert(*n, c);
        }
    }
    let mut rank = vec![0usize; sccs.len()];
    for c in (0..sccs.len()).rev() {
        let mut r = 0;
        for n in &sccs[c] {
            for p in net
                .graph
                .neighbors_directed(*n, petgraph::Direction::Incoming)
            {
                let pc = comp[&p];
                if pc != c {
                    r = r.max(rank[pc] + 1);
                }
            }
        }
        rank[c] = r;
    }
    net.index
        .iter()
        .map(|(id, i)| (id.to_string(), rank[comp[i]]))
        .collect()
}

/// The data cycles of the answer (over `read`, `write` and `copy` edges): each a sorted list of node ids, the
/// list sorted. A node that copies onto itself is a cycle of one.
pub fn cycles(g: &Graph) -> Vec<Vec<String>> {
    let net = Net::new(g, is_data);
    let mut out: Vec<Vec<String>> = petgraph::algo::tarjan_scc(&net.graph)
        .into_iter()
        .filter(|c| c.len() > 1 || c.iter().any(|n| net.graph.find_edge(*n, *n).is_some()))
        .map(|c| {
            let mut ids: Vec<String> = c.iter().map(|n| net.graph[*n].to_string()).collect();
            ids.sort();
            ids
        })
        .collect();
    out.sort();
    out
}

/// The target and what stands for it: the root, and the objects, versions or runs that are `part_of` it.
fn root_set(g: &Graph) -> BTreeSet<&str> {
    let Some(root) = g.root.as_deref() else {
        return BTreeSet::new();
    };
    // Transitively: an object's versions are part of the object, the object part of the prefix.
    let mut set: BTreeSet<&str> = [root].into();
    loop {
        let before = set.len();
        for e in &g.edges {
            if e.kind == edge::PART_OF && set.contains(e.to.as_str()) {
                set.insert(&e.from);
            }
        }
        if set.len() == before {
            return set;
        }
    }
}

fn is_actor(g: &Graph, id: &str) -> bool {
    g.node(id).is_some_and(|n| !kind::is_dataset(&n.kind))
}

/// A small adjacency graph with sorted neighbours (breadth-first walks over it are deterministic).
struct Flow<'g> {
    next: BTreeMap<&'g str, BTreeSet<&'g str>>,
}

impl<'g> Flow<'g> {
    fn new() -> Self {
        Flow {
            next: BTreeMap::new(),
        }
    }

    fn add(&mut self, a: &'g str, b: &'g str) {
        if a != b {
            self.next.entry(a).or_default().insert(b);
        }
    }

    /// Breadth-first from `start`: each reached node's predecessor on a shortest path.
    fn bfs(&self, start: &[&'g str]) -> BTreeMap<&'g str, Option<&'g str>> {
        let mut pred: BTreeMap<&'g str, Option<&'g str>> = BTreeMap::new();
        let mut q: VecDeque<&'g str> = VecDeque::new();
        for s in start {
            if pred.insert(s, None).is_none() {
                q.push_back(s);
            }
        }
        while let Some(n) = q.pop_front() {
            for m in self.next.get(n).into_iter().flatten() {
                if !pred.contains_key(m) {
                    pred.insert(m, Some(n));
                    q.push_back(m);
                }
            }
        }
        pred
    }

    /// The nodes that every path from `start` to each of `ends` passes through, counting each end as on its own
    /// paths (so an end that every other end is reached through is one), by the dominators of a petgraph copy of
    /// the flow with one virtual root before `start`. Not `start`, and not a lone end.
    fn chokepoints(&self, start: &[&'g str], ends: &[&'g str]) -> BTreeMap<&'g str, usize> {
        let mut net: StableDiGraph<&str, ()> = StableDiGraph::new();
        let mut ix: HashMap<&str, NodeIndex> = HashMap::new();
        let mut node = |net: &mut StableDiGraph<&'g str, ()>, id: &'g str| {
            *ix.entry(id).or_insert_with(|| net.add_node(id))
        };
        let vroot = net.add_node("");
        for s in start {
            let i = node(&mut net, s);
            net.add_edge(vroot, i, ());
        }
        for (a, bs) in &self.next {
            let ia = node(&mut net, a);
            for b in bs {
                let ib = node(&mut net, b);
                net.add_edge(ia, ib, ());
            }
        }
        let dom = dominators::simple_fast(&net, vroot);
        let starts: HashSet<&str> = start.iter().copied().collect();
        let mut count: BTreeMap<&'g str, usize> = BTreeMap::new();
        let mut common: Option<BTreeSet<&'g str>> = None;
        let mut reached = 0;
        for end in ends {
            let Some(i) = ix.get(end) else { continue };
            let Some(ds) = dom.dominators(*i) else {
                continue;
            };
            reached += 1;
            let set: BTreeSet<&'g str> = ds
                .map(|d| net[d])
                .filter(|d| !d.is_empty() && !starts.contains(d))
                .collect();
            common = Some(match common {
                None => set,
                Some(c) => c.intersection(&set).copied().collect(),
            });
        }
        for c in common.unwrap_or_default() {
            if reached > 1 || !ends.contains(&c) {
                count.insert(c, reached);
            }
        }
        count
    }
}

/// The downstream flow of data from the target: each derivation and copy through its actor (dataset → actor →
/// dataset), every read, and the writes of an actor target.
fn downstream_flow<'g>(g: &'g Graph, roots: &BTreeSet<&'g str>) -> Flow<'g> {
    let mut f = Flow::new();
    for e in &g.edges {
        match e.kind.as_str() {
            edge::DERIVED | edge::COPY => match e.actor.as_deref() {
                Some(a) if is_actor(g, a) => {
                    f.add(&e.from, a);
                    f.add(a, &e.to);
                }
                _ => f.add(&e.from, &e.to),
            },
            edge::READ => f.add(&e.from, &e.to),
            edge::WRITE if roots.contains(e.from.as_str()) => f.add(&e.from, &e.to),
            _ => {}
        }
    }
    f
}

/// The upstream flow towards the target, reversed (target first): each derivation and copy through its actor.
fn upstream_flow<'g>(g: &'g Graph, roots: &BTreeSet<&'g str>) -> Flow<'g> {
    let mut f = Flow::new();
    for e in &g.edges {
        match e.kind.as_str() {
            edge::DERIVED | edge::COPY => match e.actor.as_deref() {
                Some(a) if is_actor(g, a) => {
                    f.add(&e.to, a);
                    f.add(a, &e.from);
                }
                _ => f.add(&e.to, &e.from),
            },
            edge::READ if roots.contains(e.to.as_str()) => f.add(&e.to, &e.from),
            _ => {}
        }
    }
    f
}

/// Ingestion points: datasets nothing in the answer derives or copies into (data that came from outside, as far
/// as the answer reaches; the target itself in a downstream answer).
fn sources(g: &Graph) -> Vec<&str> {
    let fed: HashSet<&str> = g
        .edges
        .iter()
        .filter(|e| e.kind == edge::DERIVED || e.kind == edge::COPY)
        .map(|e| e.to.as_str())
        .collect();
    g.nodes
        .iter()
        .filter(|n| kind::is_dataset(&n.kind) && n.kind != kind::RESOURCE)
        .map(|n| n.id.as_str())
        .filter(|id| !fed.contains(id))
        .collect()
}

/// The actors that received data from the target, with what they read (reachable reads only).
fn reached_reads<'g>(
    g: &'g Graph,
    reach: &BTreeMap<&'g str, Option<&'g str>>,
    roots: &BTreeSet<&'g str>,
) -> BTreeMap<&'g str, Vec<&'g Edge>> {
    let mut out: BTreeMap<&str, Vec<&Edge>> = BTreeMap::new();
    for e in &g.edges {
        if e.kind == edge::READ
            && reach.contains_key(e.from.as_str())
            && reach.contains_key(e.to.as_str())
            && !roots.contains(e.to.as_str())
            && is_actor(g, &e.to)
        {
            out.entry(e.to.as_str()).or_default().push(e);
        }
    }
    out
}

/// The chokepoints of an answer: downstream, the nodes between the target and every consumer (every actor that
/// read data derived from it, as in [`consumers`]: "every consumer got it through run jr_… of curate-orders");
/// upstream, the nodes between every ingestion point and the target.
pub fn chokepoints(g: &Graph) -> Vec<Chokepoint> {
    let roots = root_set(g);
    if roots.is_empty() {
        return Vec::new();
    }
    let start: Vec<&str> = roots.iter().copied().collect();
    let mut out = Vec::new();
    let mut push = |found: BTreeMap<&str, usize>, direction: &str| {
        for (id, of) in found {
            let n = g.node(id);
            out.push(Chokepoint {
                node: id.to_string(),
                kind: n.map(|n| n.kind.clone()).unwrap_or_default(),
                label: n.map(|n| n.label.clone()).unwrap_or_default(),
                direction: direction.to_string(),
                of,
            });
        }
    };
    let down = downstream_flow(g, &roots);
    let reach = down.bfs(&start);
    let consumers: Vec<&str> = reached_reads(g, &reach, &roots).into_keys().collect();
    if !consumers.is_empty() {
        push(down.chokepoints(&start, &consumers), "downstream");
    }
    let up = upstream_flow(g, &roots);
    let upreach = up.bfs(&start);
    let srcs: Vec<&str> = sources(g)
        .into_iter()
        .filter(|s| upreach.contains_key(s) && !roots.contains(s))
        .collect();
    if !srcs.is_empty() {
        push(up.chokepoints(&start, &srcs), "upstream");
    }
    out
}

/// The target's account: the target's own, else (an S3 object's node has none) the account of the earliest actor
/// that read or wrote it in the answer.
fn home_account<'g>(g: &'g Graph, roots: &BTreeSet<&str>) -> Option<&'g str> {
    if let Some(a) = roots
        .iter()
        .find_map(|r| g.node(r).and_then(|n| n.account.as_deref()))
    {
        return Some(a);
    }
    g.edges
        .iter()
        .filter(|e| {
            (e.kind == edge::READ && roots.contains(e.from.as_str()))
                || (e.kind == edge::WRITE && roots.contains(e.to.as_str()))
        })
        .filter_map(|e| {
            let actor = if e.kind == edge::READ { &e.to } else { &e.from };
            Some((e.time.as_deref(), g.node(actor)?.account.as_deref()?))
        })
        .min()
        .map(|(_, a)| a)
}

/// The actors that write something in the answer (a `write` or `named` edge out of them).
fn writers(g: &Graph) -> HashSet<&str> {
    g.edges
        .iter()
        .filter(|e| e.kind == edge::WRITE || e.kind == edge::NAMED)
        .map(|e| e.from.as_str())
        .collect()
}

fn step(e: &Edge) -> PathStep {
    PathStep {
        from: e.from.clone(),
        to: e.to.clone(),
        kind: e.kind.clone(),
        actor: e.actor.clone(),
        time: e.time.clone(),
        last_time: e.last_time.clone(),
        confidence: e.confidence.clone(),
        event_ids: e.event_ids.clone(),
    }
}

/// Every path of data from an ingestion point (a dataset nothing in the answer derives into: data that came from
/// outside, or the target of a downstream answer) along `derived` and `copy` edges, ending with a `read` by a
/// consumer (an actor that wrote nothing further), or at a dataset nobody read further. A step must not end
/// before the previous one began (paths respect time); no node repeats (cycles end a path). At most `limit`
/// paths; the bool says whether the enumeration stopped there.
pub fn paths(g: &Graph, limit: usize) -> (Vec<DataPath>, bool) {
    let writers = writers(g);
    let mut next: BTreeMap<&str, Vec<&Edge>> = BTreeMap::new();
    for e in &g.edges {
        let step = match e.kind.as_str() {
            edge::DERIVED | edge::COPY => true,
            edge::READ => is_actor(g, &e.to) && !writers.contains(e.to.as_str()),
            _ => false,
        };
        if step {
            next.entry(e.from.as_str()).or_default().push(e);
        }
    }
    // A copy is also a derivation: keep one step per (from, to, actor), the copy.
    for v in next.values_mut() {
        let copies: HashSet<(&str, Option<&str>)> = v
            .iter()
            .filter(|e| e.kind == edge::COPY)
            .map(|e| (e.to.as_str(), e.actor.as_deref()))
            .collect();
        v.retain(|e| {
            e.kind != edge::DERIVED || !copies.contains(&(e.to.as_str(), e.actor.as_deref()))
        });
    }
    let mut out: Vec<DataPath> = Vec::new();
    let mut budget = limit.saturating_mul(64).max(10_000);
    let mut truncated = false;
    'sources: for s in sources(g) {
        // Depth first, in edge order: (path so far, node, next edge to try there).
        let mut stack: Vec<(&str, usize)> = vec![(s, 0)];
        let mut path: Vec<&Edge> = Vec::new();
        while let Some((at, i)) = stack.pop() {
            budget = budget.saturating_sub(1);
            if budget == 0 {
                truncated = true;
                break 'sources;
            }
            let outs = next.get(at).map(Vec::as_slice).unwrap_or_default();
            let ok = |e: &&Edge| {
                path.last()
                    .is_none_or(|p| e.last_time.is_none() || e.last_time >= p.time)
                    && e.to != s
                    && !path.iter().any(|p| p.from == e.to)
            };
            if i == 0 && !outs.iter().any(ok) {
                // A path ends here: at a consumer, or at a dataset nobody read further.
                if !path.is_empty() {
                    if out.len() >= limit {
                        truncated = true;
                        break 'sources;
                    }
                    out.push(data_path(g, &path));
                }
                path.pop();
                continue;
            }
            match outs.iter().enumerate().skip(i).find(|(_, e)| ok(e)) {
                Some((j, e)) => {
                    stack.push((at, j + 1));
                    path.push(e);
                    stack.push((&e.to, 0));
                }
                None => {
                    path.pop();
                }
            }
        }
    }
    (out, truncated)
}

fn data_path(g: &Graph, path: &[&Edge]) -> DataPath {
    let mut nodes: Vec<String> = vec![path[0].from.clone()];
    nodes.extend(path.iter().map(|e| e.to.clone()));
    let weakest = path
        .iter()
        .map(|e| e.confidence.as_str())
        .min_by_key(|c| confidence::rank(c))
        .unwrap_or(confidence::HIGH)
        .to_string();
    let last = path[path.len() - 1];
    DataPath {
        nodes,
        steps: path.iter().map(|e| step(e)).collect(),
        confidence: weakest,
        consumer: (last.kind == edge::READ && is_actor(g, &last.to)).then(|| last.to.clone()),
    }
}

/// Who received anything derived from the target: every actor reached downstream that read data, with the
/// principal and person behind it, its account, when it read, what, and the shortest path from the target.
/// Sorted by first read, then actor id.
pub fn consumers(g: &Graph) -> Vec<Consumer> {
    let roots = root_set(g);
    let start: Vec<&str> = roots.iter().copied().collect();
    let flow = downstream_flow(g, &roots);
    let reach = flow.bfs(&start);
    let home = home_account(g, &roots);
    let writers = writers(g);
    // Who started each job, query or statement (the first `starts` edge in edge order).
    let mut started_by: HashMap<&str, &str> = HashMap::new();
    for e in g.edges.iter().filter(|e| e.kind == edge::STARTS) {
        started_by.entry(e.to.as_str()).or_insert(e.from.as_str());
    }
    let starter = |actor: &str| started_by.get(actor).copied();
    let mut out = Vec::new();
    for (actor, reads) in reached_reads(g, &reach, &roots) {
        let Some(n) = g.node(actor) else { continue };
        let principal = if n.kind == kind::PRINCIPAL || n.kind == kind::SERVICE {
            Some(actor)
        } else {
            starter(actor)
        };
        let pnode = principal.and_then(|p| g.node(p));
        let prop = |k: &str| {
            pnode
                .and_then(|p| p.properties.get(k))
                .and_then(|v| v.as_str())
                .map(str::to_string)
        };
        let person = prop("original_principal_arn").or_else(|| principal.map(str::to_string));
        let ptype = prop("type");
        let account = n
            .account
            .clone()
            .or_else(|| pnode.and_then(|p| p.account.clone()));
        let mut path = Vec::new();
        let mut at = Some(actor);
        while let Some(x) = at {
            path.push(x.to_string());
            at = reach.get(x).copied().flatten();
        }
        path.reverse();
        let datasets: BTreeSet<String> = reads.iter().map(|e| e.from.clone()).collect();
        let events: BTreeSet<String> = reads
            .iter()
            .flat_map(|e| e.event_ids.iter().cloned())
            .collect();
        let other_account = home.is_some_and(|h| {
            account.as_deref().is_some_and(|a| a != h)
                || person
                    .as_deref()
                    .and_then(|p| p.split(':').nth(4))
                    .is_some_and(|a| !a.is_empty() && a != h)
        });
        out.push(Consumer {
            actor: actor.to_string(),
            kind: n.kind.clone(),
            label: n.label.clone(),
            principal: principal.map(str::to_string),
            person,
            other_account,
            outside: n.kind == kind::SERVICE
                || matches!(ptype.as_deref(), Some("AWSAccount" | "AnonymousPrincipal"))
                || account.is_none(),
            account,
            first_read: reads.iter().filter_map(|e| e.time.clone()).min(),
            last_read: reads
                .iter()
                .filter_map(|e| e.last_time.clone().or_else(|| e.time.clone()))
                .max(),
            datasets: datasets.into_iter().collect(),
            event_ids: events.into_iter().collect(),
            terminal: !writers.contains(actor),
            path,
        });
    }
    out.sort_by(|a, b| (&a.first_read, &a.actor).cmp(&(&b.first_read, &b.actor)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lineage::graph::Node;

    fn node(id: &str, k: &str) -> Node {
        Node {
            id: id.into(),
            kind: k.into(),
            label: id.into(),
            account: Some("111111111111".into()),
            region: None,
            namespace: None,
            name: None,
            properties: Default::default(),
        }
    }

    fn e(from: &str, to: &str, k: &str, actor: Option<&str>, t: &str) -> Edge {
        Edge {
            from: from.into(),
            to: to.into(),
            kind: k.into(),
            time: Some(t.into()),
            last_time: Some(t.into()),
            event_ids: vec![format!("{from}>{to}")],
            actor: actor.map(str::to_string),
            confidence: confidence::MEDIUM.into(),
            integrity: "unverified".into(),
            named_by_request: false,
        }
    }

    /// raw → job → curated, read by two analysts; curated also copied to a share another account reads.
    fn pipeline() -> Graph {
        let mut g = Graph {
            root: Some("s3://raw/a".into()),
            nodes: vec![
                node("s3://raw/a", kind::S3_OBJECT),
                node("s3://cur/b", kind::S3_OBJECT),
                node("s3://share/b", kind::S3_OBJECT),
                node("glue_job_run:jr_1", kind::GLUE_JOB_RUN),
                node("arn:ann", kind::PRINCIPAL),
                node("arn:bob", kind::PRINCIPAL),
                node("arn:copier", kind::PRINCIPAL),
                {
                    let mut n = node("arn:partner", kind::PRINCIPAL);
                    n.account = Some("222222222222".into());
                    n
                },
            ],
            edges: vec![
                e(
                    "s3://raw/a",
                    "glue_job_run:jr_1",
                    edge::READ,
                    Some("glue_job_run:jr_1"),
                    "2024-01-01T01:00:00.000Z",
                ),
                e(
                    "glue_job_run:jr_1",
                    "s3://cur/b",
                    edge::WRITE,
                    Some("glue_job_run:jr_1"),
                    "2024-01-01T02:00:00.000Z",
                ),
                e(
                    "s3://raw/a",
                    "s3://cur/b",
                    edge::DERIVED,
                    Some("glue_job_run:jr_1"),
                    "2024-01-01T01:00:00.000Z",
                ),
                e(
                    "s3://cur/b",
                    "arn:ann",
                    edge::READ,
                    Some("arn:ann"),
                    "2024-01-01T03:00:00.000Z",
                ),
                e(
                    "s3://cur/b",
                    "arn:bob",
                    edge::READ,
                    Some("arn:bob"),
                    "2024-01-01T04:00:00.000Z",
                ),
                e(
                    "s3://cur/b",
                    "arn:copier",
                    edge::READ,
                    Some("arn:copier"),
                    "2024-01-01T05:00:00.000Z",
                ),
                e(
                    "arn:copier",
                    "s3://share/b",
                    edge::WRITE,
                    Some("arn:copier"),
                    "2024-01-01T05:00:00.000Z",
                ),
                e(
                    "s3://cur/b",
                    "s3://share/b",
                    edge::COPY,
                    Some("arn:copier"),
                    "2024-01-01T05:00:00.000Z",
                ),
                e(
                    "s3://cur/b",
                    "s3://share/b",
                    edge::DERIVED,
                    Some("arn:copier"),
                    "2024-01-01T05:00:00.000Z",
                ),
                e(
                    "s3://share/b",
                    "arn:partner",
                    edge::READ,
                    Some("arn:partner"),
                    "2024-01-01T06:00:00.000Z",
                ),
            ],
            ..Graph::default()
        };
        g.sort();
        g
    }

    #[test]
    fn paths_run_from_the_target_to_each_consumer() {
        let g = pipeline();
        let (p, truncated) = paths(&g, 100);
        assert!(!truncated);
        let ends: Vec<(&[String], Option<&str>)> = p
            .iter()
            .map(|p| (p.nodes.as_slice(), p.consumer.as_deref()))
            .collect();
        assert_eq!(ends.len(), 3, "{p:#?}");
        assert_eq!(
            p[0].nodes,
            ["s3://raw/a", "s3://cur/b", "arn:ann"].map(String::from)
        );
        assert_eq!(
            p[2].nodes,
            ["s3://raw/a", "s3://cur/b", "s3://share/b", "arn:partner"].map(String::from)
        );
        assert_eq!(p[2].steps[1].kind, edge::COPY);
        assert_eq!(p[2].confidence, confidence::MEDIUM);
        let (p, truncated) = paths(&g, 2);
        assert!(truncated);
        assert_eq!(p.len(), 2);
    }

    #[test]
    fn chokepoints_downstream_and_upstream() {
        let g = pipeline();
        let c = chokepoints(&g);
        let ids: Vec<(&str, &str, usize)> = c
            .iter()
            .map(|c| (c.node.as_str(), c.direction.as_str(), c.of))
            .collect();
        // Every consumer (the job itself included) got the data through the job; the curated object is not one
        // (the job read the raw object without it).
        assert_eq!(ids, [("glue_job_run:jr_1", "downstream", 5)]);
        // Upstream of the share: the copier and the curated object stand between it and the raw object (its only
        // ingestion point, which is not counted as its own chokepoint).
        let mut up = g.clone();
        up.root = Some("s3://share/b".into());
        let c = chokepoints(&up);
        let ids: Vec<(&str, &str)> = c
            .iter()
            .filter(|c| c.direction == "upstream")
            .map(|c| (c.node.as_str(), c.direction.as_str()))
            .collect();
        assert_eq!(
            ids,
            [
                ("arn:copier", "upstream"),
                ("glue_job_run:jr_1", "upstream"),
                ("s3://cur/b", "upstream")
            ]
        );
    }

    #[test]
    fn consumers_are_every_reader_of_derived_data() {
        let g = pipeline();
        let c = consumers(&g);
        let ids: Vec<(&str, bool, bool)> = c
            .iter()
            .map(|c| (c.actor.as_str(), c.terminal, c.other_account))
            .collect();
        assert_eq!(
            ids,
            [
                ("glue_job_run:jr_1", false, false),
                ("arn:ann", true, false),
                ("arn:bob", true, false),
                ("arn:copier", false, false),
                ("arn:partner", true, true)
            ]
        );
        let partner = &c[4];
        assert_eq!(
            partner.path,
            [
                "s3://raw/a",
                "glue_job_run:jr_1",
                "s3://cur/b",
                "arn:copier",
                "s3://share/b",
                "arn:partner"
            ]
            .map(String::from)
        );
        assert_eq!(partner.datasets, ["s3://share/b"]);
        assert_eq!(
            partner.first_read.as_deref(),
            Some("2024-01-01T06:00:00.000Z")
        );
    }

    #[test]
    fn a_job_reading_its_own_output_is_a_cycle_and_ranks_stay_finite() {
        let mut g = pipeline();
        g.edges.push(e(
            "s3://cur/b",
            "glue_job_run:jr_1",
            edge::READ,
            Some("glue_job_run:jr_1"),
            "2024-01-02T01:00:00.000Z",
        ));
        g.sort();
        assert_eq!(
            cycles(&g),
            [vec![
                "glue_job_run:jr_1".to_string(),
                "s3://cur/b".to_string()
            ]]
        );
        let r = ranks(&g);
        assert_eq!(r["s3://raw/a"], 0);
        assert_eq!(r["glue_job_run:jr_1"], r["s3://cur/b"]);
        assert!(r["arn:partner"] > r["s3://share/b"]);
        // Paths still end.
        assert!(!paths(&g, 100).0.is_empty());
    }
}
