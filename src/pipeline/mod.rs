//! The ingest pipeline below every command that stores data (`ingest`, `collect`, `collect --via`): parallel
//! parsing, one ordered writer.
//!
//! Workers read and parse files (decompress, hash, detect, normalize, nothing touches the database). The writer
//! takes their results strictly in discovery order, so the store is the same whatever the thread timing, and a
//! rerun after a kill continues exactly where the killed run stopped. A window bounds how far workers may run
//! ahead, which bounds memory. Messages about single files go to stderr (escaped); the caller prints the summary.

pub mod lineage;
#[cfg(feature = "aws")]
pub mod remote;

use crate::collect::layout::Filter;
use crate::collect::slice::{Engine, LocalTrail, Slice, Term, ViaTotals};
use crate::ingest::source::{is_quietly_skipped, read_file, ReadOptions, ReadResult};
use crate::ingest::walk::{discover, FileEntry};
use crate::model::text::visible;
use crate::model::Severity;
use crate::store::{encode_chunks, SourceMeta, Store};
use anyhow::{Context, Result};
use indicatif::ProgressBar;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// The ingest summary. Field names are documented in schemas/ingest-summary.schema.json.
#[derive(Debug, Default, Serialize)]
pub struct Summary {
    pub files_seen: u64,
    pub files_unchanged: u64,
    pub files_skipped: u64,
    pub sources_new: u64,
    pub sources_already_known: u64,
    pub files_failed: u64,
    pub records: u64,
    pub events_new: u64,
    pub events_duplicate: u64,
    pub events_conflicting: u64,
    pub config_items_new: u64,
    pub config_items_duplicate: u64,
    pub diagnostics: BTreeMap<String, u64>,
    pub bytes_read: u64,
    pub bytes_uncompressed: u64,
    pub seconds: f64,
    pub failures: Vec<Failure>,
    /// Files passed over as plainly not audit data, with the reason (counted in `files_skipped`).
    pub skipped: Vec<Failure>,
}

impl Summary {
    /// Adds the counts of another run of the pipeline (one `collect --via` fetches in several rounds).
    pub fn absorb(&mut self, o: Summary) {
        self.files_seen += o.files_seen;
        self.files_unchanged += o.files_unchanged;
        self.files_skipped += o.files_skipped;
        self.sources_new += o.sources_new;
        self.sources_already_known += o.sources_already_known;
        self.files_failed += o.files_failed;
        self.records += o.records;
        self.events_new += o.events_new;
        self.events_duplicate += o.events_duplicate;
        self.events_conflicting += o.events_conflicting;
        self.config_items_new += o.config_items_new;
        self.config_items_duplicate += o.config_items_duplicate;
        for (k, v) in o.diagnostics {
            *self.diagnostics.entry(k).or_default() += v;
        }
        self.bytes_read += o.bytes_read;
        self.bytes_uncompressed += o.bytes_uncompressed;
        self.seconds += o.seconds;
        self.failures.extend(o.failures);
        self.skipped.extend(o.skipped);
    }
}

#[derive(Debug, Serialize)]
pub struct Failure {
    pub path: String,
    pub reason: String,
}

/// One source ready for the writer: the path it is stored under (`sources.path`: an absolute file path, or a URI
/// such as `s3://bucket/key`), its size and time, and what reading it gave.
pub struct Loaded {
    pub path: String,
    pub size: u64,
    pub mtime_ms: i64,
    pub res: ReadResult,
}

/// A loaded source and its compressed raw-record chunks.
struct Parsed {
    loaded: Loaded,
    chunks: Option<std::io::Result<Vec<Vec<u8>>>>,
}

struct Window {
    next_to_write: Mutex<usize>,
    cv: Condvar,
}

/// Runs after job `i`'s sources are written, in the same transaction: `(i, written, writer)`.
pub type AfterJob<'a> = dyn FnMut(usize, &[bool], &mut crate::store::Writer<'_>) -> Result<()> + 'a;

/// How the pipeline runs.
pub struct PipelineOptions {
    /// Worker threads: each loads (reads or downloads) and parses one job at a time.
    pub jobs: usize,
    pub strict: bool,
    pub quiet: bool,
}

/// How `ingest_paths` reads files.
#[derive(Debug, Clone)]
pub struct FileOptions {
    pub strict: bool,
    pub quiet: bool,
    /// Largest decompressed size of one file.
    pub max_file_size: u64,
    /// Parser threads (default: the number of cores).
    pub jobs: Option<usize>,
}

/// Ingests files and folders (searched recursively) into `store`, kept at `db`: files already stored with the
/// same path, size and time are not read again, and the store's own files are never read. Returns the summary
/// (`seconds` left for the caller to set).
pub fn ingest_paths(
    store: &mut Store,
    db: &Path,
    paths: &[PathBuf],
    opts: &FileOptions,
    progress: &ProgressBar,
) -> Result<Summary> {
    let (mut files, walk_errors) = discover(paths);
    // The store itself (and its WAL, shared-memory and journal files) may sit in a folder being ingested.
    let own: Vec<PathBuf> = ["", "-wal", "-shm", "-journal", "-lock"]
        .iter()
        .filter_map(|suffix| {
            let mut p = db.as_os_str().to_owned();
            p.push(suffix);
            std::fs::canonicalize(PathBuf::from(p)).ok()
        })
        .collect();
    // Only files named like the store are resolved (one system call each, not one per input file).
    let db_name = db.file_name();
    files.retain(|f| {
        let named_like = match (f.path.file_name(), db_name) {
            (Some(n), Some(d)) => n.as_encoded_bytes().starts_with(d.as_encoded_bytes()),
            _ => false,
        };
        !named_like || std::fs::canonicalize(&f.path).map_or(true, |c| !own.contains(&c))
    });
    let mut summary = Summary {
        files_seen: files.len() as u64,
        ..Default::default()
    };
    for e in walk_errors {
        summary.files_failed += 1;
        summary.failures.push(Failure {
            path: String::new(),
            reason: e,
        });
    }

    // Fast path: paths already ingested with the same size and mtime are not read again.
    let mut todo: Vec<FileEntry> = Vec::with_capacity(files.len());
    {
        let w = store.writer();
        for f in files {
            if is_quietly_skipped(&f.path) {
                summary.files_skipped += 1;
                continue;
            }
            if w.location_unchanged(&path_text(&f.path), f.size, f.mtime_ms)? {
                summary.files_unchanged += 1;
                continue;
            }
            todo.push(f);
        }
    }

    progress.set_length(todo.len() as u64);
    let jobs = opts
        .jobs
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2)
        })
        .max(1);
    let read = ReadOptions {
        max_bytes: opts.max_file_size,
    };
    let todo_ref = &todo;
    let load = |i: usize| {
        let f = &todo_ref[i];
        vec![Loaded {
            path: path_text(&f.path),
            size: f.size,
            mtime_ms: f.mtime_ms,
            res: read_file(&f.path, &read),
        }]
    };
    pipeline(
        store,
        todo.len(),
        &load,
        &mut |_, _, _| Ok(()),
        &PipelineOptions {
            jobs,
            strict: opts.strict,
            quiet: opts.quiet,
        },
        &mut summary,
        progress,
    )?;
    Ok(summary)
}

/// The ingest pipeline, shared by `ingest` (files) and `collect` (downloaded objects and API pages).
///
/// `load(i)` runs on `opts.jobs` worker threads, at most `4 × jobs` jobs ahead of the writer, and returns the
/// sources of job `i` (one file; or an S3 digest and its signature sidecar). The writer writes them strictly in
/// job order; `after(i, written, writer)` then runs in the same transaction (`written[k]`: source k was stored).
/// A first load into an empty store builds the query indexes once at the end instead of row by row; an
/// interrupted run leaves them listed in `deferred_indexes` and every run rebuilds them when it ends.
pub fn pipeline(
    store: &mut Store,
    n: usize,
    load: &(dyn Fn(usize) -> Vec<Loaded> + Sync),
    after: &mut AfterJob<'_>,
    opts: &PipelineOptions,
    summary: &mut Summary,
    progress: &ProgressBar,
) -> Result<()> {
    let bulk = n > 1 && store.defer_indexes()?;
    if bulk {
        store.begin_bulk()?;
    }
    let jobs = opts.jobs.max(1);
    let window_size = jobs * 4;
    let next_job = AtomicUsize::new(0);
    let window = Window {
        next_to_write: Mutex::new(0),
        cv: Condvar::new(),
    };
    let (tx, rx) = crossbeam_channel::bounded::<(usize, Vec<Parsed>)>(window_size);

    std::thread::scope(|scope| -> Result<()> {
        for _ in 0..jobs {
            let tx = tx.clone();
            let (next_job, window) = (&next_job, &window);
            let worker = std::thread::Builder::new().name("tg-parse".into());
            worker.spawn_scoped(scope, move || loop {
                let i = next_job.fetch_add(1, Ordering::SeqCst);
                if i >= n {
                    break;
                }
                {
                    // Do not run more than `window_size` jobs ahead of the writer.
                    let mut next = window
                        .next_to_write
                        .lock()
                        .unwrap_or_else(|p| p.into_inner());
                    while i >= *next + window_size {
                        next = window.cv.wait(next).unwrap_or_else(|p| p.into_inner());
                    }
                }
                // A panic while loading one job must not hang the ordered writer: it becomes that job's failure.
                let loaded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| load(i)))
                    .unwrap_or_else(|_| {
                        vec![Loaded {
                            path: format!("job {i}"),
                            size: 0,
                            mtime_ms: 0,
                            res: ReadResult::failed("internal error while reading".into()),
                        }]
                    });
                // Compressing raw records is CPU work: done here, in parallel, not on the writer thread.
                let parsed = loaded
                    .into_iter()
                    .map(|l| {
                        let chunks = l.res.contents.as_ref().map(|c| encode_chunks(&c.events));
                        Parsed { loaded: l, chunks }
                    })
                    .collect();
                if tx.send((i, parsed)).is_err() {
                    break;
                }
            })?;
        }
        drop(tx);
        // Freeing a written source (millions of small strings) costs the writer about 5% of its time: another
        // thread does it.
        let (graveyard, graves) = crossbeam_channel::bounded::<Graves>(window_size);
        std::thread::Builder::new()
            .name("tg-free".into())
            .spawn_scoped(scope, move || {
                for g in graves {
                    drop(g)
                }
            })?;

        let mut pending: BTreeMap<usize, Vec<Parsed>> = BTreeMap::new();
        let mut next = 0usize;
        let mut writer = store.writer();
        let mut batch_records = 0u64;
        let mut batch_started = Instant::now();
        let result = (|| -> Result<()> {
            for (i, res) in rx.iter() {
                pending.insert(i, res);
                while let Some(parsed) = pending.remove(&next) {
                    let mut written = Vec::with_capacity(parsed.len());
                    for p in parsed {
                        let (records, ok) =
                            write_one(&mut writer, p, opts, summary, progress, &graveyard)?;
                        batch_records += records;
                        written.push(ok);
                    }
                    after(next, &written, &mut writer)?;
                    next += 1;
                    {
                        let mut n = window
                            .next_to_write
                            .lock()
                            .unwrap_or_else(|p| p.into_inner());
                        *n = next;
                    }
                    window.cv.notify_all();
                    progress.inc(1);
                    if batch_records >= 100_000 || batch_started.elapsed() > Duration::from_secs(2)
                    {
                        writer.commit()?;
                        batch_records = 0;
                        batch_started = Instant::now();
                        progress.set_message(format!("{} events", summary.events_new));
                    }
                }
            }
            writer.commit()?;
            Ok(())
        })();
        if result.is_err() {
            // Unblock workers so the scope can end, then report.
            *window
                .next_to_write
                .lock()
                .unwrap_or_else(|p| p.into_inner()) = usize::MAX / 2;
            window.cv.notify_all();
            for _ in rx.iter() {}
        }
        drop(graveyard);
        result
    })?;
    progress.finish_and_clear();
    let (rebuilt, resolved) = store.restore_indexes()?;
    // Re-deliveries a bulk load stored as events until its end (counted there as new).
    summary.events_new = summary.events_new.saturating_sub(resolved.duplicates);
    summary.events_duplicate += resolved.duplicates;
    summary.events_conflicting += resolved.conflicting;
    if bulk {
        store.end_bulk()?;
    }
    if rebuilt > 0 && !opts.quiet {
        eprintln!("trailgraph: built {rebuilt} query indexes");
    }
    Ok(())
}

pub fn path_text(p: &Path) -> String {
    // Absolute where possible so the same file reached by two relative paths is one location.
    std::path::absolute(p)
        .unwrap_or_else(|_| p.to_path_buf())
        .to_string_lossy()
        .into_owned()
}

/// Writes one loaded source; returns how many records it added to the current transaction, and whether the
/// source is now in the store (new or already known).
/// What a written source leaves behind, freed on another thread.
type Graves = Box<dyn Send>;

fn write_one(
    writer: &mut crate::store::Writer<'_>,
    parsed: Parsed,
    opts: &PipelineOptions,
    summary: &mut Summary,
    progress: &ProgressBar,
    graveyard: &crossbeam_channel::Sender<Graves>,
) -> Result<(u64, bool)> {
    let Parsed {
        loaded:
            Loaded {
                path,
                size,
                mtime_ms,
                res,
            },
        chunks,
    } = parsed;
    summary.bytes_read += size;
    summary.bytes_uncompressed += res.uncompressed_size;
    let shown = visible(&path).into_owned();
    let fail = |summary: &mut Summary,
                writer: &mut crate::store::Writer<'_>,
                code: &str,
                reason: String|
     -> Result<()> {
        if !opts.quiet {
            progress.suspend(|| eprintln!("trailgraph: {shown}: {}", visible(&reason)));
        }
        writer
            .record_failure(&path, code, &reason)
            .with_context(|| format!("recording failure of {shown}"))?;
        summary.files_failed += 1;
        summary.failures.push(Failure {
            path: path.clone(),
            reason,
        });
        Ok(())
    };
    if let Some(why) = res.skipped {
        if opts.strict {
            fail(summary, writer, "file_failed", format!("{why} (--strict)"))?;
        } else {
            writer
                .record_skip(&path, &why)
                .with_context(|| format!("recording skip of {shown}"))?;
            summary.files_skipped += 1;
            summary.skipped.push(Failure { path, reason: why });
        }
        return Ok((0, false));
    }
    let Some(contents) = res.contents else {
        let reason = res.failure.unwrap_or_else(|| "unreadable".into());
        fail(summary, writer, "file_failed", reason)?;
        return Ok((0, false));
    };
    let mut diags = res.warnings;
    diags.extend(contents.diagnostics);
    let record_errors = diags
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    if opts.strict && record_errors > 0 {
        let first = diags
            .iter()
            .find(|d| d.severity == Severity::Error)
            .map(|d| d.message.clone())
            .unwrap_or_default();
        fail(
            summary,
            writer,
            "strict",
            format!(
                "{record_errors} record error(s) under --strict, file not ingested; first: {first}"
            ),
        )?;
        return Ok((0, false));
    }
    let kind = contents.kind.map(|k| k.as_str()).unwrap_or("empty");
    let meta = SourceMeta {
        path: path.clone(),
        size,
        mtime_ms,
        sha256: res.sha256,
        kind,
        uncompressed_size: res.uncompressed_size,
        compressed: res.compressed,
        account: res.layout.account,
        region: res.layout.region,
        service: res.layout.service,
        org: res.layout.org,
        records: contents.records,
        skipped: contents.skipped,
    };
    let chunks = chunks
        .unwrap_or_else(|| Ok(Vec::new()))
        .with_context(|| format!("compressing records of {shown}"))?;
    let out = writer
        .write_source(
            &meta,
            &contents.events,
            &chunks,
            &contents.items,
            &diags,
            contents.digest_json.as_deref(),
        )
        .with_context(|| format!("writing {shown}"))?;
    if out.already_known {
        summary.sources_already_known += 1;
        let _ = graveyard.send(Box::new((contents.events, contents.items, chunks)));
        return Ok((0, true));
    }
    summary.sources_new += 1;
    summary.records += contents.records;
    summary.events_new += out.events_new;
    summary.events_duplicate += out.events_duplicate;
    summary.events_conflicting += out.events_conflicting;
    summary.config_items_new += out.items_new;
    summary.config_items_duplicate += out.items_duplicate;
    for d in &diags {
        *summary
            .diagnostics
            .entry(format!("{}:{}", d.severity.as_str(), d.code))
            .or_default() += 1;
    }
    if record_errors > 0 {
        // Record-level errors are diagnostics, not failures (unless --strict, handled above).
        if !opts.quiet {
            let first = diags.iter().find(|d| d.severity == Severity::Error);
            if let Some(d) = first {
                let at = d.record.map(|r| format!(" record {r}")).unwrap_or_default();
                progress.suspend(|| {
                    eprintln!(
                        "trailgraph: {shown}{at}: {} ({record_errors} record error(s) in this file, see diagnostics)",
                        visible(&d.message)
                    )
                });
            }
        }
    }
    let records = contents.records.max(1);
    // If the freeing thread is gone, the value comes back in the error and is dropped here.
    let _ = graveyard.send(Box::new((contents.events, contents.items, chunks)));
    Ok((records, true))
}

/// The summary of `collect --via` (`schemas/collect-via-summary.schema.json`).
#[derive(Debug, Serialize)]
pub struct ViaSummary {
    pub command: &'static str,
    pub engine: &'static str,
    pub engine_version: String,
    pub trail: String,
    pub scope: Vec<Term>,
    pub depth: usize,
    /// Dataset hops of the lineage rounds (`--lineage-depth`; 0: none).
    pub lineage_depth: usize,
    pub rounds: Vec<crate::collect::slice::RoundReport>,
    pub totals: ViaTotals,
    pub ingest: Summary,
    pub seconds: f64,
}

/// For session keys, those whose issuing call the store holds, each with the key that call was signed with: what
/// `run_rounds` climbs through without asking the engine (`slice::IssuerStored`).
pub fn stored_issuers(store: &Store, keys: &[String]) -> Result<BTreeMap<String, Option<String>>> {
    let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    Ok(store
        .sessions_many(&refs)?
        .into_values()
        .filter(|s| s.issued_by_event.is_some())
        .map(|s| (s.access_key_id, s.issuer_access_key_id))
        .collect())
}

/// `collect --via` over a trail in a local or mounted folder: the rounds on `engine`, then the matched files and
/// their digests through the ingest pipeline, named by their paths exactly as `ingest` of the folder would name
/// them (so a rerun fetches only what is missing, and the answers are those of a full ingest).
#[allow(clippy::too_many_arguments)]
pub fn ingest_slice(
    store: &mut Store,
    db: &Path,
    trail: &LocalTrail,
    engine: &mut dyn Engine,
    terms: &[Term],
    filter: &Filter,
    depth: usize,
    lineage_hops: usize,
    opts: &FileOptions,
    progress: &ProgressBar,
) -> Result<(Slice, ViaTotals, Summary)> {
    // Each fetch stores the files a round named and the digests covering them, once.
    let mut handed: BTreeSet<PathBuf> = BTreeSet::new();
    let mut digests = 0usize;
    let mut summary = Summary::default();
    let mut fetch = |store: &mut Store, files: &BTreeSet<String>| -> Result<()> {
        let mut batch: Vec<PathBuf> = Vec::new();
        for d in trail.digests_for(files) {
            if handed.insert(d.clone()) {
                digests += 1;
                batch.push(d);
            }
        }
        for f in files {
            if handed.insert(PathBuf::from(f)) {
                batch.push(PathBuf::from(f));
            }
        }
        if batch.is_empty() {
            return Ok(());
        }
        batch.sort();
        let started = Instant::now();
        let mut s = ingest_paths(store, db, &batch, opts, progress)?;
        s.seconds = started.elapsed().as_secs_f64();
        summary.absorb(s);
        Ok(())
    };
    let slice = lineage::run_slice(
        store,
        engine,
        ("cloudtrail", Some("config")),
        terms,
        filter,
        depth,
        lineage_hops,
        &mut fetch,
    )?;
    let totals = ViaTotals {
        files_in_window: Some(trail.files_in_window(filter)),
        files_fetched: handed.len(),
        digests_fetched: digests,
        ..slice.totals()
    };
    Ok((slice, totals, summary))
}
