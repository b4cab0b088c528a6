//! The answer as a graph (docs/lineage.md, "Paths, chokepoints, cycles and consumers" and "Exports that leave
//! nothing out"), on the hand-designed pipelines of `fixtures/lineage` (README.md there). The expected answers
//! below were reasoned from that README and the docs before running trailgraph.

use crate::util::*;
use serde_json::Value;

const R2: &str = "s3://acme-raw/orders/2024/05/06/08/orders-stream-1-2024-05-06-08-15-27-ed4443e9-8f25-4e86-b596-10d15352091f";
const GLUE_A: &str =
    "glue_job_run:jr_cd0bea42a12c058e2b7eb0f999b168a8215dab0f7dc22ddd09bbe1c1f45d4cc7";
const ATHENA: &str = "athena_query:a42278b5-0cd4-4502-937b-400fc5d18359";
const COPY: &str = "redshift_statement:478a1416-4e26-46c3-b2a4-113e5ddcb090";
const UNLOAD: &str = "redshift_statement:c13a40bb-6bfc-49b9-bc29-79fe8a029205";
const TABLE: &str = "redshift://acme-dw.us-east-1:5439/dev.public.orders";
const P0: &str = "s3://acme-curated/orders/dt=2024-05-06/part-0000.parquet";
const P1: &str = "s3://acme-curated/orders/dt=2024-05-06/part-0001.parquet";
const EXPORT: &str = "s3://acme-export/orders/2024-05-06/0000_part_00";
const PARTNER: &str = "arn:aws:sts::111122223333:assumed-role/PartnerRead/partner-etl";
const ERIN: &str = "arn:aws:iam::111122223333:user/erin";
const CAROL: &str = "arn:aws:iam::111122223333:user/carol";

fn store() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let r = ingest(&db, &[&fixtures().join("lineage/AWSLogs")]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    (dir, db)
}

fn answer(db: &std::path::Path, args: &[&str]) -> Value {
    let r = run(db, args);
    assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
    let g = r.json();
    crate::schemas::check(
        &g,
        &crate::schemas::schema("lineage.schema.json"),
        &args.join(" "),
    );
    g
}

/// The answer's chokepoints as (node, direction, of).
fn chokepoints(g: &Value) -> Vec<(&str, &str, u64)> {
    g["chokepoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["node"].as_str().unwrap(),
                c["direction"].as_str().unwrap(),
                c["of"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn strs(v: &Value) -> Vec<&str> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect()
}

/// R2 is read only by Glue run A: everyone downstream got it through that run. Its consumers are the run, the
/// Athena query and both Redshift statements over the curated parts, the partner (a person of account C in a
/// role of A), erin (whose KMS Decrypt of the export is the only trace of her read: the data stopped there) and
/// carol (who copied part-0000 to the archive and the archive onwards).
#[test]
fn the_consumers_of_a_raw_object_and_the_run_they_all_got_it_through() {
    let (_dir, db) = store();
    let g = answer(&db, &["lineage", R2, "--consumers", "--format", "json"]);
    let consumers = g["consumers"].as_array().unwrap();
    let got: Vec<(&str, bool)> = consumers
        .iter()
        .map(|c| {
            (
                c["actor"].as_str().unwrap(),
                c["terminal"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (GLUE_A, false),
            (ATHENA, false),
            (COPY, false),
            (UNLOAD, false),
            (PARTNER, false),
            (ERIN, true),
            (CAROL, false),
        ],
        "{consumers:#?}"
    );
    let by = |id: &str| consumers.iter().find(|c| c["actor"] == id).unwrap();
    let partner = by(PARTNER);
    assert_eq!(
        partner["person"],
        "arn:aws:iam::444455556666:user/partner-etl"
    );
    assert_eq!(partner["account"], "111122223333");
    assert_eq!(partner["other_account"], true);
    assert_eq!(strs(&partner["datasets"]), [EXPORT]);
    let erin = by(ERIN);
    assert_eq!(erin["other_account"], false);
    assert_eq!(erin["outside"], false);
    assert_eq!(
        strs(&erin["path"]),
        [R2, GLUE_A, P0, COPY, TABLE, UNLOAD, EXPORT, ERIN]
    );
    assert_eq!(
        strs(&by(CAROL)["datasets"]),
        ["s3://acme-archive/2024/part-0000.parquet", P0]
    );
    assert_eq!(strs(&by(COPY)["datasets"]), [P0, P1]);
    // Who started the run is its principal; the person is that principal (an IAM user).
    assert_eq!(
        by(GLUE_A)["principal"],
        "arn:aws:iam::111122223333:user/alice"
    );
    assert_eq!(by(GLUE_A)["person"], "arn:aws:iam::111122223333:user/alice");
    assert_eq!(strs(&by(GLUE_A)["datasets"]), [R2]);

    let choke = chokepoints(&g);
    assert_eq!(choke, [(GLUE_A, "downstream", 7)]);

    // The table leads with the consumers and names the chokepoint.
    let t = run(&db, &["lineage", R2, "--consumers", "--format", "table"]);
    assert_eq!(t.code, 0, "{}", t.stderr);
    let consumers_at = t.stdout.find("consumers (7):").expect(&t.stdout);
    assert!(consumers_at < t.stdout.find("edges (").unwrap());
    assert!(t
        .stdout
        .contains(&format!("{GLUE_A} (glue_job_run): every path")));
    assert!(t.stdout.contains("[other account]"), "{}", t.stdout);
    assert!(t.stdout.contains("[end of the data]"), "{}", t.stdout);
}

/// Every path of data from R2: through each curated part to the Athena results, the Redshift table and on to the
/// export prefix, the export object (read by erin, copied on by the partner), and, for part-0000 only, the archive
/// and the cold copy. Eleven paths; each respects time.
#[test]
fn every_path_from_an_ingestion_point_to_its_consumers() {
    let (_dir, db) = store();
    let g = answer(
        &db,
        &["lineage", R2, "--downstream", "--paths", "--format", "json"],
    );
    let paths = g["paths"].as_array().unwrap();
    let nodes: Vec<Vec<&str>> = paths.iter().map(|p| strs(&p["nodes"])).collect();
    assert_eq!(nodes.len(), 11, "{nodes:#?}");
    assert!(g.get("paths_truncated").is_none());
    let erin = paths
        .iter()
        .find(|p| strs(&p["nodes"]) == [R2, P0, TABLE, EXPORT, ERIN])
        .unwrap_or_else(|| panic!("{nodes:#?}"));
    assert_eq!(erin["consumer"], ERIN);
    assert_eq!(erin["confidence"], "low", "the Decrypt is low");
    let steps = erin["steps"].as_array().unwrap();
    assert_eq!(
        steps
            .iter()
            .map(|s| (s["kind"].as_str().unwrap(), s["actor"].as_str().unwrap()))
            .collect::<Vec<_>>(),
        [
            ("derived", GLUE_A),
            ("derived", COPY),
            ("derived", UNLOAD),
            ("read", ERIN)
        ]
    );
    assert!(nodes.contains(&vec![
        R2,
        P0,
        "s3://acme-archive/2024/part-0000.parquet",
        "s3://acme-cold/part-0000.parquet"
    ]));
    assert!(nodes.contains(&vec![
        R2,
        P1,
        TABLE,
        EXPORT,
        "s3://partner-landing/acme/orders.csv"
    ]));
    assert!(!nodes
        .iter()
        .any(|p| p.contains(&P1) && p.iter().any(|n| n.contains("archive"))));
    for p in paths {
        let steps = p["steps"].as_array().unwrap();
        for w in steps.windows(2) {
            assert!(
                w[1]["last_time"].as_str() >= w[0]["time"].as_str(),
                "a step ends before the previous began: {p:#}"
            );
        }
    }
    // Bounded by --limit.
    let g = answer(
        &db,
        &[
            "lineage",
            R2,
            "--downstream",
            "--paths",
            "--limit",
            "3",
            "--format",
            "json",
        ],
    );
    // The limit bounds the walk's edges too: the answer is a part of the lineage, and says so.
    assert!(g["paths"].as_array().unwrap().len() <= 3);
    assert_eq!(g["truncated"], true);
}

/// Upstream of the export object, every ingestion point (the Firehose objects R1 and R2, and the prefix the COPY
/// names) reached it through the COPY statement, the Redshift table and the UNLOAD statement.
#[test]
fn upstream_chokepoints_of_the_export() {
    let (_dir, db) = store();
    let g = answer(&db, &["lineage", EXPORT, "--format", "json"]);
    let choke = chokepoints(&g);
    assert_eq!(
        choke,
        [
            (TABLE, "upstream", 3),
            (COPY, "upstream", 3),
            (UNLOAD, "upstream", 3)
        ]
    );
    assert!(g.get("cycles").is_none(), "no cycle in these pipelines");
}

/// DOT ranks nodes in topological order: Graphviz lays the pipeline out left to right.
#[test]
fn dot_reads_left_to_right() {
    let (_dir, db) = store();
    let dot = run(&db, &["lineage", R2, "--downstream", "--format", "dot"]);
    assert_eq!(dot.code, 0, "{}", dot.stderr);
    // Our ids: `nK [label=..., tooltip="ID\n..."`.
    let mut ids = std::collections::HashMap::new();
    for line in dot.stdout.lines() {
        let line = line.trim_start();
        if let (Some(sp), Some(t)) = (line.find(' '), line.find("tooltip=\"")) {
            if line.starts_with('n') && line[..sp].chars().skip(1).all(|c| c.is_ascii_digit()) {
                let rest = &line[t + 9..];
                let end = rest.find(['"', '\\']).unwrap();
                ids.insert(rest[..end].to_string(), line[..sp].to_string());
            }
        }
    }
    let chain = [R2, GLUE_A, P0, COPY, TABLE, UNLOAD, EXPORT, ERIN];
    for w in chain.windows(2) {
        assert!(
            dot.stdout
                .contains(&format!("{} -> {} ", ids[w[0]], ids[w[1]])),
            "an edge {w:?}"
        );
    }
    // The rank groups follow the chain.
    let rank_of = |id: &str| -> usize {
        let n = &ids[id];
        dot.stdout
            .lines()
            .find(|l| l.contains("rank=same") && l.split([' ', ';']).any(|w| w == n))
            .and_then(|l| l.rsplit("// rank ").next())
            .and_then(|r| r.trim().parse().ok())
            .unwrap()
    };
    let ranks: Vec<usize> = chain.iter().map(|c| rank_of(c)).collect();
    assert!(ranks.windows(2).all(|w| w[0] < w[1]), "{ranks:?}");
    assert_eq!(ranks[0], 0);
    if !require_tool(&DOT) {
        return;
    }
    let plain = graphviz(&dot.stdout, "plain");
    let x = |id: &str| -> f64 {
        let n = &ids[id];
        plain
            .lines()
            .find_map(|l| {
                let mut w = l.split(' ');
                (w.next() == Some("node") && w.next() == Some(n.as_str()))
                    .then(|| w.next().unwrap().parse().unwrap())
            })
            .unwrap()
    };
    let xs: Vec<f64> = chain.iter().map(|c| x(c)).collect();
    assert!(xs.windows(2).all(|w| w[0] < w[1]), "left to right: {xs:?}");
}

/// The AWS documentation's Athena query has no data call in the trail; the export still has it, with who started
/// it and the output location its request names (marked as named by the request).
#[test]
fn export_has_every_started_unit_of_work() {
    let Some(root) = crate::corpus::corpus() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    ingest(&db, &[&root.join("awsdocs")]);
    let g = answer(&db, &["export", "--format", "json"]);
    let q = "athena_query:b621c254-74e0-48e3-9630-78ed857782f9";
    let node = g["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["id"] == q)
        .unwrap_or_else(|| panic!("{q} missing from the export"));
    assert_eq!(node["properties"]["data_calls_in_trail"], false);
    let edges = g["edges"].as_array().unwrap();
    let starts: Vec<&Value> = edges
        .iter()
        .filter(|e| e["to"] == q && e["kind"] == "starts")
        .collect();
    assert_eq!(starts.len(), 1);
    assert_eq!(starts[0]["from"], "arn:aws:iam::123456789012:user/johndoe");
    let named: Vec<&Value> = edges
        .iter()
        .filter(|e| e["from"] == q && e["named_by_request"] == true)
        .collect();
    assert_eq!(named.len(), 1, "{named:#?}");
    assert_eq!(named[0]["kind"], "write");
    assert!(
        named[0]["to"].as_str().unwrap().starts_with("s3://"),
        "{named:#?}"
    );
    // `lineage QUERY-ID` answers the same.
    let l = answer(&db, &["lineage", q, "--format", "json"]);
    assert!(l["edges"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["from"] == q && e["named_by_request"] == true));
}

/// Object versions (`fixtures/versions`, README.md there): every query of `expected.json`, written from
/// docs/lineage.md without running trailgraph, gives exactly the expected root, nodes, edges (kind, actor,
/// confidence, evidence), cycles and none of the trap edges; a bare key lists its versions.
#[test]
fn object_versions_answer_as_written_down() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let r = ingest(&db, &[&fixtures().join("versions/AWSLogs")]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures().join("versions/expected.json")).unwrap(),
    )
    .unwrap();
    let queries = expected["queries"].as_array().unwrap();
    assert_eq!(queries.len(), 7);
    let key = |e: &Value| {
        (
            e["from"].as_str().unwrap().to_string(),
            e["to"].as_str().unwrap().to_string(),
            e["kind"].as_str().unwrap().to_string(),
            e["actor"].as_str().map(str::to_string),
            e["confidence"].as_str().unwrap().to_string(),
            e["event_ids"].to_string(),
        )
    };
    for q in queries {
        let name = q["name"].as_str().unwrap();
        let args = strs(&q["args"]);
        let g = answer(&db, &args);
        assert_eq!(g["root"], q["root"], "{name}");
        let mut nodes: Vec<&str> = g["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["id"].as_str().unwrap())
            .collect();
        nodes.sort();
        assert_eq!(nodes, strs(&q["nodes"]), "{name}: nodes");
        let mut got: Vec<_> = g["edges"].as_array().unwrap().iter().map(key).collect();
        let mut want: Vec<_> = q["edges"].as_array().unwrap().iter().map(key).collect();
        got.sort();
        want.sort();
        assert_eq!(got, want, "{name}: edges");
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
        let cycles = g.get("cycles").cloned().unwrap_or(Value::Array(vec![]));
        assert_eq!(cycles, q["cycles"], "{name}: cycles");
        if let Some(v) = expected["versions"].get(q["root"].as_str().unwrap()) {
            assert_eq!(&g["versions"], v, "{name}: versions");
        }
    }
    // A version id the store does not know is an unknown target (exit 2), not an empty answer.
    let r = run(
        &db,
        &[
            "lineage",
            "s3://acme-ref/reference/fx_rates.json?versionId=nope",
            "--format",
            "json",
        ],
    );
    assert_eq!(r.code, 2, "{}", r.stdout);
    // The export names each version by its id too, and OpenLineage datasets follow.
    let g = answer(&db, &["export", "--format", "json"]);
    let ids: Vec<&str> = g["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(
        &"s3://acme-ref/reference/fx_rates.json?versionId=Zp2Tn8Rk5Wq1Xc7Vb3Mh9Lj4Gd6Sf0Ae"
    ));
    assert!(
        !ids.contains(&"s3://acme-ref/reference/fx_rates.json"),
        "{ids:?}"
    );
}

/// Snapshots of the blast radius and the paths of R2, in JSON and as the table shows them.
#[test]
fn consumers_and_paths_snapshots() {
    let (_dir, db) = store();
    for (name, args) in [
        (
            "consumers_json",
            vec!["lineage", R2, "--consumers", "--format", "json"],
        ),
        (
            "consumers_table",
            vec!["lineage", R2, "--consumers", "--format", "table"],
        ),
        (
            "paths_json",
            vec!["lineage", EXPORT, "--paths", "--format", "json"],
        ),
        (
            "paths_table",
            vec!["lineage", EXPORT, "--paths", "--format", "table"],
        ),
    ] {
        let r = run(&db, &args);
        assert_eq!(r.code, 0, "{name}: {}", r.stderr);
        insta::assert_snapshot!(format!("lineage_r2_{name}"), r.stdout);
    }
}
