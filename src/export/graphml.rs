//! GraphML (XML 1.0, UTF-8), a directed graph that networkx (`read_graphml`) and Gephi load.
//!
//! - `<key>` declarations: graph `root`; node `kind`, `label`, `account`, `region`, `namespace`, `name`,
//!   `properties` (a JSON object as a string); edge `kind`, `time`, `last_time`, `event_ids` (space-separated),
//!   `actor`, `confidence`, `integrity`, `named_by_request` (`true` on an edge only a start request names, else
//!   absent). All `attr.type="string"`. A null value is an absent `<data>` element.
//! - Node ids are the graph's ids. Edge endpoints that name no node are declared as nodes with only a `label`.
//!   Edge ids are `e0`, `e1`... in edge order.
//! - Escaping ([`text`]): `& < > " '` become entities; tab, newline and carriage return become character
//!   references (`&#9;`, `&#10;`, `&#13;`) so that they survive attribute normalization and round-trip exactly;
//!   characters XML 1.0 cannot carry at all (other C0 controls, NUL, U+FFFE, U+FFFF) become visible escapes
//!   (`\u{0}`, `\u{1b}`...). An id that needed such a replacement could then equal another id: it gets a `#2`,
//!   `#3`... suffix until unique, so two nodes never merge.

use crate::lineage::graph::Graph;
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::io::Write;

const NODE_KEYS: [&str; 7] = [
    "kind",
    "label",
    "account",
    "region",
    "namespace",
    "name",
    "properties",
];
const EDGE_KEYS: [&str; 8] = [
    "kind",
    "time",
    "last_time",
    "event_ids",
    "actor",
    "confidence",
    "integrity",
    "named_by_request",
];

pub fn write(graph: &Graph, out: &mut dyn Write) -> std::io::Result<()> {
    let graph = &*super::sorted(graph);
    let dangling = super::dangling(graph);
    let ids = xml_ids(
        graph
            .nodes
            .iter()
            .map(|n| n.id.as_str())
            .chain(dangling.iter().copied()),
    );

    let mut s = String::with_capacity(4096);
    s.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    s.push_str(
        "<graphml xmlns=\"http://graphml.graphdrawing.org/xmlns\" \
         xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" \
         xsi:schemaLocation=\"http://graphml.graphdrawing.org/xmlns \
         http://graphml.graphdrawing.org/xmlns/1.0/graphml.xsd\">\n",
    );
    s.push_str("  <key id=\"g_root\" for=\"graph\" attr.name=\"root\" attr.type=\"string\"/>\n");
    for k in NODE_KEYS {
        let _ = writeln!(
            s,
            "  <key id=\"n_{k}\" for=\"node\" attr.name=\"{k}\" attr.type=\"string\"/>"
        );
    }
    for k in EDGE_KEYS {
        let _ = writeln!(
            s,
            "  <key id=\"e_{k}\" for=\"edge\" attr.name=\"{k}\" attr.type=\"string\"/>"
        );
    }
    s.push_str("  <graph id=\"trailgraph\" edgedefault=\"directed\">\n");
    if let Some(root) = &graph.root {
        data(&mut s, "    ", "g_root", root);
    }
    out.write_all(s.as_bytes())?;

    for n in &graph.nodes {
        s.clear();
        let _ = writeln!(s, "    <node id=\"{}\">", text(&ids[n.id.as_str()]));
        data(&mut s, "      ", "n_kind", &n.kind);
        data(&mut s, "      ", "n_label", &n.label);
        let optional = [
            ("n_account", &n.account),
            ("n_region", &n.region),
            ("n_namespace", &n.namespace),
            ("n_name", &n.name),
        ];
        for (key, v) in optional {
            if let Some(v) = v {
                data(&mut s, "      ", key, v);
            }
        }
        let props = serde_json::to_string(&n.properties).map_err(std::io::Error::from)?;
        data(&mut s, "      ", "n_properties", &props);
        s.push_str("    </node>\n");
        out.write_all(s.as_bytes())?;
    }
    for id in &dangling {
        s.clear();
        let _ = writeln!(s, "    <node id=\"{}\">", text(&ids[id]));
        data(&mut s, "      ", "n_label", id);
        s.push_str("    </node>\n");
        out.write_all(s.as_bytes())?;
    }
    for (i, e) in graph.edges.iter().enumerate() {
        s.clear();
        let _ = writeln!(
            s,
            "    <edge id=\"e{i}\" source=\"{}\" target=\"{}\">",
            text(&ids[e.from.as_str()]),
            text(&ids[e.to.as_str()])
        );
        data(&mut s, "      ", "e_kind", &e.kind);
        if let Some(t) = &e.time {
            data(&mut s, "      ", "e_time", t);
        }
        if let Some(t) = &e.last_time {
            data(&mut s, "      ", "e_last_time", t);
        }
        data(&mut s, "      ", "e_event_ids", &e.event_ids.join(" "));
        if let Some(a) = &e.actor {
            data(&mut s, "      ", "e_actor", a);
        }
        data(&mut s, "      ", "e_confidence", &e.confidence);
        data(&mut s, "      ", "e_integrity", &e.integrity);
        if e.named_by_request {
            data(&mut s, "      ", "e_named_by_request", "true");
        }
        s.push_str("    </edge>\n");
        out.write_all(s.as_bytes())?;
    }
    out.write_all(b"  </graph>\n</graphml>\n")
}

fn data(s: &mut String, indent: &str, key: &str, value: &str) {
    let _ = writeln!(s, "{indent}<data key=\"{key}\">{}</data>", text(value));
}

/// The XML id of each graph id: the id itself when XML can carry it, else its visible form, made unique against
/// every other id with a `#N` suffix. Deterministic: ids are visited in order.
fn xml_ids<'a>(ids: impl Iterator<Item = &'a str> + Clone) -> HashMap<&'a str, String> {
    let mut taken: HashSet<String> = ids
        .clone()
        .filter(|id| id.chars().all(xml_char))
        .map(str::to_owned)
        .collect();
    let mut out = HashMap::new();
    for id in ids {
        if id.chars().all(xml_char) {
            out.insert(id, id.to_owned());
            continue;
        }
        let base = replace_invalid(id);
        let mut candidate = base.clone();
        let mut k = 2;
        while taken.contains(&candidate) {
            candidate = format!("{base}#{k}");
            k += 1;
        }
        taken.insert(candidate.clone());
        out.insert(id, candidate);
    }
    out
}

/// Characters XML 1.0 allows (`Char` production; a Rust `char` is never a surrogate).
fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{fffd}' | '\u{10000}'..='\u{10ffff}')
}

fn replace_invalid(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if xml_char(c) {
            out.push(c);
        } else {
            out.push_str(&c.escape_unicode().to_string());
        }
    }
    out
}

/// `s` escaped for XML text and attribute values (both quoted with `"`).
pub fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c if !xml_char(c) => out.push_str(&c.escape_unicode().to_string()),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_graphml_escapes_markup_and_invalid_characters() {
        assert_eq!(
            text("<script>&\"'</script>"),
            "&lt;script&gt;&amp;&quot;&apos;&lt;/script&gt;"
        );
        assert_eq!(text("a\nb\r\tc"), "a&#10;b&#13;&#9;c");
        assert_eq!(text("x\0\x1b[31m\u{fffe}é"), "x\\u{0}\\u{1b}[31m\\u{fffe}é");
    }

    #[test]
    fn export_graphml_ids_never_collide() {
        let ids = ["a\u{1}", "a\\u{1}", "b"];
        let m = xml_ids(ids.iter().copied());
        assert_eq!(m["a\\u{1}"], "a\\u{1}");
        assert_eq!(m["a\u{1}"], "a\\u{1}#2");
        assert_eq!(m["b"], "b");
    }
}
