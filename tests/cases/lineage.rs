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
/// 2-0-2 schema. Each consumer's check is skipped when it is missing, and fails under `CI=true` (docs/testing.md).
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
    assert_eq!(dot.code, 0, "{}", dot.stderr);
    if require_tool(&DOT) {
        assert!(graphviz(&dot.stdout, "svg").contains("<svg"));
    }

    let graphml = run(&db, &["export", "--format", "graphml"]);
    assert_eq!(graphml.code, 0, "{}", graphml.stderr);
    if require_tool(&NETWORKX) {
        let gm = dir.path().join("g.graphml");
        std::fs::write(&gm, &graphml.stdout).unwrap();
        let counts = crate::export::python(
            "import sys, networkx\ng = networkx.read_graphml(sys.argv[1])\nprint(g.number_of_nodes(), g.number_of_edges())",
            &[&gm],
        );
        let nodes = g["nodes"].as_array().unwrap().len();
        let edges = g["edges"].as_array().unwrap().len();
        assert_eq!(counts.trim(), format!("{nodes} {edges}"));
    }

    let ol = run(&db, &["export", "--format", "openlineage"]);
    assert_eq!(ol.code, 0, "{}", ol.stderr);
    if !require_tool(&JSONSCHEMA) {
        return;
    }
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

/// The AWS documentation's real Athena and Redshift Data API records: a query or statement whose data calls are not
/// in the trail is still an answer: the run and who started it, with the call as evidence.
#[test]
fn awsdocs_athena_query_and_redshift_statement() {
    let Some(root) = crate::corpus::corpus() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    ingest(&db, &[&root.join("awsdocs")]);
    for (id, node, principal, event) in [
        (
            "b621c254-74e0-48e3-9630-78ed857782f9",
            "athena_query:b621c254-74e0-48e3-9630-78ed857782f9",
            "arn:aws:iam::123456789012:user/johndoe",
            "c97cf8c8-6112-467a-8777-53bb38f83fd5",
        ),
        (
            "5c52b37b-9e07-40c1-98de-12ccd1419be7",
            "redshift_statement:5c52b37b-9e07-40c1-98de-12ccd1419be7",
            "arn:aws:sts::123456789012:user/janedoe",
            "c1fb7076-102f-43e5-9ec9-40820bcc1175",
        ),
    ] {
        let r = run(&db, &["lineage", id, "--format", "json"]);
        assert_eq!(r.code, 0, "{id}: {}", r.stderr);
        let g = r.json();
        assert_eq!(g["root"], node);
        let starts = edges(&g, "starts");
        assert_eq!(starts.len(), 1, "{id}");
        assert_eq!(starts[0]["from"], principal);
        assert_eq!(starts[0]["to"], node);
        assert_eq!(starts[0]["event_ids"], serde_json::json!([event]));
        assert_eq!(starts[0]["confidence"], "high");
    }
}

/// A Glue table as the target: the objects under the location its CreateTable names roll up to it, with their
/// upstream (the three Glue runs that wrote them, and who started each).
#[test]
fn glue_table_target_rolls_up_its_location() {
    let (_dir, db) = lineage_store();
    let r = run(
        &db,
        &[
            "lineage",
            "analytics.orders",
            "--upstream",
            "--format",
            "json",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let g = r.json();
    let table = "arn:aws:glue:us-east-1:111122223333:table/analytics/orders";
    assert_eq!(g["root"], table);
    let root = g["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["id"] == table)
        .unwrap();
    assert_eq!(root["properties"]["location"], "s3://acme-curated/orders/");
    let mut parts: Vec<&str> = edges(&g, "part_of")
        .iter()
        .map(|e| e["from"].as_str().unwrap())
        .collect();
    parts.sort();
    assert_eq!(
        parts,
        (0..4)
            .map(|i| format!("s3://acme-curated/orders/dt=2024-05-06/part-000{i}.parquet"))
            .collect::<Vec<_>>()
    );
    let mut runs: Vec<&str> = edges(&g, "starts")
        .iter()
        .map(|e| e["to"].as_str().unwrap())
        .collect();
    runs.sort();
    runs.dedup();
    assert_eq!(runs.len(), 3);
    assert!(runs.iter().all(|r| r.starts_with("glue_job_run:jr_")));
    // The same answer for the table's other names.
    for name in ["analytics/orders", table] {
        let other = run(&db, &["lineage", name, "--upstream", "--format", "json"]).json();
        assert_eq!(other, g, "{name}");
    }
}

/// After `verify`, answers carry each event's integrity: timeline events (JSON field and table mark) are validated.
#[test]
fn timeline_events_carry_the_verify_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let tree = fixtures().join("integrity/tree");
    ingest(&db, &[&tree]);
    let alice = "arn:aws:iam::111111111111:user/alice";
    let before = run(&db, &["timeline", "--principal", alice, "--format", "json"]).json();
    let events = before["events"].as_array().unwrap();
    assert_eq!(events.len(), 9);
    assert!(events.iter().all(|e| e["integrity"] == "unverified"));
    let keys = fixtures().join("integrity/public-keys.json");
    let v = run(
        &db,
        &[
            "verify",
            tree.to_str().unwrap(),
            "--public-keys",
            keys.to_str().unwrap(),
            "--format",
            "json",
        ],
    );
    assert_eq!(v.code, 0, "{}", v.stderr);
    let after = run(&db, &["timeline", "--principal", alice, "--format", "json"]).json();
    crate::schemas::check(
        &after,
        &crate::schemas::schema("timeline.schema.json"),
        "timeline",
    );
    for e in after["events"].as_array().unwrap() {
        assert_eq!(e["integrity"], "validated", "{e}");
        assert_eq!(e["evidence"][0]["integrity"], "validated");
    }
    let table = run(
        &db,
        &["timeline", "--principal", alice, "--format", "table"],
    );
    assert_eq!(
        table.stdout.lines().filter(|l| l.starts_with("✓ ")).count(),
        9,
        "{}",
        table.stdout
    );
}

/// A DynamoDB export to S3 copies the table to the prefix its request names (high: the log names both ends).
#[test]
fn dynamodb_export_copies_the_table_to_its_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let logs = dir.path().join("export.json");
    let record = serde_json::json!({"Records": [{
        "eventVersion": "1.09",
        "userIdentity": {"type": "IAMUser", "principalId": "AIDAEXAMPLE", "arn": "arn:aws:iam::111122223333:user/frank",
                         "accountId": "111122223333", "accessKeyId": "AKIAEXAMPLEFRANK0001", "userName": "frank"},
        "eventTime": "2024-05-06T16:00:00Z", "eventSource": "dynamodb.amazonaws.com",
        "eventName": "ExportTableToPointInTime", "awsRegion": "us-east-1", "sourceIPAddress": "198.51.100.7",
        "userAgent": "aws-cli/2.15.0",
        "requestParameters": {"tableArn": "arn:aws:dynamodb:us-east-1:111122223333:table/customers",
                              "s3Bucket": "acme-exports", "s3Prefix": "ddb/customers", "exportFormat": "DYNAMODB_JSON"},
        "responseElements": {"exportDescription": {"exportArn": "arn:aws:dynamodb:us-east-1:111122223333:table/customers/export/01715011200000-abcd1234",
                                                   "exportStatus": "IN_PROGRESS"}},
        "requestID": "R1", "eventID": "5b0b1e4e-0000-4000-8000-00000000e001", "readOnly": false,
        "eventType": "AwsApiCall", "managementEvent": true, "recipientAccountId": "111122223333",
        "eventCategory": "Management"
    }]});
    std::fs::write(&logs, record.to_string()).unwrap();
    assert_eq!(ingest(&db, &[&logs]).code, 0);
    let table = "arn:aws:dynamodb:us-east-1:111122223333:table/customers";
    let r = run(&db, &["lineage", table, "--downstream", "--format", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let g = r.json();
    let copies = edges(&g, "copy");
    assert_eq!(copies.len(), 1, "{g}");
    assert_eq!(copies[0]["from"], table);
    assert_eq!(copies[0]["to"], "s3://acme-exports/ddb/customers/");
    assert_eq!(copies[0]["actor"], "arn:aws:iam::111122223333:user/frank");
    assert_eq!(copies[0]["confidence"], "high");
    assert_eq!(
        copies[0]["event_ids"],
        serde_json::json!(["5b0b1e4e-0000-4000-8000-00000000e001"])
    );
}
