//! `trailgraph-gen`: deterministic synthetic CloudTrail (+ AWS Config history) corpus in the real S3 layout.
//!
//! One gzip file of `{"Records":[...]}` per account+region per 5-minute slot, 100–1000 records each, not in time
//! order, ~1% of records re-delivered byte-identically in a later file. AssumeRole credentials are reused by later
//! records of the session. With `--config`, Config history files follow the generated mutating calls. The output
//! depends only on the arguments (notably `--seed`). Events are templates in `CATALOG`; `$name` is filled by `var`.
//! With `--scenarios`, fixed hand-designed events and Config items (see `sc_build`) are written too, with their exact
//! who-changed and timeline answers in `OUT/expected.json`; they draw nothing from the RNG, so the random corpus stays
//! byte-identical with or without the flag.

use anyhow::{bail, Context, Result};
use clap::Parser;
use flate2::{write::GzEncoder, Compression};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::Instant;

#[derive(Parser)]
#[command(
    name = "trailgraph-gen",
    about = "Generate a synthetic CloudTrail (+ AWS Config) corpus"
)]
struct Args {
    /// Output directory (AWSLogs/... is created under it)
    #[arg(long)]
    out: PathBuf,
    /// Distinct CloudTrail records to generate (re-delivered duplicates come on top)
    #[arg(long)]
    records: u64,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[arg(long, default_value_t = 2)]
    accounts: usize,
    #[arg(long, default_value = "us-east-1,eu-west-1", value_delimiter = ',')]
    regions: Vec<String>,
    #[arg(long, default_value = "2024-01-01T00:00:00Z")]
    start: String,
    /// Also write AWS Config history files that follow the generated changes
    #[arg(long)]
    config: bool,
    /// Organization id: CloudTrail files go under AWSLogs/ORG/ACCOUNT/...
    #[arg(long)]
    org: Option<String>,
    /// Also write the hand-designed scenarios (accounts 111111111111 and 222222222222, us-east-1,
    /// 2024-03-01) and `OUT/expected.json` with their exact who-changed and timeline answers
    #[arg(long)]
    scenarios: bool,
    /// Extra resources that only receive configuration changes: N more buckets and security groups per
    /// account+region and N more roles per account. The configuration calls spread over them, so each resource
    /// gets a realistic number of changes (the default 0 concentrates them on a few resources).
    #[arg(long, default_value_t = 0)]
    fleet: usize,
}

/// `weight(‰) service EventName flags invokedBy|requestParameters|responseElements|additionalEventData|resources|target`
/// Flags: R read-only, D data event, S S3 request (S3 request id, bracketed user agent), I IAM (global, first region
/// only), K KMS called by S3 on the caller's behalf. `-` = none. Empty columns are omitted from the record.
const CATALOG: &str = r#"
200 s3 GetObject RDS -|{"bucketName":"$b","Host":"$host","key":"$k"}|null|$aed_out|[$obj]|arn:aws:s3:::$b/$k
120 s3 PutObject DS -|{"bucketName":"$b","Host":"$host","key":"$k"}|$sse|$aed_in|[$obj]|arn:aws:s3:::$b/$k
100 s3 HeadObject RDS -|{"bucketName":"$b","Host":"$host","key":"$k"}|null|$aed0|[$obj]|arn:aws:s3:::$b/$k
40 s3 CopyObject DS -|{"bucketName":"$b","Host":"$host","key":"$k","x-amz-copy-source":"$src"}|$sse|$aed0|[$obj,$srcobj]|arn:aws:s3:::$b/$k
40 s3 DeleteObject DS -|{"bucketName":"$b","Host":"$host","key":"$k"}|null|$aed0|[$obj]|arn:aws:s3:::$b/$k
50 s3 CompleteMultipartUpload DS -|{"bucketName":"$b","Host":"$host","key":"$k","uploadId":"$upload"}|$sse|$aed_in|[$obj]|arn:aws:s3:::$b/$k
65 kms Decrypt RK -|{"encryptionContext":{"aws:s3:arn":"$kctx"},"encryptionAlgorithm":"SYMMETRIC_DEFAULT"}|null||[{"accountId":"$a","type":"AWS::KMS::Key","ARN":"$kms"}]|$kms
35 kms GenerateDataKey RK -|{"keyId":"$kms","encryptionContext":{"aws:s3:arn":"$kctx"},"keySpec":"AES_256"}|null||[{"accountId":"$a","type":"AWS::KMS::Key","ARN":"$kms"}]|$kms
80 sts AssumeRole R -|{"roleArn":"$rolearn","roleSessionName":"$sname","durationSeconds":3600}|$creds||[{"accountId":"$a","type":"AWS::IAM::Role","ARN":"$rolearn"}]|$rolearn
4 iam CreateRole I -|{"roleName":"$newrole","assumeRolePolicyDocument":$trust_json,"path":"/"}|{"role":{"path":"/","roleName":"$newrole","roleId":"AROA$id17","arn":"arn:aws:iam::$a:role/$newrole","createDate":"$created","assumeRolePolicyDocument":"$trust_url"}}|||arn:aws:iam::$a:role/$newrole
9 iam PutRolePolicy I -|{"roleName":"$role","policyName":"$polname","policyDocument":"$poldoc"}|null|||$rolearn
8 iam AttachRolePolicy I -|{"roleName":"$role","policyArn":"arn:aws:iam::aws:policy/$managed"}|null|||$rolearn
4 iam CreateUser I -|{"userName":"$newuser","tags":[]}|{"user":{"path":"/","userName":"$newuser","userId":"AIDA$id17","arn":"arn:aws:iam::$a:user/$newuser","createDate":"$created"}}|||arn:aws:iam::$a:user/$newuser
40 ec2 DescribeInstances R -|{"instancesSet":{},"filterSet":{}}|null|||*
12 ec2 AuthorizeSecurityGroupIngress - -|{"groupId":"$sg","ipPermissions":{"items":[{"ipProtocol":"tcp","fromPort":$port,"toPort":$port,"groups":{},"ipRanges":{"items":[{"cidrIp":"$cidr"}]},"ipv6Ranges":{},"prefixListIds":{}}]}}|{"requestId":"$uuid","_return":true,"securityGroupRuleSet":{"items":[{"groupOwnerId":"$a","groupId":"$sg","securityGroupRuleId":"sgr-$hex17","isEgress":false,"ipProtocol":"tcp","fromPort":$port,"toPort":$port,"cidrIpv4":"$cidr"}]}}|||arn:aws:ec2:$r:$a:security-group/$sg
8 ec2 RunInstances - -|{"instancesSet":{"items":[{"imageId":"$ami","minCount":1,"maxCount":1}]},"instanceType":"$itype","blockDeviceMapping":{},"monitoring":{"enabled":false},"subnetId":"$subnet","disableApiTermination":false,"clientToken":"$uuid","groupSet":{"items":[{"groupId":"$sg"}]}}|{"requestId":"$uuid2","reservationId":"r-$hex17","ownerId":"$a","groupSet":{},"instancesSet":{"items":[{"instanceId":"$iid","imageId":"$ami","instanceState":{"code":0,"name":"pending"},"instanceType":"$itype","launchTime":$ms,"placement":{"availabilityZone":"$ra","tenancy":"default"},"subnetId":"$subnet","vpcId":"$vpc","privateIpAddress":"$ip10","groupSet":{"items":[{"groupId":"$sg","groupName":"$sgname"}]}}]}}|||arn:aws:ec2:$r:$a:instance/$iid
9 s3 PutBucketPolicy S -|{"bucketName":"$b","Host":"$host","policy":$policy}|null|$aed0|[$bres]|arn:aws:s3:::$b
6 s3 PutBucketAcl S -|{"bucketName":"$b","Host":"$host","acl":"","AccessControlPolicy":{"AccessControlList":{"Grant":{"Grantee":{"xsi:type":"CanonicalUser","xmlns:xsi":"http://www.w3.org/2001/XMLSchema-instance","ID":"$canon"},"Permission":"FULL_CONTROL"}},"xmlns":"http://s3.amazonaws.com/doc/2006-03-01/","Owner":{"ID":"$canon"}}}|null|$aed0|[$bres]|arn:aws:s3:::$b
7 s3 PutPublicAccessBlock S -|{"bucketName":"$b","Host":"$host","publicAccessBlock":"","PublicAccessBlockConfiguration":{"xmlns":"http://s3.amazonaws.com/doc/2006-03-01/","RestrictPublicBuckets":$p3,"BlockPublicPolicy":$p2,"BlockPublicAcls":$p0,"IgnorePublicAcls":$p1}}|null|$aed0|[$bres]|arn:aws:s3:::$b
8 s3 PutBucketEncryption S -|{"bucketName":"$b","Host":"$host","encryption":"","ServerSideEncryptionConfiguration":{"xmlns":"http://s3.amazonaws.com/doc/2006-03-01/","Rule":{"ApplyServerSideEncryptionByDefault":{"SSEAlgorithm":"aws:kms","KMSMasterKeyID":"$kms"},"BucketKeyEnabled":true}}}|null|$aed0|[$bres]|arn:aws:s3:::$b
34 lambda Invoke D s3.amazonaws.com|{"functionName":"$fnarn","invocationType":"Event"}|null|{"functionVersion":"$fnarn:$LATEST"}|[{"accountId":"$a","type":"AWS::Lambda::Function","ARN":"$fnarn"}]|$fnarn
6 lambda UpdateFunctionConfiguration20150331v2 - -|{"functionName":"$fn","timeout":$timeout,"memorySize":$mem}|{"functionName":"$fn","functionArn":"$fnarn","runtime":"python3.12","role":"arn:aws:iam::$a:role/LambdaExecRole","handler":"app.handler","codeSize":$size,"timeout":$timeout,"memorySize":$mem,"lastModified":"$iso","codeSha256":"$sha","version":"$LATEST","revisionId":"$uuid","state":"Active","lastUpdateStatus":"InProgress","packageType":"Zip","architectures":["x86_64"]}|||$fnarn
10 glue StartJobRun - glue.amazonaws.com|{"jobName":"$ds-curate","workerType":"G.1X","numberOfWorkers":10}|{"jobRunId":"jr_$hex64"}|||arn:aws:glue:$r:$a:job/$ds-curate
24 glue GetTable R athena.amazonaws.com|{"catalogId":"$a","databaseName":"analytics","name":"$ds"}|null|||arn:aws:glue:$r:$a:table/analytics/$ds
6 glue CreateTable - -|{"databaseName":"analytics","tableInput":{"name":"$tname","storageDescriptor":{"columns":[{"name":"id","type":"string"},{"name":"amount","type":"double"},{"name":"ts","type":"timestamp"}],"location":"s3://$curated/curated/$ds/","inputFormat":"org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat","serdeInfo":{"serializationLibrary":"org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"}},"partitionKeys":[{"name":"dt","type":"string"}],"tableType":"EXTERNAL_TABLE"}}|null|||arn:aws:glue:$r:$a:table/analytics/$tname
20 athena StartQueryExecution - -|{"queryString":"SELECT customer_id, sum(amount) FROM analytics.$ds WHERE dt = '$date' GROUP BY 1","clientRequestToken":"$uuid","queryExecutionContext":{"database":"analytics","catalog":"AwsDataCatalog"},"resultConfiguration":{"outputLocation":"s3://$results/results/"},"workGroup":"primary"}|{"queryExecutionId":"$uuid2"}|||arn:aws:athena:$r:$a:workgroup/primary
18 dynamodb PutItem D -|{"tableName":"$tbl","key":{"pk":"HIDDEN_DUE_TO_SECURITY_REASONS","sk":"HIDDEN_DUE_TO_SECURITY_REASONS"},"item":["pk","sk","payload","updatedAt"],"returnValue":"NONE"}|null||[{"accountId":"$a","type":"AWS::DynamoDB::Table","ARN":"$tblarn"}]|$tblarn
20 dynamodb GetItem RD -|{"tableName":"$tbl","key":{"pk":"HIDDEN_DUE_TO_SECURITY_REASONS"},"consistentRead":false,"projectionExpression":"pk, payload"}|null||[{"accountId":"$a","type":"AWS::DynamoDB::Table","ARN":"$tblarn"}]|$tblarn
12 dynamodb Query RD -|{"tableName":"$tbl","keyConditionExpression":"pk = :pk","limit":100,"select":"ALL_ATTRIBUTES","returnConsumedCapacity":"TOTAL"}|null||[{"accountId":"$a","type":"AWS::DynamoDB::Table","ARN":"$tblarn"}]|$tblarn
1 cloudtrail StopLogging - -|{"name":"arn:aws:cloudtrail:$r:$a:trail/management-trail"}|null|||arn:aws:cloudtrail:$r:$a:trail/management-trail
4 cloudtrail PutEventSelectors - -|{"trailName":"management-trail","eventSelectors":[{"readWriteType":"All","includeManagementEvents":true,"dataResources":[{"type":"AWS::S3::Object","values":["arn:aws:s3"]}],"excludeManagementEventSources":[]}]}|{"trailARN":"arn:aws:cloudtrail:$r:$a:trail/management-trail","eventSelectors":[{"readWriteType":"All","includeManagementEvents":true,"dataResources":[{"type":"AWS::S3::Object","values":["arn:aws:s3"]}],"excludeManagementEventSources":[]}]}|||arn:aws:cloudtrail:$r:$a:trail/management-trail
"#;

#[derive(Clone, Copy)]
struct Spec {
    weight: u64,
    src: &'static str,
    name: &'static str,
    flags: &'static str,
    svc: Option<&'static str>,
    cols: [&'static str; 5], // requestParameters, responseElements, additionalEventData, resources, target
}

fn catalog() -> Vec<Spec> {
    let parse = |line: &'static str| {
        let mut cols = line.split('|');
        let head: Vec<&str> = cols.next().unwrap().split_whitespace().collect();
        let svc = Some(head[4]).filter(|s| *s != "-");
        let c: Vec<&'static str> = cols.collect();
        let cols = [c[0], c[1], c[2], c[3], c[4]];
        let weight = head[0].parse().unwrap();
        Spec {
            weight,
            src: head[1],
            name: head[2],
            flags: head[3],
            svc,
            cols,
        }
    };
    CATALOG
        .lines()
        .filter(|l| !l.is_empty())
        .map(parse)
        .collect()
}

// ---------------------------------------------------------------- PRNG and small helpers

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        ((self.next() as u128 * n as u128) >> 64) as u64
    }
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo)
    }
    fn chance(&mut self, p: f64) -> bool {
        ((self.next() >> 11) as f64 / (1u64 << 53) as f64) < p
    }
    fn idx(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }
    fn pick<T: Copy>(&mut self, s: &[T]) -> T {
        s[self.idx(s.len())]
    }
    fn chars(&mut self, n: usize, alphabet: &[u8]) -> String {
        (0..n)
            .map(|_| alphabet[self.idx(alphabet.len())] as char)
            .collect()
    }
    fn hex(&mut self, n: usize) -> String {
        self.chars(n, b"0123456789abcdef")
    }
    fn upper(&mut self, n: usize) -> String {
        self.chars(n, b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
    }
    fn uuid(&mut self) -> String {
        let (a, b) = (self.next(), self.next());
        let var = ["8", "9", "a", "b"][(b >> 62) as usize];
        let (a1, a2, a3) = (a >> 32, (a >> 16) & 0xffff, a & 0xfff);
        let (b1, b2) = ((b >> 48) & 0xfff, b & 0xffff_ffff_ffff);
        format!("{a1:08x}-{a2:04x}-4{a3:03x}-{var}{b1:03x}-{b2:012x}")
    }
}

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// (year, month, day, hour, minute, second) of a Unix time.
fn parts(secs: i64) -> (i64, u32, u32, i64, i64, i64) {
    let z = secs.div_euclid(86_400) + 719_468;
    let (era, s) = (z.div_euclid(146_097), secs.rem_euclid(86_400));
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (
        yoe + era * 400 + (m <= 2) as i64,
        m,
        d,
        s / 3600,
        s / 60 % 60,
        s % 60,
    )
}
fn iso(secs: i64) -> String {
    let (y, m, d, h, mi, s) = parts(secs);
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}
fn iso_ms(ms: i64) -> String {
    let s = iso(ms.div_euclid(1000));
    format!("{}.{:03}Z", &s[..19], ms.rem_euclid(1000))
}
fn compact(secs: i64, with_secs: bool) -> String {
    let (y, m, d, h, mi, s) = parts(secs);
    let s = if with_secs {
        format!("{s:02}")
    } else {
        String::new()
    };
    format!("{y:04}{m:02}{d:02}T{h:02}{mi:02}{s}Z")
}
/// "Jan 1, 2024, 1:00:00 AM": STS expirations and IAM create dates in CloudTrail.
fn human(secs: i64) -> String {
    let (y, m, d, h, mi, s) = parts(secs);
    let mon = &"JanFebMarAprMayJunJulAugSepOctNovDec"[(m as usize - 1) * 3..][..3];
    let (h12, ap) = (
        if h % 12 == 0 { 12 } else { h % 12 },
        if h < 12 { "AM" } else { "PM" },
    );
    format!("{mon} {d}, {y}, {h12}:{mi:02}:{s:02} {ap}")
}
/// Stable hex for fleet resource ids (not from the RNG, so `--fleet` leaves the rest of the corpus unchanged).
fn fleet_hex(acct: &str, scope: &str, i: usize) -> String {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(format!("{acct}/{scope}/{i}").as_bytes());
    d.iter().map(|b| format!("{b:02x}")).collect()
}
fn jstr(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}
fn urlenc(s: &str) -> String {
    let mut o = String::with_capacity(s.len() * 2);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            o.push(b as char);
        } else {
            let _ = write!(o, "%{b:02X}");
        }
    }
    o
}

// ---------------------------------------------------------------- world model

struct User(String, String, String, String, &'static str); // name, principal id, access key, ip, user agent
#[derive(Clone)]
struct Session(usize, String, String, i64, String, &'static str); // role, name, key, created, ip, user agent
struct Role {
    name: String,
    id: String,
    svc: Option<&'static str>,
    inline: Vec<(String, String)>,
    attached: Vec<String>,
    pending: Option<i64>,
}
struct Acct {
    id: String,
    canon: String,
    users: Vec<User>,
    roles: Vec<Role>,
    sessions: Vec<Session>,
    fresh: Vec<Session>,
}
#[derive(Default)]
struct Bucket {
    name: String,
    policy: Option<String>,
    pab: Option<[bool; 4]>,
    kms: Option<String>,
    pending: Option<i64>,
}
#[derive(Default)]
struct Sg {
    id: String,
    name: String,
    rules: Vec<(String, String)>,
    pending: Option<i64>,
}
struct Loc {
    region: String,
    buckets: Vec<Bucket>,
    sgs: Vec<Sg>,
    vpc: String,
    subnet: String,
    kms: Vec<String>,
}

const USERS: [&str; 5] = ["alice", "bob", "carol", "ci-deploy", "data-eng-bot"];
const ROLES: [(&str, Option<&str>); 6] = [
    ("DataPipelineRole", None),
    ("GlueETLRole", Some("glue.amazonaws.com")),
    ("LambdaExecRole", Some("lambda.amazonaws.com")),
    ("AnalystRole", None),
    ("AthenaQueryRole", Some("athena.amazonaws.com")),
    ("OrgAdminRole", None),
];
const UAS: [&str; 6] = [
    "aws-cli/2.15.30 Python/3.11.8 Linux/6.1.79 exe/x86_64.amzn.2023 prompt/off command/s3.cp",
    "Boto3/1.34.69 md/Botocore#1.34.69 ua/2.0 os/linux#5.10.213 md/arch#x86_64 lang/python#3.11.8 Botocore/1.34.69",
    "aws-sdk-java/2.25.6 Linux/5.10.213 OpenJDK_64-Bit_Server_VM/17.0.10 Java/17.0.10 io/sync http/Apache",
    "[aws-sdk-go-v2/1.26.0 os/linux lang/go#1.22.1 md/GOOS#linux md/GOARCH#amd64 api/s3#1.53.0]",
    "[Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 Chrome/122.0.0.0 Safari/537.36]",
    "APN/1.0 HashiCorp/1.0 Terraform/1.7.5 (+https://www.terraform.io) terraform-provider-aws/5.42.0 aws-sdk-go-v2/1.26.0",
];
const KINDS: [&str; 6] = [
    "raw",
    "curated",
    "analytics",
    "logs",
    "backups",
    "athena-results",
];
const DATASETS: [&str; 6] = [
    "orders",
    "customers",
    "clickstream",
    "payments",
    "inventory",
    "shipments",
];
const CIDRS: [&str; 6] = [
    "0.0.0.0/0",
    "10.0.0.0/8",
    "172.16.0.0/12",
    "203.0.113.0/24",
    "198.51.100.17/32",
    "192.0.2.0/24",
];
const MANAGED: [&str; 5] = [
    "AmazonS3ReadOnlyAccess",
    "AmazonS3FullAccess",
    "AWSGlueServiceRole",
    "AdministratorAccess",
    "AmazonAthenaFullAccess",
];
const CFG_TYPES: [&str; 3] = [
    "AWS::S3::Bucket",
    "AWS::EC2::SecurityGroup",
    "AWS::IAM::Role",
];
const WINDOW: i64 = 6 * 3600;

/// userIdentity JSON, its ARN (for error messages), source IP, user agent, is-an-AWS-service.
struct Ident(String, String, String, &'static str, bool);

/// Per-record state: account, region, time, chosen bucket/sg/role and the `$vars` filled so far.
#[derive(Default)]
struct Ctx {
    a: usize,
    r: usize,
    t: i64,
    bi: usize,
    gi: usize,
    ri: usize,
    /// A configuration call: it picks its bucket, security group or role among the fleet too.
    fleet: bool,
    issuer: Option<(String, &'static str)>,
    memo: Vec<(&'static str, String)>,
}
impl Ctx {
    fn get(&self, k: &str) -> &str {
        self.memo
            .iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }
}

#[derive(Clone, Copy)]
enum Res {
    Bucket(usize, usize, usize),
    Sg(usize, usize, usize),
    Role(usize, usize),
}

// ---------------------------------------------------------------- writer pool (parallel gzip)

type Job = (PathBuf, Vec<u8>);
struct Pool(
    Option<SyncSender<Job>>,
    Vec<std::thread::JoinHandle<Result<u64>>>,
);
impl Pool {
    fn new(threads: usize) -> Pool {
        let (tx, rx) = sync_channel::<Job>(threads * 2);
        let rx: Arc<Mutex<Receiver<Job>>> = Arc::new(Mutex::new(rx));
        let work = move |rx: Arc<Mutex<Receiver<Job>>>| -> Result<u64> {
            let mut total = 0;
            while let Ok((path, data)) = { rx.lock().unwrap().recv() } {
                std::fs::create_dir_all(path.parent().unwrap())?;
                let f = std::fs::File::create(&path).with_context(|| path.display().to_string())?;
                let mut enc = GzEncoder::new(std::io::BufWriter::new(f), Compression::default());
                enc.write_all(&data)?;
                total += enc
                    .finish()?
                    .into_inner()
                    .map_err(|e| e.into_error())?
                    .metadata()?
                    .len();
            }
            Ok(total)
        };
        let handles = (0..threads).map(|_| {
            let rx = rx.clone();
            std::thread::spawn(move || work(rx))
        });
        Pool(Some(tx), handles.collect())
    }
    fn send(&self, path: PathBuf, data: Vec<u8>) -> Result<()> {
        let tx = self.0.as_ref().unwrap();
        tx.send((path, data))
            .map_err(|_| anyhow::anyhow!("writer threads died"))
    }
    fn finish(mut self) -> Result<u64> {
        drop(self.0.take());
        let mut total = 0;
        for h in self.1.drain(..) {
            total += h
                .join()
                .map_err(|_| anyhow::anyhow!("writer thread panicked"))??;
        }
        Ok(total)
    }
}

// ---------------------------------------------------------------- generator

struct Gen {
    rng: Rng,
    specs: Vec<Spec>,
    out: PathBuf,
    org: Option<String>,
    config: bool,
    accts: Vec<Acct>,
    locs: Vec<Vec<Loc>>,
    redeliver: Vec<Vec<Vec<String>>>,
    cfg_buf: BTreeMap<(i64, usize, usize, usize), Vec<String>>,
    pool: Pool,
    stats: [u64; 5], // CloudTrail files, Config files, Config items, re-delivered records, uncompressed bytes
}

impl Gen {
    fn new(a: &Args, start: i64) -> Gen {
        let mut rng = Rng(a.seed ^ 0x7261_696c_6772_6170);
        let (mut accts, mut locs) = (vec![], vec![]);
        for _ in 0..a.accounts {
            let id = format!("{:012}", rng.range(100_000_000_000, 999_999_999_999));
            let mut user = |n: &str| {
                let ip = format!(
                    "{}.{}.{}.{}",
                    rng.pick(&[34, 52, 81, 93, 185]),
                    rng.below(255),
                    rng.below(255),
                    rng.range(1, 255)
                );
                User(
                    n.into(),
                    format!("AIDA{}", rng.upper(17)),
                    format!("AKIA{}", rng.upper(16)),
                    ip,
                    rng.pick(&UAS),
                )
            };
            let users = USERS.iter().map(|n| user(n)).collect();
            let role = |&(n, svc): &(&str, Option<&'static str>)| {
                let id = format!("AROA{}", rng.upper(17));
                Role {
                    name: n.into(),
                    id,
                    svc,
                    inline: vec![],
                    attached: vec![],
                    pending: None,
                }
            };
            let mut roles: Vec<Role> = ROLES.iter().map(role).collect();
            roles.extend((0..a.fleet).map(|i| Role {
                name: format!("app-role-{i:04}"),
                id: format!("AROA{}", fleet_hex(&id, "iam", i)[..17].to_uppercase()),
                svc: None,
                inline: vec![],
                attached: vec![],
                pending: None,
            }));
            let canon = rng.hex(64);
            let mut lv = vec![];
            for region in &a.regions {
                let short: String = region
                    .split('-')
                    .map(|p| {
                        &p[..if p.as_bytes()[0].is_ascii_digit() {
                            p.len()
                        } else {
                            1
                        }]
                    })
                    .collect();
                let bucket = |k: &&str| Bucket {
                    name: format!("acme-{k}-{}-{short}", &id[8..]),
                    ..Default::default()
                };
                let rules = vec![("443".to_string(), "10.0.0.0/8".to_string())];
                let mut sg = |n: &&str| Sg {
                    id: format!("sg-{}", rng.hex(17)),
                    name: n.to_string(),
                    rules: rules.clone(),
                    pending: None,
                };
                let mut sgs: Vec<Sg> = ["web", "db", "bastion", "etl-workers"]
                    .iter()
                    .map(&mut sg)
                    .collect();
                let (vpc, subnet) = (
                    format!("vpc-{}", rng.hex(17)),
                    format!("subnet-{}", rng.hex(17)),
                );
                let kms = (0..2)
                    .map(|_| format!("arn:aws:kms:{region}:{id}:key/{}", rng.uuid()))
                    .collect();
                let mut buckets: Vec<Bucket> = KINDS.iter().map(bucket).collect();
                // The fleet draws nothing from the RNG, so the rest of the corpus does not depend on it.
                buckets.extend((0..a.fleet).map(|i| Bucket {
                    name: format!("acme-app{i:04}-{}-{short}", &id[8..]),
                    ..Default::default()
                }));
                sgs.extend((0..a.fleet).map(|i| Sg {
                    id: format!("sg-{}", &fleet_hex(&id, region, i)[..17]),
                    name: format!("app-{i:04}"),
                    rules: rules.clone(),
                    pending: None,
                }));
                lv.push(Loc {
                    region: region.clone(),
                    buckets,
                    sgs,
                    vpc,
                    subnet,
                    kms,
                });
            }
            accts.push(Acct {
                id,
                canon,
                users,
                roles,
                sessions: vec![],
                fresh: vec![],
            });
            locs.push(lv);
        }
        let threads = std::thread::available_parallelism()
            .map_or(2, |n| n.get())
            .min(8);
        let redeliver = vec![vec![vec![]; a.regions.len()]; a.accounts];
        let (out, org, config, pool) = (a.out.clone(), a.org.clone(), a.config, Pool::new(threads));
        let specs = catalog();
        let mut g = Gen {
            rng,
            specs,
            out,
            org,
            config,
            accts,
            locs,
            redeliver,
            cfg_buf: BTreeMap::new(),
            pool,
            stats: [0; 5],
        };
        let mut ms = (start - 3600) * 1000;
        for res in if g.config { g.resources() } else { vec![] } {
            ms += 1000 + g.rng.below(1000) as i64;
            g.emit(res, ms, "ResourceDiscovered");
        }
        g
    }

    fn resources(&self) -> Vec<Res> {
        let mut v = vec![];
        for (a, lv) in self.locs.iter().enumerate() {
            v.extend((0..self.accts[a].roles.len()).map(|i| Res::Role(a, i)));
            for (r, l) in lv.iter().enumerate() {
                v.extend((0..l.buckets.len()).map(|i| Res::Bucket(a, r, i)));
                v.extend((0..l.sgs.len()).map(|i| Res::Sg(a, r, i)));
            }
        }
        v
    }

    fn pending(&mut self, res: Res) -> &mut Option<i64> {
        match res {
            Res::Bucket(a, r, i) => &mut self.locs[a][r].buckets[i].pending,
            Res::Sg(a, r, i) => &mut self.locs[a][r].sgs[i].pending,
            Res::Role(a, i) => &mut self.accts[a].roles[i].pending,
        }
    }

    /// Emits scheduled configuration items captured before `until_ms` (they hold the state before later calls).
    fn flush_pending(&mut self, res: Vec<Res>, until_ms: i64) {
        for res in res {
            if let Some(ms) = self.pending(res).filter(|ms| *ms < until_ms) {
                *self.pending(res) = None;
                self.emit(res, ms, "OK");
            }
        }
    }

    /// A successful mutating call at `t`: the new state is captured 1–10 minutes later (one item can cover several calls).
    fn change(&mut self, res: Res, t: i64, mutate: impl FnOnce(&mut Gen)) {
        if self.config {
            self.flush_pending(vec![res], t * 1000);
        }
        mutate(self);
        if self.config && self.pending(res).is_none() {
            *self.pending(res) = Some(t * 1000 + self.rng.range(60_000, 600_000) as i64);
        }
    }

    fn emit(&mut self, res: Res, ms: i64, status: &str) {
        let (a, r, ty) = match res {
            Res::Bucket(a, r, _) => (a, r, 0),
            Res::Sg(a, r, _) => (a, r, 1),
            Res::Role(a, _) => (a, 0, 2),
        };
        let (acct, canon, loc) = (&self.accts[a].id, &self.accts[a].canon, &self.locs[a][r]);
        let created = iso_ms(1_672_531_200_000 + (acct.as_bytes()[11] as i64) * 86_400_000);
        let (region, ty_name) = (&loc.region, CFG_TYPES[ty]);
        let (id, name, arn, region, az, rel, conf, supp) = match res {
            Res::Bucket(_, _, i) => {
                let b = &loc.buckets[i];
                let (n, policy) = (&b.name, b.policy.as_deref().map_or("null".into(), jstr));
                let conf = format!(
                    r#"{{"name":"{n}","owner":{{"displayName":null,"id":"{canon}"}},"creationDate":"{created}"}}"#
                );
                let acl = format!(
                    r#"{{"grantSet":null,"grantList":[{{"grantee":{{"id":"{canon}","displayName":null}},"permission":"FullControl"}}],"owner":{{"displayName":null,"id":"{canon}"}},"isRequesterCharged":false}}"#
                );
                let mut s = format!(
                    r#"{{"AccessControlList":{},"BucketLoggingConfiguration":{{"destinationBucketName":null,"logFilePrefix":null}},"BucketPolicy":{{"policyText":{policy}}}"#,
                    jstr(&acl)
                );
                if let Some([p0, p1, p2, p3]) = b.pab {
                    let _ = write!(
                        s,
                        r#","PublicAccessBlockConfiguration":{{"blockPublicAcls":{p0},"ignorePublicAcls":{p1},"blockPublicPolicy":{p2},"restrictPublicBuckets":{p3}}}"#
                    );
                }
                if let Some(k) = &b.kms {
                    let _ = write!(
                        s,
                        r#","ServerSideEncryptionConfiguration":{{"rules":[{{"applyServerSideEncryptionByDefault":{{"sseAlgorithm":"aws:kms","kmsMasterKeyID":"{k}"}},"bucketKeyEnabled":true}}]}}"#
                    );
                }
                s.push_str(r#","BucketVersioningConfiguration":{"status":"Enabled","isMfaDeleteEnabled":null},"IsRequesterPaysEnabled":false}"#);
                (
                    n,
                    n,
                    format!("arn:aws:s3:::{n}"),
                    region.as_str(),
                    "Regional",
                    "[]".into(),
                    conf,
                    s,
                )
            }
            Res::Sg(_, _, i) => {
                let (g, vpc) = (&loc.sgs[i], &loc.vpc);
                let rule = |(p, c): &(String, String)| {
                    format!(
                        r#"{{"fromPort":{p},"ipProtocol":"tcp","ipv6Ranges":[],"prefixListIds":[],"toPort":{p},"userIdGroupPairs":[],"ipv4Ranges":[{{"cidrIp":"{c}"}}],"ipRanges":["{c}"]}}"#
                    )
                };
                let (gid, gname, perms) = (
                    &g.id,
                    &g.name,
                    g.rules.iter().map(rule).collect::<Vec<_>>().join(","),
                );
                let conf = format!(
                    r#"{{"description":"{gname} security group","groupName":"{gname}","ipPermissions":[{perms}],"ownerId":"{acct}","groupId":"{gid}","ipPermissionsEgress":[{{"ipProtocol":"-1","ipv6Ranges":[],"prefixListIds":[],"userIdGroupPairs":[],"ipv4Ranges":[{{"cidrIp":"0.0.0.0/0"}}],"ipRanges":["0.0.0.0/0"]}}],"tags":[],"vpcId":"{vpc}"}}"#
                );
                let rel = format!(
                    r#"[{{"resourceType":"AWS::EC2::VPC","resourceId":"{vpc}","relationshipName":"Is contained in Vpc"}}]"#
                );
                let arn = format!("arn:aws:ec2:{region}:{acct}:security-group/{gid}");
                (
                    gid,
                    gname,
                    arn,
                    region.as_str(),
                    "Not Applicable",
                    rel,
                    conf,
                    "{}".into(),
                )
            }
            Res::Role(_, i) => {
                let ro = &self.accts[a].roles[i];
                let (rname, rid, arn) = (
                    &ro.name,
                    &ro.id,
                    format!("arn:aws:iam::{acct}:role/{}", ro.name),
                );
                let att = ro.attached.iter().map(|p| {
                    format!(r#"{{"policyArn":"arn:aws:iam::aws:policy/{p}","policyName":"{p}"}}"#)
                });
                let att = att.collect::<Vec<_>>().join(",");
                let rel = ro.attached.iter().map(|p| format!(r#"{{"resourceType":"AWS::IAM::Policy","resourceName":"{p}","relationshipName":"Is attached to AWSManagedPolicy"}}"#));
                let rel = format!("[{}]", rel.collect::<Vec<_>>().join(","));
                let inl = ro.inline.iter().map(|(n, d)| {
                    format!(r#"{{"policyName":"{n}","policyDocument":"{}"}}"#, urlenc(d))
                });
                let inl = inl.collect::<Vec<_>>().join(",");
                let trust = urlenc(&format!(
                    r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{acct}:root"}},"Action":"sts:AssumeRole"}}]}}"#
                ));
                let conf = format!(
                    r#"{{"path":"/","roleName":"{rname}","roleId":"{rid}","arn":"{arn}","createDate":"{created}","assumeRolePolicyDocument":"{trust}","instanceProfileList":[],"rolePolicyList":[{inl}],"attachedManagedPolicies":[{att}],"permissionsBoundary":null,"tags":[]}}"#
                );
                (
                    rid,
                    rname,
                    arn,
                    "global",
                    "Not Applicable",
                    rel,
                    conf,
                    "{}".into(),
                )
            }
        };
        let cap = iso_ms(ms);
        let item = format!(
            r#"{{"relatedEvents":[],"relationships":{rel},"configuration":{conf},"supplementaryConfiguration":{supp},"tags":{{}},"configurationItemVersion":"1.3","configurationItemCaptureTime":"{cap}","configurationStateId":{ms},"awsAccountId":"{acct}","configurationItemStatus":"{status}","resourceType":"{ty_name}","resourceId":"{id}","resourceName":"{name}","ARN":"{arn}","awsRegion":"{region}","availabilityZone":"{az}","configurationStateMd5Hash":"","resourceCreationTime":"{created}"}}"#
        );
        self.stats[2] += 1;
        self.cfg_buf
            .entry((ms.div_euclid(1000 * WINDOW) * WINDOW, a, r, ty))
            .or_default()
            .push(item);
    }

    /// Writes the Config history files of every 6-hour window that ends by `until`.
    fn flush_config(&mut self, until: i64) -> Result<()> {
        while self
            .cfg_buf
            .first_key_value()
            .is_some_and(|(k, _)| k.0 + WINDOW <= until)
        {
            let ((ws, a, r, ty), items) = self.cfg_buf.pop_first().unwrap();
            let (acct, region, ty) = (&self.accts[a].id, &self.locs[a][r].region, CFG_TYPES[ty]);
            let ((y, m, d, ..), from, to) =
                (parts(ws), compact(ws, true), compact(ws + WINDOW, true));
            let dir = format!("AWSLogs/{acct}/Config/{region}/{y}/{m}/{d}/ConfigHistory");
            let file = format!("{acct}_Config_{region}_ConfigHistory_{ty}_{from}_{to}_1.json.gz");
            let body = format!(
                r#"{{"fileVersion":"1.0","configurationItems":[{}]}}"#,
                items.join(",")
            );
            self.stats[1] += 1;
            self.stats[4] += body.len() as u64;
            self.pool
                .send(self.out.join(dir).join(file), body.into_bytes())?;
        }
        Ok(())
    }

    fn user_ident(&mut self, a: usize) -> Ident {
        let acct = &self.accts[a];
        let User(name, pid, key, ip, ua) = &acct.users[self.rng.idx(acct.users.len())];
        let (id, arn) = (&acct.id, format!("arn:aws:iam::{}:user/{name}", acct.id));
        let json = format!(
            r#"{{"type":"IAMUser","principalId":"{pid}","arn":"{arn}","accountId":"{id}","accessKeyId":"{key}","userName":"{name}"}}"#
        );
        Ident(json, arn, ip.clone(), ua, false)
    }

    fn session_ident(&self, a: usize, s: &Session) -> Ident {
        let (acct, Session(ri, sname, key, created, ip, ua)) = (&self.accts[a].id, s);
        let (rn, rid, created) = (
            &self.accts[a].roles[*ri].name,
            &self.accts[a].roles[*ri].id,
            iso(*created),
        );
        let arn = format!("arn:aws:sts::{acct}:assumed-role/{rn}/{sname}");
        let json = format!(
            r#"{{"type":"AssumedRole","principalId":"{rid}:{sname}","arn":"{arn}","accountId":"{acct}","accessKeyId":"{key}","sessionContext":{{"sessionIssuer":{{"type":"Role","principalId":"{rid}","arn":"arn:aws:iam::{acct}:role/{rn}","accountId":"{acct}","userName":"{rn}"}},"webIdFederationData":{{}},"attributes":{{"creationDate":"{created}","mfaAuthenticated":"false"}}}}}}"#
        );
        Ident(json, arn, ip.clone(), ua, false)
    }

    fn service_ident(s: &'static str) -> Ident {
        Ident(
            format!(r#"{{"type":"AWSService","invokedBy":"{s}"}}"#),
            s.into(),
            s.into(),
            s,
            true,
        )
    }

    fn ident(&mut self, a: usize, t: i64, svc: Option<&'static str>) -> Ident {
        let roll = self.rng.below(100);
        let n = self.accts[a].sessions.len();
        match (roll, svc) {
            (0..=7, Some(s)) => Self::service_ident(s),
            (0..=51, _) if n > 0 => {
                let i = self.rng.idx(n);
                self.session_ident(a, &self.accts[a].sessions[i])
            }
            (0..=97, _) => self.user_ident(a),
            _ => {
                let (id, key, created) = (&self.accts[a].id, self.rng.upper(16), iso(t - 600));
                let json = format!(
                    r#"{{"type":"Root","principalId":"{id}","arn":"arn:aws:iam::{id}:root","accountId":"{id}","accessKeyId":"ASIA{key}","sessionContext":{{"sessionIssuer":{{}},"webIdFederationData":{{}},"attributes":{{"creationDate":"{created}","mfaAuthenticated":"true"}}}}}}"#
                );
                Ident(
                    json,
                    format!("arn:aws:iam::{id}:root"),
                    self.accts[a].users[0].3.clone(),
                    UAS[4],
                    false,
                )
            }
        }
    }

    /// The caller of an AssumeRole: a service (for service roles), another session (role chaining) or a user.
    fn assume_ident(&mut self, c: &mut Ctx) -> Ident {
        c.ri = self.rng.idx(ROLES.len());
        let (roll, n, role) = (
            self.rng.below(100),
            self.accts[c.a].sessions.len(),
            &self.accts[c.a].roles[c.ri],
        );
        let (rname, svc) = (role.name.clone(), role.svc);
        let (id, sname) = match (roll, svc) {
            (0..=39, Some(s)) => (
                Self::service_ident(s),
                format!("{}-{}", rname.trim_end_matches("Role"), self.rng.hex(12)),
            ),
            (0..=54, _) if n > 0 => {
                let (i, sname) = (
                    self.rng.idx(n),
                    format!("chained-{}", self.rng.below(1_000_000)),
                );
                (self.session_ident(c.a, &self.accts[c.a].sessions[i]), sname)
            }
            _ => {
                let id = self.user_ident(c.a);
                let user = id.1.rsplit('/').next().unwrap().to_string();
                (
                    id,
                    if self.rng.chance(0.5) {
                        user
                    } else {
                        format!("botocore-session-{}", c.t * 1000 + 17)
                    },
                )
            }
        };
        let ip = if id.4 {
            format!(
                "3.{}.{}.{}",
                self.rng.below(255),
                self.rng.below(255),
                self.rng.range(1, 255)
            )
        } else {
            id.2.clone()
        };
        c.issuer = Some((ip, if id.4 { UAS[1] } else { id.3 }));
        c.memo.push(("role", rname));
        c.memo.push(("sname", sname));
        id
    }

    fn s3_key(&mut self, kind: usize, t: i64) -> String {
        let (y, m, d, h, ..) = parts(if self.rng.chance(0.2) { t - 86_400 } else { t });
        let (ds, i) = (self.rng.pick(&DATASETS), self.rng.below(800));
        match kind {
            0 => format!("landing/{ds}/{y}-{m:02}-{d:02}/{i:05}.json.gz"),
            1 => format!("curated/{ds}/dt={y}-{m:02}-{d:02}/part-{i:05}.parquet"),
            2 => format!("marts/{ds}/dt={y}-{m:02}-{d:02}/{i:05}.parquet"),
            3 => format!("logs/{ds}/{y}/{m:02}/{d:02}/{h:02}/{i:05}.gz"),
            4 => format!("snap/{ds}/{y}-{m:02}-{d:02}/{i:05}.bin"),
            _ => format!("results/{y}/{m:02}/{d:02}/{i:05}.csv"),
        }
    }

    fn bucket_policy(&mut self, acct: &str, b: &str) -> String {
        let (role, other) = (
            self.rng.pick(&ROLES).0,
            self.rng.range(100_000_000_000, 999_999_999_999),
        );
        let mut st = vec![format!(
            r#"{{"Sid":"DenyInsecureTransport","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::{b}","arn:aws:s3:::{b}/*"],"Condition":{{"Bool":{{"aws:SecureTransport":"false"}}}}}}"#
        )];
        if self.rng.chance(0.6) {
            st.push(format!(r#"{{"Sid":"AllowPipelineRead","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{acct}:role/{role}"}},"Action":["s3:GetObject","s3:ListBucket"],"Resource":["arn:aws:s3:::{b}","arn:aws:s3:::{b}/*"]}}"#));
        }
        if self.rng.chance(0.3) {
            st.push(format!(r#"{{"Sid":"CrossAccountRead","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{other:012}:root"}},"Action":"s3:GetObject","Resource":"arn:aws:s3:::{b}/*"}}"#));
        }
        if self.rng.chance(0.05) {
            st.push(format!(r#"{{"Sid":"PublicRead","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::{b}/*"}}"#));
        }
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{}]}}"#,
            st.join(",")
        )
    }

    /// The value of `$k` in this record (computed once, then reused).
    fn var(&mut self, c: &mut Ctx, k: &'static str) -> String {
        if let Some((_, v)) = c.memo.iter().find(|(n, _)| *n == k) {
            return v.clone();
        }
        let (a, r, t) = (c.a, c.r, c.t);
        let (acct, region) = (self.accts[a].id.clone(), self.locs[a][r].region.clone());
        let rng = &mut self.rng;
        let obj = |b: &str, k: &str| {
            format!(
                r#"{{"type":"AWS::S3::Object","ARN":"arn:aws:s3:::{b}/{k}"}},{{"accountId":"{acct}","type":"AWS::S3::Bucket","ARN":"arn:aws:s3:::{b}"}}"#
            )
        };
        let aed = |rng: &mut Rng, i: u64, o: u64| {
            format!(
                r#"{{"SignatureVersion":"SigV4","CipherSuite":"TLS_AES_128_GCM_SHA256","bytesTransferredIn":{i},"AuthenticationMethod":"AuthHeader","x-amz-id-2":"{}","bytesTransferredOut":{o}}}"#,
                rng.chars(56, B64)
            )
        };
        let v = match k {
            "a" => acct,
            "r" => region,
            "ra" => format!("{region}a"),
            "b" => {
                let n = if c.fleet { self.locs[a][r].buckets.len() } else { KINDS.len() };
                c.bi = rng.idx(n);
                self.locs[a][r].buckets[c.bi].name.clone()
            }
            "host" => format!("{}.s3.{region}.amazonaws.com", self.var(c, "b")),
            "k" => {
                self.var(c, "b");
                self.s3_key(c.bi, t)
            }
            "obj" => obj(&self.var(c, "b"), &self.var(c, "k")),
            "bres" => format!(r#"{{"accountId":"{acct}","type":"AWS::S3::Bucket","ARN":"arn:aws:s3:::{}"}}"#, self.var(c, "b")),
            "src" | "srcobj" => {
                let i = rng.idx(3);
                let (sb, sk) = (self.locs[a][r].buckets[i].name.clone(), self.s3_key(i, t));
                c.memo.push(("srcobj", obj(&sb, &sk)));
                c.memo.push(("src", format!("{sb}/{}", urlenc(&sk).replace("%2F", "/"))));
                return c.get(k).to_string();
            }
            "sse" => r#"{"x-amz-server-side-encryption":"aws:kms","x-amz-server-side-encryption-bucket-key-enabled":"true"}"#.into(),
            "aed0" => aed(rng, 0, 0),
            "aed_in" => aed(rng, 0, 0).replace(r#"In":0"#, &format!(r#"In":{}"#, rng.range(1000, 50_000_000))),
            "aed_out" => aed(rng, 0, 0).replace(r#"Out":0"#, &format!(r#"Out":{}"#, rng.range(1000, 50_000_000))),
            "upload" => rng.chars(80, ALNUM),
            "kms" => self.locs[a][r].kms[rng.idx(2)].clone(),
            "kctx" if rng.chance(0.3) => format!("arn:aws:s3:::{}", self.var(c, "b")),
            "kctx" => format!("arn:aws:s3:::{}/{}", self.var(c, "b"), self.var(c, "k")),
            "role" => {
                let n = if c.fleet { self.accts[a].roles.len() } else { ROLES.len() };
                c.ri = rng.idx(n);
                self.accts[a].roles[c.ri].name.clone()
            }
            "rolearn" => format!("arn:aws:iam::{acct}:role/{}", self.var(c, "role")),
            "creds" => {
                let (key, token, exp) = (format!("ASIA{}", rng.upper(16)), rng.chars(320, B64), human(t + 3600));
                let (role, sname, rid) = (self.var(c, "role"), self.var(c, "sname"), &self.accts[a].roles[c.ri].id);
                let (ip, ua) = c.issuer.clone().unwrap();
                let v = format!(r#"{{"credentials":{{"accessKeyId":"{key}","sessionToken":"IQoJb3JpZ2luX2VjE{token}","expiration":"{exp}"}},"assumedRoleUser":{{"assumedRoleId":"{rid}:{sname}","arn":"arn:aws:sts::{acct}:assumed-role/{role}/{sname}"}}}}"#);
                self.accts[a].fresh.push(Session(c.ri, sname, key, t, ip, ua));
                v
            }
            "newrole" => format!("svc-{}-{}", rng.pick(&DATASETS), rng.hex(6)),
            "newuser" => format!("temp-{}", rng.hex(8)),
            "trust_json" | "trust_url" => {
                let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
                return if k == "trust_json" { jstr(trust) } else { urlenc(trust) };
            }
            "id17" => rng.upper(17),
            "created" => human(t),
            "polname" => format!("inline-{}", rng.pick(&DATASETS)),
            "poldoc" => {
                let doc = format!(r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::acme-{}-*/*"}}]}}"#, rng.pick(&KINDS));
                // Mostly URL-encoded; sometimes plain JSON text, as also seen in real trails.
                let v = if rng.chance(0.7) { urlenc(&doc) } else { doc.replace('"', "\\\"") };
                c.memo.push(("poldoc_raw", doc));
                v
            }
            "managed" => rng.pick(&MANAGED).into(),
            "sg" | "sgname" => {
                c.gi = rng.idx(if c.fleet { self.locs[a][r].sgs.len() } else { 4 });
                let sg = &self.locs[a][r].sgs[c.gi];
                c.memo.push(("sg", sg.id.clone()));
                c.memo.push(("sgname", sg.name.clone()));
                return c.get(k).to_string();
            }
            "port" => rng.pick(&[22, 80, 443, 3306, 5432, 6379, 8080, 9200]).to_string(),
            "cidr" => rng.pick(&CIDRS).into(),
            "uuid" | "uuid2" => rng.uuid(),
            "tname" => format!("{}_{}", self.var(c, "ds"), self.rng.hex(4)),
            "hex17" => rng.hex(17),
            "hex64" => rng.hex(64),
            "iid" => format!("i-{}", rng.hex(17)),
            "ami" => format!("ami-{}", rng.hex(17)),
            "itype" => rng.pick(&["t3.micro", "m6i.large", "c7g.xlarge", "r6i.2xlarge"]).into(),
            "subnet" => self.locs[a][r].subnet.clone(),
            "vpc" => self.locs[a][r].vpc.clone(),
            "ms" => (t * 1000).to_string(),
            "ip10" => format!("10.0.{}.{}", rng.below(255), rng.range(1, 255)),
            "policy" => {
                let b = self.var(c, "b");
                self.bucket_policy(&acct, &b)
            }
            "canon" => self.accts[a].canon.clone(),
            "p0" | "p1" | "p2" | "p3" => rng.chance(0.8).to_string(),
            "fn" => rng.pick(&["ingest-orders", "thumbnailer", "partition-repair", "notify-slack"]).into(),
            "fnarn" => format!("arn:aws:lambda:{region}:{acct}:function:{}", self.var(c, "fn")),
            "timeout" => rng.range(3, 900).to_string(),
            "mem" => (128 << rng.below(5)).to_string(),
            "size" => rng.range(1000, 5_000_000).to_string(),
            "iso" => iso(t),
            "sha" => rng.chars(43, B64) + "=",
            "ds" => rng.pick(&DATASETS).into(),
            "date" => iso(t)[..10].into(),
            "tbl" => rng.pick(&["sessions", "user-profiles", "feature-flags"]).into(),
            "tblarn" => format!("arn:aws:dynamodb:{region}:{acct}:table/{}", self.var(c, "tbl")),
            "curated" => self.locs[a][r].buckets[1].name.clone(),
            "results" => self.locs[a][r].buckets[5].name.clone(),
            _ => panic!("template variable ${k} is not defined"),
        };
        c.memo.push((k, v.clone()));
        v
    }

    /// Expands `$name` variables (lowercase, digits, `_`) in a catalog template.
    fn fill(&mut self, c: &mut Ctx, tpl: &'static str, out: &mut String) {
        let mut rest = tpl;
        while let Some(i) = rest.find('$') {
            out.push_str(&rest[..i]);
            let tail = &rest[i + 1..];
            let n = tail
                .find(|ch: char| !(ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_'))
                .unwrap_or(tail.len());
            if n == 0 {
                out.push('$'); // e.g. "$LATEST"
            } else {
                out.push_str(&self.var(c, &tail[..n]));
            }
            rest = &tail[n..];
        }
        out.push_str(rest);
    }

    /// Applies a successful mutating call to the tracked state (and schedules the Config item).
    fn apply(&mut self, name: &str, c: &Ctx) {
        let (a, r, bi, t) = (c.a, c.r, c.bi, c.t);
        let get = |k: &str| c.get(k).to_string();
        match name {
            "PutBucketPolicy" => self.change(Res::Bucket(a, r, bi), t, |g| {
                g.locs[a][r].buckets[bi].policy = Some(get("policy"))
            }),
            "PutPublicAccessBlock" => {
                let p = ["p0", "p1", "p2", "p3"].map(|k| c.get(k) == "true");
                self.change(Res::Bucket(a, r, bi), t, |g| {
                    g.locs[a][r].buckets[bi].pab = Some(p)
                })
            }
            "PutBucketEncryption" => self.change(Res::Bucket(a, r, bi), t, |g| {
                g.locs[a][r].buckets[bi].kms = Some(get("kms"))
            }),
            "AuthorizeSecurityGroupIngress" => self.change(Res::Sg(a, r, c.gi), t, |g| {
                let rules = &mut g.locs[a][r].sgs[c.gi].rules;
                let rule = (get("port"), get("cidr"));
                if !rules.contains(&rule) {
                    rules.push(rule);
                }
            }),
            "PutRolePolicy" => self.change(Res::Role(a, c.ri), t, |g| {
                let inline = &mut g.accts[a].roles[c.ri].inline;
                inline.retain(|(n, _)| *n != get("polname"));
                inline.push((get("polname"), get("poldoc_raw")));
            }),
            "AttachRolePolicy" => self.change(Res::Role(a, c.ri), t, |g| {
                let attached = &mut g.accts[a].roles[c.ri].attached;
                if !attached.contains(&get("managed")) {
                    attached.push(get("managed"));
                }
            }),
            _ => {}
        }
    }

    /// One complete record, appended to `buf`.
    fn record(&mut self, a: usize, r: usize, t: i64, buf: &mut String) {
        let mut roll = self.rng.below(1000);
        let i = self
            .specs
            .iter()
            .position(|s| roll < s.weight || (roll -= s.weight, false).1)
            .unwrap_or(0);
        let sp = match self.specs[i] {
            // IAM is global: only in the first region's files.
            s if s.flags.contains('I') && r != 0 => *self
                .specs
                .iter()
                .find(|s| s.name == "DescribeInstances")
                .unwrap(),
            s => s,
        };
        let mut c = Ctx {
            a,
            r,
            t,
            fleet: matches!(
                sp.name,
                "PutBucketPolicy"
                    | "PutBucketAcl"
                    | "PutPublicAccessBlock"
                    | "PutBucketEncryption"
                    | "AuthorizeSecurityGroupIngress"
                    | "PutRolePolicy"
                    | "AttachRolePolicy"
            ),
            ..Default::default()
        };
        let mut id = if sp.name == "AssumeRole" {
            self.assume_ident(&mut c)
        } else {
            self.ident(a, t, sp.svc)
        };
        if sp.flags.contains('K') && !id.4 && self.rng.chance(0.7) {
            id.0.pop();
            id.0.push_str(r#","invokedBy":"s3.amazonaws.com"}"#);
            (id.2, id.3) = ("s3.amazonaws.com".into(), "s3.amazonaws.com");
        }
        let ok = id.4 || !self.rng.chance(0.03);
        let (data, s3, src) = (sp.flags.contains('D'), sp.flags.contains('S'), sp.src);
        let region = if src == "iam" {
            "us-east-1".to_string()
        } else {
            self.locs[a][r].region.clone()
        };
        let ua = if s3 && !id.4 {
            format!("[{}]", id.3.trim_matches(['[', ']']))
        } else {
            id.3.to_string()
        };
        let (ver, name, ip, time) = (if data { "1.09" } else { "1.08" }, sp.name, &id.2, iso(t));
        let _ = write!(
            buf,
            r#"{{"eventVersion":"{ver}","userIdentity":{},"eventTime":"{time}","eventSource":"{src}.amazonaws.com","eventName":"{name}","awsRegion":"{region}","sourceIPAddress":"{ip}","userAgent":"{ua}","#,
            id.0
        );
        let (mut req, mut target) = (String::new(), String::new());
        self.fill(&mut c, sp.cols[0], &mut req);
        self.fill(&mut c, sp.cols[4], &mut target);
        if !ok && s3 {
            buf.push_str(r#""errorCode":"AccessDenied","errorMessage":"Access Denied","#);
        } else if !ok {
            let _ = write!(
                buf,
                r#""errorCode":"AccessDenied","errorMessage":"User: {} is not authorized to perform: {src}:{name} on resource: {target} because no identity-based policy allows the {src}:{name} action","#,
                id.1
            );
        }
        let _ = write!(buf, r#""requestParameters":{req},"responseElements":"#);
        if ok {
            self.fill(&mut c, sp.cols[1], buf);
        } else {
            buf.push_str("null");
        }
        for (i, key) in [(2, "additionalEventData"), (3, "resources")] {
            if i == 3 {
                let rid = if s3 {
                    self.rng.upper(16)
                } else {
                    self.rng.uuid()
                };
                let _ = write!(
                    buf,
                    r#","requestID":"{rid}","eventID":"{}","readOnly":{}"#,
                    self.rng.uuid(),
                    sp.flags.contains('R')
                );
            }
            if !sp.cols[i].is_empty() {
                let _ = write!(buf, r#","{key}":"#);
                self.fill(&mut c, sp.cols[i], buf);
            }
        }
        let (mgmt, cat, acct) = (
            !data,
            if data { "Data" } else { "Management" },
            &self.accts[a].id,
        );
        let _ = write!(
            buf,
            r#","eventType":"AwsApiCall","managementEvent":{mgmt},"recipientAccountId":"{acct}","eventCategory":"{cat}""#
        );
        if !id.4 {
            let host = match src {
                "s3" if !c.get("host").is_empty() => c.get("host").to_string(),
                "iam" => "iam.amazonaws.com".into(),
                _ => format!("{src}.{region}.amazonaws.com"),
            };
            let _ = write!(
                buf,
                r#","tlsDetails":{{"tlsVersion":"TLSv1.3","cipherSuite":"TLS_AES_128_GCM_SHA256","clientProvidedHostHeader":"{host}"}}"#
            );
        }
        buf.push('}');
        if ok {
            self.apply(name, &c);
        }
    }

    /// One delivery file for account `a`, region `r`, covering [slot, slot+300).
    fn file(&mut self, a: usize, r: usize, slot: i64, n: u64, may_redeliver: bool) -> Result<()> {
        let mut times: Vec<i64> = (0..n).map(|_| slot + self.rng.below(300) as i64).collect();
        times.sort_unstable(); // generated in time order (state, sessions), written shuffled
        let mut recs: Vec<String> = std::mem::take(&mut self.redeliver[a][r]);
        self.stats[3] += recs.len() as u64;
        for t in times {
            let mut s = String::with_capacity(2048);
            self.record(a, r, t, &mut s);
            if may_redeliver && self.rng.chance(0.01) {
                self.redeliver[a][r].push(s.clone());
            }
            recs.push(s);
        }
        for i in (1..recs.len()).rev() {
            recs.swap(i, self.rng.idx(i + 1));
        }
        let (acct, region) = (&self.accts[a].id, &self.locs[a][r].region);
        let deliver = slot + 300 + self.rng.below(60) as i64;
        let ((y, m, d, ..), stamp, uniq) = (
            parts(deliver),
            compact(deliver, false),
            self.rng.chars(16, ALNUM),
        );
        let org = self
            .org
            .as_ref()
            .map(|o| format!("{o}/"))
            .unwrap_or_default();
        let dir = format!("AWSLogs/{org}{acct}/CloudTrail/{region}/{y}/{m:02}/{d:02}");
        let path = self
            .out
            .join(dir)
            .join(format!("{acct}_CloudTrail_{region}_{stamp}_{uniq}.json.gz"));
        let body = format!(r#"{{"Records":[{}]}}"#, recs.join(","));
        self.stats[0] += 1;
        self.stats[4] += body.len() as u64;
        self.pool.send(path, body.into_bytes())
    }

    fn end_slot(&mut self, slot_end: i64) -> Result<()> {
        for acct in &mut self.accts {
            acct.sessions.retain(|s| s.3 + 3600 > slot_end);
            acct.sessions.append(&mut acct.fresh);
            let excess = acct.sessions.len().saturating_sub(400);
            acct.sessions.drain(..excess);
        }
        if self.config {
            self.flush_pending(self.resources(), slot_end * 1000);
            self.flush_config(slot_end)?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------- hand-designed scenarios (`--scenarios`)
//
// Fixed events and Config items for two accounts, A (111111111111, owns the resources) and B (222222222222, where
// alice's IAM user lives), region us-east-1, on 2024-03-01. Nothing here draws from the RNG, so the random corpus is
// the same with or without `--scenarios`, and the scenario files and `expected.json` never change.
//
//  time (UTC) id        account what
//  09:00-03   -         A       Config: ResourceDiscovered items of the bucket, security group, DataOps role, KMS key
//  09:58      sc000001  B       alice (IAM user, B) GetCallerIdentity                             read-only
//  10:00      sc000002  B       alice AssumeRole -> A:role/Admin "alice-session", sourceIdentity, key ASIASCENARIO0000001
//  10:00      sc000003  A       the same call as logged in A (AWSAccount identity, same sharedEventID as sc000002)
//  10:02      sc000004  A       Admin/alice-session (key 1) AssumeRole -> DataOps "alice-dataops", key ASIASCENARIO0000002
//  10:05      sc000005  A       DataOps/alice-dataops (key 2) PutBucketPolicy scenario-data (P0 -> P1); delivered twice
//  10:07      sc000006  A       DataOps/alice-dataops GetBucketPolicy                              read-only: not a change
//  10:09      -         A       Config: bucket item (P1)                                           4 min after sc000005
//  10:20      sc000007  A       bob (IAM user, A) PutBucketEncryption
//  10:21      sc000008  A       bob PutBucketPublicAccessBlock
//  10:26      -         A       Config: one bucket item holding both changes
//  10:30      sc000009  A       mallory (IAM user, A) PutBucketPolicy, AccessDenied                failed attempt
//  10:35      sc000010  A       bob AssumeRole -> Admin "bob-admin", key ASIASCENARIO0000003       same role, other human
//  10:40      sc000011  A       bob AuthorizeSecurityGroupIngress sg-0scenario0000001 (tcp 22)
//  10:43      -         A       Config: security group item
//  10:50      sc000012  A       Admin/alice-session (key 1) UpdateAssumeRolePolicy DataOps
//  10:57      -         A       Config: DataOps role item (assumeRolePolicyDocument URL-encoded)
//  11:00      -         A       Config: bucket item with changed tags and no call since 10:26      change with no call
//  11:10      sc000013  A       Admin/bob-admin (key 3) PutKeyPolicy on the KMS key
//  11:13      -         A       Config: KMS key item whose relatedEvents names sc000013

const SC_A: &str = "111111111111";
const SC_B: &str = "222222222222";
const SC_REGION: &str = "us-east-1";
/// 2024-03-01T10:00:00Z
const SC_T0: i64 = 1_709_287_200;
const SC_BUCKET: &str = "scenario-data";
const SC_SG: &str = "sg-0scenario0000001";
const SC_VPC: &str = "vpc-0scenario0000001";
const SC_KEY_ID: &str = "5ce00000-0000-4000-8000-000000000001";
const SC_CANON: &str = "5ce0a11ce5ce0a11ce5ce0a11ce5ce0a11ce5ce0a11ce5ce0a11ce5ce0a11ce0";

/// An identity as logged, and the human (or principal) behind it.
#[derive(Clone)]
struct ScWho {
    ident: serde_json::Value,
    arn: String,
    original: String,
    ip: &'static str,
    ua: &'static str,
}

fn sc_user(
    acct: &str,
    name: &str,
    pid: &str,
    key: &str,
    ip: &'static str,
    ua: &'static str,
) -> ScWho {
    let arn = format!("arn:aws:iam::{acct}:user/{name}");
    let ident = serde_json::json!({"type": "IAMUser", "principalId": pid, "arn": arn, "accountId": acct,
        "accessKeyId": key, "userName": name});
    ScWho {
        ident,
        arn: arn.clone(),
        original: arn,
        ip,
        ua,
    }
}

/// A role session of account A, created at `created` by the AssumeRole that issued `key`.
fn sc_session(
    role: &str,
    sname: &str,
    key: &str,
    created: i64,
    source_identity: Option<&str>,
    by: &ScWho,
) -> ScWho {
    let rid = sc_role_id(role);
    let arn = format!("arn:aws:sts::{SC_A}:assumed-role/{role}/{sname}");
    let mut ctx = serde_json::json!({
        "sessionIssuer": {"type": "Role", "principalId": rid, "arn": format!("arn:aws:iam::{SC_A}:role/{role}"),
            "accountId": SC_A, "userName": role},
        "webIdFederationData": {},
        "attributes": {"creationDate": iso(created), "mfaAuthenticated": "false"}});
    if let Some(si) = source_identity {
        ctx["sourceIdentity"] = si.into();
    }
    let ident = serde_json::json!({"type": "AssumedRole", "principalId": format!("{rid}:{sname}"), "arn": arn,
        "accountId": SC_A, "accessKeyId": key, "sessionContext": ctx});
    ScWho {
        ident,
        arn,
        original: by.original.clone(),
        ip: by.ip,
        ua: by.ua,
    }
}

fn sc_role_id(role: &str) -> &'static str {
    match role {
        "Admin" => "AROASCENARIOADMIN0001",
        _ => "AROASCENARIODATAOPS01",
    }
}

fn sc_event_id(n: usize) -> String {
    format!("sc{n:06}-0000-4000-8000-{n:012}")
}

/// One CloudTrail record of the scenarios, and what the expected answers need to know about it.
struct ScEvent {
    id: String,
    t: i64,
    recipient: &'static str,
    name: &'static str,
    /// The who-changed query of the resource this call is about.
    target: Option<&'static str>,
    mutating: bool,
    error: Option<&'static str>,
    actor_arn: String,
    original: String,
    /// The other account's record of a cross-account call (same `sharedEventID`): the same action, listed once.
    copy: bool,
    json: String,
}

struct ScCall {
    n: usize,
    t: i64,
    who: ScWho,
    src: &'static str,
    name: &'static str,
    req: serde_json::Value,
    resp: serde_json::Value,
    resources: Option<serde_json::Value>,
    read_only: bool,
    error: Option<(&'static str, String)>,
    target: Option<&'static str>,
    recipient: &'static str,
    shared: Option<String>,
    copy: bool,
}

impl ScCall {
    fn new(n: usize, t: i64, who: &ScWho, src: &'static str, name: &'static str) -> ScCall {
        ScCall {
            n,
            t,
            who: who.clone(),
            src,
            name,
            req: serde_json::Value::Null,
            resp: serde_json::Value::Null,
            resources: None,
            read_only: false,
            error: None,
            target: None,
            recipient: SC_A,
            shared: None,
            copy: false,
        }
    }

    fn build(self) -> ScEvent {
        let (s3, n, id) = (self.src == "s3", self.n, sc_event_id(self.n));
        let host = match self.src {
            "s3" => format!("{SC_BUCKET}.s3.{SC_REGION}.amazonaws.com"),
            "iam" => "iam.amazonaws.com".into(),
            src => format!("{src}.{SC_REGION}.amazonaws.com"),
        };
        let mut r = serde_json::json!({
            "eventVersion": "1.09",
            "userIdentity": self.who.ident,
            "eventTime": iso(self.t),
            "eventSource": format!("{}.amazonaws.com", self.src),
            "eventName": self.name,
            "awsRegion": SC_REGION,
            "sourceIPAddress": self.who.ip,
            "userAgent": if s3 { format!("[{}]", self.who.ua) } else { self.who.ua.to_string() },
            "requestParameters": self.req,
            "responseElements": self.resp,
            "requestID": if s3 { format!("SCREQ{n:011}") } else { format!("screq{n:03}-0000-4000-8000-{n:012}") },
            "eventID": id,
            "readOnly": self.read_only,
            "eventType": "AwsApiCall",
            "managementEvent": true,
            "recipientAccountId": self.recipient,
            "eventCategory": "Management",
            "tlsDetails": {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256",
                "clientProvidedHostHeader": host},
        });
        if let Some((code, msg)) = &self.error {
            r["errorCode"] = (*code).into();
            r["errorMessage"] = msg.as_str().into();
        }
        if let Some(res) = self.resources {
            r["resources"] = res;
        }
        if s3 {
            r["additionalEventData"] = serde_json::json!({"SignatureVersion": "SigV4",
                "CipherSuite": "TLS_AES_128_GCM_SHA256", "bytesTransferredIn": 0, "AuthenticationMethod": "AuthHeader",
                "x-amz-id-2": format!("scenario/x-amz-id-2/{n:04}="), "bytesTransferredOut": 0});
        }
        if let Some(shared) = self.shared {
            r["sharedEventID"] = shared.into();
        }
        ScEvent {
            id,
            t: self.t,
            recipient: self.recipient,
            name: self.name,
            target: self.target,
            mutating: !self.read_only,
            error: self.error.map(|e| e.0),
            actor_arn: self.who.arn,
            original: self.who.original,
            copy: self.copy,
            json: r.to_string(),
        }
    }
}

/// One Config item of the scenarios.
struct ScItem {
    query: &'static str,
    ty: &'static str,
    ms: i64,
    related: Vec<String>,
    json: String,
}

/// A resource's fixed description for its Config items.
struct ScRes {
    query: &'static str,
    ty: &'static str,
    id: &'static str,
    name: Option<&'static str>,
    arn: String,
    region: &'static str,
    az: &'static str,
    rel: serde_json::Value,
}

impl ScRes {
    /// An item captured at `ms`; the first item of a resource is `ResourceDiscovered`.
    fn item(
        &self,
        ms: i64,
        discovered: bool,
        conf: serde_json::Value,
        supp: serde_json::Value,
        tags: serde_json::Value,
        related: Vec<String>,
    ) -> ScItem {
        let mut item = serde_json::json!({
            "relatedEvents": related,
            "relationships": self.rel,
            "configuration": conf,
            "supplementaryConfiguration": supp,
            "tags": tags,
            "configurationItemVersion": "1.3",
            "configurationItemCaptureTime": iso_ms(ms),
            "configurationStateId": ms,
            "awsAccountId": SC_A,
            "configurationItemStatus": if discovered { "ResourceDiscovered" } else { "OK" },
            "resourceType": self.ty,
            "resourceId": self.id,
            "ARN": self.arn,
            "awsRegion": self.region,
            "availabilityZone": self.az,
            "configurationStateMd5Hash": "",
            "resourceCreationTime": "2024-02-01T08:00:00.000Z",
        });
        if let Some(name) = self.name {
            item["resourceName"] = name.into();
        }
        ScItem {
            query: self.query,
            ty: self.ty,
            ms,
            related,
            json: item.to_string(),
        }
    }
}

const SC_DATAOPS_ARN: &str = "arn:aws:iam::111111111111:role/DataOps";
const SC_KEY_ARN: &str =
    "arn:aws:kms:us-east-1:111111111111:key/5ce00000-0000-4000-8000-000000000001";

fn sc_bucket_policy(extra: Option<serde_json::Value>) -> serde_json::Value {
    let b = SC_BUCKET;
    let mut st = vec![
        serde_json::json!({"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*",
        "Action": "s3:*", "Resource": [format!("arn:aws:s3:::{b}"), format!("arn:aws:s3:::{b}/*")],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}}}),
    ];
    st.extend(extra);
    serde_json::json!({"Version": "2012-10-17", "Statement": st})
}

fn sc_trust(extra: bool) -> String {
    let mut st = vec![serde_json::json!({"Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{SC_A}:role/Admin")}, "Action": "sts:AssumeRole"})];
    if extra {
        st.push(serde_json::json!({"Effect": "Allow",
            "Principal": {"AWS": format!("arn:aws:iam::{SC_B}:role/Analyst")},
            "Action": ["sts:AssumeRole", "sts:SetSourceIdentity"]}));
    }
    serde_json::json!({"Version": "2012-10-17", "Statement": st}).to_string()
}

fn sc_key_policy(extra: bool) -> String {
    let mut st = vec![
        serde_json::json!({"Sid": "Enable IAM User Permissions", "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{SC_A}:root")}, "Action": "kms:*", "Resource": "*"}),
    ];
    if extra {
        st.push(
            serde_json::json!({"Sid": "AllowDataOpsUse", "Effect": "Allow",
            "Principal": {"AWS": SC_DATAOPS_ARN}, "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
            "Resource": "*"}),
        );
    }
    serde_json::json!({"Version": "2012-10-17", "Id": "key-default-1", "Statement": st}).to_string()
}

/// The AssumeRole issuing `key` for session `sname` of role `role` (account A) at `t`.
fn sc_assume(
    n: usize,
    t: i64,
    by: &ScWho,
    role: &str,
    sname: &str,
    key: &str,
    si: Option<&str>,
) -> ScCall {
    let role_arn = format!("arn:aws:iam::{SC_A}:role/{role}");
    let mut c = ScCall::new(n, t, by, "sts", "AssumeRole");
    c.req =
        serde_json::json!({"roleArn": role_arn, "roleSessionName": sname, "durationSeconds": 3600});
    c.resp = serde_json::json!({
        "credentials": {"accessKeyId": key, "sessionToken": format!("IQoJb3JpZ2luX2VjEScenarioSessionToken{n:04}"),
            "expiration": human(t + 3600)},
        "assumedRoleUser": {"assumedRoleId": format!("{}:{sname}", sc_role_id(role)),
            "arn": format!("arn:aws:sts::{SC_A}:assumed-role/{role}/{sname}")}});
    if let Some(si) = si {
        c.req["sourceIdentity"] = si.into();
        c.resp["sourceIdentity"] = si.into();
    }
    c.resources =
        Some(serde_json::json!([{"accountId": SC_A, "type": "AWS::IAM::Role", "ARN": role_arn}]));
    c.read_only = true;
    c.target = Some(if role == "DataOps" {
        SC_DATAOPS_ARN
    } else {
        "arn:aws:iam::111111111111:role/Admin"
    });
    c
}

fn sc_bucket_call(
    n: usize,
    t: i64,
    who: &ScWho,
    name: &'static str,
    extra: serde_json::Value,
) -> ScCall {
    let mut c = ScCall::new(n, t, who, "s3", name);
    c.req = serde_json::json!({"bucketName": SC_BUCKET, "Host": format!("{SC_BUCKET}.s3.{SC_REGION}.amazonaws.com")});
    if let (Some(req), serde_json::Value::Object(extra)) = (c.req.as_object_mut(), extra) {
        req.extend(extra);
    }
    c.resources = Some(
        serde_json::json!([{"accountId": SC_A, "type": "AWS::S3::Bucket",
        "ARN": format!("arn:aws:s3:::{SC_BUCKET}")}]),
    );
    c.target = Some(SC_BUCKET);
    c
}

/// The scenario events (time order) and Config items.
fn sc_build() -> (Vec<ScEvent>, Vec<ScItem>) {
    use serde_json::json;
    let m = |min: i64| SC_T0 + min * 60; // minutes after 10:00
    let ms = |min: i64, sec: i64| (SC_T0 + min * 60 + sec) * 1000;
    let alice = sc_user(
        SC_B,
        "alice",
        "AIDASCENARIOALICE0001",
        "AKIASCENARIOALICE001",
        "198.51.100.10",
        UAS[0],
    );
    let bob = sc_user(
        SC_A,
        "bob",
        "AIDASCENARIOBOB000001",
        "AKIASCENARIOBOB00001",
        "203.0.113.20",
        UAS[5],
    );
    let mallory = sc_user(
        SC_A,
        "mallory",
        "AIDASCENARIOMALLORY01",
        "AKIASCENARIOMALLORY1",
        "192.0.2.66",
        UAS[1],
    );
    let si = Some("alice@corp.example");
    let admin = sc_session(
        "Admin",
        "alice-session",
        "ASIASCENARIO0000001",
        m(0),
        si,
        &alice,
    );
    let dataops = sc_session(
        "DataOps",
        "alice-dataops",
        "ASIASCENARIO0000002",
        m(2),
        si,
        &alice,
    );
    let bob_admin = sc_session(
        "Admin",
        "bob-admin",
        "ASIASCENARIO0000003",
        m(35),
        None,
        &bob,
    );
    let mut ev = vec![];

    // alice, directly, in account B.
    let mut c = ScCall::new(1, m(-2), &alice, "sts", "GetCallerIdentity");
    (c.recipient, c.read_only) = (SC_B, true);
    ev.push(c.build());

    // 1. Cross-account AssumeRole (logged in B and in A), role chain, bucket policy change.
    let shared = "scshared-0000-4000-8000-000000000002".to_string();
    let mut c = sc_assume(
        2,
        m(0),
        &alice,
        "Admin",
        "alice-session",
        "ASIASCENARIO0000001",
        si,
    );
    (c.recipient, c.shared) = (SC_B, Some(shared.clone()));
    ev.push(c.build());
    let mut c = sc_assume(
        3,
        m(0),
        &alice,
        "Admin",
        "alice-session",
        "ASIASCENARIO0000001",
        si,
    );
    c.who.ident =
        json!({"type": "AWSAccount", "principalId": "AIDASCENARIOALICE0001", "accountId": SC_B});
    c.who.arn = String::new();
    (c.shared, c.copy) = (Some(shared), true);
    ev.push(c.build());
    // Role chaining: the source identity persists (not requested again, but returned and carried by the session).
    let mut c = sc_assume(
        4,
        m(2),
        &admin,
        "DataOps",
        "alice-dataops",
        "ASIASCENARIO0000002",
        None,
    );
    c.resp["sourceIdentity"] = "alice@corp.example".into();
    ev.push(c.build());
    let p1_extra = json!({"Sid": "CrossAccountRead", "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{SC_B}:root")}, "Action": ["s3:GetObject", "s3:ListBucket"],
        "Resource": [format!("arn:aws:s3:::{SC_BUCKET}"), format!("arn:aws:s3:::{SC_BUCKET}/*")]});
    let (p0, p1) = (sc_bucket_policy(None), sc_bucket_policy(Some(p1_extra)));
    ev.push(sc_bucket_call(5, m(5), &dataops, "PutBucketPolicy", json!({"policy": p1})).build());
    // 8. A read-only call in between.
    let mut c = sc_bucket_call(6, m(7), &dataops, "GetBucketPolicy", json!({"policy": ""}));
    c.read_only = true;
    ev.push(c.build());

    // 2. Two calls, one Config item.
    let sse = json!({"encryption": "", "ServerSideEncryptionConfiguration": {
        "xmlns": "http://s3.amazonaws.com/doc/2006-03-01/",
        "Rule": {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": SC_KEY_ARN},
            "BucketKeyEnabled": true}}});
    ev.push(sc_bucket_call(7, m(20), &bob, "PutBucketEncryption", sse).build());
    let pab = json!({"publicAccessBlock": "", "PublicAccessBlockConfiguration": {
        "xmlns": "http://s3.amazonaws.com/doc/2006-03-01/", "RestrictPublicBuckets": true, "BlockPublicPolicy": true,
        "BlockPublicAcls": true, "IgnorePublicAcls": true}});
    ev.push(sc_bucket_call(8, m(21), &bob, "PutBucketPublicAccessBlock", pab).build());

    // 3. A failed attempt.
    let public = json!({"Sid": "PublicRead", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
        "Resource": format!("arn:aws:s3:::{SC_BUCKET}/*")});
    let mut c = sc_bucket_call(
        9,
        m(30),
        &mallory,
        "PutBucketPolicy",
        json!({"policy": sc_bucket_policy(Some(public))}),
    );
    c.error = Some(("AccessDenied", "Access Denied".into()));
    ev.push(c.build());

    // bob takes the same Admin role as alice: his session's calls are his, not hers.
    ev.push(
        sc_assume(
            10,
            m(35),
            &bob,
            "Admin",
            "bob-admin",
            "ASIASCENARIO0000003",
            None,
        )
        .build(),
    );

    // 5. Security group ingress.
    let mut c = ScCall::new(11, m(40), &bob, "ec2", "AuthorizeSecurityGroupIngress");
    c.req = json!({"groupId": SC_SG, "ipPermissions": {"items": [{"ipProtocol": "tcp", "fromPort": 22, "toPort": 22,
        "groups": {}, "ipRanges": {"items": [{"cidrIp": "203.0.113.0/24", "description": "vendor bastion"}]},
        "ipv6Ranges": {}, "prefixListIds": {}}]}});
    c.resp = json!({"requestId": "screq011-0000-4000-8000-000000000011", "_return": true,
        "securityGroupRuleSet": {"items": [{"groupOwnerId": SC_A, "groupId": SC_SG,
            "securityGroupRuleId": "sgr-0scenario0000001", "isEgress": false, "ipProtocol": "tcp", "fromPort": 22,
            "toPort": 22, "cidrIpv4": "203.0.113.0/24", "description": "vendor bastion"}]}});
    c.target = Some(SC_SG);
    ev.push(c.build());

    // 6. Trust policy of DataOps, changed by alice's first session.
    let mut c = ScCall::new(12, m(50), &admin, "iam", "UpdateAssumeRolePolicy");
    c.req = json!({"roleName": "DataOps", "policyDocument": sc_trust(true)});
    c.target = Some(SC_DATAOPS_ARN);
    ev.push(c.build());

    // 7. Key policy; the Config item names the call in relatedEvents.
    let mut c = ScCall::new(13, m(70), &bob_admin, "kms", "PutKeyPolicy");
    c.req = json!({"keyId": SC_KEY_ID, "policyName": "default", "policy": sc_key_policy(true),
        "bypassPolicyLockoutSafetyCheck": false});
    c.resources = Some(json!([{"accountId": SC_A, "type": "AWS::KMS::Key", "ARN": SC_KEY_ARN}]));
    c.target = Some(SC_KEY_ARN);
    ev.push(c.build());

    // ---- Config items
    let mut items = vec![];
    let bucket = ScRes {
        query: SC_BUCKET,
        ty: "AWS::S3::Bucket",
        id: SC_BUCKET,
        name: Some(SC_BUCKET),
        arn: format!("arn:aws:s3:::{SC_BUCKET}"),
        region: SC_REGION,
        az: "Regional",
        rel: json!([]),
    };
    let acl = json!({"grantSet": null, "grantList": [{"grantee": {"id": SC_CANON, "displayName": null},
        "permission": "FullControl"}], "owner": {"displayName": null, "id": SC_CANON}, "isRequesterCharged": false});
    let bucket_conf = json!({"name": SC_BUCKET, "owner": {"displayName": null, "id": SC_CANON},
        "creationDate": "2024-02-01T08:00:00.000Z"});
    let bucket_supp = |policy: &serde_json::Value,
                       sse: bool,
                       pab: bool,
                       tags: &serde_json::Value| {
        let mut s = json!({
            "AccessControlList": acl.to_string(),
            "BucketLoggingConfiguration": {"destinationBucketName": null, "logFilePrefix": null},
            "BucketPolicy": {"policyText": policy.to_string()},
            "BucketTaggingConfiguration": {"tagSets": [{"tags": tags}]},
            "BucketVersioningConfiguration": {"status": "Enabled", "isMfaDeleteEnabled": null},
            "IsRequesterPaysEnabled": false});
        if sse {
            s["ServerSideEncryptionConfiguration"] = json!({"rules": [{"applyServerSideEncryptionByDefault":
                {"sseAlgorithm": "aws:kms", "kmsMasterKeyID": SC_KEY_ARN}, "bucketKeyEnabled": true}]});
        }
        if pab {
            s["PublicAccessBlockConfiguration"] = json!({"blockPublicAcls": true, "ignorePublicAcls": true,
                "blockPublicPolicy": true, "restrictPublicBuckets": true});
        }
        s
    };
    let tags0 = json!({"env": "prod"});
    let tags1 = json!({"env": "prod", "owner": "data-platform"});
    let it = |ms, disc, supp, tags: &serde_json::Value| {
        bucket.item(ms, disc, bucket_conf.clone(), supp, tags.clone(), vec![])
    };
    items.push(it(
        ms(-60, 0),
        true,
        bucket_supp(&p0, false, false, &tags0),
        &tags0,
    ));
    items.push(it(
        ms(9, 0),
        false,
        bucket_supp(&p1, false, false, &tags0),
        &tags0,
    ));
    items.push(it(
        ms(26, 0),
        false,
        bucket_supp(&p1, true, true, &tags0),
        &tags0,
    ));
    // 4. Tags changed, no call in the trail.
    items.push(it(
        ms(60, 0),
        false,
        bucket_supp(&p1, true, true, &tags1),
        &tags1,
    ));

    let sg = ScRes {
        query: SC_SG,
        ty: "AWS::EC2::SecurityGroup",
        id: SC_SG,
        name: Some("scenario-web"),
        arn: format!("arn:aws:ec2:{SC_REGION}:{SC_A}:security-group/{SC_SG}"),
        region: SC_REGION,
        az: "Not Applicable",
        rel: json!([{"resourceType": "AWS::EC2::VPC", "resourceId": SC_VPC, "relationshipName": "Is contained in Vpc"}]),
    };
    let rule = |port: u16, cidr: &str| {
        json!({"fromPort": port, "ipProtocol": "tcp", "ipv6Ranges": [], "prefixListIds": [], "toPort": port,
            "userIdGroupPairs": [], "ipv4Ranges": [{"cidrIp": cidr}], "ipRanges": [cidr]})
    };
    let sg_conf = |perms: Vec<serde_json::Value>| {
        json!({"description": "scenario web tier", "groupName": "scenario-web", "ipPermissions": perms,
            "ownerId": SC_A, "groupId": SC_SG, "ipPermissionsEgress": [{"ipProtocol": "-1", "ipv6Ranges": [],
            "prefixListIds": [], "userIdGroupPairs": [], "ipv4Ranges": [{"cidrIp": "0.0.0.0/0"}],
            "ipRanges": ["0.0.0.0/0"]}], "tags": [], "vpcId": SC_VPC})
    };
    let r443 = rule(443, "10.0.0.0/8");
    let mut r22 = rule(22, "203.0.113.0/24");
    r22["ipv4Ranges"][0]["description"] = "vendor bastion".into();
    items.push(sg.item(
        ms(-60, 1),
        true,
        sg_conf(vec![r443.clone()]),
        json!({}),
        json!({}),
        vec![],
    ));
    items.push(sg.item(
        ms(43, 0),
        false,
        sg_conf(vec![r22, r443]),
        json!({}),
        json!({}),
        vec![],
    ));

    let role = ScRes {
        query: SC_DATAOPS_ARN,
        ty: "AWS::IAM::Role",
        id: sc_role_id("DataOps"),
        name: Some("DataOps"),
        arn: SC_DATAOPS_ARN.into(),
        region: "global",
        az: "Not Applicable",
        rel: json!([{"resourceType": "AWS::IAM::Policy", "resourceName": "AmazonS3ReadOnlyAccess",
            "relationshipName": "Is attached to AWSManagedPolicy"}]),
    };
    let role_conf = |trust: String| {
        json!({"path": "/", "roleName": "DataOps", "roleId": sc_role_id("DataOps"), "arn": SC_DATAOPS_ARN,
            "createDate": "2024-02-01T08:00:00.000Z", "assumeRolePolicyDocument": urlenc(&trust),
            "instanceProfileList": [], "rolePolicyList": [], "attachedManagedPolicies": [
                {"policyArn": "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess", "policyName": "AmazonS3ReadOnlyAccess"}],
            "permissionsBoundary": null, "tags": [], "roleLastUsed": null})
    };
    items.push(role.item(
        ms(-60, 2),
        true,
        role_conf(sc_trust(false)),
        json!({}),
        json!({}),
        vec![],
    ));
    items.push(role.item(
        ms(57, 0),
        false,
        role_conf(sc_trust(true)),
        json!({}),
        json!({}),
        vec![],
    ));

    let key = ScRes {
        query: SC_KEY_ARN,
        ty: "AWS::KMS::Key",
        id: SC_KEY_ID,
        name: None,
        arn: SC_KEY_ARN.into(),
        region: SC_REGION,
        az: "Not Applicable",
        rel: json!([]),
    };
    let key_conf = json!({"awsaccountId": SC_A, "keyId": SC_KEY_ID, "arn": SC_KEY_ARN,
        "creationDate": "2024-02-01T08:00:00.000Z", "enabled": true, "description": "scenario data key",
        "keyUsage": "ENCRYPT_DECRYPT", "keyState": "Enabled", "origin": "AWS_KMS", "keyManager": "CUSTOMER",
        "customerMasterKeySpec": "SYMMETRIC_DEFAULT", "keySpec": "SYMMETRIC_DEFAULT",
        "encryptionAlgorithms": ["SYMMETRIC_DEFAULT"], "multiRegion": false});
    // The key policy is kept as JSON text in supplementaryConfiguration (a modelling choice of this fixture).
    let key_supp = |extra| json!({"KeyRotationStatus": "true", "KeyPolicy": sc_key_policy(extra)});
    items.push(key.item(
        ms(-60, 3),
        true,
        key_conf.clone(),
        key_supp(false),
        json!({}),
        vec![],
    ));
    items.push(key.item(
        ms(73, 0),
        false,
        key_conf,
        key_supp(true),
        json!({}),
        vec![sc_event_id(13)],
    ));
    (ev, items)
}

/// The exact answers, by the rules of the brief: before = the latest item captured at or before the call,
/// after = the first item captured after it; unexplained = consecutive items with no successful mutating call
/// at t where before.capture <= t < after.capture.
fn sc_expected(ev: &[ScEvent], items: &[ScItem]) -> serde_json::Value {
    use serde_json::json;
    let mut queries: Vec<&str> = items.iter().map(|i| i.query).collect();
    queries.extend(ev.iter().filter(|e| e.mutating).filter_map(|e| e.target));
    queries.sort_unstable();
    queries.dedup();
    let mut who = serde_json::Map::new();
    for q in queries {
        let mut its: Vec<&ScItem> = items.iter().filter(|i| i.query == q).collect();
        its.sort_by_key(|i| i.ms);
        let mut calls: Vec<&ScEvent> = ev
            .iter()
            .filter(|e| e.target == Some(q) && e.mutating && !e.copy)
            .collect();
        calls.sort_by_key(|e| (e.t, e.id.clone()));
        let state =
            |i: Option<&&ScItem>| i.map_or(serde_json::Value::Null, |i| i.ms.to_string().into());
        let changes: Vec<_> = calls
            .iter()
            .filter(|e| e.error.is_none())
            .map(|e| {
                let t = e.t * 1000;
                let (before, after) = (its.iter().rev().find(|i| i.ms <= t), its.iter().find(|i| i.ms > t));
                let related = after.is_some_and(|i| i.related.contains(&e.id));
                json!({"event_id": e.id, "event_name": e.name, "time": iso_ms(t), "actor_arn": e.actor_arn,
                    "original_principal_arn": e.original,
                    "correlation": if related { "related_events" } else { "window" },
                    "before_state_id": state(before), "after_state_id": state(after)})
            })
            .collect();
        let failed: Vec<_> = calls
            .iter()
            .filter_map(|e| {
                e.error
                    .map(|code| json!({"event_id": e.id, "event_name": e.name, "error_code": code}))
            })
            .collect();
        let unexplained: Vec<_> = its
            .windows(2)
            .filter(|w| !calls.iter().any(|e| e.error.is_none() && w[0].ms <= e.t * 1000 && e.t * 1000 < w[1].ms))
            .map(|w| json!({"before_state_id": w[0].ms.to_string(), "after_state_id": w[1].ms.to_string()}))
            .collect();
        who.insert(q.into(), json!({"changes": changes, "failed_attempts": failed, "unexplained_changes": unexplained}));
    }
    let alice = format!("arn:aws:iam::{SC_B}:user/alice");
    let mut mine: Vec<&ScEvent> = ev
        .iter()
        // The other account's copy of her cross-account AssumeRole is hers too (marked as a copy in the answer).
        .filter(|e| e.original == alice)
        .collect();
    mine.sort_by_key(|e| (e.t, e.id.clone()));
    let ids: Vec<&str> = mine.iter().map(|e| e.id.as_str()).collect();
    json!({"who_changed": who, "timeline": {alice: ids}})
}

impl Gen {
    /// Writes the scenario delivery files, Config history files and `expected.json`. Returns (events, items, files).
    fn scenarios(&mut self) -> Result<(usize, usize, usize)> {
        let (ev, items) = sc_build();
        let org = self
            .org
            .as_ref()
            .map(|o| format!("{o}/"))
            .unwrap_or_default();
        // One delivery file per account and 5-minute slot, records in reverse time order (files are not sorted).
        let mut files: BTreeMap<(&str, i64), Vec<&str>> = BTreeMap::new();
        for e in &ev {
            files
                .entry((e.recipient, e.t - e.t.rem_euclid(300)))
                .or_default()
                .push(&e.json);
        }
        for recs in files.values_mut() {
            recs.reverse();
        }
        // CloudTrail delivers the PutBucketPolicy of scenario 1 again, byte-identical, in a later file.
        let put = ev.iter().find(|e| e.id == sc_event_id(5)).unwrap();
        files
            .get_mut(&(SC_A, SC_T0 + 20 * 60))
            .unwrap()
            .push(&put.json);
        let mut written = 0;
        for (n, ((acct, slot), recs)) in files.iter().enumerate() {
            let ((y, m, d, ..), stamp) = (parts(slot + 300), compact(slot + 300, false));
            let path = self
                .out
                .join(format!(
                    "AWSLogs/{org}{acct}/CloudTrail/{SC_REGION}/{y}/{m:02}/{d:02}"
                ))
                .join(format!(
                    "{acct}_CloudTrail_{SC_REGION}_{stamp}_Scenario{:08}.json.gz",
                    n + 1
                ));
            self.pool.send(
                path,
                format!(r#"{{"Records":[{}]}}"#, recs.join(",")).into_bytes(),
            )?;
            written += 1;
        }
        let mut by_type: BTreeMap<&str, Vec<&ScItem>> = BTreeMap::new();
        for i in &items {
            by_type.entry(i.ty).or_default().push(i);
        }
        for (ty, mut its) in by_type {
            its.sort_by_key(|i| i.ms);
            let ws = (its[0].ms / 1000).div_euclid(WINDOW) * WINDOW;
            assert!(
                its.iter().all(|i| i.ms / 1000 < ws + WINDOW),
                "scenario items span one 6-hour window"
            );
            let ((y, m, d, ..), from, to) =
                (parts(ws), compact(ws, true), compact(ws + WINDOW, true));
            let dir = format!("AWSLogs/{SC_A}/Config/{SC_REGION}/{y}/{m}/{d}/ConfigHistory");
            let file =
                format!("{SC_A}_Config_{SC_REGION}_ConfigHistory_{ty}_{from}_{to}_1.json.gz");
            let body: Vec<&str> = its.iter().map(|i| i.json.as_str()).collect();
            let body = format!(
                r#"{{"fileVersion":"1.0","configurationItems":[{}]}}"#,
                body.join(",")
            );
            self.pool
                .send(self.out.join(dir).join(file), body.into_bytes())?;
            written += 1;
        }
        std::fs::create_dir_all(&self.out)?;
        let expected = serde_json::to_string_pretty(&sc_expected(&ev, &items))? + "\n";
        let path = self.out.join("expected.json");
        std::fs::write(&path, expected).with_context(|| path.display().to_string())?;
        Ok((ev.len(), items.len(), written))
    }
}

fn main() -> Result<()> {
    let args = Args::parse();
    if args.accounts == 0 || args.regions.is_empty() {
        bail!("need at least one account and one region");
    }
    let start = chrono::DateTime::parse_from_rfc3339(&args.start)
        .with_context(|| format!("bad --start {}", args.start))?;
    let start = start.timestamp() - start.timestamp().rem_euclid(300);
    let began = Instant::now();
    let mut g = Gen::new(&args, start);
    let (mut remaining, mut slot, streams) = (
        args.records,
        start,
        (args.accounts * args.regions.len()) as u64,
    );
    while remaining > 0 {
        for (a, r) in (0..args.accounts).flat_map(|a| (0..args.regions.len()).map(move |r| (a, r)))
        {
            let mut n = g.rng.range(100, 1001).min(remaining);
            if remaining - n < 100 {
                n = if remaining <= 1000 {
                    remaining
                } else {
                    remaining - 100
                };
            }
            remaining -= n;
            // Re-deliver only while another file for this account+region is sure to follow.
            g.file(a, r, slot, n, remaining > streams * 1000)?;
            if remaining == 0 {
                break;
            }
        }
        slot += 300;
        g.end_slot(slot)?;
    }
    if g.config {
        g.flush_pending(g.resources(), i64::MAX);
        g.flush_config(i64::MAX)?;
    }
    let scenarios = if args.scenarios {
        Some(g.scenarios()?)
    } else {
        None
    };
    let [files, cfg_files, cfg_items, dups, raw] = g.stats;
    let compressed = g.pool.finish()?;
    let (secs, total, distinct) = (
        began.elapsed().as_secs_f64(),
        args.records + dups,
        args.records,
    );
    let (cmb, rmb, rate) = (
        compressed as f64 / 1e6,
        raw as f64 / 1e6,
        distinct as f64 / secs,
    );
    eprintln!("trailgraph-gen: {files} CloudTrail files, {total} records ({distinct} distinct + {dups} re-delivered), {cfg_files} Config files ({cfg_items} items), {cmb:.1} MB compressed, {rmb:.1} MB uncompressed, {secs:.2} s ({rate:.0} records/s)");
    if let Some((events, items, sc_files)) = scenarios {
        eprintln!("trailgraph-gen: scenarios: {events} CloudTrail records, {items} Config items in {sc_files} files (in compressed_bytes only), {}", args.out.join("expected.json").display());
    }
    eprintln!("files={files} records={total} distinct={distinct} redelivered={dups} config_files={cfg_files} config_items={cfg_items} compressed_bytes={compressed} uncompressed_bytes={raw} seconds={secs:.3}");
    Ok(())
}
