//! Lineage: which datasets each actor (job run, query, function, session) read and wrote, and the paths of data
//! that follow from it (docs/lineage.md).

pub mod graph;

pub use graph::{Edge, Graph, Node};
