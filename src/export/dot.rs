//! Graphviz DOT, our own writer (petgraph's `Dot` is debugging output and does not escape for hostile text).
//!
//! - Node identifiers are generated, never taken from the log: `n0`, `n1`... in node order (sorted by id), then
//!   the endpoints of edges that name no node of the graph (sorted). The real id is in `tooltip`.
//! - One `subgraph cluster_N` per account (accounts sorted, `N` from 0), labelled `account ACCOUNT`; nodes without
//!   an account sit outside any cluster.
//! - Every attribute value is a double-quoted string built by [`quoted`]: control characters, ANSI escapes and
//!   bidirectional overrides first become visible escapes (`\n`, `\u{1b}`...), then `\` becomes `\\` (so `\N`,
//!   `\G`, `\l` from a log stay literal text) and `"` becomes `\"`. No HTML-like label (`<...>`) and no record
//!   shape is ever emitted, so `<`, `>`, `{`, `}` and `|` are plain characters.
//! - Shapes by node kind, edge style by confidence (high solid, medium dashed, low dotted), edge label = kind and
//!   time.
//! - Left to right in topological order: each node's rank (`lineage::analysis::ranks`, a cycle sharing one) is a
//!   `rank=same` group (`newrank=true` lets the groups cross the account clusters), and an edge that does not go
//!   to a higher rank (inside a cycle) has `constraint=false`.

use super::visible;
use crate::lineage::graph::{confidence, edge, kind, Graph, Node};
use std::collections::{BTreeMap, HashMap};
use std::io::Write;

pub fn write(graph: &Graph, out: &mut dyn Write) -> std::io::Result<()> {
    let graph = &*super::sorted(graph);
    let dangling = super::dangling(graph);
    let mut ids: HashMap<&str, String> = HashMap::with_capacity(graph.nodes.len() + dangling.len());
    for (i, id) in graph
        .nodes
        .iter()
        .map(|n| n.id.as_str())
        .chain(dangling.iter().copied())
        .enumerate()
    {
        ids.insert(id, format!("n{i}"));
    }

    writeln!(out, "digraph trailgraph {{")?;
    writeln!(
        out,
        "  graph [rankdir=LR, newrank=true, fontname=\"Helvetica\", fontsize=11, tooltip=\"trailgraph lineage\"];"
    )?;
    writeln!(out, "  node [fontname=\"Helvetica\", fontsize=10];")?;
    writeln!(out, "  edge [fontname=\"Helvetica\", fontsize=9];")?;
    if let Some(root) = &graph.root {
        writeln!(out, "  label={};", quoted(&format!("root: {root}")))?;
        writeln!(out, "  labelloc=t;")?;
    }

    let mut by_account: BTreeMap<&str, Vec<&Node>> = BTreeMap::new();
    let mut outside: Vec<&Node> = Vec::new();
    for n in &graph.nodes {
        match n.account.as_deref() {
            Some(a) => by_account.entry(a).or_default().push(n),
            None => outside.push(n),
        }
    }
    for (i, (account, nodes)) in by_account.iter().enumerate() {
        writeln!(out, "  subgraph cluster_{i} {{")?;
        writeln!(out, "    label={};", quoted(&format!("account {account}")))?;
        writeln!(out, "    style=rounded;")?;
        writeln!(out, "    color=gray50;")?;
        for n in nodes {
            write_node(out, "    ", &ids[n.id.as_str()], n)?;
        }
        writeln!(out, "  }}")?;
    }
    for n in outside {
        write_node(out, "  ", &ids[n.id.as_str()], n)?;
    }
    for id in &dangling {
        writeln!(
            out,
            "  {} [label={}, tooltip={}, shape=plaintext];",
            ids[id],
            quoted(id),
            quoted(id)
        )?;
    }

    let ranks = crate::lineage::analysis::ranks(graph);
    let mut levels: BTreeMap<usize, Vec<&str>> = BTreeMap::new();
    for (id, r) in &ranks {
        levels.entry(*r).or_default().push(&ids[id.as_str()]);
    }
    for (r, members) in &levels {
        writeln!(
            out,
            "  {{ rank=same; {}; }} // rank {r}",
            members.join("; ")
        )?;
    }

    for e in &graph.edges {
        let forward = ranks.get(&e.from) < ranks.get(&e.to);
        let mut label: Vec<String> = vec![e.kind.clone()];
        if let Some(t) = &e.time {
            label.push(t.clone());
            if let Some(last) = e.last_time.as_ref().filter(|l| *l != t) {
                label.push(format!("… {last}"));
            }
        }
        let mut tooltip = vec![
            format!("{} {} → {}", e.kind, e.from, e.to),
            format!("confidence {}, integrity {}", e.confidence, e.integrity),
        ];
        if let Some(a) = &e.actor {
            tooltip.push(format!("actor {a}"));
        }
        if !e.event_ids.is_empty() {
            tooltip.push(format!("events {}", e.event_ids.join(" ")));
        }
        let style = match e.confidence.as_str() {
            confidence::HIGH => "solid",
            confidence::MEDIUM => "dashed",
            confidence::LOW => "dotted",
            _ => "solid",
        };
        let color = match e.kind.as_str() {
            edge::DELETE => "firebrick",
            edge::CHANGED => "darkorange3",
            edge::STARTS => "gray40",
            edge::PART_OF => "gray60",
            _ => "black",
        };
        writeln!(
            out,
            "  {} -> {} [label={}, tooltip={}, style={style}, color={color}{}];",
            ids[e.from.as_str()],
            ids[e.to.as_str()],
            quoted_lines(&label),
            quoted_lines(&tooltip),
            if forward { "" } else { ", constraint=false" }
        )?;
    }
    writeln!(out, "}}")
}

fn write_node(out: &mut dyn Write, indent: &str, id: &str, n: &Node) -> std::io::Result<()> {
    let (shape, extra) = match n.kind.as_str() {
        kind::S3_OBJECT => ("note", ""),
        kind::S3_PREFIX => ("folder", ""),
        kind::TABLE => ("cylinder", ""),
        kind::DYNAMODB_TABLE => ("cylinder", ", style=filled, fillcolor=\"#eef3ff\""),
        kind::STREAM => ("cds", ""),
        kind::RESOURCE => ("box", ", style=rounded"),
        kind::PRINCIPAL => ("house", ""),
        kind::SERVICE => ("hexagon", ""),
        k if kind::is_job(k) => ("ellipse", ", style=filled, fillcolor=\"#fff4d6\""),
        _ => ("box", ", style=dashed"),
    };
    let label = if n.label.is_empty() { &n.id } else { &n.label };
    // Line breaks between the parts are DOT's `\n`; the parts themselves are escaped text.
    let label = quoted_lines(&[label.clone(), format!("({})", n.kind)]);
    let mut tooltip = vec![n.id.clone()];
    if let Some(r) = &n.region {
        tooltip.push(format!("region {r}"));
    }
    let tooltip = quoted_lines(&tooltip);
    writeln!(
        out,
        "{indent}{id} [label={label}, tooltip={tooltip}, shape={shape}{extra}];"
    )
}

/// `s` as a DOT double-quoted string: visible escapes for control characters, then `\` and `"` escaped.
pub fn quoted(s: &str) -> String {
    format!("\"{}\"", escape(s))
}

/// Lines joined by DOT line breaks (`\n`), each line escaped as in [`quoted`]: a newline inside a line (from a
/// log) stays a visible escape, only the writer's own line breaks are line breaks.
fn quoted_lines(lines: &[String]) -> String {
    let parts: Vec<String> = lines.iter().map(|l| escape(l)).collect();
    format!("\"{}\"", parts.join("\\n"))
}

/// The inside of a DOT double-quoted string.
fn escape(s: &str) -> String {
    let v = visible(s);
    let mut out = String::with_capacity(v.len() + 2);
    for ch in v.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_dot_escapes_quotes_backslashes_and_controls() {
        assert_eq!(quoted("a\"b"), "\"a\\\"b\"");
        assert_eq!(quoted("\\N\\G\\"), "\"\\\\N\\\\G\\\\\"");
        assert_eq!(
            quoted("x\ny\r\x1b[31m\0"),
            "\"x\\\\ny\\\\r\\\\u{1b}[31m\\\\u{0}\""
        );
        assert_eq!(quoted("<b>{x}|y</b> &amp;"), "\"<b>{x}|y</b> &amp;\"");
        // A string ending in a backslash cannot escape the closing quote.
        assert!(quoted("end\\").ends_with("\\\\\""));
    }
}
