//! `collect --via spark`: a store built from the files Spark names gives the same answers as a store built by
//! ingesting the whole tree, for every scope asked about, and fetches a small share of the files.

use crate::schemas::{check, schema};
use crate::util::{repo, require_tool, run, PYSPARK, SQLGLOT_DUCKDB};
use serde_json::Value;
use std::path::Path;
use trailgraph::collect::layout::Filter;
use trailgraph::collect::slice::{cloudtrail_query, Ask, Dialect, Term};

/// A generated organization: 20 accounts under one organization id, noise, role chains across accounts, Config
/// history, the designed scenarios (accounts 111111111111 and 222222222222), and the hand-designed data pipelines
/// of `fixtures/lineage` (accounts 111122223333 and 444455556666, moved under the organization's folder).
pub(crate) fn organization(dir: &Path) -> std::path::PathBuf {
    let out = dir.join("org");
    let st = std::process::Command::new(env!("CARGO_BIN_EXE_trailgraph-gen"))
        .args([
            "--records",
            "20000",
            "--accounts",
            "20",
            "--org",
            "o-testorg1",
            "--config",
            "--scenarios",
        ])
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let from = repo().join("fixtures/lineage/AWSLogs");
    for f in walkdir::WalkDir::new(&from)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
    {
        let to = out
            .join("AWSLogs/o-testorg1")
            .join(f.path().strip_prefix(&from).unwrap());
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(f.path(), &to).unwrap();
    }
    out
}

/// The Firehose delivery at the head of the designed pipelines (`fixtures/lineage`): read by Glue, Lambda, Athena
/// and Redshift downstream.
pub(crate) const RAW_ORDERS: &str = "s3://acme-raw/orders/2024/05/06/08/orders-stream-1-2024-05-06-08-00-09-c46330d0-c17e-4307-9905-3025e4780dbe";
/// The Redshift UNLOAD at the end of the designed pipelines: upstream through the warehouse, Glue and Firehose.
pub(crate) const EXPORT: &str = "s3://acme-export/orders/2024-05-06/0000_part_00";

fn via(db: &Path, trail: &Path, scope: &[&str]) -> Value {
    via_with(db, trail, scope, &[0])
}

/// `via`, accepting any of `codes` (real data may hold a file that fails to parse: the run then exits 1 and names it).
fn via_with(db: &Path, trail: &Path, scope: &[&str], codes: &[i32]) -> Value {
    let mut args = vec![
        "collect",
        trail.to_str().unwrap(),
        "--via",
        "spark",
        "--spark-master",
        "local[2]",
    ];
    args.extend_from_slice(scope);
    args.extend_from_slice(&["--format", "json", "-q"]);
    let r = run(db, &args);
    assert!(
        codes.contains(&r.code),
        "collect --via spark {scope:?}: exit {}\n{}\n{}",
        r.code,
        r.stderr,
        r.stdout
    );
    r.json()
}

/// The scope flags of a case as terms, as the CLI builds them.
fn terms(scope: &[&str]) -> Vec<Term> {
    scope
        .chunks(2)
        .map(|kv| match kv[0] {
            "--resource" => Term::Resource(kv[1].into()),
            "--principal" => Term::Principal(kv[1].into()),
            "--access-key" => Term::AccessKey(kv[1].into()),
            _ => Term::Ip(kv[1].into()),
        })
        .collect()
}

/// The Athena SQL of a scope round, transpiled by sqlglot (Trino to DuckDB) and run by DuckDB over the trail
/// exposed as the `athena-ddl` table (tests/engines/athena_on_duckdb.py). Returns the distinct files matched.
fn athena_round_on_duckdb(
    trail: &Path,
    terms: &[Term],
    filter: &Filter,
) -> std::collections::BTreeSet<String> {
    use std::io::Write;
    let q = cloudtrail_query(
        Dialect::Athena,
        "trail.cloudtrail_logs",
        &Ask::Scope(terms),
        filter,
    );
    assert!(q.params.is_empty());
    let mut child = std::process::Command::new("python3")
        .arg(repo().join("tests/engines/athena_on_duckdb.py"))
        .arg(trail)
        .arg("trail.cloudtrail_logs")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(q.sql.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        q.sql,
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[0].as_str().unwrap().to_string())
        .collect()
}

pub(crate) fn answer(db: &Path, args: &[&str]) -> String {
    let mut a = args.to_vec();
    a.extend_from_slice(&["--format", "json"]);
    let r = run(db, &a);
    assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
    r.stdout
}

#[test]
fn a_spark_slice_answers_like_a_full_ingest() {
    if !require_tool(&PYSPARK) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let trail = organization(dir.path());
    let full = dir.path().join("full.db");
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

    // A generated role of another account, changed by sessions: found in the full store.
    let q = "SELECT r.arn FROM resources r JOIN event_resources er ON er.resource = r.id \
             JOIN events e ON e.id = er.event WHERE r.type = 'AWS::IAM::Role' AND r.account_id <> '111111111111' \
             AND e.event_name = 'PutRolePolicy' GROUP BY r.arn ORDER BY count(*) DESC, r.arn LIMIT 1";
    let role = run(&full, &["sql", q, "--format", "csv"]);
    assert_eq!(role.code, 0, "{}", role.stderr);
    let role = role
        .stdout
        .lines()
        .nth(1)
        .expect("a generated role with changes")
        .to_string();
    // A session key of the generated noise, for a timeline of an access key.
    let k = "SELECT access_key_id FROM sessions WHERE access_key_id LIKE 'ASIA%' ORDER BY access_key_id LIMIT 1";
    let key = run(&full, &["sql", k, "--format", "csv"]);
    assert_eq!(key.code, 0, "{}", key.stderr);
    let key = key
        .stdout
        .lines()
        .nth(1)
        .expect("a session key")
        .to_string();

    let athena = require_tool(&SQLGLOT_DUCKDB);
    let cases: Vec<(Vec<&str>, Vec<Vec<&str>>)> = vec![
        (
            vec!["--resource", "arn:aws:iam::111111111111:role/DataOps"],
            vec![vec![
                "who-changed",
                "arn:aws:iam::111111111111:role/DataOps",
            ]],
        ),
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
            vec!["--principal", "arn:aws:iam::222222222222:user/alice"],
            vec![vec![
                "timeline",
                "--principal",
                "arn:aws:iam::222222222222:user/alice",
            ]],
        ),
        (vec!["--resource", &role], vec![vec!["who-changed", &role]]),
        (
            vec!["--access-key", &key],
            vec![vec!["timeline", "--access-key", &key]],
        ),
        // Lineage: the slice is closed by lineage rounds for the lineage of the object both ways.
        (
            vec!["--resource", RAW_ORDERS],
            vec![
                vec!["lineage", RAW_ORDERS, "--downstream"],
                vec!["lineage", RAW_ORDERS, "--both"],
            ],
        ),
        (
            vec!["--resource", "s3://partner-landing/acme/orders.csv"],
            vec![vec![
                "lineage",
                "s3://partner-landing/acme/orders.csv",
                "--upstream",
            ]],
        ),
    ];
    for (i, (scope, questions)) in cases.iter().enumerate() {
        let db = dir.path().join(format!("via{i}.db"));
        let s = via(&db, &trail, scope);
        check(
            &s,
            &schema("collect-via-summary.schema.json"),
            "collect --via",
        );
        let t = &s["totals"];
        let (fetched, window) = (
            t["files_fetched"].as_u64().unwrap(),
            t["files_in_window"].as_u64().unwrap(),
        );
        assert!(fetched > 0, "{scope:?}: nothing fetched: {s:#}");
        assert!(
            fetched * 2 < window,
            "{scope:?}: fetched {fetched} of {window} files"
        );
        assert_eq!(s["rounds"][0]["purpose"], "scope");
        assert!(s["rounds"][0]["bytes_scanned"].as_u64().unwrap() > 0);
        let lineage_rounds = s["rounds"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["purpose"] == "lineage")
            .count();
        if scope[1].starts_with("s3://") {
            // A lineage round, then more while the answers reach further, and a last that reaches nothing new.
            assert!(lineage_rounds >= 2, "{s:#}");
            assert_eq!(t["keys_left"], 0, "{s:#}");
        } else {
            assert_eq!(lineage_rounds, 0, "{scope:?}: {s:#}");
        }
        for q in questions {
            let (want, got) = (answer(&full, q), answer(&db, q));
            assert!(
                want == got,
                "{scope:?} then {q:?}: the slice answers differently\nfull: {want}\nslice: {got}"
            );
        }
        eprintln!("collect --via spark {scope:?}: fetched {fetched} of {window} files");
        if athena {
            // The same round in Athena's dialect, run for real by DuckDB after sqlglot: the same files.
            let files = athena_round_on_duckdb(&trail, &terms(scope), &Filter::default());
            assert_eq!(
                files.len() as u64,
                s["rounds"][0]["files_matched"].as_u64().unwrap(),
                "{scope:?}: {files:?}"
            );
            // With partition pruning (one account, one day and the next): a subset, all in the partitions.
            let day = Filter {
                accounts: vec!["111111111111".into()],
                regions: vec![],
                since: Some(1_709_251_200_000),
                until: Some(1_709_337_599_000),
            };
            let pruned = athena_round_on_duckdb(&trail, &terms(scope), &day);
            assert!(pruned.is_subset(&files));
            assert!(
                pruned
                    .iter()
                    .all(|p| p.contains("/111111111111/CloudTrail/")
                        && (p.contains("/2024/03/01/") || p.contains("/2024/03/02/"))),
                "{pruned:?}"
            );
            if scope[1].contains("111111111111") {
                assert!(!pruned.is_empty(), "{scope:?}");
            }
        }
        if i == 0 {
            // A rerun fetches nothing new: every file is already stored.
            let again = via(&db, &trail, scope);
            assert_eq!(again["ingest"]["sources_new"], 0, "{again:#}");
            let refetched = again["totals"]["files_fetched"].as_u64();
            assert!(refetched.unwrap() <= fetched);
            assert_eq!(again["ingest"]["files_unchanged"].as_u64(), refetched);
            // And looks for no issuer again: the issuing calls of the keys met are in the store now.
            let first: Vec<&str> = s["rounds"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["purpose"].as_str().unwrap())
                .collect();
            let rerun: Vec<&str> = again["rounds"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["purpose"].as_str().unwrap())
                .collect();
            assert!(first.contains(&"issuers"), "{first:?}");
            assert!(!rerun.contains(&"issuers"), "{rerun:?}");
        }
    }
}

/// The digests covering the fetched files come along, so `verify` marks the slice's sources as it marks a full
/// store's, and the answers carry the same integrity marks. On the signed organization tree of
/// `fixtures/integrity` (digests, sidecars, a single account and an organization).
#[test]
fn a_spark_slice_brings_its_digests_and_verifies_like_a_full_store() {
    if !require_tool(&PYSPARK) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let tree = crate::util::fixtures().join("integrity/tree");
    let keys = crate::util::fixtures().join("integrity/public-keys.json");
    let (full, slice) = (dir.path().join("full.db"), dir.path().join("slice.db"));
    let r = run(
        &full,
        &["ingest", "-q", "--format", "json", tree.to_str().unwrap()],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let s = via(
        &slice,
        &tree,
        &["--principal", "arn:aws:iam::222222222222:user/alice"],
    );
    check(
        &s,
        &schema("collect-via-summary.schema.json"),
        "collect --via",
    );
    assert!(
        s["totals"]["digests_fetched"].as_u64().unwrap() > 0,
        "{s:#}"
    );
    for db in [&full, &slice] {
        let v = run(
            db,
            &[
                "verify",
                tree.to_str().unwrap(),
                "--public-keys",
                keys.to_str().unwrap(),
                "--format",
                "json",
            ],
        );
        assert_eq!(v.code, 0, "{}", v.stderr);
    }
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

/// Refusals and engine failures, without Spark: a missing scope, an S3 trail, no Spark to start, and a query the
/// engine rejects (a stand-in driver that answers as the job does) all exit 2 with the reason; the store keeps
/// nothing half done.
#[test]
fn collect_via_failures_exit_2_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let trail = crate::util::fixtures().join("scenario");
    let t = trail.to_str().unwrap();
    let r = run(&db, &["collect", t, "--via", "spark"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("needs a scope"), "{}", r.stderr);
    let r = run(
        &db,
        &[
            "collect",
            t,
            "--via",
            "spark",
            "--ip",
            "1.2.3.4",
            "--spark-python",
            "/nonexistent/python",
        ],
    );
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("cannot start Spark with /nonexistent/python"),
        "{}",
        r.stderr
    );

    let fake = dir.path().join("fake-spark");
    std::fs::write(
        &fake,
        "#!/bin/sh\necho '{\"ok\": true, \"ready\": true, \"version\": \"4.0.1\"}'\nread line\n\
         echo '{\"ok\": false, \"error\": \"AnalysisException: [TABLE_OR_VIEW_NOT_FOUND] cloudtrail\"}'\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let r = run(
        &db,
        &[
            "collect",
            t,
            "--via",
            "spark",
            "--principal",
            "x') OR 1=1 --",
            "--spark-python",
            fake.to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains(
            "Spark query failed: AnalysisException: [TABLE_OR_VIEW_NOT_FOUND] cloudtrail"
        ),
        "{}",
        r.stderr
    );
    // A Spark too old for named parameters is refused before any query.
    let old = dir.path().join("old-spark");
    std::fs::write(
        &old,
        "#!/bin/sh\necho '{\"ok\": true, \"ready\": true, \"version\": \"3.4.1\"}'\nread line\n",
    )
    .unwrap();
    std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o755)).unwrap();
    let o = run(
        &db,
        &[
            "collect",
            t,
            "--via",
            "spark",
            "--ip",
            "1.2.3.4",
            "--spark-python",
            old.to_str().unwrap(),
        ],
    );
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(
        o.stderr
            .contains("Spark 3.4.1 is too old for collect --via"),
        "{}",
        o.stderr
    );
    // The SQL is shown, and the scope string is not in it: it was a parameter.
    assert!(r.stderr.contains("FROM cloudtrail"), "{}", r.stderr);
    assert!(!r.stderr.contains("1=1"), "{}", r.stderr);
}

/// Real data: the SANS 504 S3 ransomware lab's trail (`$TRAILGRAPH_CORPUS/sans504-s3-ransomware-lab`, one
/// account, REGION/YYYY/MM/DD folders) laid out under `AWSLogs/ACCOUNT/CloudTrail/` by a link. A slice built by
/// Spark for a log object the attacker read (written by CloudTrail's delivery, read by the `FalsimentisRoot` user's
/// key) answers `lineage` both ways, and `timeline` of that user, exactly as the full ingest does.
#[test]
fn a_spark_slice_of_a_real_trail_answers_like_a_full_ingest() {
    let Some(corpus) = crate::corpus::corpus() else {
        return;
    };
    if !require_tool(&PYSPARK) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let trail = dir.path().join("trail");
    let account = trail.join("AWSLogs/342082656213");
    std::fs::create_dir_all(&account).unwrap();
    std::os::unix::fs::symlink(
        corpus.join("sans504-s3-ransomware-lab"),
        account.join("CloudTrail"),
    )
    .unwrap();
    let full = dir.path().join("full.db");
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
    // A copy of the corpus may hold a file that does not parse: the run names it and exits 1, and both stores
    // leave it out alike. Anything else is a failure.
    assert!(
        r.code == 0 || r.code == 1,
        "exit {}\n{}\n{}",
        r.code,
        r.stderr,
        r.stdout
    );
    let full_summary = r.json();
    let failed = full_summary["files_failed"].as_u64().unwrap();
    assert_eq!(r.code == 1, failed > 0, "{full_summary:#}");
    if failed > 0 {
        eprintln!(
            "real trail: {failed} file(s) of the corpus did not parse: {}",
            full_summary["failures"]
        );
    }
    let object = "s3://falsimentis-log/AWSLogs/342082656213/CloudTrail/us-west-1/2021/07/30/\
                  342082656213_CloudTrail_us-west-1_20210730T0245Z_qaqQsK6xAorRoO9p.json.gz";
    let user = "arn:aws:iam::342082656213:user/FalsimentisRoot";
    let cases: Vec<(Vec<&str>, Vec<Vec<&str>>)> = vec![
        (
            vec!["--resource", object],
            vec![
                vec!["lineage", object, "--upstream"],
                vec!["lineage", object, "--both"],
            ],
        ),
        (
            vec!["--principal", user],
            vec![vec!["timeline", "--principal", user]],
        ),
    ];
    for (i, (scope, questions)) in cases.iter().enumerate() {
        let db = dir.path().join(format!("real{i}.db"));
        let s = via_with(&db, &trail, scope, if failed > 0 { &[0, 1] } else { &[0] });
        let t = &s["totals"];
        assert!(t["files_fetched"].as_u64().unwrap() > 0, "{s:#}");
        assert_eq!(t["keys_left"], 0, "{s:#}");
        for q in questions {
            let (want, got) = (answer(&full, q), answer(&db, q));
            assert!(want.len() > 200, "{q:?}: {want}");
            assert!(
                want == got,
                "{scope:?} then {q:?}: the slice answers differently\nfull: {want}\nslice: {got}"
            );
        }
        eprintln!(
            "real trail, collect --via spark {scope:?}: fetched {} of {} files",
            t["files_fetched"], t["files_in_window"]
        );
    }
}
