//! The result of `verify`. Field names are a contract (schemas/verify.schema.json).

use serde::Serialize;

/// Finding kinds (docs/integrity.md). Every finding is evidence of tampering or loss: `verify` exits 1 on any.
pub mod kind {
    pub const LOG_HASH_MISMATCH: &str = "log_hash_mismatch";
    pub const LOG_MISSING: &str = "log_missing";
    pub const LOG_UNLISTED: &str = "log_unlisted";
    pub const LOG_INVALID_FORMAT: &str = "log_invalid_format";
    pub const DIGEST_MISSING: &str = "digest_missing";
    pub const DIGEST_INVALID_FORMAT: &str = "digest_invalid_format";
    pub const DIGEST_MOVED: &str = "digest_moved";
    pub const SIGNATURE_INVALID: &str = "signature_invalid";
    pub const SIGNATURE_MISSING: &str = "signature_missing";
    pub const KEY_NOT_FOUND: &str = "key_not_found";
    pub const CHAIN_HASH_MISMATCH: &str = "chain_hash_mismatch";
    pub const CHAIN_SIGNATURE_MISMATCH: &str = "chain_signature_mismatch";
    /// A digest that contradicts itself or its chain: a log file listed twice, a newest event before the oldest,
    /// an end not after the start, a listed file outside the trail's prefix, a window overlapping the previous one.
    pub const DIGEST_INCONSISTENT: &str = "digest_inconsistent";
    /// A digest or log file stored uncompressed in the bucket itself (`verify s3://`): rewritten.
    pub const NOT_COMPRESSED: &str = "not_compressed";
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct DigestCounts {
    /// Signature verified with a known key valid at the digest's time, and no finding about the file.
    pub valid: u64,
    /// At least one finding about the file.
    pub invalid: u64,
    /// No signature available locally (no sidecar, no next digest carrying it): the newest digest of a chain, or
    /// the last one before a logging gap.
    pub unsigned: u64,
    /// A signature is available but no public key was given or stored: not checked.
    pub unverified: u64,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct LogCounts {
    /// Hash matches a digest whose signature verified.
    pub valid: u64,
    /// Hash mismatch or undecodable.
    pub invalid: u64,
    /// Listed in no digest.
    pub unlisted: u64,
    /// Hash matches a digest whose signature could not be checked (unsigned or unverified digest).
    pub unverified: u64,
    /// Listed in a digest but not in the tree.
    pub missing: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Finding {
    pub kind: &'static str,
    /// The file found wrong: a local path, or where a missing file was expected in the local copy.
    pub path: String,
    pub detail: String,
    /// The digest whose statement the file was checked against (null for a log file listed in no digest).
    pub digest: Option<String>,
}

/// A time during which CloudTrail itself says there is no digest chain (logging or validation stopped).
#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Gap {
    pub from: String,
    pub to: String,
    pub reason: String,
    pub account: String,
    pub region: String,
    pub trail: String,
    /// The digest that starts again after the gap.
    pub digest: String,
    /// The `StopLogging` call that started the gap, when the store has it.
    pub event_id: Option<String>,
    #[serde(skip)]
    pub from_ms: i64,
    #[serde(skip)]
    pub to_ms: i64,
}

/// What could not be proven, without being evidence of tampering.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Notice {
    pub kind: &'static str,
    pub path: Option<String>,
    pub detail: String,
}

/// The verdict on one file's content, for the store (`sources.integrity`, matched by `sources.sha256`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ContentStatus {
    /// Hex SHA-256 over the uncompressed bytes (every gzip member, as ingest computes it).
    pub sha256: String,
    /// `validated`, `invalid` or `unverified`.
    pub status: &'static str,
}

/// One file counted in `digests` or `logs`, with the verdict it was counted under (`valid`, `invalid`, `unsigned`,
/// `unverified`, `unlisted`, `missing`): every `invalid`, `unsigned`, `unlisted` and `missing` file is named by a
/// finding or a notice (tested in tests/cases/verify.rs).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Counted {
    pub path: String,
    pub digest: bool,
    pub verdict: &'static str,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub digests: DigestCounts,
    pub logs: LogCounts,
    pub findings: Vec<Finding>,
    pub gaps: Vec<Gap>,
    pub notices: Vec<Notice>,
    /// Public keys available (given and stored).
    pub public_keys: usize,
    /// Uncompressed bytes of log files hashed.
    pub log_bytes: u64,
    #[serde(skip)]
    pub statuses: Vec<ContentStatus>,
    /// Every file counted, for the invariant between counts and findings (not part of the JSON).
    #[serde(skip)]
    pub files: Vec<Counted>,
}

impl Report {
    /// Whether any finding is evidence of tampering (all findings are; notices and gaps are not).
    pub fn tampered(&self) -> bool {
        !self.findings.is_empty()
    }
}
