//! Crash safety: a run killed at any moment, then run again, gives the same store as one clean run.

use crate::util::*;
use flate2::write::GzEncoder;
use flate2::Compression;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

/// Writes `files` delivery files of `per_file` records each in the S3 key layout.
fn make_tree(root: &Path, files: usize, per_file: usize) {
    for f in 0..files {
        let dir = root.join(format!(
            "AWSLogs/111122223333/CloudTrail/us-east-1/2024/01/{:02}",
            1 + f % 28
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let mut records = Vec::with_capacity(per_file);
        for i in 0..per_file {
            // Every 50th record is re-delivered in the next file, as CloudTrail does.
            let n = if i % 50 == 0 && f > 0 {
                (f - 1) * per_file + i
            } else {
                f * per_file + i
            };
            records.push(serde_json::json!({
                "eventVersion": "1.08",
                "userIdentity": {"type": "AssumedRole", "principalId": "AROAEXAMPLE:s", "arn": format!("arn:aws:sts::111122223333:assumed-role/Loader/s{}", n % 7),
                    "accountId": "111122223333", "accessKeyId": format!("ASIAEXAMPLE{}", n % 7),
                    "sessionContext": {"sessionIssuer": {"type": "Role", "arn": "arn:aws:iam::111122223333:role/Loader", "accountId": "111122223333", "userName": "Loader"}}},
                "eventTime": format!("2024-01-{:02}T{:02}:{:02}:00Z", 1 + f % 28, n % 24, n % 60),
                "eventSource": "s3.amazonaws.com", "eventName": if n % 3 == 0 { "PutObject" } else { "GetObject" },
                "awsRegion": "us-east-1", "sourceIPAddress": "10.0.0.1", "userAgent": "aws-cli/2",
                "requestParameters": {"bucketName": "data", "key": format!("k/{}.csv", n % 1000)},
                "responseElements": null, "requestID": format!("R{n}"), "eventID": format!("00000000-0000-4000-8000-{n:012}"),
                "readOnly": n % 3 != 0, "eventType": "AwsApiCall", "managementEvent": false,
                "recipientAccountId": "111122223333", "eventCategory": "Data"
            }));
        }
        let body = serde_json::json!({ "Records": records }).to_string();
        let mut e = GzEncoder::new(Vec::new(), Compression::fast());
        e.write_all(body.as_bytes()).unwrap();
        let name = format!(
            "111122223333_CloudTrail_us-east-1_20240101T{:04}Z_{f:016}.json.gz",
            f % 2400
        );
        std::fs::write(dir.join(name), e.finish().unwrap()).unwrap();
    }
}

#[test]
fn killed_midway_then_rerun_equals_one_clean_run() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("bucket");
    make_tree(&data, 240, 400);

    let clean = tmp.path().join("clean.db");
    let r = ingest(&clean, &[&data]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let clean_dump = dump(&clean);

    // Kill before the first commit, right after the first commit, and once more than half the files are in.
    for (label, min_sources) in [
        ("before any commit", 0i64),
        ("after the first commit", 1),
        ("past half", 121),
    ] {
        let db = tmp.path().join(format!("killed-{min_sources}.db"));
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("trailgraph"))
            .arg("--db")
            .arg(&db)
            .arg("ingest")
            .arg("-q")
            .arg(&data)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn trailgraph");
        let started = Instant::now();
        if min_sources == 0 {
            std::thread::sleep(Duration::from_millis(100));
        } else {
            while started.elapsed() < Duration::from_secs(60) && child.try_wait().unwrap().is_none()
            {
                let n = rusqlite::Connection::open(&db)
                    .and_then(|c| {
                        c.query_row("SELECT count(*) FROM sources", [], |r| r.get::<_, i64>(0))
                    })
                    .unwrap_or(0);
                if n >= min_sources {
                    break;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        let finished_early = child.try_wait().unwrap().is_some();
        child.kill().ok(); // SIGKILL: no chance to clean up
        child.wait().unwrap();
        let partial = if db.exists() {
            committed(&db, "SELECT count(*) FROM sources")
        } else {
            0
        };
        eprintln!("killed {label} after {:?}: {partial} sources committed (finished early: {finished_early})", started.elapsed());
        assert!(
            !finished_early,
            "the run finished before it could be killed {label}"
        );
        // Whatever was committed is whole: every committed source has all its events' rows.
        if db.exists() {
            assert_eq!(
                committed(
                    &db,
                    "SELECT count(*) FROM sources s WHERE events_new + events_duplicate <> records"
                ),
                0,
                "a half-written source"
            );
        }
        if db.exists() {
            assert_eq!(integrity_check(&db), "ok", "killed {label}");
        }
        let rerun = ingest(&db, &[&data]);
        assert_eq!(rerun.code, 0, "{}", rerun.stderr);
        assert_eq!(integrity_check(&db), "ok", "killed {label} + rerun");
        assert_eq!(
            dump(&db),
            clean_dump,
            "killed {label} + rerun differs from a clean run"
        );
    }
}

/// A count over a store a killed run left behind: 0 when the kill came before the schema was committed (the
/// file exists, its tables do not yet).
fn committed(db: &Path, sql: &str) -> i64 {
    if count(
        db,
        "SELECT count(*) FROM sqlite_master WHERE name = 'sources'",
    ) > 0
    {
        count(db, sql)
    } else {
        0
    }
}

/// `PRAGMA integrity_check` of a store (read through its WAL, as the next run would).
fn integrity_check(db: &Path) -> String {
    let c = rusqlite::Connection::open(db).unwrap();
    let rows: Vec<String> = c
        .prepare("PRAGMA integrity_check")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    rows.join("; ")
}

/// What a reader must always see: whole sources only. Every event row belongs to a committed source's count,
/// and every committed source has all its records accounted for (one statement: one snapshot).
const WHOLE_SOURCES: &str = "(SELECT count(*) FROM events) = (SELECT coalesce(sum(events_new), 0) FROM sources)
    AND NOT EXISTS (SELECT 1 FROM sources WHERE events_new + events_duplicate + skipped <> records)";

fn spawn_ingest(db: &Path, data: &Path, extra: &[&str]) -> std::process::Child {
    std::process::Command::new(assert_cmd::cargo::cargo_bin("trailgraph"))
        .arg("--db")
        .arg(db)
        .arg("ingest")
        .args(extra)
        .arg(data)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn trailgraph")
}

/// Issue 14: two ingest runs on one store at once. The second waits for the first (saying so), or with
/// `--no-wait` refuses with a clear message; readers meanwhile see whole sources only; the result is one clean
/// run's store, intact.
#[test]
fn concurrent_ingests_wait_or_refuse_and_readers_see_whole_sources() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("bucket");
    make_tree(&data, 240, 400);
    let clean = tmp.path().join("clean.db");
    assert_eq!(ingest(&clean, &[&data]).code, 0);
    assert_eq!(count(&clean, &format!("SELECT {WHOLE_SOURCES}")), 1);

    let db = tmp.path().join("shared.db");
    let mut first = spawn_ingest(&db, &data, &["-q"]);
    // Wait for the first commit, then start the second run.
    let started = Instant::now();
    while committed(&db, "SELECT count(*) FROM sources") < 1 {
        assert!(started.elapsed() < Duration::from_secs(60), "no commit");
        assert!(first.try_wait().unwrap().is_none(), "finished too early");
        std::thread::sleep(Duration::from_millis(5));
    }
    let second = spawn_ingest(&db, &data, &[]);
    let refused = run(&db, &["ingest", "--no-wait", "-q", data.to_str().unwrap()]);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("another trailgraph run (pid ")
            && refused.stderr.contains(", ingest, since ")
            && refused.stderr.contains("--no-wait"),
        "{}",
        refused.stderr
    );
    // Readers while the first writes: whole sources only, and the query commands work.
    let mut reads = 0;
    while first.try_wait().unwrap().is_none() {
        let c =
            rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                .unwrap();
        let whole: bool = c
            .query_row(&format!("SELECT {WHOLE_SOURCES}"), [], |r| r.get(0))
            .unwrap();
        assert!(whole, "a reader saw a half-written source");
        let st = run(&db, &["stats", "--format", "json"]);
        assert_eq!(st.code, 0, "{}", st.stderr);
        reads += 1;
    }
    assert!(reads > 0, "no read happened while the first run wrote");
    let out = first.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = second.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("is writing to") && err.contains("waiting for it to finish"),
        "{err}"
    );
    // The second run found everything stored already.
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["sources_new"], 0, "{summary}");
    assert_eq!(integrity_check(&db), "ok");
    assert_eq!(dump(&db), dump(&clean));
}

/// Mounting a small tmpfs in a private mount namespace (util-linux `unshare`, as root or in a user namespace).
const MOUNT_NAMESPACE: Tool = Tool {
    name: "`unshare -m` as root, or `unshare -rm` (user namespaces), to mount a tmpfs",
    install: "apt-get install util-linux; run as root or enable unprivileged user namespaces",
    probe: || mount_namespace().is_some(),
};

/// A shell that may mount: `unshare -m` (root) or `unshare -rm` (a user namespace), else None.
fn mount_namespace() -> Option<Vec<&'static str>> {
    let candidates: [&[&'static str]; 2] = [&["unshare", "-m"], &["unshare", "-rm"]];
    candidates.into_iter().map(|c| c.to_vec()).find(|c| {
        std::process::Command::new(c[0])
            .args(&c[1..])
            .args(["sh", "-c", "mount -t tmpfs -o size=1m tmpfs /mnt"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

/// Issue 14: a full disk (a small tmpfs, in a private mount namespace). Ingest stops with a clear message and
/// exit 2; the store keeps what was committed, intact; a rerun after space is freed completes it, giving the
/// store of the same runs on a disk with room.
#[test]
fn full_disk_stops_cleanly_keeps_what_was_committed_and_a_rerun_completes() {
    if !require_tool(&MOUNT_NAMESPACE) {
        return;
    }
    let ns = mount_namespace().expect("probed");
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("bucket");
    let part = tmp.path().join("part");
    make_tree(&data, 120, 400);
    make_tree(&part, 30, 400); // the same first 30 files
    let out = tmp.path().join("out");
    std::fs::create_dir_all(out.join("partial")).unwrap();
    std::fs::create_dir_all(out.join("final")).unwrap();
    let mnt = tmp.path().join("mnt");
    std::fs::create_dir_all(&mnt).unwrap();
    let bin = assert_cmd::cargo::cargo_bin("trailgraph");
    // 1. A first run with room; 2. the disk filled but for 2 MB; 3. the whole tree: disk full; 4. space freed,
    // the same command again.
    let script = r#"
set -u
mnt=$1; bin=$2; part=$3; data=$4; out=$5
mount -t tmpfs -o size=256m tmpfs "$mnt" || exit 90
"$bin" --db "$mnt/t.db" ingest -q "$part" > "$out/run0.json" 2> "$out/run0.err"; echo $? > "$out/run0.code"
dd if=/dev/zero of="$mnt/filler" bs=1M 2>/dev/null
truncate -s -2M "$mnt/filler"
"$bin" --db "$mnt/t.db" ingest -q "$data" > "$out/run1.json" 2> "$out/run1.err"; echo $? > "$out/run1.code"
cp "$mnt"/t.db* "$out/partial/"
rm "$mnt/filler"
"$bin" --db "$mnt/t.db" ingest -q "$data" > "$out/run2.json" 2> "$out/run2.err"; echo $? > "$out/run2.code"
cp "$mnt"/t.db* "$out/final/"
"#;
    let st = std::process::Command::new(ns[0])
        .args(&ns[1..])
        .args(["sh", "-c", script, "sh"])
        .args([&mnt, &bin, &part, &data, &out])
        .status()
        .unwrap();
    assert!(st.success(), "the namespace script failed: {st:?}");
    let read = |name: &str| std::fs::read_to_string(out.join(name)).unwrap();
    assert_eq!(read("run0.code").trim(), "0", "{}", read("run0.err"));
    assert_eq!(read("run1.code").trim(), "2", "{}", read("run1.err"));
    let err = read("run1.err");
    assert!(
        err.contains("database or disk is full")
            && err.contains("free space and run the same command again"),
        "{err}"
    );
    let partial = out.join("partial/t.db");
    assert_eq!(integrity_check(&partial), "ok");
    let kept = count(&partial, "SELECT count(*) FROM sources");
    assert!(kept >= 30, "the first run's 30 sources were lost: {kept}");
    assert_eq!(count(&partial, &format!("SELECT {WHOLE_SOURCES}")), 1);
    assert_eq!(read("run2.code").trim(), "0", "{}", read("run2.err"));
    let fin = out.join("final/t.db");
    assert_eq!(integrity_check(&fin), "ok");
    // The same runs on a disk with room.
    let roomy = tmp.path().join("roomy.db");
    assert_eq!(ingest(&roomy, &[&part]).code, 0);
    assert_eq!(ingest(&roomy, &[&data]).code, 0);
    assert_eq!(dump(&fin), dump(&roomy));
}
