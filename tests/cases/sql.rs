//! `trailgraph sql`: the worked queries of docs/sql.md (read from the markdown, so the docs cannot drift from the
//! tests) with their exact rows, the refusal of every kind of write, the time limit, and output neutralization.

use crate::util::*;
use std::path::{Path, PathBuf};

/// A store of every fixture the queries of docs/sql.md are written against.
fn store(dir: &Path) -> PathBuf {
    let db = dir.join("t.db");
    let f = fixtures();
    let r = ingest(
        &db,
        &[
            &f.join("sample"),
            &f.join("scenario/AWSLogs"),
            &f.join("lineage/AWSLogs"),
            &f.join("federation"),
            &f.join("corpus-samples"),
            &f.join("sql"),
        ],
    );
    assert!(r.code == 0 || r.code == 1, "ingest: {}", r.stderr);
    db
}

/// The SQL code blocks of the "Audit queries" section, in order.
fn doc_queries() -> Vec<String> {
    let md = std::fs::read_to_string(repo().join("docs/sql.md")).unwrap();
    let section = md
        .split("## Audit queries")
        .nth(1)
        .expect("Audit queries section");
    let mut out = Vec::new();
    let mut rest = section;
    while let Some(start) = rest.find("```sql\n") {
        let body = &rest[start + 7..];
        let end = body.find("```").expect("closed code block");
        out.push(body[..end].to_string());
        rest = &body[end + 3..];
    }
    out
}

fn csv(db: &Path, sql: &str) -> Run {
    run(db, &["sql", "--format", "csv", sql])
}

/// Expected rows of queries 2 to 13 (CSV, header first).
const EXPECTED: &[&str] = &[
    // 2
    r#"eventtime,useridentity_type,useridentity_arn,sourceipaddress,result
2024-02-01T08:00:00Z,IAMUser,arn:aws:iam::111122223333:user/dana,198.51.100.7,Success
2024-02-01T09:00:00Z,Root,arn:aws:iam::111122223333:root,203.0.113.50,Success
2024-02-01T09:01:00Z,IAMUser,arn:aws:iam::111122223333:user/dana,203.0.113.51,Failure
"#,
    // 3
    r#"recipientaccountid,calls,first,last,ips
576315002002,39,2024-01-01T00:00:15Z,2024-01-01T00:09:47Z,2
366773468085,18,2024-01-01T00:00:02Z,2024-01-01T00:09:27Z,2
399917767858,4,2024-01-01T00:00:26Z,2024-01-01T00:03:39Z,1
111122223333,1,2024-02-01T09:00:00Z,2024-02-01T09:00:00Z,1
123456789012,1,2015-06-17T00:47:28Z,2015-06-17T00:47:28Z,1
619193117841,1,2016-06-04T12:19:03Z,2016-06-04T12:19:03Z,1
"#,
    // 4
    r#"caller,role,times,first
,arn:aws:iam::111111111111:role/Admin,1,2024-03-01T10:00:00Z
,arn:aws:iam::111111111111:role/someRole,1,2017-12-11T15:04:51Z
arn:aws:iam::111111111111:user/bob,arn:aws:iam::111111111111:role/Admin,1,2024-03-01T10:35:00Z
arn:aws:sts::111111111111:assumed-role/Admin/alice-session,arn:aws:iam::111111111111:role/DataOps,1,2024-03-01T10:02:00Z
"#,
    // 5
    r#"useridentity_arn,denied,actions,services
arn:aws:iam::576315002002:user/bob,12,10,"lambda.amazonaws.com,s3.amazonaws.com,ec2.amazonaws.com,athena.amazonaws.com,glue.amazonaws.com"
arn:aws:iam::576315002002:user/data-eng-bot,9,7,"kms.amazonaws.com,s3.amazonaws.com,sts.amazonaws.com"
arn:aws:iam::576315002002:user/ci-deploy,7,6,"s3.amazonaws.com,ec2.amazonaws.com"
arn:aws:iam::366773468085:user/carol,5,3,"s3.amazonaws.com,sts.amazonaws.com"
arn:aws:iam::366773468085:user/ci-deploy,5,5,"ec2.amazonaws.com,sts.amazonaws.com,s3.amazonaws.com,kms.amazonaws.com"
"#,
    // 6
    r#"sourceipaddress,calls,identities,failed
185.170.40.170,360,12,3
81.108.57.100,356,12,8
52.8.155.101,313,10,9
34.49.81.177,312,8,13
185.121.15.211,311,11,10
"#,
    // 7
    r#"eventtime,eventname,useridentity_arn,bucket,errorcode
2024-03-01T10:05:00Z,PutBucketPolicy,arn:aws:sts::111111111111:assumed-role/DataOps/alice-dataops,scenario-data,
2024-03-01T10:30:00Z,PutBucketPolicy,arn:aws:iam::111111111111:user/mallory,scenario-data,AccessDenied
"#,
    // 8
    r#"eventtime,useridentity_arn,groupid,protocol,fromport,toport
2024-01-01T00:03:58Z,arn:aws:iam::399917767858:user/data-eng-bot,sg-e218be895408fa7f8,tcp,6379,6379
2024-01-01T00:04:07Z,arn:aws:iam::399917767858:user/bob,sg-327749866c03065f7,tcp,3306,3306
2024-01-01T00:05:03Z,arn:aws:iam::576315002002:user/carol,sg-192df5d233804f897,tcp,6379,6379
2024-01-01T00:06:38Z,arn:aws:sts::576315002002:assumed-role/AthenaQueryRole/AthenaQuery-677bd13a2d0e,sg-ee0606e418fa57e47,tcp,22,22
2024-01-01T00:07:23Z,arn:aws:iam::576315002002:user/bob,sg-192df5d233804f897,tcp,6379,6379
2024-01-01T00:07:44Z,arn:aws:sts::576315002002:assumed-role/LambdaExecRole/botocore-session-1704067307017,sg-192df5d233804f897,tcp,80,80
2024-01-01T00:08:01Z,arn:aws:sts::576315002002:assumed-role/AthenaQueryRole/AthenaQuery-6a94bee4a66f,sg-5efd22813c95d0d05,tcp,80,80
2024-01-01T00:09:19Z,arn:aws:iam::576315002002:user/data-eng-bot,sg-ee0606e418fa57e47,tcp,80,80
"#,
    // 9
    r#"eventtime,eventname,useridentity_arn,sourceipaddress,trail
2024-01-01T00:00:02Z,StopLogging,arn:aws:iam::576315002002:user/carol,81.108.57.100,arn:aws:cloudtrail:eu-west-1:576315002002:trail/management-trail
2024-01-01T00:00:36Z,StopLogging,arn:aws:iam::366773468085:user/alice,34.244.50.57,arn:aws:cloudtrail:us-east-1:366773468085:trail/management-trail
2024-01-01T00:01:51Z,StopLogging,arn:aws:iam::399917767858:user/bob,185.3.228.64,arn:aws:cloudtrail:us-east-1:399917767858:trail/management-trail
2024-07-31T12:46:41Z,DeleteTrail,arn:aws:iam::847129010505:user/christophe,08.1.250.216,stratus-red-team-cloudtraild-trail-kvrwohmiai
"#,
    // 10
    r#"integrity,files,events,pct_of_events
unverified,63,3339,100
"#,
    // 11
    r#"bucket,object_reads,objects,first
acme-analytics-2002-ew1,2,2,2024-01-01T00:09:32Z
acme-analytics-2002-ue1,2,2,2024-01-01T00:05:09Z
acme-athena-results-2002-ew1,1,1,2024-01-01T00:07:47Z
acme-curated-2002-ue1,4,4,2024-01-01T00:05:35Z
acme-raw-2002-ew1,3,3,2024-01-01T00:07:40Z
"#,
    // 12
    r#"eventtime,eventname,resource_id,useridentity_arn,human
2024-03-01T10:05:00Z,PutBucketPolicy,scenario-data,arn:aws:sts::111111111111:assumed-role/DataOps/alice-dataops,arn:aws:iam::111111111111:role/Admin
2024-03-01T10:20:00Z,PutBucketEncryption,scenario-data,arn:aws:iam::111111111111:user/bob,
2024-03-01T10:21:00Z,PutBucketPublicAccessBlock,scenario-data,arn:aws:iam::111111111111:user/bob,
"#,
    // 13
    r#"resource_id,capturetime,protocol,fromport,toport
sg-192df5d233804f897,2024-01-01T00:10:15Z,tcp,6379,6379
sg-192df5d233804f897,2024-01-01T00:10:15Z,tcp,80,80
sg-5efd22813c95d0d05,2024-01-01T00:09:43Z,tcp,80,80
sg-ee0606e418fa57e47,2024-01-01T00:10:50Z,tcp,22,22
sg-ee0606e418fa57e47,2024-01-01T00:10:50Z,tcp,80,80
"#,
];

#[test]
fn documented_queries_give_their_rows() {
    let dir = tempfile::tempdir().unwrap();
    let db = store(dir.path());
    let queries = doc_queries();
    assert_eq!(queries.len(), 13, "docs/sql.md has 13 worked queries");

    // 1: the seed's example, exactly as written apart from the table name.
    assert!(
        queries[0].contains("WHERE errorcode IS NOT NULL AND eventtime >= '2023-10-01T00:00:00Z'")
    );
    let r = csv(&db, &queries[0]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(
        lines[0],
        "eventtime,eventsource,eventname,sourceipaddress,errorcode,errormessage"
    );
    assert_eq!(lines.len(), 84, "83 failed calls since 2023-10-01");
    assert_eq!(
        lines[1],
        "2024-01-01T00:00:06Z,s3.amazonaws.com,GetObject,34.244.50.57,AccessDenied,Access Denied"
    );
    assert_eq!(
        lines[83],
        "2024-05-06T12:40:00Z,s3.amazonaws.com,GetObject,192.0.2.44,AccessDenied,Access Denied"
    );
    let failed = count(
        &db,
        "SELECT count(*) FROM events WHERE error_code IS NOT NULL AND event_time >= 1696118400000",
    );
    assert_eq!(failed, 83, "the view shows every failed call of the table");
    let mut times: Vec<&str> = lines[1..].iter().map(|l| &l[..20]).collect();
    let sorted = {
        let mut t = times.clone();
        t.sort();
        t
    };
    assert_eq!(times, sorted);
    times.dedup();

    for (i, (q, want)) in queries[1..].iter().zip(EXPECTED).enumerate() {
        let r = csv(&db, q);
        assert_eq!(r.code, 0, "query {}: {}", i + 2, r.stderr);
        assert_eq!(r.stdout, *want, "query {} of docs/sql.md", i + 2);
    }
}

#[test]
fn writes_are_refused_and_nothing_changes() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    ingest(&db, &[&fixtures().join("scenario/AWSLogs")]);
    let before = dump(&db);
    let other = dir.path().join("other.db");
    let attach = format!("ATTACH DATABASE '{}' AS o", other.display());
    let cases: &[(&str, &str)] = &[
        (
            "INSERT INTO event_rows(id) VALUES (999999)",
            "INSERT into event_rows",
        ),
        // `events` is a view over event_rows and strings: SQLite itself refuses to write it.
        ("DELETE FROM events", "view"),
        (
            "UPDATE sources SET integrity = 'validated'",
            "UPDATE of sources",
        ),
        ("DELETE FROM event_rows", "DELETE from event_rows"),
        ("CREATE TABLE x(a)", "schema change"),
        ("CREATE TEMP VIEW v AS SELECT 1", "schema change"),
        ("DROP VIEW cloudtrail_logs", "schema change"),
        (&attach, "ATTACH"),
        ("DETACH DATABASE main", "DETACH"),
        ("PRAGMA query_only = 0", "PRAGMA query_only = 0"),
        ("PRAGMA journal_mode = DELETE", "PRAGMA journal_mode"),
        ("PRAGMA writable_schema = 1", "PRAGMA writable_schema"),
        ("SELECT load_extension('/tmp/x.so')", "load_extension"),
        ("BEGIN IMMEDIATE", "transaction"),
        ("SAVEPOINT s", "transaction"),
        (
            "WITH x(a) AS (SELECT 1) INSERT INTO principals(key, type) SELECT 'k', 't' FROM x",
            "INSERT into principals",
        ),
        ("REINDEX", "refused"),
        ("ANALYZE", "refused"),
        ("VACUUM", "writes"),
        ("VACUUM INTO '/tmp/trailgraph-vacuum-copy.db'", "writes"),
        ("SELECT 1; DELETE FROM event_rows", "DELETE from event_rows"),
        ("SELECT 1; SELECT 2", "one statement"),
    ];
    for (sql, says) in cases {
        let r = run(&db, &["sql", "--format", "json", sql]);
        assert_eq!(r.code, 2, "{sql} must be refused: {}", r.stdout);
        assert!(r.stderr.contains(says), "{sql}: {}", r.stderr);
        assert!(r.stdout.is_empty(), "{sql}: {}", r.stdout);
    }
    assert!(!other.exists(), "ATTACH created no file");
    assert!(!Path::new("/tmp/trailgraph-vacuum-copy.db").exists());
    assert_eq!(dump(&db), before, "the store is unchanged");
    // Reading pragmas and the schema is allowed.
    let r = run(
        &db,
        &["sql", "--format", "json", "PRAGMA table_info(events)"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run(
        &db,
        &[
            "sql",
            "--format",
            "json",
            "SELECT name FROM pragma_table_info('changes') LIMIT 1",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()[0]["name"], "eventtime");
}

#[test]
fn timeout_stops_a_runaway_query() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    ingest(&db, &[&fixtures().join("scenario/AWSLogs")]);
    let start = std::time::Instant::now();
    let r = run(
        &db,
        &[
            "sql",
            "--timeout",
            "0.5",
            "--format",
            "jsonl",
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c",
        ],
    );
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("time limit"), "{}", r.stderr);
    assert!(start.elapsed() < std::time::Duration::from_secs(20));
}

#[test]
fn formats_and_neutralization() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    ingest(&db, &[&fixtures().join("scenario/AWSLogs")]);
    let q = "SELECT '=cmd|'' /C calc''!A0' AS \"=f\", '-1+2' AS b, '@SUM(A1)' AS c, '+1' AS d, 'ok' AS e, NULL AS n, 7 AS i, char(27) || '[31mred' AS esc";
    let r = run(&db, &["sql", "--format", "csv", q]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.stdout,
        "'=f,b,c,d,e,n,i,esc\n'=cmd|' /C calc'!A0,'-1+2,'@SUM(A1),'+1,ok,,7,\\u{1b}[31mred\n"
    );
    let r = run(&db, &["sql", "--format", "json", q]);
    assert_eq!(r.code, 0);
    let v = r.json();
    assert_eq!(v[0]["=f"], "=cmd|' /C calc'!A0", "JSON is exact");
    assert_eq!(v[0]["n"], serde_json::Value::Null);
    assert_eq!(v[0]["i"], 7);
    assert_eq!(v[0]["esc"], "\u{1b}[31mred");
    let r = run(&db, &["sql", "--format", "table", q]);
    assert!(!r.stdout.contains('\u{1b}'), "no escape reaches a terminal");
    assert!(r.stdout.contains("\\u{1b}[31mred"));
    let r = run(
        &db,
        &[
            "sql",
            "--format",
            "jsonl",
            "SELECT eventid FROM cloudtrail_logs ORDER BY eventid LIMIT 2",
        ],
    );
    assert_eq!(r.stdout.lines().count(), 2);
    // Row limit.
    let r = run(
        &db,
        &[
            "sql",
            "--format",
            "json",
            "--max-rows",
            "3",
            "SELECT eventid FROM cloudtrail_logs",
        ],
    );
    assert_eq!(r.json().as_array().unwrap().len(), 3);
    assert!(r.stderr.contains("first 3 rows"));
    // --file, and an empty result.
    let f = dir.path().join("q.sql");
    std::fs::write(&f, "SELECT eventid FROM cloudtrail_logs WHERE 0;\n").unwrap();
    let r = run(
        &db,
        &["sql", "--file", f.to_str().unwrap(), "--format", "json"],
    );
    assert_eq!(r.stdout, "[]\n");
    // A syntax error is a usage error.
    let r = run(&db, &["sql", "SELEC 1"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("SQL error"), "{}", r.stderr);
}
