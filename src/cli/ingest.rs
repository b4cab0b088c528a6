//! `trailgraph ingest`: arguments, the progress bar and the summary. The work is `crate::pipeline`.

use super::output::sanitize;
use super::{resolve_format, Format, Outcome};
use crate::pipeline::{ingest_paths, FileOptions, Summary};
use crate::store::Store;
use anyhow::Result;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Files or directories (searched recursively).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Treat record-level errors as failures: a file with any is not ingested, and the run exits 1.
    #[arg(long)]
    strict: bool,
    /// Largest decompressed size accepted for one file, in bytes (suffixes K, M, G).
    #[arg(long, default_value = "512M", value_parser = parse_size)]
    max_file_size: u64,
    /// Parser threads (default: number of cores).
    #[arg(long)]
    jobs: Option<usize>,
    /// Summary format on stdout (table on a terminal, json otherwise).
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// No progress bar and no per-file messages on stderr (the summary is still printed).
    #[arg(long, short)]
    quiet: bool,
    /// When another ingest or collect is writing to the store: refuse (exit 2) instead of waiting for it.
    #[arg(long)]
    no_wait: bool,
}

pub(crate) fn parse_size(s: &str) -> std::result::Result<u64, String> {
    let s = s.trim();
    let (num, mul) = match s.chars().last().map(|c| c.to_ascii_uppercase()) {
        Some('K') => (&s[..s.len() - 1], 1u64 << 10),
        Some('M') => (&s[..s.len() - 1], 1 << 20),
        Some('G') => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    num.parse::<u64>()
        .map(|n| n * mul)
        .map_err(|_| format!("not a size: {s:?} (examples: 500M, 2G, 1048576)"))
}

pub fn run(db: &Path, args: &Args) -> Result<Outcome> {
    let started = Instant::now();
    for p in &args.paths {
        if !p.exists() {
            anyhow::bail!(
                "{}: no such file or directory",
                sanitize(&p.display().to_string())
            );
        }
    }
    let _lock = super::run_lock(db, "ingest", args.no_wait, args.quiet)?;
    let mut store = Store::open(db)?;
    let progress = progress_bar(0, "files", args.quiet);
    let mut summary = ingest_paths(
        &mut store,
        db,
        &args.paths,
        &FileOptions {
            strict: args.strict,
            quiet: args.quiet,
            max_file_size: args.max_file_size,
            jobs: args.jobs,
        },
        &progress,
    )?;
    summary.seconds = started.elapsed().as_secs_f64();
    print_summary(&summary, args.format)?;
    if summary.files_failed > 0 {
        Ok(Outcome::Problems)
    } else {
        Ok(Outcome::Ok)
    }
}

/// A progress bar on stderr when it is a terminal (hidden otherwise, or when quiet).
pub(crate) fn progress_bar(len: u64, what: &str, quiet: bool) -> ProgressBar {
    if !quiet && std::io::stderr().is_terminal() {
        let pb = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
        pb.set_style(
            ProgressStyle::with_template(&format!(
                "{{spinner}} [{{elapsed_precise}}] {{bar:30}} {{pos}}/{{len}} {what} {{msg}}"
            ))
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        pb
    } else {
        ProgressBar::hidden()
    }
}

pub(crate) fn print_summary(s: &Summary, format: Option<Format>) -> Result<()> {
    let mut out = super::output::stdout();
    match resolve_format(format) {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, s)?;
            writeln!(out)?;
        }
        Format::Table => {
            writeln!(
                out,
                "ingested {} new source(s) ({} already known, {} unchanged, {} skipped, {} failed) in {:.1}s",
                s.sources_new, s.sources_already_known, s.files_unchanged, s.files_skipped, s.files_failed, s.seconds
            )?;
            writeln!(
                out,
                "records {}: events new {}, duplicate {}, conflicting ids {}; config items new {}, duplicate {}",
                s.records, s.events_new, s.events_duplicate, s.events_conflicting, s.config_items_new, s.config_items_duplicate
            )?;
            if !s.diagnostics.is_empty() {
                let parts: Vec<String> = s
                    .diagnostics
                    .iter()
                    .map(|(k, v)| format!("{k} {v}"))
                    .collect();
                writeln!(out, "diagnostics: {}", parts.join(", "))?;
            }
            if !s.skipped.is_empty() {
                writeln!(out, "skipped files (not audit data):")?;
                for f in &s.skipped {
                    writeln!(out, "  {}: {}", sanitize(&f.path), sanitize(&f.reason))?;
                }
            }
            if !s.failures.is_empty() {
                writeln!(out, "failed files:")?;
                for f in &s.failures {
                    writeln!(out, "  {}: {}", sanitize(&f.path), sanitize(&f.reason))?;
                }
            }
        }
    }
    out.flush()?;
    Ok(())
}
