//! Lineage on real data (the SANS lab corpus) and on the hand-designed pipelines of `fixtures/lineage`.

use crate::util::*;
use serde_json::Value;

fn edges<'a>(g: &'a Value, kind: &str) -> Vec<&'a Value> {
    g["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == kind)
        .collect()
}

/// The SANS lab: CloudTrail delivers its own log files into `falsimentis-log`, and the attacker, signed in as the
/// IAM user FalsimentisRoot, downloads 1,168 of them; KMS decrypts name the objects they read.
#[test]
fn sans_lab_downloads_and_deliveries() {
    let Some(root) = crate::corpus::corpus() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    ingest(&db, &[&root.join("sans504-s3-ransomware-lab")]);
    let user = "arn:aws:iam::342082656213:user/FalsimentisRoot";

    let r = run(
        &db,
        &[
            "lineage",
            "s3://falsimentis-log/",
            "--downstream",
            "--format",
            "json",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let g = r.json();
    assert_eq!(g["root"], "s3://falsimentis-log/");
    let reads = edges(&g, "read");
    assert_eq!(reads.len(), 1168, "one read edge per object downloaded");
    assert!(reads.iter().all(|e| e["to"] == user && e["actor"] == user));
    assert!(reads.iter().all(|e| e["integrity"] == "unverified"));
    // The KMS decrypts of the same objects are part of the evidence of those reads.
    let kms_events = count(
        &db,
        "SELECT count(DISTINCT e.event_id) FROM events e JOIN event_resources er ON er.event = e.id
         JOIN resources r ON r.id = er.resource WHERE e.event_name = 'Decrypt' AND r.type = 'AWS::S3::Object'",
    );
    assert_eq!(kms_events, 566);
    let evidence: usize = reads
        .iter()
        .map(|e| e["event_ids"].as_array().unwrap().len())
        .sum();
    assert!(
        evidence > 1168,
        "decrypt events join the GetObject evidence ({evidence})"
    );
    // Every object of the bucket is part of the prefix.
    assert_eq!(edges(&g, "part_of").len(), 10249);

    // Upstream of one downloaded log file: CloudTrail wrote it.
    let obj = reads[0]["from"].as_str().unwrap().to_string();
    let r = run(&db, &["lineage", &obj, "--upstream", "--format", "json"]);
    let g = r.json();
    let writes = edges(&g, "write");
    assert_eq!(writes.len(), 1);
    assert_eq!(writes[0]["from"], "service:cloudtrail.amazonaws.com");
    assert_eq!(writes[0]["confidence"], "high");
}

#[test]
fn unknown_target_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    ingest(&db, &[&fixtures().join("sample")]);
    let r = run(
        &db,
        &["lineage", "s3://no-such-bucket/key", "--format", "json"],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("no dataset matches"), "{}", r.stderr);
}

type EdgeKey = (String, String, String, Option<String>);

fn edge_map(edges: &[Value]) -> std::collections::BTreeMap<EdgeKey, (String, Vec<String>)> {
    edges
        .iter()
        .filter(|e| e["kind"] != "part_of")
        .map(|e| {
            let mut ids: Vec<String> = e["event_ids"]
                .as_array()
                .map(|a| a.iter().map(|i| i.as_str().unwrap().to_string()).collect())
                .unwrap_or_default();
            ids.sort();
            (
                (
                    e["from"].as_str().unwrap().to_string(),
                    e["to"].as_str().unwrap().to_string(),
                    e["kind"].as_str().unwrap().to_string(),
                    e["actor"].as_str().map(str::to_string),
                ),
                (e["confidence"].as_str().unwrap().to_string(), ids),
            )
        })
        .collect()
}

fn lineage_store() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let r = ingest(&db, &[&fixtures().join("lineage/AWSLogs")]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    (dir, db)
}

/// The hand-designed pipelines of `fixtures/lineage` (README.md there): every query of `expected.json`, written
/// from docs/lineage.md without running trailgraph, must give exactly the expected nodes and edges (kind, actor,
/// confidence and evidence), and none of the edges the traps forbid.
#[test]
fn lineage_fixture_answers_match_the_oracle() {
    let (_dir, db) = lineage_store();
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures().join("lineage/expected.json")).unwrap(),
    )
    .unwrap();
    let queries = expected["queries"].as_array().unwrap();
    assert_eq!(queries.len(), 12);
    let schema = crate::schemas::schema("lineage.schema.json");
    for q in queries {
        let name = q["name"].as_str().unwrap();
        let args: Vec<&str> = q["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        let r = run(&db, &args);
        assert_eq!(r.code, 0, "{name}: {}", r.stderr);
        let g = r.json();
        crate::schemas::check(&g, &schema, name);
        assert_eq!(g["root"], q["root"], "{name}");
        let mut nodes: Vec<&str> = g["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["id"].as_str().unwrap())
            .collect();
        nodes.sort();
        let want_nodes: Vec<&str> = q["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_str().unwrap())
            .collect();
        assert_eq!(nodes, want_nodes, "{name}: nodes");
        assert_eq!(
            edge_map(g["edges"].as_array().unwrap()),
            edge_map(q["edges"].as_array().unwrap()),
            "{name}: edges"
        );
        for a in q["absent_edges"].as_array().unwrap() {
            assert!(
                !g["edges"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|e| e["from"] == a["from"]
                        && e["to"] == a["to"]
                        && e["kind"] == a["kind"]),
                "{name}: forbidden edge {a}"
            );
        }
    }
}

/// Snapshots of the partner-landing answer in every lineage format (JSON, DOT, OpenLineage, table).
#[test]
fn lineage_fixture_snapshots() {
    let (_dir, db) = lineage_store();
    let target = "s3://partner-landing/acme/orders.csv";
    for format in ["json", "dot", "openlineage", "table"] {
        let r = run(
            &db,
            &[
                "lineage",
                target,
                "--upstream",
                "--depth",
                "10",
                "--format",
                format,
            ],
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
        let text = r.stdout.replace(
            &trailgraph::export::openlineage::producer(),
            "https://github.com/trailgraph/trailgraph/tree/vVERSION",
        );
        insta::assert_snapshot!(format!("lineage_partner_{format}"), text);
    }
}

/// The whole graph of the fixture through the real consumers: Graphviz renders the DOT, networkx loads the
/// GraphML with the same nodes and edges as the JSON, and every OpenLineage event validates against the official
/// 2-0-2 schema.
#[test]
fn export_of_the_fixture_renders_loads_and_validates() {
    let (dir, db) = lineage_store();
    let json = run(&db, &["export", "--format", "json"]);
    assert_eq!(json.code, 0, "{}", json.stderr);
    let g = json.json();
    crate::schemas::check(&g, &crate::schemas::schema("lineage.schema.json"), "export");
    assert!(g["root"].is_null());
    let kinds: std::collections::BTreeSet<&str> = g["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    for k in ["read", "write", "copy", "starts", "changed"] {
        assert!(kinds.contains(k), "export has {k} edges: {kinds:?}");
    }

    let dot = run(&db, &["export", "--format", "dot"]);
    let dot_file = dir.path().join("g.dot");
    std::fs::write(&dot_file, &dot.stdout).unwrap();
    let svg = std::process::Command::new("dot")
        .arg("-Tsvg")
        .arg(&dot_file)
        .output()
        .expect("graphviz is a test requirement (.ci/run)");
    assert!(
        svg.status.success(),
        "{}",
        String::from_utf8_lossy(&svg.stderr)
    );
    assert!(String::from_utf8_lossy(&svg.stdout).contains("<svg"));

    let graphml = run(&db, &["export", "--format", "graphml"]);
    let gm = dir.path().join("g.graphml");
    std::fs::write(&gm, &graphml.stdout).unwrap();
    let counts = crate::export::python(
        "import sys, networkx\ng = networkx.read_graphml(sys.argv[1])\nprint(g.number_of_nodes(), g.number_of_edges())",
        &[&gm],
    );
    let nodes = g["nodes"].as_array().unwrap().len();
    let edges = g["edges"].as_array().unwrap().len();
    assert_eq!(counts.trim(), format!("{nodes} {edges}"));

    let ol = run(&db, &["export", "--format", "openlineage"]);
    let olf = dir.path().join("events.jsonl");
    std::fs::write(&olf, &ol.stdout).unwrap();
    let n = crate::export::python(
        r#"
import json, sys
from jsonschema import Draft202012Validator, FormatChecker
spec = json.load(open(sys.argv[1]))
v = Draft202012Validator(spec, format_checker=FormatChecker())
n = 0
for line in open(sys.argv[2]):
    v.validate(json.loads(line)); n += 1
print(n)
"#,
        &[&repo().join("schemas/vendor/OpenLineage-2-0-2.json"), &olf],
    );
    // START and COMPLETE for each job: 3 Glue runs, the Athena query, 2 Redshift statements, 2 Lambda functions.
    assert_eq!(n.trim(), "16", "{}", ol.stdout);
}
