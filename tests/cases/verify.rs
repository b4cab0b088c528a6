//! `verify`: the fixture tree of `fixtures/integrity/tree` (signed by `trailgraph-sign fixture` with the TEST key),
//! copied to a temp dir, tampered with in one way per test, with the exact findings expected.
//!
//! Digests of account 111111111111 (trail `main`) end on the hour, 01:00 to 06:00 on 2024-03-01, in us-east-1 and
//! eu-west-1; us-east-1 lists aaaa0001+aaaa0002 (01:00), aaaa0003 (02:00), none (03:00), aaaa0004 (04:00),
//! aaaa0005 (05:00), aaaa0006 (06:00). Organization o-exampleorg1 account 222222222222 (trail `org-trail`) has
//! digests at 01:00, 02:00, then (after a StopLogging at 01:30) 05:00 and 06:00, the 05:00 one with null previous
//! fields.

use crate::util::*;
use rsa::pkcs8::DecodePrivateKey;
use serde_json::Value;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

const A: &str = "111111111111";

fn dg(region: &str, hour: u32) -> String {
    format!("AWSLogs/{A}/CloudTrail-Digest/{region}/2024/03/01/{A}_CloudTrail-Digest_{region}_main_us-east-1_20240301T{hour:02}0000Z.json.gz")
}
fn d(hour: u32) -> String {
    dg("us-east-1", hour)
}
fn org_dg(hour: u32) -> String {
    format!("AWSLogs/o-exampleorg1/222222222222/CloudTrail-Digest/us-east-1/2024/03/01/222222222222_CloudTrail-Digest_us-east-1_org-trail_us-east-1_20240301T{hour:02}0000Z.json.gz")
}
fn lg(stamp: &str, uniq: &str) -> String {
    format!("AWSLogs/{A}/CloudTrail/us-east-1/2024/03/01/{A}_CloudTrail_us-east-1_20240301T{stamp}Z_{uniq}.json.gz")
}

fn copy_dir(from: &Path, to: &Path) {
    for e in walkdir::WalkDir::new(from) {
        let e = e.unwrap();
        let rel = e.path().strip_prefix(from).unwrap();
        let dst = to.join(rel);
        if e.file_type().is_dir() {
            std::fs::create_dir_all(&dst).unwrap();
        } else {
            std::fs::copy(e.path(), &dst).unwrap();
        }
    }
}

struct Tree {
    _dir: tempfile::TempDir,
    root: PathBuf,
    db: PathBuf,
}

fn tree() -> Tree {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("tree");
    copy_dir(&fixtures().join("integrity/tree"), &root);
    let db = dir.path().join("absent.db");
    Tree {
        _dir: dir,
        root,
        db,
    }
}

impl Tree {
    fn p(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }
    fn verify(&self, extra: &[&str]) -> (i32, Value) {
        let keys = fixtures().join("integrity/public-keys.json");
        let mut args = vec![
            "verify".to_string(),
            self.root.display().to_string(),
            "--format".into(),
            "json".into(),
            "--public-keys".into(),
            keys.display().to_string(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let r = run(&self.db, &refs);
        assert!(r.code == 0 || r.code == 1, "exit {}: {}", r.code, r.stderr);
        let v = r.json();
        crate::schemas::check(&v, &crate::schemas::schema("verify.schema.json"), "verify");
        // Every scenario, as run and under windows: counts match the files named by findings and notices, and
        // the exit code is 1 exactly when there is a finding.
        self.invariant(extra, r.code, &v);
        let has_window = extra.iter().any(|a| *a == "--since" || *a == "--until");
        if !has_window {
            for window in WINDOWS {
                let mut args = extra.to_vec();
                args.extend_from_slice(window);
                let refs: Vec<String> = args.iter().map(|s| s.to_string()).collect();
                let mut full = vec![
                    "verify".to_string(),
                    self.root.display().to_string(),
                    "--format".into(),
                    "json".into(),
                    "--public-keys".into(),
                    fixtures()
                        .join("integrity/public-keys.json")
                        .display()
                        .to_string(),
                ];
                full.extend(refs);
                let full: Vec<&str> = full.iter().map(String::as_str).collect();
                let w = run(&self.db, &full);
                assert!(w.code == 0 || w.code == 1, "exit {}: {}", w.code, w.stderr);
                self.invariant(&args, w.code, &w.json());
            }
        }
        (r.code, v)
    }

    /// The invariant of docs/integrity.md ("Counts"): the library's report for the same arguments names every
    /// file it counted as invalid, unsigned, unlisted or missing in a finding or a notice, its counts are the
    /// CLI's, and the CLI exits 1 exactly when there is a finding.
    fn invariant(&self, args: &[&str], code: i32, v: &Value) {
        use trailgraph::integrity;
        let mut opts = integrity::Options::default();
        let mut it = args.iter();
        let when = |s: &str| {
            chrono::DateTime::parse_from_rfc3339(s)
                .unwrap()
                .timestamp_millis()
        };
        while let Some(a) = it.next() {
            match *a {
                "--since" => opts.since = Some(when(it.next().unwrap())),
                "--until" => opts.until = Some(when(it.next().unwrap())),
                "--account" => opts.account = Some(it.next().unwrap().to_string()),
                "--region" => opts.region = Some(it.next().unwrap().to_string()),
                other => panic!("invariant: unexpected argument {other}"),
            }
        }
        let mut ring = integrity::KeyRing::default();
        for k in integrity::keys::load_file(&fixtures().join("integrity/public-keys.json")).unwrap()
        {
            ring.add(k);
        }
        let (files, _) = trailgraph::ingest::walk::discover(std::slice::from_ref(&self.root));
        let paths: Vec<PathBuf> = files.into_iter().map(|f| f.path).collect();
        let r = integrity::verify(&paths, &ring, &opts);
        let ctx = format!("{args:?}: {}", serde_json::to_string_pretty(&r).unwrap());
        assert_eq!(
            code,
            i32::from(!v["findings"].as_array().unwrap().is_empty()),
            "{ctx}"
        );
        assert_eq!(
            v["digests"],
            serde_json::to_value(&r.digests).unwrap(),
            "{ctx}"
        );
        assert_eq!(v["logs"], serde_json::to_value(&r.logs).unwrap(), "{ctx}");
        let tally = |digest: bool, verdict: &str| {
            r.files
                .iter()
                .filter(|c| c.digest == digest && c.verdict == verdict)
                .count() as u64
        };
        assert_eq!(
            (
                r.digests.valid,
                r.digests.invalid,
                r.digests.unsigned,
                r.digests.unverified
            ),
            (
                tally(true, "valid"),
                tally(true, "invalid"),
                tally(true, "unsigned"),
                tally(true, "unverified")
            ),
            "{ctx}"
        );
        assert_eq!(
            (
                r.logs.valid,
                r.logs.invalid,
                r.logs.unverified,
                r.logs.unlisted,
                r.logs.missing
            ),
            (
                tally(false, "valid"),
                tally(false, "invalid"),
                tally(false, "unverified"),
                tally(false, "unlisted"),
                tally(false, "missing")
            ),
            "{ctx}"
        );
        for c in &r.files {
            let finding = |kinds: &[&str]| {
                r.findings
                    .iter()
                    .any(|f| f.path == c.path && (kinds.is_empty() || kinds.contains(&f.kind)))
            };
            let notice = |kinds: &[&str]| {
                r.notices
                    .iter()
                    .any(|n| n.path.as_deref() == Some(c.path.as_str()) && kinds.contains(&n.kind))
            };
            let named = match c.verdict {
                "invalid" => finding(&[]),
                "unsigned" => finding(&[]) || notice(&["unsigned"]),
                "missing" => finding(&["log_missing"]),
                "unlisted" => finding(&["log_unlisted"]) || notice(&["no_digests", "not_covered"]),
                _ => true,
            };
            assert!(
                named,
                "{} counted {} without a finding or notice naming it: {ctx}",
                c.path, c.verdict
            );
        }
    }
    /// (kind, path, digest) of every finding, paths relative to the tree.
    fn findings(&self, v: &Value) -> Vec<(String, String, Option<String>)> {
        let rel = |s: &str| {
            s.strip_prefix(&format!("{}/", self.root.display()))
                .unwrap_or(s)
                .to_string()
        };
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["kind"].as_str().unwrap().to_string(),
                    rel(f["path"].as_str().unwrap()),
                    f["digest"].as_str().map(rel),
                )
            })
            .collect()
    }
    fn detail(&self, v: &Value, kind: &str) -> String {
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["kind"] == kind)
            .map(|f| f["detail"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
            .join(" | ")
    }
}

/// Windows every scenario is also checked under (the fixture's digests end on the hour, 01:00 to 06:00).
const WINDOWS: [&[&str]; 4] = [
    &[
        "--since",
        "2024-03-01T02:30:00Z",
        "--until",
        "2024-03-01T04:30:00Z",
    ],
    &["--until", "2024-03-01T03:30:00Z"],
    &["--since", "2024-03-01T04:30:00Z"],
    &["--until", "2024-03-01T05:30:00Z"],
];

fn f(kind: &str, path: &str, digest: Option<&str>) -> (String, String, Option<String>) {
    (kind.into(), path.into(), digest.map(str::to_string))
}

fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn gunzip(path: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(std::fs::File::open(path).unwrap())
        .read_to_end(&mut out)
        .unwrap();
    out
}

fn rewrite_log(path: &Path, edit: impl Fn(String) -> String) {
    let text = String::from_utf8(gunzip(path)).unwrap();
    std::fs::write(path, gz(edit(text).as_bytes())).unwrap();
}

fn key(name: &str) -> rsa::RsaPrivateKey {
    let pem = std::fs::read_to_string(fixtures().join("integrity").join(name)).unwrap();
    rsa::RsaPrivateKey::from_pkcs8_pem(&pem).unwrap()
}

/// Rewrites a digest's text with `edit`, and re-signs it with `signer` (None: keep the sidecar as it was).
fn edit_digest(path: &Path, edit: impl Fn(String) -> String, signer: Option<&rsa::RsaPrivateKey>) {
    use trailgraph::integrity::sign;
    let text = edit(String::from_utf8(gunzip(path)).unwrap());
    std::fs::write(path, gz(text.as_bytes())).unwrap();
    if let Some(k) = signer {
        let v: Value = serde_json::from_str(&text).unwrap();
        let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(text.as_bytes()));
        let msg = sign::signing_string(
            v["digestEndTime"].as_str().unwrap(),
            v["digestS3Bucket"].as_str().unwrap(),
            v["digestS3Object"].as_str().unwrap(),
            &sha,
            v["previousDigestSignature"].as_str(),
        );
        let sig = sign::sign(k, msg.as_bytes());
        std::fs::write(
            format!("{}.metadata.json", path.display()),
            format!(r#"{{"signature":"{sig}","signature-algorithm":"SHA256withRSA"}}"#),
        )
        .unwrap();
    }
}

fn sidecar(path: &Path) -> PathBuf {
    PathBuf::from(format!("{}.metadata.json", path.display()))
}

fn remove_digest(t: &Tree, rel: &str) {
    std::fs::remove_file(t.p(rel)).unwrap();
    std::fs::remove_file(sidecar(&t.p(rel))).unwrap();
}

#[test]
fn verify_clean_tree_is_valid_with_the_reported_logging_gap() {
    let t = tree();
    let (code, v) = t.verify(&[]);
    assert_eq!(code, 0);
    assert_eq!(t.findings(&v), vec![]);
    assert_eq!(
        v["digests"],
        serde_json::json!({"valid": 16, "invalid": 0, "unsigned": 0, "unverified": 0})
    );
    assert_eq!(
        v["logs"],
        serde_json::json!({"valid": 12, "invalid": 0, "unlisted": 0, "unverified": 0, "missing": 0})
    );
    let gaps = v["gaps"].as_array().unwrap();
    assert_eq!(gaps.len(), 1);
    assert_eq!(gaps[0]["from"], "2024-03-01T02:00:00Z");
    assert_eq!(gaps[0]["to"], "2024-03-01T04:00:00Z");
    assert_eq!(gaps[0]["account"], "222222222222");
    assert!(gaps[0]["reason"].as_str().unwrap().contains("restarted"));
    assert_eq!(gaps[0]["event_id"], Value::Null);
    assert!(!t.db.exists(), "verify must not create a database");
    // Table output.
    let keys = fixtures().join("integrity/public-keys.json");
    let r = run(
        &t.db,
        &[
            "verify",
            t.root.to_str().unwrap(),
            "--public-keys",
            keys.to_str().unwrap(),
            "--format",
            "table",
        ],
    );
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains("no tampering found"), "{}", r.stdout);
}

#[test]
fn verify_log_modified_truncated_emptied() {
    let t = tree();
    rewrite_log(&t.p(&lg("0110", "aaaa0003")), |s| {
        s.replace("AttachUserPolicy", "ListUsers")
    });
    let whole = std::fs::read(t.p(&lg("0320", "aaaa0004"))).unwrap();
    std::fs::write(t.p(&lg("0320", "aaaa0004")), &whole[..whole.len() / 2]).unwrap();
    std::fs::write(t.p(&lg("0405", "aaaa0005")), b"").unwrap();
    let (code, v) = t.verify(&[]);
    assert_eq!(code, 1);
    assert_eq!(
        t.findings(&v),
        vec![
            f("log_hash_mismatch", &lg("0110", "aaaa0003"), Some(&d(2))),
            f("log_invalid_format", &lg("0320", "aaaa0004"), Some(&d(4))),
            f("log_hash_mismatch", &lg("0405", "aaaa0005"), Some(&d(5))),
        ]
    );
    assert!(t.detail(&v, "log_invalid_format").contains("truncated"));
    assert_eq!(v["logs"]["invalid"], 3);
    assert_eq!(v["logs"]["valid"], 9);
}

#[test]
fn verify_recompressed_same_content_is_valid_other_content_is_not() {
    let t = tree();
    let p = t.p(&lg("0110", "aaaa0003"));
    let raw = gunzip(&p);
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(&raw).unwrap();
    std::fs::write(&p, e.finish().unwrap()).unwrap();
    let (code, v) = t.verify(&[]);
    assert_eq!((code, t.findings(&v)), (0, vec![]));
    // Decompressed in place (a local copy may be gunzipped): still the same content.
    let plain = PathBuf::from(p.display().to_string().trim_end_matches(".gz").to_string());
    std::fs::write(&plain, &raw).unwrap();
    std::fs::remove_file(&p).unwrap();
    let (code, v) = t.verify(&[]);
    assert_eq!((code, t.findings(&v)), (0, vec![]));
    std::fs::write(
        &plain,
        String::from_utf8(raw)
            .unwrap()
            .replace("01:06:00", "01:07:00"),
    )
    .unwrap();
    let (code, v) = t.verify(&[]);
    assert_eq!(code, 1);
    assert_eq!(
        t.findings(&v),
        vec![f(
            "log_hash_mismatch",
            lg("0110", "aaaa0003").trim_end_matches(".gz"),
            Some(&d(2))
        )]
    );
}

#[test]
fn verify_swapped_logs_name_each_others_content() {
    let t = tree();
    let (a, b) = (t.p(&lg("0005", "aaaa0001")), t.p(&lg("0035", "aaaa0002")));
    let tmp = t.p("swap.tmp");
    std::fs::rename(&a, &tmp).unwrap();
    std::fs::rename(&b, &a).unwrap();
    std::fs::rename(&tmp, &b).unwrap();
    let (code, v) = t.verify(&[]);
    assert_eq!(code, 1);
    assert_eq!(
        t.findings(&v),
        vec![
            f("log_hash_mismatch", &lg("0005", "aaaa0001"), Some(&d(1))),
            f("log_hash_mismatch", &lg("0035", "aaaa0002"), Some(&d(1))),
        ]
    );
    assert!(t
        .detail(&v, "log_hash_mismatch")
        .contains("that is the content listed for"));
}

#[test]
fn verify_log_deleted_moved_and_forged() {
    let t = tree();
    std::fs::remove_file(t.p(&lg("0550", "aaaa0006"))).unwrap();
    std::fs::rename(t.p(&lg("0320", "aaaa0004")), t.p(&lg("0320", "aaaa0004x"))).unwrap();
    std::fs::write(
        t.p(&lg("0230", "forged01")),
        gz(br#"{"Records":[{"eventVersion":"1.09","eventTime":"2024-03-01T02:29:00Z","eventSource":"iam.amazonaws.com","eventName":"CreateAccessKey","eventID":"f0f0","recipientAccountId":"111111111111"}]}"#),
    )
    .unwrap();
    let (code, v) = t.verify(&[]);
    assert_eq!(code, 1);
    assert_eq!(
        t.findings(&v),
        vec![
            f("log_unlisted", &lg("0230", "forged01"), None),
            f("log_missing", &lg("0320", "aaaa0004"), Some(&d(4))),
            f("log_unlisted", &lg("0320", "aaaa0004x"), None),
            f("log_missing", &lg("0550", "aaaa0006"), Some(&d(6))),
        ]
    );
    assert_eq!(v["logs"]["missing"], 2);
    assert_eq!(v["logs"]["unlisted"], 2);
}

#[test]
fn verify_data_appended_after_the_gzip_stream() {
    let t = tree();
    let p = t.p(&lg("0405", "aaaa0005"));
    let mut bytes = std::fs::read(&p).unwrap();
    bytes.extend(gz(br#"{"Records":[{"eventName":"Injected"}]}"#));
    std::fs::write(&p, bytes).unwrap();
    let (code, v) = t.verify(&[]);
    assert_eq!(code, 1);
    assert_eq!(
        t.findings(&v),
        vec![f("log_hash_mismatch", &lg("0405", "aaaa0005"), Some(&d(5)))]
    );
    let detail = t.detail(&v, "log_hash_mismatch");
    assert!(detail.contains("2 gzip members"), "{detail}");
    assert!(
        detail.contains("the first member alone matches"),
        "{detail}"
    );
}

#[test]
fn verify_digest_modified_to_hide_a_modified_log() {
    let t = tree();
    let log = t.p(&lg("0320", "aaaa0004"));
    let old = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(gunzip(&log)));
    rewrite_log(&log, |s| s.replace("PutBucketPolicy", "GetBucketPolicy"));
    let new = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(gunzip(&log)));
    edit_digest(&t.p(&d(4)), |s| s.replace(&old, &new), None);
    let (code, v) = t.verify(&[]);
    assert_eq!(code, 1);
    assert_eq!(
        t.findings(&v),
        vec![
            f("chain_hash_mismatch", &d(4), Some(&d(5))),
            f("signature_invalid", &d(4), Some(&d(4))),
        ]
    );
    assert_eq!(v["digests"]["invalid"], 1);
}

#[test]
fn verify_digest_deleted_one_and_several_in_a_row() {
    let t = tree();
    remove_digest(&t, &d(4));
    let (code, v) = t.verify(&[]);
    assert_eq!(code, 1);
    assert_eq!(
        t.findings(&v),
        vec![
            f("digest_missing", &d(4), Some(&d(5))),
            f("log_unlisted", &lg("0320", "aaaa0004"), None),
        ]
    );
    remove_digest(&t, &d(2));
    remove_digest(&t, &d(3));
    let (code, v) = t.verify(&[]);
    assert_eq!(code, 1);
    assert_eq!(
        t.findings(&v),
        vec![
            f("digest_missing", &d(2), None),
            f("digest_missing", &d(4), Some(&d(5))),
            f("log_unlisted", &lg("0110", "aaaa0003"), None),
            f("log_unlisted", &lg("0320", "aaaa0004"), None),
        ]
    );
    assert!(t
        .detail(&v, "digest_missing")
        .contains("2 digest(s) missing in a row"));
}

#[test]
fn verify_newest_digest_deleted_is_a_missing_tail() {
    let t = tree();
    // The newest digest alone: its log file, still there, is newer than the chain.
    remove_digest(&t, &d(6));
    let (code, v) = t.verify(&[]);
    assert_eq!(code, 1);
    assert_eq!(
        t.findings(&v),
        vec![
            f("digest_missing", &d(6), None),
            f("log_unlisted", &lg("0550", "aaaa0006"), None),
        ]
    );
    // With its log file: nothing in the files shows it, --until does.
    std::fs::remove_file(t.p(&lg("0550", "aaaa0006"))).unwrap();
    let (code, v) = t.verify(&[]);
    assert_eq!((code, t.findings(&v)), (0, vec![]));
    let (code, v) = t.verify(&["--until", "2024-03-01T06:00:00Z"]);
    assert_eq!(code, 1);
    assert_eq!(t.findings(&v), vec![f("digest_missing", &d(6), None)]);
    assert!(t.detail(&v, "digest_missing").contains("--until"));
}

#[test]
fn verify_newest_digest_and_logs_deleted_after_ingest_the_store_remembers() {
    let t = tree();
    let db = t.root.parent().unwrap().join("t.db");
    let r = ingest(&db, &[&t.root]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    remove_digest(&t, &d(6));
    std::fs::remove_file(t.p(&lg("0550", "aaaa0006"))).unwrap();
    let keys = fixtures().join("integrity/public-keys.json");
    let r = run(
        &db,
        &[
            "verify",
            t.root.to_str().unwrap(),
            "--public-keys",
            keys.to_str().unwrap(),
            "--format",
            "json",
        ],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    let v = r.json();
    assert_eq!(t.findings(&v), vec![f("digest_missing", &d(6), None)]);
    assert!(t
        .detail(&v, "digest_missing")
        .contains("the store holds event"));
}

/// Issue 13: a digest is recognized by its content; renamed, it is still checked and reported as moved, never
/// counted among the other files.
#[test]
fn verify_renamed_digest_is_recognized_by_its_content() {
    let t = tree();
    let renamed = d(3).rsplit_once('/').unwrap().0.to_string() + "/renamed-by-someone.json.gz";
    std::fs::rename(t.p(&d(3)), t.p(&renamed)).unwrap();
    std::fs::rename(sidecar(&t.p(&d(3))), sidecar(&t.p(&renamed))).unwrap();
    let (code, v) = t.verify(&[]);
    assert_eq!(code, 1);
    assert_eq!(
        t.findings(&v),
        vec![f("digest_moved", &renamed, Some(&renamed))]
    );
    assert!(
        !v.to_string().contains("neither CloudTrail log files"),
        "{v}"
    );
}

#[test]
fn verify_digest_moved_and_stray_copy_do_not_hide_tampering() {
    let t = tree();
    // Moved to another day's folder.
    let moved = d(3).replace("/2024/03/01/", "/2024/03/02/");
    std::fs::create_dir_all(t.p(&moved).parent().unwrap()).unwrap();
    std::fs::rename(t.p(&d(3)), t.p(&moved)).unwrap();
    std::fs::rename(sidecar(&t.p(&d(3))), sidecar(&t.p(&moved))).unwrap();
    // A stray copy of an old digest under the newest-sorting name, and a tampered log elsewhere.
    let stray = d(9);
    std::fs::copy(t.p(&d(2)), t.p(&stray)).unwrap();
    std::fs::copy(sidecar(&t.p(&d(2))), sidecar(&t.p(&stray))).unwrap();
    rewrite_log(&t.p(&lg("0405", "aaaa0005")), |s| {
        s.replace("ScheduleKeyDeletion", "DescribeKey")
    });
    let (code, v) = t.verify(&[]);
    assert_eq!(code, 1);
    assert_eq!(
        t.findings(&v),
        vec![
            f("digest_moved", &stray, Some(&stray)),
            f("digest_moved", &moved, Some(&moved)),
            f("log_hash_mismatch", &lg("0405", "aaaa0005"), Some(&d(5))),
        ]
    );
}

#[test]
fn verify_digest_resigned_with_an_unknown_key() {
    let t = tree();
    let attacker = key("attacker-key.TEST-ONLY.pem");
    let fp = {
        use rsa::pkcs1::EncodeRsaPublicKey;
        trailgraph::integrity::keys::fingerprint(
            attacker.to_public_key().to_pkcs1_der().unwrap().as_bytes(),
        )
    };
    let real = "4604357c67c918df7c40d25d35f5a772";
    // The newest digest: only the key is unknown.
    edit_digest(&t.p(&d(6)), |s| s.replace(real, &fp), Some(&attacker));
    let (code, v) = t.verify(&[]);
    assert_eq!(code, 1);
    assert_eq!(t.findings(&v), vec![f("key_not_found", &d(6), Some(&d(6)))]);
    // A middle one: the next digest's link breaks too.
    edit_digest(&t.p(&d(4)), |s| s.replace(real, &fp), Some(&attacker));
    let (code, v) = t.verify(&[]);
    assert_eq!(code, 1);
    assert_eq!(
        t.findings(&v),
        vec![
            f("chain_hash_mismatch", &d(4), Some(&d(5))),
            f("chain_signature_mismatch", &d(4), Some(&d(5))),
            f("key_not_found", &d(4), Some(&d(4))),
            f("key_not_found", &d(6), Some(&d(6))),
        ]
    );
}

#[test]
fn verify_fingerprint_edited_and_key_outside_its_validity() {
    let t = tree();
    edit_digest(
        &t.p(&d(6)),
        |s| {
            s.replace(
                "4604357c67c918df7c40d25d35f5a772",
                "00000000000000000000000000000000",
            )
        },
        None,
    );
    let (code, v) = t.verify(&[]);
    assert_eq!(code, 1);
    assert_eq!(t.findings(&v), vec![f("key_not_found", &d(6), Some(&d(6)))]);

    // The same key, valid only from 2025: every digest of the org trail is signed outside its window.
    let t = tree();
    let mut keys: Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures().join("integrity/public-keys.json")).unwrap(),
    )
    .unwrap();
    keys["PublicKeyList"][0]["ValidityStartTime"] = "2025-01-01T00:00:00Z".into();
    let kf = t.root.parent().unwrap().join("late-keys.json");
    std::fs::write(&kf, keys.to_string()).unwrap();
    let r = run(
        &t.db,
        &[
            "verify",
            t.root.to_str().unwrap(),
            "--public-keys",
            kf.to_str().unwrap(),
            "--account",
            "222222222222",
            "--format",
            "json",
        ],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    let v = r.json();
    assert_eq!(
        t.findings(&v),
        [1, 2, 5, 6]
            .iter()
            .map(|h| f("key_not_found", &org_dg(*h), Some(&org_dg(*h))))
            .collect::<Vec<_>>()
    );
    assert!(t
        .detail(&v, "key_not_found")
        .contains("is not valid at 2024-03-01T01:00:00Z"));
}

#[test]
fn verify_signature_missing_altered_and_unsigned() {
    // No sidecars at all: every digest but the newest of each chain is proven by the next one.
    let t = tree();
    for e in walkdir::WalkDir::new(&t.root) {
        let e = e.unwrap();
        if e.path().to_string_lossy().ends_with(".metadata.json") {
            std::fs::remove_file(e.path()).unwrap();
        }
    }
    let (code, v) = t.verify(&[]);
    assert_eq!((code, t.findings(&v)), (0, vec![]));
    // Newest of 3 chains, and the 02:00 org digest before CloudTrail's restart: unsigned, not invalid.
    assert_eq!(
        v["digests"],
        serde_json::json!({"valid": 12, "invalid": 0, "unsigned": 4, "unverified": 0})
    );
    // Their log files (aaaa0006, cccc0002, cccc0004) match, but nothing proves the digests listing them.
    assert_eq!(v["logs"]["valid"], 9);
    assert_eq!(v["logs"]["unverified"], 3);

    // A sidecar gone and the next digest deleted: nothing proves the 03:00 digest.
    let t = tree();
    std::fs::remove_file(sidecar(&t.p(&d(3)))).unwrap();
    remove_digest(&t, &d(4));
    let (code, v) = t.verify(&[]);
    assert_eq!(code, 1);
    assert_eq!(
        t.findings(&v),
        vec![
            f("signature_missing", &d(3), Some(&d(5))),
            f("digest_missing", &d(4), Some(&d(5))),
            f("log_unlisted", &lg("0320", "aaaa0004"), None),
        ]
    );

    // Altered signatures: the newest (only its sidecar proves it), a middle one (the next digest disagrees), a
    // wrong-length one.
    let t = tree();
    let flip = |p: &Path| {
        let s = std::fs::read_to_string(p).unwrap();
        let i = s.find("\"signature\"").unwrap() + 20;
        let c = if &s[i..i + 1] == "0" { "1" } else { "0" };
        std::fs::write(p, format!("{}{c}{}", &s[..i], &s[i + 1..])).unwrap();
    };
    flip(&sidecar(&t.p(&d(6))));
    flip(&sidecar(&t.p(&d(3))));
    std::fs::write(
        sidecar(&t.p(&dg("eu-west-1", 6))),
        r#"{"signature":"abcd","signature-algorithm":"SHA256withRSA"}"#,
    )
    .unwrap();
    let (code, v) = t.verify(&[]);
    assert_eq!(code, 1);
    assert_eq!(
        t.findings(&v),
        vec![
            f(
                "signature_invalid",
                &dg("eu-west-1", 6),
                Some(&dg("eu-west-1", 6))
            ),
            f("chain_signature_mismatch", &d(3), Some(&d(4))),
            f("signature_invalid", &d(3), Some(&d(3))),
            f("signature_invalid", &d(6), Some(&d(6))),
        ]
    );
    assert!(t
        .detail(&v, "signature_invalid")
        .contains("signature is 2 bytes"));
}

#[test]
fn verify_chain_links_previous_hash_and_signature() {
    let t = tree();
    // The newest digest's previousDigestHashValue and previousDigestSignature edited (its own signature breaks).
    let d5 = String::from_utf8(gunzip(&t.p(&d(5)))).unwrap();
    let d5sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(d5.as_bytes()));
    edit_digest(&t.p(&d(6)), |s| s.replace(&d5sha, &"0".repeat(64)), None);
    let (code, v) = t.verify(&[]);
    assert_eq!(code, 1);
    assert_eq!(
        t.findings(&v),
        vec![
            f("chain_hash_mismatch", &d(5), Some(&d(6))),
            f("signature_invalid", &d(6), Some(&d(6))),
        ]
    );
    let t = tree();
    let v6: Value = serde_json::from_slice(&gunzip(&t.p(&d(6)))).unwrap();
    let prev_sig = v6["previousDigestSignature"].as_str().unwrap().to_string();
    let forged = format!("{}{}", &prev_sig[..10], "f".repeat(prev_sig.len() - 10));
    edit_digest(&t.p(&d(6)), |s| s.replace(&prev_sig, &forged), None);
    let (code, v) = t.verify(&[]);
    assert_eq!(code, 1);
    assert_eq!(
        t.findings(&v),
        vec![
            f("chain_signature_mismatch", &d(5), Some(&d(6))),
            f("signature_invalid", &d(5), Some(&d(6))),
            f("signature_invalid", &d(6), Some(&d(6))),
        ]
    );
}

#[test]
fn verify_chain_rebuilt_with_an_attacker_key() {
    let t = tree();
    rewrite_log(&t.p(&lg("0320", "aaaa0004")), |s| {
        s.replace("PutBucketPolicy", "GetBucketPolicy")
    });
    let attacker = fixtures().join("integrity/attacker-key.TEST-ONLY.pem");
    let out = assert_cmd::Command::cargo_bin("trailgraph-sign")
        .unwrap()
        .args([
            "sign",
            "--key",
            attacker.to_str().unwrap(),
            "--tree",
            t.root.to_str().unwrap(),
            "--trail",
            "main",
            "--home-region",
            "us-east-1",
            "--account",
            A,
            "--start",
            "2024-03-01T00:00:00Z",
            "--end",
            "2024-03-01T06:00:00Z",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (code, v) = t.verify(&[]);
    assert_eq!(code, 1);
    let mut want: Vec<_> = ["us-east-1", "eu-west-1"]
        .iter()
        .flat_map(|r| (1..=6).map(move |h| f("key_not_found", &dg(r, h), Some(&dg(r, h)))))
        .collect();
    want.sort();
    assert_eq!(t.findings(&v), want);
    assert_eq!(v["digests"]["invalid"], 12);
    assert_eq!(
        v["logs"]["valid"], 4,
        "only the org trail's logs stay proven"
    );
}

#[test]
fn verify_only_sha256_with_rsa() {
    let t = tree();
    let real = key("test-key.TEST-ONLY.pem");
    // Algorithm field SHA512withRSA, signed so: rejected.
    let p = t.p(&d(6));
    edit_digest(&p, |s| s.replace("SHA256withRSA", "SHA512withRSA"), None);
    // The eu-west-1 newest: claims SHA256withRSA but the sidecar's signature is SHA-512.
    let e6 = t.p(&dg("eu-west-1", 6));
    let text = String::from_utf8(gunzip(&e6)).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(text.as_bytes()));
    let msg = trailgraph::integrity::sign::signing_string(
        v["digestEndTime"].as_str().unwrap(),
        v["digestS3Bucket"].as_str().unwrap(),
        v["digestS3Object"].as_str().unwrap(),
        &sha,
        v["previousDigestSignature"].as_str(),
    );
    let sig = trailgraph::integrity::sign::sign_sha512(&real, msg.as_bytes());
    std::fs::write(
        sidecar(&e6),
        format!(r#"{{"signature":"{sig}","signature-algorithm":"SHA256withRSA"}}"#),
    )
    .unwrap();
    let (code, v) = t.verify(&[]);
    assert_eq!(code, 1);
    assert_eq!(
        t.findings(&v),
        vec![
            f(
                "signature_invalid",
                &dg("eu-west-1", 6),
                Some(&dg("eu-west-1", 6))
            ),
            f("signature_invalid", &d(6), Some(&d(6))),
        ]
    );
    let detail = t.detail(&v, "signature_invalid");
    assert!(
        detail.contains("it verifies as SHA512withRSA, which is not accepted"),
        "{detail}"
    );
    assert!(
        detail.contains("digestSignatureAlgorithm is \"SHA512withRSA\""),
        "{detail}"
    );
}

#[test]
fn verify_logging_gap_names_the_stoplogging_call_and_records_integrity() {
    let t = tree();
    let db = t.root.parent().unwrap().join("t.db");
    assert_eq!(ingest(&db, &[&t.root]).code, 0);
    rewrite_log(&t.p(&lg("0110", "aaaa0003")), |s| {
        s.replace("AttachUserPolicy", "ListUsers")
    });
    // The tampered file as ingested now (a different source).
    assert_eq!(ingest(&db, &[&t.p(&lg("0110", "aaaa0003"))]).code, 0);
    let keys = fixtures().join("integrity/public-keys.json");
    let r = run(
        &db,
        &[
            "verify",
            t.root.to_str().unwrap(),
            "--public-keys",
            keys.to_str().unwrap(),
            "--format",
            "json",
        ],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    let v = r.json();
    assert_eq!(
        v["gaps"][0]["event_id"],
        "00000000-0000-4000-8000-000009000000"
    );
    assert_eq!(
        count(&db, "SELECT count(*) FROM sources WHERE kind = 'cloudtrail_delivery' AND integrity = 'validated'"),
        11
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM sources WHERE integrity = 'invalid'"
        ),
        1
    );
    assert_eq!(count(&db, "SELECT count(*) FROM sources WHERE kind = 'cloudtrail_digest' AND integrity = 'validated'"), 16);
    assert_eq!(count(&db, "SELECT count(*) FROM public_keys"), 1);
    assert_eq!(
        count(&db, "SELECT count(*) FROM verifications WHERE findings = 1"),
        1
    );
    let s = stats(&db);
    crate::schemas::check(&s, &crate::schemas::schema("stats.schema.json"), "stats");
    assert_eq!(s["integrity"]["validated"], 27);
    assert_eq!(s["public_keys"], 1);
    // The original content of the tampered file is no longer in the tree: its event stays unverified.
    assert_eq!(s["events_by_integrity"]["validated"], 12);
    assert_eq!(s["events_by_integrity"]["invalid"], 1);
    assert_eq!(s["events_by_integrity"]["unverified"], 1);
    // The key is kept: a later run needs no --public-keys.
    let r = run(
        &db,
        &["verify", t.root.to_str().unwrap(), "--format", "json"],
    );
    assert_eq!(r.code, 1);
    assert_eq!(r.json()["digests"]["valid"], 16);
}

#[test]
fn verify_scoped_by_time_account_and_region() {
    let t = tree();
    rewrite_log(&t.p(&lg("0005", "aaaa0001")), |s| {
        s.replace("CreateUser", "GetUser")
    });
    let (code, v) = t.verify(&["--since", "2024-03-01T03:00:00Z"]);
    assert_eq!((code, t.findings(&v)), (0, vec![]));
    // Digests whose window reaches 03:00 or later: 03:00..06:00 in both regions, 05:00 and 06:00 of the org.
    assert_eq!(v["digests"]["valid"], 10);
    let (code, v) = t.verify(&["--region", "eu-west-1"]);
    assert_eq!((code, v["digests"]["valid"].as_i64()), (0, Some(6)));
    let (code, v) = t.verify(&["--account", A, "--region", "us-east-1"]);
    assert_eq!(code, 1);
    assert_eq!(
        t.findings(&v),
        vec![f("log_hash_mismatch", &lg("0005", "aaaa0001"), Some(&d(1)))]
    );
}

#[test]
fn verify_bad_inputs_are_findings_not_panics() {
    let t = tree();
    // A digest that is not gzip JSON, one truncated, one with a bad hex hash; a sidecar that is not JSON.
    std::fs::write(t.p(&d(6)), b"not a digest").unwrap();
    let whole = std::fs::read(t.p(&dg("eu-west-1", 6))).unwrap();
    std::fs::write(t.p(&dg("eu-west-1", 6)), &whole[..whole.len() - 9]).unwrap();
    std::fs::write(sidecar(&t.p(&org_dg(6))), b"{oops").unwrap();
    let (code, v) = t.verify(&[]);
    assert_eq!(code, 1);
    assert_eq!(
        t.findings(&v),
        vec![
            f(
                "digest_invalid_format",
                &dg("eu-west-1", 6),
                Some(&dg("eu-west-1", 6))
            ),
            f("digest_invalid_format", &d(6), Some(&d(6))),
            f("log_unlisted", &lg("0550", "aaaa0006"), None),
        ]
    );
    assert!(v["notices"]
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n["kind"] == "sidecar_unreadable"));
    // Bad key files and missing paths are usage errors (exit 2) naming the file.
    let bad = t.root.parent().unwrap().join("bad-keys.json");
    std::fs::write(
        &bad,
        r#"{"PublicKeyList":[{"Value":"!!!","Fingerprint":"x"}]}"#,
    )
    .unwrap();
    let r = run(
        &t.db,
        &[
            "verify",
            t.root.to_str().unwrap(),
            "--public-keys",
            bad.to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("bad-keys.json") && r.stderr.contains("base64"),
        "{}",
        r.stderr
    );
    let r = run(&t.db, &["verify", "/nonexistent/tree"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("/nonexistent/tree"));
}

#[test]
fn verify_table_escapes_attacker_strings() {
    let t = tree();
    let evil = t.p(&format!("AWSLogs/{A}/CloudTrail/us-east-1/2024/03/01/{A}_CloudTrail_us-east-1_20240301T0230Z_\x1b[31mred.json.gz"));
    std::fs::write(&evil, gz(b"{\"Records\":[]}")).unwrap();
    let keys = fixtures().join("integrity/public-keys.json");
    let r = run(
        &t.db,
        &[
            "verify",
            t.root.to_str().unwrap(),
            "--public-keys",
            keys.to_str().unwrap(),
            "--format",
            "table",
        ],
    );
    assert_eq!(r.code, 1);
    assert!(!r.stdout.contains('\x1b'));
    assert!(r.stdout.contains("\\u{1b}[31mred"), "{}", r.stdout);
}

#[test]
fn verify_public_key_formats() {
    use base64::Engine;
    use rsa::pkcs1::EncodeRsaPublicKey;
    use rsa::pkcs8::{EncodePublicKey, LineEnding};
    let t = tree();
    let pk = key("test-key.TEST-ONLY.pem").to_public_key();
    let dir = t.root.parent().unwrap();
    let spki = dir.join("spki.pem");
    std::fs::write(&spki, pk.to_public_key_pem(LineEnding::LF).unwrap()).unwrap();
    let pkcs1 = dir.join("pkcs1.pem");
    std::fs::write(&pkcs1, pk.to_pkcs1_pem(LineEnding::LF).unwrap()).unwrap();
    let der = dir.join("key.der");
    std::fs::write(&der, pk.to_pkcs1_der().unwrap().as_bytes()).unwrap();
    // list-public-keys as the AWS docs show it: lower-case key, epoch seconds as strings, SPKI value.
    let listed = dir.join("listed.json");
    let value = base64::engine::general_purpose::STANDARD
        .encode(pk.to_public_key_der().unwrap().as_bytes());
    std::fs::write(
        &listed,
        format!(r#"{{"publicKeyList":[{{"ValidityStartTime":"1577836800.0","ValidityEndTime":"1893456000.0","Value":"{value}","Fingerprint":"4604357c67c918df7c40d25d35f5a772"}}]}}"#),
    )
    .unwrap();
    for k in [&spki, &pkcs1, &der, &listed] {
        let r = run(
            &t.db,
            &[
                "verify",
                t.root.to_str().unwrap(),
                "--public-keys",
                k.to_str().unwrap(),
                "--format",
                "json",
            ],
        );
        assert_eq!(r.code, 0, "{}: {}", k.display(), r.stderr);
        assert_eq!(r.json()["digests"]["valid"], 16, "{}", k.display());
    }
    // No key at all: nothing is proven, nothing is called tampering.
    let r = run(
        &t.db,
        &["verify", t.root.to_str().unwrap(), "--format", "json"],
    );
    assert_eq!(r.code, 0);
    let v = r.json();
    assert_eq!(v["digests"]["unverified"], 16);
    assert_eq!(v["logs"]["unverified"], 12);
    assert!(v["notices"]
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n["kind"] == "no_public_keys"));
}

#[test]
fn verify_real_digest_from_the_corpus() {
    let Some(root) = std::env::var_os("TRAILGRAPH_CORPUS").map(PathBuf::from) else {
        eprintln!("skipped: TRAILGRAPH_CORPUS is not set");
        return;
    };
    let dir = root.join("llm-guard-digest");
    assert!(dir.is_dir(), "{} is missing", dir.display());
    let tmp = tempfile::tempdir().unwrap();
    let r = run(
        &tmp.path().join("absent.db"),
        &["verify", dir.to_str().unwrap(), "--format", "json"],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    let v = r.json();
    crate::schemas::check(&v, &crate::schemas::schema("verify.schema.json"), "verify");
    // Parsed; no key and no signature: unverifiable, not invalid.
    assert_eq!(
        v["digests"],
        serde_json::json!({"valid": 0, "invalid": 0, "unsigned": 1, "unverified": 0})
    );
    // The five log files it lists are not in the corpus: each is named.
    let base = "AWSLogs/327878933619/CloudTrail/ap-northeast-1/2023/10/15/327878933619_CloudTrail_ap-northeast-1_";
    let mut want: Vec<(String, String, Option<String>)> = [
        "20231015T2205Z_iRIoDMA9l9Q4kmFy", "20231015T2225Z_OviGSSWadUI1W1r7", "20231015T2225Z_j5hj9VuYmchJHAkK",
        "20231015T2300Z_9eJ8qdKnXIfFg2wM", "20231015T2300Z_aDYIgZODwysx0Irn",
    ]
    .iter()
    .map(|n| {
        let name = format!("{base}{n}.json.gz");
        let file = name.rsplit('/').next().unwrap().to_string();
        (
            "log_missing".to_string(),
            format!("{}/{file}", dir.display()),
            Some(format!("{}/327878933619_CloudTrail-Digest_ap-northeast-1_llm-guard-trail_us-west-2_20231015T230404Z.json", dir.display())),
        )
    })
    .collect();
    want.sort();
    let got: Vec<_> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["kind"].as_str().unwrap().to_string(),
                f["path"].as_str().unwrap().to_string(),
                f["digest"].as_str().map(str::to_string),
            )
        })
        .collect();
    assert_eq!(got, want);
    let notices: Vec<&str> = v["notices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["kind"].as_str().unwrap())
        .collect();
    // The corpus holds the digest decompressed (`.json`): named, as a local copy's, in a notice.
    assert_eq!(
        notices,
        vec![
            "chain_start",
            "no_public_keys",
            "not_compressed",
            "other_files",
            "unsigned"
        ]
    );
}

#[test]
fn verify_flat_copy_matches_by_file_name() {
    let t = tree();
    let flat = t.root.parent().unwrap().join("flat");
    std::fs::create_dir_all(&flat).unwrap();
    let dir = t.p(&format!("AWSLogs/{A}"));
    for e in walkdir::WalkDir::new(&dir) {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().to_string();
        if e.file_type().is_file()
            && (name.contains("_CloudTrail_us-east-1_")
                || name.contains("_CloudTrail-Digest_us-east-1_"))
        {
            std::fs::copy(e.path(), flat.join(&name)).unwrap();
        }
    }
    let keys = fixtures().join("integrity/public-keys.json");
    let args = [
        "verify",
        flat.to_str().unwrap(),
        "--public-keys",
        keys.to_str().unwrap(),
        "--format",
        "json",
    ];
    let r = run(&t.db, &args);
    assert_eq!(r.code, 0, "{}", r.stdout);
    let v = r.json();
    assert_eq!(v["digests"]["valid"], 6);
    assert_eq!(v["logs"]["valid"], 6);
    let log = flat.join(format!(
        "{A}_CloudTrail_us-east-1_20240301T0110Z_aaaa0003.json.gz"
    ));
    rewrite_log(&log, |s| s.replace("AttachUserPolicy", "ListUsers"));
    let r = run(&t.db, &args);
    assert_eq!(r.code, 1);
    let v = r.json();
    assert_eq!(v["findings"].as_array().unwrap().len(), 1);
    assert_eq!(v["findings"][0]["kind"], "log_hash_mismatch");
    assert_eq!(v["findings"][0]["path"], log.to_str().unwrap());
}

#[test]
fn verify_fixture_is_reproducible_from_the_test_key() {
    // `trailgraph-sign fixture` regenerates fixtures/integrity byte for byte (fixed key, no times in gzip headers,
    // deterministic PKCS#1 v1.5 signatures).
    let dir = tempfile::tempdir().unwrap();
    let out = assert_cmd::Command::cargo_bin("trailgraph-sign")
        .unwrap()
        .args(["fixture", "--key"])
        .arg(fixtures().join("integrity/test-key.TEST-ONLY.pem"))
        .arg("--out")
        .arg(dir.path().join("tree"))
        .arg("--public-keys-out")
        .arg(dir.path().join("public-keys.json"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let files = |root: &Path| -> Vec<(PathBuf, Vec<u8>)> {
        walkdir::WalkDir::new(root)
            .sort_by_file_name()
            .into_iter()
            .map(|e| e.unwrap())
            .filter(|e| e.file_type().is_file())
            .map(|e| {
                (
                    e.path().strip_prefix(root).unwrap().to_path_buf(),
                    std::fs::read(e.path()).unwrap(),
                )
            })
            .collect()
    };
    let got = files(&dir.path().join("tree"));
    assert_eq!(got.len(), 44);
    assert!(
        got == files(&fixtures().join("integrity/tree")),
        "fixtures/integrity/tree differs from a regeneration"
    );
    assert_eq!(
        std::fs::read(dir.path().join("public-keys.json")).unwrap(),
        std::fs::read(fixtures().join("integrity/public-keys.json")).unwrap()
    );
}

#[test]
fn verify_unlisted_insights_file_is_a_notice() {
    let t = tree();
    let p = t.p(&format!(
        "AWSLogs/{A}/CloudTrail-Insight/us-east-1/2024/03/01/{A}_CloudTrail-Insight_us-east-1_20240301T0230Z_ins1.json.gz"
    ));
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, gz(b"{\"Records\":[]}")).unwrap();
    let (code, v) = t.verify(&[]);
    assert_eq!((code, t.findings(&v)), (0, vec![]));
    assert!(v["notices"]
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n["kind"] == "not_covered"));
}

#[test]
fn verify_decompressed_digest_keeps_its_sidecar_and_place() {
    let t = tree();
    let p = t.p(&d(6));
    let raw = gunzip(&p);
    std::fs::write(p.display().to_string().trim_end_matches(".gz"), raw).unwrap();
    std::fs::remove_file(&p).unwrap();
    let (code, v) = t.verify(&[]);
    assert_eq!((code, t.findings(&v)), (0, vec![]));
    assert_eq!(v["digests"]["valid"], 16);
}

/// Rewrites a digest's JSON with `edit` and re-signs it with the TEST key: only what the edit says is wrong.
fn edit_json(path: &Path, edit: impl Fn(&mut Value)) {
    let test_key = key("test-key.TEST-ONLY.pem");
    edit_digest(
        path,
        |s| {
            let mut v: Value = serde_json::from_str(&s).unwrap();
            edit(&mut v);
            serde_json::to_string(&v).unwrap()
        },
        Some(&test_key),
    );
}

/// Writes a digest of the us-east-1 chain ending at `end` (HHMMSS), made from the 06:00 one by `edit`, signed by
/// the attacker's key under its own fingerprint, and chained onto the 06:00 digest.
fn forge_after(t: &Tree, end: &str, edit: impl Fn(&mut Value)) -> String {
    use rsa::pkcs1::EncodeRsaPublicKey;
    let attacker = key("attacker-key.TEST-ONLY.pem");
    let fp = trailgraph::integrity::keys::fingerprint(
        attacker.to_public_key().to_pkcs1_der().unwrap().as_bytes(),
    );
    let rel = d(6).replace("T060000Z", &format!("T{end}Z"));
    let prev_raw = gunzip(&t.p(&d(6)));
    let prev_sig: Value =
        serde_json::from_slice(&std::fs::read(sidecar(&t.p(&d(6)))).unwrap()).unwrap();
    let mut v: Value = serde_json::from_slice(&prev_raw).unwrap();
    v["digestStartTime"] = "2024-03-01T06:00:00Z".into();
    v["digestEndTime"] = format!("2024-03-01T{}:{}:{}Z", &end[0..2], &end[2..4], &end[4..6]).into();
    v["digestS3Object"] = rel.clone().into();
    v["digestPublicKeyFingerprint"] = fp.into();
    v["previousDigestS3Object"] = d(6).into();
    v["previousDigestHashValue"] =
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&prev_raw)).into();
    v["previousDigestSignature"] = prev_sig["signature"].clone();
    v["logFiles"] = serde_json::json!([]);
    edit(&mut v);
    std::fs::write(t.p(&rel), gz(serde_json::to_string(&v).unwrap().as_bytes())).unwrap();
    edit_digest(&t.p(&rel), |s| s, Some(&attacker));
    rel
}

/// Issue 14, point 1: a digest signed with an unknown key, delivered 30 minutes after `--until` and chained onto
/// the last real digest, is in scope: counted invalid, with its finding, exit 1.
#[test]
fn verify_forged_digest_after_until_is_counted_and_found() {
    let t = tree();
    let forged = forge_after(&t, "063000", |_| {});
    for until in ["2024-03-01T06:00:00Z", "2024-03-01T05:45:00Z"] {
        let (code, v) = t.verify(&["--until", until]);
        assert_eq!(code, 1, "--until {until}");
        assert_eq!(
            t.findings(&v),
            vec![f("key_not_found", &forged, Some(&forged))],
            "--until {until}"
        );
        assert_eq!(v["digests"]["invalid"], 1);
    }
    // Without a window, the same.
    let (code, v) = t.verify(&[]);
    assert_eq!(
        (code, t.findings(&v)),
        (1, vec![f("key_not_found", &forged, Some(&forged))])
    );
    // Before the window that holds the 06:00 digest, neither it nor what chains onto it is in scope.
    let (code, v) = t.verify(&["--until", "2024-03-01T03:30:00Z"]);
    assert_eq!((code, t.findings(&v)), (0, vec![]));
    assert_eq!(v["digests"]["invalid"], 0);
}

/// Point 1: a digest whose window starts after `--until` but lists a log file of the window is in scope.
#[test]
fn verify_digest_after_until_listing_a_file_of_the_window_is_in_scope() {
    let t = tree();
    let log = lg("0550", "aaaa0006");
    let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(gunzip(&t.p(&log))));
    let forged = forge_after(&t, "073000", |v| {
        v["digestStartTime"] = "2024-03-01T06:30:00Z".into();
        v["previousDigestS3Object"] = Value::Null;
        v["previousDigestHashValue"] = Value::Null;
        v["previousDigestSignature"] = Value::Null;
        v["logFiles"] = serde_json::json!([{"s3Bucket": v["digestS3Bucket"].clone(), "s3Object": log,
            "hashValue": sha, "hashAlgorithm": "SHA-256"}]);
    });
    let (code, v) = t.verify(&[
        "--since",
        "2024-03-01T05:30:00Z",
        "--until",
        "2024-03-01T06:00:00Z",
    ]);
    assert_eq!(code, 1);
    assert_eq!(
        t.findings(&v),
        vec![f("key_not_found", &forged, Some(&forged))]
    );
}

/// Point 2: files stored uncompressed in a local copy are named in notices (the verdicts stand).
#[test]
fn verify_uncompressed_files_in_a_local_copy_are_notices() {
    let t = tree();
    let log = t.p(&lg("0320", "aaaa0004"));
    std::fs::write(&log, gunzip(&log)).unwrap(); // same name, plain JSON
    let dg6 = t.p(&d(6));
    std::fs::write(&dg6, gunzip(&dg6)).unwrap();
    let (code, v) = t.verify(&[]);
    assert_eq!((code, t.findings(&v)), (0, vec![]));
    assert_eq!(v["digests"]["valid"], 16);
    let named: Vec<String> = v["notices"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["kind"] == "not_compressed")
        .map(|n| n["path"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        named,
        vec![dg6.display().to_string(), log.display().to_string()]
    );
}

/// Point 3: a digest renamed like a log file is recognized by its content, checked, and reported as moved.
#[test]
fn verify_digest_renamed_like_a_log_file_is_checked() {
    let t = tree();
    let disguised = lg("0559", "zzzz0001");
    std::fs::rename(t.p(&d(6)), t.p(&disguised)).unwrap();
    std::fs::remove_file(sidecar(&t.p(&d(6)))).unwrap();
    let (code, v) = t.verify(&[]);
    assert_eq!(code, 1);
    let got = t.findings(&v);
    assert!(
        got.contains(&f("digest_moved", &disguised, Some(&disguised))),
        "{got:?}"
    );
    assert!(!got.iter().any(|x| x.0 == "log_unlisted"), "{got:?}");
}

/// Point 4: a digest's own consistency, one contradiction at a time, on the newest digest re-signed with the
/// real key (so nothing else is wrong with it).
#[test]
fn verify_digest_inconsistent_with_itself_or_its_chain() {
    type Edit = fn(&mut Value);
    let cases: [(&str, Edit); 7] = [
        ("lists AWSLogs/111111111111/CloudTrail/us-east-1/2024/03/01/111111111111_CloudTrail_us-east-1_20240301T0550Z_aaaa0006.json.gz again", |v| {
            let e = v["logFiles"][0].clone();
            v["logFiles"].as_array_mut().unwrap().push(e);
        }),
        ("newestEventTime 2024-03-01T05:00:00Z is before oldestEventTime 2024-03-01T05:59:00Z", |v| {
            v["oldestEventTime"] = "2024-03-01T05:59:00Z".into();
            v["newestEventTime"] = "2024-03-01T05:00:00Z".into();
        }),
        ("logFiles[0] (", |v| {
            v["logFiles"][0]["oldestEventTime"] = "2024-03-01T05:59:00Z".into();
            v["logFiles"][0]["newestEventTime"] = "2024-03-01T05:00:00Z".into();
        }),
        ("digestEndTime 2024-03-01T06:00:00Z is not after digestStartTime 2024-03-01T06:00:00Z", |v| {
            v["digestStartTime"] = "2024-03-01T06:00:00Z".into();
        }),
        ("outside the trail's prefix AWSLogs/111111111111/CloudTrail/us-east-1/", |v| {
            let o = v["logFiles"][0]["s3Object"].as_str().unwrap().replace("/eu-west-1/", "/x/");
            v["logFiles"][0]["s3Object"] = o.replace("CloudTrail/us-east-1/", "CloudTrail/eu-west-1/").into();
        }),
        ("outside the trail's prefix", |v| {
            v["logFiles"][0]["s3Bucket"] = "another-bucket".into();
        }),
        ("before the previous digest's window ended at 2024-03-01T05:00:00Z", |v| {
            v["digestStartTime"] = "2024-03-01T04:30:00Z".into();
        }),
    ];
    for (want, edit) in cases {
        let t = tree();
        edit_json(&t.p(&d(6)), edit);
        let (code, v) = t.verify(&[]);
        assert_eq!(code, 1, "{want}");
        assert!(
            t.findings(&v)
                .contains(&f("digest_inconsistent", &d(6), Some(&d(6)))),
            "{want}: {:?}",
            t.findings(&v)
        );
        let detail = t.detail(&v, "digest_inconsistent");
        assert!(detail.contains(want), "{want}: {detail}");
        assert_eq!(v["digests"]["invalid"], 1, "{want}");
    }
}
