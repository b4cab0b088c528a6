//! Re-ingest changes nothing: same files, touched files, copies under another path.

use crate::util::*;

#[test]
fn second_run_is_a_no_op() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    copy_dir(&fixtures().join("corpus-samples"), &data);
    let db = dir.path().join("t.db");

    let first = ingest(&db, &[&data]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let before = dump(&db);

    let second = ingest(&db, &[&data]);
    assert_eq!(second.code, 0);
    let s = second.json();
    assert_eq!(s["sources_new"], 0);
    assert_eq!(s["files_unchanged"], 28);
    assert_eq!(dump(&db), before, "a rerun changed the store");

    // Touched files are read again, recognized by content, and change nothing either.
    for e in walk(&data) {
        let f = std::fs::File::options().append(true).open(&e).unwrap();
        f.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(5))
            .unwrap();
    }
    let third = ingest(&db, &[&data]);
    assert_eq!(third.json()["sources_already_known"], 28);
    let after = dump(&db);
    assert_eq!(strip_locations(&after), strip_locations(&before));

    // The same files under another path: known content, only new locations.
    let copy = dir.path().join("copy");
    copy_dir(&data, &copy);
    let fourth = ingest(&db, &[&copy]);
    assert_eq!(fourth.json()["sources_new"], 0);
    assert_eq!(stats(&db)["events"], 45);
}

fn strip_locations(dump: &str) -> String {
    let mut out = String::new();
    let mut skip = false;
    for line in dump.lines() {
        if line.starts_with("## ") {
            skip = line == "## source_locations";
        }
        if !skip {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

pub fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    walkdir::WalkDir::new(dir)
        .sort_by_file_name()
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.path().to_path_buf())
        .collect()
}

pub fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    for f in walk(from) {
        let rel = f.strip_prefix(from).unwrap();
        let dst = to.join(rel);
        std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
        std::fs::copy(&f, &dst).unwrap();
    }
}

/// What a store says, without its row ids: a bulk load (one run into an empty store, no identity index until its
/// end) and a load file by file (each event checked against the index as it is inserted) number rows differently,
/// and must agree on everything else.
fn logical(db: &std::path::Path) -> String {
    let c = rusqlite::Connection::open(db).unwrap();
    let queries = [
        "SELECT e.event_id, e.recipient_account, e.variant, s.path, e.record_index, e.event_name, e.error_code,
                e.user_agent, e.source_ip, e.access_key_id, e.user_identity_arn, e.raw_hash
           FROM events e JOIN sources s ON s.id = e.source_id",
        "SELECT e.event_id, e.variant, s.path, d.record_index
           FROM event_deliveries d JOIN events e ON e.id = d.event JOIN sources s ON s.id = d.source_id",
        "SELECT path, kind, records, events_new, events_duplicate, config_items, diagnostics FROM sources",
        "SELECT s.path, c.chunk_no, c.records, c.data FROM raw_chunks c JOIN sources s ON s.id = c.source_id",
        "SELECT e.event_id, e.variant, r.key, r.arn, er.access
           FROM event_resources er JOIN events e ON e.id = er.event JOIN resources r ON r.id = er.resource",
        "SELECT se.access_key_id, sa.text, se.session_name, p.key, ie.event_id, ie.variant, se.issued_ms
           FROM sessions se LEFT JOIN principals p ON p.id = se.principal_id LEFT JOIN strings sa ON sa.id = se.arn_s
           LEFT JOIN events ie ON ie.id = se.issued_by_event",
        "SELECT key, type, arn, account_id, region, resource_id FROM resources",
        "SELECT l.text, p.key, l.arn FROM logged_identities l JOIN principals p ON p.id = l.principal_id",
    ];
    queries
        .iter()
        .map(|q| sorted_rows(&c, q, |cell| cell))
        .collect()
}

/// A bulk load settles re-deliveries (byte-identical, or the same record in another form) and variants (the same
/// eventID with other content) at its end exactly as a load file by file settles them on insert: the same events,
/// variants, deliveries, raw chunks, resources, sessions and counts. Real data (every corpus folder but most of the
/// SANS lab's 3,873 files, of which one day is kept) and the designed fixtures.
#[test]
fn bulk_load_settles_duplicates_as_a_load_file_by_file() {
    let Some(root) = crate::corpus::corpus() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    for entry in std::fs::read_dir(&root).unwrap() {
        let p = entry.unwrap().path();
        let name = p.file_name().unwrap().to_str().unwrap().to_string();
        if !p.is_dir() {
            continue;
        }
        if name == "sans504-s3-ransomware-lab" {
            copy_dir(&p.join("us-west-1/2021/07/29"), &data.join(&name));
        } else {
            copy_dir(&p, &data.join(&name));
        }
    }
    copy_dir(&fixtures().join("scenario"), &data.join("scenario"));
    copy_dir(&fixtures().join("lineage"), &data.join("lineage"));
    let bulk = dir.path().join("bulk.db");
    let r = ingest(&bulk, &[&data]);
    assert!(r.code == 0 || r.code == 1, "{}", r.stderr);
    let whole = r.json();
    assert!(
        r.stderr.is_empty() || !r.stderr.contains("panicked"),
        "{}",
        r.stderr
    );
    // The same sources, one run each, in the order the bulk load wrote them.
    let c = rusqlite::Connection::open(&bulk).unwrap();
    let order: Vec<String> = c
        .prepare("SELECT path FROM sources ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(order.len() > 300, "{}", order.len());
    let one = dir.path().join("one.db");
    let (mut new, mut dup, mut conflicting) = (0, 0, 0);
    for path in &order {
        let r = ingest(&one, &[std::path::Path::new(path)]);
        assert!(r.code == 0 || r.code == 1, "{path}: {}", r.stderr);
        let s = r.json();
        new += s["events_new"].as_u64().unwrap();
        dup += s["events_duplicate"].as_u64().unwrap();
        conflicting += s["events_conflicting"].as_u64().unwrap();
    }
    assert!(whole["events_duplicate"].as_u64().unwrap() > 20, "{whole}");
    assert!(whole["events_conflicting"].as_u64().unwrap() > 0, "{whole}");
    assert_eq!(
        (new, dup, conflicting),
        (
            whole["events_new"].as_u64().unwrap(),
            whole["events_duplicate"].as_u64().unwrap(),
            whole["events_conflicting"].as_u64().unwrap()
        )
    );
    let (a, b) = (logical(&bulk), logical(&one));
    if let Some((x, y)) = a.lines().zip(b.lines()).find(|(x, y)| x != y) {
        panic!("bulk and file-by-file stores differ:\nbulk: {x}\none by one: {y}");
    }
    assert_eq!(a, b);
    let ok: String = c
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
}
