//! The real public corpus (`TRAILGRAPH_CORPUS`, e.g. ../shared/corpus): exact counts per source folder.
//! Skipped (with a message) when the variable is unset; fails when it is set and the folder is missing.

use crate::util::*;
use std::path::PathBuf;

fn corpus() -> Option<PathBuf> {
    match std::env::var_os("TRAILGRAPH_CORPUS") {
        None => {
            eprintln!("skipped: TRAILGRAPH_CORPUS is not set");
            None
        }
        Some(p) => {
            let p = PathBuf::from(p);
            assert!(
                p.is_dir(),
                "TRAILGRAPH_CORPUS={} is not a directory",
                p.display()
            );
            Some(p)
        }
    }
}

/// (folder, events, config items, sources, failed files). Failed files are PROVENANCE.md and the files the
/// corpus notes as not being audit data or not being JSON.
const EXPECTED: &[(&str, i64, i64, i64, i64)] = &[
    ("aws-config-rdk", 0, 77, 78, 3),
    ("awsdocs", 37, 12, 57, 13),
    ("cloud-custodian", 25, 29, 83, 1),
    ("invictus-aws-dataset", 2900, 0, 55, 1),
    ("llm-guard-digest", 0, 0, 1, 1),
    ("otrf-security-datasets", 103, 0, 1, 2),
    ("panther-analysis", 344, 0, 1, 9),
    ("plaso", 6, 0, 1, 1),
    ("powertools-lambda-python", 0, 2, 3, 1),
    ("sans504-s3-ransomware-lab", 23981, 0, 3783, 1),
    ("stratus-red-team", 310, 0, 35, 1),
    ("traildiscover", 4, 0, 5, 2),
    ("trailscraper", 3, 0, 2, 1),
];

#[test]
fn every_corpus_folder_ingests_with_exact_counts() {
    let Some(root) = corpus() else { return };
    for (folder, events, items, sources, failed) in EXPECTED {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("t.db");
        let r = ingest(&db, &[&root.join(folder)]);
        assert_ne!(r.code, 101, "{folder}: panic: {}", r.stderr);
        let s = stats(&db);
        let got = (
            s["events"].as_i64().unwrap(),
            s["config_items"].as_i64().unwrap(),
            s["sources"].as_i64().unwrap(),
            s["failed_files"].as_i64().unwrap(),
        );
        assert_eq!(
            got,
            (*events, *items, *sources, *failed),
            "{folder}: (events, config_items, sources, failed_files)"
        );
        assert_eq!(r.code, if *failed > 0 { 1 } else { 0 }, "{folder}");
        // Every failure names its file and says why.
        for f in r.json()["failures"].as_array().unwrap() {
            assert!(!f["reason"].as_str().unwrap().is_empty());
        }
    }
}

#[test]
fn sans_lab_dedups_to_the_distinct_events() {
    let Some(root) = corpus() else { return };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let r = ingest(&db, &[&root.join("sans504-s3-ransomware-lab")]);
    let s = r.json();
    // 30,477 records: 23,981 distinct events; identical files are one source each.
    let records = s["records"].as_i64().unwrap();
    assert_eq!(s["events_new"], 23981);
    // The rest of the 30,477 sit in byte-identical copies of files: one source, read once.
    assert_eq!(records, 30360);
    assert_eq!(s["sources_already_known"], 89);
    assert_eq!(
        s["events_new"].as_i64().unwrap() + s["events_duplicate"].as_i64().unwrap(),
        records
    );
    assert!(count(&db, "SELECT count(*) FROM events WHERE event_source = 's3.amazonaws.com' AND event_category = 'Data'") > 0);
    // Every KMS Decrypt/GenerateDataKey and S3 object call touched a resource.
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM events e WHERE e.event_name IN ('GetObject','PutObject')
                     AND NOT EXISTS (SELECT 1 FROM event_resources r WHERE r.event = e.id)"
        ),
        0
    );
}
