//! Sources fetched from S3 (feature `aws`): one object turned into the sources the pipeline stores (the object,
//! and for a digest its signature sidecar), and `collect --via athena`'s fetch of the files the rounds named.
//!
//! Objects are stored as sources named `s3://BUCKET/KEY`, exactly as the bucket sync names them, so a store built
//! by a sync and one built by `--via` agree, and `verify` reads either.

use super::{pipeline, AfterJob, FileOptions, Loaded, PipelineOptions, Summary, ViaTotals};
use crate::collect::layout::{parse_key, Filter};
use crate::collect::s3::{self, BucketUri, Object};
use crate::collect::slice::{Engine, Slice, Term};
use crate::collect::CollectError;
use crate::ingest::source::{read_bytes, ReadOptions, ReadResult};
use crate::store::Store;
use anyhow::Result;
use aws_sdk_s3::Client;
use chrono::{Days, NaiveDate};
use indicatif::ProgressBar;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

/// What fetching objects did, counted across the pipeline's threads.
#[derive(Debug, Default)]
pub struct FetchCounters {
    pub fetched: AtomicU64,
    pub failed: AtomicU64,
    pub bytes: AtomicU64,
    pub signed: AtomicU64,
    pub unsigned: AtomicU64,
}

/// Whether a key is a CloudTrail digest (not its local sidecar).
pub fn is_digest(key: &str) -> bool {
    parse_key(key).is_some_and(|p| p.service == "CloudTrail-Digest")
        && !key.ends_with(".metadata.json")
}

/// Where a key goes under a mirror folder, when it is safe as a local path: relative, no `.`/`..`/empty parts.
pub fn mirror_path(root: &Path, key: &str) -> Option<PathBuf> {
    if key.is_empty()
        || key.starts_with('/')
        || key.contains('\\')
        || key
            .split('/')
            .any(|p| p.is_empty() || p == "." || p == "..")
    {
        return None;
    }
    Some(root.join(key))
}

/// Writes a file whole (a temporary name, then a rename), creating its folder.
pub fn write_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let tmp = path.with_extension("tg-partial");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

/// What one fetched object became.
pub struct LoadedObject {
    pub sources: Vec<Loaded>,
    /// ETag and size, when the download succeeded (to remember the object once every source is stored).
    pub etag: Option<(String, u64)>,
}

/// Downloads `s3://bucket/key` and reads it: the object as a source named by its URI, and for a digest with a
/// `signature` in its metadata the sidecar `verify` reads, as a second source. A failed download or mirror write
/// is a failed source, never an error of the run. `size_hint` and `mtime_hint` are the listing's, when there was
/// one.
#[allow(clippy::too_many_arguments)]
pub fn load_object(
    handle: &tokio::runtime::Handle,
    client: &Client,
    bucket: &str,
    key: &str,
    opts: &ReadOptions,
    mirror: Option<&Path>,
    counters: &FetchCounters,
) -> LoadedObject {
    let name = format!("s3://{bucket}/{key}");
    let got = match handle.block_on(s3::fetch(client, bucket, key)) {
        Ok(g) => g,
        Err(e) => {
            counters.failed.fetch_add(1, Ordering::Relaxed);
            return LoadedObject {
                sources: vec![Loaded {
                    path: name,
                    size: 0,
                    mtime_ms: 0,
                    res: ReadResult::failed(e.to_string()),
                }],
                etag: None,
            };
        }
    };
    let (size, mtime_ms) = (got.bytes.len() as u64, got.last_modified_ms);
    let loaded = |res: ReadResult| Loaded {
        path: name.clone(),
        size,
        mtime_ms,
        res,
    };
    counters.fetched.fetch_add(1, Ordering::Relaxed);
    counters.bytes.fetch_add(size, Ordering::Relaxed);
    let sidecar = match (&got.signature, is_digest(key)) {
        (Some(sig), true) => {
            counters.signed.fetch_add(1, Ordering::Relaxed);
            Some(s3::sidecar_json(sig, got.signature_algorithm.as_deref()))
        }
        (None, true) => {
            counters.unsigned.fetch_add(1, Ordering::Relaxed);
            None
        }
        _ => None,
    };
    if let Some(root) = mirror {
        let written = mirror_path(root, key)
            .ok_or_else(|| "key not safe as a local path".to_string())
            .and_then(|p| {
                write_file(&p, &got.bytes).map_err(|e| e.to_string())?;
                if let Some(s) = &sidecar {
                    let mut side = p.into_os_string();
                    side.push(".metadata.json");
                    write_file(Path::new(&side), s.as_bytes()).map_err(|e| e.to_string())?;
                }
                Ok(())
            });
        if let Err(e) = written {
            return LoadedObject {
                sources: vec![loaded(ReadResult::failed(format!(
                    "writing the mirror copy under {}: {e}",
                    root.display()
                )))],
                etag: None,
            };
        }
    }
    let etag = Some((got.etag.clone(), size));
    let mut sources = vec![loaded(read_bytes(&name, got.bytes, opts))];
    if let Some(s) = sidecar {
        let side = format!("{name}.metadata.json");
        sources.push(Loaded {
            path: side.clone(),
            size: s.len() as u64,
            mtime_ms,
            res: read_bytes(&side, s.into_bytes(), opts),
        });
    }
    LoadedObject { sources, etag }
}

/// The collect summary. Field names are documented in schemas/collect-summary.schema.json.
#[derive(Debug, Default, Serialize)]
pub struct CollectSummary {
    /// `s3`, `lookup-events`, `public-keys`, `lake`, `config-history`, `config-batch`, `config-select`.
    pub command: String,
    /// What was collected: the bucket URI, or the region / query.
    pub target: String,
    pub prefixes_discovered: u64,
    pub prefixes_listed: u64,
    pub list_requests: u64,
    pub objects_listed: u64,
    pub objects_skipped: u64,
    pub objects_fetched: u64,
    pub objects_failed: u64,
    pub bytes_fetched: u64,
    pub digests_signed: u64,
    pub digests_unsigned: u64,
    pub mirror: Option<String>,
    pub requests: u64,
    pub throttled: u64,
    pub pages: u64,
    pub public_keys: u64,
    pub public_keys_new: u64,
    pub ingest: Summary,
    pub seconds: f64,
}

/// How a bucket sync runs.
pub struct SyncOptions<'a> {
    /// Downloads in flight at once (also the parsing threads).
    pub jobs: usize,
    /// Also keep every fetched object here, in the bucket's key layout (digest signatures as sidecars).
    pub mirror: Option<&'a Path>,
    pub strict: bool,
    pub quiet: bool,
    pub max_file_size: u64,
}

/// `collect s3://BUCKET[/PREFIX]`: lists what the filter keeps (only the day prefixes of a window), and fetches
/// and ingests every object not already stored whole with the same ETag and size (or missing from the mirror).
/// Each object is remembered (`s3_objects`) in the transaction that stores its last source, so an interrupted
/// sync fetches again only what it had not stored. `summary.seconds` is left to the caller.
pub fn sync_bucket(
    store: &mut Store,
    handle: &tokio::runtime::Handle,
    client: &Client,
    uri: &BucketUri,
    filter: &Filter,
    opts: &SyncOptions<'_>,
    progress: &ProgressBar,
) -> Result<CollectSummary> {
    let jobs = opts.jobs.max(1);
    let listing = handle.block_on(s3::list_bucket(client, uri, filter, jobs))?;
    let known = store.s3_objects(&uri.bucket, &uri.prefix)?;
    let mut summary = CollectSummary {
        command: "s3".into(),
        target: uri.to_string(),
        prefixes_discovered: listing.prefixes_discovered,
        prefixes_listed: listing.prefixes_listed,
        list_requests: listing.list_requests,
        objects_listed: listing.objects.len() as u64,
        mirror: opts.mirror.map(|m| m.display().to_string()),
        ..Default::default()
    };
    let mut todo: Vec<Object> = Vec::new();
    for o in listing.objects {
        if o.key.contains("ConfigWritabilityCheckFile") || o.key.ends_with('/') {
            summary.ingest.files_skipped += 1;
            continue;
        }
        let unchanged = known
            .get(&o.key)
            .is_some_and(|(etag, size)| *etag == o.etag && *size == o.size);
        // With a mirror, an object is also fetched again when the mirror lacks it.
        let mirrored = opts.mirror.is_none_or(|m| {
            mirror_path(m, &o.key)
                .and_then(|p| std::fs::metadata(p).ok())
                .is_some_and(|md| md.len() == o.size)
        });
        if unchanged && mirrored {
            summary.objects_skipped += 1;
        } else {
            todo.push(o);
        }
    }
    summary.ingest.files_seen = summary.objects_listed;
    summary.ingest.files_unchanged = summary.objects_skipped;
    if !opts.quiet {
        eprintln!(
            "trailgraph: {}: listed {} object(s) in {} prefix(es) ({} discovery listing(s), {} request(s)); {} already fetched, {} to fetch",
            crate::model::text::visible(&uri.to_string()),
            summary.objects_listed,
            summary.prefixes_listed,
            summary.prefixes_discovered,
            summary.list_requests,
            summary.objects_skipped,
            todo.len()
        );
    }

    let counters = FetchCounters::default();
    let read = ReadOptions {
        max_bytes: opts.max_file_size,
    };
    let todo_ref = &todo;
    let load = |i: usize| -> Vec<Loaded> {
        let o = &todo_ref[i];
        let mut got = load_object(
            handle,
            client,
            &uri.bucket,
            &o.key,
            &read,
            opts.mirror,
            &counters,
        );
        // The listing's size and time are the object's.
        if let Some(first) = got.sources.first_mut() {
            first.size = o.size;
            first.mtime_ms = o.last_modified_ms;
        }
        got.sources
    };
    progress.set_length(todo.len() as u64);
    let bucket = uri.bucket.clone();
    let mut after = |i: usize, written: &[bool], w: &mut crate::store::Writer<'_>| -> Result<()> {
        // Remembered only when every source of the object is stored, so a failure is fetched again next time.
        if !written.is_empty() && written.iter().all(|x| *x) {
            let o = &todo_ref[i];
            w.record_s3_object(&bucket, &o.key, &o.etag, o.size, &uri.key_uri(&o.key))?;
        }
        Ok(())
    };
    pipeline(
        store,
        todo.len(),
        &load,
        &mut after,
        &PipelineOptions {
            jobs,
            strict: opts.strict,
            quiet: opts.quiet,
        },
        &mut summary.ingest,
        progress,
    )?;
    summary.objects_fetched = counters.fetched.into_inner();
    summary.objects_failed = counters.failed.into_inner();
    summary.bytes_fetched = counters.bytes.into_inner();
    summary.digests_signed = counters.signed.into_inner();
    summary.digests_unsigned = counters.unsigned.into_inner();
    Ok(summary)
}

/// `verify s3://BUCKET[/PREFIX]`: downloads what the filter keeps into `dir` in the bucket's key layout, each
/// digest's signature metadata as its `<digest>.metadata.json` sidecar, so the offline verifier reads it as a
/// local copy. Returns the number of objects downloaded. Any failed download is an error: a verification over an
/// incomplete copy would report files as missing that are not.
pub async fn download_tree_into(
    client: &Client,
    uri: &BucketUri,
    filter: &Filter,
    dir: &Path,
    jobs: usize,
) -> Result<u64, CollectError> {
    let listing = s3::list_bucket(client, uri, filter, jobs).await?;
    let n = listing.objects.len() as u64;
    let sem = std::sync::Arc::new(tokio::sync::Semaphore::new(jobs.max(1)));
    {
        let mut set = tokio::task::JoinSet::new();
        for o in listing.objects {
            let (client, bucket, sem, dir) = (
                client.clone(),
                uri.bucket.clone(),
                sem.clone(),
                dir.to_path_buf(),
            );
            set.spawn(async move {
                let _permit = sem.acquire_owned().await;
                let got = s3::fetch(&client, &bucket, &o.key).await?;
                let path = mirror_path(&dir, &o.key).ok_or_else(|| {
                    CollectError::Service(format!(
                        "s3://{bucket}/{}: key not safe as a local path",
                        o.key
                    ))
                })?;
                let io =
                    |e: std::io::Error| CollectError::Service(format!("{}: {e}", path.display()));
                write_file(&path, &got.bytes).map_err(io)?;
                if let (Some(sig), true) = (&got.signature, is_digest(&o.key)) {
                    let mut side = path.clone().into_os_string();
                    side.push(".metadata.json");
                    let json = s3::sidecar_json(sig, got.signature_algorithm.as_deref());
                    write_file(Path::new(&side), json.as_bytes()).map_err(io)?;
                }
                Ok::<_, CollectError>(())
            });
        }
        while let Some(r) = set.join_next().await {
            r.map_err(|e| CollectError::Service(format!("download task: {e}")))??;
        }
    }
    Ok(n)
}

/// `s3://BUCKET/KEY` split, or None.
pub fn split_uri(uri: &str) -> Option<(String, String)> {
    let (b, k) = uri.strip_prefix("s3://")?.split_once('/')?;
    (!b.is_empty() && !k.is_empty()).then(|| (b.to_string(), k.to_string()))
}

/// The digest folders that cover a CloudTrail log file: its account (and organization), region and day, and the
/// next day (a digest is delivered up to an hour after the files it lists). `KEY` → `PREFIX/AWSLogs/[o-ORG/]
/// ACCOUNT/CloudTrail-Digest/REGION/YYYY/MM/DD/`.
pub fn digest_prefixes(key: &str) -> Vec<String> {
    let Some(k) = parse_key(key).filter(|k| k.service == "CloudTrail") else {
        return Vec::new();
    };
    let Some(d) = k.date else { return Vec::new() };
    // The last one: a prefix above AWSLogs/ may itself hold a folder named CloudTrail.
    let Some(i) = key.rfind("/CloudTrail/") else {
        return Vec::new();
    };
    let head = &key[..i];
    let folder = |d: NaiveDate| {
        format!(
            "{head}/CloudTrail-Digest/{}/{}/",
            k.region,
            d.format("%Y/%m/%d")
        )
    };
    let mut out = vec![folder(d)];
    if let Some(next) = d.checked_add_days(Days::new(1)) {
        out.push(folder(next));
    }
    out
}

/// What `ingest_s3_slice` did.
pub struct S3Slice {
    pub slice: Slice,
    pub totals: ViaTotals,
    pub ingest: Summary,
    /// Digest listings that failed (named), each a failure of the run.
    pub listing_errors: Vec<String>,
}

/// `collect s3://… --via athena`: the rounds on `engine`, then the files they named and the digests of the same
/// account, region and day (and the next day) through the pipeline, downloaded from S3 and named
/// `s3://BUCKET/KEY`. An object the store already holds whole (recorded in `s3_objects`, as the sync records them)
/// is not fetched again: CloudTrail never rewrites a delivered file, so a rerun fetches only what is missing.
#[allow(clippy::too_many_arguments)]
pub fn ingest_s3_slice(
    store: &mut Store,
    handle: &tokio::runtime::Handle,
    client: &Client,
    engine: &mut dyn Engine,
    tables: (&str, Option<&str>),
    terms: &[Term],
    filter: &Filter,
    depth: usize,
    lineage_hops: usize,
    opts: &FileOptions,
    progress: &ProgressBar,
) -> Result<S3Slice> {
    let mut f = S3Fetch {
        handle,
        client,
        opts,
        progress,
        handed: BTreeSet::new(),
        listed: BTreeSet::new(),
        known: BTreeMap::new(),
        totals: ViaTotals::default(),
        ingest: Summary::default(),
        listing_errors: Vec::new(),
    };
    let slice = super::lineage::run_slice(
        store,
        engine,
        tables,
        terms,
        filter,
        depth,
        lineage_hops,
        &mut |store, files| f.fetch(store, files),
    )?;
    let totals = ViaTotals {
        files_fetched: f.totals.files_fetched,
        digests_fetched: f.totals.digests_fetched,
        files_already_stored: f.totals.files_already_stored,
        bytes_fetched: f.totals.bytes_fetched,
        ..slice.totals()
    };
    Ok(S3Slice {
        slice,
        totals,
        ingest: f.ingest,
        listing_errors: f.listing_errors,
    })
}

/// The fetches of one `collect s3://… --via` run: each takes the files a round named, with the digests of their
/// account, region and day (and the next day), and stores what the store does not hold whole yet.
struct S3Fetch<'a> {
    handle: &'a tokio::runtime::Handle,
    client: &'a Client,
    opts: &'a FileOptions,
    progress: &'a ProgressBar,
    /// Objects handed to a fetch of this run (fetched, or found stored): never looked at twice.
    handed: BTreeSet<(String, String)>,
    /// Digest folders listed.
    listed: BTreeSet<(String, String)>,
    /// The objects the store held whole when the run first looked at each bucket (what was fetched since is in
    /// `handed`).
    known: BTreeMap<String, std::collections::HashMap<String, (String, u64)>>,
    totals: ViaTotals,
    ingest: Summary,
    listing_errors: Vec<String>,
}

impl S3Fetch<'_> {
    fn fetch(&mut self, store: &mut Store, files: &BTreeSet<String>) -> Result<()> {
        let mut objects: BTreeSet<(String, String)> = BTreeSet::new();
        let mut digest_folders: BTreeSet<(String, String)> = BTreeSet::new();
        for uri in files {
            match split_uri(uri) {
                Some((b, k)) => {
                    for p in digest_prefixes(&k) {
                        if self.listed.insert((b.clone(), p.clone())) {
                            digest_folders.insert((b.clone(), p));
                        }
                    }
                    if self.handed.insert((b.clone(), k.clone())) {
                        objects.insert((b, k));
                    }
                }
                None => self.listing_errors.push(format!(
                    "{uri}: the engine named a file that is not s3://BUCKET/KEY"
                )),
            }
        }
        for (bucket, prefix) in &digest_folders {
            match self
                .handle
                .block_on(s3::list_prefix(self.client, bucket, prefix))
            {
                Ok((found, _)) => {
                    for o in found {
                        if is_digest(&o.key) && self.handed.insert((bucket.clone(), o.key.clone()))
                        {
                            objects.insert((bucket.clone(), o.key));
                            self.totals.digests_fetched += 1;
                        }
                    }
                }
                Err(e) => self.listing_errors.push(e.to_string()),
            }
        }
        // What an earlier run stored whole is not fetched again.
        for (bucket, _) in &objects {
            if !self.known.contains_key(bucket) {
                let stored = store.s3_objects(bucket, "")?;
                self.known.insert(bucket.clone(), stored);
            }
        }
        let known = &self.known;
        let (todo, stored): (Vec<_>, Vec<_>) = objects
            .iter()
            .cloned()
            .partition(|(b, k)| !known.get(b).is_some_and(|m| m.contains_key(k)));
        self.totals.files_fetched += todo.len();
        self.totals.files_already_stored += stored.len();
        self.ingest.files_seen += objects.len() as u64;
        self.ingest.files_unchanged += stored.len() as u64;
        if todo.is_empty() {
            return Ok(());
        }
        let started = Instant::now();
        let counters = FetchCounters::default();
        let read = ReadOptions {
            max_bytes: self.opts.max_file_size,
        };
        let (handle, client) = (self.handle, self.client);
        let etags: Vec<Mutex<Option<(String, u64)>>> =
            todo.iter().map(|_| Mutex::new(None)).collect();
        let load = |i: usize| -> Vec<Loaded> {
            let (bucket, key) = &todo[i];
            let got = load_object(handle, client, bucket, key, &read, None, &counters);
            *etags[i].lock().unwrap_or_else(|p| p.into_inner()) = got.etag;
            got.sources
        };
        let mut after: Box<AfterJob<'_>> = Box::new(|i, written, w| {
            // Remembered only when every source of the object is stored, so a failure is fetched again next time.
            if !written.is_empty() && written.iter().all(|x| *x) {
                let (bucket, key) = &todo[i];
                if let Some((etag, size)) =
                    etags[i].lock().unwrap_or_else(|p| p.into_inner()).clone()
                {
                    w.record_s3_object(bucket, key, &etag, size, &format!("s3://{bucket}/{key}"))?;
                }
            }
            Ok(())
        });
        self.progress.set_length(todo.len() as u64);
        self.progress.set_position(0);
        pipeline(
            store,
            todo.len(),
            &load,
            &mut *after,
            &PipelineOptions {
                jobs: self.opts.jobs.unwrap_or(8).max(1),
                strict: self.opts.strict,
                quiet: self.opts.quiet,
            },
            &mut self.ingest,
            self.progress,
        )?;
        self.ingest.seconds += started.elapsed().as_secs_f64();
        self.totals.bytes_fetched += counters.bytes.load(Ordering::Relaxed);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_folders_of_a_log_file() {
        let k = "logs/AWSLogs/o-abc123/111122223333/CloudTrail/eu-west-1/2024/03/31/111122223333_CloudTrail_eu-west-1_20240331T2355Z_x.json.gz";
        assert_eq!(
            digest_prefixes(k),
            [
                "logs/AWSLogs/o-abc123/111122223333/CloudTrail-Digest/eu-west-1/2024/03/31/",
                "logs/AWSLogs/o-abc123/111122223333/CloudTrail-Digest/eu-west-1/2024/04/01/"
            ]
        );
        assert_eq!(
            digest_prefixes(
                "CloudTrail/AWSLogs/111122223333/CloudTrail/us-east-1/2024/03/01/f.json.gz"
            )[0],
            "CloudTrail/AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2024/03/01/"
        );
        assert!(digest_prefixes(
            "AWSLogs/111122223333/Config/us-east-1/2024/3/1/ConfigHistory/x.json.gz"
        )
        .is_empty());
        assert_eq!(
            split_uri("s3://b/AWSLogs/x"),
            Some(("b".to_string(), "AWSLogs/x".to_string()))
        );
        assert_eq!(split_uri("s3://b"), None);
        assert_eq!(split_uri("/tmp/x"), None);
    }
}
