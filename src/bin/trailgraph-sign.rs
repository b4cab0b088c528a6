//! `trailgraph-sign`: writes CloudTrail digest files for a tree of log files, signed with a TEST key, so that
//! `trailgraph verify` can be tested. Never use it with a real AWS key: CloudTrail's keys never leave AWS, and a
//! digest signed here proves nothing about real logs.
//!
//! - `gen-key OUT.pem`: a new 2048-bit RSA test key (PKCS#8 PEM).
//! - `sign --key KEY.pem --tree DIR ...`: for every account+region of CloudTrail log files under `DIR/AWSLogs`,
//!   hourly digests (empty hours included), chained, each with its sidecar `<digest>.metadata.json`, and the
//!   public key in `aws cloudtrail list-public-keys` format (`--public-keys-out`).
//! - `fixture --key KEY.pem --out DIR`: the small tree under `fixtures/integrity/tree` (log files and digests).
//!
//! Output depends only on the arguments and the key: gzip headers carry no time, JSON keys are in a fixed order,
//! and slashes are escaped (`\/`) as CloudTrail writes them.

use anyhow::{bail, Context, Result};
use base64::Engine;
use clap::{Parser, Subcommand};
use flate2::{write::GzEncoder, Compression};
use rsa::pkcs1::EncodeRsaPublicKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use rsa::RsaPrivateKey;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use trailgraph::integrity::{digest, keys, read, sign};

const HOUR: i64 = 3_600_000;

#[derive(Parser)]
#[command(
    name = "trailgraph-sign",
    about = "Sign CloudTrail digest files with a TEST key (never a real AWS key)"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Write a new 2048-bit RSA test key (PKCS#8 PEM)
    GenKey { out: PathBuf },
    /// Write hourly signed digests for the CloudTrail log files under TREE
    Sign(SignArgs),
    /// Benchmark peer: gunzip + SHA-256 of every CloudTrail log file under DIR, nothing else (prints bytes, seconds)
    HashTree {
        dir: PathBuf,
        #[arg(long, default_value_t = 1)]
        jobs: usize,
    },
    /// Write the integrity fixture tree (log files, then digests) under OUT
    Fixture {
        #[arg(long)]
        key: PathBuf,
        #[arg(long)]
        out: PathBuf,
        /// Also write the public key (list-public-keys JSON) here
        #[arg(long)]
        public_keys_out: Option<PathBuf>,
    },
}

#[derive(clap::Args, Clone)]
struct SignArgs {
    #[arg(long)]
    key: PathBuf,
    #[arg(long)]
    tree: PathBuf,
    #[arg(long, default_value = "trailgraph-test-bucket")]
    bucket: String,
    #[arg(long, default_value = "test-trail")]
    trail: String,
    /// Home region of the trail (default: the first region found)
    #[arg(long)]
    home_region: Option<String>,
    /// First digest window start (default: the hour of the oldest log file)
    #[arg(long)]
    start: Option<String>,
    /// Last digest window end (default: the hour after the newest log file)
    #[arg(long)]
    end: Option<String>,
    /// Windows with no digest, as FROM..TO (RFC 3339); the digest after one starts a new chain (null previous)
    #[arg(long)]
    gap: Vec<String>,
    /// Only this account
    #[arg(long)]
    account: Option<String>,
    /// Sign with SHA-512 instead (tests of the "only SHA256withRSA" rule)
    #[arg(long)]
    sha512: bool,
    /// Write the public key here, in `aws cloudtrail list-public-keys` format
    #[arg(long)]
    public_keys_out: Option<PathBuf>,
}

fn main() -> Result<()> {
    match Cli::parse().cmd {
        Cmd::GenKey { out } => {
            let key = RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048)?;
            let pem = key.to_pkcs8_pem(LineEnding::LF)?;
            std::fs::write(&out, pem.as_bytes())?;
            eprintln!("wrote TEST key {}", out.display());
            Ok(())
        }
        Cmd::Sign(a) => sign_tree(&a),
        Cmd::HashTree { dir, jobs } => hash_tree(&dir, jobs),
        Cmd::Fixture {
            key,
            out,
            public_keys_out,
        } => fixture(&key, &out, public_keys_out),
    }
}

fn hash_tree(dir: &Path, jobs: usize) -> Result<()> {
    use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
    let files: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .sort_by_file_name()
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_type().is_file() && e.file_name().to_string_lossy().contains("_CloudTrail_")
        })
        .map(|e| e.into_path())
        .collect();
    let began = std::time::Instant::now();
    let (next, raw, comp) = (AtomicUsize::new(0), AtomicU64::new(0), AtomicU64::new(0));
    std::thread::scope(|s| {
        for _ in 0..jobs.max(1) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(p) = files.get(i) else { break };
                let Ok(b) = std::fs::read(p) else { continue };
                comp.fetch_add(b.len() as u64, Ordering::Relaxed);
                if let Ok(h) = read::hash_bytes(&b) {
                    raw.fetch_add(h.uncompressed_size, Ordering::Relaxed);
                }
            });
        }
    });
    println!(
        "files={} compressed_bytes={} uncompressed_bytes={} seconds={:.3}",
        files.len(),
        comp.into_inner(),
        raw.into_inner(),
        began.elapsed().as_secs_f64()
    );
    Ok(())
}

fn load_key(p: &Path) -> Result<RsaPrivateKey> {
    let text = std::fs::read_to_string(p).with_context(|| p.display().to_string())?;
    RsaPrivateKey::from_pkcs8_pem(&text)
        .with_context(|| format!("{}: not a PKCS#8 PEM RSA key", p.display()))
}

/// `{"PublicKeyList": [...]}` as `aws cloudtrail list-public-keys` prints it.
pub fn public_keys_json(key: &RsaPrivateKey) -> Result<(String, Value)> {
    let der = key.to_public_key().to_pkcs1_der()?.as_bytes().to_vec();
    let fp = keys::fingerprint(&der);
    let v = json!({"PublicKeyList": [{
        "Value": base64::engine::general_purpose::STANDARD.encode(&der),
        "ValidityStartTime": "2020-01-01T00:00:00+00:00",
        "ValidityEndTime": "2030-01-01T00:00:00+00:00",
        "Fingerprint": fp,
    }]});
    Ok((fp, v))
}

fn gz(data: &[u8]) -> Result<Vec<u8>> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(data)?;
    Ok(e.finish()?)
}

fn time(ms: i64) -> String {
    digest::format_time(ms)
}

struct LogFile {
    key: String,
    sha256: String,
    time: i64,
}

fn sign_tree(a: &SignArgs) -> Result<()> {
    let key = load_key(&a.key)?;
    let (fp, pk) = public_keys_json(&key)?;
    if let Some(p) = &a.public_keys_out {
        std::fs::write(p, serde_json::to_string_pretty(&pk)? + "\n")?;
    }
    // Log files per (org, account, region).
    let mut groups: BTreeMap<(Option<String>, String, String), Vec<LogFile>> = BTreeMap::new();
    for e in walkdir::WalkDir::new(&a.tree).sort_by_file_name() {
        let e = e?;
        if !e.file_type().is_file() {
            continue;
        }
        let p = e.path().to_string_lossy().to_string();
        let Some((account, region, Some(t))) = digest::parse_log_name(&p) else {
            continue;
        };
        if digest::is_insight(&p) {
            continue;
        }
        if a.account.as_deref().is_some_and(|x| x != account) {
            continue;
        }
        let Some(k) = digest::from_awslogs(&p) else {
            continue;
        };
        let h = read::hash_bytes(&std::fs::read(e.path())?).map_err(anyhow::Error::msg)?;
        groups
            .entry((digest::org_of(&p), account, region))
            .or_default()
            .push(LogFile {
                key: k,
                sha256: h.sha256,
                time: t,
            });
    }
    if groups.is_empty() {
        bail!("no CloudTrail log files under {}", a.tree.display());
    }
    let parse = |s: &str| {
        trailgraph::model::time::parse_time_str(s).with_context(|| format!("not a time: {s}"))
    };
    let mut gaps = Vec::new();
    for g in &a.gap {
        let (f, t) = g.split_once("..").context("--gap FROM..TO")?;
        gaps.push((parse(f)?, parse(t)?));
    }
    let home = a.home_region.clone().unwrap_or_else(|| {
        groups
            .keys()
            .next()
            .map(|k| k.2.clone())
            .unwrap_or_default()
    });
    let mut written = 0;
    for ((org, account, region), logs) in &groups {
        let oldest = logs.iter().map(|l| l.time).min().unwrap_or(0);
        let newest = logs.iter().map(|l| l.time).max().unwrap_or(0);
        let start = match &a.start {
            Some(s) => parse(s)?,
            None => oldest - oldest.rem_euclid(HOUR),
        };
        let end = match &a.end {
            Some(s) => parse(s)?,
            None => newest - newest.rem_euclid(HOUR) + HOUR,
        };
        let base = match org {
            Some(o) => format!("AWSLogs/{o}/{account}"),
            None => format!("AWSLogs/{account}"),
        };
        let mut prev: Option<(String, String, String)> = None; // (object, sha256, signature)
        let mut w = start;
        while w < end {
            let we = w + HOUR;
            if gaps.iter().any(|&(f, t)| w < t && we > f) {
                prev = None;
                w = we;
                continue;
            }
            let stamp = digest::format_stamp(we);
            let object = format!(
                "{base}/CloudTrail-Digest/{region}/{}/{}/{}/{account}_CloudTrail-Digest_{region}_{}_{home}_{stamp}.json.gz",
                &stamp[0..4],
                &stamp[4..6],
                &stamp[6..8],
                a.trail
            );
            let listed: Vec<&LogFile> =
                logs.iter().filter(|l| l.time >= w && l.time < we).collect();
            let files: Vec<Value> = listed
                .iter()
                .map(|l| {
                    json!({"s3Bucket": a.bucket, "s3Object": l.key, "hashValue": l.sha256, "hashAlgorithm": "SHA-256",
                           "newestEventTime": time(l.time), "oldestEventTime": time(l.time)})
                })
                .collect();
            let (newest_ev, oldest_ev) = match (
                listed.iter().map(|l| l.time).max(),
                listed.iter().map(|l| l.time).min(),
            ) {
                (Some(n), Some(o)) => (json!(time(n)), json!(time(o))),
                _ => (Value::Null, Value::Null),
            };
            let (pb, po, ph, pa, ps) = match &prev {
                Some((o, h, s)) => (
                    json!(a.bucket),
                    json!(o),
                    json!(h),
                    json!("SHA-256"),
                    json!(s),
                ),
                None => (
                    Value::Null,
                    Value::Null,
                    Value::Null,
                    Value::Null,
                    Value::Null,
                ),
            };
            // serde_json keeps insertion order only with preserve_order; build the text by hand for a fixed order.
            let fields: Vec<(&str, Value)> = vec![
                ("awsAccountId", json!(account)),
                ("digestStartTime", json!(time(w))),
                ("digestEndTime", json!(time(we))),
                ("digestS3Bucket", json!(a.bucket)),
                ("digestS3Object", json!(object)),
                ("digestPublicKeyFingerprint", json!(fp)),
                (
                    "digestSignatureAlgorithm",
                    json!(if a.sha512 {
                        "SHA512withRSA"
                    } else {
                        sign::ALGORITHM
                    }),
                ),
                ("newestEventTime", newest_ev),
                ("oldestEventTime", oldest_ev),
                ("previousDigestS3Bucket", pb),
                ("previousDigestS3Object", po),
                ("previousDigestHashValue", ph),
                ("previousDigestHashAlgorithm", pa),
                ("previousDigestSignature", ps.clone()),
                ("logFiles", Value::Array(files)),
            ];
            let mut text = String::from("{");
            for (i, (k, v)) in fields.iter().enumerate() {
                if i > 0 {
                    text.push(',');
                }
                text.push_str(&format!("\"{k}\":{}", serde_json::to_string(v)?));
            }
            text.push('}');
            let text = text.replace('/', "\\/");
            let sha = hex::encode(Sha256::digest(text.as_bytes()));
            let msg = sign::signing_string(&time(we), &a.bucket, &object, &sha, ps.as_str());
            let sig = if a.sha512 {
                sign::sign_sha512(&key, msg.as_bytes())
            } else {
                sign::sign(&key, msg.as_bytes())
            };
            let path = a.tree.join(&object);
            std::fs::create_dir_all(path.parent().context("path")?)?;
            std::fs::write(&path, gz(text.as_bytes())?)?;
            let sidecar = format!(
                "{{\"signature\": \"{sig}\", \"signature-algorithm\": \"{}\"}}\n",
                if a.sha512 {
                    "SHA512withRSA"
                } else {
                    sign::ALGORITHM
                }
            );
            std::fs::write(format!("{}.metadata.json", path.display()), sidecar)?;
            written += 1;
            prev = Some((object, sha, sig));
            w = we;
        }
    }
    eprintln!("wrote {written} digest(s) signed with TEST key {fp}");
    Ok(())
}

/// A CloudTrail log file with the given records, gzip, at its S3 key under `out`.
fn write_log(
    out: &Path,
    org: Option<&str>,
    account: &str,
    region: &str,
    stamp: &str,
    uniq: &str,
    records: &[Value],
) -> Result<()> {
    let base = match org {
        Some(o) => format!("AWSLogs/{o}/{account}"),
        None => format!("AWSLogs/{account}"),
    };
    let key = format!(
        "{base}/CloudTrail/{region}/{}/{}/{}/{account}_CloudTrail_{region}_{stamp}_{uniq}.json.gz",
        &stamp[0..4],
        &stamp[4..6],
        &stamp[6..8]
    );
    let path = out.join(key);
    std::fs::create_dir_all(path.parent().context("path")?)?;
    let body = serde_json::to_string(&json!({ "Records": records }))?;
    std::fs::write(path, gz(body.as_bytes())?)?;
    Ok(())
}

fn event(account: &str, region: &str, t: &str, id: &str, source: &str, name: &str) -> Value {
    json!({
        "eventVersion": "1.09",
        "userIdentity": {"type": "IAMUser", "principalId": "AIDAEXAMPLE", "arn": format!("arn:aws:iam::{account}:user/alice"),
                         "accountId": account, "accessKeyId": "AKIAEXAMPLE", "userName": "alice"},
        "eventTime": t, "eventSource": source, "eventName": name, "awsRegion": region,
        "sourceIPAddress": "198.51.100.7", "userAgent": "aws-cli/2.15.0",
        "requestParameters": if name == "StopLogging" { json!({"name": format!("arn:aws:cloudtrail:{region}:{account}:trail/org-trail")}) } else { json!(null) },
        "responseElements": null, "requestID": format!("req-{id}"), "eventID": id,
        "readOnly": name.starts_with("Describe") || name.starts_with("List"), "eventType": "AwsApiCall",
        "managementEvent": true, "recipientAccountId": account, "eventCategory": "Management"
    })
}

/// (organization, account, region, file stamp, unique part, events (time, source, name)).
type FixtureLog = (
    Option<&'static str>,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str, &'static str)],
);

/// The fixture: account 111111111111 (trail `main`, us-east-1 and eu-west-1, 2024-03-01 00:00–06:00, an empty
/// hour in each region), and organization o-exampleorg1 account 222222222222 (trail `org-trail`, us-east-1) with a
/// StopLogging at 01:30 and digests again from 04:00 (a gap CloudTrail reports with null previous fields).
fn fixture(key: &Path, out: &Path, public_keys_out: Option<PathBuf>) -> Result<()> {
    let a = "111111111111";
    let b = "222222222222";
    let org = "o-exampleorg1";
    let logs: &[FixtureLog] = &[
        (
            None,
            a,
            "us-east-1",
            "20240301T0005Z",
            "aaaa0001",
            &[
                ("2024-03-01T00:01:10Z", "iam.amazonaws.com", "CreateUser"),
                ("2024-03-01T00:02:00Z", "s3.amazonaws.com", "ListBuckets"),
            ],
        ),
        (
            None,
            a,
            "us-east-1",
            "20240301T0035Z",
            "aaaa0002",
            &[(
                "2024-03-01T00:31:00Z",
                "ec2.amazonaws.com",
                "DescribeInstances",
            )],
        ),
        (
            None,
            a,
            "us-east-1",
            "20240301T0110Z",
            "aaaa0003",
            &[(
                "2024-03-01T01:06:00Z",
                "iam.amazonaws.com",
                "AttachUserPolicy",
            )],
        ),
        (
            None,
            a,
            "us-east-1",
            "20240301T0320Z",
            "aaaa0004",
            &[(
                "2024-03-01T03:15:00Z",
                "s3.amazonaws.com",
                "PutBucketPolicy",
            )],
        ),
        (
            None,
            a,
            "us-east-1",
            "20240301T0405Z",
            "aaaa0005",
            &[(
                "2024-03-01T04:01:00Z",
                "kms.amazonaws.com",
                "ScheduleKeyDeletion",
            )],
        ),
        (
            None,
            a,
            "us-east-1",
            "20240301T0550Z",
            "aaaa0006",
            &[("2024-03-01T05:45:00Z", "iam.amazonaws.com", "DeleteUser")],
        ),
        (
            None,
            a,
            "eu-west-1",
            "20240301T0015Z",
            "bbbb0001",
            &[("2024-03-01T00:10:00Z", "ec2.amazonaws.com", "RunInstances")],
        ),
        (
            None,
            a,
            "eu-west-1",
            "20240301T0245Z",
            "bbbb0002",
            &[(
                "2024-03-01T02:40:00Z",
                "ec2.amazonaws.com",
                "TerminateInstances",
            )],
        ),
        (
            Some(org),
            b,
            "us-east-1",
            "20240301T0020Z",
            "cccc0001",
            &[("2024-03-01T00:15:00Z", "s3.amazonaws.com", "CreateBucket")],
        ),
        (
            Some(org),
            b,
            "us-east-1",
            "20240301T0135Z",
            "cccc0002",
            &[(
                "2024-03-01T01:30:00Z",
                "cloudtrail.amazonaws.com",
                "StopLogging",
            )],
        ),
        (
            Some(org),
            b,
            "us-east-1",
            "20240301T0410Z",
            "cccc0003",
            &[(
                "2024-03-01T04:05:00Z",
                "cloudtrail.amazonaws.com",
                "StartLogging",
            )],
        ),
        (
            Some(org),
            b,
            "us-east-1",
            "20240301T0525Z",
            "cccc0004",
            &[("2024-03-01T05:20:00Z", "s3.amazonaws.com", "DeleteBucket")],
        ),
    ];
    for (n, (o, acct, region, stamp, uniq, events)) in logs.iter().enumerate() {
        let recs: Vec<Value> = events
            .iter()
            .enumerate()
            .map(|(i, (t, src, name))| {
                event(
                    acct,
                    region,
                    t,
                    &format!("00000000-0000-4000-8000-{:06}{:06}", n, i),
                    src,
                    name,
                )
            })
            .collect();
        write_log(out, *o, acct, region, stamp, uniq, &recs)?;
    }
    let base = SignArgs {
        key: key.to_path_buf(),
        tree: out.to_path_buf(),
        bucket: "trailgraph-test-bucket".into(),
        trail: "main".into(),
        home_region: Some("us-east-1".into()),
        start: Some("2024-03-01T00:00:00Z".into()),
        end: Some("2024-03-01T06:00:00Z".into()),
        gap: vec![],
        account: Some(a.into()),
        sha512: false,
        public_keys_out,
    };
    sign_tree(&base)?;
    sign_tree(&SignArgs {
        trail: "org-trail".into(),
        account: Some(b.into()),
        gap: vec!["2024-03-01T02:00:00Z..2024-03-01T04:00:00Z".into()],
        public_keys_out: None,
        ..base.clone()
    })?;
    Ok(())
}
