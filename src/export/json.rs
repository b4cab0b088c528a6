//! Node-link JSON: `{"root", "nodes": [...], "edges": [...]}` exactly as the graph types serialize
//! (`schemas/lineage.schema.json`), pretty-printed, followed by a newline. JSON string escaping (serde_json) is
//! the only escaping: control characters become `\u00XX` escapes, so the text is safe to pipe anywhere.

use crate::lineage::graph::Graph;
use std::io::Write;

pub fn write(graph: &Graph, out: &mut dyn Write) -> std::io::Result<()> {
    let graph = &*super::sorted(graph);
    let mut out = out;
    serde_json::to_writer_pretty(&mut out, graph).map_err(std::io::Error::from)?;
    out.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use crate::lineage::graph::{Graph, Node};

    #[test]
    fn export_json_is_the_serialized_graph() {
        let g = Graph {
            root: None,
            truncated: false,
            nodes: vec![Node {
                id: "s3://b/k\"\n".into(),
                kind: "s3_object".into(),
                label: "k\u{1b}[31m".into(),
                account: Some("111111111111".into()),
                region: None,
                namespace: Some("s3://b".into()),
                name: Some("k".into()),
                properties: Default::default(),
            }],
            edges: vec![],
            ..Graph::default()
        };
        let mut out = Vec::new();
        super::write(&g, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.ends_with("}\n"));
        assert!(text.contains("\\u001b[31m"), "{text}");
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v, serde_json::to_value(&g).unwrap());
        assert_eq!(v["nodes"][0]["id"], "s3://b/k\"\n");
    }
}
