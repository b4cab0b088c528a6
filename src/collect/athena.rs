//! The Athena engine of `collect --via athena`: each round is one query, `StartQueryExecution` (with the table's
//! database as the query context, the workgroup and the result location given), then `GetQueryExecution` every
//! `poll` until a final state, then `GetQueryResults` page by page. Throttling and transient failures are retried
//! with backoff and counted. A failed query is an error that carries Athena's own message and the SQL; a missing
//! table or database names `trailgraph athena-ddl`, which prints the statement that makes one.
//!
//! The rows come back as the `$path` of each matching log file (`s3://BUCKET/KEY`) and the keys the next round
//! needs; fetching those files is the caller's (`pipeline::remote`).

use super::cloudtrail::{again, backoff, Counters};
use super::layout::Filter;
use super::slice::{Answer, Dialect, Engine, Query, Row};
use super::{describe, CollectError, HasStatus};
use anyhow::{bail, Result};
use aws_sdk_athena::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_athena::types::{QueryExecutionContext, QueryExecutionState, ResultConfiguration};
use aws_sdk_athena::Client;
use std::time::Duration;

/// Where and how the queries run.
#[derive(Debug, Clone)]
pub struct AthenaOptions {
    /// The CloudTrail table, `DATABASE.TABLE` (or `TABLE` in the database `default`).
    pub table: String,
    /// The AWS Config table (`athena-ddl --config-table`); without it the Config round does not run. A name without
    /// a database is looked up in the CloudTrail table's database (the queries' context).
    pub config_table: Option<String>,
    /// The workgroup (Athena's default: `primary`).
    pub workgroup: Option<String>,
    /// Where Athena writes results (`s3://...`); optional when the workgroup sets one.
    pub output: Option<String>,
    /// Time between two `GetQueryExecution` calls while a query is queued or running.
    pub poll: Duration,
}

/// Checks a table name as given to `--athena-table`: `[DATABASE.]TABLE`, each part of the characters Glue names
/// are made of (letters, digits, `_`), so that the name can stand in the SQL text as it is. Returns the database
/// (`default` when none is given).
pub fn check_table(flag: &str, name: &str) -> Result<String> {
    let parts: Vec<&str> = name.split('.').collect();
    let ok = |p: &str| {
        !p.is_empty() && p.len() <= 255 && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    match parts.as_slice() {
        [t] if ok(t) => Ok("default".to_string()),
        [d, t] if ok(d) && ok(t) => Ok(d.to_string()),
        _ => bail!(
            "{flag} {name:?}: expected DATABASE.TABLE, each part letters, digits and underscores (as Glue names them)"
        ),
    }
}

/// A checked table name as the SQL text holds it: each part double-quoted, so that a name Trino reserves (`values`)
/// or one that starts with a digit still reads as a name. (`check_table` allows no quote inside a part.)
pub fn quoted(name: &str) -> String {
    name.split('.')
        .map(|p| format!("\"{p}\""))
        .collect::<Vec<_>>()
        .join(".")
}

/// A token of our own for `StartQueryExecution`, the same on every retry of one query: if an attempt that failed
/// on the way back did reach Athena, the retry returns that query instead of starting (and billing) a second one.
fn request_token(n: u64) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "trailgraph-{:032x}-{:08x}-{n:06}",
        nanos,
        std::process::id()
    )
}

/// The Athena engine.
pub struct Athena {
    client: Client,
    rt: tokio::runtime::Handle,
    opts: AthenaOptions,
    database: String,
    /// `Athena engine version 3`, as the first query reports it.
    pub version: String,
    pub counters: Counters,
    queries: u64,
}

/// Sends one call until it succeeds or fails in a way not worth retrying: every attempt is counted, throttling and
/// transient failures are retried after a growing backoff (`cloudtrail::again`).
async fn send<T, E, R, F, Fut>(
    counters: &mut Counters,
    api: &str,
    target: &str,
    mut call: F,
) -> Result<T, CollectError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, SdkError<E, R>>>,
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: HasStatus + std::fmt::Debug + 'static,
{
    let mut attempt = 0;
    loop {
        counters.requests += 1;
        match call().await {
            Ok(r) => return Ok(r),
            Err(e) if again(&e, attempt, counters) => {
                tokio::time::sleep(backoff(attempt)).await;
                attempt += 1;
            }
            Err(e) => return Err(describe(&e, api, target)),
        }
    }
}

/// Words of Athena's messages for a table or database that does not exist.
fn missing_table(reason: &str) -> bool {
    [
        "TABLE_NOT_FOUND",
        "SCHEMA_NOT_FOUND",
        "does not exist",
        "EntityNotFoundException",
    ]
    .iter()
    .any(|w| reason.contains(w))
}

impl Athena {
    /// The client makes one attempt per call: the retries are ours, and counted.
    pub fn new(
        conf: &aws_config::SdkConfig,
        endpoint: Option<&str>,
        rt: tokio::runtime::Handle,
        opts: AthenaOptions,
    ) -> Result<Athena> {
        let database = check_table("--athena-table", &opts.table)?;
        if let Some(c) = &opts.config_table {
            check_table("--athena-config-table", c)?;
        }
        if let Some(o) = &opts.output {
            if !o.starts_with("s3://") {
                bail!("--athena-output {o:?}: expected s3://BUCKET/PREFIX/");
            }
        }
        let mut b = aws_sdk_athena::config::Builder::from(&super::single_attempt(conf));
        if let Some(u) = endpoint {
            b = b.endpoint_url(u);
        }
        Ok(Athena {
            client: Client::from_conf(b.build()),
            rt,
            opts,
            database,
            version: String::new(),
            counters: Counters::default(),
            queries: 0,
        })
    }

    /// The tables the rounds read, as the SQL names them: CloudTrail, and Config when one was given.
    pub fn tables(&self) -> (String, Option<String>) {
        (
            quoted(&self.opts.table),
            self.opts.config_table.as_deref().map(quoted),
        )
    }

    async fn start(&mut self, sql: &str) -> Result<String, CollectError> {
        self.queries += 1;
        let token = request_token(self.queries);
        let (client, database, opts) = (&self.client, &self.database, &self.opts);
        let r = send(&mut self.counters, "StartQueryExecution", "Athena", || {
            let mut req = client
                .start_query_execution()
                .query_string(sql)
                .client_request_token(&token)
                .query_execution_context(
                    QueryExecutionContext::builder().database(database).build(),
                );
            if let Some(w) = &opts.workgroup {
                req = req.work_group(w);
            }
            if let Some(o) = &opts.output {
                req = req.result_configuration(
                    ResultConfiguration::builder().output_location(o).build(),
                );
            }
            req.send()
        })
        .await?;
        r.query_execution_id().map(str::to_string).ok_or_else(|| {
            CollectError::Service(
                "StartQueryExecution: the response has no QueryExecutionId".into(),
            )
        })
    }

    /// Waits for a final state. Ok(bytes scanned) when the query succeeded; Err(message) when it failed or was
    /// cancelled.
    async fn wait(&mut self, id: &str) -> Result<Result<u64, String>, CollectError> {
        // Answers without a state this version knows: a few are waited through, not forever.
        let mut unknown = 0u32;
        let target = format!("query {id}");
        loop {
            let client = &self.client;
            let resp = send(&mut self.counters, "GetQueryExecution", &target, || {
                client.get_query_execution().query_execution_id(id).send()
            })
            .await?;
            let q = resp.query_execution();
            if self.version.is_empty() {
                if let Some(v) = q
                    .and_then(|q| q.engine_version())
                    .and_then(|v| v.effective_engine_version())
                {
                    self.version = v.to_string();
                }
            }
            let status = q.and_then(|q| q.status());
            match status.and_then(|s| s.state()) {
                Some(QueryExecutionState::Succeeded) => {
                    let bytes = q
                        .and_then(|q| q.statistics())
                        .and_then(|s| s.data_scanned_in_bytes())
                        .unwrap_or(0)
                        .max(0) as u64;
                    return Ok(Ok(bytes));
                }
                Some(QueryExecutionState::Failed | QueryExecutionState::Cancelled) => {
                    let state = status
                        .and_then(|s| s.state())
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_default();
                    let reason = status
                        .and_then(|s| s.athena_error())
                        .and_then(|e| e.error_message())
                        .or_else(|| status.and_then(|s| s.state_change_reason()))
                        .unwrap_or("no reason given");
                    return Ok(Err(format!("{state}: {reason}")));
                }
                Some(QueryExecutionState::Queued | QueryExecutionState::Running) => {
                    tokio::time::sleep(self.opts.poll).await
                }
                // No state, or one this version does not know: wait a little, then give up.
                other => {
                    unknown += 1;
                    if unknown > 30 {
                        return Err(CollectError::Service(format!(
                            "GetQueryExecution on query {id}: no known state in 30 answers (last: {:?})",
                            other.map(|s| s.as_str())
                        )));
                    }
                    tokio::time::sleep(self.opts.poll.max(Duration::from_millis(100))).await
                }
            }
        }
    }

    /// Every page of the result. The first row of a SELECT's first page repeats the column names.
    async fn results(&mut self, id: &str) -> Result<Vec<Row>, CollectError> {
        let mut rows = Vec::new();
        let mut token: Option<String> = None;
        let mut first = true;
        let target = format!("query {id}");
        loop {
            let (client, next) = (&self.client, token.clone());
            let resp = send(&mut self.counters, "GetQueryResults", &target, || {
                client
                    .get_query_results()
                    .query_execution_id(id)
                    .max_results(1000)
                    .set_next_token(next.clone())
                    .send()
            })
            .await?;
            let set = resp.result_set();
            let names: Vec<String> = set
                .and_then(|s| s.result_set_metadata())
                .map(|m| {
                    m.column_info()
                        .iter()
                        .map(|c| c.name().to_ascii_lowercase())
                        .collect()
                })
                .unwrap_or_default();
            let col = |name: &str, fallback: usize| {
                names.iter().position(|n| n == name).unwrap_or(fallback)
            };
            let (pi, ui, ii) = (col("path", 0), col("used_key", 1), col("issued_key", 2));
            for (n, r) in set.map(|s| s.rows()).unwrap_or_default().iter().enumerate() {
                let cell = |i: usize| {
                    r.data()
                        .get(i)
                        .and_then(|d| d.var_char_value())
                        .map(str::to_string)
                };
                if first && n == 0 && cell(pi).as_deref() == Some("path") {
                    continue;
                }
                let Some(path) = cell(pi).filter(|p| !p.is_empty()) else {
                    continue;
                };
                rows.push(Row {
                    path,
                    used_key: cell(ui),
                    issued_key: cell(ii),
                });
            }
            first = false;
            match resp.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => return Ok(rows),
            }
        }
    }
}

impl Engine for Athena {
    fn name(&self) -> &'static str {
        "athena"
    }

    fn dialect(&self) -> Dialect {
        Dialect::Athena
    }

    fn version(&self) -> String {
        self.version.clone()
    }

    fn run(&mut self, query: &Query, _filter: &Filter) -> Result<Answer> {
        let rt = self.rt.clone();
        rt.block_on(async {
            let id = self.start(&query.sql).await?;
            let bytes = match self.wait(&id).await? {
                Ok(b) => b,
                Err(reason) => {
                    let hint = if missing_table(&reason) {
                        format!(
                            "\nhint: make the table with `trailgraph athena-ddl s3://BUCKET[/PREFIX] --account ACCOUNT \
                             --table {}` (and `--config-table {}` for the Config round), run the statements in Athena, \
                             then run this again",
                            self.opts.table,
                            self.opts.config_table.as_deref().unwrap_or("DATABASE.config_items")
                        )
                    } else {
                        String::new()
                    };
                    bail!("Athena query {id} {reason}{hint}\nSQL:\n{}", query.sql);
                }
            };
            let mut rows = self.results(&id).await?;
            rows.sort();
            rows.dedup();
            Ok(Answer {
                query_id: id,
                rows,
                bytes_scanned: bytes,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names_are_checked() {
        assert_eq!(
            check_table("--t", "trail.cloudtrail_logs").unwrap(),
            "trail"
        );
        assert_eq!(check_table("--t", "cloudtrail_logs").unwrap(), "default");
        assert_eq!(quoted("trail.values"), "\"trail\".\"values\"");
        let t = request_token(7);
        assert!((32..=128).contains(&t.len()), "{t}");
        for bad in ["", "a.b.c", "t; DROP", "db.\"t\"", "db.", ".t", "db.t-x"] {
            assert!(check_table("--t", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn missing_tables_are_recognized() {
        assert!(missing_table(
            "FAILED: TABLE_NOT_FOUND: line 3:6: Table 'awsdatacatalog.trail.x' does not exist"
        ));
        assert!(missing_table(
            "FAILED: SCHEMA_NOT_FOUND: line 1:15: Schema 'nope' does not exist"
        ));
        assert!(!missing_table(
            "FAILED: SYNTAX_ERROR: line 1:1: mismatched input"
        ));
    }
}
