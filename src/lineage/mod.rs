//! Lineage: which datasets each actor (job run, query, function, session) read and wrote, and the paths of data
//! that follow from it (docs/lineage.md). `rules` says which calls move data; `context` decides which actor did
//! the work of a call; `traverse` walks time-respecting paths and builds the `graph` every output is written from.

pub mod analysis;
pub mod context;
pub mod graph;
pub mod rules;
pub mod traverse;
pub mod versions;

pub use graph::{Edge, Graph, Node};
pub use traverse::{Builder, Direction, LineageQuery};

use crate::correlate::Result;
use crate::store::Store;

/// Answers `lineage TARGET`: the walk, then what the answer means as a graph (its cycles and chokepoints).
pub fn lineage(
    store: &Store,
    q: &LineageQuery,
    limit: usize,
    min_confidence: &str,
) -> Result<Graph> {
    let mut g = Builder::new(store, q.since, q.until)
        .limit(limit)
        .min_confidence(min_confidence)
        .lineage(q)?;
    g.cycles = analysis::cycles(&g);
    g.chokepoints = analysis::chokepoints(&g);
    Ok(g)
}

/// The analyses a lineage answer carries only when asked: `--paths` (at most `limit` of them) and
/// `--consumers`.
pub fn annotate(g: &mut Graph, paths: Option<usize>, consumers: bool) {
    if let Some(limit) = paths {
        let (p, truncated) = analysis::paths(g, limit);
        g.paths = Some(p);
        g.paths_truncated = truncated;
    }
    if consumers {
        g.consumers = Some(analysis::consumers(g));
    }
}

/// The whole graph of a window (`export`).
pub fn whole(store: &Store, since: Option<i64>, until: Option<i64>) -> Result<Graph> {
    Builder::new(store, since, until).whole()
}
