//! Which calls move data, and in which direction: the one table lineage is built from (docs/lineage.md).
//! Resources and their access (read/write) come from ingest (`event_resources`); these rules keep only the calls
//! that move data (a `HeadObject` reads metadata, not data) and say what kind of dataset each resource type is.

use super::graph::kind;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Flow {
    Read,
    Write,
    Delete,
}

/// S3 calls that move object data. `CopyObject`/`UploadPartCopy` read their source and write their destination.
const S3_READS: &[&str] = &["GetObject", "GetObjectTorrent", "SelectObjectContent", "CopyObject", "UploadPartCopy"];
const S3_WRITES: &[&str] = &["PutObject", "CompleteMultipartUpload", "CopyObject", "UploadPartCopy", "RestoreObject"];
const S3_DELETES: &[&str] = &["DeleteObject", "DeleteObjects"];
const DYNAMODB_READS: &[&str] = &["GetItem", "BatchGetItem", "Query", "Scan", "ExportTableToPointInTime", "ExecuteStatement"];
const DYNAMODB_WRITES: &[&str] = &["PutItem", "UpdateItem", "BatchWriteItem", "TransactWriteItems", "ImportTable"];
const DYNAMODB_DELETES: &[&str] = &["DeleteItem"];
const STREAM_READS: &[&str] = &["GetRecords", "SubscribeToShard"];
const STREAM_WRITES: &[&str] = &["PutRecord", "PutRecords", "PutRecordBatch"];

/// Calls that copy a whole dataset in one call (the source is certain): S3 copies and DynamoDB exports.
pub const COPIES: &[&str] = &["CopyObject", "UploadPartCopy", "ExportTableToPointInTime"];

/// Calls that start work whose reads and writes form one actor (principal → job run, query, statement).
pub const STARTS: &[&str] = &["StartJobRun", "StartQueryExecution", "ExecuteStatement", "BatchExecuteStatement"];

/// How a call moved data of a resource it touched with `access` (`read`/`write`), if it did.
pub fn flow(source: &str, name: &str, rtype: &str, access: &str) -> Option<Flow> {
    let is = |names: &[&str]| names.contains(&name);
    let f = match (source, rtype) {
        ("s3.amazonaws.com", "AWS::S3::Object") => {
            if is(S3_DELETES) {
                Flow::Delete
            } else if access == "write" && is(S3_WRITES) {
                Flow::Write
            } else if access == "read" && is(S3_READS) {
                Flow::Read
            } else {
                return None;
            }
        }
        // A KMS decrypt whose encryption context names an object: someone read it (docs/lineage.md, low).
        ("kms.amazonaws.com", "AWS::S3::Object") if name == "Decrypt" => Flow::Read,
        ("dynamodb.amazonaws.com", "AWS::DynamoDB::Table") => {
            if is(DYNAMODB_DELETES) {
                Flow::Delete
            } else if is(DYNAMODB_WRITES) {
                Flow::Write
            } else if is(DYNAMODB_READS) {
                Flow::Read
            } else {
                return None;
            }
        }
        ("kinesis.amazonaws.com" | "firehose.amazonaws.com", _) if stream_type(rtype) => {
            if is(STREAM_WRITES) {
                Flow::Write
            } else if is(STREAM_READS) {
                Flow::Read
            } else {
                return None;
            }
        }
        _ => return None,
    };
    Some(f)
}

fn stream_type(rtype: &str) -> bool {
    matches!(rtype, "AWS::Kinesis::Stream" | "AWS::KinesisFirehose::DeliveryStream")
}

/// The node kind of a dataset resource type, if it is one.
pub fn dataset_kind(rtype: &str) -> Option<&'static str> {
    Some(match rtype {
        "AWS::S3::Object" => kind::S3_OBJECT,
        "AWS::DynamoDB::Table" => kind::DYNAMODB_TABLE,
        "AWS::Glue::Table" => kind::TABLE,
        t if stream_type(t) => kind::STREAM,
        _ => return None,
    })
}

/// S3 paths a Redshift statement's SQL reads (`COPY … FROM 's3://…'`) and writes (`UNLOAD (…) TO 's3://…'`).
/// Quoted strings inside the UNLOAD's query are skipped: only the literal after `FROM`/`TO` counts.
pub fn redshift_paths(sql: &str) -> (Vec<String>, Vec<String>) {
    let lower = sql.to_ascii_lowercase();
    let (mut reads, mut writes) = (Vec::new(), Vec::new());
    let bytes = lower.as_bytes();
    let mut i = 0;
    while let Some(p) = lower[i..].find("'s3://") {
        let start = i + p + 1;
        let end = match sql[start..].find('\'') {
            Some(e) => start + e,
            None => break,
        };
        // The keyword before the literal decides the direction.
        let before = lower[..i + p].trim_end();
        let path = sql[start..end].to_string();
        if before.ends_with(" to") || before.ends_with(")to") {
            writes.push(path);
        } else if before.ends_with(" from") || before.ends_with("\nfrom") {
            reads.push(path);
        }
        i = end + 1;
        if i >= bytes.len() {
            break;
        }
    }
    (reads, writes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redshift_copy_and_unload_paths() {
        let (r, w) = redshift_paths("COPY orders FROM 's3://acme-curated/orders/dt=1/' IAM_ROLE 'arn:aws:iam::1:role/R' FORMAT AS PARQUET");
        assert_eq!(r, vec!["s3://acme-curated/orders/dt=1/"]);
        assert!(w.is_empty());
        let (r, w) = redshift_paths("UNLOAD ('select * from t where s = ''x''') TO 's3://acme-export/o/' IAM_ROLE 'arn:aws:iam::1:role/R'");
        assert!(r.is_empty());
        assert_eq!(w, vec!["s3://acme-export/o/"]);
    }

    #[test]
    fn metadata_calls_move_no_data() {
        assert_eq!(flow("s3.amazonaws.com", "HeadObject", "AWS::S3::Object", "read"), None);
        assert_eq!(flow("s3.amazonaws.com", "GetObject", "AWS::S3::Object", "read"), Some(Flow::Read));
        assert_eq!(flow("s3.amazonaws.com", "CopyObject", "AWS::S3::Object", "write"), Some(Flow::Write));
        assert_eq!(flow("s3.amazonaws.com", "CopyObject", "AWS::S3::Object", "read"), Some(Flow::Read));
        assert_eq!(flow("s3.amazonaws.com", "GetObject", "AWS::S3::Bucket", "read"), None);
    }
}
