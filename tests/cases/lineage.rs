//! Lineage on real data (the SANS lab corpus) and on the hand-designed pipelines of `fixtures/lineage`.

use crate::util::*;
use serde_json::Value;

fn edges<'a>(g: &'a Value, kind: &str) -> Vec<&'a Value> {
    g["edges"].as_array().unwrap().iter().filter(|e| e["kind"] == kind).collect()
}

/// The SANS lab: CloudTrail delivers its own log files into `falsimentis-log`, and the attacker, signed in as the
/// IAM user FalsimentisRoot, downloads 1,168 of them; KMS decrypts name the objects they read.
#[test]
fn sans_lab_downloads_and_deliveries() {
    let Some(root) = crate::corpus::corpus() else { return };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    ingest(&db, &[&root.join("sans504-s3-ransomware-lab")]);
    let user = "arn:aws:iam::342082656213:user/FalsimentisRoot";

    let r = run(&db, &["lineage", "s3://falsimentis-log/", "--downstream", "--format", "json"]);
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
    let evidence: usize = reads.iter().map(|e| e["event_ids"].as_array().unwrap().len()).sum();
    assert!(evidence > 1168, "decrypt events join the GetObject evidence ({evidence})");
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
    let r = run(&db, &["lineage", "s3://no-such-bucket/key", "--format", "json"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("no dataset matches"), "{}", r.stderr);
}
