//! who-changed and timeline over the generated sample account: schemas, snapshots, ambiguity.

use crate::schemas::{check, schema};
use crate::util::*;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn sample_db(dir: &Path) -> PathBuf {
    let db = dir.join("t.db");
    let r = ingest(&db, &[&fixtures().join("sample")]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    db
}

/// Output with the machine-specific checkout path replaced, for snapshots.
fn portable(s: &str) -> String {
    s.replace(&repo().display().to_string(), "<repo>")
}

#[test]
fn who_changed_a_bucket_json_and_table() {
    let dir = tempfile::tempdir().unwrap();
    let db = sample_db(dir.path());
    let r = run(
        &db,
        &["who-changed", "acme-raw-2002-ue1", "--format", "json"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = r.json();
    check(&v, &schema("who-changed.schema.json"), "who-changed");
    assert_eq!(v["resource"]["arn"], "arn:aws:s3:::acme-raw-2002-ue1");
    let changes = v["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 8);
    // Two calls between the same two captures share an after-state, and say so.
    assert_eq!(changes[0]["event_name"], "PutBucketPolicy");
    assert_eq!(
        changes[0]["same_after_state_as"],
        serde_json::json!(["49e8b4b3-cc69-4e73-9f4f-cef8a336b133"])
    );
    assert_eq!(changes[0]["correlation"], "window");
    // A policy that arrived as a JSON string is diffed as JSON.
    assert!(changes[2]["diff"][0]["path"]
        .as_str()
        .unwrap()
        .starts_with("/supplementaryConfiguration/BucketPolicy/policyText/Statement/"));
    // A role session is followed back to the user who assumed the role.
    assert_eq!(
        changes[3]["actor"]["original_principal_arn"],
        "arn:aws:iam::576315002002:user/ci-deploy"
    );
    insta::assert_snapshot!("who_changed_bucket_json", portable(&r.stdout));
    let t = run(
        &db,
        &[
            "who-changed",
            "arn:aws:s3:::acme-raw-2002-ue1",
            "--format",
            "table",
        ],
    );
    assert_eq!(t.code, 0);
    insta::assert_snapshot!("who_changed_bucket_table", portable(&t.stdout));
    // The same resource by every name: s3://, ARN, AWS::TYPE:NAME.
    for name in [
        "s3://acme-raw-2002-ue1",
        "AWS::S3::Bucket:acme-raw-2002-ue1",
    ] {
        assert_eq!(
            run(&db, &["who-changed", name, "--format", "json"]).json(),
            v,
            "{name}"
        );
    }
    // A window.
    let w = run(
        &db,
        &[
            "who-changed",
            "acme-raw-2002-ue1",
            "--since",
            "2024-01-01T00:06:00Z",
            "--until",
            "2024-01-01T00:07:00Z",
            "--format",
            "json",
        ],
    )
    .json();
    assert_eq!(w["changes"].as_array().unwrap().len(), 2);
}

#[test]
fn ambiguous_and_unknown_names_exit_2_with_candidates() {
    let dir = tempfile::tempdir().unwrap();
    let db = sample_db(dir.path());
    let r = run(&db, &["timeline", "--principal", "bob"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("\"bob\" is ambiguous: it matches 2 principals"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("arn:aws:iam::366773468085:user/bob")
            && r.stderr.contains("arn:aws:iam::576315002002:user/bob")
    );
    let r = run(&db, &["who-changed", "DataPipelineRole"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("is ambiguous"), "{}", r.stderr);
    assert!(
        r.stderr
            .contains("arn:aws:iam::366773468085:role/DataPipelineRole"),
        "{}",
        r.stderr
    );
    assert_eq!(run(&db, &["who-changed", "no-such-bucket"]).code, 2);
    assert_eq!(run(&db, &["timeline"]).code, 2, "a selector is required");
}

#[test]
fn timeline_follows_sessions_back_to_the_user() {
    let dir = tempfile::tempdir().unwrap();
    let db = sample_db(dir.path());
    let user = "arn:aws:iam::576315002002:user/ci-deploy";
    let r = run(&db, &["timeline", "--principal", user, "--format", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = r.json();
    check(&v, &schema("timeline.schema.json"), "timeline");
    let events = v["events"].as_array().unwrap();
    let via_sessions = events.iter().filter(|e| !e["session_of"].is_null()).count();
    assert_eq!((events.len(), via_sessions), (329, 85));
    // Every event once, in time order; every followed event traces back to the user.
    let mut ids: Vec<&str> = events
        .iter()
        .map(|e| e["event_id"].as_str().unwrap())
        .collect();
    let times: Vec<&str> = events.iter().map(|e| e["time"].as_str().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]));
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), events.len());
    assert!(events
        .iter()
        .filter(|e| !e["session_of"].is_null())
        .all(|e| e["actor"]["original_principal_arn"] == user));
    let own = run(
        &db,
        &[
            "timeline",
            "--principal",
            user,
            "--no-follow-sessions",
            "--format",
            "json",
        ],
    )
    .json();
    assert_eq!(own["events"].as_array().unwrap().len(), 244);
    // CSV: one header line plus one line per event, formula-looking cells neutralized.
    let csv = run(&db, &["timeline", "--principal", user, "--format", "csv"]).stdout;
    assert_eq!(csv.lines().count(), 330);
    assert!(csv.starts_with("time,event_id,event_source,event_name,actor_arn"));
}

/// The designed scenarios of `trailgraph-gen --scenarios` (fixtures/scenario): a role chain across two accounts,
/// two calls collapsing into one Config item, a failed attempt, a change with no call, a URL-encoded trust
/// policy, relatedEvents. `expected.json` holds the answers, computed independently of trailgraph.
#[test]
fn scenarios_give_the_expected_answers() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let r = ingest(&db, &[&fixtures().join("scenario/AWSLogs")]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let expected: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures().join("scenario/expected.json")).unwrap(),
    )
    .unwrap();
    let state = |s: &serde_json::Value| {
        s.get("state_id")
            .cloned()
            .unwrap_or(serde_json::Value::Null)
    };
    for (resource, want) in expected["who_changed"].as_object().unwrap() {
        let out = run(&db, &["who-changed", resource, "--format", "json"]);
        assert_eq!(out.code, 0, "{resource}: {}", out.stderr);
        let got = out.json();
        check(&got, &schema("who-changed.schema.json"), resource);
        let changes: Vec<serde_json::Value> = got["changes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                serde_json::json!({
                    "event_id": c["event_id"], "event_name": c["event_name"], "time": c["time"],
                    "actor_arn": c["actor"]["arn"], "original_principal_arn": c["actor"]["original_principal_arn"],
                    "correlation": c["correlation"], "before_state_id": state(&c["before"]), "after_state_id": state(&c["after"]),
                })
            })
            .collect();
        assert_eq!(
            serde_json::Value::Array(changes),
            want["changes"],
            "{resource}: changes"
        );
        let failed: Vec<serde_json::Value> = got["failed_attempts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| serde_json::json!({"event_id": f["event_id"], "event_name": f["event_name"], "error_code": f["error_code"]}))
            .collect();
        assert_eq!(
            serde_json::Value::Array(failed),
            want["failed_attempts"],
            "{resource}: failed attempts"
        );
        let unexplained: Vec<serde_json::Value> = got["unexplained_changes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| serde_json::json!({"before_state_id": state(&u["before"]), "after_state_id": state(&u["after"])}))
            .collect();
        assert_eq!(
            serde_json::Value::Array(unexplained),
            want["unexplained_changes"],
            "{resource}: unexplained"
        );
    }
    for (principal, want) in expected["timeline"].as_object().unwrap() {
        let got = run(
            &db,
            &["timeline", "--principal", principal, "--format", "json"],
        )
        .json();
        check(&got, &schema("timeline.schema.json"), principal);
        let ids: Vec<&serde_json::Value> = got["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| &e["event_id"])
            .collect();
        assert_eq!(
            serde_json::to_value(ids).unwrap(),
            *want,
            "timeline of {principal}"
        );
        // The other account's copy of her cross-account AssumeRole (userIdentity AWSAccount, same
        // sharedEventID) is in her timeline, marked as the copy of her own record (issue 13).
        let copies: Vec<(&str, &str)> = got["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| {
                Some((
                    e["event_id"].as_str()?,
                    e["cross_account_copy_of"].as_str()?,
                ))
            })
            .collect();
        assert_eq!(
            copies,
            [(
                "sc000003-0000-4000-8000-000000000003",
                "sc000002-0000-4000-8000-000000000002"
            )]
        );
    }
    // The other selectors: a stolen session key (with the session it started), an IP, a resource.
    let ids = |args: &[&str]| -> Vec<(String, Option<String>)> {
        let mut a = vec!["timeline"];
        a.extend_from_slice(args);
        a.extend_from_slice(&["--format", "json"]);
        run(&db, &a).json()["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["event_id"].as_str().unwrap()[..8].to_string(),
                    e["session_of"]["access_key_id"]
                        .as_str()
                        .map(str::to_string),
                )
            })
            .collect()
    };
    let k2 = Some("ASIASCENARIO0000002".to_string());
    assert_eq!(
        ids(&["--access-key", "ASIASCENARIO0000001"]),
        vec![
            ("sc000004".into(), None),
            ("sc000005".into(), k2.clone()),
            ("sc000006".into(), k2),
            ("sc000012".into(), None)
        ]
    );
    let only =
        |v: Vec<(String, Option<String>)>| v.into_iter().map(|(id, _)| id).collect::<Vec<_>>();
    assert_eq!(
        only(ids(&[
            "--access-key",
            "ASIASCENARIO0000001",
            "--no-follow-sessions"
        ])),
        ["sc000004", "sc000012"]
    );
    assert_eq!(
        only(ids(&["--ip", "203.0.113.20"])),
        ["sc000007", "sc000008", "sc000010", "sc000011", "sc000013"]
    );
    assert_eq!(
        only(ids(&["--resource", "sg-0scenario0000001"])),
        ["sc000011"]
    );
    // Selectors combine: bob's calls from that IP before 10:45.
    assert_eq!(
        only(ids(&[
            "--principal",
            "arn:aws:iam::111111111111:user/bob",
            "--ip",
            "203.0.113.20",
            "--until",
            "2024-03-01T10:45:00Z"
        ])),
        ["sc000007", "sc000008", "sc000010", "sc000011"]
    );
    // The trust policy arrives URL-encoded in Config and is diffed as JSON.
    let role = run(&db, &["who-changed", "DataOps", "--format", "json"]).json();
    let path = role["changes"][0]["diff"][0]["path"].as_str().unwrap();
    assert!(
        path.starts_with("/configuration/assumeRolePolicyDocument/"),
        "{path}"
    );
    let table = run(&db, &["who-changed", "scenario-data", "--format", "table"]);
    insta::assert_snapshot!("who_changed_scenario_table", portable(&table.stdout));
}

/// Sessions from federation: SAML (AssumeRoleWithSAML), Identity Center (`onBehalfOf`), web identity
/// (AssumeRoleWithWebIdentity) are followed back to the federated user (fixtures/federation, hand-written).
#[test]
fn federated_sessions_lead_back_to_the_federated_user() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    assert_eq!(ingest(&db, &[&fixtures().join("federation")]).code, 0);
    let v = run(&db, &["who-changed", "fed-bucket", "--format", "json"]).json();
    check(&v, &schema("who-changed.schema.json"), "federation");
    let got: Vec<(&str, &str, &str)> = v["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["event_name"].as_str().unwrap(),
                c["actor"]["original_principal_arn"].as_str().unwrap(),
                c["actor"]["original_principal_type"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                "DeleteBucketPolicy",
                "saml:arn:aws:iam::333333333333:saml-provider/Okta/dave@corp.example",
                "SAMLUser"
            ),
            (
                "PutBucketAcl",
                "identitycenter:arn:aws:identitystore::333333333333:identitystore/d-1234/u-1234",
                "IdentityCenterUser"
            ),
            (
                "PutBucketTagging",
                "webidentity:accounts.google.com/1234567890",
                "WebIdentityUser"
            ),
        ]
    );
    // The SAML user's timeline includes the role session it obtained.
    let t = run(
        &db,
        &[
            "timeline",
            "--principal",
            "saml:arn:aws:iam::333333333333:saml-provider/Okta/dave@corp.example",
            "--format",
            "json",
        ],
    )
    .json();
    let names: Vec<&str> = t["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["AssumeRoleWithSAML", "DeleteBucketPolicy"]);
    // An IAM Identity Center user by the user name a log shows (the SSO session name), and the session by its ARN
    // as logged (issue 13).
    for who in [
        "erin",
        "arn:aws:sts::333333333333:assumed-role/AWSReservedSSO_ReadOnly_def/erin",
    ] {
        let t = run(&db, &["timeline", "--principal", who, "--format", "json"]).json();
        let got: Vec<&str> = t["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["event_name"].as_str().unwrap())
            .collect();
        assert_eq!(got, ["PutBucketAcl"], "{who}");
    }
}

/// One CloudTrail record of account 444444444444 (us-east-1).
fn record(
    n: u32,
    time: &str,
    identity: Value,
    name: &str,
    request: Value,
    response: Value,
) -> Value {
    serde_json::json!({
        "eventVersion": "1.09", "userIdentity": identity, "eventTime": time,
        "eventSource": if name == "AssumeRole" { "sts.amazonaws.com" } else { "s3.amazonaws.com" },
        "eventName": name, "awsRegion": "us-east-1", "sourceIPAddress": "198.51.100.7",
        "userAgent": "aws-cli/2.15.30", "requestParameters": request, "responseElements": response,
        "requestID": format!("req-{n}"), "eventID": format!("0000000{n}-0000-4000-8000-000000000000"),
        "readOnly": name != "AssumeRole" && name.starts_with("List"), "eventType": "AwsApiCall",
        "managementEvent": true, "recipientAccountId": "444444444444", "eventCategory": "Management"
    })
}

fn session_identity(role: &str, name: &str, key: &str, created: &str) -> Value {
    serde_json::json!({
        "type": "AssumedRole", "principalId": format!("AROAWINDOW{role}:{name}"),
        "arn": format!("arn:aws:sts::444444444444:assumed-role/{role}/{name}"),
        "accountId": "444444444444", "accessKeyId": key,
        "sessionContext": {
            "sessionIssuer": {"type": "Role", "principalId": format!("AROAWINDOW{role}"),
                "arn": format!("arn:aws:iam::444444444444:role/{role}"), "accountId": "444444444444",
                "userName": role},
            "attributes": {"creationDate": created, "mfaAuthenticated": "false"}
        }
    })
}

fn assume(
    n: u32,
    time: &str,
    who: Value,
    role: &str,
    name: &str,
    key: &str,
    expires: &str,
) -> Value {
    record(
        n,
        time,
        who,
        "AssumeRole",
        serde_json::json!({"roleArn": format!("arn:aws:iam::444444444444:role/{role}"),
            "roleSessionName": name, "durationSeconds": 3600}),
        serde_json::json!({
            "credentials": {"accessKeyId": key, "expiration": expires, "sessionToken": "x"},
            "assumedRoleUser": {"assumedRoleId": format!("AROAWINDOW{role}:{name}"),
                "arn": format!("arn:aws:sts::444444444444:assumed-role/{role}/{name}")}
        }),
    )
}

/// A timeline window follows only sessions that can have acted in it, judged by their expiration, yet still
/// reaches a chained session whose parent expired before the window (docs/correlation.md).
#[test]
fn a_window_follows_a_chain_through_a_parent_that_expired_before_it() {
    let alice = serde_json::json!({"type": "IAMUser", "principalId": "AIDAWINDOWALICE",
        "arn": "arn:aws:iam::444444444444:user/alice", "accountId": "444444444444",
        "accessKeyId": "AKIAWINDOWALICE00001", "userName": "alice"});
    let list = |n, time: &str, who: Value| {
        record(
            n,
            time,
            who,
            "ListBuckets",
            serde_json::json!({"Host": "s3.amazonaws.com"}),
            Value::Null,
        )
    };
    let records = vec![
        // An old session: issued at 06:00, expired at 07:00, long before the window.
        assume(
            1,
            "2024-03-01T06:00:00Z",
            alice.clone(),
            "Old",
            "old",
            "ASIAWINDOWOLD0000001",
            "Mar 1, 2024, 7:00:00 AM",
        ),
        list(
            2,
            "2024-03-01T06:30:00Z",
            session_identity("Old", "old", "ASIAWINDOWOLD0000001", "2024-03-01T06:00:00Z"),
        ),
        // The parent: issued at 10:00, expires at 11:00, 10 minutes before the window opens.
        assume(
            3,
            "2024-03-01T10:00:00Z",
            alice.clone(),
            "Parent",
            "p",
            "ASIAWINDOWPARENT0001",
            "Mar 1, 2024, 11:00:00 AM",
        ),
        // Just before it expires, it chains into a child that lives until 11:59.
        assume(
            4,
            "2024-03-01T10:59:00Z",
            session_identity(
                "Parent",
                "p",
                "ASIAWINDOWPARENT0001",
                "2024-03-01T10:00:00Z",
            ),
            "Child",
            "c",
            "ASIAWINDOWCHILD00001",
            "Mar 1, 2024, 11:59:00 AM",
        ),
        list(
            5,
            "2024-03-01T11:30:00Z",
            session_identity("Child", "c", "ASIAWINDOWCHILD00001", "2024-03-01T10:59:00Z"),
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("window.json");
    std::fs::write(
        &path,
        serde_json::to_vec(&serde_json::json!({"Records": records})).unwrap(),
    )
    .unwrap();
    let db = dir.path().join("t.db");
    assert_eq!(ingest(&db, &[&path]).code, 0);
    let events = |since: &str| -> Vec<(String, String, Option<String>)> {
        let t = run(
            &db,
            &[
                "timeline",
                "--principal",
                "alice",
                "--since",
                since,
                "--until",
                "2024-03-01T12:00:00Z",
                "--format",
                "json",
            ],
        );
        assert_eq!(t.code, 0, "{}", t.stderr);
        t.json()["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["time"].as_str().unwrap().to_string(),
                    e["event_name"].as_str().unwrap().to_string(),
                    e["session_of"]["access_key_id"]
                        .as_str()
                        .map(str::to_string),
                )
            })
            .collect()
    };
    let child = Some("ASIAWINDOWCHILD00001".to_string());
    assert_eq!(
        events("2024-03-01T11:10:00Z"),
        [(
            "2024-03-01T11:30:00.000Z".to_string(),
            "ListBuckets".to_string(),
            child.clone()
        )]
    );
    assert_eq!(
        events("2024-03-01T10:30:00Z"),
        [
            (
                "2024-03-01T10:59:00.000Z".to_string(),
                "AssumeRole".to_string(),
                Some("ASIAWINDOWPARENT0001".to_string())
            ),
            (
                "2024-03-01T11:30:00.000Z".to_string(),
                "ListBuckets".to_string(),
                child
            ),
        ]
    );
    // The whole morning: every session, the old one included.
    assert_eq!(events("2024-03-01T00:00:00Z").len(), 5);
}

/// Query commands map the whole store, not only its first 2 GB: the bundled SQLite caps the map at build time, and
/// `.cargo/config.toml` raises the cap (docs/performance.md). A store of a year's trail is tens of GB; past the cap,
/// every page read would be a read call and a copy.
#[test]
fn read_only_stores_are_mapped_whole() {
    let dir = tempfile::tempdir().unwrap();
    let db = sample_db(dir.path());
    let store = trailgraph::store::Store::open_read_only(&db).unwrap();
    let mapped: i64 = store
        .conn()
        .query_row("PRAGMA mmap_size", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        mapped,
        1 << 40,
        "SQLite was built without LIBSQLITE3_FLAGS from .cargo/config.toml (run cargo from the repository)"
    );
}
