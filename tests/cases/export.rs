//! The export writers (`trailgraph::export`) on a hand-made graph with every node and edge kind, two accounts and
//! hostile strings: snapshots of every format, and the real consumers: Graphviz `dot -Tsvg`, networkx
//! `read_graphml`, and the official OpenLineage 2-0-2 JSON schema with Python `jsonschema`. The checks with an
//! external tool are skipped (loudly) when it is missing, and fail under `CI=true` (`.ci/run` installs them;
//! docs/testing.md).

use crate::util::*;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use trailgraph::export::{self, openlineage, ExportFormat};
use trailgraph::lineage::graph::{Edge, Graph, Node};

const A: &str = "111111111111";
const B: &str = "222222222222";
/// Hostile but XML-clean: must round-trip exactly through GraphML and JSON.
const CLEAN_HOSTILE: &str =
    "in/\"quoted\" {brace} 'apos' <script>alert(1)</script> & \\N\\G\\ \ttab\nnewline\r\nCRLF é漢字🙂.json";
/// Hostile with characters no XML can carry (NUL, BEL, ESC for ANSI colour).
const CONTROL_HOSTILE: &str =
    "evil\u{0}\u{7}\u{1b}[31mred\u{1b}[0m\\\"}];\n n9 -> n0 [label=x]; {.csv";
const PRINCIPAL: &str = "arn:aws:sts::111111111111:assumed-role/Analyst/mallory\"];\ndigraph x {";

fn node(id: &str, kind: &str, label: &str, account: Option<&str>) -> Node {
    Node {
        id: id.into(),
        kind: kind.into(),
        label: label.into(),
        account: account.map(Into::into),
        region: account.map(|_| "us-east-1".into()),
        namespace: None,
        name: None,
        properties: BTreeMap::new(),
    }
}

fn ds(id: &str, kind: &str, label: &str, account: Option<&str>, ns: &str, name: &str) -> Node {
    Node {
        namespace: Some(ns.into()),
        name: Some(name.into()),
        ..node(id, kind, label, account)
    }
}

fn edge(
    from: &str,
    to: &str,
    kind: &str,
    minute: u32,
    ids: &[&str],
    actor: Option<&str>,
    conf: &str,
) -> Edge {
    let t = format!("2024-03-01T10:{minute:02}:00.000Z");
    Edge {
        from: from.into(),
        to: to.into(),
        kind: kind.into(),
        time: Some(t.clone()),
        last_time: Some(t),
        event_ids: ids.iter().map(|s| s.to_string()).collect(),
        actor: actor.map(Into::into),
        confidence: conf.into(),
        integrity: "validated".into(),
        named_by_request: false,
    }
}

fn clean_obj() -> String {
    format!("s3://raw-bucket/{CLEAN_HOSTILE}")
}

fn control_obj() -> String {
    format!("s3://raw-bucket/{CONTROL_HOSTILE}")
}

/// Every node kind, every edge kind, accounts A and B and none, a dangling edge end, hostile ids and labels.
fn graph() -> Graph {
    let clean = clean_obj();
    let control = control_obj();
    let prefix = "s3://curated-bucket/sales/";
    let table = "arn:aws:glue:us-east-1:111111111111:table/db/sales";
    let ddb = "arn:aws:dynamodb:us-east-1:111111111111:table/Orders";
    let stream = "arn:aws:firehose:us-east-1:111111111111:deliverystream/ingest";
    let glue = "glue_job_run:jr_0123";
    let athena = "athena_query:5e1c-\"q\"";
    let redshift = "redshift_statement:stmt-1";
    let lambda = "arn:aws:lambda:us-east-1:222222222222:function:loader";
    let emr = "emr_step:s-1";
    let service = "service:cloudtrail.amazonaws.com";
    let resource = "resource:AWS::S3::Bucket|111111111111|us-east-1|raw-bucket";
    let export_obj = "s3://export-bucket/out/part-0000.csv";
    let mut properties = BTreeMap::new();
    properties.insert(
        "query".to_string(),
        json!("SELECT * FROM \"db\".\"sales\" -- }{ <b>"),
    );
    properties.insert("version_id".to_string(), json!(null));
    let mut g = Graph {
        root: Some(PRINCIPAL.into()),
        truncated: false,
        nodes: vec![
            ds(
                &clean,
                "s3_object",
                CLEAN_HOSTILE,
                Some(A),
                "s3://raw-bucket",
                CLEAN_HOSTILE,
            ),
            ds(
                &control,
                "s3_object",
                CONTROL_HOSTILE,
                Some(A),
                "s3://raw-bucket",
                CONTROL_HOSTILE,
            ),
            ds(
                prefix,
                "s3_prefix",
                "sales/",
                Some(A),
                "s3://curated-bucket",
                "sales/",
            ),
            ds(
                table,
                "table",
                "db.sales",
                Some(A),
                "arn:aws:glue:us-east-1:111111111111",
                "table/db/sales",
            ),
            node(ddb, "dynamodb_table", "Orders", Some(A)),
            node(stream, "stream", "ingest", Some(A)),
            Node {
                namespace: Some("aws:glue:111111111111".into()),
                name: Some("etl-\"job\"".into()),
                ..node(glue, "glue_job_run", "etl-\"job\" jr_0123", Some(A))
            },
            Node {
                properties,
                namespace: Some("aws:athena:111111111111".into()),
                name: Some("primary/5e1c".into()),
                ..node(
                    athena,
                    "athena_query",
                    "SELECT * FROM \"db\".\"sales\" -- }{",
                    Some(A),
                )
            },
            node(
                redshift,
                "redshift_statement",
                "UNLOAD ('select 1') TO 's3://export-bucket/out/'",
                Some(B),
            ),
            node(lambda, "lambda_function", "loader", Some(B)),
            node(
                "arn:aws:glue:us-east-1:111111111111:job/etl",
                "glue_job",
                "etl",
                Some(A),
            ),
            node(emr, "emr_step", "step \\l\\r", None),
            node(PRINCIPAL, "principal", "mallory\"];\ndigraph x {", Some(A)),
            node(service, "service", "cloudtrail.amazonaws.com", None),
            node(resource, "resource", "raw-bucket", Some(A)),
            ds(
                export_obj,
                "s3_object",
                "out/part-0000.csv",
                Some(B),
                "s3://export-bucket",
                "out/part-0000.csv",
            ),
        ],
        edges: vec![
            edge(
                stream,
                &control,
                "write",
                1,
                &["e-01"],
                Some(stream),
                "medium",
            ),
            edge(
                service,
                &clean,
                "write",
                0,
                &["e-00"],
                Some(service),
                "high",
            ),
            edge(
                &clean,
                &control,
                "copy",
                2,
                &["e-02"],
                Some(PRINCIPAL),
                "high",
            ),
            edge(
                PRINCIPAL,
                glue,
                "starts",
                3,
                &["e-03"],
                Some(PRINCIPAL),
                "high",
            ),
            edge(
                &control,
                glue,
                "read",
                4,
                &["e-04 \"odd\" id", "e-05"],
                Some(glue),
                "medium",
            ),
            edge(glue, prefix, "write", 9, &["e-09"], Some(glue), "medium"),
            edge(
                &control,
                prefix,
                "derived",
                9,
                &["e-04 \"odd\" id", "e-09"],
                Some(glue),
                "medium",
            ),
            edge(prefix, table, "part_of", 10, &["e-10"], None, "high"),
            edge(
                PRINCIPAL,
                athena,
                "starts",
                11,
                &["e-11"],
                Some(PRINCIPAL),
                "high",
            ),
            edge(
                prefix,
                athena,
                "read",
                12,
                &["e-12"],
                Some(athena),
                "medium",
            ),
            edge(athena, &clean, "write", 13, &["e-13"], Some(athena), "high"),
            edge(
                prefix,
                redshift,
                "read",
                14,
                &["e-14"],
                Some(redshift),
                "high",
            ),
            edge(
                redshift,
                export_obj,
                "write",
                15,
                &["e-15"],
                Some(redshift),
                "high",
            ),
            edge(
                export_obj,
                lambda,
                "read",
                16,
                &["e-16"],
                Some(lambda),
                "low",
            ),
            edge(lambda, ddb, "write", 17, &["e-17"], Some(lambda), "low"),
            edge(ddb, emr, "read", 18, &["e-18"], Some(emr), "low"),
            edge(
                PRINCIPAL,
                &control,
                "delete",
                19,
                &["e-19"],
                Some(PRINCIPAL),
                "high",
            ),
            edge(
                PRINCIPAL,
                resource,
                "changed",
                20,
                &["e-20"],
                Some(PRINCIPAL),
                "high",
            ),
            edge(
                "s3://ghost-bucket/gone",
                PRINCIPAL,
                "read",
                21,
                &["e-21"],
                Some(PRINCIPAL),
                "low",
            ),
            // A dataset only the start request names (a job argument): `named`, marked as not observed.
            Edge {
                named_by_request: true,
                ..edge(
                    glue,
                    export_obj,
                    "named",
                    22,
                    &["e-22"],
                    Some(glue),
                    "medium",
                )
            },
        ],
        ..Graph::default()
    };
    g.edges[1].integrity = "invalid".into();
    g.edges[5].last_time = Some("2024-03-01T10:29:59.999Z".into());
    g.edges[16].integrity = "unverified".into();
    g.sort();
    g
}

fn render(format: ExportFormat) -> String {
    let mut out = Vec::new();
    export::write(&graph(), format, &mut out).unwrap();
    String::from_utf8(out).expect("UTF-8 output")
}

/// Runs a Python script; callers first check its imports with `require_tool` (`.ci/run` installs them).
pub fn python(script: &str, args: &[&Path]) -> String {
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn export_json_follows_its_schema_and_is_the_graph() {
    let text = render(ExportFormat::Json);
    let v: Value = serde_json::from_str(&text).unwrap();
    crate::schemas::check(
        &v,
        &crate::schemas::schema("lineage.schema.json"),
        "lineage",
    );
    assert_eq!(v, serde_json::to_value(graph()).unwrap());
    assert_eq!(v["nodes"].as_array().unwrap().len(), 16);
    // Every node and edge kind the schema names is covered.
    let schema = crate::schemas::schema("lineage.schema.json");
    for (what, list) in [("node", "nodes"), ("edge", "edges")] {
        let mut kinds: Vec<&Value> = schema["$defs"][what]["properties"]["kind"]["enum"]
            .as_array()
            .unwrap()
            .iter()
            .collect();
        kinds.sort_by_key(|k| k.as_str());
        let mut seen: Vec<&Value> = v[list]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| &x["kind"])
            .collect();
        seen.sort_by_key(|k| k.as_str());
        seen.dedup();
        assert_eq!(seen, kinds, "{list}");
    }
    insta::assert_snapshot!("export_json", text);
    // The schema is valid Draft 2020-12 and a full validator agrees with the mini checker.
    if !require_tool(&JSONSCHEMA) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("g.json");
    std::fs::write(&file, &text).unwrap();
    let out = python(
        r#"
import json, sys
from jsonschema import Draft202012Validator
schema = json.load(open(sys.argv[1]))
Draft202012Validator.check_schema(schema)
Draft202012Validator(schema).validate(json.load(open(sys.argv[2])))
print("ok")
"#,
        &[&repo().join("schemas/lineage.schema.json"), &file],
    );
    assert_eq!(out.trim(), "ok");
}

#[test]
fn export_dot_renders_with_graphviz_and_keeps_hostile_text_as_text() {
    let text = render(ExportFormat::Dot);
    insta::assert_snapshot!("export_dot", text);
    assert!(text.starts_with("digraph trailgraph {\n"));
    assert!(!text.contains('\u{1b}') && !text.contains('\0') && !text.contains('\r'));
    assert_eq!(text.matches("subgraph cluster_").count(), 2);
    assert!(text.contains("label=\"account 111111111111\""));
    // Every line is one the writer made: a newline or quote from a log never starts a line or a statement.
    let is_id =
        |s: &str| s.len() > 1 && s.starts_with('n') && s[1..].chars().all(|c| c.is_ascii_digit());
    let mut edges = 0;
    for line in text.lines() {
        let t = line.trim_start();
        let head = t.split([' ', '[', '=']).next().unwrap_or("");
        if let Some((from, rest)) = t.split_once(" -> ") {
            if is_id(from) && is_id(rest.split(' ').next().unwrap()) {
                edges += 1;
                continue;
            }
        }
        assert!(
            is_id(head)
                || [
                    "digraph", "graph", "node", "edge", "subgraph", "label", "labelloc", "style",
                    "color", "}", "{"
                ]
                .contains(&head),
            "unexpected line {line:?}"
        );
    }
    assert_eq!(edges, 20);

    if !(require_tool(&DOT) && require_tool(&PYTHON)) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let dot_file = dir.path().join("g.dot");
    let svg_file = dir.path().join("g.svg");
    std::fs::write(&dot_file, &text).unwrap();
    let out = Command::new("dot")
        .arg("-Tsvg")
        .arg("-o")
        .arg(&svg_file)
        .arg(&dot_file)
        .output()
        .expect("run Graphviz `dot`");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "dot failed: {stderr}");
    assert!(!stderr.contains("rror"), "{stderr}");
    let summary = python(
        r#"
import json, sys, xml.etree.ElementTree as ET
ns = {"s": "http://www.w3.org/2000/svg"}
root = ET.parse(sys.argv[1]).getroot()
groups = root.findall(".//s:g", ns)
count = lambda c: sum(1 for g in groups if g.get("class") == c)
texts = ["".join(t.itertext()) for t in root.iter("{http://www.w3.org/2000/svg}text")]
print(json.dumps({"nodes": count("node"), "edges": count("edge"), "clusters": count("cluster"), "texts": texts}))
"#,
        &[&svg_file],
    );
    let svg: Value = serde_json::from_str(&summary).unwrap();
    assert_eq!(svg["nodes"], 17, "16 nodes and one dangling edge end");
    assert_eq!(svg["edges"], 20);
    assert_eq!(svg["clusters"], 2);
    let texts: Vec<&str> = svg["texts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    for expected in [
        "account 111111111111",
        "account 222222222222",
        // Labels come back as the visible text: quotes, braces, markup and \N stay literal, newlines visible.
        "in/\"quoted\" {brace} 'apos' <script>alert(1)</script> & \\N\\G\\ \\ttab\\nnewline\\r\\nCRLF é漢字🙂.json",
        "evil\\u{0}\\u{7}\\u{1b}[31mred\\u{1b}[0m\\\"}];\\n n9 -> n0 [label=x]; {.csv",
        "mallory\"];\\ndigraph x {",
        "step \\l\\r",
        "(principal)",
    ] {
        assert!(texts.contains(&expected), "{expected:?} not in {texts:#?}");
    }
}

#[test]
fn export_graphml_loads_in_networkx_and_round_trips_hostile_labels() {
    let text = render(ExportFormat::Graphml);
    insta::assert_snapshot!("export_graphml", text);
    if !require_tool(&NETWORKX) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("g.graphml");
    std::fs::write(&file, &text).unwrap();
    let summary = python(
        r#"
import json, sys, networkx
g = networkx.read_graphml(sys.argv[1])
print(json.dumps({
    "directed": g.is_directed(),
    "root": g.graph.get("root"),
    "nodes": g.number_of_nodes(),
    "edges": g.number_of_edges(),
    "node_attrs": {n: d for n, d in g.nodes(data=True)},
    "edge_attrs": [[u, v, d] for u, v, d in g.edges(data=True)],
}))
"#,
        &[&file],
    );
    let nx: Value = serde_json::from_str(&summary).unwrap();
    assert_eq!(nx["directed"], true);
    assert_eq!(nx["root"], PRINCIPAL);
    assert_eq!(nx["nodes"], 17);
    assert_eq!(nx["edges"], 20);
    let attrs = &nx["node_attrs"];
    // An XML-clean hostile id and label round-trip exactly, and so do the other attributes.
    let clean = &attrs[clean_obj().as_str()];
    assert_eq!(clean["label"], CLEAN_HOSTILE);
    assert_eq!(clean["name"], CLEAN_HOSTILE);
    assert_eq!(clean["kind"], "s3_object");
    assert_eq!(clean["account"], A);
    let athena = &attrs["athena_query:5e1c-\"q\""];
    let props: Value = serde_json::from_str(athena["properties"].as_str().unwrap()).unwrap();
    assert_eq!(props["query"], "SELECT * FROM \"db\".\"sales\" -- }{ <b>");
    assert_eq!(attrs[PRINCIPAL]["label"], "mallory\"];\ndigraph x {");
    // Characters XML cannot carry come back as visible escapes, in the id too.
    let control_id = "s3://raw-bucket/evil\\u{0}\\u{7}\\u{1b}[31mred\\u{1b}[0m\\\"}];\n n9 -> n0 [label=x]; {.csv";
    assert_eq!(
        attrs[control_id]["label"],
        "evil\\u{0}\\u{7}\\u{1b}[31mred\\u{1b}[0m\\\"}];\n n9 -> n0 [label=x]; {.csv"
    );
    // Nulls are absent attributes; the dangling end is a bare node.
    assert!(attrs["emr_step:s-1"].get("account").is_none());
    assert_eq!(
        attrs["s3://ghost-bucket/gone"]["label"],
        "s3://ghost-bucket/gone"
    );
    let read = nx["edge_attrs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e[1] == "glue_job_run:jr_0123" && e[2]["kind"] == "read")
        .unwrap();
    assert_eq!(read[0], control_id);
    assert_eq!(read[2]["event_ids"], "e-04 \"odd\" id e-05");
    assert_eq!(read[2]["confidence"], "medium");
    assert_eq!(read[2]["actor"], "glue_job_run:jr_0123");
    assert_eq!(read[2]["time"], "2024-03-01T10:04:00.000Z");
}

const OPENLINEAGE_SPEC_SHA256: &str =
    "69f68bee00b9beac88a87059c0102410e7bb05f3f43c46d02a0409831eceb0d2";

#[test]
fn export_openlineage_validates_against_the_official_2_0_2_schema() {
    let spec_path = repo().join("schemas/vendor/OpenLineage-2-0-2.json");
    let spec = std::fs::read(&spec_path).unwrap();
    assert_eq!(
        hex::encode(Sha256::digest(&spec)),
        OPENLINEAGE_SPEC_SHA256,
        "the vendored OpenLineage spec changed (schemas/vendor/README.md)"
    );
    let text = render(ExportFormat::Openlineage);
    let producer = openlineage::producer();
    insta::assert_snapshot!(
        "export_openlineage",
        text.replace(
            &producer,
            "https://github.com/trailgraph/trailgraph/tree/vVERSION"
        )
    );

    let events: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // Five jobs, START and COMPLETE each.
    assert_eq!(events.len(), 10);
    for e in &events {
        assert_eq!(e["schemaURL"], openlineage::SCHEMA_URL);
        assert_eq!(e["producer"], producer.as_str());
        let t = e["eventTime"].as_str().unwrap();
        assert!(t.ends_with('Z') && t.len() == 24, "{t}");
        let node_id = e["run"]["facets"]["trailgraph_cloudtrail"]["nodeId"]
            .as_str()
            .unwrap();
        assert_eq!(e["run"]["runId"], openlineage::run_id(node_id).as_str());
    }
    let times: Vec<&str> = events
        .iter()
        .map(|e| e["eventTime"].as_str().unwrap())
        .collect();
    let mut sorted = times.clone();
    sorted.sort();
    assert_eq!(times, sorted);
    // The Glue run: from its first edge to the last time of its write, the read and write datasets.
    let glue: Vec<&Value> = events
        .iter()
        .filter(|e| e["job"]["name"] == "etl-\"job\"")
        .collect();
    assert_eq!(glue[0]["eventType"], "START");
    assert_eq!(glue[0]["eventTime"], "2024-03-01T10:03:00.000Z");
    assert_eq!(glue[1]["eventType"], "COMPLETE");
    assert_eq!(glue[1]["eventTime"], "2024-03-01T10:29:59.999Z");
    // The dataset only its request names (`named`) is among the inputs.
    assert_eq!(
        glue[1]["inputs"],
        json!([
            {"namespace": "s3://export-bucket", "name": "out/part-0000.csv"},
            {"namespace": "s3://raw-bucket", "name": CONTROL_HOSTILE}
        ])
    );
    let facet = &glue[1]["run"]["facets"]["trailgraph_cloudtrail"];
    assert_eq!(
        facet["namedByRequest"],
        json!(["s3://export-bucket/out/part-0000.csv"])
    );
    assert_eq!(facet["dataCallsInTrail"], true);
    assert_eq!(
        glue[1]["outputs"],
        json!([{"namespace": "s3://curated-bucket", "name": "sales/"}])
    );
    let facet = &glue[1]["run"]["facets"]["trailgraph_cloudtrail"];
    assert_eq!(
        facet["eventIds"],
        json!(["e-03", "e-04 \"odd\" id", "e-05", "e-09", "e-22"])
    );
    assert_eq!(facet["startedBy"], json!([PRINCIPAL]));
    assert_eq!(facet["confidence"], "medium");
    // Fallback names: the EMR step has no namespace/name and no account.
    assert!(events
        .iter()
        .any(|e| e["job"] == json!({"namespace": "aws", "name": "emr_step:s-1"})));

    if !require_tool(&JSONSCHEMA) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("events.jsonl");
    std::fs::write(&file, &text).unwrap();
    let facet_schema = repo().join("schemas/openlineage-facet.schema.json");
    let out = python(
        r#"
import json, sys
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
spec = json.load(open(sys.argv[1]))
facet_schema = json.load(open(sys.argv[3]))
Draft202012Validator.check_schema(spec)
Draft202012Validator.check_schema(facet_schema)
registry = Registry().with_resource(spec["$id"], Resource.from_contents(spec))
events = Draft202012Validator(spec, format_checker=FormatChecker())
facets = Draft202012Validator(facet_schema, registry=registry, format_checker=FormatChecker())
n = 0
for line in open(sys.argv[2]):
    e = json.loads(line)
    events.validate(e)
    facets.validate(e["run"]["facets"]["trailgraph_cloudtrail"])
    n += 1
# The validators do reject: a run without runId, a facet without _producer.
bad = json.loads(line); del bad["run"]["runId"]
try:
    events.validate(bad); sys.exit("an event without runId validated")
except ValidationError:
    pass
bad = json.loads(line); del bad["run"]["facets"]["trailgraph_cloudtrail"]["_producer"]
for v, doc in ((events, bad), (facets, bad["run"]["facets"]["trailgraph_cloudtrail"])):
    try:
        v.validate(doc); sys.exit("a facet without _producer validated")
    except ValidationError:
        pass
print(n)
"#,
        &[&spec_path, &file, &facet_schema],
    );
    assert_eq!(out.trim(), "10");
}

/// One node per ASCII character (and a few others), in the id and the label: Graphviz renders the DOT and networkx
/// reads the GraphML back with every node distinct and every XML-valid label intact.
#[test]
fn export_every_ascii_character_survives_dot_and_graphml() {
    let chars: Vec<char> = (0u8..128)
        .map(char::from)
        .chain([
            '\u{85}', '\u{a0}', '\u{202e}', '\u{feff}', '\u{fffe}', '\u{ffff}',
        ])
        .collect();
    let mut g = Graph::default();
    for (i, c) in chars.iter().enumerate() {
        g.nodes.push(node(
            &format!("s3://b/{c}"),
            "s3_object",
            &format!("x{c}y\\{c}"),
            Some(if i % 2 == 0 { A } else { B }),
        ));
        if i > 0 {
            g.edges.push(edge(
                &format!("s3://b/{}", chars[i - 1]),
                &format!("s3://b/{c}"),
                "copy",
                0,
                &[&format!("id{c}")],
                None,
                "high",
            ));
        }
    }
    g.sort();
    let n = chars.len();
    let dir = tempfile::tempdir().unwrap();

    // Graphviz renders every node of the DOT.
    if require_tool(&DOT) && require_tool(&PYTHON) {
        let mut dot = Vec::new();
        export::write(&g, ExportFormat::Dot, &mut dot).unwrap();
        let dot_file = dir.path().join("g.dot");
        let svg_file = dir.path().join("g.svg");
        std::fs::write(&dot_file, &dot).unwrap();
        let out = Command::new("dot")
            .arg("-Tsvg")
            .arg("-o")
            .arg(&svg_file)
            .arg(&dot_file)
            .output()
            .expect("run Graphviz `dot`");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let counts = python(
            r#"
import sys, xml.etree.ElementTree as ET
try:
    root = ET.parse(sys.argv[1]).getroot()
except ET.ParseError as e:
    l = open(sys.argv[1], encoding="utf-8", errors="replace").read().split("\n")[e.position[0]-1]
    sys.exit(repr(l))
classes = [g.get("class") for g in root.iter("{http://www.w3.org/2000/svg}g")]
print(classes.count("node"), classes.count("edge"), classes.count("cluster"))
"#,
            &[&svg_file],
        );
        assert_eq!(counts.trim(), format!("{n} {} 2", n - 1));
    }

    if !require_tool(&NETWORKX) {
        return;
    }
    let mut graphml = Vec::new();
    export::write(&g, ExportFormat::Graphml, &mut graphml).unwrap();
    let file = dir.path().join("g.graphml");
    std::fs::write(&file, &graphml).unwrap();
    let labels = python(
        r#"
import json, sys, networkx
g = networkx.read_graphml(sys.argv[1])
print(json.dumps([g.number_of_nodes(), g.number_of_edges(), sorted(d["label"] for _, d in g.nodes(data=True))]))
"#,
        &[&file],
    );
    let v: Value = serde_json::from_str(&labels).unwrap();
    assert_eq!(v[0], n);
    assert_eq!(v[1], n - 1);
    let got: Vec<&str> = v[2]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    for c in &chars {
        let xml_ok =
            matches!(*c, '\t' | '\n' | '\r' | '\u{20}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}');
        if xml_ok {
            let label = format!("x{c}y\\{c}");
            assert!(got.contains(&label.as_str()), "{label:?} lost");
        }
    }
}
