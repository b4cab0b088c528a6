//! Lineage: which datasets each actor (job run, query, function, session) read and wrote, and the paths of data
//! that follow from it (docs/lineage.md). `rules` says which calls move data; `context` decides which actor did
//! the work of a call; `traverse` walks time-respecting paths and builds the `graph` every output is written from.

pub mod context;
pub mod graph;
pub mod rules;
pub mod traverse;

pub use graph::{Edge, Graph, Node};
pub use traverse::{Builder, Direction, LineageQuery};

use crate::correlate::Result;
use crate::store::Store;

/// Answers `lineage TARGET`.
pub fn lineage(
    store: &Store,
    q: &LineageQuery,
    limit: usize,
    min_confidence: &str,
) -> Result<Graph> {
    Builder::new(store, q.since, q.until)
        .limit(limit)
        .min_confidence(min_confidence)
        .lineage(q)
}

/// The whole graph of a window (`export`).
pub fn whole(store: &Store, since: Option<i64>, until: Option<i64>) -> Result<Graph> {
    Builder::new(store, since, until).whole()
}
