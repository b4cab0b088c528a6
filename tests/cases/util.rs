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

/// An outside program or Python package some tests need (docs/testing.md). `.ci/run` installs every one.
pub struct Tool {
    /// What the skip message says is missing.
    pub name: &'static str,
    /// How to get it.
    pub install: &'static str,
    /// True when the tool is there and usable.
    pub probe: fn() -> bool,
}

fn succeeds(program: &str, args: &[&str]) -> bool {
    std::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `python3 -c CODE` exits 0 (Python 3.11 or later).
fn python_can(code: &str) -> bool {
    succeeds(
        "python3",
        &[
            "-c",
            &format!("import sys\nassert sys.version_info >= (3, 11)\n{code}"),
        ],
    )
}

/// The headless browser of the report test: the first of Debian's, Ubuntu's and Google's names that runs.
pub fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|c| succeeds(c, &["--version"]))
}

pub const DOT: Tool = Tool {
    name: "Graphviz `dot`",
    install: "apt-get install graphviz",
    probe: || succeeds("dot", &["-V"]),
};
pub const CHROMIUM: Tool = Tool {
    name: "Chromium",
    install: "apt-get install chromium",
    probe: || chromium().is_some(),
};
pub const PYTHON: Tool = Tool {
    name: "python3 (3.11 or later)",
    install: "apt-get install python3",
    probe: || python_can(""),
};
pub const NETWORKX: Tool = Tool {
    name: "the Python package networkx",
    install: "python3 -m pip install networkx",
    probe: || python_can("import networkx"),
};
pub const JSONSCHEMA: Tool = Tool {
    name: "the Python package jsonschema",
    install: "python3 -m pip install jsonschema",
    probe: || python_can("import jsonschema, referencing"),
};
#[cfg_attr(not(feature = "aws"), allow(dead_code))]
pub const MOTO: Tool = Tool {
    name: "the Python packages moto[server] and boto3",
    install: "python3 -m pip install 'moto[server]'",
    probe: || python_can("import moto.server, boto3"),
};

/// True when `CI` is `true` or `1`: then a missing tool fails the test instead of skipping it.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

/// Whether the calling test can use `tool`. When it is missing: in CI (`CI=true` or `1`) the test fails;
/// elsewhere a `SKIPPED:` line goes to stderr (written past the test harness's capture, so that it shows in a
/// passing run) and false is returned: the caller skips the part that needs the tool. Probes run once per tool.
pub fn require_tool(tool: &Tool) -> bool {
    use std::collections::HashMap;
    use std::io::Write;
    use std::sync::{Mutex, OnceLock};
    static FOUND: OnceLock<Mutex<HashMap<&'static str, bool>>> = OnceLock::new();
    let found = *FOUND
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry(tool.name)
        .or_insert_with(tool.probe);
    if found {
        return true;
    }
    let thread = std::thread::current();
    let test = thread.name().filter(|n| *n != "main").unwrap_or("a test");
    if in_ci() {
        panic!(
            "{test}: needs {} ({}, or run .ci/run); CI is set, so a missing tool is a failure, not a skip",
            tool.name, tool.install
        );
    }
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED: {test}: needs {} ({}, or run .ci/run)",
        tool.name,
        tool.install
    );
    false
}
#[cfg_attr(not(feature = "aws"), allow(dead_code))]
pub const PYSPARK: Tool = Tool {
    name: "the Python package pyspark (and Java 17)",
    install: "python3 -m pip install pyspark",
    probe: || python_can("import pyspark") && succeeds("java", &["-version"]),
};
#[cfg_attr(not(feature = "aws"), allow(dead_code))]
pub const SQLGLOT_DUCKDB: Tool = Tool {
    name: "the Python packages sqlglot and duckdb",
    install: "python3 -m pip install sqlglot duckdb",
    probe: || python_can("import sqlglot, duckdb"),
};

/// The rows of a query as text, one line per row (cells in Debug form, each passed through `cell`), sorted, under a
/// `## QUERY` heading: two stores with the same content give the same text.
pub fn sorted_rows(c: &Connection, query: &str, cell: impl Fn(String) -> String) -> String {
    let mut st = c.prepare(query).unwrap();
    let n = st.column_count();
    let mut rows: Vec<String> = st
        .query_map([], |r| {
            Ok((0..n)
                .map(|i| {
                    cell(match r.get_ref(i).unwrap() {
                        // Text as text, so a cell function can read it (and a failure shows it).
                        rusqlite::types::ValueRef::Text(t) => {
                            format!("Text({:?})", String::from_utf8_lossy(t))
                        }
                        v => format!("{v:?}"),
                    })
                })
                .collect::<Vec<_>>()
                .join("|"))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    rows.sort();
    format!("## {query}\n{}\n", rows.join("\n"))
}

/// Graphviz `dot -TFORMAT` over `dot` (on stdin); panics with dot's message when it fails. Callers check
/// `require_tool(&DOT)` first.
pub fn graphviz(dot: &str, format: &str) -> String {
    use std::io::Write;
    let mut child = std::process::Command::new("dot")
        .arg(format!("-T{format}"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run Graphviz `dot`");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(dot.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
