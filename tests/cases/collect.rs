//! `collect` (feature `aws`) against servers on loopback only: moto in server mode for S3, and a replay server
//! speaking the CloudTrail / Config JSON 1.1 protocol for LookupEvents, ListPublicKeys, Lake and Config history
//! (responses from `fixtures/aws-replay/`, made by `make.py`). Fake static credentials; no real AWS. The S3 tests
//! need Python with moto[server] and boto3: skipped without them, failed under `CI=true` (docs/testing.md).

use super::util::{count, fixtures, ingest, require_tool, run, stats, tg, Run, MOTO};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Fake credentials and no credential lookups beyond the environment.
pub(crate) const ENV: &[(&str, &str)] = &[
    ("AWS_ACCESS_KEY_ID", "testing"),
    ("AWS_SECRET_ACCESS_KEY", "testing"),
    ("AWS_SESSION_TOKEN", "testing"),
    ("AWS_REGION", "us-east-1"),
    ("AWS_EC2_METADATA_DISABLED", "true"),
    ("AWS_CONFIG_FILE", "/nonexistent/trailgraph-test"),
    (
        "AWS_SHARED_CREDENTIALS_FILE",
        "/nonexistent/trailgraph-test",
    ),
];

pub(crate) fn collect(db: &Path, args: &[&str]) -> Run {
    let mut c = tg(db);
    c.arg("collect").args(args);
    for (k, v) in ENV {
        c.env(k, v);
    }
    c.env_remove("AWS_PROFILE")
        .env_remove("AWS_DEFAULT_PROFILE")
        .env_remove("AWS_ENDPOINT_URL");
    let out = c.output().expect("run trailgraph");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// moto's S3 in server mode on a free loopback port; killed when dropped.
pub(crate) struct Moto {
    child: Child,
    pub(crate) url: String,
}

impl Moto {
    /// None (the test skips) when moto is not installed, outside CI.
    pub(crate) fn start() -> Option<Moto> {
        if !require_tool(&MOTO) {
            return None;
        }
        let port = free_port();
        let child = Command::new("python3")
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("run python3 -m moto.server");
        let m = Moto {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let until = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < until, "moto server did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(m)
    }

    /// Uploads `dir` under `prefix` with boto3; a digest's sidecar becomes the digest's `signature` metadata.
    pub(crate) fn upload(&self, bucket: &str, dir: &Path, prefix: &str) {
        let script = r#"
import json, os, sys, boto3
url, bucket, root, prefix = sys.argv[1:5]
s3 = boto3.client("s3", endpoint_url=url, region_name="us-east-1",
                  aws_access_key_id="testing", aws_secret_access_key="testing")
try:
    s3.create_bucket(Bucket=bucket)
except s3.exceptions.BucketAlreadyOwnedByYou:
    pass
for d, _, files in os.walk(root):
    for f in sorted(files):
        if f.endswith(".metadata.json"):
            continue
        p = os.path.join(d, f)
        key = prefix + os.path.relpath(p, root).replace(os.sep, "/")
        meta = {}
        if os.path.exists(p + ".metadata.json"):
            meta = json.load(open(p + ".metadata.json"))
        s3.put_object(Bucket=bucket, Key=key, Body=open(p, "rb").read(), Metadata=meta)
"#;
        let st = Command::new("python3")
            .args(["-c", script, &self.url, bucket])
            .arg(dir)
            .arg(prefix)
            .status()
            .expect("python3");
        assert!(st.success(), "upload of {} failed", dir.display());
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The two trees the S3 tests use: the signed integrity tree (organization layout) and the scenario (Config).
fn trees() -> Vec<PathBuf> {
    vec![
        fixtures().join("integrity/tree"),
        fixtures().join("scenario/AWSLogs"),
    ]
}

fn bucket_with_trees(moto: &Moto, bucket: &str) {
    moto.upload(bucket, &fixtures().join("integrity/tree"), "");
    moto.upload(bucket, &fixtures().join("scenario/AWSLogs"), "AWSLogs/");
}

/// JSON with the locations of both copies made equal: local fixture paths and `s3://BUCKET/` become `<root>/`.
fn normalized(v: &Value, bucket: &str, mirror: Option<&Path>) -> String {
    let mut s = v.to_string();
    for t in trees() {
        // The trees' roots are where AWSLogs/ starts in the bucket.
        let root = std::path::absolute(&t).unwrap();
        let root = if t.ends_with("AWSLogs") {
            root.parent().unwrap().to_path_buf()
        } else {
            root
        };
        s = s.replace(&format!("{}/", root.display()), "<root>/");
    }
    s = s.replace(&format!("s3://{bucket}/"), "<root>/");
    if let Some(m) = mirror {
        s = s.replace(&format!("{}/", m.display()), "<root>/");
    }
    s
}

fn stats_without_timing(db: &Path) -> Value {
    let mut s = stats(db);
    if let Some(o) = s.as_object_mut() {
        o.remove("db_bytes");
        o.remove("file_size");
    }
    s
}

#[test]
fn s3_sync_gives_the_answers_of_a_local_ingest_and_is_incremental() {
    let Some(moto) = Moto::start() else { return };
    bucket_with_trees(&moto, "trail-bucket");
    let tmp = tempfile::tempdir().unwrap();
    let (db, local) = (tmp.path().join("c.db"), tmp.path().join("l.db"));
    let mirror = tmp.path().join("mirror");

    let r = collect(
        &db,
        &[
            "s3://trail-bucket",
            "--endpoint-url",
            &moto.url,
            "--region",
            "us-east-1",
            "--mirror",
            mirror.to_str().unwrap(),
            "--format",
            "json",
        ],
    );
    assert_eq!(r.code, 0, "collect failed: {}\n{}", r.stderr, r.stdout);
    let first = r.json();
    let schema = super::schemas::schema("collect-summary.schema.json");
    super::schemas::check(&first, &schema, "collect s3");
    let files: usize = trees()
        .iter()
        .map(|t| {
            walkdir(t)
                .iter()
                .filter(|p| !p.to_string_lossy().ends_with(".metadata.json"))
                .count()
        })
        .sum();
    assert_eq!(first["objects_listed"], files);
    assert_eq!(first["objects_fetched"], files);
    assert_eq!(first["objects_skipped"], 0);
    assert_eq!(first["objects_failed"], 0);
    assert_eq!(first["digests_signed"], 16, "{first}");
    assert_eq!(first["digests_unsigned"], 0);
    assert!(first["bytes_fetched"].as_u64().unwrap() > 10_000);
    assert!(
        r.stderr.contains("listed"),
        "progress on stderr: {}",
        r.stderr
    );

    // The same tree ingested from disk gives the same store contents.
    let l = ingest(
        &local,
        &trees().iter().map(PathBuf::as_path).collect::<Vec<_>>(),
    );
    assert_eq!(l.code, 0, "{}", l.stderr);
    assert_eq!(first["ingest"]["events_new"], l.json()["events_new"]);
    assert_eq!(
        first["ingest"]["config_items_new"],
        l.json()["config_items_new"]
    );
    assert_eq!(stats_without_timing(&db), stats_without_timing(&local));
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM sources WHERE path LIKE 's3://trail-bucket/AWSLogs/%'"
        ),
        count(&local, "SELECT count(*) FROM sources")
    );
    // Account and region come from the key layout of s3:// paths as from local paths.
    assert_eq!(
        count(&db, "SELECT count(*) FROM sources WHERE account_id = '111111111111' AND region = 'us-east-1' AND service = 'Config'"),
        4
    );
    assert_eq!(
        count(&db, "SELECT count(*) FROM digests WHERE kind = 'signature'"),
        16
    );
    for resource in ["arn:aws:s3:::scenario-data", "sg-0scenario0000001"] {
        let a = run(&db, &["who-changed", resource, "--format", "json"]);
        let b = run(&local, &["who-changed", resource, "--format", "json"]);
        assert_eq!(a.code, 0, "{}", a.stderr);
        assert_eq!(
            normalized(&a.json(), "trail-bucket", None),
            normalized(&b.json(), "trail-bucket", None),
            "who-changed {resource}"
        );
    }

    // verify works on the collected copy (the mirror with its sidecars) as on the original tree.
    let keys = fixtures().join("integrity/public-keys.json");
    let v_mirror = run(
        &db,
        &[
            "verify",
            mirror.to_str().unwrap(),
            "--public-keys",
            keys.to_str().unwrap(),
            "--format",
            "json",
        ],
    );
    let v_local = run(
        &local,
        &[
            "verify",
            fixtures().join("integrity/tree").to_str().unwrap(),
            fixtures().join("scenario/AWSLogs").to_str().unwrap(),
            "--public-keys",
            keys.to_str().unwrap(),
            "--format",
            "json",
        ],
    );
    assert_eq!(
        v_mirror.code, v_local.code,
        "{}\n{}",
        v_mirror.stdout, v_local.stdout
    );
    let (vm, vl) = (v_mirror.json(), v_local.json());
    assert_eq!(vm["digests"], vl["digests"]);
    assert_eq!(vm["logs"], vl["logs"]);
    assert!(vm["digests"]["valid"].as_u64().unwrap() >= 4, "{vm}");
    // The same findings (the mixed trees make some: scenario logs no digest lists), in any order.
    let sorted = |v: &Value, m: Option<&Path>| {
        let mut f: Vec<String> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|x| normalized(x, "trail-bucket", m))
            .collect();
        f.sort();
        f
    };
    let found = sorted(&vm["findings"], Some(&mirror));
    assert_eq!(found, sorted(&vl["findings"], None));
    assert_eq!(found.len(), 10, "{found:?}");

    // verify s3://... works directly against the bucket: the same counts and findings, named by S3 key.
    let mut c = tg(&db);
    c.args([
        "verify",
        "s3://trail-bucket",
        "--endpoint-url",
        &moto.url,
        "--public-keys",
        keys.to_str().unwrap(),
        "--format",
        "json",
    ]);
    for (k, v) in ENV {
        c.env(k, v);
    }
    let out = c.output().unwrap();
    let vs: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(out.status.code(), Some(v_local.code));
    assert_eq!(vs["digests"], vl["digests"]);
    assert_eq!(vs["logs"], vl["logs"]);
    assert_eq!(sorted(&vs["findings"], None), found);
    assert!(
        vs["findings"][0]["path"]
            .as_str()
            .unwrap()
            .starts_with("s3://trail-bucket/AWSLogs/"),
        "{vs}"
    );

    // A second run fetches nothing.
    let r2 = collect(
        &db,
        &[
            "s3://trail-bucket",
            "--endpoint-url",
            &moto.url,
            "--mirror",
            mirror.to_str().unwrap(),
            "--format",
            "json",
        ],
    );
    assert_eq!(r2.code, 0, "{}", r2.stderr);
    let second = r2.json();
    assert_eq!(second["objects_fetched"], 0, "{second}");
    assert_eq!(second["objects_skipped"], files);
    assert_eq!(second["bytes_fetched"], 0);
    assert_eq!(second["ingest"]["events_new"], 0);
    assert_eq!(count(&db, "SELECT count(*) FROM s3_objects WHERE bucket = 'trail-bucket' AND source_id IS NOT NULL"), files as i64);

    // A new object is fetched, and only it.
    moto.upload(
        "trail-bucket",
        &fixtures().join("federation"),
        "AWSLogs/222222222222/CloudTrail/us-east-1/2024/03/01/",
    );
    let r3 = collect(
        &db,
        &[
            "s3://trail-bucket",
            "--endpoint-url",
            &moto.url,
            "--format",
            "json",
        ],
    );
    let third = r3.json();
    let fed = walkdir(&fixtures().join("federation")).len();
    assert_eq!(third["objects_fetched"], fed, "{third}");
    assert_eq!(third["objects_skipped"], files);
}

fn walkdir(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn s3_sync_lists_only_the_prefixes_of_the_window_and_filters() {
    let Some(moto) = Moto::start() else { return };
    bucket_with_trees(&moto, "trail-bucket");
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("w.db");
    let r = collect(
        &db,
        &[
            "s3://trail-bucket",
            "--endpoint-url",
            &moto.url,
            "--since",
            "2024-03-01T00:00:00Z",
            "--until",
            "2024-03-01T23:59:59Z",
            "--format",
            "json",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let s = r.json();
    // (account, service, region) triples: 111111111111 (CloudTrail and CloudTrail-Digest in us-east-1 and
    // eu-west-1, Config in us-east-1), o-exampleorg1/222222222222 (CloudTrail, CloudTrail-Digest),
    // 222222222222 (CloudTrail), 399917767858 (CloudTrail): 9, × 2 days (the window's and the next).
    assert_eq!(s["prefixes_listed"], 18, "{s}");
    // The one file of 2024-01-01 (account 399917767858) is neither listed nor fetched.
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM sources WHERE account_id = '399917767858'"
        ),
        0
    );
    assert!(
        count(
            &db,
            "SELECT count(*) FROM sources WHERE account_id = '111111111111'"
        ) > 0
    );

    // --account and --trail-region narrow discovery; an unknown region lists nothing.
    let db2 = tmp.path().join("a.db");
    let r = collect(
        &db2,
        &[
            "s3://trail-bucket",
            "--endpoint-url",
            &moto.url,
            "--account",
            "111111111111",
            "--format",
            "json",
        ],
    );
    let s = r.json();
    assert_eq!(s["prefixes_listed"], 5, "{s}");
    assert_eq!(
        count(&db2, "SELECT count(DISTINCT account_id) FROM sources"),
        1
    );
    let r = collect(
        &db2,
        &[
            "s3://trail-bucket",
            "--endpoint-url",
            &moto.url,
            "--trail-region",
            "eu-west-3",
            "--format",
            "json",
        ],
    );
    assert_eq!(r.json()["objects_listed"], 0);

    // A missing bucket: exit 2, naming the API and the bucket.
    let r = collect(
        &db2,
        &["s3://no-such-bucket/x", "--endpoint-url", &moto.url],
    );
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("ListObjectsV2") && r.stderr.contains("s3://no-such-bucket/x/AWSLogs/"),
        "{}",
        r.stderr
    );
}

#[test]
fn collect_without_credentials_is_a_usage_error() {
    let tmp = tempfile::tempdir().unwrap();
    let mut c = tg(&tmp.path().join("x.db"));
    c.args(["collect", "s3://b", "--endpoint-url", "http://127.0.0.1:9"]);
    for k in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    ] {
        c.env_remove(k);
    }
    c.env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/nonexistent/x")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/x")
        .env("AWS_REGION", "us-east-1");
    let out = c.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("no usable AWS credentials"), "{stderr}");
}

/// A JSON 1.1 server on loopback that serves a script of exchanges in order and logs the requests.
struct Replay {
    url: String,
    log: Arc<Mutex<Vec<(String, Value, Instant)>>>,
    errors: Arc<Mutex<Vec<String>>>,
}

impl Replay {
    fn start(script: &str) -> Replay {
        let text = std::fs::read_to_string(fixtures().join("aws-replay").join(script)).unwrap();
        let script: Vec<Value> = serde_json::from_str(&text).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let log = Arc::new(Mutex::new(Vec::new()));
        let errors = Arc::new(Mutex::new(Vec::new()));
        let (log2, errors2) = (log.clone(), errors.clone());
        std::thread::spawn(move || {
            let mut next = 0usize;
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let Some((target, body)) = read_request(&mut stream) else {
                    continue;
                };
                let op = target.rsplit('.').next().unwrap_or("").to_string();
                let req: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                log2.lock()
                    .unwrap()
                    .push((op.clone(), req.clone(), Instant::now()));
                let (status, resp) = match script.get(next) {
                    Some(x) if x["op"] == op.as_str() => {
                        next += 1;
                        if let Some(exp) = x.get("expect").and_then(Value::as_object) {
                            for (k, v) in exp {
                                if req.get(k) != Some(v) {
                                    errors2
                                        .lock()
                                        .unwrap()
                                        .push(format!("{op}: expected {k}={v}, got {req}"));
                                }
                            }
                        }
                        (x["status"].as_u64().unwrap_or(200), x["body"].to_string())
                    }
                    other => {
                        errors2
                            .lock()
                            .unwrap()
                            .push(format!("unexpected {op} (script has {other:?})"));
                        (
                            500,
                            r#"{"__type":"InternalFailure","message":"not in the replay script"}"#
                                .to_string(),
                        )
                    }
                };
                let reason = if status == 200 { "OK" } else { "Bad Request" };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} {reason}\r\nContent-Type: application/x-amz-json-1.1\r\nx-amzn-RequestId: r-{next}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{resp}",
                    resp.len()
                );
                let _ = stream.flush();
            }
        });
        Replay { url, log, errors }
    }

    fn ops(&self) -> Vec<String> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .map(|(o, _, _)| o.clone())
            .collect()
    }

    fn assert_clean(&self) {
        let e = self.errors.lock().unwrap();
        assert!(e.is_empty(), "replay errors: {e:?}");
    }
}

fn read_request(stream: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let mut r = BufReader::new(stream.try_clone().ok()?);
    let mut target = String::new();
    let mut len = 0usize;
    let mut line = String::new();
    r.read_line(&mut line).ok()?;
    if line.is_empty() {
        return None;
    }
    loop {
        line.clear();
        r.read_line(&mut line).ok()?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            match k.trim().to_ascii_lowercase().as_str() {
                "x-amz-target" => target = v.trim().to_string(),
                "content-length" => len = v.trim().parse().unwrap_or(0),
                _ => {}
            }
        }
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).ok()?;
    Some((target, body))
}

#[test]
fn lookup_events_pages_through_throttling_at_two_requests_per_second() {
    let replay = Replay::start("lookup-events.json");
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("l.db");
    let r = collect(
        &db,
        &[
            "lookup-events",
            "--endpoint-url",
            &replay.url,
            "--region",
            "us-east-1",
            "--since",
            "2024-03-01T00:00:00Z",
            "--until",
            "2024-03-02T00:00:00Z",
            "--lookup-attribute",
            "ReadOnly=false",
            "--format",
            "json",
        ],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stderr, r.stdout);
    replay.assert_clean();
    assert_eq!(replay.ops(), ["LookupEvents"; 4]);
    let s = r.json();
    super::schemas::check(
        &s,
        &super::schemas::schema("collect-summary.schema.json"),
        "collect lookup-events",
    );
    assert_eq!(s["pages"], 3, "{s}");
    assert_eq!(s["ingest"]["events_new"], 7);
    assert_eq!(s["ingest"]["sources_new"], 3);
    assert_eq!(count(&db, "SELECT count(*) FROM sources WHERE kind = 'lookup_events' AND path LIKE 'lookup-events://us-east-1/%'"), 3);
    let log = replay.log.lock().unwrap();
    // The request carried the window and the attribute.
    let first = &log[0].1;
    assert_eq!(first["StartTime"], 1709251200);
    assert_eq!(first["EndTime"], 1709337600);
    assert_eq!(first["LookupAttributes"][0]["AttributeKey"], "ReadOnly");
    // Never more than 2 requests per second: 4 requests (burst of 2) take at least one second.
    assert!(
        log[3].2 - log[0].2 >= Duration::from_millis(900),
        "{:?}",
        log[3].2 - log[0].2
    );
    drop(log);
    // The same events as the S3 delivery of those records: a local ingest of them adds no new event.
    let more = ingest(&db, &[&fixtures().join("scenario/AWSLogs/222222222222")]);
    assert_eq!(more.json()["events_new"], 0, "{}", more.stdout);
}

#[test]
fn public_keys_are_stored_for_offline_verify() {
    let replay = Replay::start("public-keys.json");
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("k.db");
    let r = collect(
        &db,
        &[
            "public-keys",
            "--endpoint-url",
            &replay.url,
            "--since",
            "2024-03-01",
            "--until",
            "2024-03-02",
            "--format",
            "json",
        ],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stderr, r.stdout);
    replay.assert_clean();
    let s = r.json();
    assert_eq!(s["public_keys"], 1);
    assert_eq!(s["public_keys_new"], 1);
    assert_eq!(count(&db, "SELECT count(*) FROM public_keys WHERE fingerprint = '4604357c67c918df7c40d25d35f5a772' AND valid_from = 1577836800000"), 1);
    // verify then needs no key file.
    let v = run(
        &db,
        &[
            "verify",
            fixtures().join("integrity/tree").to_str().unwrap(),
            "--format",
            "json",
        ],
    );
    let j = v.json();
    assert!(j["digests"]["valid"].as_u64().unwrap() >= 4, "{j}");
    assert_eq!(j["digests"]["unverified"], 0, "{j}");
}

#[test]
fn lake_query_waits_for_the_query_and_pages_results() {
    let replay = Replay::start("lake.json");
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("q.db");
    let r = collect(
        &db,
        &[
            "lake",
            "--endpoint-url",
            &replay.url,
            "--query",
            "SELECT * FROM eds",
            "--poll",
            "0.05",
            "--format",
            "json",
        ],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stderr, r.stdout);
    replay.assert_clean();
    assert_eq!(
        replay.ops(),
        [
            "StartQuery",
            "GetQueryResults",
            "GetQueryResults",
            "GetQueryResults",
            "GetQueryResults"
        ]
    );
    let s = r.json();
    assert_eq!(s["pages"], 2);
    assert_eq!(s["ingest"]["events_new"], 2, "{s}");
    assert_eq!(count(&db, "SELECT count(*) FROM sources WHERE kind = 'lake_results' AND path LIKE 'lake://q-0001/%'"), 2);
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM events WHERE event_id = 'sc000002-0000-4000-8000-000000000002'"
        ),
        1
    );
}

#[test]
fn config_history_follows_empty_pages_and_matches_the_delivered_items() {
    let replay = Replay::start("config-history.json");
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("h.db");
    let r = collect(
        &db,
        &[
            "config-history",
            "--endpoint-url",
            &replay.url,
            "--resource-type",
            "AWS::S3::Bucket",
            "--resource-id",
            "scenario-data",
            "--format",
            "json",
        ],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stderr, r.stdout);
    replay.assert_clean();
    assert_eq!(replay.ops(), ["GetResourceConfigHistory"; 4]);
    let s = r.json();
    assert_eq!(
        s["pages"], 2,
        "the empty page is followed, not ingested: {s}"
    );
    assert_eq!(s["ingest"]["config_items_new"], 4);
    // The same states as the delivered history file: ingesting it adds none.
    let more = ingest(
        &db,
        &[&fixtures().join("scenario/AWSLogs/111111111111/Config")],
    );
    assert_eq!(more.code, 0, "{}", more.stderr);
    let m = more.json();
    assert_eq!(m["config_items_new"].as_u64().unwrap() + 4, 10, "{m}");
}

/// `config-batch` and `config-select` store the same states as the delivered files (each item once).
#[test]
fn config_batch_and_select_items_are_the_delivered_states() {
    for (script, args, kind) in [
        (
            "config-batch.json",
            vec![
                "config-batch",
                "--resource",
                "AWS::S3::Bucket=scenario-data",
            ],
            "config_api_batch",
        ),
        (
            "config-select.json",
            vec![
                "config-select",
                "--expression",
                "SELECT * WHERE resourceType = 'AWS::EC2::SecurityGroup'",
            ],
            "config_api_select",
        ),
    ] {
        let replay = Replay::start(script);
        let tmp = tempfile::tempdir().unwrap();
        let db = tmp.path().join("c.db");
        let mut a = args.clone();
        a.extend(["--endpoint-url", &replay.url, "--format", "json"]);
        let r = collect(&db, &a);
        assert_eq!(r.code, 0, "{script}: {}\n{}", r.stderr, r.stdout);
        replay.assert_clean();
        let s = r.json();
        assert_eq!(s["pages"], 1, "{script}: {s}");
        assert_eq!(s["ingest"]["config_items_new"], 1, "{script}: {s}");
        assert_eq!(
            count(
                &db,
                &format!("SELECT count(*) FROM sources WHERE kind = '{kind}'")
            ),
            1,
            "{script}"
        );
        let more = ingest(
            &db,
            &[&fixtures().join("scenario/AWSLogs/111111111111/Config")],
        );
        assert_eq!(
            more.json()["config_items_new"],
            9,
            "{script}: {}",
            more.stdout
        );
    }
}

/// Issue 14, point 2: a log file and a digest stored uncompressed under their gzip names (content intact) are
/// findings in the bucket itself (`verify s3://`), and notices in a local copy (decompressed on purpose, maybe).
#[test]
fn verify_s3_names_files_stored_uncompressed() {
    let Some(moto) = Moto::start() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let tree = tmp.path().join("tree");
    for p in walkdir(&fixtures().join("integrity/tree")) {
        let dst = tree.join(p.strip_prefix(fixtures().join("integrity/tree")).unwrap());
        std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
        std::fs::copy(&p, &dst).unwrap();
    }
    let log = "AWSLogs/111111111111/CloudTrail/us-east-1/2024/03/01/111111111111_CloudTrail_us-east-1_20240301T0320Z_aaaa0004.json.gz";
    let digest = "AWSLogs/111111111111/CloudTrail-Digest/us-east-1/2024/03/01/111111111111_CloudTrail-Digest_us-east-1_main_us-east-1_20240301T060000Z.json.gz";
    for rel in [log, digest] {
        let mut plain = Vec::new();
        flate2::read::MultiGzDecoder::new(std::fs::File::open(tree.join(rel)).unwrap())
            .read_to_end(&mut plain)
            .unwrap();
        std::fs::write(tree.join(rel), plain).unwrap();
    }
    moto.upload("plain-bucket", &tree, "");
    let keys = fixtures().join("integrity/public-keys.json");
    let db = tmp.path().join("absent.db");
    let mut c = tg(&db);
    c.args([
        "verify",
        "s3://plain-bucket",
        "--endpoint-url",
        &moto.url,
        "--public-keys",
        keys.to_str().unwrap(),
        "--format",
        "json",
    ]);
    for (k, v) in ENV {
        c.env(k, v);
    }
    let out = c.output().unwrap();
    let vs: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(out.status.code(), Some(1), "{vs}");
    let found: Vec<(String, String)> = vs["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["kind"].as_str().unwrap().to_string(),
                f["path"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        found,
        vec![
            (
                "not_compressed".to_string(),
                format!("s3://plain-bucket/{digest}")
            ),
            (
                "not_compressed".to_string(),
                format!("s3://plain-bucket/{log}")
            ),
        ]
    );
    assert_eq!(vs["digests"]["invalid"], 1, "{vs}");
    assert_eq!(vs["logs"]["invalid"], 1, "{vs}");
    // The local copy: the same files named in notices, no finding.
    let r = run(
        &db,
        &[
            "verify",
            tree.to_str().unwrap(),
            "--public-keys",
            keys.to_str().unwrap(),
            "--format",
            "json",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stdout);
    let v = r.json();
    let noticed: Vec<&str> = v["notices"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["kind"] == "not_compressed")
        .map(|n| n["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        noticed,
        vec![
            tree.join(digest).to_str().unwrap(),
            tree.join(log).to_str().unwrap()
        ]
    );
}
