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
const S3_READS: &[&str] = &[
    "GetObject",
    "GetObjectTorrent",
    "SelectObjectContent",
    "CopyObject",
    "UploadPartCopy",
];
const S3_WRITES: &[&str] = &[
    "PutObject",
    "UploadPart",
    "CompleteMultipartUpload",
    "CopyObject",
    "UploadPartCopy",
    "RestoreObject",
];
const S3_DELETES: &[&str] = &["DeleteObject", "DeleteObjects"];
const DYNAMODB_READS: &[&str] = &[
    "GetItem",
    "BatchGetItem",
    "Query",
    "Scan",
    "ExportTableToPointInTime",
    "ExecuteStatement",
];
const DYNAMODB_WRITES: &[&str] = &[
    "PutItem",
    "UpdateItem",
    "BatchWriteItem",
    "TransactWriteItems",
    "ImportTable",
];
const DYNAMODB_DELETES: &[&str] = &["DeleteItem"];
const STREAM_READS: &[&str] = &["GetRecords", "SubscribeToShard"];
const STREAM_WRITES: &[&str] = &["PutRecord", "PutRecords", "PutRecordBatch"];

/// Calls that copy a whole dataset in one call (the source is certain): S3 copies and DynamoDB exports.
pub const COPIES: &[&str] = &["CopyObject", "UploadPartCopy", "ExportTableToPointInTime"];

/// Calls that start work whose reads and writes form one actor (principal → job run, query, statement).
pub const STARTS: &[&str] = &[
    "StartJobRun",
    "StartQueryExecution",
    "ExecuteStatement",
    "BatchExecuteStatement",
];

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
    matches!(
        rtype,
        "AWS::Kinesis::Stream" | "AWS::KinesisFirehose::DeliveryStream"
    )
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

/// What a Redshift statement's SQL says it reads and writes.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct RedshiftSql {
    /// `COPY … FROM 's3://…'`.
    pub s3_reads: Vec<String>,
    /// `UNLOAD (…) TO 's3://…'`.
    pub s3_writes: Vec<String>,
    /// Tables an UNLOAD's query selects from (`FROM t`, `JOIN t`).
    pub table_reads: Vec<String>,
    /// The table a COPY loads.
    pub table_writes: Vec<String>,
    /// The first role of `IAM_ROLE '…'` (whose session makes the S3 calls).
    pub iam_role: Option<String>,
}

/// Reads an identifier (`schema.table`, `"quoted"`) at the start of `s`.
fn ident(s: &str) -> Option<String> {
    let s = s.trim_start();
    let end = s
        .find(|c: char| !(c.is_alphanumeric() || matches!(c, '_' | '.' | '"' | '$')))
        .unwrap_or(s.len());
    let id = s[..end].replace('"', "").to_ascii_lowercase();
    (!id.is_empty()).then_some(id)
}

/// Parses the statements trailgraph understands: `COPY table FROM 's3://…'` and `UNLOAD ('query') TO 's3://…'`.
/// Quoted strings inside the UNLOAD's query (`''x''`) are skipped: only the literal after `FROM`/`TO` counts.
pub fn redshift_sql(sql: &str) -> RedshiftSql {
    let mut out = RedshiftSql::default();
    let lower = sql.to_ascii_lowercase();
    let trimmed = lower.trim_start();
    let offset = lower.len() - trimmed.len();
    let mut i = 0;
    while let Some(p) = lower[i..].find("'s3://") {
        let start = i + p + 1;
        let Some(e) = sql[start..].find('\'') else {
            break;
        };
        let end = start + e;
        let before = lower[..i + p].trim_end();
        let path = sql[start..end].to_string();
        if before.ends_with(" to") || before.ends_with(")to") {
            out.s3_writes.push(path);
        } else if before.ends_with(" from") || before.ends_with("\nfrom") {
            out.s3_reads.push(path);
        }
        i = end + 1;
    }
    if let Some(rest) = trimmed.strip_prefix("copy ") {
        out.table_writes.extend(ident(rest));
    } else if trimmed.starts_with("unload") {
        // The query is the first quoted string; '' inside it is a quote.
        if let Some(q0) = lower[offset..].find('\'') {
            let body = &lower[offset + q0 + 1..];
            let bytes = body.as_bytes();
            let (mut end, mut k) = (body.len(), 0);
            while k < bytes.len() {
                if bytes[k] == b'\'' {
                    if bytes.get(k + 1) == Some(&b'\'') {
                        k += 2;
                        continue;
                    }
                    end = k;
                    break;
                }
                k += 1;
            }
            let query = &body[..end];
            for kw in [" from ", " join ", "\nfrom ", "\njoin "] {
                let mut j = 0;
                while let Some(p) = query[j..].find(kw) {
                    let at = j + p + kw.len();
                    if let Some(t) = ident(&query[at..]) {
                        if !out.table_reads.contains(&t) {
                            out.table_reads.push(t);
                        }
                    }
                    j = at;
                }
            }
        }
    }
    if let Some(p) = lower.find("iam_role") {
        let rest = sql[p + "iam_role".len()..].trim_start();
        if let Some(r) = rest.strip_prefix('\'') {
            let role = r.split(['\'', ',']).next().unwrap_or("").trim();
            if role.starts_with("arn:") {
                out.iam_role = Some(role.to_string());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redshift_copy_and_unload() {
        let c = redshift_sql(
            "COPY orders FROM 's3://acme-curated/orders/dt=1/' IAM_ROLE 'arn:aws:iam::1:role/R' FORMAT AS PARQUET",
        );
        assert_eq!(c.s3_reads, vec!["s3://acme-curated/orders/dt=1/"]);
        assert!(c.s3_writes.is_empty());
        assert_eq!(c.table_writes, vec!["orders"]);
        assert_eq!(c.iam_role.as_deref(), Some("arn:aws:iam::1:role/R"));
        let u = redshift_sql(
            "UNLOAD ('select * from sales.t join d on 1=1 where s = ''s3://x'' ') TO 's3://acme-export/o/' IAM_ROLE 'arn:aws:iam::1:role/R'",
        );
        assert!(u.s3_reads.is_empty());
        assert_eq!(u.s3_writes, vec!["s3://acme-export/o/"]);
        assert_eq!(u.table_reads, vec!["sales.t", "d"]);
        assert!(u.table_writes.is_empty());
    }

    #[test]
    fn metadata_calls_move_no_data() {
        assert_eq!(
            flow("s3.amazonaws.com", "HeadObject", "AWS::S3::Object", "read"),
            None
        );
        assert_eq!(
            flow("s3.amazonaws.com", "GetObject", "AWS::S3::Object", "read"),
            Some(Flow::Read)
        );
        assert_eq!(
            flow("s3.amazonaws.com", "CopyObject", "AWS::S3::Object", "write"),
            Some(Flow::Write)
        );
        assert_eq!(
            flow("s3.amazonaws.com", "CopyObject", "AWS::S3::Object", "read"),
            Some(Flow::Read)
        );
        assert_eq!(
            flow("s3.amazonaws.com", "GetObject", "AWS::S3::Bucket", "read"),
            None
        );
    }
}
