//! `trailgraph verify`: offline validation of CloudTrail digest chains and log files (docs/integrity.md).
//!
//! The database is optional: when `--db` exists, stored public keys are used, keys given are kept, StopLogging
//! calls name the gaps, and each source's verdict is recorded in `sources.integrity`. When it does not exist,
//! verify works on the files alone and creates no database.

use super::output::sanitize;
use super::{parse_when, resolve_format, Format, Outcome};
use crate::integrity::{self, KeyRing, Options};
use crate::store::{Store, StoredKey};
use anyhow::{bail, Context, Result};
use comfy_table::{presets::UTF8_BORDERS_ONLY, Table};
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Directories or files: a local copy of the trail's bucket (digests, sidecars `<digest>.metadata.json`, logs)
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Public keys: `aws cloudtrail list-public-keys` JSON, PEM or DER (repeatable). Kept in the database.
    #[arg(long = "public-keys", value_name = "FILE")]
    public_keys: Vec<PathBuf>,
    /// Only digests whose window reaches into [since, until], and log files of that time.
    #[arg(long, value_parser = parse_when)]
    since: Option<i64>,
    /// Also: every chain must reach this time (a chain ending earlier is missing its tail).
    #[arg(long, value_parser = parse_when)]
    until: Option<i64>,
    /// Only this account.
    #[arg(long)]
    account: Option<String>,
    /// Only this region.
    #[arg(long)]
    region: Option<String>,
    /// Threads hashing log files (default: all cores).
    #[arg(long, default_value_t = 0)]
    jobs: usize,
    /// Output format (table on a terminal, json otherwise).
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// For s3:// paths: named AWS profile.
    #[cfg(feature = "aws")]
    #[arg(long)]
    profile: Option<String>,
    /// For s3:// paths: the bucket's region (`--region` selects the trail region to verify).
    #[cfg(feature = "aws")]
    #[arg(long, value_name = "REGION")]
    bucket_region: Option<String>,
    /// For s3:// paths: endpoint URL (S3-compatible stores, tests); path-style addressing.
    #[cfg(feature = "aws")]
    #[arg(long, value_name = "URL")]
    endpoint_url: Option<String>,
}

/// A temporary directory removed when dropped.
#[cfg_attr(not(feature = "aws"), allow(dead_code))]
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A downloaded copy of a bucket and the `s3://BUCKET/` its paths stand for.
type S3Copy = (TempDir, String);

/// `s3://` paths are downloaded (only the accounts, regions and days asked for) into a temporary copy that is
/// verified like a local one; the report then names the S3 keys. Returns the local paths and the copies.
fn fetch_s3_paths(args: &Args) -> Result<(Vec<PathBuf>, Vec<S3Copy>)> {
    let mut local = Vec::new();
    #[cfg_attr(not(feature = "aws"), allow(unused_mut))]
    let mut copies = Vec::new();
    for p in &args.paths {
        let text = p.to_string_lossy();
        if !text.starts_with("s3://") {
            local.push(p.clone());
            continue;
        }
        #[cfg(feature = "aws")]
        {
            let dir = std::env::temp_dir().join(format!(
                "trailgraph-verify-{}-{}",
                std::process::id(),
                copies.len()
            ));
            let tmp = TempDir(dir.clone());
            let filter = crate::collect::layout::Filter {
                accounts: args.account.iter().cloned().collect(),
                regions: args.region.iter().cloned().collect(),
                since: args.since,
                until: args.until,
            };
            let opts = crate::collect::AwsOptions {
                profile: args.profile.clone(),
                region: args.bucket_region.clone(),
                endpoint_url: args.endpoint_url.clone(),
            };
            let (uri, n) = super::collect::download_tree(&text, &filter, opts, &dir, 8)?;
            eprintln!(
                "trailgraph: {}: downloaded {n} object(s) to verify",
                sanitize(&uri.to_string())
            );
            local.push(dir.clone());
            copies.push((tmp, format!("s3://{}/", uri.bucket)));
        }
        #[cfg(not(feature = "aws"))]
        bail!(
            "{}: verifying a bucket needs a trailgraph built with the `aws` feature; offline, copy the bucket \
             (with each digest's signature metadata as <digest>.metadata.json) and verify the copy",
            sanitize(&text)
        );
    }
    Ok((local, copies))
}

pub fn run(db: &Path, args: &Args) -> Result<Outcome> {
    for p in &args.paths {
        if !p.exists() && !p.to_string_lossy().starts_with("s3://") {
            bail!("{}: no such file or directory", p.display());
        }
    }
    let (local_paths, copies) = fetch_s3_paths(args)?;
    let (files, errors) = crate::ingest::walk::discover(&local_paths);
    if let Some(e) = errors.first() {
        bail!("{e}");
    }
    let mut ring = KeyRing::default();
    let mut given = Vec::new();
    for f in &args.public_keys {
        let keys =
            integrity::keys::load_file(f).map_err(|e| anyhow::anyhow!("{}: {e}", f.display()))?;
        for k in keys {
            given.push(StoredKey {
                fingerprint: k.fingerprint.clone(),
                der: k.der.clone(),
                valid_from: k.valid_from,
                valid_to: k.valid_to,
                source: k.source.clone(),
            });
            ring.add(k);
        }
    }
    let mut store = if db.exists() {
        Some(Store::open(db).with_context(|| format!("opening {}", db.display()))?)
    } else {
        None
    };
    let mut opts = Options {
        since: args.since,
        until: args.until,
        account: args.account.clone(),
        region: args.region.clone(),
        jobs: args.jobs,
        remote_roots: copies.iter().map(|(dir, _)| dir.0.clone()).collect(),
        ..Options::default()
    };
    if let Some(s) = store.as_mut() {
        s.save_public_keys(&given)?;
        for k in s.public_keys()? {
            match integrity::keys::from_der(
                &k.der,
                Some(&k.fingerprint),
                k.valid_from,
                k.valid_to,
                "store",
            ) {
                Ok(k) => ring.add(k),
                Err(e) => eprintln!(
                    "trailgraph: warning: stored key {}: {}",
                    sanitize(&k.fingerprint),
                    sanitize(&e)
                ),
            }
        }
        opts.newest_events = s
            .newest_events()?
            .into_iter()
            .map(|(k, v)| (k, (v.time, v.event_id)))
            .collect();
    }
    let paths: Vec<PathBuf> = files.into_iter().map(|f| f.path).collect();
    let mut report = integrity::verify(&paths, &ring, &opts);
    // Findings in a downloaded copy name the S3 object.
    for (dir, prefix) in &copies {
        let local = format!("{}/", dir.0.display());
        for f in &mut report.findings {
            if let Some(rest) = f.path.strip_prefix(&local) {
                f.path = format!("{prefix}{rest}");
            }
        }
        for n in &mut report.notices {
            if let Some(rest) = n.path.as_deref().and_then(|p| p.strip_prefix(&local)) {
                n.path = Some(format!("{prefix}{rest}"));
            }
        }
    }
    if let Some(s) = store.as_mut() {
        for g in &mut report.gaps {
            // StopLogging takes effect at once; the last digest before the gap may end up to an hour later.
            g.event_id = s.stop_logging_event(&g.account, g.from_ms - 3_600_000, g.to_ms)?;
        }
        let statuses: Vec<(String, &str)> = report
            .statuses
            .iter()
            .map(|c| (c.sha256.clone(), c.status))
            .collect();
        s.record_integrity(&statuses)?;
        let given_paths: Vec<String> = args.paths.iter().map(|p| p.display().to_string()).collect();
        s.record_verification(
            chrono::Utc::now().timestamp_millis(),
            &serde_json::to_string(&given_paths)?,
            report.findings.len(),
            &serde_json::to_string(&report)?,
        )?;
    }
    let mut out = super::output::stdout();
    match resolve_format(args.format) {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &report)?;
            writeln!(out)?;
        }
        Format::Table => write_table(&mut out, &report)?,
    }
    out.flush()?;
    Ok(if report.tampered() {
        Outcome::Problems
    } else {
        Outcome::Ok
    })
}

fn write_table(out: &mut impl Write, r: &integrity::Report) -> Result<()> {
    let mut t = Table::new();
    t.load_preset(UTF8_BORDERS_ONLY);
    t.set_header([
        "files",
        "valid",
        "invalid",
        "unsigned",
        "unverified",
        "unlisted",
        "missing",
    ]);
    let d = &r.digests;
    t.add_row([
        "digests".to_string(),
        d.valid.to_string(),
        d.invalid.to_string(),
        d.unsigned.to_string(),
        d.unverified.to_string(),
        "-".into(),
        "-".into(),
    ]);
    let l = &r.logs;
    t.add_row([
        "log files".to_string(),
        l.valid.to_string(),
        l.invalid.to_string(),
        "-".into(),
        l.unverified.to_string(),
        l.unlisted.to_string(),
        l.missing.to_string(),
    ]);
    writeln!(out, "{t}")?;
    if !r.findings.is_empty() {
        let mut t = Table::new();
        t.load_preset(UTF8_BORDERS_ONLY);
        t.set_header(["finding", "path", "detail", "digest"]);
        for f in &r.findings {
            t.add_row([
                f.kind.to_string(),
                sanitize(&f.path),
                sanitize(&f.detail),
                f.digest
                    .as_deref()
                    .map(sanitize)
                    .unwrap_or_else(|| "-".into()),
            ]);
        }
        writeln!(out, "{t}")?;
    }
    if !r.gaps.is_empty() {
        let mut t = Table::new();
        t.load_preset(UTF8_BORDERS_ONLY);
        t.set_header([
            "gap from",
            "to",
            "account/region/trail",
            "reason",
            "StopLogging event",
        ]);
        for g in &r.gaps {
            t.add_row([
                sanitize(&g.from),
                sanitize(&g.to),
                sanitize(&format!("{}/{}/{}", g.account, g.region, g.trail)),
                sanitize(&g.reason),
                g.event_id
                    .as_deref()
                    .map(sanitize)
                    .unwrap_or_else(|| "-".into()),
            ]);
        }
        writeln!(out, "{t}")?;
    }
    for n in &r.notices {
        writeln!(
            out,
            "note: {}: {}{}",
            n.kind,
            n.path
                .as_deref()
                .map(|p| format!("{}: ", sanitize(p)))
                .unwrap_or_default(),
            sanitize(&n.detail)
        )?;
    }
    writeln!(
        out,
        "{}",
        if r.tampered() {
            "result: TAMPERING OR LOSS FOUND (see findings)"
        } else {
            "result: no tampering found"
        }
    )?;
    Ok(())
}
