//! The Spark engine of `collect --via spark`: the PySpark driver program in `spark_job.py` (embedded in the binary
//! and written to a temporary folder), run by Python, which starts Spark through spark-submit in client mode. It is
//! kept running for every round of the run and spoken to with one JSON line per request and per answer. Spark's
//! own log goes to a file in that folder, shown when Spark fails. Decision and alternatives:
//! docs/collect.md#how-trailgraph-drives-spark.
//!
//! Spark is given the files of the trail the window keeps (listed once by `LocalTrail`, pruned by account, region
//! and day), so its input bytes are the sizes of those files.

use super::layout::Filter;
use super::slice::{Answer, Dialect, Engine, LocalTrail, Query, Row, Table};
use anyhow::{anyhow, bail, Context, Result};
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

const JOB: &str = include_str!("spark_job.py");

/// How to start Spark.
#[derive(Debug, Clone)]
pub struct SparkOptions {
    /// `local[N]`, `yarn`, `spark://HOST:PORT`, `k8s://...`.
    pub master: String,
    /// The Python that has pyspark (default `python3`).
    pub python: String,
    /// Extra `--conf KEY=VALUE` settings.
    pub conf: Vec<String>,
    /// The S3 endpoint the executors read an S3 trail from (None: AWS's), as TRAILGRAPH_S3_ENDPOINT.
    pub s3_endpoint: Option<String>,
}

pub struct Spark {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    trail: LocalTrail,
    dir: TempDir,
    pub version: String,
}

/// A temporary folder for the job file, removed when the run ends.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A new folder of our own in the temporary folder: created (never reused: `create_dir` fails on anything already
/// there, a planted folder or link included) and readable by this user only, so nobody can swap the job or the log.
fn private_dir() -> Result<PathBuf> {
    use std::os::unix::fs::DirBuilderExt;
    let base = std::env::temp_dir();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let mut last = None;
    for n in 0..100u32 {
        let dir = base.join(format!(
            "trailgraph-spark-{}-{:08x}",
            std::process::id(),
            nanos.wrapping_add(n.wrapping_mul(0x9e37_79b9))
        ));
        match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) => last = Some(e),
        }
    }
    Err(anyhow!(
        "cannot create a private folder in {}: {}",
        base.display(),
        last.map_or_else(String::new, |e| e.to_string())
    ))
}

impl Spark {
    /// Starts the driver and waits until it says it is ready.
    pub fn start(opts: &SparkOptions, trail: LocalTrail) -> Result<Spark> {
        let dir = TempDir(private_dir()?);
        let job = dir.0.join("trailgraph_spark_job.py");
        std::fs::write(&job, JOB).with_context(|| format!("writing {}", job.display()))?;
        let log_path = dir.0.join("spark.log");
        let log = std::fs::File::create(&log_path)
            .with_context(|| format!("creating {}", log_path.display()))?;
        let mut cmd = Command::new(&opts.python);
        cmd.arg(&job)
            .arg(&opts.master)
            .arg("spark.ui.enabled=false")
            .arg("spark.sql.shuffle.partitions=8")
            .arg("spark.sql.files.ignoreCorruptFiles=true")
            .args(&opts.conf)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log));
        if let Some(u) = &opts.s3_endpoint {
            // Local executors inherit the driver's environment; a cluster's get it from spark.executorEnv.
            cmd.env("TRAILGRAPH_S3_ENDPOINT", u)
                .arg(format!("spark.executorEnv.TRAILGRAPH_S3_ENDPOINT={u}"));
        }
        let mut child = cmd.spawn().map_err(|e| {
            anyhow!(
                "cannot start Spark with {}: {e}. Install pyspark (pip install pyspark; Spark needs Java 17) or give \
                 --spark-python",
                opts.python
            )
        })?;
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().ok_or_else(|| anyhow!("no stdout"))?);
        let mut spark = Spark {
            child,
            stdin,
            stdout,
            trail,
            dir,
            version: String::new(),
        };
        let hello = spark.read_answer()?;
        spark.version = hello
            .get("version")
            .and_then(|v| v.as_str())
            .unwrap_or("?")
            .to_string();
        // Named parameters bound from Python values (`spark.sql(sql, args=...)`) need Spark 3.5 or later.
        let mut parts = spark
            .version
            .split('.')
            .map(|p| p.parse::<u32>().unwrap_or(0));
        let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
        if (major, minor) < (3, 5) {
            bail!(
                "Spark {} is too old for collect --via: it needs 3.5 or later (pip install 'pyspark>=3.5')",
                crate::model::text::visible(&spark.version)
            );
        }
        Ok(spark)
    }

    fn read_answer(&mut self) -> Result<serde_json::Value> {
        let mut line = String::new();
        loop {
            line.clear();
            let n = self.stdout.read_line(&mut line)?;
            if n == 0 {
                let status = self.child.wait().ok();
                bail!(
                    "Spark ended without an answer (exit status {}). The end of its log:\n{}",
                    status.map_or("unknown".into(), |s| s.to_string()),
                    self.log_tail()
                );
            }
            // Only the job's JSON lines are answers; anything else a library printed is passed over.
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(line.trim()) {
                if v.get("ok").is_some() {
                    return Ok(v);
                }
            }
        }
    }
}

impl Spark {
    /// The last lines of Spark's log, escaped for the terminal.
    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.dir.0.join("spark.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = &lines[lines.len().saturating_sub(20)..];
        crate::model::text::visible(&tail.join("\n")).into_owned()
    }
}

impl Drop for Spark {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.wait();
    }
}

/// `file:///a/b%20c` (what `input_file_name()` gives) → `/a/b c`.
pub fn path_of_uri(uri: &str) -> String {
    let rest = match uri.strip_prefix("file:") {
        Some(r) => r.strip_prefix("//").unwrap_or(r),
        None => return uri.to_string(),
    };
    percent_encoding::percent_decode_str(rest)
        .decode_utf8_lossy()
        .into_owned()
}

impl Engine for Spark {
    fn name(&self) -> &'static str {
        "spark"
    }

    fn dialect(&self) -> Dialect {
        Dialect::Spark
    }

    fn version(&self) -> String {
        self.version.clone()
    }

    fn close(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.wait();
    }

    fn run(&mut self, query: &Query, filter: &Filter) -> Result<Answer> {
        let (table, service) = match query.table {
            Table::Cloudtrail => ("cloudtrail", "CloudTrail"),
            Table::Config => ("config", "Config"),
        };
        let files = self.trail.files(service, filter);
        let bytes_scanned = files.iter().map(|(_, n)| n).sum();
        let paths: Vec<String> = files
            .iter()
            .map(|(p, _)| {
                if p.starts_with("s3:") {
                    return p.to_string_lossy().into_owned();
                }
                std::path::absolute(p)
                    .unwrap_or_else(|_| p.clone())
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        let req = serde_json::json!({
            "table": table,
            "files": paths,
            "sql": query.sql,
            "params": query.params,
        });
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| anyhow!("Spark is not running"))?;
        writeln!(stdin, "{req}").context("sending the query to Spark")?;
        stdin.flush()?;
        let a = self.read_answer()?;
        if a.get("ok").and_then(|v| v.as_bool()) != Some(true) {
            let msg = a.get("error").and_then(|v| v.as_str()).unwrap_or("?");
            bail!("Spark query failed: {msg}\nSQL:\n{}", query.sql);
        }
        let text = |v: &serde_json::Value| v.as_str().map(str::to_string);
        let rows = a
            .get("rows")
            .and_then(|r| r.as_array())
            .map(|rows| {
                rows.iter()
                    .filter_map(|r| {
                        let r = r.as_array()?;
                        Some(Row {
                            path: path_of_uri(r.first()?.as_str()?),
                            used_key: r.get(1).and_then(text),
                            issued_key: r.get(2).and_then(text),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(Answer {
            query_id: a
                .get("query_id")
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .to_string(),
            rows,
            bytes_scanned,
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn file_uris_become_paths() {
        assert_eq!(super::path_of_uri("file:///a/b%20c+d.gz"), "/a/b c+d.gz");
        assert_eq!(super::path_of_uri("file:/a/b"), "/a/b");
        assert_eq!(super::path_of_uri("/a/b"), "/a/b");
    }
}
