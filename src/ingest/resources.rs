//! Which resources a call touched, and how: from `resources[]`, `requestParameters` and `responseElements` (and
//! the `Resources` list of a LookupEvents item, `listed`).
//!
//! Where each service names its resources comes from the generated table `ingest::resource_table` (derived from
//! AWS's API models and the IAM Service Authorization Reference by `tools/gen_resource_table.py`). The hand-written
//! tables below are overrides, each for a reason the models cannot tell: S3 bucket/key and `x-amz-copy-source`,
//! access semantics (read/write/target), CloudTrail's own spellings (EC2 `keyName`, `...Set.items[]`), names that
//! are not the model's (Glue tables as `db/table`, KMS aliases, Lambda qualified names).

use super::resource_table as table;
use crate::model::resource::{canonical_type, cmp_ignore_case, named_by_name};
use crate::model::{Access, ResourceRef};
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize, Debug, Default)]
pub struct ResourceEntry {
    #[serde(
        rename = "ARN",
        alias = "arn",
        default,
        deserialize_with = "super::loose::string"
    )]
    arn: Option<String>,
    #[serde(rename = "type", default, deserialize_with = "super::loose::string")]
    rtype: Option<String>,
}

pub struct Call<'a> {
    pub source: &'a str,
    pub name: &'a str,
    pub read_only: Option<bool>,
    pub account: &'a str,
    pub region: &'a str,
    pub params: Option<&'a Value>,
    pub response: Option<&'a Value>,
    pub entries: &'a [ResourceEntry],
}

/// Overrides: (event source, parameter path, Config type). A path is `a.b` through objects; `a[].b` through arrays.
/// Values may be names, ids or ARNs: ARNs are recognized and parsed instead. A member named here (by its last
/// segment) is not looked up in the generated table for that service. Why each stays hand-written: these are the
/// fields the resources of the lineage and who-changed rules were first written against, with CloudTrail's own
/// spellings (EC2 `keyName` and `...Set.items[]`, `resourcesSet` of CreateTags typed by id prefix, STS `roleArn`
/// naming another service's resource, Config's `configurationRecorder.name`, CloudTrail/SSM bare `name`, Lambda's
/// qualified `functionName`, KMS `keyId` that may be an alias), where the models alone would miss or mistype them.
const PARAM_FIELDS: &[(&str, &str, &str)] = &[
    ("iam.amazonaws.com", "userName", "AWS::IAM::User"),
    ("iam.amazonaws.com", "roleName", "AWS::IAM::Role"),
    ("iam.amazonaws.com", "groupName", "AWS::IAM::Group"),
    ("iam.amazonaws.com", "policyArn", "AWS::IAM::Policy"),
    (
        "iam.amazonaws.com",
        "instanceProfileName",
        "AWS::IAM::InstanceProfile",
    ),
    ("sts.amazonaws.com", "roleArn", "AWS::IAM::Role"),
    ("ec2.amazonaws.com", "groupId", "AWS::EC2::SecurityGroup"),
    (
        "ec2.amazonaws.com",
        "groupIdSet.items[].groupId",
        "AWS::EC2::SecurityGroup",
    ),
    ("ec2.amazonaws.com", "instanceId", "AWS::EC2::Instance"),
    (
        "ec2.amazonaws.com",
        "instancesSet.items[].instanceId",
        "AWS::EC2::Instance",
    ),
    ("ec2.amazonaws.com", "resourcesSet.items[].resourceId", ""),
    ("ec2.amazonaws.com", "vpcId", "AWS::EC2::VPC"),
    ("ec2.amazonaws.com", "subnetId", "AWS::EC2::Subnet"),
    ("ec2.amazonaws.com", "volumeId", "AWS::EC2::Volume"),
    ("ec2.amazonaws.com", "snapshotId", "AWS::EC2::Snapshot"),
    ("ec2.amazonaws.com", "imageId", "AWS::EC2::Image"),
    (
        "ec2.amazonaws.com",
        "networkInterfaceId",
        "AWS::EC2::NetworkInterface",
    ),
    ("ec2.amazonaws.com", "keyName", "AWS::EC2::KeyPair"),
    // RunInstances logs its launch parameters under `instancesSet.items[]`; the model's `KeyName` says no type.
    (
        "ec2.amazonaws.com",
        "instancesSet.items[].keyName",
        "AWS::EC2::KeyPair",
    ),
    ("kms.amazonaws.com", "keyId", "AWS::KMS::Key"),
    ("kms.amazonaws.com", "targetKeyId", "AWS::KMS::Key"),
    ("kms.amazonaws.com", "aliasName", "AWS::KMS::Alias"),
    (
        "lambda.amazonaws.com",
        "functionName",
        "AWS::Lambda::Function",
    ),
    ("glue.amazonaws.com", "jobName", "AWS::Glue::Job"),
    ("glue.amazonaws.com", "crawlerName", "AWS::Glue::Crawler"),
    (
        "athena.amazonaws.com",
        "workGroup",
        "AWS::Athena::WorkGroup",
    ),
    (
        "redshift.amazonaws.com",
        "clusterIdentifier",
        "AWS::Redshift::Cluster",
    ),
    (
        "redshift-data.amazonaws.com",
        "clusterIdentifier",
        "AWS::Redshift::Cluster",
    ),
    (
        "redshift-data.amazonaws.com",
        "workgroupName",
        "AWS::RedshiftServerless::Workgroup",
    ),
    (
        "dynamodb.amazonaws.com",
        "tableName",
        "AWS::DynamoDB::Table",
    ),
    ("dynamodb.amazonaws.com", "tableArn", "AWS::DynamoDB::Table"),
    (
        "kinesis.amazonaws.com",
        "streamName",
        "AWS::Kinesis::Stream",
    ),
    ("kinesis.amazonaws.com", "streamARN", "AWS::Kinesis::Stream"),
    (
        "firehose.amazonaws.com",
        "deliveryStreamName",
        "AWS::KinesisFirehose::DeliveryStream",
    ),
    ("cloudtrail.amazonaws.com", "name", "AWS::CloudTrail::Trail"),
    (
        "cloudtrail.amazonaws.com",
        "trailName",
        "AWS::CloudTrail::Trail",
    ),
    (
        "config.amazonaws.com",
        "configurationRecorderName",
        "AWS::Config::ConfigurationRecorder",
    ),
    (
        "config.amazonaws.com",
        "configurationRecorder.name",
        "AWS::Config::ConfigurationRecorder",
    ),
    (
        "config.amazonaws.com",
        "configRuleName",
        "AWS::Config::ConfigRule",
    ),
    (
        "config.amazonaws.com",
        "configRule.configRuleName",
        "AWS::Config::ConfigRule",
    ),
    (
        "config.amazonaws.com",
        "deliveryChannelName",
        "AWS::Config::DeliveryChannel",
    ),
    (
        "secretsmanager.amazonaws.com",
        "secretId",
        "AWS::SecretsManager::Secret",
    ),
    ("ssm.amazonaws.com", "name", "AWS::SSM::Parameter"),
    ("logs.amazonaws.com", "logGroupName", "AWS::Logs::LogGroup"),
    (
        "rds.amazonaws.com",
        "dBInstanceIdentifier",
        "AWS::RDS::DBInstance",
    ),
    (
        "elasticmapreduce.amazonaws.com",
        "jobFlowId",
        "AWS::EMR::Cluster",
    ),
    (
        "elasticmapreduce.amazonaws.com",
        "clusterId",
        "AWS::EMR::Cluster",
    ),
];

/// Overrides: resources named only in the response (created by the call, or ids handed back); same reasons.
const RESPONSE_FIELDS: &[(&str, &str, &str)] = &[
    ("iam.amazonaws.com", "role.arn", "AWS::IAM::Role"),
    ("iam.amazonaws.com", "user.arn", "AWS::IAM::User"),
    ("iam.amazonaws.com", "policy.arn", "AWS::IAM::Policy"),
    ("iam.amazonaws.com", "group.arn", "AWS::IAM::Group"),
    ("ec2.amazonaws.com", "groupId", "AWS::EC2::SecurityGroup"),
    (
        "ec2.amazonaws.com",
        "instancesSet.items[].instanceId",
        "AWS::EC2::Instance",
    ),
    (
        "ec2.amazonaws.com",
        "instancesSet.items[].keyName",
        "AWS::EC2::KeyPair",
    ),
    ("kms.amazonaws.com", "keyMetadata.arn", "AWS::KMS::Key"),
    (
        "lambda.amazonaws.com",
        "functionArn",
        "AWS::Lambda::Function",
    ),
    ("glue.amazonaws.com", "jobRunId", "AWS::Glue::JobRun"),
    (
        "athena.amazonaws.com",
        "queryExecutionId",
        "AWS::Athena::QueryExecution",
    ),
    (
        "redshift-data.amazonaws.com",
        "id",
        "AWS::RedshiftData::Statement",
    ),
    (
        "cloudtrail.amazonaws.com",
        "trailARN",
        "AWS::CloudTrail::Trail",
    ),
    (
        "dynamodb.amazonaws.com",
        "tableDescription.tableArn",
        "AWS::DynamoDB::Table",
    ),
    ("kinesis.amazonaws.com", "streamARN", "AWS::Kinesis::Stream"),
    (
        "firehose.amazonaws.com",
        "deliveryStreamARN",
        "AWS::KinesisFirehose::DeliveryStream",
    ),
];

/// S3 object calls that read object data / write (or remove) it. Everything else on S3 targets the bucket.
const S3_READS: &[&str] = &[
    "GetObject",
    "GetObjectTorrent",
    "SelectObjectContent",
    "HeadObject",
    "GetObjectAcl",
    "GetObjectTagging",
    "GetObjectAttributes",
    "GetObjectRetention",
    "GetObjectLegalHold",
];
const S3_WRITES: &[&str] = &[
    "PutObject",
    "CopyObject",
    "CompleteMultipartUpload",
    "CreateMultipartUpload",
    "UploadPart",
    "UploadPartCopy",
    "DeleteObject",
    "DeleteObjects",
    "RestoreObject",
    "PutObjectAcl",
    "PutObjectTagging",
    "DeleteObjectTagging",
    "PutObjectRetention",
    "PutObjectLegalHold",
    "WriteGetObjectResponse",
];
const DATA_READS: &[(&str, &[&str])] = &[
    (
        "dynamodb.amazonaws.com",
        &[
            "GetItem",
            "BatchGetItem",
            "Query",
            "Scan",
            "ExportTableToPointInTime",
        ],
    ),
    (
        "kinesis.amazonaws.com",
        &["GetRecords", "GetShardIterator", "SubscribeToShard"],
    ),
    ("kms.amazonaws.com", &["Decrypt"]),
];
const DATA_WRITES: &[(&str, &[&str])] = &[
    (
        "dynamodb.amazonaws.com",
        &[
            "PutItem",
            "UpdateItem",
            "DeleteItem",
            "BatchWriteItem",
            "TransactWriteItems",
            "ImportTable",
        ],
    ),
    ("kinesis.amazonaws.com", &["PutRecord", "PutRecords"]),
    ("firehose.amazonaws.com", &["PutRecord", "PutRecordBatch"]),
];

pub fn extract(c: &Call) -> Vec<(ResourceRef, Access)> {
    let mut out: Vec<(ResourceRef, Access)> = Vec::new();
    // `upgrade`: whether this sighting may raise the access of a resource already listed. `resources[]` may not:
    // it lists the source of a copy under the call's (write) access, while the request says it was read.
    fn add_as(out: &mut Vec<(ResourceRef, Access)>, r: ResourceRef, a: Access, upgrade: bool) {
        if let Some(existing) = out.iter_mut().find(|(x, _)| x.key == r.key) {
            // Keep the most specific access (write > read > target) and the best-known ARN.
            if upgrade && a > existing.1 {
                existing.1 = a;
            }
            if existing.0.arn.is_none() {
                existing.0.arn = r.arn;
            }
        } else {
            out.push((r, a));
        }
    }
    let data_access = data_access(c);

    if c.source == "s3.amazonaws.com" {
        let bucket = c.params.and_then(|p| str_at(p, "bucketName"));
        if let Some(b) = bucket {
            // An object-level data call reads or writes the bucket's data: the bucket gets the object's access,
            // so `target` on a bucket means a call about the bucket itself (what who-changed looks at).
            add_as(
                &mut out,
                ResourceRef::s3_bucket(b),
                data_access.unwrap_or(Access::Target),
                true,
            );
            if let Some(k) = c.params.and_then(|p| str_at(p, "key")) {
                add_as(
                    &mut out,
                    ResourceRef::s3_object(b, k),
                    data_access.unwrap_or(Access::Target),
                    true,
                );
            }
            // DeleteObjects lists its keys in the request body.
            for k in c
                .params
                .map(|p| strs_at(p, "delete.Object[].Key"))
                .unwrap_or_default()
            {
                add_as(&mut out, ResourceRef::s3_object(b, k), Access::Write, true);
            }
        }
        // CopyObject / UploadPartCopy: `x-amz-copy-source` = `[/]bucket/key[?versionId=...]`, URL-encoded.
        if let Some(src) = c.params.and_then(|p| str_at(p, "x-amz-copy-source")) {
            let src = src.trim_start_matches('/');
            let src = src.split("?versionId=").next().unwrap_or(src);
            let decoded = percent_decode(src);
            if let Some((b, k)) = decoded.split_once('/') {
                add_as(&mut out, ResourceRef::s3_bucket(b), Access::Read, true);
                add_as(&mut out, ResourceRef::s3_object(b, k), Access::Read, true);
            }
        }
    }

    // A KMS call made for S3 names the object (or, with bucket keys, the bucket) in its encryption context: the
    // decrypt of an object is evidence it was read (docs/lineage.md).
    if c.source == "kms.amazonaws.com" {
        if let Some(arn) = c
            .params
            .and_then(|p| p.get("encryptionContext"))
            .and_then(|ctx| ctx.get("aws:s3:arn"))
            .and_then(|v| v.as_str())
        {
            if let Some(r) = ResourceRef::from_arn(arn) {
                add_as(&mut out, r, data_access.unwrap_or(Access::Target), true);
            }
        }
    }

    for (svc, path, rtype) in PARAM_FIELDS {
        if *svc != c.source {
            continue;
        }
        for v in c.params.map(|p| strs_at(p, path)).unwrap_or_default() {
            if let Some(r) = make_ref(rtype, v, c) {
                add_as(&mut out, r, data_access.unwrap_or(Access::Target), true);
            }
        }
    }
    // Glue tables: databaseName + tableName / tableInput.name / name.
    if c.source == "glue.amazonaws.com" {
        if let Some(p) = c.params {
            if let Some(db) = str_at(p, "databaseName") {
                let table = str_at(p, "tableName")
                    .or_else(|| str_at(p, "tableInput.name"))
                    .or_else(|| {
                        matches!(
                            c.name,
                            "GetTable" | "DeleteTable" | "GetPartitions" | "BatchCreatePartition"
                        )
                        .then(|| str_at(p, "name"))
                        .flatten()
                    });
                match table {
                    Some(t) => add_as(
                        &mut out,
                        ResourceRef::named(
                            "AWS::Glue::Table",
                            c.account,
                            c.region,
                            &format!("{db}/{t}"),
                        ),
                        Access::Target,
                        true,
                    ),
                    None => add_as(
                        &mut out,
                        ResourceRef::named("AWS::Glue::Database", c.account, c.region, db),
                        Access::Target,
                        true,
                    ),
                }
            }
            if matches!(c.name, "CreateJob" | "UpdateJob" | "DeleteJob" | "GetJob") {
                if let Some(n) = str_at(p, "name").or_else(|| str_at(p, "jobName")) {
                    add_as(
                        &mut out,
                        ResourceRef::named("AWS::Glue::Job", c.account, c.region, n),
                        Access::Target,
                        true,
                    );
                }
            }
        }
    }
    if c.source == "athena.amazonaws.com" {
        if let Some(q) = c.params.and_then(|p| str_at(p, "queryExecutionId")) {
            add_as(
                &mut out,
                ResourceRef::named("AWS::Athena::QueryExecution", c.account, c.region, q),
                Access::Target,
                true,
            );
        }
    }
    for (svc, path, rtype) in RESPONSE_FIELDS {
        if *svc != c.source {
            continue;
        }
        for v in c.response.map(|p| strs_at(p, path)).unwrap_or_default() {
            if let Some(r) = make_ref(rtype, v, c) {
                add_as(&mut out, r, Access::Target, true);
            }
        }
    }
    generated(c, data_access.unwrap_or(Access::Target), &mut out);
    // Override for every service: the tagging and resource-policy calls name the resource they are about by ARN
    // in a member the models call `ResourceArn`/`ResourceARN` (RDS: `ResourceName`) with no type; the ARN's shape
    // types it.
    if let Some(Value::Object(m)) = c.params {
        for (k, v) in m {
            if !RESOURCE_ARN_KEYS.iter().any(|x| x.eq_ignore_ascii_case(k)) {
                continue;
            }
            let arns: Vec<&str> = match v {
                Value::String(a) => vec![a.as_str()],
                Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
                _ => Vec::new(),
            };
            for a in arns.into_iter().filter(|a| a.starts_with("arn:")) {
                if let Some(r) = ResourceRef::from_arn(a) {
                    push_ref(&mut out, r, data_access.unwrap_or(Access::Target));
                }
            }
        }
    }
    // When the request names the objects a data call read or wrote, an S3 resource that only `resources[]` lists
    // (anonymised or edited records name other ones) was touched in a role the record does not say: target.
    let request_named_objects = out.iter().any(|(r, _)| r.rtype == "AWS::S3::Object");
    for e in c.entries {
        let Some(arn) = e.arn.as_deref() else {
            continue;
        };
        let r = match ResourceRef::from_arn(arn) {
            // An ARN shape not in the table, with its Config type given: key it the way Config items are keyed.
            Some(r) if r.generic => match e.rtype.as_deref().filter(|t| t.starts_with("AWS::")) {
                Some(t) => ResourceRef::from_typed_arn(t, arn).unwrap_or(r),
                None => r,
            },
            Some(r) => r,
            // resources[] sometimes holds a bare id with a type (`AWS::EC2::Instance`, `i-...`).
            None => match e.rtype.as_deref() {
                Some(t) if t.starts_with("AWS::") => {
                    ResourceRef::typed(t, c.account, c.region, arn)
                }
                _ => continue,
            },
        };
        let unnamed_s3 = request_named_objects
            && matches!(r.rtype.as_str(), "AWS::S3::Object" | "AWS::S3::Bucket")
            && !out.iter().any(|(x, _)| x.key == r.key);
        let access = if unnamed_s3 {
            Access::Target
        } else {
            data_access.unwrap_or(Access::Target)
        };
        add_as(&mut out, r, access, false);
    }
    out
}

/// Members the hand-written code of a service reads itself (besides `PARAM_FIELDS`/`RESPONSE_FIELDS`): the
/// generated table is not consulted for them.
const HANDLED: &[(&str, &str)] = &[
    // S3: bucket/key build global keys and object access; CloudTrail's S3 names are not the model's.
    ("s3.amazonaws.com", "bucketName"),
    ("s3.amazonaws.com", "key"),
    ("s3.amazonaws.com", "Key"),
    // Glue: tables are `db/table`, `name` means a table or a job depending on the call.
    ("glue.amazonaws.com", "databaseName"),
    ("glue.amazonaws.com", "tableName"),
    ("glue.amazonaws.com", "name"),
    ("athena.amazonaws.com", "queryExecutionId"),
];

/// Top-level request members that hold the ARN of the resource a call is about, in every service.
const RESOURCE_ARN_KEYS: &[&str] = &[
    "resourceArn",
    "resourceArns",
    "resourceName",
    "resourceARNList",
];

/// Values of the generated table's kinds (bits 3-4 of a row's flags).
const KIND_ID: u8 = 0;
const KIND_NAME: u8 = 1;
const KIND_ARN: u8 = 2;
const KIND_URL: u8 = 3;

/// The generated rows of one event source (binary search on the sorted source list).
fn rows_of(source: &str) -> &'static [(&'static str, &'static str, u8, u16)] {
    match table::SOURCES.binary_search_by(|(s, _, _)| (*s).cmp(source)) {
        Ok(i) => {
            let (_, a, b) = table::SOURCES[i];
            &table::FIELDS[a as usize..b as usize]
        }
        Err(_) => &[],
    }
}

/// The generated rule for member `key` on `side` (1 request, 2 response) of call `op`: the call's own row first,
/// then the service-wide one. Returns (Config type, kind).
fn lookup(
    rows: &'static [(&'static str, &'static str, u8, u16)],
    key: &str,
    op: &str,
    side: u8,
    top: bool,
) -> Option<(&'static str, u8)> {
    let start = rows.partition_point(|r| cmp_ignore_case(r.0, key).is_lt());
    let mut any = None;
    for r in &rows[start..] {
        if !r.0.eq_ignore_ascii_case(key) {
            break;
        }
        if r.2 & side == 0 || (r.2 & 4 != 0 && !top) {
            continue;
        }
        let found = (table::TYPES[r.3 as usize], (r.2 >> 3) & 3);
        if r.1 == op {
            return Some(found);
        }
        if r.1.is_empty() {
            any = Some(found);
        }
    }
    any
}

/// At most this many strings of one call are looked up (a bound on pathological parameters).
const MAX_LEAVES: usize = 2000;

/// A string of a call's parameters or response: the key it sits under, its depth (objects entered; an array's
/// elements are one level below the array's key, like `a[].b`), and which object holds it (a counter).
struct Leaf<'a> {
    key: &'a str,
    value: &'a str,
    depth: usize,
    object: usize,
}

/// Every string of a JSON value with the key it sits under, depth-first, to a bounded depth.
fn leaves<'a>(v: &'a Value, depth: usize, objects: &mut usize, out: &mut Vec<Leaf<'a>>) {
    let Value::Object(m) = v else { return };
    if depth > 8 {
        return;
    }
    *objects += 1;
    let object = *objects;
    for (key, x) in m {
        if out.len() >= MAX_LEAVES {
            return;
        }
        match x {
            Value::String(value) if !value.is_empty() => out.push(Leaf {
                key,
                value,
                depth,
                object,
            }),
            Value::Array(items) => {
                for item in items.iter().take(MAX_LEAVES) {
                    match item {
                        Value::String(value) if !value.is_empty() => out.push(Leaf {
                            key,
                            value,
                            depth,
                            object,
                        }),
                        Value::Object(_) => leaves(item, depth + 2, objects, out),
                        _ => {}
                    }
                }
            }
            Value::Object(_) => leaves(x, depth + 1, objects, out),
            _ => {}
        }
    }
}

/// Whether the hand-written code already reads member `key` at this depth of this service's calls (an override
/// path `a.b[].c` reads `c` at depth 3 - 1 = 2 in the same counting as `leaves`).
fn overridden(source: &str, key: &str, depth: usize) -> bool {
    let reads = |path: &str| {
        let segments = path.split('.').count();
        let last = path.rsplit('.').next().unwrap_or(path);
        last.trim_end_matches("[]").eq_ignore_ascii_case(key) && segments == depth + 1
    };
    PARAM_FIELDS
        .iter()
        .chain(RESPONSE_FIELDS)
        .any(|(s, p, _)| *s == source && reads(p))
        || HANDLED
            .iter()
            .any(|(s, k)| *s == source && k.eq_ignore_ascii_case(key))
}

/// Resources named by members the generated table knows. A resource named both by id and by name gives one
/// resource, keyed the way Config keys the type (id, or name for IAM and buckets), the other name kept as an alias:
/// when both sit in one object (`{"groupId":"sg-1","groupName":"default"}`), or when the call names exactly one of
/// each (`CreateSecurityGroup`: `groupName` in the request, `groupId` in the response).
fn generated(c: &Call, access: Access, out: &mut Vec<(ResourceRef, Access)>) {
    let rows = rows_of(c.source);
    if rows.is_empty() {
        return;
    }
    // (type, kind, value, object)
    let mut found: Vec<(&'static str, u8, &str, usize)> = Vec::new();
    let mut strings = Vec::new();
    let mut objects = 0;
    for (side, v) in [(1u8, c.params), (2u8, c.response)] {
        let Some(v) = v else { continue };
        strings.clear();
        leaves(v, 0, &mut objects, &mut strings);
        for l in &strings {
            if let Some((t, kind)) = lookup(rows, l.key, c.name, side, l.depth == 0) {
                if !overridden(c.source, l.key, l.depth)
                    && !found
                        .iter()
                        .any(|f| f.0 == t && f.1 == kind && f.2 == l.value)
                {
                    found.push((t, kind, l.value, l.object));
                }
            }
        }
    }
    let mut types: Vec<&'static str> = Vec::new();
    for f in &found {
        if !types.contains(&f.0) {
            types.push(f.0);
        }
    }
    for t in types {
        let of_type: Vec<(u8, &str, usize)> = found
            .iter()
            .filter(|f| f.0 == t)
            .map(|f| (f.1, f.2, f.3))
            .collect();
        // The kind that keys this type (names for IAM and buckets, ids otherwise); the other is an alias.
        let (key_kind, alias_kind) = if named_by_name(t) {
            (KIND_NAME, KIND_ID)
        } else {
            (KIND_ID, KIND_NAME)
        };
        let keys: Vec<(&str, usize)> = of_type
            .iter()
            .filter(|f| f.0 == key_kind)
            .map(|f| (f.1, f.2))
            .collect();
        let alias_of = |object: usize| -> Option<&str> {
            let mut same = keys.iter().filter(|k| k.1 == object);
            match (same.next(), same.next()) {
                (Some(k), None) => Some(k.0),
                _ => None,
            }
        };
        let n_alias = of_type.iter().filter(|f| f.0 == alias_kind).count();
        let existing: Vec<usize> = (0..out.len()).filter(|&j| out[j].0.rtype == t).collect();
        // (alias, key value or None for the one resource the overrides already named)
        let mut pairs: Vec<(&str, Option<&str>)> = Vec::new();
        for (kind, v, object) in &of_type {
            if *kind != alias_kind {
                continue;
            }
            if let Some(k) = alias_of(*object) {
                pairs.push((v, Some(k)));
            } else if n_alias == 1 && keys.len() == 1 {
                pairs.push((v, Some(keys[0].0)));
            } else if n_alias == 1 && keys.is_empty() && existing.len() == 1 {
                pairs.push((v, None));
            }
        }
        for (kind, v, _) in &of_type {
            if *kind == alias_kind && pairs.iter().any(|p| p.0 == *v) {
                continue;
            }
            let Some(mut r) = typed_ref(t, *kind, v, c) else {
                continue;
            };
            for (a, k) in &pairs {
                if *k == Some(*v) && !r.aliases.iter().any(|x| x == a) {
                    r.aliases.push(a.to_string());
                }
            }
            push_ref(out, r, access);
        }
        for (a, k) in &pairs {
            if k.is_none() {
                let r = &mut out[existing[0]].0;
                if r.id != *a && !r.aliases.iter().any(|x| x == a) {
                    r.aliases.push(a.to_string());
                }
            }
        }
    }
}

/// A resource of generated type `t` from a value of `kind`: ARNs parse to their own key (typed by `t` when trailgraph
/// does not know the shape), anything else is the identifier.
fn typed_ref(t: &str, kind: u8, value: &str, c: &Call) -> Option<ResourceRef> {
    if value.starts_with("arn:") {
        return match ResourceRef::from_arn(value)? {
            r if r.generic => ResourceRef::from_typed_arn(t, value),
            r => Some(r),
        };
    }
    if kind == KIND_ARN {
        return None; // an `...Arn` member whose value is no ARN (redacted, a placeholder)
    }
    // Override: a queue URL (`https://sqs.REGION.amazonaws.com/ACCOUNT/NAME`) names the queue its ARN names by
    // NAME; Config's resourceId is the URL, kept as an alias (found by `AWS::SQS::Queue:https://...`).
    if kind == KIND_URL && t == "AWS::SQS::Queue" {
        let name = value
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or(value);
        let mut r = ResourceRef::named(t, c.account, c.region, name);
        if name != value {
            r.aliases.push(value.to_string());
        }
        return Some(r);
    }
    make_ref(t, value, c)
}

/// Adds a resource unless its key is listed; a listed one gains the aliases.
fn push_ref(out: &mut Vec<(ResourceRef, Access)>, r: ResourceRef, access: Access) {
    if let Some((x, _)) = out.iter_mut().find(|(x, _)| x.key == r.key) {
        for a in r.aliases {
            if a != x.id && !x.aliases.contains(&a) {
                x.aliases.push(a);
            }
        }
        if x.arn.is_none() {
            x.arn = r.arn;
        }
        return;
    }
    out.push((r, access));
}

/// Resources of a LookupEvents item's `Resources` list (`[{ResourceType, ResourceName}]`, outside the record):
/// names, ids or ARNs with a type spelled as LookupEvents spells it. Adds those the record did not already name
/// (by key, or by an alias of a resource of the same type).
pub fn listed(resources: &mut Vec<(ResourceRef, Access)>, raw: &str, account: &str, region: &str) {
    #[derive(Deserialize)]
    struct Listed {
        #[serde(
            rename = "ResourceType",
            default,
            deserialize_with = "super::loose::string"
        )]
        rtype: Option<String>,
        #[serde(
            rename = "ResourceName",
            default,
            deserialize_with = "super::loose::string"
        )]
        name: Option<String>,
    }
    let Ok(items) = serde_json::from_str::<Vec<Listed>>(raw) else {
        return;
    };
    for it in items {
        let (Some(t), Some(name)) = (it.rtype.as_deref(), it.name.as_deref()) else {
            continue;
        };
        if name.is_empty() || !t.starts_with("AWS::") {
            continue;
        }
        let t = canonical_type(t).unwrap_or(t);
        let r = if name.starts_with("arn:") {
            match ResourceRef::from_arn(name) {
                Some(r) if r.generic => ResourceRef::from_typed_arn(t, name).unwrap_or(r),
                Some(r) => r,
                None => continue,
            }
        } else {
            match t {
                "AWS::S3::Bucket" => ResourceRef::s3_bucket(name),
                _ => ResourceRef::named(t, account, region, name),
            }
        };
        let known = resources.iter().any(|(x, _)| {
            x.key == r.key
                || (x.rtype == r.rtype && (x.id == name || x.aliases.iter().any(|a| a == name)))
        });
        if !known {
            resources.push((r, Access::Target));
        }
    }
}

/// Read/write for data calls (on the object, item, stream...), `None` for management calls.
fn data_access(c: &Call) -> Option<Access> {
    if c.source == "s3.amazonaws.com" {
        if S3_READS.contains(&c.name) {
            return Some(Access::Read);
        }
        if S3_WRITES.contains(&c.name) {
            return Some(Access::Write);
        }
        return None;
    }
    if c.source == "lambda.amazonaws.com" && c.name.starts_with("Invoke") {
        return Some(Access::Read);
    }
    let in_table = |t: &[(&str, &[&str])]| {
        t.iter()
            .any(|(s, names)| *s == c.source && names.contains(&c.name))
    };
    if in_table(DATA_WRITES) {
        return Some(Access::Write);
    }
    if in_table(DATA_READS) {
        return Some(Access::Read);
    }
    if c.source == "kms.amazonaws.com"
        && (c.name.starts_with("GenerateDataKey") || c.name == "Encrypt")
    {
        return Some(Access::Target);
    }
    let _ = c.read_only;
    None
}

fn make_ref(rtype: &str, value: &str, c: &Call) -> Option<ResourceRef> {
    if value.is_empty() {
        return None;
    }
    if value.starts_with("arn:") {
        return ResourceRef::from_arn(value);
    }
    let rtype = if rtype.is_empty() {
        guess_ec2_type(value)?
    } else {
        rtype
    };
    match rtype {
        // KMS keys are named by id, alias name or ARN.
        "AWS::KMS::Key" if value.starts_with("alias/") => {
            let mut r = ResourceRef::named(
                "AWS::KMS::Alias",
                c.account,
                c.region,
                value.trim_start_matches("alias/"),
            );
            r.aliases.push(value.to_string());
            Some(r)
        }
        "AWS::KMS::Alias" => {
            let mut r = ResourceRef::named(
                "AWS::KMS::Alias",
                c.account,
                c.region,
                value.trim_start_matches("alias/"),
            );
            r.aliases.push(value.to_string());
            Some(r)
        }
        // Lambda accepts `name`, `name:qualifier`, `ACCOUNT:function:name`.
        "AWS::Lambda::Function" => {
            let name = value
                .rsplit_once(":function:")
                .map(|(_, n)| n)
                .unwrap_or(value);
            Some(ResourceRef::named(
                rtype,
                c.account,
                c.region,
                name.split(':').next().unwrap_or(name),
            ))
        }
        _ => Some(ResourceRef::named(rtype, c.account, c.region, value)),
    }
}

fn guess_ec2_type(id: &str) -> Option<&'static str> {
    let prefix = id.split('-').next()?;
    Some(match prefix {
        "sg" => "AWS::EC2::SecurityGroup",
        "i" => "AWS::EC2::Instance",
        "vpc" => "AWS::EC2::VPC",
        "subnet" => "AWS::EC2::Subnet",
        "vol" => "AWS::EC2::Volume",
        "snap" => "AWS::EC2::Snapshot",
        "ami" => "AWS::EC2::Image",
        "eni" => "AWS::EC2::NetworkInterface",
        _ => return None,
    })
}

/// The non-empty string at a dotted path of objects (`credentials.accessKeyId`).
pub(crate) fn str_at<'a>(v: &'a Value, path: &str) -> Option<&'a str> {
    let mut cur = v;
    for p in path.split('.') {
        cur = cur.get(p)?;
    }
    cur.as_str().filter(|s| !s.is_empty())
}

/// All strings at a path where `x[]` steps through every element of array `x` (a single object counts as one).
fn strs_at<'a>(v: &'a Value, path: &str) -> Vec<&'a str> {
    let mut cur: Vec<&Value> = vec![v];
    for p in path.split('.') {
        let (name, many) = match p.strip_suffix("[]") {
            Some(n) => (n, true),
            None => (p, false),
        };
        let mut next = Vec::new();
        for c in cur {
            if let Some(x) = c.get(name) {
                match (many, x) {
                    (true, Value::Array(items)) => next.extend(items.iter()),
                    _ => next.push(x),
                }
            }
        }
        cur = next;
    }
    cur.into_iter()
        .filter_map(|v| v.as_str())
        .filter(|s| !s.is_empty())
        .collect()
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(source: &str, name: &str, params: &str, response: &str) -> Vec<(String, Access)> {
        let p: Value = serde_json::from_str(params).unwrap();
        let r: Value = serde_json::from_str(response).unwrap();
        let c = Call {
            source,
            name,
            read_only: None,
            account: "111",
            region: "us-east-1",
            params: Some(&p),
            response: Some(&r),
            entries: &[],
        };
        extract(&c).into_iter().map(|(r, a)| (r.key, a)).collect()
    }

    #[test]
    fn resources_list_does_not_turn_a_copy_source_into_a_write() {
        let p: Value = serde_json::from_str(
            r#"{"bucketName":"dst","key":"k2","x-amz-copy-source":"src/a.csv"}"#,
        )
        .unwrap();
        let entries: Vec<ResourceEntry> = serde_json::from_str(
            r#"[{"type":"AWS::S3::Object","ARN":"arn:aws:s3:::dst/k2"},{"type":"AWS::S3::Object","ARN":"arn:aws:s3:::src/a.csv"},{"type":"AWS::SNS::Topic","ARN":"arn:aws:sns:us-east-1:111:t"}]"#,
        )
        .unwrap();
        let c = Call {
            source: "s3.amazonaws.com",
            name: "CopyObject",
            read_only: Some(false),
            account: "111",
            region: "us-east-1",
            params: Some(&p),
            response: None,
            entries: &entries,
        };
        let got: Vec<(String, Access)> = extract(&c).into_iter().map(|(r, a)| (r.key, a)).collect();
        assert!(
            got.contains(&("AWS::S3::Object|||src/a.csv".to_string(), Access::Read)),
            "{got:?}"
        );
        assert!(
            got.contains(&("AWS::S3::Object|||dst/k2".to_string(), Access::Write)),
            "{got:?}"
        );
        assert!(
            got.iter()
                .any(|(k, _)| k == "AWS::SNS::Topic|111|us-east-1|t"),
            "{got:?}"
        );
    }

    /// Panther's anonymised CopyObject (rule tests, Apache-2.0): the request copies `my-source-bucket/data.csv`
    /// onto itself while `resources[]` names `my-dest-bucket/data.csv`. The record does not say that object was
    /// written: it is a target, and the object the request names is the write (oracle, issue 13).
    #[test]
    fn an_object_only_resources_lists_is_not_a_write_when_the_request_names_one() {
        let p: Value = serde_json::from_str(
            r#"{"bucketName":"my-source-bucket","key":"data.csv","x-amz-copy-source":"my-source-bucket/data.csv"}"#,
        )
        .unwrap();
        let entries: Vec<ResourceEntry> = serde_json::from_str(
            r#"[{"accountId":"12948575929274","arn":"arn:aws:s3:::my-source-bucket","type":"AWS::S3::Bucket"},{"arn":"arn:aws:s3:::my-source-bucket/data.csv","type":"AWS::S3::Object"},{"accountId":"12948575929274","arn":"arn:aws:s3:::my-dest-bucket","type":"AWS::S3::Bucket"},{"arn":"arn:aws:s3:::my-dest-bucket/data.csv","type":"AWS::S3::Object"}]"#,
        )
        .unwrap();
        let c = Call {
            source: "s3.amazonaws.com",
            name: "CopyObject",
            read_only: Some(false),
            account: "12948575929274",
            region: "us-east-1",
            params: Some(&p),
            response: None,
            entries: &entries,
        };
        let mut got: Vec<(String, Access)> =
            extract(&c).into_iter().map(|(r, a)| (r.key, a)).collect();
        got.sort();
        assert_eq!(
            got,
            [
                (
                    "AWS::S3::Bucket|||my-dest-bucket".to_string(),
                    Access::Target
                ),
                (
                    "AWS::S3::Bucket|||my-source-bucket".to_string(),
                    Access::Write
                ),
                (
                    "AWS::S3::Object|||my-dest-bucket/data.csv".to_string(),
                    Access::Target
                ),
                (
                    "AWS::S3::Object|||my-source-bucket/data.csv".to_string(),
                    Access::Write
                ),
            ]
        );
    }

    /// Keys and aliases of a call's resources, sorted by key.
    fn keys_of(
        source: &str,
        name: &str,
        account: &str,
        region: &str,
        p: &str,
        r: &str,
    ) -> Vec<(String, Vec<String>)> {
        let p: Value = serde_json::from_str(p).unwrap();
        let r: Value = serde_json::from_str(r).unwrap();
        let c = Call {
            source,
            name,
            read_only: Some(false),
            account,
            region,
            params: Some(&p),
            response: Some(&r),
            entries: &[],
        };
        let mut got: Vec<(String, Vec<String>)> = extract(&c)
            .into_iter()
            .map(|(r, _)| (r.key, r.aliases))
            .collect();
        got.sort();
        got
    }

    #[test]
    fn rds_snapshot_shared_with_another_account() {
        // stratus-red-team (Apache-2.0), aws.exfiltration.rds-share-snapshot.json.
        let got = keys_of(
            "rds.amazonaws.com",
            "ModifyDBSnapshotAttribute",
            "171471557522",
            "meiso-eastwest-2r",
            r#"{"attributeName":"restore","dBSnapshotIdentifier":"exfiltration","valuesToAdd":["503161813013"]}"#,
            r#"{"dBSnapshotAttributes":[{"attributeName":"restore","attributeValues":["503161813013"]}],"dBSnapshotIdentifier":"exfiltration"}"#,
        );
        assert_eq!(
            got,
            vec![(
                "AWS::RDS::DBSnapshot|171471557522|meiso-eastwest-2r|exfiltration".to_string(),
                vec![]
            )]
        );
    }

    #[test]
    fn run_instances_names_everything_it_launches_into() {
        // cloud-custodian (Apache-2.0), cloudtrail-bare-records/event-cloud-trail-run-instances.json (abridged).
        let got = keys_of(
            "ec2.amazonaws.com",
            "RunInstances",
            "619193117841",
            "us-west-1",
            r#"{"instancesSet":{"items":[{"imageId":"ami-06116566","minCount":1,"maxCount":2,"keyName":"PersonalWest"}]},"groupSet":{"items":[{"groupId":"sg-bd2d87d9"}]},"instanceType":"t2.micro","availabilityZone":"us-west-1c","subnetId":"subnet-5f7a3106","clientToken":"d4673c83-0aaf-4e52-b2a8-99bf7dfbe074_subnet-5f7a3106_2","iamInstanceProfile":{"name":"BaseIAMRole"}}"#,
            r#"{"reservationId":"r-05b201b7","ownerId":"619193117841","groupSet":{},"instancesSet":{"items":[{"instanceId":"i-784cdacd","imageId":"ami-06116566","instanceState":{"code":0,"name":"pending"},"keyName":"PersonalWest","subnetId":"subnet-5f7a3106","vpcId":"vpc-1b4a1b7e","interfaceId":"interface-6a08d837","groupSet":{"items":[{"groupId":"sg-bd2d87d9","groupName":"default"}]},"networkInterfaceSet":{"items":[{"networkInterfaceId":"eni-6a08d837","subnetId":"subnet-5f7a3106","vpcId":"vpc-1b4a1b7e","groupSet":{"items":[{"groupId":"sg-bd2d87d9","groupName":"default"}]},"attachment":{"attachmentId":"eni-attach-1cabe8dc","instanceId":"i-784cdacd"}}]}}]}}"#,
        );
        let keys: Vec<&str> = got.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            vec![
                "AWS::EC2::Image|619193117841|us-west-1|ami-06116566",
                "AWS::EC2::Instance|619193117841|us-west-1|i-784cdacd",
                "AWS::EC2::KeyPair|619193117841|us-west-1|PersonalWest",
                "AWS::EC2::NetworkInterface|619193117841|us-west-1|eni-6a08d837",
                "AWS::EC2::SecurityGroup|619193117841|us-west-1|sg-bd2d87d9",
                "AWS::EC2::Subnet|619193117841|us-west-1|subnet-5f7a3106",
                "AWS::EC2::VPC|619193117841|us-west-1|vpc-1b4a1b7e",
            ]
        );
        // The group's name in the response is an alias of the group, not a second group.
        let sg = got.iter().find(|(k, _)| k.contains("sg-bd2d87d9")).unwrap();
        assert_eq!(sg.1, vec!["default".to_string()]);
    }

    #[test]
    fn create_security_group_keeps_the_name_as_an_alias_of_the_id() {
        // invictus-aws-dataset (MIT), CloudTrail/..._20230710T1215Z_YMDRJwtmC82bUwAo.json.
        let got = keys_of(
            "ec2.amazonaws.com",
            "CreateSecurityGroup",
            "123837392027",
            "us-east-1",
            r#"{"groupName":"stratus-red-team-open-sg-sg","groupDescription":"Allow TLS inbound traffic","vpcId":"vpc-0e568b18707c87afa","tagSpecificationSet":{"items":[{"resourceType":"security-group","tags":[{"key":"StratusRedTeam","value":"true"},{"key":"Name","value":"stratus-red-team-open-sg-sg"}]}]}}"#,
            r#"{"requestId":"0298451a-830a-419e-ab4b-4861bd336b68","_return":true,"groupId":"sg-04cfb7a4712d75b00","tagSet":{"items":[{"key":"StratusRedTeam","value":"true"},{"key":"Name","value":"stratus-red-team-open-sg-sg"}]}}"#,
        );
        assert_eq!(
            got,
            vec![
                (
                    "AWS::EC2::SecurityGroup|123837392027|us-east-1|sg-04cfb7a4712d75b00"
                        .to_string(),
                    vec!["stratus-red-team-open-sg-sg".to_string()]
                ),
                (
                    "AWS::EC2::VPC|123837392027|us-east-1|vpc-0e568b18707c87afa".to_string(),
                    vec![]
                ),
            ]
        );
    }

    #[test]
    fn arns_and_urls_of_types_trailgraph_has_no_shape_for_key_as_config_does() {
        let lb = "arn:aws:elasticloadbalancing:us-east-1:111:loadbalancer/app/web/50dc6c495c0c9188";
        let got = keys_of(
            "elasticloadbalancing.amazonaws.com",
            "ModifyLoadBalancerAttributes",
            "111",
            "us-east-1",
            &format!(
                r#"{{"loadBalancerArn":"{lb}","attributes":[{{"key":"deletion_protection.enabled","value":"false"}}]}}"#
            ),
            "null",
        );
        assert_eq!(
            got,
            vec![(
                format!("AWS::ElasticLoadBalancingV2::LoadBalancer|111|us-east-1|{lb}"),
                vec![]
            )]
        );
        let q = "https://sqs.us-east-1.amazonaws.com/111/jobs";
        let got = keys_of(
            "sqs.amazonaws.com",
            "SetQueueAttributes",
            "111",
            "us-east-1",
            &format!(r#"{{"queueUrl":"{q}","attributes":{{"Policy":"{{}}"}}}}"#),
            "null",
        );
        assert_eq!(
            got,
            vec![(
                "AWS::SQS::Queue|111|us-east-1|jobs".to_string(),
                vec![q.to_string()]
            )]
        );
    }

    #[test]
    fn lookup_events_resources_list() {
        // plaso (Apache-2.0), aws_cloudtrail.jsonl: a LookupEvents item's Resources, with its own spellings.
        let mut res: Vec<(ResourceRef, Access)> = vec![(
            ResourceRef::named(
                "AWS::EC2::Instance",
                "1",
                "us-east-1",
                "i-01234567890123456",
            ),
            Access::Target,
        )];
        listed(
            &mut res,
            r#"[{"ResourceType":"AWS::EC2::VPC","ResourceName":"vpc-01234567890123456"},{"ResourceType":"AWS::EC2::Ami","ResourceName":"ami-01234567890123456"},{"ResourceType":"AWS::EC2::Instance","ResourceName":"i-01234567890123456"},{"ResourceType":"AWS::EC2::VOLUME","ResourceName":"vol-1"},{"ResourceType":"AWS::S3::Bucket","ResourceName":"b"},{"ResourceType":"AWS::SNS::Topic","ResourceName":"arn:aws:sns:us-east-1:1:t"},{"ResourceType":"x","ResourceName":"y"},{"ResourceName":"z"}]"#,
            "1",
            "us-east-1",
        );
        let keys: Vec<&str> = res.iter().map(|(r, _)| r.key.as_str()).collect();
        assert_eq!(
            keys,
            vec![
                "AWS::EC2::Instance|1|us-east-1|i-01234567890123456",
                "AWS::EC2::VPC|1|us-east-1|vpc-01234567890123456",
                "AWS::EC2::Image|1|us-east-1|ami-01234567890123456",
                "AWS::EC2::Volume|1|us-east-1|vol-1",
                "AWS::S3::Bucket|||b",
                "AWS::SNS::Topic|1|us-east-1|t",
            ]
        );
    }

    #[test]
    fn generated_table_is_current() {
        // The committed table must come from the committed generator with its pinned inputs: editing the script
        // (rules, pins) without regenerating fails here. `python3 tools/gen_resource_table.py --check` compares
        // the whole output (it needs the pinned wheels from PyPI).
        use sha2::{Digest, Sha256};
        let script = include_bytes!("../../tools/gen_resource_table.py");
        let hex: String = Sha256::digest(script)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            hex,
            table::GENERATOR_SHA256,
            "src/ingest/resource_table.rs is out of date: run python3 tools/gen_resource_table.py"
        );
        let text = std::str::from_utf8(script).unwrap();
        let pins = text
            .lines()
            .find_map(|l| l.strip_prefix("PINS = "))
            .expect("PINS line");
        for pin in table::INPUTS.split(' ') {
            let (name, version) = pin.split_once("==").unwrap();
            assert!(
                pins.contains(&format!(r#""{name}": "{version}""#)),
                "{pin} not in {pins}"
            );
        }
        // Binary searches need sorted rows.
        assert!(table::SOURCES.windows(2).all(|w| w[0].0 < w[1].0));
        for (_, a, b) in table::SOURCES {
            let rows = &table::FIELDS[*a as usize..*b as usize];
            assert!(rows.windows(2).all(|w| (w[0].0, w[0].1) < (w[1].0, w[1].1)));
            assert!(rows.iter().all(|r| (r.3 as usize) < table::TYPES.len()));
        }
    }

    #[test]
    fn table_of_services() {
        let t = Access::Target;
        type Case<'a> = (&'a str, &'a str, &'a str, &'a str, Vec<(&'a str, Access)>);
        let cases: Vec<Case> = vec![
            (
                "s3.amazonaws.com",
                "PutBucketPolicy",
                r#"{"bucketName":"b","policy":{}}"#,
                "null",
                vec![("AWS::S3::Bucket|||b", t)],
            ),
            (
                "s3.amazonaws.com",
                "CopyObject",
                r#"{"bucketName":"dst","key":"k2","x-amz-copy-source":"src/a%20b.csv"}"#,
                "null",
                vec![
                    ("AWS::S3::Bucket|||dst", Access::Write),
                    ("AWS::S3::Object|||dst/k2", Access::Write),
                    ("AWS::S3::Bucket|||src", Access::Read),
                    ("AWS::S3::Object|||src/a b.csv", Access::Read),
                ],
            ),
            (
                "s3.amazonaws.com",
                "DeleteObjects",
                r#"{"bucketName":"b","delete":{"Object":[{"Key":"x"},{"Key":"y"}]}}"#,
                "null",
                vec![
                    ("AWS::S3::Bucket|||b", Access::Write),
                    ("AWS::S3::Object|||b/x", Access::Write),
                    ("AWS::S3::Object|||b/y", Access::Write),
                ],
            ),
            (
                "iam.amazonaws.com",
                "PutRolePolicy",
                r#"{"roleName":"R","policyName":"p","policyDocument":"%7B%7D"}"#,
                "null",
                vec![("AWS::IAM::Role|111||R", t)],
            ),
            (
                "iam.amazonaws.com",
                "CreateRole",
                r#"{"roleName":"R","path":"/x/"}"#,
                r#"{"role":{"arn":"arn:aws:iam::111:role/x/R"}}"#,
                vec![("AWS::IAM::Role|111||R", t)],
            ),
            (
                "ec2.amazonaws.com",
                "AuthorizeSecurityGroupIngress",
                r#"{"groupId":"sg-1"}"#,
                "null",
                vec![("AWS::EC2::SecurityGroup|111|us-east-1|sg-1", t)],
            ),
            (
                "ec2.amazonaws.com",
                "TerminateInstances",
                r#"{"instancesSet":{"items":[{"instanceId":"i-1"},{"instanceId":"i-2"}]}}"#,
                "null",
                vec![
                    ("AWS::EC2::Instance|111|us-east-1|i-1", t),
                    ("AWS::EC2::Instance|111|us-east-1|i-2", t),
                ],
            ),
            (
                "ec2.amazonaws.com",
                "CreateTags",
                r#"{"resourcesSet":{"items":[{"resourceId":"sg-9"}]}}"#,
                "null",
                vec![("AWS::EC2::SecurityGroup|111|us-east-1|sg-9", t)],
            ),
            (
                "kms.amazonaws.com",
                "ScheduleKeyDeletion",
                r#"{"keyId":"arn:aws:kms:us-east-1:111:key/k1"}"#,
                "null",
                vec![("AWS::KMS::Key|111|us-east-1|k1", t)],
            ),
            (
                "kms.amazonaws.com",
                "Decrypt",
                r#"{"keyId":"alias/data"}"#,
                "null",
                vec![("AWS::KMS::Alias|111|us-east-1|data", Access::Read)],
            ),
            (
                "lambda.amazonaws.com",
                "UpdateFunctionConfiguration20150331v2",
                r#"{"functionName":"111:function:etl:PROD"}"#,
                "null",
                vec![("AWS::Lambda::Function|111|us-east-1|etl", t)],
            ),
            (
                "glue.amazonaws.com",
                "StartJobRun",
                r#"{"jobName":"j"}"#,
                r#"{"jobRunId":"jr_1"}"#,
                vec![
                    ("AWS::Glue::Job|111|us-east-1|j", t),
                    ("AWS::Glue::JobRun|111|us-east-1|jr_1", t),
                ],
            ),
            (
                "glue.amazonaws.com",
                "CreateTable",
                r#"{"databaseName":"db","tableInput":{"name":"t"}}"#,
                "null",
                vec![("AWS::Glue::Table|111|us-east-1|db/t", t)],
            ),
            (
                "athena.amazonaws.com",
                "StartQueryExecution",
                r#"{"workGroup":"primary"}"#,
                r#"{"queryExecutionId":"q1"}"#,
                vec![
                    ("AWS::Athena::WorkGroup|111|us-east-1|primary", t),
                    ("AWS::Athena::QueryExecution|111|us-east-1|q1", t),
                ],
            ),
            (
                "dynamodb.amazonaws.com",
                "PutItem",
                r#"{"tableName":"orders"}"#,
                "null",
                vec![("AWS::DynamoDB::Table|111|us-east-1|orders", Access::Write)],
            ),
            (
                "firehose.amazonaws.com",
                "PutRecordBatch",
                r#"{"deliveryStreamName":"fh"}"#,
                "null",
                vec![(
                    "AWS::KinesisFirehose::DeliveryStream|111|us-east-1|fh",
                    Access::Write,
                )],
            ),
            (
                "cloudtrail.amazonaws.com",
                "StopLogging",
                r#"{"name":"arn:aws:cloudtrail:us-east-1:111:trail/main"}"#,
                "null",
                vec![("AWS::CloudTrail::Trail|111|us-east-1|main", t)],
            ),
            (
                "config.amazonaws.com",
                "StopConfigurationRecorder",
                r#"{"configurationRecorderName":"default"}"#,
                "null",
                vec![(
                    "AWS::Config::ConfigurationRecorder|111|us-east-1|default",
                    t,
                )],
            ),
            (
                "redshift-data.amazonaws.com",
                "ExecuteStatement",
                r#"{"clusterIdentifier":"c1"}"#,
                r#"{"id":"st-1"}"#,
                vec![
                    ("AWS::Redshift::Cluster|111|us-east-1|c1", t),
                    ("AWS::RedshiftData::Statement|111|us-east-1|st-1", t),
                ],
            ),
            (
                "sts.amazonaws.com",
                "AssumeRole",
                r#"{"roleArn":"arn:aws:iam::222:role/X"}"#,
                "null",
                vec![("AWS::IAM::Role|222||X", t)],
            ),
        ];
        for (src, name, p, r, want) in cases {
            let got = run(src, name, p, r);
            let want: Vec<(String, Access)> =
                want.into_iter().map(|(k, a)| (k.to_string(), a)).collect();
            assert_eq!(got, want, "{src} {name}");
        }
    }
}
