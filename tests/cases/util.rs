//! Helpers shared by the integration tests.

use assert_cmd::Command;
use rusqlite::Connection;
use serde_json::Value;
use std::path::{Path, PathBuf};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixtures() -> PathBuf {
    repo().join("fixtures")
}

pub fn tg(db: &Path) -> Command {
    let mut c = Command::cargo_bin("trailgraph").expect("binary");
    c.arg("--db").arg(db).env_remove("TRAILGRAPH_DB");
    c
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", self.stdout))
    }
}

pub fn run(db: &Path, args: &[&str]) -> Run {
    let out = tg(db).args(args).output().expect("run trailgraph");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `ingest --format json -q PATHS...`; returns the run (summary JSON on stdout).
pub fn ingest(db: &Path, paths: &[&Path]) -> Run {
    let mut args: Vec<String> = vec!["ingest".into(), "--format".into(), "json".into()];
    args.extend(paths.iter().map(|p| p.display().to_string()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    run(db, &refs)
}

pub fn stats(db: &Path) -> Value {
    let r = run(db, &["stats", "--format", "json"]);
    assert_eq!(r.code, 0, "stats failed: {}", r.stderr);
    r.json()
}

/// Every row of every table, in id order, as text: two stores with the same content give the same dump.
/// `sources.ingested_at` (a wall-clock time) is left out.
pub fn dump(db: &Path) -> String {
    let c = Connection::open(db).expect("open db");
    let tables: Vec<String> = c
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut out = String::new();
    for t in tables {
        let cols: Vec<String> = c
            .prepare(&format!(
                "SELECT name FROM pragma_table_info('{t}') ORDER BY cid"
            ))
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let cols: Vec<String> = cols.into_iter().filter(|c| c != "ingested_at").collect();
        let sql = format!(
            "SELECT {} FROM {t} ORDER BY 1",
            cols.iter()
                .map(|c| format!("quote({c})"))
                .collect::<Vec<_>>()
                .join(" || '|' || ")
        );
        let mut st = c.prepare(&sql).unwrap();
        let rows = st.query_map([], |r| r.get::<_, String>(0)).unwrap();
        out.push_str(&format!("## {t}\n"));
        for r in rows {
            out.push_str(&r.unwrap());
            out.push('\n');
        }
    }
    out
}

pub fn count(db: &Path, sql: &str) -> i64 {
    let conn = Connection::open(db).unwrap();
    // Callers may poll a store another process is writing (the crash test): wait out its locks.
    conn.busy_timeout(std::time::Duration::from_secs(30))
        .unwrap();
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}
