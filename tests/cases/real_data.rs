//! Issue 13: the defects found on real public data, each tested on the real records that showed it
//! (`TRAILGRAPH_CORPUS`). Expected answers are read from the raw files here, independently of trailgraph's parser.

use crate::corpus::corpus;
use crate::util::*;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;

fn store_of(folder: &Path) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let r = ingest(&db, &[folder]);
    assert_ne!(r.code, 101, "panic: {}", r.stderr);
    (dir, db)
}

fn event_ids(timeline: &Value) -> BTreeSet<String> {
    timeline["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_id"].as_str().unwrap().to_string())
        .collect()
}

/// The eventIDs of the records in `dir` whose `userIdentity` field `field` is `value`.
fn logged_ids(dir: &Path, field: &str, value: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for f in std::fs::read_dir(dir).unwrap() {
        let p = f.unwrap().path();
        if p.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let v: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
        for r in v["Records"].as_array().unwrap() {
            if r["userIdentity"][field].as_str() == Some(value) {
                out.insert(r["eventID"].as_str().unwrap().to_string());
            }
        }
    }
    out
}

/// Defect 3: the session ARN and principalId a responder copies from a log select that session's events.
#[test]
fn timeline_accepts_principals_as_logged() {
    let Some(root) = corpus() else { return };
    let folder = root.join("invictus-aws-dataset");
    let (_d, db) = store_of(&folder);
    let files = folder.join("CloudTrail");
    let session = "arn:aws:sts::123837392027:assumed-role/stratus-red-team-ec2-get-password-data-role/aws-go-sdk-1688990082523310002";
    let want = logged_ids(&files, "arn", session);
    assert_eq!(want.len(), 29);
    for (form, value) in [
        ("session ARN", session),
        (
            "principalId",
            "AROATFQR7NSCWWVLB7BES:aws-go-sdk-1688990082523310002",
        ),
    ] {
        let r = run(
            &db,
            &[
                "timeline",
                "--principal",
                value,
                "--no-follow-sessions",
                "--format",
                "json",
            ],
        );
        assert_eq!(r.code, 0, "{form}: {}", r.stderr);
        assert_eq!(event_ids(&r.json()), want, "{form}");
    }
    // The role ARN still answers for every session of the role; an access key id given as a principal is a key.
    let role = run(
        &db,
        &[
            "timeline",
            "--principal",
            "arn:aws:iam::123837392027:role/stratus-red-team-ec2-get-password-data-role",
            "--format",
            "json",
        ],
    );
    assert!(event_ids(&role.json()).is_superset(&want));
    let mut keys = BTreeSet::new();
    for f in std::fs::read_dir(&files).unwrap() {
        let v: Value = serde_json::from_slice(&std::fs::read(f.unwrap().path()).unwrap()).unwrap();
        for r in v["Records"].as_array().unwrap() {
            if r["userIdentity"]["arn"].as_str() == Some(session) {
                keys.insert(
                    r["userIdentity"]["accessKeyId"]
                        .as_str()
                        .unwrap()
                        .to_string(),
                );
            }
        }
    }
    let key = keys.iter().next().unwrap();
    let by_key = run(
        &db,
        &[
            "timeline",
            "--principal",
            key,
            "--no-follow-sessions",
            "--format",
            "json",
        ],
    );
    assert_eq!(by_key.code, 0, "{}", by_key.stderr);
    assert_eq!(
        event_ids(&by_key.json()),
        logged_ids(&files, "accessKeyId", key)
    );
}

/// Defect 2: panther's rule tests reuse eventID 1111 for a ModifyImageAttribute that succeeded and attempts
/// refused with UnauthorizedOperation; the refused ones must not disappear behind the success.
#[test]
fn same_event_id_with_other_content_is_a_variant() {
    let Some(root) = corpus() else { return };
    let folder = root.join("panther-analysis");
    let (_d, db) = store_of(&folder);
    let text = std::fs::read_to_string(folder.join("panther_cloudtrail_rule_tests.jsonl")).unwrap();
    let mut want: BTreeSet<Option<String>> = BTreeSet::new();
    for line in text.lines() {
        let r: Value = serde_json::from_str(line).unwrap();
        if r["eventID"] == "1111" && r["eventName"] == "ModifyImageAttribute" {
            want.insert(r["errorCode"].as_str().map(str::to_string));
        }
    }
    assert_eq!(want.len(), 2, "a success and a refused attempt");
    let r = run(
        &db,
        &[
            "sql",
            "--format",
            "json",
            "SELECT DISTINCT errorcode FROM cloudtrail_logs WHERE eventid = '1111' AND eventname = 'ModifyImageAttribute'",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let got: BTreeSet<Option<String>> = r
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["errorcode"].as_str().map(str::to_string))
        .collect();
    assert_eq!(got, want);
}

/// Defect 2, the other side: byte-identical re-deliveries (the SANS lab delivers 6,496 twice) stay one event.
#[test]
fn identical_redeliveries_stay_one_event() {
    let Some(root) = corpus() else { return };
    let (_d, db) = store_of(&root.join("sans504-s3-ransomware-lab"));
    assert_eq!(
        count(&db, "SELECT count(*) FROM events WHERE variant > 0"),
        0
    );
}

/// Defect 5: CloudTrail Insights events are ingested and shown with their API, state and baseline.
#[test]
fn insights_events_are_in_the_timeline() {
    let Some(root) = corpus() else { return };
    let folder = root.join("awsdocs/aws-cloudtrail-user-guide");
    let (_d, db) = store_of(&folder);
    let r = run(&db, &["timeline", "--insights", "--format", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let t = r.json();
    let ev = t["events"].as_array().unwrap();
    let example = ev
        .iter()
        .find(|e| e["event_id"] == "EXAMPLE8-9621-4d00-b913-beca2EXAMPLE")
        .expect("the Start event of the log-file example");
    assert_eq!(example["event_source"], "ssm.amazonaws.com");
    assert_eq!(example["event_name"], "UpdateInstanceInformation");
    assert_eq!(example["insight"]["state"], "Start");
    assert_eq!(example["insight"]["insight_type"], "ApiCallRateInsight");
    assert_eq!(example["insight"]["baseline_average"], 85.4202380952);
    assert_eq!(example["insight"]["insight_average"], 664.0);
    assert!(ev.iter().all(|e| e["insight"].is_object()));
}

/// Defect 1: a change notification carries the change; with one stored state, who-changed rebuilds the state
/// before it from the diff's previous values and reports the change (the EC2 instance example of AWS's Config
/// developer guide: its network interface and security group changed).
#[test]
fn notification_diff_gives_the_state_before() {
    let Some(root) = corpus() else { return };
    let folder = root.join("awsdocs/aws-config-developer-guide");
    let (_d, db) = store_of(&folder);
    let r = run(
        &db,
        &[
            "who-changed",
            "AWS::EC2::Instance:i-007d374c8912e3e90",
            "--format",
            "json",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let w = r.json();
    let u = &w["unexplained_changes"].as_array().unwrap()[0];
    assert_eq!(u["change_type"], "UPDATE");
    assert_eq!(u["before"]["source"], "notification_diff");
    assert_eq!(u["after"]["source"], "config_item");
    // Before: the network interface the diff says was deleted, with its old security group.
    assert_eq!(
        u["before"]["configuration"]["networkInterfaces"][0]["networkInterfaceId"],
        "eni-fde9493f"
    );
    assert_eq!(
        u["before"]["configuration"]["networkInterfaces"][0]["groups"][0]["groupId"],
        "sg-c8b141b4"
    );
    assert!(!u["diff"].as_array().unwrap().is_empty());
    // The relationships the diff lists are a relationship change.
    let rel = &w["relationship_changes"].as_array().unwrap()[0];
    assert!(rel["removed"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["resourceId"] == "sg-c8b141b4"));

    // A CREATE notification: the resource was created; there was no state before.
    let sg = run(
        &db,
        &[
            "who-changed",
            "AWS::EC2::SecurityGroup:sg-3f1fef43",
            "--format",
            "json",
        ],
    );
    let sg = sg.json();
    let created = &sg["unexplained_changes"].as_array().unwrap()[0];
    assert_eq!(created["change_type"], "CREATE");
    assert_eq!(created["before"], Value::Null);
}

/// Defect 3: a federated user's calls (GetFederationToken) carry `session_of` like role sessions, and the
/// federated-user ARN as logged selects them (Stratus Red Team's sts-federation-token detonation).
#[test]
fn federated_user_calls_come_through_their_session() {
    let Some(root) = corpus() else { return };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let file = root.join("stratus-red-team/aws.persistence.sts-federation-token.json");
    assert_eq!(ingest(&db, &[&file]).code, 0);
    let records: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    let fed = records
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["userIdentity"]["type"] == "FederatedUser")
        .unwrap();
    let user = run(
        &db,
        &[
            "timeline",
            "--principal",
            "arn:aws:iam::742491224508:user/stratus-red-team-user-federation-user",
            "--format",
            "json",
        ],
    )
    .json();
    let got: Vec<(&str, Option<&str>)> = user["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["event_name"].as_str().unwrap(),
                e["session_of"]["access_key_id"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("GetFederationToken", None),
            (
                "GetCallerIdentity",
                fed["userIdentity"]["accessKeyId"].as_str()
            )
        ]
    );
    let by_arn = run(
        &db,
        &[
            "timeline",
            "--principal",
            fed["userIdentity"]["arn"].as_str().unwrap(),
            "--format",
            "json",
        ],
    )
    .json();
    assert_eq!(
        event_ids(&by_arn),
        BTreeSet::from([fed["eventID"].as_str().unwrap().to_string()])
    );
}

/// Defect 2, representation: the same real record delivered to S3, returned by LookupEvents (the record as a
/// `CloudTrailEvent` string) and by CloudTrail Lake (columns, JSON ones as strings, another time format) is one
/// event; the same record with an errorCode added is a variant.
#[test]
fn one_event_across_s3_lookup_events_and_lake() {
    let Some(root) = corpus() else { return };
    let file = root.join(
        "trailscraper/111111111111_CloudTrail_eu-central-1_20171211T1505Z_A6kvhMoVeCsc7v8U.json",
    );
    let v: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    let rec = v["Records"][0].clone();
    let dir = tempfile::tempdir().unwrap();
    let lookup = serde_json::json!({"Events": [{
        "EventId": rec["eventID"], "EventName": rec["eventName"],
        "CloudTrailEvent": rec.to_string()
    }]});
    let mut cells = Vec::new();
    for (k, val) in rec.as_object().unwrap() {
        let cell = match (k.as_str(), val) {
            ("eventTime", Value::String(t)) => {
                Value::String(t.replace('T', " ").replace('Z', ".000"))
            }
            (_, Value::Object(_) | Value::Array(_)) => Value::String(val.to_string()),
            (_, Value::Bool(b)) => Value::String(b.to_string()),
            _ => val.clone(),
        };
        cells.push(serde_json::json!({ k: cell }));
    }
    let lake = serde_json::json!({"QueryResultRows": [cells]});
    let mut denied = rec.clone();
    denied["errorCode"] = "AccessDenied".into();
    for (name, doc) in [
        ("a-lookup.json", lookup),
        ("b-lake.json", lake),
        ("c-denied.json", serde_json::json!({ "Records": [denied] })),
    ] {
        std::fs::write(dir.path().join(name), doc.to_string()).unwrap();
    }
    // The store inside the folder being ingested: its own files are not read as input.
    let db = dir.path().join("t.db");
    let r = ingest(&db, &[&file, dir.path()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.json()["files_seen"],
        4,
        "the store's own files are not input"
    );
    let id = rec["eventID"].as_str().unwrap();
    let rows = |sql: &str| count(&db, &sql.replace("ID", id));
    assert_eq!(rows("SELECT count(*) FROM events WHERE event_id = 'ID'"), 2);
    assert_eq!(
        rows("SELECT count(*) FROM events WHERE event_id = 'ID' AND error_code = 'AccessDenied' AND variant = 1"),
        1
    );
    // The first event has its three deliveries: S3, LookupEvents, Lake.
    assert_eq!(
        rows("SELECT count(*) FROM event_deliveries d JOIN events e ON e.id = d.event WHERE e.event_id = 'ID' AND e.variant = 0"),
        2
    );
}

/// Object versions on real records (panther-analysis): two records share the event id of one `CopyObject` onto
/// `example-bucket/example-object` (variants of one call). One call makes one version, so the key keeps its bare id,
/// lists no versions, and every node id is unique. Who wrote it is read from the raw file here.
#[test]
fn variants_of_one_write_are_one_version() {
    let Some(root) = corpus() else {
        return;
    };
    let file = root.join("panther-analysis/panther_cloudtrail_rule_tests.jsonl");
    let mut writers = BTreeSet::new();
    let mut ids = BTreeSet::new();
    for line in std::fs::read_to_string(&file).unwrap().lines() {
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let recs: Vec<&Value> = match v.get("Records").and_then(Value::as_array) {
            Some(a) => a.iter().collect(),
            None => vec![&v],
        };
        for r in recs {
            let p = &r["requestParameters"];
            if r["eventName"] == "CopyObject"
                && r.get("errorCode").is_none_or(Value::is_null)
                && p["bucketName"] == "example-bucket"
                && p["key"] == "example-object"
            {
                writers.insert(r["userIdentity"]["arn"].as_str().unwrap().to_string());
                ids.insert(r["eventID"].as_str().unwrap().to_string());
            }
        }
    }
    assert_eq!(ids.len(), 1, "one call: {ids:?}");
    assert_eq!(writers.len(), 2, "logged twice, by {writers:?}");
    let (_dir, db) = store_of(file.parent().unwrap());
    let r = run(
        &db,
        &[
            "lineage",
            "s3://example-bucket/example-object",
            "--format",
            "json",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let g = r.json();
    assert!(g.get("versions").is_none(), "{g:#}");
    let nodes: Vec<&str> = g["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap())
        .collect();
    let unique: BTreeSet<&str> = nodes.iter().copied().collect();
    assert_eq!(unique.len(), nodes.len(), "{nodes:?}");
    let wrote: BTreeSet<&str> = g["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "write" && e["to"] == "s3://example-bucket/example-object")
        .map(|e| e["from"].as_str().unwrap())
        .collect();
    assert_eq!(wrote, writers.iter().map(String::as_str).collect());
}
