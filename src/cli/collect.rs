//! `trailgraph collect`: live collection from AWS (feature `aws`, docs/collect.md).
//!
//! `collect s3://BUCKET[/PREFIX]` syncs a trail bucket; `collect lookup-events | public-keys | lake | config-*`
//! call the APIs. Everything fetched goes through the ingest pipeline (`crate::pipeline`) as sources named
//! by where they came from (`s3://bucket/key`, `lookup-events://REGION/...`), so the S3 key layout still gives
//! account and region, and nothing is parsed twice.

use super::ingest::{parse_size, progress_bar};
use super::output::sanitize;
use super::{parse_when, resolve_format, Format, Outcome};
use crate::collect::cloudtrail::{self, Counters, Page};
use crate::collect::layout::Filter;
use crate::collect::s3::{self, BucketUri};
use crate::collect::{self as aws, AwsOptions, CollectError};
use crate::ingest::source::{read_bytes, ReadOptions};
use crate::pipeline::remote::{download_tree_into, sync_bucket, CollectSummary, SyncOptions};
use crate::pipeline::{pipeline, Loaded, PipelineOptions};
use crate::store::{Store, StoredKey};
use anyhow::{Context, Result};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct Args {
    #[command(subcommand)]
    api: Option<Api>,
    /// The trail bucket: s3://BUCKET[/PREFIX] (the prefix above AWSLogs/, or a prefix inside the layout).
    #[arg(value_name = "s3://BUCKET[/PREFIX]", required = true)]
    uri: Option<String>,
    #[command(flatten)]
    sync: SyncArgs,
    #[command(flatten)]
    via: ViaArgs,
    #[command(flatten)]
    aws: AwsArgs,
    #[command(flatten)]
    out: OutArgs,
}

/// The engines `collect --via` can drive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Via {
    /// Amazon Athena over the trail bucket's table (trailgraph athena-ddl makes one); the files are fetched from S3
    Athena,
    /// Apache Spark (spark-submit; local[N], yarn, spark://, k8s://) over a trail in a local or mounted folder
    Spark,
}

/// `collect TRAIL --via ENGINE SCOPE...`: a distributed engine reads the whole trail, trailgraph fetches only the
/// files that hold the scope and the session chains around it (docs/collect.md).
#[derive(clap::Args, Debug, Clone)]
struct ViaArgs {
    /// Let this engine do the wide pass over the trail, and fetch only what the scope needs.
    #[arg(long, value_enum)]
    via: Option<Via>,
    /// Scope: a resource, in the forms who-changed and lineage accept (ARN, AWS::TYPE:ID, name, s3://b/k).
    #[arg(long = "resource", value_name = "R", requires = "via")]
    resources: Vec<String>,
    /// Scope: a principal, in the forms timeline accepts (user or role name, ARN, session ARN, AROA...:session).
    #[arg(long = "principal", value_name = "P", requires = "via")]
    principals: Vec<String>,
    /// Scope: an access key id.
    #[arg(long = "access-key", value_name = "K", requires = "via")]
    access_keys: Vec<String>,
    /// Scope: a source IP address.
    #[arg(long = "ip", value_name = "A", requires = "via")]
    ips: Vec<String>,
    /// Most CloudTrail rounds (the scope, then issuers of session keys and sessions started, alternately).
    #[arg(long, default_value_t = 8, requires = "via")]
    depth: usize,
    /// Dataset hops the slice is closed for `lineage TARGET --both --depth N` on, for every --resource that
    /// lineage answers for (an s3:// object or prefix, a Glue job, a run, query or statement id); 0: no lineage
    /// rounds.
    #[arg(long, default_value_t = 5, value_name = "N", requires = "via")]
    lineage_depth: usize,
    /// Spark master: local[N], yarn, spark://HOST:PORT, k8s://...
    #[arg(long, default_value = "local[2]", value_name = "MASTER")]
    spark_master: String,
    /// The Python that runs the PySpark driver (pip install pyspark; Spark needs Java 17).
    #[arg(long, default_value = "python3", value_name = "PROGRAM")]
    spark_python: String,
    /// Extra Spark settings, KEY=VALUE (repeatable), as spark-submit --conf would set them.
    #[arg(long = "spark-conf", value_name = "KEY=VALUE")]
    spark_conf: Vec<String>,
    /// Athena: the CloudTrail table, DATABASE.TABLE (make it with `trailgraph athena-ddl`).
    #[arg(long, value_name = "DB.TABLE")]
    athena_table: Option<String>,
    /// Athena: the AWS Config table (`athena-ddl --config-table`); without it the Config history of the resources in
    /// scope is not fetched.
    #[arg(long, value_name = "DB.TABLE")]
    athena_config_table: Option<String>,
    /// Athena: the workgroup the queries run in (Athena's default: primary).
    #[arg(long, value_name = "NAME")]
    athena_workgroup: Option<String>,
    /// Athena: where results are written, s3://BUCKET/PREFIX/ (needed unless the workgroup sets it).
    #[arg(long, value_name = "s3://...")]
    athena_output: Option<String>,
    /// Athena: seconds between two status checks while a query is queued or running.
    #[arg(long, default_value_t = 1.0, value_name = "SECONDS")]
    athena_poll: f64,
    /// Athena: endpoint URL of the Athena API (a VPC endpoint, a test server); --endpoint-url is S3's.
    #[arg(long, value_name = "URL")]
    athena_endpoint_url: Option<String>,
}

impl ViaArgs {
    /// The scope, in the order given by kind.
    fn terms(&self) -> Result<Vec<crate::collect::slice::Term>> {
        use crate::collect::slice::Term;
        let mut terms: Vec<Term> = Vec::new();
        terms.extend(self.resources.iter().cloned().map(Term::Resource));
        terms.extend(self.principals.iter().cloned().map(Term::Principal));
        terms.extend(self.access_keys.iter().cloned().map(Term::AccessKey));
        terms.extend(self.ips.iter().cloned().map(Term::Ip));
        if terms.is_empty() {
            anyhow::bail!(
                "collect --via needs a scope: --resource, --principal, --access-key or --ip"
            );
        }
        Ok(terms)
    }
}

/// What every collect command takes to reach AWS.
#[derive(clap::Args, Debug, Clone)]
struct AwsArgs {
    /// Named profile (else AWS_PROFILE, else the default credential chain: env, profile, SSO, process, IMDS).
    #[arg(long)]
    profile: Option<String>,
    /// Region of the API calls (of the bucket, for a bucket sync); else the profile's or AWS_REGION.
    #[arg(long)]
    region: Option<String>,
    /// Endpoint URL (S3-compatible stores, local test servers); S3 then uses path-style addressing.
    #[arg(long, value_name = "URL")]
    endpoint_url: Option<String>,
}

#[derive(clap::Args, Debug, Clone)]
struct OutArgs {
    /// Summary format on stdout (table on a terminal, json otherwise).
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// No progress on stderr (the summary is still printed).
    #[arg(long, short)]
    quiet: bool,
    /// Treat record-level errors as failures (as `ingest --strict`).
    #[arg(long)]
    strict: bool,
    /// Largest decompressed size accepted for one object, in bytes (suffixes K, M, G).
    #[arg(long, default_value = "512M", value_parser = parse_size)]
    max_file_size: u64,
    /// When another ingest or collect is writing to the store: refuse (exit 2) instead of waiting for it.
    #[arg(long)]
    no_wait: bool,
}

impl SyncArgs {
    /// The window and the accounts and regions asked for.
    fn window(&self) -> Filter {
        Filter {
            accounts: self.account.clone(),
            regions: self.trail_region.clone(),
            since: self.since,
            until: self.until,
        }
    }

    /// The same, with every account checked (12 digits): for the commands that list a bucket by account.
    fn checked_window(&self) -> Result<Filter> {
        let filter = self.window();
        if let Some(bad) = filter
            .accounts
            .iter()
            .find(|x| !crate::collect::layout::is_account(x))
        {
            anyhow::bail!("--account {bad:?}: not a 12-digit account id");
        }
        Ok(filter)
    }
}

impl OutArgs {
    /// How the fetched files are read, with `jobs` parsing threads (1 to 64).
    fn file_options(&self, jobs: usize) -> crate::pipeline::FileOptions {
        crate::pipeline::FileOptions {
            strict: self.strict,
            quiet: self.quiet,
            max_file_size: self.max_file_size,
            jobs: Some(jobs.clamp(1, 64)),
        }
    }
}

#[derive(clap::Args, Debug, Clone)]
struct SyncArgs {
    /// Only these accounts (repeatable or comma-separated).
    #[arg(long, value_delimiter = ',')]
    account: Vec<String>,
    /// Only the trail's files of these regions (repeatable or comma-separated). `--region` is the bucket's.
    #[arg(long = "trail-region", value_delimiter = ',', value_name = "REGION")]
    trail_region: Vec<String>,
    /// Only files of events from this time on (lists only the date prefixes needed).
    #[arg(long, value_parser = parse_when)]
    since: Option<i64>,
    /// Only files of events up to this time.
    #[arg(long, value_parser = parse_when)]
    until: Option<i64>,
    /// Downloads in flight at once (also the number of parsing threads).
    #[arg(long, default_value_t = 8)]
    jobs: usize,
    /// Also keep every fetched object here, in the bucket's key layout, with digest signatures as
    /// `<digest>.metadata.json` sidecars (what `verify DIR` reads).
    #[arg(long, value_name = "DIR")]
    mirror: Option<PathBuf>,
}

#[derive(clap::Subcommand, Debug)]
enum Api {
    /// CloudTrail LookupEvents (management events of the last 90 days), at most 2 requests/s
    LookupEvents {
        #[arg(long, value_parser = parse_when)]
        since: Option<i64>,
        #[arg(long, value_parser = parse_when)]
        until: Option<i64>,
        /// KEY=VALUE: Username, EventName, ResourceName, ResourceType, EventSource, EventId, AccessKeyId, ReadOnly
        #[arg(long, value_parser = cloudtrail::lookup_attribute)]
        lookup_attribute: Option<(String, String)>,
        /// Requests per second (the service allows 2 per account and region).
        #[arg(long, default_value_t = 2.0)]
        rate: f64,
        #[command(flatten)]
        aws: AwsArgs,
        #[command(flatten)]
        out: OutArgs,
    },
    /// CloudTrail ListPublicKeys: keep the keys valid in the window in the store, for offline `verify`
    PublicKeys {
        #[arg(long, value_parser = parse_when)]
        since: Option<i64>,
        #[arg(long, value_parser = parse_when)]
        until: Option<i64>,
        #[command(flatten)]
        aws: AwsArgs,
        #[command(flatten)]
        out: OutArgs,
    },
    /// CloudTrail Lake: run a SQL query (StartQuery, GetQueryResults) and ingest the rows
    Lake {
        /// The query, e.g. "SELECT eventJson FROM EDS_ID WHERE eventTime > '2024-03-01 00:00:00'"
        #[arg(long)]
        query: String,
        /// Seconds between status checks while the query runs.
        #[arg(long, default_value_t = 1.0)]
        poll: f64,
        #[command(flatten)]
        aws: AwsArgs,
        #[command(flatten)]
        out: OutArgs,
    },
    /// AWS Config GetResourceConfigHistory of a resource, or of every resource of a type (ListDiscoveredResources)
    ConfigHistory {
        /// e.g. AWS::S3::Bucket
        #[arg(long)]
        resource_type: String,
        /// Without it: every discovered resource of the type.
        #[arg(long)]
        resource_id: Option<String>,
        #[arg(long, value_parser = parse_when)]
        since: Option<i64>,
        #[arg(long, value_parser = parse_when)]
        until: Option<i64>,
        #[command(flatten)]
        aws: AwsArgs,
        #[command(flatten)]
        out: OutArgs,
    },
    /// AWS Config BatchGetResourceConfig: the current state of resources
    ConfigBatch {
        /// TYPE=ID (repeatable), e.g. AWS::S3::Bucket=my-bucket
        #[arg(long = "resource", value_parser = resource_key, required = true)]
        resources: Vec<(String, String)>,
        #[command(flatten)]
        aws: AwsArgs,
        #[command(flatten)]
        out: OutArgs,
    },
    /// AWS Config SelectResourceConfig (advanced query)
    ConfigSelect {
        /// e.g. "SELECT * WHERE resourceType = 'AWS::S3::Bucket'"
        #[arg(long)]
        expression: String,
        #[command(flatten)]
        aws: AwsArgs,
        #[command(flatten)]
        out: OutArgs,
    },
}

fn resource_key(s: &str) -> std::result::Result<(String, String), String> {
    match s.split_once('=') {
        Some((t, id)) if !t.is_empty() && !id.is_empty() => Ok((t.to_string(), id.to_string())),
        _ => Err(format!(
            "{s:?}: expected TYPE=ID, e.g. AWS::S3::Bucket=my-bucket"
        )),
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")
}

impl AwsArgs {
    fn options(&self) -> AwsOptions {
        AwsOptions {
            profile: self.profile.clone(),
            region: self.region.clone(),
            endpoint_url: self.endpoint_url.clone(),
        }
    }
}

/// Loads the SDK configuration and checks that credentials resolve.
fn connect(rt: &tokio::runtime::Runtime, a: &AwsArgs) -> Result<aws_config::SdkConfig> {
    connect_with(rt, a.options())
}

fn connect_with(rt: &tokio::runtime::Runtime, opts: AwsOptions) -> Result<aws_config::SdkConfig> {
    rt.block_on(async {
        let conf = aws::sdk_config(&opts).await;
        aws::check_credentials(&conf, &opts).await?;
        Ok::<_, CollectError>(conf)
    })
    .map_err(anyhow::Error::from)
}

pub fn run(db: &Path, args: &Args) -> Result<Outcome> {
    match &args.api {
        None if args.via.via == Some(Via::Athena) => {
            let uri = args.uri.as_deref().unwrap_or_default();
            via_athena(db, uri, &args.sync, &args.via, &args.aws, &args.out)
        }
        None if args.via.via.is_some() => {
            let uri = args.uri.as_deref().unwrap_or_default();
            via(db, uri, &args.sync, &args.via, &args.aws, &args.out)
        }
        None => {
            let uri = args.uri.as_deref().unwrap_or_default();
            sync(db, uri, &args.sync, &args.aws, &args.out)
        }
        Some(api) => run_api(db, api),
    }
}

fn finish(summary: &mut CollectSummary, started: Instant, out: &OutArgs) -> Result<Outcome> {
    summary.seconds = started.elapsed().as_secs_f64();
    summary.ingest.seconds = summary.seconds;
    print_summary(summary, out.format)?;
    Ok(
        if summary.ingest.files_failed > 0 || summary.objects_failed > 0 {
            Outcome::Problems
        } else {
            Outcome::Ok
        },
    )
}

/// `collect TRAIL --via spark SCOPE...`.
fn via(
    db: &Path,
    trail: &str,
    a: &SyncArgs,
    v: &ViaArgs,
    aws_args: &AwsArgs,
    out: &OutArgs,
) -> Result<Outcome> {
    use crate::collect::slice::LocalTrail;
    use crate::collect::spark::{Spark, SparkOptions};
    use crate::pipeline::ViaSummary;
    let started = Instant::now();
    let terms = v.terms()?;
    if trail.starts_with("s3://") {
        return via_spark_s3(db, trail, a, v, aws_args, out);
    }
    let filter = a.window();
    let root = PathBuf::from(trail);
    let local = LocalTrail::open(&root)?;
    for e in &local.errors {
        eprintln!("trailgraph: warning: {}", sanitize(e));
    }
    let _lock = super::run_lock(db, "collect", out.no_wait, out.quiet)?;
    let mut store = Store::open(db)?;
    let mut engine = Spark::start(
        &SparkOptions {
            master: v.spark_master.clone(),
            python: v.spark_python.clone(),
            conf: v.spark_conf.clone(),
            s3_endpoint: None,
        },
        local.clone(),
    )?;
    let progress = progress_bar(0, "files", out.quiet);
    let (slice, totals, ingest) = crate::pipeline::ingest_slice(
        &mut store,
        db,
        &local,
        &mut engine,
        &terms,
        &filter,
        v.depth,
        v.lineage_depth,
        &out.file_options(a.jobs),
        &progress,
    )?;
    let summary = ViaSummary {
        command: "via",
        engine: "spark",
        engine_version: engine.version.clone(),
        trail: trail.to_string(),
        scope: terms,
        depth: v.depth,
        lineage_depth: v.lineage_depth,
        rounds: slice.rounds,
        totals,
        ingest,
        seconds: started.elapsed().as_secs_f64(),
    };
    drop(engine);
    finish_via(summary, &local.errors, out.format)
}

/// `collect s3://BUCKET[/PREFIX] --via spark SCOPE...`: trailgraph lists the trail's objects in the window (as the
/// sync does), Spark's executors read them from S3, and the files the rounds name are fetched as for Athena.
fn via_spark_s3(
    db: &Path,
    trail: &str,
    a: &SyncArgs,
    v: &ViaArgs,
    aws_args: &AwsArgs,
    out: &OutArgs,
) -> Result<Outcome> {
    use crate::collect::slice::LocalTrail;
    use crate::collect::spark::{Spark, SparkOptions};
    use crate::pipeline::ViaSummary;
    let started = Instant::now();
    let terms = v.terms()?;
    let uri = BucketUri::parse(trail).map_err(anyhow::Error::msg)?;
    let filter = a.checked_window()?;
    let rt = runtime()?;
    let conf = connect(&rt, aws_args)?;
    let client = s3::client(&conf, aws_args.endpoint_url.is_some());
    let listing = rt.block_on(s3::list_bucket(&client, &uri, &filter, a.jobs.max(1)))?;
    let trail_files = LocalTrail::from_objects(
        &uri.bucket,
        listing.objects.iter().map(|o| (o.key.clone(), o.size)),
    );
    let in_window = trail_files.files_in_window(&filter);
    if trail_files.files("CloudTrail", &filter).is_empty() {
        anyhow::bail!(
            "{}: no CloudTrail log file in the window, in the trail bucket's layout \
             ([PREFIX/]AWSLogs/[o-ORG/]ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/...)",
            sanitize(&uri.to_string())
        );
    }
    let _lock = super::run_lock(db, "collect", out.no_wait, out.quiet)?;
    let mut store = Store::open(db)?;
    let mut engine = Spark::start(
        &SparkOptions {
            master: v.spark_master.clone(),
            python: v.spark_python.clone(),
            conf: v.spark_conf.clone(),
            s3_endpoint: aws_args.endpoint_url.clone(),
        },
        trail_files,
    )?;
    let progress = progress_bar(0, "objects", out.quiet);
    let r = crate::pipeline::remote::ingest_s3_slice(
        &mut store,
        rt.handle(),
        &client,
        &mut engine,
        ("cloudtrail", Some("config")),
        &terms,
        &filter,
        v.depth,
        v.lineage_depth,
        &out.file_options(a.jobs),
        &progress,
    )?;
    progress.finish_and_clear();
    let mut totals = r.totals;
    totals.files_in_window = Some(in_window);
    let summary = ViaSummary {
        command: "via",
        engine: "spark",
        engine_version: engine.version.clone(),
        trail: uri.to_string(),
        scope: terms,
        depth: v.depth,
        lineage_depth: v.lineage_depth,
        rounds: r.slice.rounds,
        totals,
        ingest: r.ingest,
        seconds: started.elapsed().as_secs_f64(),
    };
    drop(engine);
    finish_via(summary, &r.listing_errors, out.format)
}

/// `collect s3://BUCKET[/PREFIX] --via athena SCOPE...`.
fn via_athena(
    db: &Path,
    trail: &str,
    a: &SyncArgs,
    v: &ViaArgs,
    aws_args: &AwsArgs,
    out: &OutArgs,
) -> Result<Outcome> {
    use crate::collect::athena::{Athena, AthenaOptions};
    use crate::pipeline::ViaSummary;
    let started = Instant::now();
    let terms = v.terms()?;
    let uri = BucketUri::parse(trail)
        .map_err(|e| anyhow::anyhow!("collect --via athena reads the trail from S3: {e}"))?;
    let Some(table) = v.athena_table.clone() else {
        anyhow::bail!(
            "collect --via athena needs --athena-table DATABASE.TABLE: the trail's CloudTrail table \
             (`trailgraph athena-ddl {} --account ...` prints the statement that makes one)",
            sanitize(&uri.to_string())
        );
    };
    if !(v.athena_poll.is_finite() && (0.01..=600.0).contains(&v.athena_poll)) {
        anyhow::bail!(
            "--athena-poll {}: expected seconds, from 0.01 to 600",
            v.athena_poll
        );
    }
    let filter = a.checked_window()?;
    let rt = runtime()?;
    let conf = connect(&rt, aws_args)?;
    let mut engine = Athena::new(
        &conf,
        v.athena_endpoint_url.as_deref(),
        rt.handle().clone(),
        AthenaOptions {
            table,
            config_table: v.athena_config_table.clone(),
            workgroup: v.athena_workgroup.clone(),
            output: v.athena_output.clone(),
            poll: Duration::from_secs_f64(v.athena_poll),
        },
    )?;
    let client = s3::client(&conf, aws_args.endpoint_url.is_some());
    let _lock = super::run_lock(db, "collect", out.no_wait, out.quiet)?;
    let mut store = Store::open(db)?;
    let progress = progress_bar(0, "objects", out.quiet);
    let (ct, cfg) = engine.tables();
    let r = crate::pipeline::remote::ingest_s3_slice(
        &mut store,
        rt.handle(),
        &client,
        &mut engine,
        (&ct, cfg.as_deref()),
        &terms,
        &filter,
        v.depth,
        v.lineage_depth,
        &out.file_options(a.jobs),
        &progress,
    )?;
    progress.finish_and_clear();
    let mut totals = r.totals;
    totals.engine_requests = engine.counters.requests;
    totals.throttled = engine.counters.throttled;
    let summary = ViaSummary {
        command: "via",
        engine: "athena",
        engine_version: engine.version.clone(),
        trail: uri.to_string(),
        scope: terms,
        depth: v.depth,
        lineage_depth: v.lineage_depth,
        rounds: r.slice.rounds,
        totals,
        ingest: r.ingest,
        seconds: started.elapsed().as_secs_f64(),
    };
    finish_via(summary, &r.listing_errors, out.format)
}

/// How every `--via` run ends: what could not be listed is a failure of the run (as for `ingest`), the summary is
/// printed, and failures make the outcome.
fn finish_via(
    mut summary: crate::pipeline::ViaSummary,
    errors: &[String],
    format: Option<Format>,
) -> Result<Outcome> {
    for e in errors {
        summary.ingest.files_failed += 1;
        summary.ingest.failures.push(crate::pipeline::Failure {
            path: String::new(),
            reason: e.clone(),
        });
    }
    print_via_summary(&summary, format)?;
    Ok(if summary.ingest.files_failed > 0 {
        Outcome::Problems
    } else {
        Outcome::Ok
    })
}

fn print_via_summary(s: &crate::pipeline::ViaSummary, format: Option<Format>) -> Result<()> {
    let mut o = super::output::stdout();
    match resolve_format(format) {
        Format::Json => {
            serde_json::to_writer_pretty(&mut o, s)?;
            writeln!(o)?;
        }
        Format::Table => {
            writeln!(
                o,
                "{} round(s) on {} {}: {} file(s) matched{}, {} fetched with {} digest(s); {} bytes scanned",
                s.totals.rounds,
                s.engine,
                sanitize(&s.engine_version),
                s.totals.files_matched,
                s.totals
                    .files_in_window
                    .map(|n| format!(" of {n} in the window"))
                    .unwrap_or_default(),
                s.totals.files_fetched,
                s.totals.digests_fetched,
                s.totals.bytes_scanned
            )?;
            if s.totals.files_already_stored > 0 {
                writeln!(
                    o,
                    "  {} file(s) already stored whole by an earlier run were not fetched again",
                    s.totals.files_already_stored
                )?;
            }
            for r in &s.rounds {
                writeln!(
                    o,
                    "  round {} ({}, {:?}): {} file(s) matched, {} to fetch; keys up {}, down {}; {:.1}s",
                    r.round,
                    r.purpose,
                    r.table,
                    r.files_matched,
                    r.files_fetched,
                    r.keys_up.len(),
                    r.keys_down.len(),
                    r.seconds
                )?;
            }
            writeln!(
                o,
                "ingested {} new source(s) ({} already known, {} unchanged, {} failed); events new {}",
                s.ingest.sources_new,
                s.ingest.sources_already_known,
                s.ingest.files_unchanged,
                s.ingest.files_failed,
                s.ingest.events_new
            )?;
        }
    }
    o.flush()?;
    Ok(())
}

fn sync(db: &Path, uri: &str, a: &SyncArgs, aws_args: &AwsArgs, out: &OutArgs) -> Result<Outcome> {
    let started = Instant::now();
    let uri = BucketUri::parse(uri).map_err(anyhow::Error::msg)?;
    let filter = a.checked_window()?;
    let _lock = super::run_lock(db, "collect", out.no_wait, out.quiet)?;
    let mut store = Store::open(db)?;
    let rt = runtime()?;
    let conf = connect(&rt, aws_args)?;
    let client = s3::client(&conf, aws_args.endpoint_url.is_some());
    let jobs = a.jobs.max(1);
    let progress = progress_bar(0, "objects", out.quiet);
    let mut summary = sync_bucket(
        &mut store,
        rt.handle(),
        &client,
        &uri,
        &filter,
        &SyncOptions {
            jobs,
            mirror: a.mirror.as_deref(),
            strict: out.strict,
            quiet: out.quiet,
            max_file_size: out.max_file_size,
        },
        &progress,
    )?;
    if !out.quiet {
        let secs = started.elapsed().as_secs_f64().max(1e-9);
        eprintln!(
            "trailgraph: fetched {} object(s), {:.1} MB ({:.1} MB/s), skipped {}, failed {}; {} new event(s), {} new config item(s)",
            summary.objects_fetched,
            summary.bytes_fetched as f64 / 1e6,
            summary.bytes_fetched as f64 / 1e6 / secs,
            summary.objects_skipped,
            summary.objects_failed,
            summary.ingest.events_new,
            summary.ingest.config_items_new
        );
        if summary.digests_unsigned > 0 {
            eprintln!(
                "trailgraph: warning: {} digest(s) without `signature` metadata: verify will report them unsigned",
                summary.digests_unsigned
            );
        }
    }
    finish(&mut summary, started, out)
}

/// `verify s3://BUCKET[/PREFIX]`: downloads what the filter keeps into `dir` in the bucket's key layout, each
/// digest's signature metadata as its `<digest>.metadata.json` sidecar, so the offline verifier reads it as a
/// local copy. Returns the bucket and the number of objects downloaded. Any failed download is an error: a
/// verification over an incomplete copy would report files as missing that are not.
pub(crate) fn download_tree(
    uri: &str,
    filter: &Filter,
    opts: AwsOptions,
    dir: &Path,
    jobs: usize,
) -> Result<(BucketUri, u64)> {
    let uri = BucketUri::parse(uri).map_err(anyhow::Error::msg)?;
    let rt = runtime()?;
    let path_style = opts.endpoint_url.is_some();
    let conf = connect_with(&rt, opts)?;
    let client = s3::client(&conf, path_style);
    let n = rt.block_on(download_tree_into(&client, &uri, filter, dir, jobs))?;
    Ok((uri, n))
}

/// Ingests API pages through the pipeline (in batches, so memory stays bounded on long results).
struct PageIngest<'a> {
    store: &'a mut Store,
    opts: ReadOptions,
    pipeline: PipelineOptions,
    batch: Vec<Page>,
}

impl PageIngest<'_> {
    const BATCH: usize = 100;

    fn push(&mut self, page: Page, summary: &mut CollectSummary) -> Result<()> {
        summary.pages += 1;
        self.batch.push(page);
        if self.batch.len() >= Self::BATCH {
            self.flush(summary)?;
        }
        Ok(())
    }

    fn flush(&mut self, summary: &mut CollectSummary) -> Result<()> {
        let pages = std::mem::take(&mut self.batch);
        let slots: Vec<std::sync::Mutex<Option<Page>>> = pages
            .into_iter()
            .map(|p| std::sync::Mutex::new(Some(p)))
            .collect();
        let opts = &self.opts;
        let load = |i: usize| -> Vec<Loaded> {
            let page = slots[i].lock().unwrap_or_else(|p| p.into_inner()).take();
            match page {
                Some(p) => vec![Loaded {
                    path: p.name.clone(),
                    size: p.json.len() as u64,
                    mtime_ms: 0,
                    res: read_bytes(&p.name, p.json, opts),
                }],
                None => Vec::new(),
            }
        };
        let progress = progress_bar(slots.len() as u64, "pages", true);
        summary.ingest.files_seen += slots.len() as u64;
        pipeline(
            self.store,
            slots.len(),
            &load,
            &mut |_, _, _| Ok(()),
            &self.pipeline,
            &mut summary.ingest,
            &progress,
        )
    }
}

fn run_api(db: &Path, api: &Api) -> Result<Outcome> {
    let started = Instant::now();
    let (aws_args, out) = match api {
        Api::LookupEvents { aws, out, .. }
        | Api::PublicKeys { aws, out, .. }
        | Api::Lake { aws, out, .. }
        | Api::ConfigHistory { aws, out, .. }
        | Api::ConfigBatch { aws, out, .. }
        | Api::ConfigSelect { aws, out, .. } => (aws, out),
    };
    let _lock = super::run_lock(db, "collect", out.no_wait, out.quiet)?;
    let mut store = Store::open(db)?;
    let rt = runtime()?;
    let conf = connect(&rt, aws_args)?;
    let region = conf
        .region()
        .map(|r| r.to_string())
        .unwrap_or_else(|| "us-east-1".into());
    let mut summary = CollectSummary {
        target: region.clone(),
        ..Default::default()
    };
    let mut ingest = PageIngest {
        store: &mut store,
        opts: ReadOptions {
            max_bytes: out.max_file_size,
        },
        pipeline: PipelineOptions {
            jobs: 2,
            strict: out.strict,
            quiet: out.quiet,
        },
        batch: Vec::new(),
    };
    let progress = |s: &CollectSummary, records: usize| {
        if !out.quiet {
            eprintln!(
                "trailgraph: page {} ({} record(s)), {} request(s), {} throttled",
                s.pages, records, s.requests, s.throttled
            );
        }
    };
    match api {
        Api::LookupEvents {
            since,
            until,
            lookup_attribute,
            rate,
            ..
        } => {
            summary.command = "lookup-events".into();
            if !(*rate > 0.0 && *rate <= 2.0) {
                anyhow::bail!("--rate {rate}: must be above 0 and at most 2 (the service's limit per account and region)");
            }
            let mut pager = cloudtrail::LookupEvents::new(
                cloudtrail::client(&conf),
                region.clone(),
                *since,
                *until,
                lookup_attribute.clone(),
                *rate,
            );
            while let Some(page) = rt.block_on(pager.next())? {
                summary.requests = pager.counters.requests;
                summary.throttled = pager.counters.throttled;
                let n = page.records;
                ingest.push(page, &mut summary)?;
                progress(&summary, n);
            }
            summary.requests = pager.counters.requests;
            summary.throttled = pager.counters.throttled;
        }
        Api::Lake { query, poll, .. } => {
            summary.command = "lake".into();
            summary.target = query.clone();
            let poll = Duration::from_secs_f64(poll.clamp(0.05, 60.0));
            let mut q = cloudtrail::LakeQuery::new(cloudtrail::client(&conf), query.clone(), poll);
            while let Some(page) = rt.block_on(q.next())? {
                summary.requests = q.counters.requests;
                summary.throttled = q.counters.throttled;
                let n = page.records;
                ingest.push(page, &mut summary)?;
                progress(&summary, n);
            }
            summary.requests = q.counters.requests;
            summary.throttled = q.counters.throttled;
            if let Some(id) = q.query_id() {
                summary.target = format!("{id}: {query}");
            }
        }
        Api::PublicKeys { since, until, .. } => {
            summary.command = "public-keys".into();
            let mut c = Counters::default();
            let client = cloudtrail::client(&conf);
            let keys = rt.block_on(cloudtrail::list_public_keys(
                &client, &region, *since, *until, &mut c,
            ))?;
            summary.requests = c.requests;
            summary.throttled = c.throttled;
            let mut stored = Vec::new();
            for k in keys {
                // Checked like a key file: DER that parses, fingerprint = MD5 of the PKCS#1 DER.
                let parsed = crate::integrity::keys::from_der(
                    &k.der,
                    k.fingerprint.as_deref(),
                    k.valid_from,
                    k.valid_to,
                    "ListPublicKeys",
                )
                .map_err(|e| {
                    anyhow::anyhow!(
                        "ListPublicKeys: key {}: {e}",
                        k.fingerprint.as_deref().unwrap_or("?")
                    )
                })?;
                stored.push(StoredKey {
                    fingerprint: parsed.fingerprint.clone(),
                    der: parsed.der.clone(),
                    valid_from: parsed.valid_from,
                    valid_to: parsed.valid_to,
                    source: format!("ListPublicKeys {region}"),
                });
            }
            summary.public_keys = stored.len() as u64;
            summary.public_keys_new = ingest.store.save_public_keys(&stored)? as u64;
        }
        Api::ConfigHistory {
            resource_type,
            resource_id,
            since,
            until,
            ..
        } => {
            summary.command = "config-history".into();
            summary.target = format!("{resource_type} {}", resource_id.as_deref().unwrap_or("*"));
            let client = aws::config::client(&conf);
            let mut c = Counters::default();
            let ids = match resource_id {
                Some(id) => vec![id.clone()],
                None => rt.block_on(aws::config::discovered_resources(
                    &client,
                    resource_type,
                    &mut c,
                ))?,
            };
            for id in ids {
                let pages = rt.block_on(aws::config::resource_history(
                    &client,
                    resource_type,
                    &id,
                    *since,
                    *until,
                    &mut c,
                ))?;
                summary.requests = c.requests;
                summary.throttled = c.throttled;
                for p in pages {
                    let n = p.records;
                    ingest.push(p, &mut summary)?;
                    progress(&summary, n);
                }
            }
            summary.requests = c.requests;
            summary.throttled = c.throttled;
        }
        Api::ConfigBatch { resources, .. } => {
            summary.command = "config-batch".into();
            let client = aws::config::client(&conf);
            let mut c = Counters::default();
            for p in rt.block_on(aws::config::batch_get(&client, resources, &mut c))? {
                ingest.push(p, &mut summary)?;
            }
            summary.requests = c.requests;
            summary.throttled = c.throttled;
        }
        Api::ConfigSelect { expression, .. } => {
            summary.command = "config-select".into();
            summary.target = expression.clone();
            let client = aws::config::client(&conf);
            let mut c = Counters::default();
            for p in rt.block_on(aws::config::select(&client, expression, &mut c))? {
                ingest.push(p, &mut summary)?;
            }
            summary.requests = c.requests;
            summary.throttled = c.throttled;
        }
    }
    ingest.flush(&mut summary)?;
    finish(&mut summary, started, out)
}

fn print_summary(s: &CollectSummary, format: Option<Format>) -> Result<()> {
    let mut out = super::output::stdout();
    match resolve_format(format) {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, s)?;
            writeln!(out)?;
        }
        Format::Table => {
            writeln!(out, "collect {}: {}", s.command, sanitize(&s.target))?;
            if s.command == "s3" {
                writeln!(
                    out,
                    "objects listed {} in {} prefix(es); fetched {} ({} bytes), skipped {} (already fetched), failed {}",
                    s.objects_listed, s.prefixes_listed, s.objects_fetched, s.bytes_fetched, s.objects_skipped, s.objects_failed
                )?;
                if s.digests_signed + s.digests_unsigned > 0 {
                    writeln!(
                        out,
                        "digests: {} with signature metadata, {} without",
                        s.digests_signed, s.digests_unsigned
                    )?;
                }
            } else {
                writeln!(
                    out,
                    "requests {} ({} throttled and retried), pages {}",
                    s.requests, s.throttled, s.pages
                )?;
            }
            if s.command == "public-keys" {
                writeln!(
                    out,
                    "public keys {} ({} new in the store)",
                    s.public_keys, s.public_keys_new
                )?;
            }
            let i = &s.ingest;
            writeln!(
                out,
                "sources new {} (already known {}); events new {}, duplicate {}; config items new {}, duplicate {}",
                i.sources_new, i.sources_already_known, i.events_new, i.events_duplicate, i.config_items_new, i.config_items_duplicate
            )?;
            if !i.failures.is_empty() {
                writeln!(out, "failed:")?;
                for f in &i.failures {
                    writeln!(out, "  {}: {}", sanitize(&f.path), sanitize(&f.reason))?;
                }
            }
            writeln!(out, "in {:.1}s", s.seconds)?;
        }
    }
    out.flush()?;
    Ok(())
}
