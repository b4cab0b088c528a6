//! The trail bucket: discovery of accounts, services and regions by delimiter listings, then listings of only the
//! date prefixes a window needs, and downloads (with the digest signature from object metadata).

use super::layout::{day_prefix, is_account, Filter, SERVICES};
use super::{describe, CollectError};
use aws_sdk_s3::Client;
use std::sync::Arc;

/// `s3://BUCKET[/PREFIX]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketUri {
    pub bucket: String,
    /// Empty, or ending with `/`.
    pub prefix: String,
}

impl BucketUri {
    pub fn parse(s: &str) -> Result<BucketUri, String> {
        let rest = s
            .strip_prefix("s3://")
            .ok_or_else(|| format!("{s:?}: not an S3 URI (expected s3://BUCKET[/PREFIX])"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(format!(
                "{s:?}: no bucket name (expected s3://BUCKET[/PREFIX])"
            ));
        }
        let mut prefix = prefix.trim_start_matches('/').to_string();
        if !prefix.is_empty() && !prefix.ends_with('/') {
            prefix.push('/');
        }
        Ok(BucketUri {
            bucket: bucket.to_string(),
            prefix,
        })
    }

    /// The URI of a key in this bucket (the source path of a fetched object).
    pub fn key_uri(&self, key: &str) -> String {
        format!("s3://{}/{}", self.bucket, key)
    }
}

impl std::fmt::Display for BucketUri {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.prefix)
    }
}

/// A listed object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    pub key: String,
    pub etag: String,
    pub size: u64,
    pub last_modified_ms: i64,
}

/// What a listing did and found.
#[derive(Debug, Default)]
pub struct Listing {
    /// Sorted by key.
    pub objects: Vec<Object>,
    /// Prefixes listed in full (one per account, service, region and day when a window is given).
    pub prefixes_listed: u64,
    /// Delimiter listings made to discover accounts, services and regions.
    pub prefixes_discovered: u64,
    /// ListObjectsV2 requests in all.
    pub list_requests: u64,
}

/// An S3 client; path-style addressing when an endpoint is given (S3-compatible stores, tests).
pub fn client(conf: &aws_config::SdkConfig, path_style: bool) -> Client {
    let b = aws_sdk_s3::config::Builder::from(conf).force_path_style(path_style);
    Client::from_conf(b.build())
}

/// Lists `prefix`: with a delimiter, the child "directories"; without, every object under it.
async fn list(
    client: &Client,
    bucket: &str,
    prefix: &str,
    delimiter: bool,
) -> Result<(Vec<String>, Vec<Object>, u64), CollectError> {
    let mut dirs = Vec::new();
    let mut objects = Vec::new();
    let mut requests = 0;
    let mut token: Option<String> = None;
    loop {
        let mut req = client.list_objects_v2().bucket(bucket).prefix(prefix);
        if delimiter {
            req = req.delimiter("/");
        }
        if let Some(t) = &token {
            req = req.continuation_token(t);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| describe(&e, "ListObjectsV2", &format!("s3://{bucket}/{prefix}")))?;
        requests += 1;
        dirs.extend(
            resp.common_prefixes()
                .iter()
                .filter_map(|p| p.prefix().map(str::to_string)),
        );
        for o in resp.contents() {
            let Some(key) = o.key() else { continue };
            objects.push(Object {
                key: key.to_string(),
                etag: o.e_tag().unwrap_or("").to_string(),
                size: o.size().unwrap_or(0).max(0) as u64,
                last_modified_ms: o
                    .last_modified()
                    .and_then(|t| t.to_millis().ok())
                    .unwrap_or(0),
            });
        }
        match resp.next_continuation_token() {
            Some(t) if resp.is_truncated() == Some(true) => token = Some(t.to_string()),
            _ => break,
        }
    }
    Ok((dirs, objects, requests))
}

/// Every object under `prefix` (no delimiter), and the number of requests it took.
pub async fn list_prefix(
    client: &Client,
    bucket: &str,
    prefix: &str,
) -> Result<(Vec<Object>, u64), CollectError> {
    let (_, objects, requests) = list(client, bucket, prefix, false).await?;
    Ok((objects, requests))
}

/// The last path segment of a listed directory prefix (`a/b/c/` → `c`).
fn leaf(dir: &str) -> &str {
    dir.trim_end_matches('/').rsplit('/').next().unwrap_or("")
}

/// Lists what the filter needs under the URI. When the prefix is above `AWSLogs/`, accounts, services and
/// regions are discovered with delimiter listings and only the needed day prefixes are listed in full;
/// otherwise (a prefix inside the layout, or a bucket without `AWSLogs/`) the prefix is listed in full.
/// Every key is then checked against the filter. `concurrency` listings run at once.
pub async fn list_bucket(
    client: &Client,
    uri: &BucketUri,
    filter: &Filter,
    concurrency: usize,
) -> Result<Listing, CollectError> {
    let bucket = uri.bucket.as_str();
    let mut out = Listing::default();
    let mut full: Vec<String> = Vec::new();
    if uri.prefix.split('/').any(|p| p == "AWSLogs") {
        full.push(uri.prefix.clone());
    } else {
        let base = format!("{}AWSLogs/", uri.prefix);
        let (children, _, n) = list(client, bucket, &base, true).await?;
        out.prefixes_discovered += 1;
        out.list_requests += n;
        if children.is_empty() {
            full.push(uri.prefix.clone());
        }
        let mut accounts = Vec::new();
        for c in children {
            let name = leaf(&c);
            if name.starts_with("o-") {
                let (inner, _, n) = list(client, bucket, &c, true).await?;
                out.prefixes_discovered += 1;
                out.list_requests += n;
                accounts.extend(
                    inner
                        .into_iter()
                        .filter(|a| is_account(leaf(a)) && filter.account_ok(leaf(a))),
                );
            } else if is_account(name) && filter.account_ok(name) {
                accounts.push(c);
            }
        }
        let days = filter.days();
        for a in accounts {
            let (services, _, n) = list(client, bucket, &a, true).await?;
            out.prefixes_discovered += 1;
            out.list_requests += n;
            for s in services {
                let service = leaf(&s).to_string();
                if !SERVICES.contains(&service.as_str()) {
                    continue;
                }
                let (regions, _, n) = list(client, bucket, &s, true).await?;
                out.prefixes_discovered += 1;
                out.list_requests += n;
                for r in regions.into_iter().filter(|r| filter.region_ok(leaf(r))) {
                    match &days {
                        Some(days) => full.extend(
                            days.iter()
                                .map(|d| format!("{r}{}", day_prefix(&service, *d))),
                        ),
                        None => full.push(r),
                    }
                }
            }
        }
    }
    out.prefixes_listed = full.len() as u64;
    // The full listings, `concurrency` at a time.
    let sem = Arc::new(tokio::sync::Semaphore::new(concurrency.max(1)));
    let mut set = tokio::task::JoinSet::new();
    for p in full {
        let (client, bucket, sem) = (client.clone(), bucket.to_string(), sem.clone());
        set.spawn(async move {
            let _permit = sem.acquire_owned().await;
            list(&client, &bucket, &p, false).await
        });
    }
    while let Some(r) = set.join_next().await {
        let (_, objects, n) =
            r.map_err(|e| CollectError::Service(format!("listing task: {e}")))??;
        out.list_requests += n;
        out.objects
            .extend(objects.into_iter().filter(|o| filter.keep(&o.key)));
    }
    out.objects.sort_by(|a, b| a.key.cmp(&b.key));
    out.objects.dedup_by(|a, b| a.key == b.key);
    Ok(out)
}

/// A downloaded object: its bytes and, for digests, the signature from its metadata.
#[derive(Debug)]
pub struct Fetched {
    pub bytes: Vec<u8>,
    /// The object's ETag and last-modified time (milliseconds), as a listing would give them.
    pub etag: String,
    pub last_modified_ms: i64,
    pub signature: Option<String>,
    pub signature_algorithm: Option<String>,
}

pub async fn fetch(client: &Client, bucket: &str, key: &str) -> Result<Fetched, CollectError> {
    let target = format!("s3://{bucket}/{key}");
    let resp = client
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| describe(&e, "GetObject", &target))?;
    let meta = resp.metadata().cloned().unwrap_or_default();
    let etag = resp.e_tag().unwrap_or("").to_string();
    let last_modified_ms = resp
        .last_modified()
        .and_then(|t| t.to_millis().ok())
        .unwrap_or(0);
    let bytes = resp
        .body
        .collect()
        .await
        .map_err(|e| {
            CollectError::Service(format!("GetObject on {target}: reading the body: {e}"))
        })?
        .into_bytes()
        .to_vec();
    Ok(Fetched {
        bytes,
        etag,
        last_modified_ms,
        signature: meta.get("signature").cloned(),
        signature_algorithm: meta.get("signature-algorithm").cloned(),
    })
}

/// The sidecar `<digest>.metadata.json` that `verify` reads for a local copy of a digest.
pub fn sidecar_json(signature: &str, algorithm: Option<&str>) -> String {
    serde_json::json!({
        "signature": signature,
        "signature-algorithm": algorithm.unwrap_or("SHA256withRSA"),
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_uris() {
        let u = BucketUri::parse("s3://trail-bucket/org/logs").unwrap();
        assert_eq!(
            (u.bucket.as_str(), u.prefix.as_str()),
            ("trail-bucket", "org/logs/")
        );
        assert_eq!(u.key_uri("AWSLogs/x"), "s3://trail-bucket/AWSLogs/x");
        let u = BucketUri::parse("s3://b").unwrap();
        assert_eq!((u.bucket.as_str(), u.prefix.as_str()), ("b", ""));
        assert!(BucketUri::parse("s3:///x").is_err());
        assert!(BucketUri::parse("/local/dir").is_err());
        assert_eq!(leaf("AWSLogs/o-abc/"), "o-abc");
    }
}
