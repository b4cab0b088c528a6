//! Reading one file: decompression (by magic bytes, multi-member gzip, capped size), SHA-256 over the
//! uncompressed bytes, UTF-8 repair, S3 key layout, then container parsing.

use super::cloudtrail::RecordContext;
use super::container::{parse_text, Contents, NotRecognized};
use crate::model::Diagnostic;
use flate2::read::MultiGzDecoder;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::Path;

#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// Largest decompressed size accepted for one file (gzip bomb guard).
    pub max_bytes: u64,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            max_bytes: 512 << 20,
        }
    }
}

/// What the S3 key layout says about a file: `[prefix/]AWSLogs/[o-org/]ACCOUNT/SERVICE/REGION/YYYY/MM/DD/NAME`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyLayout {
    pub account: Option<String>,
    pub region: Option<String>,
    /// `CloudTrail`, `CloudTrail-Digest`, `CloudTrail-Insight`, `Config`.
    pub service: Option<String>,
    pub org: Option<String>,
}

pub fn key_layout(path: &str) -> KeyLayout {
    let parts: Vec<&str> = path.split(['/', '\\']).collect();
    let mut l = KeyLayout::default();
    if let Some(i) = parts.iter().rposition(|p| *p == "AWSLogs") {
        let mut j = i + 1;
        if parts.get(j).is_some_and(|p| p.starts_with("o-")) {
            l.org = Some(parts[j].to_string());
            j += 1;
        }
        if let Some(acct) = parts
            .get(j)
            .filter(|p| p.len() == 12 && p.bytes().all(|b| b.is_ascii_digit()))
        {
            l.account = Some(acct.to_string());
            if parts.len() > j + 2 {
                l.service = parts.get(j + 1).map(|s| s.to_string());
                l.region = parts.get(j + 2).map(|s| s.to_string());
            }
        }
    }
    // The file name repeats account and region: ACCOUNT_CloudTrail_REGION_..., ACCOUNT_Config_REGION_...
    if let Some(name) = parts.last() {
        let f: Vec<&str> = name.split('_').collect();
        if f.len() >= 3 && f[0].len() == 12 && f[0].bytes().all(|b| b.is_ascii_digit()) {
            l.account.get_or_insert_with(|| f[0].to_string());
            if matches!(
                f[1],
                "CloudTrail" | "CloudTrail-Digest" | "Config" | "CloudTrail-Insight"
            ) {
                l.service.get_or_insert_with(|| f[1].to_string());
                l.region.get_or_insert_with(|| f[2].to_string());
            }
        }
    }
    l
}

/// One file after reading. Either `contents` or `failure` is set.
#[derive(Debug)]
pub struct ReadResult {
    pub sha256: String,
    pub uncompressed_size: u64,
    pub compressed: bool,
    pub layout: KeyLayout,
    pub contents: Option<Contents>,
    /// Why the whole file could not be used (I/O, truncated gzip, too large, not JSON...).
    pub failure: Option<String>,
    /// Why the file was passed over as plainly not audit data (a README, a CSV or YAML file beside the data):
    /// set instead of `failure`, and not a failure of the run unless `--strict`.
    pub skipped: Option<String>,
    /// File-level warnings (repaired UTF-8).
    pub warnings: Vec<Diagnostic>,
}

impl ReadResult {
    /// A result for a file that could not be read at all.
    pub fn failed(reason: String) -> ReadResult {
        ReadResult {
            sha256: String::new(),
            uncompressed_size: 0,
            compressed: false,
            layout: KeyLayout::default(),
            contents: None,
            failure: Some(reason),
            skipped: None,
            warnings: Vec::new(),
        }
    }
}

/// File name extensions of documents, tables and code that sit beside audit data in real folders.
const NOT_DATA_EXTENSIONS: &[&str] = &[
    "md", "markdown", "rst", "txt", "adoc", "csv", "tsv", "yaml", "yml", "toml", "ini", "cfg",
    "conf", "xml", "html", "htm", "py", "sh", "js", "ts", "rs", "go", "java", "rb", "pdf", "png",
    "jpg", "jpeg", "gif", "svg",
];

/// File names without an extension that are documents (README, LICENSE...).
const NOT_DATA_NAMES: &[&str] = &[
    "readme",
    "license",
    "licence",
    "notice",
    "copying",
    "authors",
    "changelog",
    "provenance",
    "makefile",
];

/// Why a file that is not JSON is plainly not audit data, judged by its name and a sniff of its content: a known
/// document/table/code extension (or a README-like name), and content that does not even start like JSON. A
/// file that starts like JSON but cannot be read is never skipped: it is broken data (a failure).
pub fn not_audit_data(name: &str, text: &str) -> Option<String> {
    let file = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let lower = file.to_ascii_lowercase();
    let base = lower.strip_suffix(".gz").unwrap_or(&lower);
    let ext = base.rsplit_once('.').map(|(_, e)| e);
    let stem = base.split('.').next().unwrap_or(base);
    let by_name = match ext {
        Some(e) => NOT_DATA_EXTENSIONS.contains(&e),
        None => NOT_DATA_NAMES.contains(&stem),
    } || NOT_DATA_NAMES.contains(&stem) && matches!(ext, Some("md" | "txt" | "rst"));
    if !by_name {
        return None;
    }
    let first = text
        .trim_start_matches(['\u{feff}', ' ', '\t', '\r', '\n'])
        .chars()
        .next();
    if matches!(first, Some('{' | '[')) {
        return None;
    }
    // CloudTrail records written as YAML or CSV (a SIEM's scenario file, the console's "Download events" CSV)
    // are audit data in a form not read: a failure, never a silent skip.
    // (Documents — Markdown, text — that talk about such fields are still documents.)
    let tabular = matches!(ext, Some("yaml" | "yml" | "csv" | "tsv" | "xml"));
    let head: String = text.chars().take(64 * 1024).collect();
    let fields = [
        "eventName",
        "eventSource",
        "eventID",
        "Event ID",
        "Event name",
    ];
    if tabular && fields.iter().any(|k| head.contains(k)) {
        return None;
    }
    Some(format!(
        "not audit data (a .{} file that is not JSON); skipped",
        ext.unwrap_or(stem)
    ))
}

/// Whether a file is one that is skipped without a word (AWS Config's bucket write probe).
pub fn is_quietly_skipped(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.contains("ConfigWritabilityCheckFile"))
}

/// Reads and parses one file. Never panics on bad input; never fails: problems are in the result.
pub fn read_file(path: &Path, opts: &ReadOptions) -> ReadResult {
    match std::fs::read(path) {
        Ok(bytes) => read_bytes(&path.to_string_lossy(), bytes, opts),
        Err(e) => {
            let mut res = ReadResult::failed(format!("cannot read: {e}"));
            res.layout = key_layout(&path.to_string_lossy());
            res
        }
    }
}

/// Reads and parses the bytes of one source named `name` (a path, or a URI such as `s3://bucket/key`, whose
/// key layout gives account and region). The same path as files: `collect` has no parser of its own.
pub fn read_bytes(name: &str, bytes: Vec<u8>, opts: &ReadOptions) -> ReadResult {
    let mut res = ReadResult {
        sha256: String::new(),
        uncompressed_size: 0,
        compressed: false,
        layout: key_layout(name),
        contents: None,
        failure: None,
        skipped: None,
        warnings: Vec::new(),
    };
    let data = if bytes.starts_with(&[0x1f, 0x8b]) {
        res.compressed = true;
        let mut out =
            Vec::with_capacity(bytes.len().saturating_mul(8).min(opts.max_bytes as usize));
        let mut dec = MultiGzDecoder::new(&bytes[..]).take(opts.max_bytes.saturating_add(1));
        match dec.read_to_end(&mut out) {
            Ok(_) if out.len() as u64 > opts.max_bytes => {
                res.failure = Some(format!(
                    "decompresses to more than {} bytes (limit --max-file-size); not ingested",
                    opts.max_bytes
                ));
                return res;
            }
            Ok(_) => out,
            Err(e) => {
                res.failure = Some(format!("corrupt or truncated gzip: {e}"));
                return res;
            }
        }
    } else {
        if bytes.len() as u64 > opts.max_bytes {
            res.failure = Some(format!(
                "larger than {} bytes (limit --max-file-size); not ingested",
                opts.max_bytes
            ));
            return res;
        }
        bytes
    };
    res.uncompressed_size = data.len() as u64;
    res.sha256 = hex::encode(Sha256::digest(&data));
    let text = match String::from_utf8(data) {
        Ok(t) => t,
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            res.warnings.push(Diagnostic::warning(
                None,
                "invalid_utf8",
                format!("invalid UTF-8 at byte {at}: replaced with U+FFFD"),
            ));
            String::from_utf8_lossy(e.as_bytes()).into_owned()
        }
    };
    let ctx = RecordContext {
        path_account: res.layout.account.clone(),
        envelope_account: None,
    };
    match parse_text(&text, &ctx) {
        Ok(c) => res.contents = Some(c),
        Err(NotRecognized(reason)) => match not_audit_data(name, &text) {
            Some(why) => res.skipped = Some(why),
            None => res.failure = Some(reason),
        },
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_beside_data_are_skipped_broken_json_is_not() {
        let skip = |n: &str, t: &str| not_audit_data(n, t).is_some();
        assert!(skip("/c/PROVENANCE.md", "# sans504\n"));
        assert!(skip(
            "/c/PROVENANCE.md",
            "# notes\nRecords reuse eventID 1.\n"
        ));
        assert!(skip("/c/README", "This dataset..."));
        assert!(skip("/c/logs.csv", "a,b,c\n1,2,3"));
        assert!(skip("/c/rule.yml", "AnalysisType: rule\n"));
        assert!(skip("/c/x.tsv.gz", "a\tb\tc"));
        // Broken data stays a failure: JSON that cannot be read, whatever the name, and unknown kinds of files.
        assert!(!skip("/c/data.csv", "[{\"eventName\": "));
        assert!(!skip("/c/events.json", "# not json"));
        assert!(!skip(
            "/c/access.log",
            "79a5 bucket [06/Feb/2019:00:00:38 +0000]"
        ));
        assert!(!skip("/c/noext", "hello"));
        // CloudTrail records as YAML or as the console's CSV are audit data that is not read: failures.
        assert!(!skip(
            "/c/victim_cloudtrail.yml",
            "- eventName: ConsoleLogin\n  eventSource: signin"
        ));
        assert!(!skip(
            "/c/events.csv",
            "Event ID,Event time,User name,Event name\n"
        ));
    }

    #[test]
    fn key_layouts() {
        let cases = [
            (
                "/data/prefix/AWSLogs/o-abc123/111122223333/CloudTrail/eu-west-1/2024/01/02/111122223333_CloudTrail_eu-west-1_20240102T0005Z_abcdef.json.gz",
                (Some("111122223333"), Some("eu-west-1"), Some("CloudTrail"), Some("o-abc123")),
            ),
            (
                "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2024/01/02/111122223333_CloudTrail-Digest_us-east-1_trail_us-east-1_20240102T010000Z.json.gz",
                (Some("111122223333"), Some("us-east-1"), Some("CloudTrail-Digest"), None),
            ),
            ("flat/111122223333_CloudTrail_us-west-2_20240102T0005Z_x.json.gz", (Some("111122223333"), Some("us-west-2"), Some("CloudTrail"), None)),
            ("some/file.json", (None, None, None, None)),
        ];
        for (p, (a, r, s, o)) in cases {
            let l = key_layout(p);
            assert_eq!(
                (
                    l.account.as_deref(),
                    l.region.as_deref(),
                    l.service.as_deref(),
                    l.org.as_deref()
                ),
                (a, r, s, o),
                "{p}"
            );
        }
    }
}
