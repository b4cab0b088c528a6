//! CloudTrail APIs: `LookupEvents` (2 requests per second per account and region, throttling retried with
//! backoff), `ListPublicKeys` (for offline `verify`) and CloudTrail Lake queries (`StartQuery`, then
//! `GetQueryResults` until the query finished, page by page).
//!
//! Pages are handed back as the JSON documents the APIs return (`{"Events": [...]}`, `{"QueryResultRows": ...}`),
//! which the ingest pipeline reads like files of the same containers.

use super::limiter::TokenBucket;
use super::{describe, retryable, throttled, CollectError, HasStatus};
use aws_sdk_cloudtrail::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_cloudtrail::primitives::DateTime;
use aws_sdk_cloudtrail::types::{LookupAttribute, LookupAttributeKey, QueryStatus};
use aws_sdk_cloudtrail::Client;
use serde_json::{json, Value};
use std::time::Duration;

/// One page of an API result, as the JSON document to ingest.
#[derive(Debug)]
pub struct Page {
    /// The source path: `lookup-events://REGION/...`, `lake://QUERY_ID/page-N`.
    pub name: String,
    pub json: Vec<u8>,
    /// Records (events, rows) in the page.
    pub records: usize,
}

/// Requests made, and throttling errors met (each retried after a backoff).
#[derive(Debug, Default, Clone, Copy)]
pub struct Counters {
    pub requests: u64,
    pub throttled: u64,
}

/// Retries of a throttled or transient failure before giving up.
pub const RETRIES: u32 = 8;

/// A failed attempt: counts it, and says whether to try again (after a backoff).
pub(super) fn again<E: ProvideErrorMetadata, R: HasStatus>(
    e: &SdkError<E, R>,
    attempt: u32,
    counters: &mut Counters,
) -> bool {
    if throttled(e) {
        counters.throttled += 1;
    }
    attempt < RETRIES && retryable(e)
}

/// The client makes one attempt per call: retries are ours, so each one passes the rate limiter.
pub fn client(conf: &aws_config::SdkConfig) -> Client {
    Client::new(&super::single_attempt(conf))
}

fn time(t: Option<&DateTime>) -> Value {
    t.and_then(|t| t.to_millis().ok())
        .and_then(chrono::DateTime::from_timestamp_millis)
        .map(|t| Value::String(t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)))
        .unwrap_or(Value::Null)
}

/// A lookup attribute from `KEY=VALUE` (keys as the API names them, case-insensitive, `-` and `_` ignored:
/// `Username`, `EventName`, `ResourceName`, `ResourceType`, `EventSource`, `EventId`, `AccessKeyId`, `ReadOnly`).
pub fn lookup_attribute(s: &str) -> Result<(String, String), String> {
    let (k, v) = s.split_once('=').ok_or_else(|| {
        format!("{s:?}: expected KEY=VALUE, for example EventName=PutBucketPolicy")
    })?;
    let norm: String = k
        .chars()
        .filter(|c| *c != '-' && *c != '_')
        .collect::<String>()
        .to_ascii_lowercase();
    let key = LookupAttributeKey::values()
        .iter()
        .find(|name| name.to_ascii_lowercase() == norm)
        .ok_or_else(|| {
            format!(
                "{k:?}: not a lookup attribute (one of {})",
                LookupAttributeKey::values().join(", ")
            )
        })?;
    Ok((key.to_string(), v.to_string()))
}

/// Pages of `LookupEvents` over [since, until].
pub struct LookupEvents {
    client: Client,
    region: String,
    since: Option<i64>,
    until: Option<i64>,
    attribute: Option<(String, String)>,
    token: Option<String>,
    done: bool,
    page: u64,
    limiter: TokenBucket,
    pub counters: Counters,
}

impl LookupEvents {
    pub fn new(
        client: Client,
        region: String,
        since: Option<i64>,
        until: Option<i64>,
        attribute: Option<(String, String)>,
        rate: f64,
    ) -> LookupEvents {
        LookupEvents {
            client,
            region,
            since,
            until,
            attribute,
            token: None,
            done: false,
            page: 0,
            limiter: TokenBucket::new(rate, rate.max(1.0)),
            counters: Counters::default(),
        }
    }

    pub async fn next(&mut self) -> Result<Option<Page>, CollectError> {
        if self.done {
            return Ok(None);
        }
        let mut attempt = 0;
        let resp = loop {
            self.limiter.acquire().await;
            let mut req = self.client.lookup_events().max_results(50);
            if let Some(ms) = self.since {
                req = req.start_time(DateTime::from_millis(ms));
            }
            if let Some(ms) = self.until {
                req = req.end_time(DateTime::from_millis(ms));
            }
            if let Some((k, v)) = &self.attribute {
                req = req.lookup_attributes(
                    LookupAttribute::builder()
                        .attribute_key(LookupAttributeKey::from(k.as_str()))
                        .attribute_value(v)
                        .build()
                        .map_err(|e| CollectError::Service(format!("LookupEvents: {e}")))?,
                );
            }
            if let Some(t) = &self.token {
                req = req.next_token(t);
            }
            self.counters.requests += 1;
            match req.send().await {
                Ok(r) => break r,
                Err(e) if again(&e, attempt, &mut self.counters) => {
                    tokio::time::sleep(backoff(attempt)).await;
                    attempt += 1;
                }
                Err(e) => {
                    return Err(describe(
                        &e,
                        "LookupEvents",
                        &format!("region {}", self.region),
                    ))
                }
            }
        };
        let events: Vec<Value> = resp
            .events()
            .iter()
            .map(|e| {
                json!({
                    "EventId": e.event_id(),
                    "EventName": e.event_name(),
                    "ReadOnly": e.read_only(),
                    "AccessKeyId": e.access_key_id(),
                    "EventTime": time(e.event_time()),
                    "EventSource": e.event_source(),
                    "Username": e.username(),
                    "CloudTrailEvent": e.cloud_trail_event(),
                })
            })
            .collect();
        self.token = resp.next_token().map(str::to_string);
        self.done = self.token.is_none();
        self.page += 1;
        let window = format!(
            "{}..{}",
            self.since.map(|t| t.to_string()).unwrap_or_default(),
            self.until.map(|t| t.to_string()).unwrap_or_default()
        );
        let attr = self
            .attribute
            .as_ref()
            .map(|(k, v)| format!("/{k}={v}"))
            .unwrap_or_default();
        let records = events.len();
        Ok(Some(Page {
            name: format!(
                "lookup-events://{}/{window}{attr}/page-{:05}",
                self.region, self.page
            ),
            json: serde_json::to_vec(&json!({ "Events": events }))
                .map_err(|e| CollectError::Service(e.to_string()))?,
            records,
        }))
    }
}

/// Exponential backoff with a little jitter from the clock: 0.5 s, 1 s, 2 s... capped at 20 s.
pub fn backoff(attempt: u32) -> Duration {
    let base = 500u64.saturating_mul(1 << attempt.min(6)).min(20_000);
    let jitter = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_millis() as u64 % 100)
        .unwrap_or(0);
    Duration::from_millis(base + jitter)
}

/// A public key as `ListPublicKeys` returns it.
#[derive(Debug, Clone)]
pub struct PublicKey {
    pub der: Vec<u8>,
    pub fingerprint: Option<String>,
    pub valid_from: Option<i64>,
    pub valid_to: Option<i64>,
}

/// Every public key valid in [since, until] (all pages).
pub async fn list_public_keys(
    client: &Client,
    region: &str,
    since: Option<i64>,
    until: Option<i64>,
    counters: &mut Counters,
) -> Result<Vec<PublicKey>, CollectError> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    let mut attempt = 0;
    loop {
        let mut req = client.list_public_keys();
        if let Some(ms) = since {
            req = req.start_time(DateTime::from_millis(ms));
        }
        if let Some(ms) = until {
            req = req.end_time(DateTime::from_millis(ms));
        }
        if let Some(t) = &token {
            req = req.next_token(t);
        }
        counters.requests += 1;
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) if again(&e, attempt, counters) => {
                tokio::time::sleep(backoff(attempt)).await;
                attempt += 1;
                continue;
            }
            Err(e) => return Err(describe(&e, "ListPublicKeys", &format!("region {region}"))),
        };
        for k in resp.public_key_list() {
            let Some(v) = k.value() else { continue };
            out.push(PublicKey {
                der: v.as_ref().to_vec(),
                fingerprint: k.fingerprint().map(str::to_string),
                valid_from: k.validity_start_time().and_then(|t| t.to_millis().ok()),
                valid_to: k.validity_end_time().and_then(|t| t.to_millis().ok()),
            });
        }
        match resp.next_token() {
            Some(t) => token = Some(t.to_string()),
            None => break,
        }
    }
    Ok(out)
}

/// A CloudTrail Lake query: `StartQuery`, then `GetQueryResults` (polled while QUEUED/RUNNING, then paged).
pub struct LakeQuery {
    client: Client,
    query_id: Option<String>,
    statement: String,
    token: Option<String>,
    done: bool,
    page: u64,
    poll: Duration,
    limiter: TokenBucket,
    pub counters: Counters,
}

impl LakeQuery {
    pub fn new(client: Client, statement: String, poll: Duration) -> LakeQuery {
        LakeQuery {
            client,
            query_id: None,
            statement,
            token: None,
            done: false,
            page: 0,
            poll,
            limiter: TokenBucket::new(5.0, 5.0),
            counters: Counters::default(),
        }
    }

    pub fn query_id(&self) -> Option<&str> {
        self.query_id.as_deref()
    }

    async fn start(&mut self) -> Result<String, CollectError> {
        let mut attempt = 0;
        loop {
            self.limiter.acquire().await;
            self.counters.requests += 1;
            match self
                .client
                .start_query()
                .query_statement(&self.statement)
                .send()
                .await
            {
                Ok(r) => {
                    return r.query_id().map(str::to_string).ok_or_else(|| {
                        CollectError::Service("StartQuery: the response has no QueryId".into())
                    })
                }
                Err(e) if again(&e, attempt, &mut self.counters) => {
                    tokio::time::sleep(backoff(attempt)).await;
                    attempt += 1;
                }
                Err(e) => return Err(describe(&e, "StartQuery", "CloudTrail Lake")),
            }
        }
    }

    pub async fn next(&mut self) -> Result<Option<Page>, CollectError> {
        if self.done {
            return Ok(None);
        }
        let id = match &self.query_id {
            Some(id) => id.clone(),
            None => {
                let id = self.start().await?;
                self.query_id = Some(id.clone());
                id
            }
        };
        let mut attempt = 0;
        loop {
            self.limiter.acquire().await;
            let mut req = self.client.get_query_results().query_id(&id);
            if let Some(t) = &self.token {
                req = req.next_token(t);
            }
            self.counters.requests += 1;
            let resp = match req.send().await {
                Ok(r) => r,
                Err(e) if again(&e, attempt, &mut self.counters) => {
                    tokio::time::sleep(backoff(attempt)).await;
                    attempt += 1;
                    continue;
                }
                Err(e) => return Err(describe(&e, "GetQueryResults", &format!("query {id}"))),
            };
            match resp.query_status() {
                Some(QueryStatus::Queued | QueryStatus::Running) => {
                    tokio::time::sleep(self.poll).await;
                    continue;
                }
                Some(QueryStatus::Finished) | None => {}
                Some(other) => {
                    return Err(CollectError::Service(format!(
                        "CloudTrail Lake query {id} ended {}: {}",
                        other.as_str(),
                        resp.error_message().unwrap_or("no message")
                    )))
                }
            }
            let rows = resp.query_result_rows();
            self.token = resp.next_token().map(str::to_string);
            self.done = self.token.is_none();
            self.page += 1;
            let records = rows.len();
            return Ok(Some(Page {
                name: format!("lake://{id}/page-{:05}", self.page),
                json: serde_json::to_vec(&json!({ "QueryResultRows": rows }))
                    .map_err(|e| CollectError::Service(e.to_string()))?,
                records,
            }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_attributes() {
        assert_eq!(
            lookup_attribute("event-name=PutBucketPolicy").unwrap(),
            ("EventName".to_string(), "PutBucketPolicy".to_string())
        );
        assert_eq!(
            lookup_attribute("accesskeyid=AKIA=X").unwrap(),
            ("AccessKeyId".to_string(), "AKIA=X".to_string())
        );
        assert!(lookup_attribute("Color=red")
            .unwrap_err()
            .contains("not a lookup attribute"));
        assert!(lookup_attribute("EventName").is_err());
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        assert!(
            backoff(0) >= Duration::from_millis(500) && backoff(0) < Duration::from_millis(600)
        );
        assert!(backoff(2) >= Duration::from_millis(2000));
        assert!(backoff(30) <= Duration::from_millis(20_100));
    }
}
