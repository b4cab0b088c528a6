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
