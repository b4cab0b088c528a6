//! The bodies of the `cargo fuzz` targets (`fuzz/fuzz_targets/`), one function per target, kept here so that the
//! ordinary test suite replays every saved input (`fixtures/fuzz/TARGET/`) through exactly the code the fuzzer
//! ran. Each function feeds attacker-controlled bytes to the parsers the product uses on them and ignores the
//! result: the only failures are a panic, a hang or runaway memory. See docs/fuzzing.md.

use crate::ingest::config::{normalize_item, notification_diff};
use crate::ingest::source::{key_layout, read_bytes, ReadOptions};
use crate::integrity::digest::{
    expected_path, parse_digest, parse_digest_name, parse_log_name, parse_sidecar, stamp_ms,
};
use crate::integrity::keys::load_bytes;
use crate::integrity::read::{decompress_all, hash_bytes};
use crate::model::arn::{session_role, unique_id, Arn};
use crate::model::resource::ResourceRef;
use crate::model::time::{format_ms, parse_time_str, parse_time_value};

/// The decompression cap the targets read with (`--max-file-size` in the product).
pub const MAX_BYTES: u64 = 4 << 20;

/// The body of one fuzz target.
pub type Body = fn(&[u8]);

/// Every target, by the name of its directory under `fixtures/fuzz/` and its binary under `fuzz/`.
pub const TARGETS: &[(&str, Body)] = &[
    ("log_file", log_file),
    ("config", config),
    ("digest", digest),
    ("gzip", gzip),
    ("time", time),
    ("arn", arn),
    ("public_keys", public_keys),
];

/// Container detection and CloudTrail record parsing (with resource extraction and identity), through the same
/// entry as `ingest` and `collect`: the bytes of one file, gzip or plain, under a name with an S3 key layout.
pub fn log_file(data: &[u8]) {
    let opts = ReadOptions {
        max_bytes: MAX_BYTES,
    };
    let name = "AWSLogs/o-abc123/111122223333/CloudTrail/us-east-1/2024/01/02/\
                111122223333_CloudTrail_us-east-1_20240102T0000Z_abc.json.gz";
    let _ = read_bytes(name, data.to_vec(), &opts);
}

/// AWS Config: items, snapshots, history files and notifications through the file entry, and each JSON object
/// by itself through item normalization and the notification diff.
pub fn config(data: &[u8]) {
    let opts = ReadOptions {
        max_bytes: MAX_BYTES,
    };
    let name = "AWSLogs/111122223333/Config/eu-west-1/2024/1/2/ConfigHistory/\
                111122223333_Config_eu-west-1_ConfigHistory_AWS::S3::Bucket_20240102T000000Z.json.gz";
    let _ = read_bytes(name, data.to_vec(), &opts);
    if let Ok(serde_json::Value::Object(m)) = serde_json::from_slice::<serde_json::Value>(data) {
        let _ = normalize_item(&m, "file");
        let _ = notification_diff(&m);
        for key in ["configurationItem", "configurationItemDiff"] {
            if let Some(serde_json::Value::Object(inner)) = m.get(key) {
                let _ = normalize_item(inner, "notification");
            }
        }
    }
}

/// Digest files, their sidecars (the signature from S3 metadata, as a JSON file), and digest and log file names.
pub fn digest(data: &[u8]) {
    let _ = parse_digest(data);
    let _ = parse_sidecar(data);
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = parse_digest_name(s);
        let _ = parse_log_name(s);
        let _ = stamp_ms(s);
        let _ = expected_path(
            s,
            "AWSLogs/111122223333/CloudTrail/us-east-1/2024/01/02/x.json.gz",
        );
        let _ = expected_path("a/b/AWSLogs/111122223333/CloudTrail-Digest/x", s);
    }
}

/// The multi-member gzip readers: verify's streamed hash over every member, and the capped reader of small files.
pub fn gzip(data: &[u8]) {
    let _ = hash_bytes(data);
    let _ = decompress_all(data, 1 << 20);
}

/// Time parsing: the strings and numbers real records carry (ISO 8601 variants, epoch seconds and milliseconds,
/// Python reprs), digest stamps, and the JSON values they arrive as.
pub fn time(data: &[u8]) {
    if let Ok(s) = std::str::from_utf8(data) {
        if let Some(ms) = parse_time_str(s) {
            let _ = format_ms(ms);
        }
        let _ = stamp_ms(s);
    }
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) {
        if let Some(ms) = parse_time_value(&v) {
            let _ = format_ms(ms);
        }
    }
}

/// ARN parsing and everything that reads identity out of a string: resource references from ARNs, session
/// ARNs, unique ids with a session name, and the S3 key layout of a source name.
pub fn arn(data: &[u8]) {
    if let Ok(s) = std::str::from_utf8(data) {
        if let Some(a) = Arn::parse(s) {
            let _ = a.last_segment();
        }
        let _ = ResourceRef::from_arn(s);
        let _ = session_role(s);
        let _ = unique_id(s);
        let _ = key_layout(s);
    }
}

/// The public-keys file: `aws cloudtrail list-public-keys` JSON, PEM with one or more blocks, or DER.
pub fn public_keys(data: &[u8]) {
    let _ = load_bytes(data, "fuzz");
}
