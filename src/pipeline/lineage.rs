//! The lineage rounds of `collect --via`: after the scope and session rounds are fetched, trailgraph answers
//! `lineage TARGET --both` on what the store holds, asks the engine for the records that answer would read had the
//! store held the whole trail (the datasets, units of work and actors it reached: `LineageAsk`), fetches the files
//! they are in, and answers again, until an answer reaches nothing not yet asked about. docs/collect.md#lineage.

use crate::collect::layout::Filter;
use crate::collect::slice::{lineage_round, resource_needle, Engine, LineageAsk, Slice, Term};
use crate::lineage::graph::kind;
use crate::lineage::{Direction, Graph, LineageQuery};
use crate::store::Store;
use anyhow::Result;
use std::collections::BTreeSet;

/// Stores the files a round named (and what comes with them: digests), once each.
pub type Fetch<'a> = dyn FnMut(&mut Store, &BTreeSet<String>) -> Result<()> + 'a;

/// The rounds of a `--via` run: the scope and session rounds (`run_rounds`, climbing through the issuers the
/// store holds), their files fetched, then the lineage rounds for the lineage targets among `terms`, each round's
/// files fetched before the next answer; the engine is let go after the last. `keys_left` counts what the
/// lineage rounds left too.
#[allow(clippy::too_many_arguments)]
pub fn run_slice(
    store: &mut Store,
    engine: &mut dyn Engine,
    tables: (&str, Option<&str>),
    terms: &[Term],
    filter: &Filter,
    depth: usize,
    lineage_hops: usize,
    fetch: &mut Fetch<'_>,
) -> Result<Slice> {
    let mut issuer_stored = |keys: &[String]| super::stored_issuers(store, keys);
    let mut slice = crate::collect::slice::run_rounds(
        engine,
        terms,
        filter,
        depth,
        tables,
        &mut issuer_stored,
    )?;
    let first = slice.files.clone();
    fetch(store, &first)?;
    let targets = lineage_targets(terms);
    let left = expand_lineage(
        store,
        engine,
        tables.0,
        &targets,
        lineage_hops,
        filter,
        &mut slice,
        fetch,
    )?;
    slice.keys_left += left;
    // Spark and what it keeps in memory are not needed any more.
    engine.close();
    Ok(slice)
}

/// The edge limit of the answers the rounds close: `lineage`'s default.
pub const LINEAGE_LIMIT: usize = 50_000;

/// Most lineage rounds a run makes for `hops` dataset hops: a hop takes a round for the records naming what was
/// reached and one for its actors' calls, plus the climbs to the sessions' issuers.
pub fn max_lineage_rounds(hops: usize) -> usize {
    4 * hops + 8
}

/// The `--resource` terms a slice is closed for `lineage` on: every one `lineage` accepts as a target, except
/// resources given by ARN or as AWS Config keys (buckets, roles, security groups: `who-changed` questions).
/// A term `lineage` does not know in the store is passed over when the rounds run.
pub fn lineage_targets(terms: &[Term]) -> Vec<String> {
    terms
        .iter()
        .filter_map(|t| match t {
            Term::Resource(r) if !r.starts_with("arn:") && !r.starts_with("AWS::") => {
                Some(r.clone())
            }
            _ => None,
        })
        .collect()
}

/// What a record about a node of a lineage answer contains, if looking for it can reveal more of the answer: all
/// of the strings returned.
fn needle(node: &crate::lineage::Node) -> Option<Vec<String>> {
    let id = node.id.as_str();
    match node.kind.as_str() {
        // An object or prefix: its bucket and its key (requests name both; so do ARNs in `resources`, a copy's
        // source and an encryption context's `aws:s3:arn`). The key alone would match every bucket's.
        kind::S3_OBJECT | kind::S3_PREFIX => {
            let rest = id.strip_prefix("s3://")?;
            let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
            // A version's node (docs/lineage.md, "Object versions"): the records name the key.
            let key = crate::lineage::versions::split_id(key).0;
            let mut out = vec![bucket.to_string()];
            if !key.is_empty() {
                out.push(key.to_string());
            }
            Some(out).filter(|_| !bucket.is_empty())
        }
        // A DynamoDB table or a stream: its name as a JSON string value (`"tableName":"orders"`,
        // `"streamName":…`), so that a short name does not match every key it is part of.
        kind::DYNAMODB_TABLE | kind::STREAM => {
            let n = resource_needle(id);
            (!n.is_empty()).then(|| vec![format!("\"{n}\"")])
        }
        // Tables are named by the SQL of Redshift statements and Athena queries and by Glue's CreateTable and
        // UpdateTable: job-control calls of the accounts met, asked for already. A bare table name (`orders`)
        // would match most of a trail.
        kind::TABLE => None,
        kind::GLUE_JOB_RUN | kind::ATHENA_QUERY | kind::REDSHIFT_STATEMENT => {
            let (_, rest) = id.split_once(':')?;
            // A Glue session no run was paired with (glue_job_run:session/KEY): its key is asked for already.
            if rest.starts_with("session/") || rest.is_empty() {
                return None;
            }
            Some(vec![rest.to_string()])
        }
        _ => None,
    }
}

/// Adds to `ask` what the lineage answer `g` reaches.
fn reach(store: &Store, g: &Graph, ask: &mut LineageAsk) -> Result<()> {
    ask.needles.extend(g.nodes.iter().filter_map(needle));
    // Every call behind an edge: its key (the actor's session), its account (job control), and for the actors
    // that gather a principal's calls rather than one session's, the principal.
    let mut ids: BTreeSet<String> = BTreeSet::new();
    let mut by_principal: BTreeSet<String> = BTreeSet::new();
    for e in &g.edges {
        ids.extend(e.event_ids.iter().cloned());
        let gathers = e.actor.as_deref().is_some_and(|a| {
            a.starts_with("athena_query:")
                || a.starts_with("redshift_statement:")
                || a.starts_with("service:")
        });
        if gathers {
            by_principal.extend(e.event_ids.iter().cloned());
        }
    }
    let ids: Vec<String> = ids.into_iter().collect();
    let mut keys: BTreeSet<String> = BTreeSet::new();
    let mut principals: BTreeSet<i64> = BTreeSet::new();
    for ev in store.events_by_event_id(&ids)? {
        ask.accounts.insert(ev.account.clone());
        match &ev.access_key_id {
            Some(k) if !k.is_empty() => {
                keys.insert(k.clone());
                if !by_principal.contains(&ev.event_id) {
                    continue;
                }
            }
            _ => {}
        }
        principals.insert(ev.principal_id);
    }
    for id in principals {
        if let Some(p) = store.principal(id)? {
            let name = p.key.strip_prefix("service:").map(str::to_string).or(p.arn);
            if let Some(n) = name.filter(|n| !n.is_empty()) {
                ask.principals.insert(n);
            }
        }
    }
    // The sessions' issuers, up each chain through what the store holds; a key whose issuing call is missing is
    // asked for.
    let mut todo: Vec<String> = keys
        .iter()
        .filter(|k| k.starts_with("ASIA"))
        .cloned()
        .collect();
    let mut seen: BTreeSet<String> = todo.iter().cloned().collect();
    while !todo.is_empty() {
        let stored = super::stored_issuers(store, &todo)?;
        let mut next = Vec::new();
        for k in todo {
            match stored.get(&k) {
                Some(parent) => {
                    if let Some(p) = parent.as_ref().filter(|p| p.starts_with("ASIA")) {
                        if seen.insert(p.clone()) {
                            next.push(p.clone());
                        }
                    }
                }
                None => {
                    ask.issued.insert(k);
                }
            }
        }
        todo = next;
    }
    ask.keys.extend(keys);
    Ok(())
}

/// What the `lineage TARGET --both --depth hops` answers on the store reach, over every target `lineage` knows.
pub fn lineage_frontier(store: &Store, targets: &[String], hops: usize) -> Result<LineageAsk> {
    let mut ask = LineageAsk::default();
    for t in targets {
        let q = LineageQuery {
            target: t.clone(),
            direction: Direction::Both,
            depth: hops.max(1),
            since: None,
            until: None,
            at: None,
        };
        // A target the store does not know (yet, or at all: not a dataset or unit of work) reaches nothing.
        let Ok(g) = crate::lineage::lineage(store, &q, LINEAGE_LIMIT, "low") else {
            continue;
        };
        reach(store, &g, &mut ask)?;
    }
    Ok(ask)
}

/// Runs lineage rounds until an answer reaches nothing new, fetching each round's new files with `fetch` (which
/// stores them, so the next answer sees them). Returns the values still to ask about when `max_lineage_rounds`
/// ended the rounds (0: the slice is closed).
#[allow(clippy::too_many_arguments)]
fn expand_lineage(
    store: &mut Store,
    engine: &mut dyn Engine,
    table: &str,
    targets: &[String],
    hops: usize,
    filter: &Filter,
    slice: &mut Slice,
    fetch: &mut Fetch<'_>,
) -> Result<usize> {
    if targets.is_empty() || hops == 0 {
        return Ok(0);
    }
    let mut asked = LineageAsk::default();
    let mut round = 0usize;
    loop {
        let todo = lineage_frontier(store, targets, hops)?.minus(&asked);
        if todo.is_empty() || round >= max_lineage_rounds(hops) {
            return Ok(todo.len());
        }
        let (now, _) = todo.split(crate::collect::slice::KEYS_PER_ROUND);
        asked.extend(&now);
        let new = lineage_round(engine, table, &now, filter, slice)?;
        round += 1;
        if !new.is_empty() {
            fetch(store, &new)?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lineage::Node;

    fn node(id: &str, k: &str) -> Node {
        Node {
            id: id.into(),
            kind: k.into(),
            label: String::new(),
            account: None,
            region: None,
            namespace: None,
            name: None,
            properties: Default::default(),
        }
    }

    #[test]
    fn needles_of_answer_nodes() {
        let n = |id, k| needle(&node(id, k));
        let v = |s: &[&str]| Some(s.iter().map(|x| x.to_string()).collect::<Vec<_>>());
        assert_eq!(
            n("s3://acme-raw/orders/2024-05-06/a.json", kind::S3_OBJECT),
            v(&["acme-raw", "orders/2024-05-06/a.json"])
        );
        assert_eq!(
            n(
                "s3://acme-raw/orders/a.json?versionId=3HL4",
                kind::S3_OBJECT
            ),
            v(&["acme-raw", "orders/a.json"])
        );
        assert_eq!(
            n(
                "s3://acme-raw/orders/a.json?generation=6c1f0e8a-44b5-4e0e-9b1a-0a6c3f0f5d11",
                kind::S3_OBJECT
            ),
            v(&["acme-raw", "orders/a.json"])
        );
        assert_eq!(
            n("s3://acme-raw/orders/", kind::S3_PREFIX),
            v(&["acme-raw", "orders/"])
        );
        assert_eq!(n("s3://acme-raw/", kind::S3_PREFIX), v(&["acme-raw"]));
        assert_eq!(
            n(
                "redshift://acme-dw.us-east-1:5439/dev.public.orders",
                kind::TABLE
            ),
            None
        );
        assert_eq!(
            n("glue_job_run:jr_0123", kind::GLUE_JOB_RUN),
            v(&["jr_0123"])
        );
        assert_eq!(n("glue_job_run:session/ASIA1", kind::GLUE_JOB_RUN), None);
        assert_eq!(
            n("athena_query:1234-abcd", kind::ATHENA_QUERY),
            v(&["1234-abcd"])
        );
        assert_eq!(
            n(
                "arn:aws:dynamodb:us-east-1:111122223333:table/orders",
                kind::DYNAMODB_TABLE
            ),
            v(&["\"orders\""])
        );
        assert_eq!(
            n("arn:aws:iam::111122223333:user/alice", kind::PRINCIPAL),
            None
        );
    }

    #[test]
    fn targets_are_the_resources_lineage_can_answer_for() {
        let terms = vec![
            Term::Resource("s3://acme-raw/orders/a.json".into()),
            Term::Resource("arn:aws:s3:::acme-raw".into()),
            Term::Resource("AWS::EC2::SecurityGroup:sg-1".into()),
            Term::Resource("orders-curate".into()),
            Term::Principal("alice".into()),
        ];
        assert_eq!(
            lineage_targets(&terms),
            vec!["s3://acme-raw/orders/a.json", "orders-curate"]
        );
    }
}
