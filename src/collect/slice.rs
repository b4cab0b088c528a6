//! A question's slice of a whole trail: the scope (`--resource`, `--principal`, `--access-key`, `--ip`) turned into
//! rounds of SQL that a distributed engine runs over every file, the files its answers name, and the digests that
//! cover them. docs/collect.md#collect---via-athenaspark.
//!
//! Round 1 finds the records that mention the scope. Each later round follows the session chains the rounds so far
//! revealed, away from the scope: upward, the calls that issued the temporary keys (`ASIA…`) the matched calls were
//! signed with (`AssumeRole*`, `GetSessionToken`, `GetFederationToken`: the key is in their `responseElements`),
//! so `who-changed` reaches the person behind a session; downward, the calls signed with the keys that matched
//! calls issued, so `timeline` follows the sessions a principal started. An issuer found going up is not followed
//! back down into the other sessions it started. A round that reveals no new key ends the run.
//!
//! The engine SQL is a superset filter: a record that only mentions a name in passing is matched too. The precise
//! answer is trailgraph's, over the whole files fetched, exactly as after a full ingest of them.
//!
//! Scope strings are data: Spark receives them as named parameters (`:p0`), never inside the SQL text; Athena
//! receives string literals escaped by the one function `athena_literal`.

use super::layout::{parse_key, Filter};
use anyhow::{bail, Result};
use chrono::{Days, NaiveDate};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// One scope term, in the forms the query commands accept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Term {
    Resource(String),
    Principal(String),
    AccessKey(String),
    Ip(String),
}

/// The engine's SQL dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    /// Spark SQL over the views the job defines (`cloudtrail`, `config`); nested JSON columns are raw JSON text.
    Spark,
    /// Athena (Trino) over the CloudTrail table of `trailgraph athena-ddl` (AWS's documented columns).
    Athena,
}

/// Which table a query reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Table {
    /// CloudTrail log files.
    Cloudtrail,
    /// AWS Config history and snapshot files.
    Config,
}

/// A query and its parameters. Spark: `:pN` markers bound to `params[N]`. Athena: no parameters, the literals are
/// in the text, escaped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Query {
    pub table: Table,
    pub sql: String,
    pub params: Vec<String>,
}

/// One answer row: a file holding a matching record, and the keys that record signed with and issued.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Row {
    pub path: String,
    pub used_key: Option<String>,
    pub issued_key: Option<String>,
}

/// What an engine answered for one query.
#[derive(Debug, Clone, Default)]
pub struct Answer {
    pub query_id: String,
    pub rows: Vec<Row>,
    /// Bytes the engine read (Athena `DataScannedInBytes`; Spark: the bytes of the files it was given).
    pub bytes_scanned: u64,
}

/// A distributed engine that runs the rounds: it reads the whole trail, trailgraph only what it names.
pub trait Engine {
    fn name(&self) -> &'static str;
    fn dialect(&self) -> Dialect;
    /// Runs `query` over the files of `table` within `filter` (the engine prunes by account, region and day).
    fn run(&mut self, query: &Query, filter: &Filter) -> Result<Answer>;
    /// Called after the last round: let go of what the engine holds (a Spark driver and its cached rows).
    fn close(&mut self) {}
    /// The engine's version, as it reported it (empty until it did).
    fn version(&self) -> String {
        String::new()
    }
}

/// One round, as the summary reports it (`schemas/collect-via-summary.schema.json`).
#[derive(Debug, Clone, Serialize)]
pub struct RoundReport {
    pub round: usize,
    pub engine: &'static str,
    pub query_id: String,
    pub table: Table,
    /// Why this round ran: `scope`, `config`, `resolved` (records naming the ids the Config round found for
    /// resources given by name), `issuers` (calls that issued keys), `sessions` (calls signed with keys),
    /// `lineage` (what a lineage answer on the store so far reaches, `LineageAsk`).
    pub purpose: &'static str,
    pub sql: String,
    pub parameters: Vec<String>,
    pub bytes_scanned: u64,
    pub files_matched: usize,
    /// Files this round named that no earlier round had: what this round adds to the fetch.
    pub files_fetched: usize,
    /// Keys the next round follows: issuers to find (upward) and sessions to follow (downward).
    pub keys_up: Vec<String>,
    pub keys_down: Vec<String>,
    pub seconds: f64,
}

/// The outcome of the rounds: the files to fetch (sorted) and the reports.
#[derive(Debug, Clone, Default)]
pub struct Slice {
    pub files: BTreeSet<String>,
    pub rounds: Vec<RoundReport>,
    /// Keys still waiting to be followed when `--depth` ended the rounds (and values the lineage rounds left).
    pub keys_left: usize,
}

impl Slice {
    /// The totals the rounds give (the fetch fills in the rest).
    pub fn totals(&self) -> ViaTotals {
        ViaTotals {
            rounds: self.rounds.len(),
            bytes_scanned: self.rounds.iter().map(|r| r.bytes_scanned).sum(),
            files_matched: self.files.len(),
            engine_seconds: self.rounds.iter().map(|r| r.seconds).sum(),
            keys_left: self.keys_left,
            ..ViaTotals::default()
        }
    }
}

/// What a resource term is looked for as in a record's text: the name or id inside it (a bucket, a role name, a
/// security group id, an object key), so that calls that name it without its ARN are found too.
pub fn resource_needle(r: &str) -> String {
    if let Some(rest) = r.strip_prefix("s3://") {
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        let key = key.split_once("?versionId=").map_or(key, |(k, _)| k);
        return if key.is_empty() { bucket } else { key }.to_string();
    }
    if r.starts_with("arn:") {
        // The id trailgraph keys the resource by (a function without its version, a table without its index, an
        // IAM name without its path); for an S3 object, its key (requests name bucket and key apart).
        if let Some(rr) = crate::model::resource::ResourceRef::from_arn(r) {
            if rr.rtype == "AWS::S3::Object" {
                if let Some((_, key)) = rr.id.split_once('/') {
                    return key.to_string();
                }
            }
            let id = rr.id.trim_end_matches([':', '*']);
            if !id.is_empty() {
                return id
                    .rsplit('/')
                    .next()
                    .filter(|s| !s.is_empty())
                    .unwrap_or(id)
                    .to_string();
            }
        }
        let resource = r.splitn(6, ':').nth(5).unwrap_or(r);
        return resource
            .rsplit(['/', ':'])
            .find(|s| !s.is_empty() && *s != "*")
            .unwrap_or(resource)
            .to_string();
    }
    if let Some(rest) = r.strip_prefix("AWS::") {
        // AWS::SERVICE::TYPE:ID (the id may hold ':' and '/').
        let mut it = rest.splitn(3, "::");
        let (_, third) = (it.next(), it.next());
        if let Some(t) = third.or(it.next()) {
            if let Some((_, id)) = t.split_once(':') {
                return id.to_string();
            }
        }
    }
    r.to_string()
}

/// A string literal for Athena (Trino): single quotes, a quote doubled. Trino gives backslashes no meaning.
pub fn athena_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Builds the SQL of one round in one dialect.
struct SqlBuilder {
    dialect: Dialect,
    params: Vec<String>,
}

impl SqlBuilder {
    fn new(dialect: Dialect) -> Self {
        SqlBuilder {
            dialect,
            params: Vec::new(),
        }
    }

    /// A value: a parameter marker (Spark) or an escaped literal (Athena).
    fn value(&mut self, v: &str) -> String {
        match self.dialect {
            Dialect::Spark => {
                self.params.push(v.to_string());
                format!(":p{}", self.params.len() - 1)
            }
            Dialect::Athena => athena_literal(v),
        }
    }

    /// The text of a nested JSON column (raw JSON in Spark's view; a struct cast to JSON in Athena's table).
    fn text(&self, col: &str) -> String {
        match (self.dialect, col) {
            (Dialect::Athena, "useridentity" | "resources") => {
                format!("json_format(CAST({col} AS JSON))")
            }
            _ => format!("coalesce({col}, '')"),
        }
    }

    fn contains(&mut self, col: &str, needle: &str) -> String {
        let v = self.value(needle);
        let text = self.text(col);
        match self.dialect {
            Dialect::Spark => format!("instr({text}, {v}) > 0"),
            Dialect::Athena => format!("strpos({text}, {v}) > 0"),
        }
    }

    fn used_key(&self) -> &'static str {
        match self.dialect {
            Dialect::Spark => "get_json_object(useridentity, '$.accessKeyId')",
            Dialect::Athena => "useridentity.accesskeyid",
        }
    }

    fn issued_key(&self) -> &'static str {
        match self.dialect {
            Dialect::Spark => "get_json_object(responseelements, '$.credentials.accessKeyId')",
            Dialect::Athena => "json_extract_scalar(responseelements, '$.credentials.accessKeyId')",
        }
    }

    fn path(&self) -> &'static str {
        match self.dialect {
            Dialect::Spark => "path",
            Dialect::Athena => "\"$path\"",
        }
    }

    /// The partition predicate of Athena's projected table (account, region, day); Spark is given the files.
    fn partitions(&mut self, filter: &Filter) -> Vec<String> {
        if self.dialect != Dialect::Athena {
            return Vec::new();
        }
        let mut out = self.account_region(filter);
        if let Some(days) = filter.days() {
            if let (Some(first), Some(last)) = (days.first(), days.last()) {
                let (a, b) = (
                    self.value(&first.format("%Y/%m/%d").to_string()),
                    self.value(&last.format("%Y/%m/%d").to_string()),
                );
                out.push(format!("\"timestamp\" BETWEEN {a} AND {b}"));
            }
        }
        out
    }

    /// The account and region partitions of Athena's tables.
    fn account_region(&mut self, filter: &Filter) -> Vec<String> {
        let mut out = Vec::new();
        if !filter.accounts.is_empty() {
            let vals: Vec<String> = filter.accounts.iter().map(|a| self.value(a)).collect();
            out.push(format!("account IN ({})", vals.join(", ")));
        }
        if !filter.regions.is_empty() {
            let vals: Vec<String> = filter.regions.iter().map(|r| self.value(r)).collect();
            out.push(format!("region IN ({})", vals.join(", ")));
        }
        out
    }

    fn finish(self, table: Table, sql: String) -> Query {
        Query {
            table,
            sql,
            params: self.params,
        }
    }
}

/// The predicate a record must meet for one scope term.
fn term_predicate(b: &mut SqlBuilder, t: &Term) -> String {
    match t {
        Term::Resource(r) => {
            let n = resource_needle(r);
            let parts: Vec<String> = ["requestparameters", "responseelements", "resources"]
                .iter()
                .map(|c| b.contains(c, &n))
                .collect();
            format!("({})", parts.join(" OR "))
        }
        Term::Principal(p) => b.contains("useridentity", p),
        Term::AccessKey(k) => {
            let (u, r) = (
                b.contains("useridentity", k),
                b.contains("responseelements", k),
            );
            format!("({u} OR {r})")
        }
        Term::Ip(a) => {
            let v = b.value(a);
            format!("sourceipaddress = {v}")
        }
    }
}

/// What a CloudTrail round looks for.
pub enum Ask<'a> {
    /// Records that mention the scope.
    Scope(&'a [Term]),
    /// The calls that issued these keys.
    Issuers(&'a [String]),
    /// The calls signed with these keys.
    Sessions(&'a [String]),
    /// What a lineage answer on the store so far reaches (`LineageAsk`).
    Lineage(&'a LineageAsk),
}

/// What a lineage round asks the engine for: the records a `lineage` answer would read had the store held the
/// whole trail, given the datasets and actors the answer on the slice so far reached (docs/collect.md#lineage).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LineageAsk {
    /// The datasets and units of work reached, as records carry them: each needle is a list of strings a record
    /// must all contain (in its request, response or `resources`): an object's bucket and key, a prefix's bucket
    /// and prefix, a DynamoDB table's or stream's name as a JSON string, a job run, query or statement id.
    pub needles: BTreeSet<Vec<String>>,
    /// Access keys the actors' calls were signed with (every call of a session is its actor's).
    pub keys: BTreeSet<String>,
    /// Principals all of whose calls one actor may gather (an Athena caller's role, a Redshift cluster's role, a
    /// user or service acting without a key): their ARN or service name, found in `userIdentity`.
    pub principals: BTreeSet<String>,
    /// Session keys whose issuing call is not in the store.
    pub issued: BTreeSet<String>,
    /// Accounts whose job-control calls pair runs, queries and statements with the service sessions that did
    /// their work (`JOB_CONTROL`, and the `AssumeRole*` calls of `JOB_SERVICES`).
    pub accounts: BTreeSet<String>,
}

impl LineageAsk {
    /// Nothing to ask.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many values the query would carry.
    pub fn len(&self) -> usize {
        self.needles.len()
            + self.keys.len()
            + self.principals.len()
            + self.issued.len()
            + self.accounts.len()
    }

    /// What is in `self` and not in `asked`.
    pub fn minus(&self, asked: &LineageAsk) -> LineageAsk {
        fn d<T: Ord + Clone>(a: &BTreeSet<T>, b: &BTreeSet<T>) -> BTreeSet<T> {
            a.difference(b).cloned().collect()
        }
        LineageAsk {
            needles: d(&self.needles, &asked.needles),
            keys: d(&self.keys, &asked.keys),
            principals: d(&self.principals, &asked.principals),
            issued: d(&self.issued, &asked.issued),
            accounts: d(&self.accounts, &asked.accounts),
        }
    }

    /// Adds what `other` holds.
    pub fn extend(&mut self, other: &LineageAsk) {
        self.needles.extend(other.needles.iter().cloned());
        self.keys.extend(other.keys.iter().cloned());
        self.principals.extend(other.principals.iter().cloned());
        self.issued.extend(other.issued.iter().cloned());
        self.accounts.extend(other.accounts.iter().cloned());
    }

    /// At most `n` values, taken in a fixed order (accounts and issuers first: they are few and close chains); the
    /// rest is what is left for the next round.
    pub fn split(mut self, n: usize) -> (LineageAsk, LineageAsk) {
        fn take<T: Ord>(set: &mut BTreeSet<T>, left: &mut usize) -> BTreeSet<T> {
            let mut out = BTreeSet::new();
            while *left > 0 {
                let Some(v) = set.pop_first() else { break };
                out.insert(v);
                *left -= 1;
            }
            out
        }
        let mut left = n;
        let now = LineageAsk {
            accounts: take(&mut self.accounts, &mut left),
            issued: take(&mut self.issued, &mut left),
            keys: take(&mut self.keys, &mut left),
            principals: take(&mut self.principals, &mut left),
            needles: take(&mut self.needles, &mut left),
        };
        (now, self)
    }
}

/// Calls that tie a unit of work to the sessions that did it, or name what it reads and writes: Glue runs, Athena
/// queries, Redshift Data API statements (whose SQL names the Redshift tables), Firehose streams and their
/// records, and the Glue tables' locations.
pub const JOB_CONTROL: &[&str] = &[
    "StartJobRun",
    "CreateTable",
    "UpdateTable",
    "StartQueryExecution",
    "ExecuteStatement",
    "BatchExecuteStatement",
    "CreateDeliveryStream",
    "UpdateDestination",
    "PutRecord",
    "PutRecordBatch",
];

/// Services whose sessions lineage pairs with units of work: their `AssumeRole*` calls are job control too.
pub const JOB_SERVICES: &[&str] = &[
    "glue.amazonaws.com",
    "firehose.amazonaws.com",
    "redshift.amazonaws.com",
    "lambda.amazonaws.com",
];

/// The predicates of a lineage round, one per kind of value asked about.
fn lineage_predicates(b: &mut SqlBuilder, l: &LineageAsk) -> Vec<String> {
    let mut preds = Vec::new();
    let list = |b: &mut SqlBuilder, set: &BTreeSet<String>| -> String {
        let vals: Vec<String> = set.iter().map(|v| b.value(v)).collect();
        vals.join(", ")
    };
    if !l.keys.is_empty() {
        let vals = list(b, &l.keys);
        preds.push(format!("{} IN ({vals})", b.used_key()));
    }
    if !l.issued.is_empty() {
        let vals = list(b, &l.issued);
        preds.push(format!("{} IN ({vals})", b.issued_key()));
    }
    for r in &l.principals {
        preds.push(b.contains("useridentity", r));
    }
    for needle in &l.needles {
        let all: Vec<String> = needle
            .iter()
            .map(|n| {
                let parts: Vec<String> = ["requestparameters", "responseelements", "resources"]
                    .iter()
                    .map(|c| b.contains(c, n))
                    .collect();
                format!("({})", parts.join(" OR "))
            })
            .collect();
        if !all.is_empty() {
            preds.push(format!("({})", all.join(" AND ")));
        }
    }
    if !l.accounts.is_empty() {
        let accounts = list(b, &l.accounts);
        let names = list(b, &JOB_CONTROL.iter().map(|s| s.to_string()).collect());
        let services = list(b, &JOB_SERVICES.iter().map(|s| s.to_string()).collect());
        let assume = b.value("AssumeRole%");
        preds.push(format!(
            "(recipientaccountid IN ({accounts}) AND (eventname IN ({names}) OR (eventname LIKE {assume} AND sourceipaddress IN ({services}))))"
        ));
    }
    preds
}

/// The SQL of a CloudTrail round: the distinct (file, key signed with, key issued) of matching records.
pub fn cloudtrail_query(dialect: Dialect, table_name: &str, ask: &Ask, filter: &Filter) -> Query {
    let mut b = SqlBuilder::new(dialect);
    let mut preds: Vec<String> = match ask {
        Ask::Scope(terms) => terms.iter().map(|t| term_predicate(&mut b, t)).collect(),
        Ask::Issuers(keys) => {
            let vals: Vec<String> = keys.iter().map(|k| b.value(k)).collect();
            vec![format!("{} IN ({})", b.issued_key(), vals.join(", "))]
        }
        Ask::Sessions(keys) => {
            let vals: Vec<String> = keys.iter().map(|k| b.value(k)).collect();
            vec![format!("{} IN ({})", b.used_key(), vals.join(", "))]
        }
        Ask::Lineage(l) => lineage_predicates(&mut b, l),
    };
    if preds.is_empty() {
        preds.push("FALSE".into());
    }
    let mut wh = vec![format!("({})", preds.join("\n    OR "))];
    wh.extend(b.partitions(filter));
    let sql = format!(
        "SELECT DISTINCT {} AS path, {} AS used_key, {} AS issued_key\nFROM {table_name}\nWHERE {}",
        b.path(),
        b.used_key(),
        b.issued_key(),
        wh.join("\n  AND ")
    );
    b.finish(Table::Cloudtrail, sql)
}

/// The SQL of the Config round: the files holding configuration items of the resources in scope. Spark reads the
/// items flat (its `config` view); Athena's Config table (`athena-ddl --config-table`) holds each file as a row
/// with the items in the array `configurationitems`, and is pruned by account, region and day (`dt`, in Config's
/// unpadded `YYYY/M/D`).
pub fn config_query(
    dialect: Dialect,
    table_name: &str,
    resources: &[String],
    filter: &Filter,
) -> Query {
    let mut b = SqlBuilder::new(dialect);
    let item = match dialect {
        Dialect::Spark => "",
        Dialect::Athena => "ci.",
    };
    let mut preds = Vec::new();
    for r in resources {
        let n = resource_needle(r);
        let (id, name) = (b.value(&n), b.value(&n));
        let mut p = format!("{item}resourceid = {id} OR {item}resourcename = {name}");
        if r.starts_with("arn:") {
            let arn = b.value(r);
            p.push_str(&format!(" OR {item}arn = {arn}"));
        }
        preds.push(format!("({p})"));
    }
    if preds.is_empty() {
        preds.push("FALSE".into());
    }
    // The id and type of each item found come back in the key columns: a name the Config round resolved to an
    // id becomes a search string of its own (calls that carry only the id).
    let sql = match dialect {
        Dialect::Spark => format!(
            "SELECT DISTINCT {} AS path, resourceid AS used_key, resourcetype AS issued_key\nFROM {table_name}\nWHERE {}",
            b.path(),
            preds.join("\n    OR ")
        ),
        Dialect::Athena => {
            // The matching items are kept by `filter` and unnested as one string each, "TYPE ID" (a type has no
            // space): an array of strings unnests into one column on every Trino, where an array of rows would
            // be expanded into a column per field or not, depending on the engine's version.
            let mut wh = b.account_region(filter);
            if let Some(days) = filter.days() {
                let vals: Vec<String> = days
                    .iter()
                    .map(|d| b.value(&d.format("%Y/%-m/%-d").to_string()))
                    .collect();
                wh.push(format!("dt IN ({})", vals.join(", ")));
            }
            let wh = if wh.is_empty() {
                String::new()
            } else {
                format!("\nWHERE {}", wh.join("\n  AND "))
            };
            format!(
                "SELECT DISTINCT {} AS path, substr(item, strpos(item, ' ') + 1) AS used_key, split_part(item, ' ', 1) AS issued_key\n\
                 FROM {table_name}\n\
                 CROSS JOIN UNNEST(transform(filter(configurationitems, ci -> {}), ci -> coalesce(ci.resourcetype, '') || ' ' || coalesce(ci.resourceid, ''))) AS t(item){wh}",
                b.path(),
                preds.join(" OR "),
            )
        }
    };
    b.finish(Table::Config, sql)
}

/// For session keys, the ones whose issuing call is stored, each with the key that call was signed with.
pub type IssuerStored<'a> = dyn FnMut(&[String]) -> Result<BTreeMap<String, Option<String>>> + 'a;

/// Most keys one round asks about (the rest wait for the next round): keeps each query far below the engines'
/// limits on query text (Athena: 262,144 bytes).
pub const KEYS_PER_ROUND: usize = 1000;

/// Runs the rounds: the scope, then (for resources) the Config round, then issuers and sessions, alternately,
/// until no key is left to follow or `depth` CloudTrail rounds have run.
///
/// `issuer_stored(keys)` gives, for each of these session keys whose issuing call is already in the store (a rerun,
/// or a store that already holds part of the trail), the key that call was signed with: the chain goes on upward
/// from there without asking the engine for what is stored.
pub fn run_rounds(
    engine: &mut dyn Engine,
    terms: &[Term],
    filter: &Filter,
    depth: usize,
    tables: (&str, Option<&str>),
    issuer_stored: &mut IssuerStored<'_>,
) -> Result<Slice> {
    if terms.is_empty() {
        bail!("collect --via needs a scope: --resource, --principal, --access-key or --ip");
    }
    let dialect = engine.dialect();
    let mut slice = Slice::default();
    let mut asked_up: BTreeSet<String> = BTreeSet::new();
    let mut asked_down: BTreeSet<String> = BTreeSet::new();
    let mut ask_up: BTreeSet<String> = BTreeSet::new();
    let mut ask_down: BTreeSet<String> = BTreeSet::new();
    let resources: Vec<String> = terms
        .iter()
        .filter_map(|t| match t {
            Term::Resource(r) => Some(r.clone()),
            _ => None,
        })
        .collect();
    for t in terms {
        if let Term::AccessKey(k) = t {
            // Round 1 already finds both the calls signed with the key and the call that issued it.
            asked_up.insert(k.clone());
            asked_down.insert(k.clone());
        }
    }
    let mut ct_rounds = 0usize;
    let mut step = 0usize;
    let mut last = "";
    // Ids the Config round found for resources given by name (not IAM: IAM calls name roles and users by name).
    let mut resolved: Vec<String> = Vec::new();
    let needles: BTreeSet<String> = resources.iter().map(|r| resource_needle(r)).collect();
    loop {
        // Keys whose issuer is stored: go up through the store, not the engine.
        while !ask_up.is_empty() {
            let keys: Vec<String> = ask_up.iter().cloned().collect();
            let stored = issuer_stored(&keys)?;
            if stored.is_empty() {
                break;
            }
            for (k, parent) in stored {
                ask_up.remove(&k);
                if let Some(p) = parent.filter(|p| p.starts_with("ASIA")) {
                    if asked_up.insert(p.clone()) {
                        ask_up.insert(p);
                    }
                }
            }
        }
        if step >= 2 && resolved.is_empty() && ct_rounds >= depth.max(1) {
            slice.keys_left = ask_up.len() + ask_down.len();
            break;
        }
        let take = |set: &mut BTreeSet<String>| -> Vec<String> {
            let keys: Vec<String> = set.iter().take(KEYS_PER_ROUND).cloned().collect();
            for k in &keys {
                set.remove(k);
            }
            keys
        };
        // Issuers and sessions alternate while both have keys waiting.
        let up_next = !ask_up.is_empty() && (ask_down.is_empty() || last != "issuers");
        let (query, purpose) = match step {
            0 => (
                cloudtrail_query(dialect, tables.0, &Ask::Scope(terms), filter),
                "scope",
            ),
            1 if !resources.is_empty() && tables.1.is_some() => (
                config_query(dialect, tables.1.unwrap_or_default(), &resources, filter),
                "config",
            ),
            1 => {
                step += 1;
                continue;
            }
            2 if !resolved.is_empty() => {
                let more: Vec<Term> = std::mem::take(&mut resolved)
                    .into_iter()
                    .map(Term::Resource)
                    .collect();
                (
                    cloudtrail_query(dialect, tables.0, &Ask::Scope(&more), filter),
                    "resolved",
                )
            }
            _ if up_next => {
                let keys = take(&mut ask_up);
                (
                    cloudtrail_query(dialect, tables.0, &Ask::Issuers(&keys), filter),
                    "issuers",
                )
            }
            _ if !ask_down.is_empty() => {
                let keys = take(&mut ask_down);
                (
                    cloudtrail_query(dialect, tables.0, &Ask::Sessions(&keys), filter),
                    "sessions",
                )
            }
            _ => break,
        };
        last = purpose;
        let started = Instant::now();
        let answer = engine.run(&query, filter)?;
        let mut matched: BTreeSet<&str> = BTreeSet::new();
        let mut new_files = 0usize;
        let mut up: BTreeSet<String> = BTreeSet::new();
        let mut down: BTreeSet<String> = BTreeSet::new();
        // A key issued by a matched record has its issuer in hand: no round needs to look for it.
        for row in answer.rows.iter().filter(|_| purpose != "config") {
            if let Some(k) = row.issued_key.as_deref().filter(|k| !k.is_empty()) {
                asked_up.insert(k.to_string());
            }
        }
        if purpose == "config" {
            let ids: BTreeSet<String> = answer
                .rows
                .iter()
                .filter(|r| {
                    !r.issued_key
                        .as_deref()
                        .unwrap_or("")
                        .starts_with("AWS::IAM::")
                })
                .filter_map(|r| r.used_key.clone())
                .filter(|id| !id.is_empty() && !needles.contains(id))
                .collect();
            resolved = ids.into_iter().collect();
        }
        for row in &answer.rows {
            matched.insert(&row.path);
            if slice.files.insert(row.path.clone()) {
                new_files += 1;
            }
            if purpose == "config" {
                continue;
            }
            if let Some(k) = row.used_key.as_deref().filter(|k| k.starts_with("ASIA")) {
                if !asked_up.contains(k) {
                    up.insert(k.to_string());
                }
            }
            // Chains are followed away from the scope only: an issuer found going up is not followed back down
            // into the other sessions it started (they are not about the scope).
            if purpose == "issuers" {
                continue;
            }
            if let Some(k) = row.issued_key.as_deref().filter(|k| !k.is_empty()) {
                if !asked_down.contains(k) {
                    down.insert(k.to_string());
                }
            }
        }
        if query.table == Table::Cloudtrail {
            ct_rounds += 1;
        }
        asked_up.extend(up.iter().cloned());
        asked_down.extend(down.iter().cloned());
        ask_up.extend(up.iter().cloned());
        ask_down.extend(down.iter().cloned());
        slice.rounds.push(RoundReport {
            round: slice.rounds.len() + 1,
            engine: engine.name(),
            query_id: answer.query_id,
            table: query.table,
            purpose,
            sql: query.sql,
            parameters: query.params,
            bytes_scanned: answer.bytes_scanned,
            files_matched: matched.len(),
            files_fetched: new_files,
            keys_up: up.into_iter().collect(),
            keys_down: down.into_iter().collect(),
            seconds: started.elapsed().as_secs_f64(),
        });
        step += 1;
    }
    Ok(slice)
}

/// Runs one lineage round (`LineageAsk`) and adds its report to `slice`. Returns the files no earlier round named.
pub fn lineage_round(
    engine: &mut dyn Engine,
    table: &str,
    ask: &LineageAsk,
    filter: &Filter,
    slice: &mut Slice,
) -> Result<BTreeSet<String>> {
    let query = cloudtrail_query(engine.dialect(), table, &Ask::Lineage(ask), filter);
    let started = Instant::now();
    let answer = engine.run(&query, filter)?;
    let matched: BTreeSet<&str> = answer.rows.iter().map(|r| r.path.as_str()).collect();
    let mut new_files = BTreeSet::new();
    for p in &matched {
        if slice.files.insert(p.to_string()) {
            new_files.insert(p.to_string());
        }
    }
    slice.rounds.push(RoundReport {
        round: slice.rounds.len() + 1,
        engine: engine.name(),
        query_id: answer.query_id,
        table: query.table,
        purpose: "lineage",
        sql: query.sql,
        parameters: query.params,
        bytes_scanned: answer.bytes_scanned,
        files_matched: matched.len(),
        files_fetched: new_files.len(),
        keys_up: ask.issued.iter().cloned().collect(),
        keys_down: ask.keys.iter().cloned().collect(),
        seconds: started.elapsed().as_secs_f64(),
    });
    Ok(new_files)
}

/// A trail in a local or mounted folder, in the bucket's layout.
#[derive(Debug, Clone)]
pub struct LocalTrail {
    /// Every file of the layout, by service, with its size.
    files: BTreeMap<&'static str, Vec<(PathBuf, u64)>>,
    /// What could not be listed (an unreadable folder, a broken link), named.
    pub errors: Vec<String>,
}

/// The services a local trail is read for.
const LOCAL_SERVICES: &[&str] = &["CloudTrail", "CloudTrail-Digest", "Config"];

impl LocalTrail {
    /// Lists the folder once. Files outside the layout are not part of the trail.
    pub fn open(root: &Path) -> Result<LocalTrail> {
        if !root.is_dir() {
            bail!("{}: not a folder", root.display());
        }
        let mut files: BTreeMap<&'static str, Vec<(PathBuf, u64)>> = BTreeMap::new();
        let mut errors = Vec::new();
        for entry in walkdir::WalkDir::new(root)
            .follow_links(true)
            .sort_by_file_name()
        {
            // An unreadable folder or a broken link is reported and passed over, as `ingest` does.
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    errors.push(e.to_string());
                    continue;
                }
            };
            if !entry.file_type().is_file() {
                continue;
            }
            let text = entry.path().to_string_lossy().replace('\\', "/");
            let Some(k) = parse_key(&text) else { continue };
            if let Some(s) = LOCAL_SERVICES.iter().find(|s| **s == k.service) {
                let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
                files
                    .entry(s)
                    .or_default()
                    .push((entry.path().to_path_buf(), size));
            }
        }
        if !files.contains_key("CloudTrail") {
            bail!(
                "{}: no CloudTrail log file in the trail bucket's layout \
                 ([PREFIX/]AWSLogs/[o-ORG/]ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/...)",
                root.display()
            );
        }
        Ok(LocalTrail { files, errors })
    }

    /// A trail in S3, from a listing of its objects (`s3://BUCKET/KEY` as their paths): what an engine that reads
    /// S3 itself is given.
    pub fn from_objects(
        bucket: &str,
        objects: impl IntoIterator<Item = (String, u64)>,
    ) -> LocalTrail {
        let mut files: BTreeMap<&'static str, Vec<(PathBuf, u64)>> = BTreeMap::new();
        for (key, size) in objects {
            let Some(k) = parse_key(&key) else { continue };
            if let Some(s) = LOCAL_SERVICES.iter().find(|s| **s == k.service) {
                files
                    .entry(s)
                    .or_default()
                    .push((PathBuf::from(format!("s3://{bucket}/{key}")), size));
            }
        }
        LocalTrail {
            files,
            errors: Vec::new(),
        }
    }

    /// The files of a service that the filter keeps (account, region, day), sorted.
    pub fn files(&self, service: &str, filter: &Filter) -> Vec<(PathBuf, u64)> {
        let days = filter.days();
        self.files
            .get(service)
            .map(|v| {
                v.iter()
                    .filter(|(p, _)| {
                        let text = p.to_string_lossy().replace('\\', "/");
                        let Some(k) = parse_key(&text) else {
                            return false;
                        };
                        filter.account_ok(k.account)
                            && filter.region_ok(k.region)
                            && match (&days, k.date) {
                                (Some(days), Some(d)) => days.contains(&d),
                                _ => true,
                            }
                    })
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// How many files of the trail the filter keeps: what a full ingest of the window would read.
    pub fn files_in_window(&self, filter: &Filter) -> usize {
        LOCAL_SERVICES
            .iter()
            .map(|s| self.files(s, filter).len())
            .sum()
    }

    /// The digest files that cover log files: those of the same account (and organization), region and day, or
    /// of the next day (a digest is delivered up to an hour after the files it lists).
    pub fn digests_for(&self, logs: &BTreeSet<String>) -> Vec<PathBuf> {
        let mut wanted: BTreeSet<(Option<String>, String, String, NaiveDate)> = BTreeSet::new();
        for p in logs {
            let text = p.replace('\\', "/");
            if let Some(k) = parse_key(&text).filter(|k| k.service == "CloudTrail") {
                if let Some(d) = k.date {
                    let key = |d| {
                        (
                            k.org.map(str::to_string),
                            k.account.to_string(),
                            k.region.to_string(),
                            d,
                        )
                    };
                    wanted.insert(key(d));
                    if let Some(next) = d.checked_add_days(Days::new(1)) {
                        wanted.insert(key(next));
                    }
                }
            }
        }
        let mut out = Vec::new();
        for (p, _) in self.files.get("CloudTrail-Digest").into_iter().flatten() {
            let text = p.to_string_lossy().replace('\\', "/");
            if let Some(k) = parse_key(&text) {
                if let Some(d) = k.date {
                    let key = (
                        k.org.map(str::to_string),
                        k.account.to_string(),
                        k.region.to_string(),
                        d,
                    );
                    if wanted.contains(&key) {
                        out.push(p.clone());
                    }
                }
            }
        }
        out
    }
}

#[derive(Debug, Default, Serialize)]
pub struct ViaTotals {
    pub rounds: usize,
    pub bytes_scanned: u64,
    /// Files of the trail in the window (what a full ingest of the window would read); None when the trail was not
    /// listed (Athena: the engine reads the bucket, trailgraph lists only the digest prefixes it needs).
    pub files_in_window: Option<usize>,
    pub files_matched: usize,
    /// Matched files plus the digests that cover them: what was handed to the pipeline.
    pub files_fetched: usize,
    pub digests_fetched: usize,
    pub engine_seconds: f64,
    /// Session keys still waiting to be followed when `--depth` ended the rounds (0: every chain was followed).
    pub keys_left: usize,
    /// Files the store already held whole from an earlier run: not fetched again (S3 trails).
    pub files_already_stored: usize,
    /// Bytes downloaded (S3 trails; 0 for a local folder).
    pub bytes_fetched: u64,
    /// Requests to the engine's API (Athena), and the throttling errors among them (each retried after a backoff).
    pub engine_requests: u64,
    pub throttled: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn needles_are_the_name_inside_each_form() {
        assert_eq!(resource_needle("arn:aws:s3:::my-bucket"), "my-bucket");
        assert_eq!(resource_needle("arn:aws:s3:::b/k/x.json"), "k/x.json");
        assert_eq!(
            resource_needle("arn:aws:lambda:us-east-1:111122223333:function:fn:PROD"),
            "fn"
        );
        assert_eq!(
            resource_needle("arn:aws:dynamodb:us-east-1:111122223333:table/orders/index/byDate"),
            "orders"
        );
        assert_ne!(
            resource_needle("arn:aws:logs:us-east-1:111122223333:log-group:/aws/lambda/fn:*"),
            "*"
        );
        assert_eq!(
            resource_needle("arn:aws:iam::111122223333:role/ops/Deploy"),
            "Deploy"
        );
        assert_eq!(
            resource_needle("arn:aws:ec2:us-east-1:111122223333:security-group/sg-0abc"),
            "sg-0abc"
        );
        assert_eq!(resource_needle("AWS::S3::Bucket:my-bucket"), "my-bucket");
        assert_eq!(resource_needle("AWS::EC2::SecurityGroup:sg-1"), "sg-1");
        assert_eq!(resource_needle("s3://b/raw/a.csv?versionId=3"), "raw/a.csv");
        assert_eq!(resource_needle("s3://b"), "b");
        assert_eq!(resource_needle("orders"), "orders");
    }

    #[test]
    fn a_lineage_round_asks_for_every_kind_of_value_as_data() {
        let evil = "k') OR 1=1 --";
        let set = |v: &[&str]| {
            v.iter()
                .map(|s| s.to_string())
                .collect::<BTreeSet<String>>()
        };
        let ask = LineageAsk {
            needles: [
                vec!["acme-raw".to_string(), "orders/a.json".to_string()],
                vec![evil.to_string()],
            ]
            .into_iter()
            .collect(),
            keys: set(&["ASIA1", "AKIA2"]),
            principals: set(&["arn:aws:iam::111122223333:role/Analyst"]),
            issued: set(&["ASIA9"]),
            accounts: set(&["111122223333"]),
        };
        let q = cloudtrail_query(
            Dialect::Spark,
            "cloudtrail",
            &Ask::Lineage(&ask),
            &Filter::default(),
        );
        assert!(
            !q.sql.contains("1=1") && !q.sql.contains("orders/"),
            "{}",
            q.sql
        );
        for v in [
            "orders/a.json",
            evil,
            "ASIA1",
            "AKIA2",
            "ASIA9",
            "111122223333",
        ] {
            assert!(
                q.params.iter().any(|p| p == v),
                "{v} not bound: {:?}",
                q.params
            );
        }
        for name in JOB_CONTROL.iter().chain(JOB_SERVICES) {
            assert!(q.params.iter().any(|p| p == name), "{name}");
        }
        assert!(q
            .sql
            .contains("get_json_object(useridentity, '$.accessKeyId') IN"));
        assert!(q.sql.contains("credentials.accessKeyId') IN"));
        assert!(q.sql.contains("recipientaccountid IN"));
        let a = cloudtrail_query(
            Dialect::Athena,
            "db.t",
            &Ask::Lineage(&ask),
            &Filter::default(),
        );
        assert!(a.params.is_empty());
        assert!(a.sql.contains("'k'') OR 1=1 --'"), "{}", a.sql);
        assert!(a.sql.contains("eventname LIKE 'AssumeRole%'"), "{}", a.sql);
        // Splitting keeps every value exactly once.
        let (now, rest) = ask.clone().split(3);
        assert_eq!(now.len(), 3);
        assert_eq!(ask.len(), 7);
        let mut again = now.clone();
        again.extend(&rest);
        assert_eq!(again, ask);
        assert!(ask.minus(&again).is_empty());
    }

    #[test]
    fn scope_strings_never_reach_the_sql_text() {
        let evil = "x') OR 1=1 --\\'";
        let terms = [
            Term::Resource(evil.into()),
            Term::Principal(evil.into()),
            Term::Ip(evil.into()),
        ];
        let q = cloudtrail_query(
            Dialect::Spark,
            "cloudtrail",
            &Ask::Scope(&terms),
            &Filter::default(),
        );
        assert!(!q.sql.contains("1=1"), "{}", q.sql);
        assert_eq!(q.params.len(), 5);
        assert!(q.params.iter().all(|p| p == evil));
        let a = cloudtrail_query(
            Dialect::Athena,
            "db.t",
            &Ask::Scope(&terms),
            &Filter::default(),
        );
        assert!(a.params.is_empty());
        assert!(a.sql.contains("'x'') OR 1=1 --\\'''"), "{}", a.sql);
        assert_eq!(athena_literal("it's"), "'it''s'");
    }

    #[test]
    fn athena_rounds_prune_partitions() {
        let f = Filter {
            accounts: vec!["111122223333".into()],
            regions: vec![],
            since: Some(1_709_251_200_000), // 2024-03-01
            until: Some(1_709_337_599_000), // 2024-03-01T23:59:59
        };
        let q = cloudtrail_query(
            Dialect::Athena,
            "trail.cloudtrail_logs",
            &Ask::Sessions(&["ASIAXYZ".into()]),
            &f,
        );
        assert_eq!(
            q.sql,
            "SELECT DISTINCT \"$path\" AS path, useridentity.accesskeyid AS used_key, \
             json_extract_scalar(responseelements, '$.credentials.accessKeyId') AS issued_key\n\
             FROM trail.cloudtrail_logs\n\
             WHERE (useridentity.accesskeyid IN ('ASIAXYZ'))\n  AND account IN ('111122223333')\n  \
             AND \"timestamp\" BETWEEN '2024/03/01' AND '2024/03/02'"
        );
    }
    /// An engine that answers from a table of records: (path, used key, issued key, text it mentions).
    struct Fake {
        records: Vec<(
            &'static str,
            Option<&'static str>,
            Option<&'static str>,
            &'static str,
        )>,
        asked: Vec<(String, Vec<String>)>,
    }

    impl Engine for Fake {
        fn name(&self) -> &'static str {
            "spark"
        }
        fn dialect(&self) -> Dialect {
            Dialect::Spark
        }
        fn run(&mut self, q: &Query, _: &Filter) -> Result<Answer> {
            let kind = if q.table == Table::Config {
                "config"
            } else if q
                .sql
                .contains("get_json_object(responseelements, '$.credentials.accessKeyId') IN")
            {
                "issuers"
            } else if q
                .sql
                .contains("get_json_object(useridentity, '$.accessKeyId') IN")
            {
                "sessions"
            } else {
                "scope"
            };
            self.asked.push((kind.to_string(), q.params.clone()));
            let rows = self
                .records
                .iter()
                .filter(|(path, used, issued, text)| match kind {
                    "config" => {
                        path.starts_with('c') && q.params.iter().any(|p| text.contains(p.as_str()))
                    }
                    _ if path.starts_with('c') => false,
                    "issuers" => issued.is_some_and(|k| q.params.iter().any(|p| p == k)),
                    "sessions" => used.is_some_and(|k| q.params.iter().any(|p| p == k)),
                    _ => q
                        .params
                        .iter()
                        .any(|p| text.contains(p.as_str()) || *used == Some(p.as_str())),
                })
                .map(|(p, u, i, _)| Row {
                    path: p.to_string(),
                    used_key: u.map(str::to_string),
                    issued_key: i.map(str::to_string),
                })
                .collect();
            Ok(Answer {
                query_id: String::new(),
                rows,
                bytes_scanned: 1,
            })
        }
    }

    fn fake() -> Fake {
        Fake {
            records: vec![
                // alice (long-term key) assumes Admin (ASIA1), which assumes DataOps (ASIA2), which changes sg-1.
                ("f1", Some("AKIAALICE"), Some("ASIA1"), "AssumeRole Admin"),
                ("f2", Some("ASIA1"), Some("ASIA2"), "AssumeRole DataOps"),
                (
                    "f3",
                    Some("ASIA2"),
                    None,
                    "AuthorizeSecurityGroupIngress sg-1",
                ),
                // Admin's session also started another session (ASIA3) that did unrelated things.
                ("f4", Some("ASIA1"), Some("ASIA3"), "AssumeRole Other"),
                ("f5", Some("ASIA3"), None, "PutObject other"),
                // A Config item of the security group named web (its id is sg-0abc), and a call naming the id only.
                (
                    "c1",
                    Some("sg-0abc"),
                    Some("AWS::EC2::SecurityGroup"),
                    "item web",
                ),
                (
                    "f6",
                    Some("AKIABOB"),
                    None,
                    "RevokeSecurityGroupIngress sg-0abc",
                ),
            ],
            asked: Vec::new(),
        }
    }

    #[test]
    fn rounds_climb_the_chain_and_do_not_come_back_down() {
        let mut e = fake();
        let terms = [Term::Resource("sg-1".into())];
        let mut none = |_: &[String]| Ok(BTreeMap::new());
        let s = run_rounds(
            &mut e,
            &terms,
            &Filter::default(),
            8,
            ("ct", Some("cfg")),
            &mut none,
        )
        .unwrap();
        let files: Vec<&str> = s.files.iter().map(String::as_str).collect();
        assert_eq!(files, ["f1", "f2", "f3"]);
        let kinds: Vec<&str> = e.asked.iter().map(|(k, _)| k.as_str()).collect();
        // scope, Config (no item), issuers of ASIA2, issuers of ASIA1; never the sessions of ASIA3.
        assert_eq!(kinds, ["scope", "config", "issuers", "issuers"]);
        assert_eq!(s.keys_left, 0);
    }

    #[test]
    fn a_principal_s_sessions_are_followed_down() {
        let mut e = fake();
        let terms = [Term::Principal("AKIAALICE".into())];
        let mut none = |_: &[String]| Ok(BTreeMap::new());
        let s = run_rounds(
            &mut e,
            &terms,
            &Filter::default(),
            8,
            ("ct", Some("cfg")),
            &mut none,
        )
        .unwrap();
        let files: Vec<&str> = s.files.iter().map(String::as_str).collect();
        // f1 is signed with alice's key; then the sessions ASIA1 started, and ASIA2 and ASIA3 after them.
        assert_eq!(files, ["f1", "f2", "f3", "f4", "f5"]);
        // With depth 2, one sessions round runs and the keys it revealed are left, counted.
        let mut e = fake();
        let s = run_rounds(
            &mut e,
            &terms,
            &Filter::default(),
            2,
            ("ct", Some("cfg")),
            &mut none,
        )
        .unwrap();
        assert_eq!(s.rounds.len(), 2);
        assert_eq!(s.keys_left, 2);
    }

    #[test]
    fn stored_issuers_are_climbed_through_the_store() {
        let mut e = fake();
        let terms = [Term::Resource("sg-1".into())];
        // The store holds the call that issued ASIA2 (signed with ASIA1), but not ASIA1's issuer.
        let mut stored = |keys: &[String]| {
            Ok(keys
                .iter()
                .filter(|k| *k == "ASIA2")
                .map(|k| (k.clone(), Some("ASIA1".to_string())))
                .collect())
        };
        let s = run_rounds(
            &mut e,
            &terms,
            &Filter::default(),
            8,
            ("ct", Some("cfg")),
            &mut stored,
        )
        .unwrap();
        let asked: Vec<(String, Vec<String>)> = e
            .asked
            .into_iter()
            .filter(|(k, _)| k == "issuers")
            .collect();
        assert_eq!(asked, [("issuers".to_string(), vec!["ASIA1".to_string()])]);
        // f2, the stored issuer, is not fetched again.
        let files: Vec<&str> = s.files.iter().map(String::as_str).collect();
        assert_eq!(files, ["f1", "f3"]);
    }

    #[test]
    fn a_name_resolved_by_config_is_searched_by_its_id() {
        let mut e = fake();
        let mut none = |_: &[String]| Ok(BTreeMap::new());
        let terms = [Term::Resource("web".into())];
        let s = run_rounds(
            &mut e,
            &terms,
            &Filter::default(),
            8,
            ("ct", Some("cfg")),
            &mut none,
        )
        .unwrap();
        let purposes: Vec<&str> = s.rounds.iter().map(|r| r.purpose).collect();
        assert_eq!(purposes, ["scope", "config", "resolved"]);
        let files: Vec<&str> = s.files.iter().map(String::as_str).collect();
        assert_eq!(files, ["c1", "f6"]);
    }
}
