//! Crash safety: a run killed at any moment, then run again, gives the same store as one clean run.

use crate::util::*;
use flate2::write::GzEncoder;
use flate2::Compression;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

/// Writes `files` delivery files of `per_file` records each in the S3 key layout.
fn make_tree(root: &Path, files: usize, per_file: usize) {
    for f in 0..files {
        let dir = root.join(format!(
            "AWSLogs/111122223333/CloudTrail/us-east-1/2024/01/{:02}",
            1 + f % 28
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let mut records = Vec::with_capacity(per_file);
        for i in 0..per_file {
            // Every 50th record is re-delivered in the next file, as CloudTrail does.
            let n = if i % 50 == 0 && f > 0 {
                (f - 1) * per_file + i
            } else {
                f * per_file + i
            };
            records.push(serde_json::json!({
                "eventVersion": "1.08",
                "userIdentity": {"type": "AssumedRole", "principalId": "AROAEXAMPLE:s", "arn": format!("arn:aws:sts::111122223333:assumed-role/Loader/s{}", n % 7),
                    "accountId": "111122223333", "accessKeyId": format!("ASIAEXAMPLE{}", n % 7),
                    "sessionContext": {"sessionIssuer": {"type": "Role", "arn": "arn:aws:iam::111122223333:role/Loader", "accountId": "111122223333", "userName": "Loader"}}},
                "eventTime": format!("2024-01-{:02}T{:02}:{:02}:00Z", 1 + f % 28, n % 24, n % 60),
                "eventSource": "s3.amazonaws.com", "eventName": if n % 3 == 0 { "PutObject" } else { "GetObject" },
                "awsRegion": "us-east-1", "sourceIPAddress": "10.0.0.1", "userAgent": "aws-cli/2",
                "requestParameters": {"bucketName": "data", "key": format!("k/{}.csv", n % 1000)},
                "responseElements": null, "requestID": format!("R{n}"), "eventID": format!("00000000-0000-4000-8000-{n:012}"),
                "readOnly": n % 3 != 0, "eventType": "AwsApiCall", "managementEvent": false,
                "recipientAccountId": "111122223333", "eventCategory": "Data"
            }));
        }
        let body = serde_json::json!({ "Records": records }).to_string();
        let mut e = GzEncoder::new(Vec::new(), Compression::fast());
        e.write_all(body.as_bytes()).unwrap();
        let name = format!(
            "111122223333_CloudTrail_us-east-1_20240101T{:04}Z_{f:016}.json.gz",
            f % 2400
        );
        std::fs::write(dir.join(name), e.finish().unwrap()).unwrap();
    }
}

#[test]
fn killed_midway_then_rerun_equals_one_clean_run() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("bucket");
    make_tree(&data, 240, 400);

    let clean = tmp.path().join("clean.db");
    let r = ingest(&clean, &[&data]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let clean_dump = dump(&clean);

    // Kill before the first commit, right after the first commit, and once more than half the files are in.
    for (label, min_sources) in [
        ("before any commit", 0i64),
        ("after the first commit", 1),
        ("past half", 121),
    ] {
        let db = tmp.path().join(format!("killed-{min_sources}.db"));
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("trailgraph"))
            .arg("--db")
            .arg(&db)
            .arg("ingest")
            .arg("-q")
            .arg(&data)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn trailgraph");
        let started = Instant::now();
        if min_sources == 0 {
            std::thread::sleep(Duration::from_millis(100));
        } else {
            while started.elapsed() < Duration::from_secs(60) && child.try_wait().unwrap().is_none()
            {
                let n = rusqlite::Connection::open(&db)
                    .and_then(|c| {
                        c.query_row("SELECT count(*) FROM sources", [], |r| r.get::<_, i64>(0))
                    })
                    .unwrap_or(0);
                if n >= min_sources {
                    break;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        let finished_early = child.try_wait().unwrap().is_some();
        child.kill().ok(); // SIGKILL: no chance to clean up
        child.wait().unwrap();
        let partial = if db.exists() {
            committed(&db, "SELECT count(*) FROM sources")
        } else {
            0
        };
        eprintln!("killed {label} after {:?}: {partial} sources committed (finished early: {finished_early})", started.elapsed());
        assert!(
            !finished_early,
            "the run finished before it could be killed {label}"
        );
        // Whatever was committed is whole: every committed source has all its events' rows.
        if db.exists() {
            assert_eq!(
                committed(
                    &db,
                    "SELECT count(*) FROM sources s WHERE events_new + events_duplicate <> records"
                ),
                0,
                "a half-written source"
            );
        }
        let rerun = ingest(&db, &[&data]);
        assert_eq!(rerun.code, 0, "{}", rerun.stderr);
        assert_eq!(
            dump(&db),
            clean_dump,
            "killed {label} + rerun differs from a clean run"
        );
    }
}

/// A count over a store a killed run left behind: 0 when the kill came before the schema was committed (the
/// file exists, its tables do not yet).
fn committed(db: &Path, sql: &str) -> i64 {
    if count(
        db,
        "SELECT count(*) FROM sqlite_master WHERE name = 'sources'",
    ) > 0
    {
        count(db, sql)
    } else {
        0
    }
}
