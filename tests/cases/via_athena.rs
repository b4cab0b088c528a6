//! `collect s3://… --via athena`: the Athena JSON 1.1 protocol against a local Athena (tests/engines/
//! athena_server.py: queued, running, then a final state; pages; throttling; failures in Athena's words), with the
//! queries run for real by DuckDB after sqlglot, and the trail bucket on moto's S3. A store built from the files
//! Athena names gives the same answers as a full ingest of the tree; a rerun fetches nothing; a missing table
//! exits 2 naming `athena-ddl`.

use crate::collect::{collect, Moto};
use crate::schemas::{check, schema};
use crate::util::{repo, require_tool, run, PYSPARK, SQLGLOT_DUCKDB};
use crate::via::{answer, organization, EXPORT};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The local Athena, killed when dropped.
struct LocalAthena {
    child: Child,
    url: String,
    log: PathBuf,
}

impl LocalAthena {
    fn start(trail: &Path, bucket: &str, log: PathBuf, extra: &[&str]) -> LocalAthena {
        let mut child = Command::new("python3")
            .arg(repo().join("tests/engines/athena_server.py"))
            .arg("--trail")
            .arg(trail)
            .args(["--bucket", bucket, "--table", "trail.cloudtrail_logs"])
            .args(["--config-table", "trail.config_items"])
            .arg("--log")
            .arg(&log)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 tests/engines/athena_server.py");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .strip_prefix("PORT ")
            .unwrap_or_else(|| panic!("local Athena did not start: {line:?}"));
        LocalAthena {
            child,
            url: format!("http://127.0.0.1:{port}"),
            log,
        }
    }

    /// The requests it received: (operation, request).
    fn requests(&self) -> Vec<(String, Value)> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(|l| {
                let v: Value = serde_json::from_str(l).unwrap();
                (v["op"].as_str().unwrap().to_string(), v["request"].clone())
            })
            .collect()
    }
}

impl Drop for LocalAthena {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn via_athena(
    db: &Path,
    moto: &Moto,
    athena: &LocalAthena,
    table: &str,
    scope: &[&str],
) -> crate::util::Run {
    let mut args = vec![
        "s3://org-trail",
        "--via",
        "athena",
        "--athena-table",
        table,
        "--athena-config-table",
        "trail.config_items",
        "--athena-workgroup",
        "trailgraph-wg",
        "--athena-output",
        "s3://athena-results/trailgraph/",
        "--athena-poll",
        "0.01",
        "--athena-endpoint-url",
        &athena.url,
        "--endpoint-url",
        &moto.url,
    ];
    args.extend_from_slice(scope);
    args.extend_from_slice(&["--format", "json", "-q"]);
    collect(db, &args)
}

/// The generated organization, uploaded to the bucket `org-trail` and ingested whole into `full.db`: the trail
/// folder, the full store, and the folder's prefix as the full store's source paths begin (the slice's sources are
/// the S3 keys of the same files: `s3://org-trail/` in its place).
fn organization_in_bucket(dir: &Path, moto: &Moto) -> (PathBuf, PathBuf, String) {
    let trail = organization(dir);
    moto.upload("org-trail", &trail, "");
    let full = dir.join("full.db");
    let r = run(
        &full,
        &[
            "ingest",
            "-q",
            "--format",
            "json",
            trail.join("AWSLogs").to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let local = format!("{}/", std::path::absolute(&trail).unwrap().display());
    (trail, full, local)
}

#[test]
fn an_athena_slice_answers_like_a_full_ingest() {
    if !require_tool(&SQLGLOT_DUCKDB) {
        return;
    }
    let Some(moto) = Moto::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (trail, full, local) = organization_in_bucket(dir.path(), &moto);
    let files_in_tree = walkdir::WalkDir::new(&trail)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .count() as u64;
    let athena = LocalAthena::start(
        &trail,
        "org-trail",
        dir.path().join("athena.log"),
        &["--page", "3", "--throttle-every", "7"],
    );

    let cases: Vec<(Vec<&str>, Vec<Vec<&str>>)> = vec![
        (
            vec![
                "--resource",
                "scenario-data",
                "--resource",
                "sg-0scenario0000001",
            ],
            vec![
                vec!["who-changed", "scenario-data"],
                vec!["who-changed", "sg-0scenario0000001"],
            ],
        ),
        (
            vec!["--resource", "arn:aws:iam::111111111111:role/DataOps"],
            vec![vec![
                "who-changed",
                "arn:aws:iam::111111111111:role/DataOps",
            ]],
        ),
        (
            vec!["--principal", "arn:aws:iam::222222222222:user/alice"],
            vec![vec![
                "timeline",
                "--principal",
                "arn:aws:iam::222222222222:user/alice",
            ]],
        ),
        // Lineage rounds in Athena's dialect, run by DuckDB: upstream through Redshift, Glue and Firehose.
        (
            vec!["--resource", EXPORT],
            vec![
                vec!["lineage", EXPORT, "--upstream"],
                vec!["lineage", EXPORT, "--both"],
            ],
        ),
    ];
    for (i, (scope, questions)) in cases.iter().enumerate() {
        let db = dir.path().join(format!("athena{i}.db"));
        let r = via_athena(&db, &moto, &athena, "trail.cloudtrail_logs", scope);
        assert_eq!(r.code, 0, "collect --via athena {scope:?}: {}", r.stderr);
        let s: Value = serde_json::from_str(&r.stdout).unwrap();
        check(
            &s,
            &schema("collect-via-summary.schema.json"),
            "collect --via athena",
        );
        assert_eq!(s["engine"], "athena");
        assert_eq!(s["engine_version"], "Athena engine version 3");
        let t = &s["totals"];
        assert_eq!(t["files_in_window"], Value::Null);
        let fetched = t["files_fetched"].as_u64().unwrap();
        assert!(
            fetched > 0 && t["bytes_fetched"].as_u64().unwrap() > 0,
            "{s:#}"
        );
        assert!(
            fetched * 2 < files_in_tree,
            "{scope:?}: fetched {fetched} of {files_in_tree} files"
        );
        assert!(t["engine_requests"].as_u64().unwrap() > 0);
        let rounds = s["rounds"].as_array().unwrap();
        assert_eq!(rounds[0]["purpose"], "scope");
        for round in rounds {
            assert_eq!(round["engine"], "athena");
            assert!(round["query_id"].as_str().unwrap().starts_with("q-"));
            // Literals, escaped, in the text: Athena gets no parameters.
            assert_eq!(round["parameters"], serde_json::json!([]));
            assert!(round["bytes_scanned"].as_u64().unwrap() > 0, "{round:#}");
        }
        if scope[0] == "--resource" {
            assert!(rounds.iter().any(|r| r["purpose"] == "config"), "{s:#}");
        }
        let lineage: Vec<&Value> = rounds
            .iter()
            .filter(|r| r["purpose"] == "lineage")
            .collect();
        if scope[1].starts_with("s3://") {
            assert!(lineage.len() >= 2, "{s:#}");
            let sql = lineage[0]["sql"].as_str().unwrap();
            assert!(sql.contains("eventname LIKE 'AssumeRole%'"), "{sql}");
            assert!(sql.contains("useridentity.accesskeyid IN ('"), "{sql}");
            assert_eq!(t["keys_left"], 0, "{s:#}");
        } else {
            assert!(lineage.is_empty(), "{scope:?}: {s:#}");
        }
        for q in questions {
            let want = answer(&full, q).replace(&local, "s3://org-trail/");
            let got = answer(&db, q);
            assert!(
                want == got,
                "{scope:?} then {q:?}: the Athena slice answers differently\nfull: {want}\nslice: {got}"
            );
        }
        // The digests of the fetched files' hours came along, as sources named by their S3 keys.
        let digests = run(
            &db,
            &[
                "sql",
                "SELECT count(*) FROM sources WHERE path LIKE 's3://org-trail/%CloudTrail-Digest%'",
                "--format",
                "csv",
            ],
        );
        assert_eq!(digests.code, 0, "{}", digests.stderr);
        eprintln!(
            "collect --via athena {scope:?}: fetched {fetched} of {files_in_tree} files; digests {}",
            digests.stdout.trim().replace('\n', " ")
        );
        if i == 0 {
            assert!(
                t["throttled"].as_u64().unwrap() > 0,
                "throttling was not met: {s:#}"
            );
            // A rerun fetches nothing: every file is stored whole.
            let again = via_athena(&db, &moto, &athena, "trail.cloudtrail_logs", scope);
            assert_eq!(again.code, 0, "{}", again.stderr);
            let a: Value = serde_json::from_str(&again.stdout).unwrap();
            assert_eq!(a["totals"]["files_fetched"], 0, "{a:#}");
            // (It may need fewer: the issuing calls of the keys met are stored now, so no issuers round runs.)
            let stored = a["totals"]["files_already_stored"].as_u64().unwrap();
            assert!(stored > 0 && stored <= fetched, "{a:#}");
            assert_eq!(a["ingest"]["files_unchanged"].as_u64(), Some(stored));
            assert_eq!(a["ingest"]["sources_new"], 0);
        }
    }
    // A window and an account prune Athena's partitions: the CloudTrail table by `timestamp` (YYYY/MM/DD), the
    // Config table by `dt` (Config's unpadded YYYY/M/D), both by `account`; what is fetched lies inside them.
    let db = dir.path().join("window.db");
    let scope = [
        "--resource",
        "scenario-data",
        "--since",
        "2024-03-01T00:00:00Z",
        "--until",
        "2024-03-01T23:59:59Z",
        "--account",
        "111111111111",
    ];
    let r = via_athena(&db, &moto, &athena, "trail.cloudtrail_logs", &scope);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let s: Value = serde_json::from_str(&r.stdout).unwrap();
    let sql = |purpose: &str| {
        s["rounds"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["purpose"] == purpose)
            .unwrap_or_else(|| panic!("no {purpose} round: {s:#}"))["sql"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let scope_sql = sql("scope");
    assert!(
        scope_sql.contains("\"timestamp\" BETWEEN '2024/03/01' AND '2024/03/02'"),
        "{scope_sql}"
    );
    assert!(
        scope_sql.contains("account IN ('111111111111')"),
        "{scope_sql}"
    );
    let config_sql = sql("config");
    assert!(
        config_sql.contains("dt IN ('2024/3/1', '2024/3/2')"),
        "{config_sql}"
    );
    assert!(s["totals"]["files_matched"].as_u64().unwrap() > 0, "{s:#}");
    let outside = run(
        &db,
        &[
            "sql",
            "SELECT count(*) AS n FROM sources WHERE path NOT LIKE 's3://org-trail/AWSLogs/%111111111111/%'",
            "--format",
            "csv",
        ],
    );
    assert_eq!(outside.code, 0, "{}", outside.stderr);
    assert_eq!(
        outside.stdout.lines().nth(1),
        Some("0"),
        "{}",
        outside.stdout
    );

    // Every query ran in the table's database, the workgroup and the result location given; each was waited for
    // through QUEUED and RUNNING, and its results were read page by page (3 rows a page here).
    let reqs = athena.requests();
    let starts: Vec<&Value> = reqs
        .iter()
        .filter(|(o, _)| o == "StartQueryExecution")
        .map(|(_, r)| r)
        .collect();
    assert!(!starts.is_empty());
    for r in &starts {
        assert_eq!(r["QueryExecutionContext"]["Database"], "trail", "{r}");
        assert_eq!(r["WorkGroup"], "trailgraph-wg");
        assert_eq!(
            r["ResultConfiguration"]["OutputLocation"],
            "s3://athena-results/trailgraph/"
        );
    }
    let polls = reqs
        .iter()
        .filter(|(o, _)| o == "GetQueryExecution")
        .count();
    assert!(
        polls >= 3 * starts.len(),
        "{polls} polls for {} queries",
        starts.len()
    );
    assert!(
        reqs.iter()
            .any(|(o, r)| o == "GetQueryResults" && r.get("NextToken").is_some()),
        "results were never paged"
    );
}

#[test]
fn a_failed_athena_query_exits_2_with_athena_s_message_and_the_sql() {
    if !require_tool(&SQLGLOT_DUCKDB) {
        return;
    }
    let Some(moto) = Moto::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let trail = crate::util::fixtures().join("scenario");
    moto.upload("org-trail", &trail, "");
    let athena = LocalAthena::start(&trail, "org-trail", dir.path().join("athena.log"), &[]);
    let db = dir.path().join("s.db");
    let r = via_athena(
        &db,
        &moto,
        &athena,
        "trail.no_such_table",
        &["--resource", "scenario-data"],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("FAILED: TABLE_NOT_FOUND"), "{}", r.stderr);
    assert!(r.stderr.contains("trailgraph athena-ddl"), "{}", r.stderr);
    assert!(
        r.stderr.contains("SQL:") && r.stderr.contains("FROM \"trail\".\"no_such_table\""),
        "{}",
        r.stderr
    );
    // A table name that could change the SQL is refused before any query.
    let r = via_athena(
        &db,
        &moto,
        &athena,
        "trail.x; DROP TABLE y",
        &["--resource", "scenario-data"],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("expected DATABASE.TABLE"), "{}", r.stderr);
    // A scope string with quotes is a literal: the query runs and matches nothing.
    let r = via_athena(
        &db,
        &moto,
        &athena,
        "trail.cloudtrail_logs",
        &["--resource", "x' OR 1=1 OR 'a'='a"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let s: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(s["totals"]["files_matched"], 0, "{s:#}");
}

/// The digests covering the fetched files come from S3 with their signatures (the objects' `signature`
/// metadata), so after `verify s3://` the slice's answers carry the same integrity marks as those of a store
/// built by syncing the whole bucket. On the signed organization tree of `fixtures/integrity`.
#[test]
fn an_athena_slice_brings_its_signed_digests_and_verifies_like_a_full_sync() {
    if !require_tool(&SQLGLOT_DUCKDB) {
        return;
    }
    let Some(moto) = Moto::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let tree = crate::util::fixtures().join("integrity/tree");
    let keys = crate::util::fixtures().join("integrity/public-keys.json");
    moto.upload("org-trail", &tree, "");
    let athena = LocalAthena::start(&tree, "org-trail", dir.path().join("athena.log"), &[]);
    let (full, slice) = (dir.path().join("full.db"), dir.path().join("slice.db"));
    let r = collect(
        &full,
        &[
            "s3://org-trail",
            "--endpoint-url",
            &moto.url,
            "-q",
            "--format",
            "json",
        ],
    );
    assert!(r.code == 0, "{}", r.stderr);
    let scope = ["--principal", "arn:aws:iam::222222222222:user/alice"];
    let r = via_athena(&slice, &moto, &athena, "trail.cloudtrail_logs", &scope);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let s: Value = serde_json::from_str(&r.stdout).unwrap();
    assert!(
        s["totals"]["digests_fetched"].as_u64().unwrap() > 0,
        "{s:#}"
    );
    let sidecars = run(
        &slice,
        &[
            "sql",
            "SELECT count(*) AS n FROM sources WHERE path LIKE 's3://org-trail/%.metadata.json'",
            "--format",
            "csv",
        ],
    );
    assert_eq!(sidecars.code, 0, "{}", sidecars.stderr);
    let n: u64 = sidecars
        .stdout
        .lines()
        .nth(1)
        .unwrap_or("0")
        .parse()
        .unwrap();
    assert_eq!(
        n,
        s["totals"]["digests_fetched"].as_u64().unwrap(),
        "every digest came with its signature"
    );
    let mut codes = Vec::new();
    for db in [&full, &slice] {
        let mut c = crate::util::tg(db);
        c.args([
            "verify",
            "s3://org-trail",
            "--endpoint-url",
            &moto.url,
            "--public-keys",
        ])
        .arg(&keys)
        .args(["--format", "json"]);
        for (k, v) in crate::collect::ENV {
            c.env(k, v);
        }
        codes.push(c.output().unwrap().status.code());
    }
    assert_eq!(codes[0], codes[1]);
    let q = [
        "timeline",
        "--principal",
        "arn:aws:iam::222222222222:user/alice",
    ];
    let (want, got) = (answer(&full, &q), answer(&slice, &q));
    assert!(want.contains("\"validated\""), "{want}");
    assert!(
        want == got,
        "the slice answers differently\nfull: {want}\nslice: {got}"
    );
}

/// `collect s3://… --via spark`: trailgraph lists the bucket (moto), Spark's executors read the objects from S3 with
/// boto3, and the files the rounds name are fetched as for Athena: the same answers as a full ingest.
#[test]
fn a_spark_slice_of_an_s3_trail_answers_like_a_full_ingest() {
    if !require_tool(&PYSPARK) {
        return;
    }
    let Some(moto) = Moto::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (_, full, local) = organization_in_bucket(dir.path(), &moto);
    let db = dir.path().join("spark.db");
    let r = collect(
        &db,
        &[
            "s3://org-trail",
            "--via",
            "spark",
            "--spark-master",
            "local[2]",
            "--endpoint-url",
            &moto.url,
            "--resource",
            "scenario-data",
            "--principal",
            "arn:aws:iam::222222222222:user/alice",
            "--format",
            "json",
            "-q",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let s: Value = serde_json::from_str(&r.stdout).unwrap();
    check(
        &s,
        &schema("collect-via-summary.schema.json"),
        "collect --via spark s3://",
    );
    assert_eq!(s["engine"], "spark");
    let t = &s["totals"];
    let (fetched, window) = (
        t["files_fetched"].as_u64().unwrap(),
        t["files_in_window"].as_u64().unwrap(),
    );
    assert!(
        fetched > 0 && fetched * 2 < window,
        "fetched {fetched} of {window}: {s:#}"
    );
    assert!(s["rounds"][0]["bytes_scanned"].as_u64().unwrap() > 0);
    for q in [
        vec!["who-changed", "scenario-data"],
        vec![
            "timeline",
            "--principal",
            "arn:aws:iam::222222222222:user/alice",
        ],
    ] {
        let want = answer(&full, &q).replace(&local, "s3://org-trail/");
        let got = answer(&db, &q);
        assert!(
            want == got,
            "{q:?}: the S3 Spark slice answers differently\nfull: {want}\nslice: {got}"
        );
    }
    eprintln!("collect s3:// --via spark: fetched {fetched} of {window} files");
}
