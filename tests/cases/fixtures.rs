//! Scenario tests over the bundled real samples (`fixtures/corpus-samples`).

use crate::util::*;

#[test]
fn corpus_samples_ingest_with_exact_counts() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let r = ingest(&db, &[&fixtures().join("corpus-samples")]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let summary = r.json();
    assert_eq!(summary["failures"].as_array().unwrap().len(), 0);
    // The gzip delivery file and its plain twin are one source.
    assert_eq!(summary["sources_already_known"], 1);

    let s = stats(&db);
    assert_eq!(s["events"], 45);
    assert_eq!(s["config_items"], 18);
    assert_eq!(s["sources"], 27);
    assert_eq!(s["diagnostics"], 2); // bad_time (Bedrock record without time), oversized item
    assert_eq!(s["failed_files"], 0);
    assert_eq!(s["first_event_time"], "2015-06-17T00:47:28.000Z");
    assert_eq!(s["last_event_time"], "2024-11-30T08:43:18.000Z");
    assert_eq!(s["sources_by_kind"]["cloudtrail_digest"], 1);
    assert_eq!(s["sources_by_kind"]["json_lines"], 2);
    assert_eq!(s["sources_by_kind"]["config_rule_event"], 4);
}

#[test]
fn logstash_lines_use_timestamp_and_lookup_events_use_the_inner_record() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let r = ingest(
        &db,
        &[
            &fixtures().join("corpus-samples/otrf"),
            &fixtures().join("corpus-samples/plaso"),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(count(&db, "SELECT count(*) FROM events"), 26);
    assert_eq!(
        count(&db, "SELECT count(*) FROM events WHERE event_time IS NULL"),
        0
    );
    // OTRF has no eventTime: `@timestamp` 2020-09-14T00:44:23.000Z is the first line's time.
    assert_eq!(
        count(
            &db,
            "SELECT event_time FROM events WHERE event_id = 'fd4f1042-c7f6-4107-a6ee-d841d92596e7'"
        ),
        1600044263000
    );
    // Plaso's outer EventTime is local time (+11:00); the inner record's eventTime is the truth.
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM sources WHERE kind = 'lookup_events' OR kind = 'json_lines'"
        ),
        2
    );
}

#[test]
fn config_items_from_every_shape_land_in_one_table() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let r = ingest(
        &db,
        &[
            &fixtures().join("corpus-samples/aws-config-rdk"),
            &fixtures().join("corpus-samples/aws-config-developer-guide"),
            &fixtures().join("corpus-samples/powertools"),
            &fixtures().join("corpus-samples/cloud-custodian"),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let origins: Vec<(String, i64)> = {
        let c = rusqlite::Connection::open(&db).unwrap();
        let mut st = c
            .prepare("SELECT origin, count(*) FROM config_items GROUP BY origin ORDER BY origin")
            .unwrap();
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    let origins: Vec<(&str, i64)> = origins.iter().map(|(o, n)| (o.as_str(), *n)).collect();
    assert_eq!(
        origins,
        vec![
            ("api", 8),
            ("file", 5),
            ("notification", 2),
            ("oversized", 1),
            ("rule_event", 2)
        ]
    );
    // JSON-in-strings are decoded: the bucket policy text of the RDK S3 item is an object now.
    let policy_is_object = count(
        &db,
        "SELECT count(*) FROM config_items WHERE resource_type = 'AWS::S3::Bucket'
           AND json_type(supplementary, '$.BucketPolicy') = 'object'",
    );
    assert!(policy_is_object >= 1);
    // The Python-repr capture time of the ACM certificate is in the recording machine's zone (`tzlocal()`), which
    // is not UTC (its configurationStateId is 6 hours later): not an instant, so stored without a time.
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM config_items WHERE resource_type = 'AWS::ACM::Certificate' AND capture_time IS NULL"
        ),
        1
    );
    // relatedEvents are kept when present.
    assert!(
        count(
            &db,
            "SELECT count(*) FROM config_items WHERE related_events IS NOT NULL"
        ) >= 1
    );
}

#[test]
fn identities_sessions_and_resources_are_normalized() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let r = ingest(
        &db,
        &[
            &fixtures().join("corpus-samples/stratus"),
            &fixtures().join("corpus-samples/invictus"),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    // GetFederationToken issued a key; the federated user's calls are linked back to the IAM user who asked.
    let linked = count(
        &db,
        "SELECT count(*) FROM sessions s JOIN events e ON e.access_key_id = s.access_key_id
          WHERE s.issue_kind = 'GetFederationToken' AND s.issuer_principal_id IS NOT NULL",
    );
    assert!(linked >= 1, "no federated session linked to its issuer");
    // Trails touched by DeleteTrail resolve to one resource whatever the call named them by.
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM resources WHERE type = 'AWS::CloudTrail::Trail'"
        ),
        1
    );
    let types: i64 = count(&db, "SELECT count(DISTINCT type) FROM principals");
    assert!(types >= 3);
}

#[test]
fn exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    assert_eq!(run(&db, &["ingest", "/definitely/not/here"]).code, 2);
    assert_eq!(run(&db, &["no-such-command"]).code, 2);
    assert_eq!(
        run(&db, &["stats"]).code,
        2,
        "stats on a missing database is an I/O error"
    );
    assert_eq!(run(&db, &["--help"]).code, 0);
}

#[test]
fn hostile_names_are_escaped_on_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let bad = dir.path().join("evil\x1b[31mred\x07.json");
    std::fs::write(&bad, "not json").unwrap();
    let r = ingest(&db, &[&bad]);
    assert_eq!(r.code, 1);
    assert!(
        !r.stderr.contains('\x1b'),
        "raw ESC reached the terminal: {:?}",
        r.stderr
    );
    assert!(
        r.stderr.contains("evil\\u{1b}[31mred\\u{7}.json"),
        "{}",
        r.stderr
    );
}
