//! The generated sample account (`fixtures/sample`): CloudTrail and Config for the same resources.

use crate::util::*;

#[test]
fn sample_account_both_sides_meet_on_the_same_resources() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let r = ingest(&db, &[&fixtures().join("sample")]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let s = stats(&db);
    insta::assert_json_snapshot!("sample_stats", s);
    // Config states and calls land on the same canonical resources: buckets, security groups, IAM roles.
    let met: Vec<(String, i64)> = {
        let c = rusqlite::Connection::open(&db).unwrap();
        let mut st = c
            .prepare(
                "SELECT r.type, count(*) FROM resources r
                  WHERE EXISTS (SELECT 1 FROM config_items c WHERE c.resource = r.id)
                    AND EXISTS (SELECT 1 FROM event_resources e WHERE e.resource = r.id)
                  GROUP BY r.type ORDER BY r.type",
            )
            .unwrap();
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    let met: Vec<(&str, i64)> = met.iter().map(|(t, n)| (t.as_str(), *n)).collect();
    assert_eq!(
        met,
        vec![
            // 16 since RunInstances names the groups it launches into (groupSet.items[] of the request and
            // response, from the generated resource table): three groups had no other call.
            ("AWS::EC2::SecurityGroup", 16),
            ("AWS::IAM::Role", 12),
            ("AWS::S3::Bucket", 24)
        ]
    );
    // Every AssumeRole session used later is linked to the call that issued it and to its caller.
    assert_eq!(
        count(&db, "SELECT count(*) FROM sessions WHERE issue_kind = 'AssumeRole' AND issuer_principal_id IS NULL"),
        0
    );
    assert!(count(&db, "SELECT count(*) FROM sessions s WHERE s.issued_by_event IS NOT NULL AND s.principal_id IS NOT NULL") > 0);
}

#[test]
fn broken_pipe_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    ingest(&db, &[&fixtures().join("sample")]);
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("trailgraph"))
        .args(["--db", db.to_str().unwrap(), "stats", "--format", "json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // the reader goes away at once
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
