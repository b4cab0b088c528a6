//! Digest files, signature sidecars and the S3 key layout of digests and log files.
//!
//! A digest is kept as its uncompressed bytes (the hash and the signature are over them; it is never
//! re-serialized) next to the fields read from it.

use serde::Deserialize;

/// One `logFiles[]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogEntry {
    #[serde(default)]
    pub s3_bucket: Option<String>,
    pub s3_object: String,
    pub hash_value: String,
    #[serde(default)]
    pub hash_algorithm: Option<String>,
    #[serde(default)]
    pub newest_event_time: Option<String>,
    #[serde(default)]
    pub oldest_event_time: Option<String>,
}

/// The fields of a digest file that validation uses.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DigestDoc {
    #[serde(default)]
    pub aws_account_id: Option<String>,
    pub digest_start_time: String,
    pub digest_end_time: String,
    pub digest_s3_bucket: String,
    pub digest_s3_object: String,
    pub digest_public_key_fingerprint: String,
    pub digest_signature_algorithm: String,
    #[serde(default)]
    pub newest_event_time: Option<String>,
    #[serde(default)]
    pub oldest_event_time: Option<String>,
    #[serde(default)]
    pub previous_digest_s3_bucket: Option<String>,
    #[serde(default)]
    pub previous_digest_s3_object: Option<String>,
    #[serde(default)]
    pub previous_digest_hash_value: Option<String>,
    #[serde(default)]
    pub previous_digest_hash_algorithm: Option<String>,
    #[serde(default)]
    pub previous_digest_signature: Option<String>,
    pub log_files: Vec<LogEntry>,
}

/// Parses the uncompressed bytes of a digest. The error names what is missing or wrong.
pub fn parse_digest(raw: &[u8]) -> Result<DigestDoc, String> {
    let d: DigestDoc = serde_json::from_slice(raw).map_err(|e| format!("not a digest: {e}"))?;
    if crate::model::time::parse_time_str(&d.digest_end_time).is_none() {
        return Err(format!(
            "digestEndTime {:?} is not a time",
            d.digest_end_time
        ));
    }
    if crate::model::time::parse_time_str(&d.digest_start_time).is_none() {
        return Err(format!(
            "digestStartTime {:?} is not a time",
            d.digest_start_time
        ));
    }
    for (i, l) in d.log_files.iter().enumerate() {
        if l.hash_value.len() != 64 || hex::decode(&l.hash_value).is_err() {
            return Err(format!(
                "logFiles[{i}].hashValue {:?} is not a hex SHA-256",
                l.hash_value
            ));
        }
    }
    Ok(d)
}

/// A signature sidecar `<digest file name>.metadata.json`: `{"signature": HEX, "signature-algorithm": ...}`.
/// Also accepted: the output of `aws s3api head-object` (`{"Metadata": {"signature": ...}}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sidecar {
    pub signature: String,
    pub algorithm: Option<String>,
}

pub fn parse_sidecar(raw: &[u8]) -> Result<Sidecar, String> {
    let v: serde_json::Value =
        serde_json::from_slice(raw).map_err(|e| format!("sidecar is not JSON: {e}"))?;
    let m = v.get("Metadata").unwrap_or(&v);
    let s = |k: &str| m.get(k).and_then(|x| x.as_str()).map(str::to_string);
    match s("signature") {
        Some(signature) => Ok(Sidecar {
            signature,
            algorithm: s("signature-algorithm"),
        }),
        None => Err("sidecar has no \"signature\"".into()),
    }
}

/// What a digest file name says: `ACCOUNT_CloudTrail-Digest_REGION_TRAIL_HOMEREGION_YYYYMMDDTHHMMSSZ[_backfill].json[.gz]`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct DigestName {
    pub account: String,
    pub region: String,
    pub trail: String,
    pub home_region: String,
    /// `YYYYMMDDTHHMMSSZ`.
    pub stamp: String,
    pub backfill: bool,
}

pub fn parse_digest_name(name: &str) -> Option<DigestName> {
    let base = name.rsplit(['/', '\\']).next()?;
    let stem = base
        .strip_suffix(".json.gz")
        .or_else(|| base.strip_suffix(".json"))?;
    let (stem, backfill) = match stem.strip_suffix("_backfill") {
        Some(s) => (s, true),
        None => (stem, false),
    };
    let f: Vec<&str> = stem.split('_').collect();
    if f.len() < 6 || f[1] != "CloudTrail-Digest" {
        return None;
    }
    let n = f.len();
    let stamp = f[n - 1];
    stamp_ms(stamp)?;
    Some(DigestName {
        account: f[0].to_string(),
        region: f[2].to_string(),
        trail: f[3..n - 2].join("_"),
        home_region: f[n - 2].to_string(),
        stamp: stamp.to_string(),
        backfill,
    })
}

/// `YYYYMMDDTHHMMSSZ` or `YYYYMMDDTHHMMZ` as epoch ms.
pub fn stamp_ms(s: &str) -> Option<i64> {
    let fmt = match s.len() {
        16 => "%Y%m%dT%H%M%SZ",
        14 => "%Y%m%dT%H%MZ",
        _ => return None,
    };
    chrono::NaiveDateTime::parse_from_str(s, fmt)
        .ok()
        .map(|t| t.and_utc().timestamp_millis())
}

/// Epoch ms as `YYYYMMDDTHHMMSSZ`.
pub fn format_stamp(ms: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(ms)
        .map(|d| d.format("%Y%m%dT%H%M%SZ").to_string())
        .unwrap_or_default()
}

/// Epoch ms as RFC 3339 to the second (the form digests use).
pub fn format_time(ms: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(ms)
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

/// What a log file name says: `ACCOUNT_CloudTrail_REGION_YYYYMMDDTHHMMZ_UNIQUE.json[.gz]` (or
/// `CloudTrail-Insight`): account, region, time.
pub fn parse_log_name(name: &str) -> Option<(String, String, Option<i64>)> {
    let base = name.rsplit(['/', '\\']).next()?;
    let f: Vec<&str> = base.split('_').collect();
    if f.len() < 4 || !matches!(f[1], "CloudTrail" | "CloudTrail-Insight") {
        return None;
    }
    Some((f[0].to_string(), f[2].to_string(), stamp_ms(f[3])))
}

/// Whether a log file name is a CloudTrail Insights file (`ACCOUNT_CloudTrail-Insight_...`).
pub fn is_insight(name: &str) -> bool {
    name.rsplit(['/', '\\'])
        .next()
        .is_some_and(|b| b.split('_').nth(1) == Some("CloudTrail-Insight"))
}

/// The part of a path or S3 key from its last `AWSLogs` component on (with `/` separators), or `None` when it
/// has no such component.
pub fn from_awslogs(path: &str) -> Option<String> {
    let parts: Vec<&str> = path.split(['/', '\\']).collect();
    let i = parts.iter().rposition(|p| *p == "AWSLogs")?;
    Some(parts[i..].join("/"))
}

/// Where a file is, for matching a local copy against the S3 keys digests name: the key from `AWSLogs/` on, or
/// the file name for a flat copy; a trailing `.gz` dropped (a local copy may have been decompressed: the hashes
/// are over the uncompressed bytes anyway).
pub fn location_key(path: &str) -> String {
    let k = from_awslogs(path)
        .unwrap_or_else(|| path.rsplit(['/', '\\']).next().unwrap_or(path).to_string());
    match k.strip_suffix(".gz") {
        Some(s) => s.to_string(),
        None => k,
    }
}

/// The organization id in an `AWSLogs/o-xxx/ACCOUNT/...` layout.
pub fn org_of(path: &str) -> Option<String> {
    let k = from_awslogs(path)?;
    let second = k.split('/').nth(1)?;
    second.starts_with("o-").then(|| second.to_string())
}

/// Where a file named by `key` (an S3 key) would be in the local copy that holds `referrer`.
pub fn expected_path(referrer: &str, key: &str) -> String {
    let norm = referrer.replace('\\', "/");
    match (norm.rfind("/AWSLogs/"), from_awslogs(key)) {
        (Some(i), Some(k)) => format!("{}/{k}", &norm[..i]),
        _ if norm.starts_with("AWSLogs/") => from_awslogs(key).unwrap_or_else(|| key.to_string()),
        _ => {
            let base = key.rsplit('/').next().unwrap_or(key);
            match norm.rfind('/') {
                Some(i) => format!("{}/{base}", &norm[..i]),
                None => base.to_string(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_keys() {
        let n = parse_digest_name("AWSLogs/o-abc/111122223333/CloudTrail-Digest/us-east-1/2024/01/02/111122223333_CloudTrail-Digest_us-east-1_my_trail_eu-west-1_20240102T010203Z.json.gz").unwrap();
        assert_eq!(
            (
                n.account.as_str(),
                n.region.as_str(),
                n.trail.as_str(),
                n.home_region.as_str(),
                n.stamp.as_str(),
                n.backfill
            ),
            (
                "111122223333",
                "us-east-1",
                "my_trail",
                "eu-west-1",
                "20240102T010203Z",
                false
            )
        );
        assert!(
            parse_digest_name("x_CloudTrail-Digest_r_t_h_20240102T010203Z_backfill.json.gz")
                .unwrap()
                .backfill
        );
        assert_eq!(parse_digest_name("nope.json"), None);
        assert_eq!(
            location_key("/tmp/x/AWSLogs/1/CloudTrail/r/f.json.gz"),
            "AWSLogs/1/CloudTrail/r/f.json"
        );
        assert_eq!(location_key("/tmp/flat/f.json"), "f.json");
        assert_eq!(org_of("p/AWSLogs/o-abc/1/x"), Some("o-abc".into()));
        assert_eq!(
            expected_path(
                "/t/AWSLogs/1/CloudTrail-Digest/d.json.gz",
                "pre/AWSLogs/1/CloudTrail/f.json.gz"
            ),
            "/t/AWSLogs/1/CloudTrail/f.json.gz"
        );
        assert_eq!(
            expected_path("/t/d.json", "pre/AWSLogs/1/CloudTrail/f.json.gz"),
            "/t/f.json.gz"
        );
        assert_eq!(stamp_ms("20240102T0105Z"), Some(1704157500000));
        assert_eq!(format_stamp(1704157500000), "20240102T010500Z");
        let (a, r, t) =
            parse_log_name("111122223333_CloudTrail_us-east-1_20240102T0105Z_abc.json.gz").unwrap();
        assert_eq!(
            (a.as_str(), r.as_str(), t),
            ("111122223333", "us-east-1", Some(1704157500000))
        );
        assert_eq!(
            parse_sidecar(br#"{"signature":"ab","signature-algorithm":"SHA256withRSA"}"#).unwrap(),
            Sidecar {
                signature: "ab".into(),
                algorithm: Some("SHA256withRSA".into())
            }
        );
        assert!(parse_sidecar(b"{}").is_err());
    }
}
