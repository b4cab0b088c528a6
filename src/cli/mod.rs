//! Command line: argument parsing, one file per subcommand, and the one place that maps outcomes to exit codes.

mod athena_ddl;
#[cfg(feature = "aws")]
mod collect;
mod completions;
mod ingest;
mod lineage;
mod man;
mod output;
mod report;
mod sql;
mod stats;
mod timeline;
mod verify;
mod who_changed;

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Exit codes (docs/user-guide.md#exit-codes).
pub const EXIT_OK: i32 = 0;
/// The command ran but found problems: files that failed to ingest, record errors under --strict.
pub const EXIT_PROBLEMS: i32 = 1;
/// Usage errors and I/O errors (missing input, unusable database).
pub const EXIT_USAGE: i32 = 2;

#[derive(Parser, Debug)]
#[command(name = "trailgraph", version, about = "Change correlation and lineage over CloudTrail and AWS Config data", long_about = None)]
pub struct Cli {
    /// SQLite database file.
    #[arg(
        long,
        global = true,
        env = "TRAILGRAPH_DB",
        default_value = "trailgraph.db"
    )]
    pub db: PathBuf,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Ingest CloudTrail and AWS Config files or directories (recursive; gzip or plain; every container)
    Ingest(ingest::Args),
    /// Show what the store holds
    Stats(stats::Args),
    /// Who changed a resource: calls, actors (back to the human), before/after states and diffs
    WhoChanged(who_changed::Args),
    /// Everything a principal, access key, IP or resource did or saw, in order, across role sessions
    Timeline(timeline::Args),
    /// Where data came from and who consumed it: time-respecting paths through jobs, queries, functions, people
    Lineage(lineage::Args),
    /// The graph (data flows, the calls that started work, resource changes) as DOT, JSON, GraphML or OpenLineage
    Export(lineage::ExportArgs),
    /// Validate CloudTrail digest chains and log files offline (exit 1 on tampering)
    Verify(verify::Args),
    /// Collect live from AWS: a trail bucket (s3://BUCKET[/PREFIX]), LookupEvents, Lake, Config, public keys
    #[cfg(feature = "aws")]
    Collect(Box<collect::Args>),
    /// Collect live from AWS (not in this build: rebuild with `--features aws`)
    #[cfg(not(feature = "aws"))]
    Collect(NoAws),
    /// Print the Athena CREATE EXTERNAL TABLE (partition projection) for a trail bucket, organization trails included
    AthenaDdl(athena_ddl::Args),
    /// Read-only SQL over documented views (`cloudtrail_logs` with Athena's column names, changes, ...)
    Sql(sql::Args),
    /// One self-contained HTML evidence report: changes with diffs, timelines, lineage pictures, integrity
    Report(report::Args),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) to standard output
    Completions(completions::Args),
    /// Print the man page (roff) to standard output, or write one page per command into --out DIR
    Man(man::Args),
}

/// `collect` in a build without the `aws` feature: accepts anything, explains, exits 2.
#[cfg(not(feature = "aws"))]
#[derive(clap::Args, Debug)]
pub struct NoAws {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    rest: Vec<String>,
}

/// Outcome of a command, mapped to an exit code in one place.
pub enum Outcome {
    Ok,
    Problems,
}

/// Runs the CLI and returns the process exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_USAGE } else { EXIT_OK };
            let _ = e.print();
            return code;
        }
    };
    let result = match &cli.command {
        Command::Ingest(a) => ingest::run(&cli.db, a),
        Command::Stats(a) => stats::run(&cli.db, a),
        Command::WhoChanged(a) => who_changed::run(&cli.db, a),
        Command::Timeline(a) => timeline::run(&cli.db, a),
        Command::Lineage(a) => lineage::run(&cli.db, a),
        Command::Export(a) => lineage::export(&cli.db, a),
        Command::Verify(a) => verify::run(&cli.db, a),
        #[cfg(feature = "aws")]
        Command::Collect(a) => collect::run(&cli.db, a),
        #[cfg(not(feature = "aws"))]
        Command::Collect(_) => Err(anyhow::anyhow!(
            "collect: this trailgraph was built without the `aws` feature (cargo build --release --features aws); \
             offline, copy the files (e.g. `aws s3 sync`) and use `trailgraph ingest`"
        )),
        Command::Sql(a) => sql::run(&cli.db, a),
        Command::AthenaDdl(a) => athena_ddl::run(a),
        Command::Report(a) => report::run(&cli.db, a),
        Command::Completions(a) => completions::run(a),
        Command::Man(a) => man::run(a),
    };
    match result {
        Ok(Outcome::Ok) => EXIT_OK,
        Ok(Outcome::Problems) => EXIT_PROBLEMS,
        Err(e) => {
            if is_broken_pipe(&e) {
                return EXIT_OK;
            }
            if let Some(crate::correlate::QueryError::Ambiguous { candidates, .. }) =
                e.downcast_ref()
            {
                eprintln!("trailgraph: error: {}", output::sanitize(&format!("{e:#}")));
                for c in candidates {
                    eprintln!("  {}", output::sanitize(c));
                }
                return EXIT_USAGE;
            }
            eprintln!("trailgraph: error: {}", output::sanitize(&format!("{e:#}")));
            if is_disk_full(&e) {
                eprintln!(
                    "trailgraph: the disk holding the database (or its temporary files) is full. Everything \
                     committed before is kept and whole; free space and run the same command again to complete it."
                );
            }
            EXIT_USAGE
        }
    }
}

/// Takes the store's run lock for a writing command (`ingest`, `collect`): waits for another such run, saying so
/// on stderr (unless `quiet`), or with `no_wait` refuses.
pub(crate) fn run_lock(
    db: &std::path::Path,
    command: &str,
    no_wait: bool,
    quiet: bool,
) -> anyhow::Result<crate::store::RunLock> {
    Ok(crate::store::RunLock::acquire(
        db,
        command,
        !no_wait,
        |holder| {
            if !quiet {
                eprintln!(
                "trailgraph: another trailgraph run ({}) is writing to {}: waiting for it to finish \
                 (--no-wait refuses instead)",
                output::sanitize(holder),
                output::sanitize(&db.display().to_string())
            );
            }
        },
    )?)
}

/// Whether an error comes from a full disk: SQLite's SQLITE_FULL, or ENOSPC from a file write.
fn is_disk_full(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        let sqlite_full =
            |r: &rusqlite::Error| r.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull);
        c.downcast_ref::<rusqlite::Error>().is_some_and(sqlite_full)
            || matches!(c.downcast_ref::<crate::store::StoreError>(),
                Some(crate::store::StoreError::Sqlite { source, .. }) if sqlite_full(source))
            || c.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::StorageFull)
    })
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    use std::io::ErrorKind::BrokenPipe;
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == BrokenPipe)
            || c.downcast_ref::<serde_json::Error>()
                .is_some_and(|j| j.io_error_kind() == Some(BrokenPipe))
    })
}

/// `--since`/`--until` values: RFC 3339 (offsets allowed), a date (`2024-03-01`), or epoch seconds/ms.
pub fn parse_when(s: &str) -> Result<i64, String> {
    crate::model::time::parse_time_str(s)
        .ok_or_else(|| format!("not a time: {s:?} (examples: 2024-03-01, 2024-03-01T10:00:00Z)"))
}

/// Table on a terminal, JSON otherwise, unless the user chose.
pub fn resolve_format(f: Option<Format>) -> Format {
    use std::io::IsTerminal;
    f.unwrap_or(if std::io::stdout().is_terminal() {
        Format::Table
    } else {
        Format::Json
    })
}
