//! Validation of a local copy: every digest and every log file present, every chain. See docs/integrity.md for
//! the rules; each finding below names the rule it applies.

use super::digest::{
    expected_path, format_stamp, format_time, from_awslogs, location_key, org_of, parse_digest,
    parse_digest_name, parse_log_name, parse_sidecar, stamp_ms, DigestDoc, DigestName, Sidecar,
};
use super::keys::{KeyLookup, KeyRing};
use super::read::{decompress_all, hash_bytes, Hashed};
use super::report::{kind, ContentStatus, Counted, Finding, Gap, Notice, Report};
use super::sign;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;

const HOUR: i64 = 3_600_000;
/// Slack when comparing digest windows (CloudTrail's windows meet exactly; a minute absorbs clock rounding).
const SLACK: i64 = 60_000;
/// Largest uncompressed digest or sidecar accepted.
const MAX_DIGEST: u64 = 64 << 20;

#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Only digests whose window reaches into [since, until], and log files of that time (epoch ms).
    pub since: Option<i64>,
    /// Also: a chain that ends before `until` is missing its tail.
    pub until: Option<i64>,
    pub account: Option<String>,
    pub region: Option<String>,
    /// Threads hashing log files (0: available parallelism).
    pub jobs: usize,
    /// Newest event the store holds per (account, region), with its event id: a chain of that account and region
    /// ending before it is missing its tail.
    pub newest_events: BTreeMap<(String, String), (i64, String)>,
    /// Folders holding a byte-for-byte download of the bucket (`verify s3://`): a digest or log file stored
    /// uncompressed there is a finding (CloudTrail writes every one gzip-compressed), not a notice as in a local
    /// copy, which may have been decompressed on purpose.
    pub remote_roots: Vec<PathBuf>,
}

/// (org, account, region, trail, home region, backfill).
type ChainKey = (Option<String>, String, String, String, String, bool);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DStatus {
    Valid,
    Invalid,
    Unsigned,
    Unverified,
}

struct Dg {
    path: String,
    local_key: String,
    sha: Option<String>,
    doc: Option<DigestDoc>,
    claimed_key: String,
    name: Option<DigestName>,
    chain: Option<ChainKey>,
    start: Option<i64>,
    end: Option<i64>,
    sidecar: Option<(String, Result<Sidecar, String>)>,
    status: DStatus,
    in_scope: bool,
    /// Why the file could not be read or parsed as a digest.
    read_error: Option<String>,
    /// Stored gzip-compressed, as CloudTrail writes it.
    compressed: bool,
}

struct Lg {
    path: String,
    key: String,
    group: (Option<String>, String, String),
    time: Option<i64>,
    hashed: Option<Result<Hashed, String>>,
}

/// Whether a finding is reported: decided once the digests in scope are known, so that a finding is reported
/// exactly when the file it names is counted (docs/integrity.md, "Scope").
#[derive(Debug, Clone, Copy)]
enum Scope {
    /// About a digest: reported when that digest is in scope.
    Digest(usize),
    /// About a link from digest `.1` to its previous digest `.0`: reported when either is in scope.
    Link(usize, usize),
    /// About a missing digest expected over this window.
    Window(Option<i64>, Option<i64>),
    /// About a file counted in scope.
    Always,
}

struct Ctx<'a> {
    opts: &'a Options,
    findings: Vec<(Finding, Scope)>,
    notices: Vec<Notice>,
}

impl Ctx<'_> {
    fn find(
        &mut self,
        k: &'static str,
        path: &str,
        detail: String,
        digest: Option<&str>,
        scope: Scope,
    ) {
        self.findings.push((
            Finding {
                kind: k,
                path: path.to_string(),
                detail,
                digest: digest.map(str::to_string),
            },
            scope,
        ));
    }
    /// Whether `path` lies in a byte-for-byte download of the bucket.
    fn remote(&self, path: &str) -> bool {
        self.opts
            .remote_roots
            .iter()
            .any(|r| std::path::Path::new(path).starts_with(r))
    }
    fn notice(&mut self, k: &'static str, path: Option<&str>, detail: String) {
        self.notices.push(Notice {
            kind: k,
            path: path.map(str::to_string),
            detail,
        });
    }
    fn in_scope(&self, t: Option<i64>) -> bool {
        t.is_none_or(|t| {
            self.opts.since.is_none_or(|s| t >= s) && self.opts.until.is_none_or(|u| t <= u)
        })
    }
    fn window_in_scope(&self, start: Option<i64>, end: Option<i64>) -> bool {
        end.is_none_or(|e| self.opts.since.is_none_or(|s| e >= s))
            && start.is_none_or(|b| self.opts.until.is_none_or(|u| b <= u))
    }
    fn wanted(&self, account: &str, region: &str) -> bool {
        self.opts.account.as_deref().is_none_or(|a| a == account)
            && self.opts.region.as_deref().is_none_or(|r| r == region)
    }
}

fn file_name(p: &str) -> &str {
    p.rsplit(['/', '\\']).next().unwrap_or(p)
}

/// Whether a file that is not named like a digest holds one, by the digest's own fields at its start.
fn looks_like_digest(path: &std::path::Path) -> bool {
    use std::io::{BufRead, Read};
    // Only the start is read (a tree's other files can be many and large): a digest names its own fields there
    // (`digestStartTime`, `digestS3Object` come before `logFiles`), a log file starts with `Records`. It is read
    // whole, and judged, as a digest.
    const PREFIX: usize = 64 << 10;
    let Ok(file) = std::fs::File::open(path) else {
        return false;
    };
    let mut reader = std::io::BufReader::new(file);
    let gz = reader
        .fill_buf()
        .is_ok_and(|b| b.starts_with(&[0x1f, 0x8b]));
    let mut src: Box<dyn Read> = if gz {
        Box::new(flate2::bufread::MultiGzDecoder::new(reader))
    } else {
        Box::new(reader)
    };
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while head.len() < PREFIX {
        let n = match src.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        head.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&head);
        if text.contains("\"digestStartTime\"") && text.contains("\"digestS3Object\"") {
            return true;
        }
        if text.contains("\"Records\"") || text.contains("\"eventVersion\"") {
            return false;
        }
    }
    false
}

/// Reads one digest file and its sidecar (taken out of `sidecar_files`). `None` when `--account`/`--region`
/// leave it out. A file that cannot be read or parsed is kept, with `read_error`.
fn read_digest(cx: &Ctx, path: String, sidecar_files: &mut HashMap<String, String>) -> Option<Dg> {
    let local_name = parse_digest_name(&path);
    if let Some(n) = &local_name {
        if !cx.wanted(&n.account, &n.region) {
            return None;
        }
    }
    let mut d = Dg {
        local_key: location_key(&path),
        claimed_key: location_key(&path),
        sha: None,
        doc: None,
        name: local_name.clone(),
        chain: None,
        start: None,
        end: local_name.as_ref().and_then(|n| stamp_ms(&n.stamp)),
        sidecar: None,
        status: DStatus::Invalid,
        in_scope: true,
        read_error: None,
        compressed: true,
        path: path.clone(),
    };
    // The sidecar is named after the digest as delivered; a decompressed copy may keep either name.
    let alt = match path.strip_suffix(".gz") {
        Some(p) => p.to_string(),
        None => format!("{path}.gz"),
    };
    let sc = sidecar_files
        .remove(&path)
        .or_else(|| sidecar_files.remove(&alt));
    d.sidecar = sc.map(|sp| {
        let parsed = std::fs::read(&sp)
            .map_err(|e| format!("cannot read: {e}"))
            .and_then(|b| decompress_all(&b, MAX_DIGEST).map(|(raw, _)| raw))
            .and_then(|raw| parse_sidecar(&raw));
        (sp, parsed)
    });
    let raw = std::fs::read(&path)
        .map_err(|e| format!("cannot read: {e}"))
        .and_then(|b| decompress_all(&b, MAX_DIGEST));
    match raw {
        Err(e) => d.read_error = Some(e),
        Ok((raw, members)) => {
            d.compressed = members > 0;
            d.sha = Some(hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&raw)));
            match parse_digest(&raw) {
                Err(e) => d.read_error = Some(e),
                Ok(doc) => {
                    d.claimed_key = location_key(&doc.digest_s3_object);
                    d.start = crate::model::time::parse_time_str(&doc.digest_start_time);
                    d.end = crate::model::time::parse_time_str(&doc.digest_end_time);
                    d.name = parse_digest_name(&doc.digest_s3_object).or(local_name);
                    d.doc = Some(doc);
                }
            }
        }
    }
    if let Some(n) = &d.name {
        if !cx.wanted(&n.account, &n.region) {
            return None;
        }
        let org = d
            .doc
            .as_ref()
            .and_then(|doc| org_of(&doc.digest_s3_object))
            .or_else(|| org_of(&path));
        d.chain = Some((
            org,
            n.account.clone(),
            n.region.clone(),
            n.trail.clone(),
            n.home_region.clone(),
            n.backfill,
        ));
    }
    d.in_scope = cx.window_in_scope(d.start.or(d.end), d.end);
    Some(d)
}

/// Validates every digest and log file among `files` against `keys`.
pub fn verify(files: &[PathBuf], keys: &KeyRing, opts: &Options) -> Report {
    let mut cx = Ctx {
        opts,
        findings: Vec::new(),
        notices: Vec::new(),
    };
    // 1. Sort the files out: digests, sidecars, log files, others.
    let mut sidecar_files: HashMap<String, String> = HashMap::new();
    let mut digest_paths = Vec::new();
    let mut logs: Vec<Lg> = Vec::new();
    let mut others = 0usize;
    let mut seen = BTreeSet::new();
    for f in files {
        let path = f.display().to_string();
        if !seen.insert(path.clone()) {
            continue;
        }
        let name = file_name(&path);
        if let Some(d) = path.strip_suffix(".metadata.json") {
            sidecar_files.insert(d.to_string(), path.clone());
        } else if name.contains("_CloudTrail-Digest_") {
            digest_paths.push(path);
        } else if let Some((account, region, time)) = parse_log_name(name) {
            if !cx.wanted(&account, &region) {
                continue;
            }
            logs.push(Lg {
                key: if from_awslogs(&path).is_some() {
                    location_key(&path)
                } else {
                    format!("flat:{}", location_key(&path))
                },
                group: (org_of(&path), account, region),
                path,
                time,
                hashed: None,
            });
        } else if looks_like_digest(f) {
            // A digest is recognized by its content too: renamed or moved, it is still checked (and reported as
            // moved), never counted among the other files.
            digest_paths.push(path);
        } else {
            others += 1;
        }
    }
    if others > 0 {
        cx.notice(
            "other_files",
            None,
            format!("{others} file(s) are neither CloudTrail log files, digests nor signature sidecars: not checked"),
        );
    }

    // 2. Read every digest (small) and its sidecar.
    let mut dgs: Vec<Dg> = digest_paths
        .into_iter()
        .filter_map(|path| read_digest(&cx, path, &mut sidecar_files))
        .collect();
    // A digest renamed like a log file is recognized by its content too: files named like log files of the
    // window that no digest lists are looked at (their start only).
    let mut listed_keys: BTreeSet<String> = BTreeSet::new();
    for d in &dgs {
        for entry in d.doc.iter().flat_map(|doc| &doc.log_files) {
            let k = location_key(&entry.s3_object);
            listed_keys.insert(format!("flat:{}", file_name(&k)));
            listed_keys.insert(k);
        }
    }
    let mut kept = Vec::with_capacity(logs.len());
    for l in logs {
        if !listed_keys.contains(&l.key)
            && cx.in_scope(l.time)
            && looks_like_digest(std::path::Path::new(&l.path))
        {
            dgs.extend(read_digest(&cx, l.path, &mut sidecar_files));
        } else {
            kept.push(l);
        }
    }
    let mut logs = kept;
    for (i, d) in dgs.iter().enumerate() {
        if let Some(e) = &d.read_error {
            cx.find(
                kind::DIGEST_INVALID_FORMAT,
                &d.path,
                e.clone(),
                Some(&d.path),
                Scope::Digest(i),
            );
        }
    }
    for (d, sp) in &sidecar_files {
        cx.notice(
            "orphan_sidecar",
            Some(sp),
            format!("signature sidecar without its digest file {d}"),
        );
    }

    // Digests by the key they claim (unreadable ones by where they are).
    let mut by_key: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, d) in dgs.iter().enumerate() {
        by_key.entry(d.claimed_key.as_str()).or_default().push(i);
    }
    // Chains: digests in end-time order.
    let mut chains: BTreeMap<ChainKey, Vec<usize>> = BTreeMap::new();
    for (i, d) in dgs.iter().enumerate() {
        if let Some(c) = &d.chain {
            chains.entry(c.clone()).or_default().push(i);
        }
    }
    for v in chains.values_mut() {
        v.sort_by(|&a, &b| (dgs[a].end, &dgs[a].path).cmp(&(dgs[b].end, &dgs[b].path)));
    }

    // 3. Links: each digest's previous* fields against the digest they name.
    // prev_of[q]: the digest that q's previousDigestS3Object names, when present.
    let mut prev_of: Vec<Option<usize>> = vec![None; dgs.len()];
    let mut missing_refs: Vec<(usize, String)> = Vec::new();
    for q in 0..dgs.len() {
        let Some(doc) = &dgs[q].doc else { continue };
        let Some(prev_obj) = doc
            .previous_digest_s3_object
            .as_deref()
            .filter(|s| !s.is_empty())
        else {
            continue;
        };
        let k = location_key(prev_obj);
        let cands = by_key.get(k.as_str()).cloned().unwrap_or_default();
        if cands.is_empty() {
            missing_refs.push((q, prev_obj.to_string()));
            continue;
        }
        let want = doc
            .previous_digest_hash_value
            .as_deref()
            .unwrap_or("")
            .to_ascii_lowercase();
        // Prefer the file at its claimed place whose hash matches.
        prev_of[q] = cands
            .iter()
            .copied()
            .find(|&c| dgs[c].sha.as_deref() == Some(want.as_str()))
            .or_else(|| cands.iter().copied().find(|&c| dgs[c].local_key == k))
            .or(Some(cands[0]));
    }
    // Scope: a digest whose window reaches into [since, until]; one that lists a log file of that time (CloudTrail
    // delivers a digest up to an hour after the files it lists); and one that chains onto a digest of those (it
    // carries that digest's signature, and a forged digest appended to the chain is one).
    if opts.since.is_some() || opts.until.is_some() {
        let base: Vec<bool> = dgs
            .iter()
            .map(|d| {
                d.in_scope
                    || d.doc.as_ref().is_some_and(|doc| {
                        doc.log_files.iter().any(|e| {
                            parse_log_name(&e.s3_object)
                                .and_then(|(_, _, t)| t)
                                .is_some_and(|t| cx.in_scope(Some(t)))
                        })
                    })
            })
            .collect();
        for (q, d) in dgs.iter_mut().enumerate() {
            d.in_scope = base[q] || prev_of[q].is_some_and(|p| base[p]);
        }
    }
    // successors[i]: digests whose previousDigestS3Object names digest i (with the signature they carry).
    let mut successors: Vec<Vec<usize>> = vec![Vec::new(); dgs.len()];
    let mut gaps: Vec<Gap> = Vec::new();
    for q in 0..dgs.len() {
        let Some(p) = prev_of[q] else { continue };
        let Some(doc) = &dgs[q].doc else { continue };
        let want = doc
            .previous_digest_hash_value
            .as_deref()
            .unwrap_or("")
            .to_ascii_lowercase();
        successors[p].push(q);
        let q_path = dgs[q].path.clone();
        let alg = doc.previous_digest_hash_algorithm.as_deref().unwrap_or("");
        if alg != "SHA-256" {
            let path = dgs[p].path.clone();
            cx.find(
                kind::CHAIN_HASH_MISMATCH,
                &path,
                format!("previousDigestHashAlgorithm is {alg:?}, only SHA-256 is accepted"),
                Some(&q_path),
                Scope::Link(p, q),
            );
        } else if let Some(sha) = dgs[p].sha.clone() {
            if sha != want {
                let path = dgs[p].path.clone();
                cx.find(
                    kind::CHAIN_HASH_MISMATCH,
                    &path,
                    format!("previousDigestHashValue is {want}, the file's SHA-256 is {sha}"),
                    Some(&q_path),
                    Scope::Link(p, q),
                );
            }
        }
        if let (Some(pe), Some(qs)) = (dgs[p].end, dgs[q].start) {
            if qs > pe + SLACK {
                let (_, account, region, trail, _, _) = dgs[q].chain.clone().unwrap_or_default();
                gaps.push(Gap {
                    from: format_time(pe),
                    to: format_time(qs),
                    reason: "the digest's window does not start where the previous digest's ended"
                        .into(),
                    account,
                    region,
                    trail,
                    digest: q_path.clone(),
                    event_id: None,
                    from_ms: pe,
                    to_ms: qs,
                });
            }
        }
    }

    // 4. Each digest on its own: place, algorithm, key, signature (from its sidecar and from the next digest).
    let key_ring_empty = keys.is_empty();
    for i in 0..dgs.len() {
        let Some(doc) = dgs[i].doc.clone() else {
            continue;
        };
        let path = dgs[i].path.clone();
        let mut bad = false;
        // A flat copy (no AWSLogs/ folders) is matched by file name.
        let moved = if from_awslogs(&path).is_some() {
            dgs[i].local_key != dgs[i].claimed_key
        } else {
            file_name(&dgs[i].local_key) != file_name(&dgs[i].claimed_key)
        };
        bad |= consistency(&mut cx, &dgs, i, prev_of[i]);
        if !dgs[i].compressed {
            let detail = "stored uncompressed: CloudTrail writes every digest gzip-compressed, so these bytes were \
                          rewritten (the signature covers the uncompressed content, which may still be intact)";
            if cx.remote(&path) {
                bad = true;
                cx.find(
                    kind::NOT_COMPRESSED,
                    &path,
                    detail.into(),
                    Some(&path),
                    Scope::Digest(i),
                );
            } else {
                cx.notice(
                    "not_compressed",
                    Some(&path),
                    format!("{detail}; a local copy may have been decompressed on purpose"),
                );
            }
        }
        if moved {
            bad = true;
            cx.find(
                kind::DIGEST_MOVED,
                &path,
                format!(
                    "digestS3Object is {}: the file is not where CloudTrail delivered it",
                    doc.digest_s3_object
                ),
                Some(&path),
                Scope::Digest(i),
            );
        }
        // Signatures on offer: the sidecar, and previousDigestSignature of each digest naming this one.
        let mut offered: Vec<(String, String, &'static str)> = Vec::new(); // (hex, source digest, what)
        let mut sidecar_sig: Option<String> = None;
        if let Some((sp, sc)) = &dgs[i].sidecar {
            match sc {
                Ok(sc) => {
                    let doc_alg_ok = doc.digest_signature_algorithm == sign::ALGORITHM;
                    if let Some(a) = sc
                        .algorithm
                        .as_deref()
                        .filter(|a| *a != sign::ALGORITHM && doc_alg_ok)
                    {
                        bad = true;
                        cx.find(
                            kind::SIGNATURE_INVALID,
                            &path,
                            format!("sidecar signature-algorithm is {a:?}, only SHA256withRSA is accepted"),
                            Some(&path),
                            Scope::Digest(i),
                        );
                    }
                    sidecar_sig = Some(sc.signature.trim().to_ascii_lowercase());
                    offered.push((
                        sc.signature.trim().to_ascii_lowercase(),
                        path.clone(),
                        "sidecar",
                    ));
                }
                Err(e) => cx.notice("sidecar_unreadable", Some(sp), e.clone()),
            }
        }
        for &q in &successors[i] {
            let qdoc = dgs[q].doc.as_ref().expect("successors are parsed");
            if let Some(s) = qdoc
                .previous_digest_signature
                .as_deref()
                .filter(|s| !s.is_empty())
            {
                let s = s.trim().to_ascii_lowercase();
                if let Some(own) = &sidecar_sig {
                    if *own != s {
                        bad = true;
                        let qp = dgs[q].path.clone();
                        cx.find(
                            kind::CHAIN_SIGNATURE_MISMATCH,
                            &path,
                            "previousDigestSignature differs from the signature in the digest's sidecar".into(),
                            Some(&qp),
                            Scope::Digest(i),
                        );
                    }
                }
                if !offered.iter().any(|(h, _, _)| *h == s) {
                    offered.push((
                        s,
                        dgs[q].path.clone(),
                        "previousDigestSignature of the next digest",
                    ));
                }
            }
        }
        let alg_ok = doc.digest_signature_algorithm == sign::ALGORITHM;
        if !alg_ok {
            bad = true;
            cx.find(
                kind::SIGNATURE_INVALID,
                &path,
                format!(
                    "digestSignatureAlgorithm is {:?}, only SHA256withRSA is accepted",
                    doc.digest_signature_algorithm
                ),
                Some(&path),
                Scope::Digest(i),
            );
        }
        let status = if !alg_ok {
            DStatus::Invalid
        } else if offered.is_empty() {
            // No signature here. The newest digest of its chain (or the last before CloudTrail restarted the
            // chain) is unsigned locally; any other digest has lost it.
            let chain = dgs[i].chain.clone();
            let next = chain.as_ref().and_then(|c| {
                chains[c]
                    .iter()
                    .copied()
                    .find(|&j| j != i && dgs[j].end > dgs[i].end)
            });
            let restart = next.is_some_and(|j| {
                dgs[j].doc.as_ref().is_some_and(|d| {
                    d.previous_digest_s3_object
                        .as_deref()
                        .is_none_or(str::is_empty)
                })
            });
            match next {
                Some(j) if !restart => {
                    bad = true;
                    let jp = dgs[j].path.clone();
                    cx.find(
                        kind::SIGNATURE_MISSING,
                        &path,
                        "no sidecar, and no later digest carries this digest's signature: it cannot be verified".into(),
                        Some(&jp),
                        Scope::Digest(i),
                    );
                }
                _ => cx.notice(
                    "unsigned",
                    Some(&path),
                    "no signature available locally (no sidecar, and no later digest names this one): the \
                     digest's content is not proven"
                        .into(),
                ),
            }
            DStatus::Unsigned
        } else if key_ring_empty {
            DStatus::Unverified
        } else {
            match keys.lookup(&doc.digest_public_key_fingerprint, dgs[i].end) {
                KeyLookup::NotFound => {
                    bad = true;
                    cx.find(
                        kind::KEY_NOT_FOUND,
                        &path,
                        format!(
                            "no public key with fingerprint {}",
                            doc.digest_public_key_fingerprint
                        ),
                        Some(&path),
                        Scope::Digest(i),
                    );
                }
                KeyLookup::OutsideValidity(windows) => {
                    bad = true;
                    let w: Vec<String> = windows
                        .iter()
                        .map(|(f, u)| {
                            format!(
                                "{}..{}",
                                f.map(format_time).unwrap_or_default(),
                                u.map(format_time).unwrap_or_default()
                            )
                        })
                        .collect();
                    cx.find(
                        kind::KEY_NOT_FOUND,
                        &path,
                        format!(
                            "public key {} is not valid at {} (valid {})",
                            doc.digest_public_key_fingerprint,
                            doc.digest_end_time,
                            w.join(", ")
                        ),
                        Some(&path),
                        Scope::Digest(i),
                    );
                }
                KeyLookup::Found(key) => {
                    let sha = dgs[i].sha.clone().unwrap_or_default();
                    for (sig, source, what) in &offered {
                        let prev = doc
                            .previous_digest_signature
                            .as_deref()
                            .filter(|s| !s.is_empty());
                        let msg = sign::signing_string(
                            &doc.digest_end_time,
                            &doc.digest_s3_bucket,
                            &doc.digest_s3_object,
                            &sha,
                            prev,
                        );
                        if let Err(e) = sign::verify(&key.key, msg.as_bytes(), sig) {
                            bad = true;
                            let extra = sign::other_hash_verifies(&key.key, msg.as_bytes(), sig)
                                .map(|a| format!(" (it verifies as {a}, which is not accepted)"))
                                .unwrap_or_default();
                            cx.find(
                                kind::SIGNATURE_INVALID,
                                &path,
                                format!("signature from the {what}: {e}{extra}"),
                                Some(source),
                                Scope::Digest(i),
                            );
                        }
                    }
                }
            }
            DStatus::Valid
        };
        dgs[i].status = if bad { DStatus::Invalid } else { status };
    }

    // 5. Missing digests: named by a later digest, or skipped in time, or missing at the tail.
    let mut reported_missing: BTreeSet<String> = BTreeSet::new();
    let mut chain_start: HashMap<ChainKey, i64> = HashMap::new();
    for (c, members) in &chains {
        if let Some(&first) = members.first() {
            chain_start.insert(
                c.clone(),
                dgs[first].start.or(dgs[first].end).unwrap_or(i64::MIN),
            );
        }
    }
    for (q, prev_obj) in &missing_refs {
        let q = *q;
        let qp = dgs[q].path.clone();
        let expected = expected_path(&qp, prev_obj);
        let m_end = parse_digest_name(prev_obj).and_then(|n| stamp_ms(&n.stamp));
        let Some(chain) = dgs[q].chain.clone() else {
            continue;
        };
        // The nearest digest present before the missing one.
        let before = chains[&chain]
            .iter()
            .copied()
            .rfind(|&j| dgs[j].end.zip(m_end).is_some_and(|(e, m)| e < m));
        let Some(r) = before else {
            cx.notice(
                "chain_start",
                Some(&expected),
                format!(
                    "the oldest digest present ({qp}) names a previous digest that is not in this copy: the chain \
                     continues before it"
                ),
            );
            continue;
        };
        if !reported_missing.insert(location_key(prev_obj)) {
            continue;
        }
        cx.find(
            kind::DIGEST_MISSING,
            &expected,
            "named as previousDigestS3Object but not in the tree".into(),
            Some(&qp),
            // Reported when the digest that names it is in scope, or when its own window is.
            if dgs[q].in_scope {
                Scope::Always
            } else {
                Scope::Window(m_end.map(|m| m - HOUR), m_end)
            },
        );
        // Digests deleted in a row before it: hourly windows between the digest present and the missing one.
        if let (Some(re), Some(me)) = (dgs[r].end, m_end) {
            let n = ((me - re) as f64 / HOUR as f64).round() as i64 - 1;
            if n >= 1 {
                let first = infer_key(&dgs[r], re + HOUR);
                let path = expected_path(&dgs[r].path, &first);
                cx.find(
                    kind::DIGEST_MISSING,
                    &path,
                    format!(
                        "{n} digest(s) missing in a row between {} and {}: the chain skips from {} to {}",
                        format_time(re),
                        format_time(me - HOUR),
                        file_name(&dgs[r].path),
                        file_name(prev_obj)
                    ),
                    None,
                    Scope::Window(Some(re), Some(me - HOUR)),
                );
            }
        }
    }
    // CloudTrail restarted the chain (previous fields null after an earlier digest): a reported gap.
    for members in chains.values() {
        for w in members.windows(2) {
            let (a, b) = (w[0], w[1]);
            let Some(bdoc) = &dgs[b].doc else { continue };
            if bdoc
                .previous_digest_s3_object
                .as_deref()
                .is_some_and(|s| !s.is_empty())
            {
                continue;
            }
            let (Some(ae), Some(bs)) = (dgs[a].end, dgs[b].start) else {
                continue;
            };
            let (_, account, region, trail, _, _) = dgs[b].chain.clone().unwrap_or_default();
            gaps.push(Gap {
                from: format_time(ae),
                to: format_time(bs),
                reason: "CloudTrail restarted the digest chain (previous digest fields are null): logging or log \
                         file validation was stopped"
                    .into(),
                account,
                region,
                trail,
                digest: dgs[b].path.clone(),
                event_id: None,
                from_ms: ae,
                to_ms: bs,
            });
        }
    }

    // 6. Log files: hash everything in scope, in parallel.
    // Log files by key; those of a flat copy (no AWSLogs/ folders) by file name.
    let mut log_by_key: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, l) in logs.iter().enumerate() {
        log_by_key.entry(l.key.clone()).or_default().push(i);
    }
    let flat_key = |k: &str| format!("flat:{}", file_name(k));
    let mut listed: HashMap<String, Vec<(usize, usize)>> = HashMap::new(); // log key -> (digest, entry)
    for (i, d) in dgs.iter().enumerate() {
        if let Some(doc) = &d.doc {
            for (e, entry) in doc.log_files.iter().enumerate() {
                let k = location_key(&entry.s3_object);
                listed.entry(flat_key(&k)).or_default().push((i, e));
                listed.entry(k).or_default().push((i, e));
            }
        }
    }
    // A log file is hashed when a digest in scope lists it, or when it is listed in none.
    let to_hash: Vec<usize> = (0..logs.len())
        .filter(|&i| match listed.get(&logs[i].key) {
            Some(ls) => ls.iter().any(|&(d, _)| dgs[d].in_scope),
            None => cx.in_scope(logs[i].time),
        })
        .collect();
    let results = hash_files(&logs, &to_hash, opts.jobs);
    let mut log_bytes = 0u64;
    for (i, r) in results {
        if let Ok(h) = &r {
            log_bytes += h.uncompressed_size;
        }
        logs[i].hashed = Some(r);
    }

    // Hashes listed by digests, for "this content belongs to another listed file".
    let mut listed_hash: HashMap<String, String> = HashMap::new();
    for d in &dgs {
        if let Some(doc) = &d.doc {
            for entry in &doc.log_files {
                listed_hash
                    .entry(entry.hash_value.to_ascii_lowercase())
                    .or_insert_with(|| entry.s3_object.clone());
            }
        }
    }
    let mut log_verdict: Vec<Option<&'static str>> = vec![None; logs.len()]; // valid/unverified/invalid
    let mut missing_logs = 0u64;
    let mut missing_seen = BTreeSet::new();
    let mut missing_paths: Vec<String> = Vec::new();
    for (i, d) in dgs.iter().enumerate() {
        if !d.in_scope {
            continue;
        }
        let Some(doc) = &d.doc else { continue };
        for entry in &doc.log_files {
            let k = location_key(&entry.s3_object);
            let want = entry.hash_value.to_ascii_lowercase();
            match log_by_key.get(&k).or_else(|| log_by_key.get(&flat_key(&k))) {
                None => {
                    let expected = expected_path(&d.path, &entry.s3_object);
                    if missing_seen.insert((expected.clone(), i)) {
                        missing_logs += 1;
                        missing_paths.push(expected.clone());
                        cx.find(
                            kind::LOG_MISSING,
                            &expected,
                            "listed in the digest but not in the tree (deleted, moved or renamed)"
                                .into(),
                            Some(&d.path),
                            Scope::Always,
                        );
                    }
                }
                Some(files) => {
                    for &f in files {
                        let lp = logs[f].path.clone();
                        match &logs[f].hashed {
                            Some(Ok(h)) => {
                                let alg = entry.hash_algorithm.as_deref().unwrap_or("SHA-256");
                                if alg != "SHA-256" {
                                    log_verdict[f] = Some("invalid");
                                    cx.find(
                                        kind::LOG_HASH_MISMATCH,
                                        &lp,
                                        format!(
                                            "hashAlgorithm is {alg:?}, only SHA-256 is accepted"
                                        ),
                                        Some(&d.path),
                                        Scope::Always,
                                    );
                                } else if h.sha256 == want {
                                    let v = if d.status == DStatus::Valid {
                                        "valid"
                                    } else {
                                        "unverified"
                                    };
                                    log_verdict[f] = Some(match (log_verdict[f], v) {
                                        (Some("valid"), _) | (_, "valid") => "valid",
                                        _ => v,
                                    });
                                } else {
                                    if log_verdict[f].is_none() {
                                        log_verdict[f] = Some("invalid");
                                    }
                                    let mut detail = format!(
                                        "the digest lists SHA-256 {want}, the file's uncompressed content has {}",
                                        h.sha256
                                    );
                                    if let Some(first) = &h.first_member_sha256 {
                                        detail.push_str(&format!(
                                            "; the file holds {} gzip members: data was appended after the gzip \
                                             stream{}",
                                            h.members,
                                            if *first == want { " (the first member alone matches)" } else { "" }
                                        ));
                                    } else if let Some(other) = listed_hash.get(&h.sha256) {
                                        detail.push_str(&format!(
                                            "; that is the content listed for {other}"
                                        ));
                                    }
                                    cx.find(
                                        kind::LOG_HASH_MISMATCH,
                                        &lp,
                                        detail,
                                        Some(&d.path),
                                        Scope::Always,
                                    );
                                }
                            }
                            Some(Err(e)) if log_verdict[f] != Some("invalid") => {
                                log_verdict[f] = Some("invalid");
                                cx.find(
                                    kind::LOG_INVALID_FORMAT,
                                    &lp,
                                    e.clone(),
                                    Some(&d.path),
                                    Scope::Always,
                                );
                            }
                            _ => {}
                        }
                    }
                }
            }
        }
    }
    // Log files listed in no digest.
    let mut unlisted = 0u64;
    let mut tail_evidence: HashMap<(Option<String>, String, String), (i64, String)> =
        HashMap::new();
    let group_chains: BTreeSet<(Option<String>, String, String)> = chains
        .keys()
        .filter(|c| !c.5)
        .map(|c| (c.0.clone(), c.1.clone(), c.2.clone()))
        .collect();
    for (i, l) in logs.iter().enumerate() {
        if listed.contains_key(&l.key) || !cx.in_scope(l.time) {
            continue;
        }
        unlisted += 1;
        if let Some(Err(e)) = &l.hashed {
            cx.notice("log_unreadable", Some(&l.path), e.clone());
        }
        log_verdict[i] = Some("invalid");
        if super::digest::is_insight(&l.path) {
            log_verdict[i] = Some("unverified");
            cx.notice(
                "not_covered",
                Some(&l.path),
                "CloudTrail Insights file listed in no digest: not validated".into(),
            );
            continue;
        }
        if !group_chains.contains(&l.group) {
            log_verdict[i] = Some("unverified");
            cx.notice(
                "no_digests",
                Some(&l.path),
                format!(
                    "no digest of account {} region {} in the tree: the file cannot be validated",
                    l.group.1, l.group.2
                ),
            );
            continue;
        }
        // Before the chain began, or inside a gap CloudTrail reported: not covered by design.
        let starts: Vec<i64> = chains
            .iter()
            .filter(|(c, _)| !c.5 && (c.0.clone(), c.1.clone(), c.2.clone()) == l.group)
            .filter(|(_, m)| {
                m.first().is_some_and(|&f| {
                    dgs[f].doc.as_ref().is_some_and(|d| {
                        d.previous_digest_s3_object
                            .as_deref()
                            .is_none_or(str::is_empty)
                    })
                })
            })
            .map(|(c, _)| chain_start[c])
            .collect();
        let before_start = l
            .time
            .is_some_and(|t| !starts.is_empty() && starts.iter().all(|&s| t < s));
        let in_gap = l.time.is_some_and(|t| {
            gaps.iter().any(|g| {
                g.account == l.group.1 && g.region == l.group.2 && g.from_ms <= t && t < g.to_ms
            })
        });
        if before_start || in_gap {
            log_verdict[i] = Some("unverified");
            cx.notice(
                "not_covered",
                Some(&l.path),
                if in_gap {
                    "delivered during a gap CloudTrail reported in the digest chain: listed in no digest".into()
                } else {
                    "delivered before the digest chain began: listed in no digest".into()
                },
            );
            continue;
        }
        cx.find(
            kind::LOG_UNLISTED,
            &l.path,
            "present but listed in no digest (forged, or its digest is missing)".into(),
            None,
            Scope::Always,
        );
        if let Some(t) = l.time {
            let e = tail_evidence
                .entry(l.group.clone())
                .or_insert((t, l.path.clone()));
            if t > e.0 {
                *e = (t, l.path.clone());
            }
        }
    }

    // 7. Tails: the newest chain of each account+region must reach --until and the newest unlisted log file.
    let mut newest: BTreeMap<(Option<String>, String, String), usize> = BTreeMap::new();
    for (c, members) in &chains {
        if c.5 {
            continue;
        }
        let Some(&last) = members.last() else {
            continue;
        };
        let g = (c.0.clone(), c.1.clone(), c.2.clone());
        let e = newest.entry(g).or_insert(last);
        if dgs[last].end > dgs[*e].end {
            *e = last;
        }
    }
    for (g, &last) in &newest {
        let Some(end) = dgs[last].end else { continue };
        let mut count = 0i64;
        let mut why = Vec::new();
        if let Some(u) = opts.until {
            if u >= end + HOUR {
                count = count.max((u - end) / HOUR);
                why.push(format!("--until {}", format_time(u)));
            }
        }
        if let Some((t, p)) = tail_evidence.get(g) {
            if *t >= end {
                count = count.max((t - end) / HOUR + 1);
                why.push(format!(
                    "log file {} delivered at {}",
                    file_name(p),
                    format_time(*t)
                ));
            }
        }
        if let Some((t, id)) = opts.newest_events.get(&(g.1.clone(), g.2.clone())) {
            if *t >= end {
                count = count.max((t - end) / HOUR + 1);
                why.push(format!("the store holds event {id} of {}", format_time(*t)));
            }
        }
        if count > 0 {
            let first = infer_key(&dgs[last], end + HOUR);
            let path = expected_path(&dgs[last].path, &first);
            cx.find(
                kind::DIGEST_MISSING,
                &path,
                format!(
                    "the chain ends at {} ({}), but {} digest(s) should follow: {}",
                    format_time(end),
                    file_name(&dgs[last].path),
                    count,
                    why.join("; ")
                ),
                None,
                Scope::Window(Some(end), Some(end + count * HOUR)),
            );
        }
    }

    // Log files stored uncompressed (CloudTrail writes them gzip-compressed): rewritten, even when the content
    // hash still matches. A finding in a download of the bucket, a notice in a local copy.
    for (i, l) in logs.iter().enumerate() {
        let (Some(Ok(h)), Some(_)) = (&l.hashed, log_verdict[i]) else {
            continue;
        };
        if h.compressed {
            continue;
        }
        let detail = "stored uncompressed: CloudTrail writes every log file gzip-compressed, so these bytes were \
                      rewritten (the content hash may still match)";
        if cx.remote(&l.path) {
            if listed.contains_key(&l.key) {
                log_verdict[i] = Some("invalid");
            }
            cx.find(
                kind::NOT_COMPRESSED,
                &l.path,
                detail.into(),
                None,
                Scope::Always,
            );
        } else {
            cx.notice(
                "not_compressed",
                Some(&l.path),
                format!("{detail}; a local copy may have been decompressed on purpose"),
            );
        }
    }

    // 8. Counts (digests and files in scope), statuses for the store.
    let reported: Vec<bool> = cx
        .findings
        .iter()
        .map(|(_, scope)| match *scope {
            Scope::Digest(i) => dgs[i].in_scope,
            Scope::Link(p, q) => dgs[p].in_scope || dgs[q].in_scope,
            Scope::Window(from, to) => cx.window_in_scope(from, to),
            Scope::Always => true,
        })
        .collect();
    let mut report = Report {
        public_keys: keys.len(),
        log_bytes,
        ..Report::default()
    };
    if key_ring_empty && dgs.iter().any(|d| d.doc.is_some()) {
        cx.notice(
            "no_public_keys",
            None,
            "no public key given (--public-keys) or stored: signatures were not checked".into(),
        );
    }
    let mut status_by_sha: BTreeMap<String, &'static str> = BTreeMap::new();
    let mut put = |sha: &str, s: &'static str| {
        let e = status_by_sha.entry(sha.to_string()).or_insert(s);
        let rank = |s: &str| match s {
            "validated" => 2,
            "invalid" => 1,
            _ => 0,
        };
        if rank(s) > rank(e) {
            *e = s;
        }
    };
    let invalid_paths: BTreeSet<&str> = cx
        .findings
        .iter()
        .zip(&reported)
        .filter(|(_, r)| **r)
        .map(|((f, _), _)| f.path.as_str())
        .collect();
    for d in &dgs {
        if !d.in_scope {
            continue;
        }
        let status = if invalid_paths.contains(d.path.as_str()) {
            DStatus::Invalid
        } else {
            d.status
        };
        let verdict = match status {
            DStatus::Valid => {
                report.digests.valid += 1;
                "valid"
            }
            DStatus::Invalid => {
                report.digests.invalid += 1;
                "invalid"
            }
            DStatus::Unsigned => {
                report.digests.unsigned += 1;
                "unsigned"
            }
            DStatus::Unverified => {
                report.digests.unverified += 1;
                "unverified"
            }
        };
        report.files.push(Counted {
            path: d.path.clone(),
            digest: true,
            verdict,
        });
        if let Some(sha) = &d.sha {
            put(
                sha,
                match status {
                    DStatus::Valid => "validated",
                    DStatus::Invalid => "invalid",
                    _ => "unverified",
                },
            );
        }
    }
    for (i, l) in logs.iter().enumerate() {
        let Some(v) = log_verdict[i] else { continue };
        let unlisted_file = !listed.contains_key(&l.key);
        let verdict = if unlisted_file {
            "unlisted"
        } else {
            match v {
                "valid" => report.logs.valid += 1,
                "invalid" => report.logs.invalid += 1,
                _ => report.logs.unverified += 1,
            }
            match v {
                "valid" | "invalid" => v,
                _ => "unverified",
            }
        };
        report.files.push(Counted {
            path: l.path.clone(),
            digest: false,
            verdict,
        });
        if let Some(Ok(h)) = &l.hashed {
            put(
                &h.sha256,
                match v {
                    "valid" => "validated",
                    "invalid" => "invalid",
                    _ => "unverified",
                },
            );
        }
    }
    report.logs.unlisted = unlisted;
    report.logs.missing = missing_logs;
    report.statuses = status_by_sha
        .into_iter()
        .map(|(sha256, status)| ContentStatus { sha256, status })
        .collect();
    report.findings = cx
        .findings
        .iter()
        .zip(&reported)
        .filter(|(_, r)| **r)
        .map(|((f, _), _)| f.clone())
        .collect();
    report
        .files
        .extend(missing_paths.into_iter().map(|path| Counted {
            path,
            digest: false,
            verdict: "missing",
        }));
    report.files.sort();
    // By file, then kind: every problem of one file together.
    report.findings.sort_by(|a, b| {
        (&a.path, a.kind, &a.digest, &a.detail).cmp(&(&b.path, b.kind, &b.digest, &b.detail))
    });
    report.findings.dedup();
    report.gaps = gaps
        .into_iter()
        .filter(|g| cx.window_in_scope(Some(g.from_ms), Some(g.to_ms)))
        .collect();
    report.gaps.sort();
    report.gaps.dedup();
    report.notices = cx.notices;
    report.notices.sort();
    report.notices.dedup();
    report
}

/// A digest's own consistency (docs/integrity.md, rule 1): a finding on digest `i` for each contradiction in it,
/// or with the digest before it (`prev`). Returns whether there was any.
fn consistency(cx: &mut Ctx, dgs: &[Dg], i: usize, prev: Option<usize>) -> bool {
    use crate::model::time::parse_time_str;
    let d = &dgs[i];
    let Some(doc) = &d.doc else { return false };
    let time = |s: &Option<String>| s.as_deref().and_then(parse_time_str);
    let mut problems: Vec<String> = Vec::new();
    if let (Some(s), Some(e)) = (d.start, d.end) {
        if e <= s {
            problems.push(format!(
                "digestEndTime {} is not after digestStartTime {}",
                doc.digest_end_time, doc.digest_start_time
            ));
        }
    }
    if let (Some(o), Some(n)) = (time(&doc.oldest_event_time), time(&doc.newest_event_time)) {
        if n < o {
            problems.push(format!(
                "newestEventTime {} is before oldestEventTime {}",
                doc.newest_event_time.as_deref().unwrap_or(""),
                doc.oldest_event_time.as_deref().unwrap_or("")
            ));
        }
    }
    // Log files of a digest are its trail's, in its account and region: under the same prefix as the digest,
    // `.../CloudTrail/REGION/` (or `CloudTrail-Insight`) where the digest is under `.../CloudTrail-Digest/REGION/`.
    let obj = doc.digest_s3_object.as_str();
    let base = if obj.starts_with("CloudTrail-Digest/") {
        Some("")
    } else {
        obj.find("/CloudTrail-Digest/").map(|k| &obj[..=k])
    };
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (k, e) in doc.log_files.iter().enumerate() {
        let key = location_key(&e.s3_object);
        if let Some(first) = seen.insert(key, k) {
            problems.push(format!(
                "logFiles[{k}] lists {} again (also logFiles[{first}])",
                e.s3_object
            ));
        }
        if let (Some(o), Some(n)) = (time(&e.oldest_event_time), time(&e.newest_event_time)) {
            if n < o {
                problems.push(format!(
                    "logFiles[{k}] ({}): newestEventTime {} is before oldestEventTime {}",
                    e.s3_object,
                    e.newest_event_time.as_deref().unwrap_or(""),
                    e.oldest_event_time.as_deref().unwrap_or("")
                ));
            }
        }
        let Some(n) = &d.name else { continue };
        let outside = match base {
            Some(base) => {
                let under = |what: &str| {
                    e.s3_object
                        .starts_with(&format!("{base}{what}/{}/", n.region))
                };
                !(under("CloudTrail") || under("CloudTrail-Insight"))
            }
            None => false,
        } || parse_log_name(&e.s3_object)
            .is_some_and(|(account, region, _)| account != n.account || region != n.region)
            || e.s3_bucket
                .as_deref()
                .is_some_and(|b| !b.is_empty() && b != doc.digest_s3_bucket);
        if outside {
            problems.push(format!(
                "logFiles[{k}] is s3://{}/{}, outside the trail's prefix {}CloudTrail/{}/ in s3://{}",
                e.s3_bucket.as_deref().unwrap_or(&doc.digest_s3_bucket),
                e.s3_object,
                base.unwrap_or(""),
                n.region,
                doc.digest_s3_bucket
            ));
        }
    }
    if let Some(p) = prev {
        if let (Some(pe), Some(qs)) = (dgs[p].end, d.start) {
            if qs + SLACK < pe {
                problems.push(format!(
                    "its window starts at {}, before the previous digest's window ended at {} ({}): the windows \
                     overlap",
                    format_time(qs),
                    format_time(pe),
                    file_name(&dgs[p].path)
                ));
            }
        }
    }
    let path = d.path.clone();
    let any = !problems.is_empty();
    for detail in problems {
        cx.find(
            kind::DIGEST_INCONSISTENT,
            &path,
            detail,
            Some(&path),
            Scope::Digest(i),
        );
    }
    any
}

/// The S3 key a digest of the same chain ending at `end` would have.
fn infer_key(template: &Dg, end: i64) -> String {
    let obj = template
        .doc
        .as_ref()
        .map(|d| d.digest_s3_object.clone())
        .unwrap_or_else(|| from_awslogs(&template.path).unwrap_or_else(|| template.path.clone()));
    let Some(n) = &template.name else { return obj };
    let stamp = format_stamp(end);
    if stamp.len() < 8 {
        return obj; // beyond year 9999: no key to infer
    }
    let dir = match obj.rfind(&format!("/CloudTrail-Digest/{}/", n.region)) {
        Some(i) => format!(
            "{}/CloudTrail-Digest/{}/{}/{}/{}/",
            &obj[..i],
            n.region,
            &stamp[0..4],
            &stamp[4..6],
            &stamp[6..8]
        ),
        None => match obj.rfind('/') {
            Some(i) => obj[..=i].to_string(),
            None => String::new(),
        },
    };
    format!(
        "{dir}{}_CloudTrail-Digest_{}_{}_{}_{stamp}{}.json.gz",
        n.account,
        n.region,
        n.trail,
        n.home_region,
        if n.backfill { "_backfill" } else { "" }
    )
}

/// Hashes the files at `which` on `jobs` threads; results in input order.
fn hash_files(logs: &[Lg], which: &[usize], jobs: usize) -> Vec<(usize, Result<Hashed, String>)> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let jobs = if jobs == 0 {
        std::thread::available_parallelism().map_or(2, |n| n.get())
    } else {
        jobs
    }
    .clamp(1, 64)
    .min(which.len().max(1));
    let next = AtomicUsize::new(0);
    let mut out: Vec<(usize, Result<Hashed, String>)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..jobs)
            .map(|_| {
                s.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let n = next.fetch_add(1, Ordering::Relaxed);
                        let Some(&i) = which.get(n) else { break };
                        let r = std::fs::read(&logs[i].path)
                            .map_err(|e| format!("cannot read: {e}"))
                            .and_then(|b| hash_bytes(&b));
                        mine.push((i, r));
                    }
                    mine
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    });
    out.sort_by_key(|(i, _)| *i);
    out
}
