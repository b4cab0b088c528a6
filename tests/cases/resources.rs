//! Resources of every service (docs/ingest.md, Resources): calls found by who-changed through resources the
//! generated table names, LookupEvents' `Resources` list, and typed ids holding `:` and `/`.

use super::util::{ingest, run};
use serde_json::{json, Value};

fn record(id: &str, source: &str, name: &str, params: Value, response: Value) -> Value {
    json!({
        "eventVersion": "1.08",
        "userIdentity": {"type": "IAMUser", "principalId": "AIDAEXAMPLE", "arn": "arn:aws:iam::111122223333:user/mallory",
                         "accountId": "111122223333", "accessKeyId": "AKIAEXAMPLE", "userName": "mallory"},
        "eventTime": "2024-08-01T12:38:06Z", "eventSource": source, "eventName": name, "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.9", "userAgent": "test", "requestParameters": params,
        "responseElements": response, "requestID": format!("req-{id}"), "eventID": id, "readOnly": false,
        "eventType": "AwsApiCall", "managementEvent": true, "recipientAccountId": "111122223333"
    })
}

#[test]
fn who_changed_finds_calls_on_resources_of_every_service() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    let lb =
        "arn:aws:elasticloadbalancing:us-east-1:111122223333:loadbalancer/app/web/50dc6c495c0c9188";
    let queue = "https://sqs.us-east-1.amazonaws.com/111122223333/jobs";
    let trail = json!({"Records": [
        // Sharing a snapshot with another account (the shape of stratus-red-team's rds-share-snapshot).
        record("e1", "rds.amazonaws.com", "ModifyDBSnapshotAttribute",
               json!({"attributeName": "restore", "dBSnapshotIdentifier": "exfiltration", "valuesToAdd": ["999988887777"]}),
               json!({"dBSnapshotIdentifier": "exfiltration"})),
        record("e2", "elasticloadbalancing.amazonaws.com", "ModifyLoadBalancerAttributes",
               json!({"loadBalancerArn": lb, "attributes": [{"key": "deletion_protection.enabled", "value": "false"}]}),
               Value::Null),
        record("e3", "sqs.amazonaws.com", "SetQueueAttributes",
               json!({"queueUrl": queue, "attributes": {"Policy": "{}"}}), Value::Null),
    ]});
    std::fs::write(logs.join("trail.json"), trail.to_string()).unwrap();
    // A LookupEvents page: the record names no volume; the item's Resources list does (in its own case).
    let inner = record(
        "e4",
        "ec2.amazonaws.com",
        "ModifyVolume",
        json!({"modifyVolumeRequest": {}}),
        Value::Null,
    );
    let page = json!({"Events": [{"EventId": "e4", "EventName": "ModifyVolume", "CloudTrailEvent": inner.to_string(),
        "Resources": [{"ResourceType": "AWS::EC2::VOLUME", "ResourceName": "vol-0abc"}]}]});
    std::fs::write(logs.join("lookup.json"), page.to_string()).unwrap();
    let db = dir.path().join("t.db");
    let r = ingest(&db, &[&logs]);
    assert_eq!(r.code, 0, "{}", r.stderr);

    for (query, key, event) in [
        (
            "exfiltration",
            "AWS::RDS::DBSnapshot|111122223333|us-east-1|exfiltration".to_string(),
            "e1",
        ),
        // Its ARN (a shape of the IAM reference: `snapshot:${SnapshotName}`) names the same resource.
        (
            "arn:aws:rds:us-east-1:111122223333:snapshot:exfiltration",
            "AWS::RDS::DBSnapshot|111122223333|us-east-1|exfiltration".to_string(),
            "e1",
        ),
        (
            &format!("AWS::ElasticLoadBalancingV2::LoadBalancer:{lb}"),
            format!("AWS::ElasticLoadBalancingV2::LoadBalancer|111122223333|us-east-1|{lb}"),
            "e2",
        ),
        (
            &format!("AWS::SQS::Queue:{queue}"),
            // Keyed by name, as its ARN is; the URL (Config's resourceId) is an alias.
            "AWS::SQS::Queue|111122223333|us-east-1|jobs".to_string(),
            "e3",
        ),
        (
            "AWS::EC2::Volume:vol-0abc",
            "AWS::EC2::Volume|111122223333|us-east-1|vol-0abc".to_string(),
            "e4",
        ),
        (
            "aws::ec2::volume:vol-0abc",
            "AWS::EC2::Volume|111122223333|us-east-1|vol-0abc".to_string(),
            "e4",
        ),
    ] {
        let w = run(&db, &["who-changed", query, "--format", "json"]);
        assert_eq!(w.code, 0, "{query}: {}", w.stderr);
        let j = w.json();
        assert_eq!(j["resource"]["key"], key.as_str(), "{query}");
        assert_eq!(j["changes"][0]["event_id"], event, "{query}: {j}");
    }
}
