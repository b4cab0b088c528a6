//! Format writers for the lineage graph: node-link JSON, Graphviz DOT, GraphML and OpenLineage RunEvents
//! (docs/lineage.md, "Export formats").
//!
//! Every writer is a pure function of a [`Graph`]: no clock, no environment, no store. The output depends only on
//! the graph's content (a graph that is not in the documented order is sorted first), so the same graph always
//! gives the same bytes. Every string of the graph came from a log and is attacker-controlled: each writer escapes
//! it for its format and never lets it change the structure of the output.

pub mod dot;
pub mod graphml;
pub mod json;
pub mod openlineage;

use crate::lineage::graph::{Edge, Graph};
pub(crate) use crate::model::text::visible;
use std::borrow::Cow;
use std::collections::BTreeSet;

/// The export formats (`--format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum ExportFormat {
    /// Node-link JSON (`schemas/lineage.schema.json`).
    Json,
    /// Graphviz DOT, one cluster per account.
    Dot,
    /// GraphML (networkx, Gephi).
    Graphml,
    /// OpenLineage 2-0-2 RunEvents, one JSON document per line.
    Openlineage,
}

impl ExportFormat {
    /// The usual file extension of the format.
    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Json => "json",
            ExportFormat::Dot => "dot",
            ExportFormat::Graphml => "graphml",
            ExportFormat::Openlineage => "jsonl",
        }
    }
}

/// Writes `graph` to `out` in `format`. Deterministic (a graph out of the documented order is sorted first);
/// never panics on hostile strings. Errors are I/O errors of `out` only. The per-format `write` functions of the
/// submodules behave the same.
pub fn write(
    graph: &Graph,
    format: ExportFormat,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    match format {
        ExportFormat::Json => json::write(graph, out),
        ExportFormat::Dot => dot::write(graph, out),
        ExportFormat::Graphml => graphml::write(graph, out),
        ExportFormat::Openlineage => openlineage::write(graph, out),
    }
}

/// `graph` in the documented order (nodes by id without duplicates, edges by (from, to, kind, time, actor)):
/// borrowed when it already is, else a sorted copy.
pub(crate) fn sorted(graph: &Graph) -> Cow<'_, Graph> {
    let nodes_sorted = graph.nodes.windows(2).all(|w| w[0].id < w[1].id);
    let edges_sorted = graph
        .edges
        .windows(2)
        .all(|w| edge_key(&w[0]) <= edge_key(&w[1]));
    if nodes_sorted && edges_sorted {
        Cow::Borrowed(graph)
    } else {
        let mut g = graph.clone();
        g.sort();
        Cow::Owned(g)
    }
}

type EdgeKey<'a> = (&'a str, &'a str, &'a str, Option<&'a str>, Option<&'a str>);

/// The order of `Graph::sort`.
fn edge_key(e: &Edge) -> EdgeKey<'_> {
    (
        &e.from,
        &e.to,
        &e.kind,
        e.time.as_deref(),
        e.actor.as_deref(),
    )
}

/// Edge endpoints that are not nodes of the graph, sorted. Writers declare them as bare nodes so that no edge is
/// lost and no format gains an implicit, unescaped node.
pub(crate) fn dangling(graph: &Graph) -> Vec<&str> {
    let mut out = BTreeSet::new();
    for e in &graph.edges {
        for id in [e.from.as_str(), e.to.as_str()] {
            if graph.node(id).is_none() {
                out.insert(id);
            }
        }
    }
    out.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lineage::graph::Node;

    fn node(id: &str) -> Node {
        Node {
            id: id.into(),
            kind: "s3_object".into(),
            label: id.into(),
            account: None,
            region: None,
            namespace: None,
            name: None,
            properties: Default::default(),
        }
    }

    fn edge(from: &str, to: &str) -> Edge {
        Edge {
            from: from.into(),
            to: to.into(),
            kind: "copy".into(),
            time: None,
            last_time: None,
            event_ids: vec![],
            actor: None,
            confidence: "high".into(),
            integrity: "validated".into(),
            named_by_request: false,
        }
    }

    #[test]
    fn export_visible_escapes_controls_and_bidi() {
        assert_eq!(
            visible("a\x1b[31mb\n\u{202e}\0é\u{fffe}\u{10ffff}\u{fdd0}"),
            "a\\u{1b}[31mb\\n\\u{202e}\\u{0}é\\u{fffe}\\u{10ffff}\\u{fdd0}"
        );
        assert!(matches!(visible("plain s3://b/k"), Cow::Borrowed(_)));
    }

    #[test]
    fn export_sorts_unsorted_graphs_and_finds_dangling_endpoints() {
        let g = Graph {
            root: None,
            truncated: false,
            nodes: vec![node("b"), node("a")],
            edges: vec![edge("b", "z"), edge("a", "b")],
            ..Graph::default()
        };
        let s = sorted(&g);
        assert!(matches!(s, Cow::Owned(_)));
        assert_eq!(s.nodes[0].id, "a");
        assert_eq!(s.edges[0].from, "a");
        assert_eq!(dangling(&s), vec!["z"]);
        let s2 = sorted(&s);
        assert!(matches!(s2, Cow::Borrowed(_)));
    }

    #[test]
    fn export_every_format_is_deterministic() {
        let g = Graph {
            root: Some("a".into()),
            truncated: false,
            nodes: vec![node("b"), node("a")],
            edges: vec![edge("b", "z"), edge("a", "b")],
            ..Graph::default()
        };
        for f in [
            ExportFormat::Json,
            ExportFormat::Dot,
            ExportFormat::Graphml,
            ExportFormat::Openlineage,
        ] {
            let mut a = Vec::new();
            let mut b = Vec::new();
            write(&g, f, &mut a).unwrap();
            let mut sorted = g.clone();
            sorted.sort();
            write(&sorted, f, &mut b).unwrap();
            assert_eq!(a, b, "{f:?}");
        }
    }
}
