//! Bad input: each broken file gets a one-line message naming it, the rest of the run goes on, exit 1, no panic.

use crate::util::*;
use flate2::write::GzEncoder;
use flate2::Compression;
use std::io::Write;
use std::path::Path;

const GOOD: &str = r#"{"Records":[{"eventVersion":"1.08","eventTime":"2024-01-01T00:00:00Z","eventSource":"s3.amazonaws.com","eventName":"ListBuckets","eventID":"good-1","recipientAccountId":"111122223333","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/alice","accountId":"111122223333","userName":"alice"}}]}"#;

fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn write(dir: &Path, name: &str, data: &[u8]) {
    std::fs::write(dir.join(name), data).unwrap();
}

/// (file name, reason) of each entry of the summary's `failures` or `skipped`.
fn named_reasons(list: &serde_json::Value) -> Vec<(String, String)> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let p = f["path"].as_str().unwrap();
            (
                p.rsplit('/').next().unwrap().to_string(),
                f["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn every_kind_of_bad_file_is_reported_and_the_rest_ingested() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("in");
    std::fs::create_dir(&dir).unwrap();
    let good_gz = gz(GOOD.as_bytes());
    write(&dir, "00-good.json.gz", &good_gz);
    write(&dir, "01-truncated.json.gz", &good_gz[..good_gz.len() / 2]);
    write(&dir, "02-invalid.json", br#"{"Records":[{"eventName": "#);
    write(
        &dir,
        "03-not-json.dat",
        b"this is a plain text file\nwith two lines\n",
    );
    // Documents beside the data are skipped with the reason, not failures (issue 13); a .csv that starts like
    // JSON but is broken is still a failure, and so is the unknown kind of text file above.
    write(
        &dir,
        "README.md",
        b"# Notes\nThese files came from the trail bucket.\n",
    );
    write(
        &dir,
        "events.csv",
        b"time,action,user\n2023-01-01,GetObject,alice\n",
    );
    write(&dir, "04-empty.json", b"");
    write(&dir, "05-empty-array.json", b"[]");
    let mut non_utf8 = GOOD.replacen("alice", "al\u{1}ice", 1).into_bytes();
    let at = non_utf8.iter().position(|b| *b == 1).unwrap();
    non_utf8[at] = 0xff; // an invalid byte inside a string
    write(&dir, "06-non-utf8.json", &non_utf8);
    let deep = format!("{}{}", "[".repeat(200_000), "]".repeat(200_000));
    write(&dir, "07-deep.json", deep.as_bytes());
    let big = GOOD.replace(
        r#""eventID":"good-1""#,
        &format!(
            r#""eventID":"big-1","requestParameters":{{"blob":"{}"}}"#,
            "x".repeat(5 << 20)
        ),
    );
    write(&dir, "08-big-record.json", big.as_bytes());
    // 64 MiB of zeros compresses to about 64 KB: over the 16 MiB limit given below.
    let mut bomb = GzEncoder::new(Vec::new(), Compression::fast());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..64 {
        bomb.write_all(&zeros).unwrap();
    }
    write(&dir, "09-bomb.json.gz", &bomb.finish().unwrap());
    write(&dir, "10-records-not-array.json", br#"{"Records":{}}"#);
    let mut env = r#"{"eventName":"X","eventSource":"s","eventID":"z"}"#.to_string();
    for _ in 0..2000 {
        env = format!(r#"{{"source":"x","detail-type":"y","detail":{env}}}"#);
    }
    write(&dir, "11-deep-envelopes.json", env.as_bytes());
    // Two `Records` keys and a Config array in one object: every copy is read, nothing hidden.
    write(
        &dir,
        "12-duplicate-keys.json",
        br#"{"Records":[{"eventName":"A","eventSource":"s","eventID":"d1","eventTime":"2023-01-01T00:00:00Z"}],"Records":[{"eventName":"B","eventSource":"s","eventID":"d2","eventTime":"2023-01-01T00:00:00Z"}],"configurationItems":[{"resourceType":"AWS::S3::Bucket","resourceId":"b","configurationStateId":1}]}"#,
    );

    let db = tmp.path().join("t.db");
    let r = run(
        &db,
        &[
            "ingest",
            "--format",
            "json",
            "--max-file-size",
            "16M",
            dir.to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 1, "stderr: {}", r.stderr);
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    let s = r.json();
    let reasons = named_reasons(&s["failures"]);
    let expect: [(&str, &str); 7] = [
        ("01-truncated.json.gz", "corrupt or truncated gzip"),
        ("02-invalid.json", "not JSON (invalid JSON)"),
        ("03-not-json.dat", "not JSON (unknown text format)"),
        ("04-empty.json", "file is empty"),
        (
            "09-bomb.json.gz",
            "decompresses to more than 16777216 bytes",
        ),
        ("10-records-not-array.json", "`Records` is not an array"),
        ("11-deep-envelopes.json", "nested more than 12 deep"),
    ];
    assert_eq!(reasons.len(), expect.len(), "{reasons:?}");
    for ((name, reason), (want_name, want_reason)) in reasons.iter().zip(expect) {
        assert_eq!(name, want_name);
        assert!(reason.contains(want_reason), "{name}: {reason}");
        // One line on stderr naming the file.
        assert_eq!(
            r.stderr.lines().filter(|l| l.contains(want_name)).count(),
            1,
            "{}",
            r.stderr
        );
    }
    let skipped = named_reasons(&s["skipped"]);
    assert_eq!(
        skipped,
        [
            (
                "README.md".to_string(),
                "not audit data (a .md file that is not JSON); skipped".to_string()
            ),
            (
                "events.csv".to_string(),
                "not audit data (a .csv file that is not JSON); skipped".to_string()
            )
        ]
    );
    assert_eq!(s["files_skipped"], 2);
    // Good, non-UTF-8 (repaired), and the 5 MB record are stored; the empty array and deep file are sources.
    let st = stats(&db);
    assert_eq!(st["events"], 5);
    assert_eq!(st["config_items"], 1);
    assert_eq!(st["sources"], 6);
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM diagnostics WHERE code = 'duplicate_key'"
        ),
        1
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM diagnostics WHERE code = 'invalid_utf8'"
        ),
        1
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM diagnostics WHERE code = 'no_records'"
        ),
        1
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM diagnostics WHERE code = 'not_an_object' AND record_index = 0"
        ),
        1
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM diagnostics WHERE source_id IS NULL AND severity = 'error'"
        ),
        7
    );
    // The 5 MB record is kept whole.
    let c = rusqlite::Connection::open(&db).unwrap();
    let row: i64 = c
        .query_row("SELECT id FROM events WHERE event_id = 'big-1'", [], |r| {
            r.get(0)
        })
        .unwrap();
    drop(c);
    let store = trailgraph::store::Store::open_read_only(&db).unwrap();
    assert_eq!(
        store.raw_record(row).unwrap().unwrap().len(),
        big.len() - r#"{"Records":[]}"#.len()
    );
}

#[test]
fn strict_turns_record_errors_into_failures() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("mixed.json");
    let mixed = GOOD.replace(r#"}]}"#, r#"},{"foo":1}]}"#);
    std::fs::write(&f, mixed).unwrap();
    let db = tmp.path().join("t.db");
    let lenient = ingest(&db, &[&f]);
    assert_eq!(
        lenient.code, 0,
        "record errors alone are diagnostics: {}",
        lenient.stderr
    );
    assert!(lenient.stderr.contains("record 1"), "{}", lenient.stderr);
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM diagnostics WHERE code = 'not_recognized' AND record_index = 1"
        ),
        1
    );

    let db2 = tmp.path().join("t2.db");
    let strict = run(
        &db2,
        &[
            "ingest",
            "--strict",
            "--format",
            "json",
            f.to_str().unwrap(),
        ],
    );
    assert_eq!(strict.code, 1);
    assert_eq!(stats(&db2)["events"], 0);
    assert_eq!(strict.json()["files_failed"], 1);
}

/// Issue 13: a real folder has a README (or CSV, YAML) beside the data; that is not a failed ingest.
#[test]
fn a_folder_with_a_readme_ingests_cleanly_unless_strict() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("in");
    std::fs::create_dir(&dir).unwrap();
    write(&dir, "trail.json", GOOD.as_bytes());
    write(&dir, "PROVENANCE.md", b"# Where these files come from\n");
    write(&dir, "rules.yml", b"AnalysisType: rule\nEnabled: true\n");
    let db = tmp.path().join("t.db");
    let r = run(&db, &["ingest", "--format", "json", dir.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["files_skipped"], 2);
    assert_eq!(r.json()["files_failed"], 0);
    let st = stats(&db);
    assert_eq!(
        (st["skipped_files"].as_i64(), st["failed_files"].as_i64()),
        (Some(2), Some(0))
    );
    let db2 = tmp.path().join("t2.db");
    let strict = run(
        &db2,
        &[
            "ingest",
            "--strict",
            "--format",
            "json",
            dir.to_str().unwrap(),
        ],
    );
    assert_eq!(strict.code, 1);
    assert_eq!(strict.json()["files_failed"], 2);
    assert_eq!(stats(&db2)["events"], 1);
}

#[test]
fn a_failure_never_loses_what_is_stored() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("a.json");
    std::fs::write(&f, GOOD).unwrap();
    let db = tmp.path().join("t.db");
    assert_eq!(ingest(&db, &[&f]).code, 0);
    // The same path now holds garbage: reported, and the event ingested before is still there.
    std::fs::write(&f, "garbage").unwrap();
    let r = ingest(&db, &[&f]);
    assert_eq!(r.code, 1);
    assert_eq!(stats(&db)["events"], 1);
}
