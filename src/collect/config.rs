//! AWS Config API: `GetResourceConfigHistory` (every page, including empty pages that still carry a
//! `nextToken`), `ListDiscoveredResources` (to walk every resource of a type), `BatchGetResourceConfig` and
//! `SelectResourceConfig`. Pages are handed back as the JSON documents the API returns
//! (`configurationItems`, `baseConfigurationItems`, `Results`), read by the ingest pipeline like files.

use super::cloudtrail::{again, backoff, Counters, Page};
use super::{describe, CollectError};
use aws_sdk_config::primitives::DateTime;
use aws_sdk_config::types::{ResourceKey, ResourceType};
use aws_sdk_config::Client;
use serde_json::{json, Map, Value};

/// The client makes one attempt per call: retries are ours (counted, with backoff).
pub fn client(conf: &aws_config::SdkConfig) -> Client {
    Client::new(&super::single_attempt(conf))
}

fn time(t: Option<&DateTime>) -> Value {
    t.and_then(|t| t.to_millis().ok())
        .and_then(chrono::DateTime::from_timestamp_millis)
        .map(|t| Value::String(t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)))
        .unwrap_or(Value::Null)
}

/// The fields both item types share, in the API's names.
macro_rules! base_fields {
    ($i:expr) => {{
        let i = $i;
        let mut m = Map::new();
        m.insert("version".into(), json!(i.version()));
        m.insert("accountId".into(), json!(i.account_id()));
        m.insert(
            "configurationItemCaptureTime".into(),
            time(i.configuration_item_capture_time()),
        );
        m.insert(
            "configurationItemStatus".into(),
            json!(i.configuration_item_status().map(|s| s.as_str())),
        );
        m.insert(
            "configurationStateId".into(),
            json!(i.configuration_state_id()),
        );
        m.insert("arn".into(), json!(i.arn()));
        m.insert(
            "resourceType".into(),
            json!(i.resource_type().map(|s| s.as_str())),
        );
        m.insert("resourceId".into(), json!(i.resource_id()));
        m.insert("resourceName".into(), json!(i.resource_name()));
        m.insert("awsRegion".into(), json!(i.aws_region()));
        m.insert("availabilityZone".into(), json!(i.availability_zone()));
        m.insert(
            "resourceCreationTime".into(),
            time(i.resource_creation_time()),
        );
        m.insert("configuration".into(), json!(i.configuration()));
        m.insert(
            "supplementaryConfiguration".into(),
            json!(i.supplementary_configuration()),
        );
        m.insert(
            "recordingFrequency".into(),
            json!(i.recording_frequency().map(|s| s.as_str())),
        );
        m.insert(
            "configurationItemDeliveryTime".into(),
            time(i.configuration_item_delivery_time()),
        );
        m
    }};
}

fn item_json(i: &aws_sdk_config::types::ConfigurationItem) -> Value {
    let mut m = base_fields!(i);
    m.insert("tags".into(), json!(i.tags()));
    m.insert("relatedEvents".into(), json!(i.related_events()));
    let rel: Vec<Value> = i
        .relationships()
        .iter()
        .map(|r| {
            json!({
                "resourceType": r.resource_type().map(|s| s.as_str()),
                "resourceId": r.resource_id(),
                "resourceName": r.resource_name(),
                "relationshipName": r.relationship_name(),
            })
        })
        .collect();
    m.insert("relationships".into(), Value::Array(rel));
    Value::Object(m)
}

fn base_item_json(i: &aws_sdk_config::types::BaseConfigurationItem) -> Value {
    Value::Object(base_fields!(i))
}

/// A short hash naming what a batch or query asked for, so the pages of two queries get different names.
fn tag(text: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(&Sha256::digest(text.as_bytes())[..6])
}

fn page(name: String, doc: Value, records: usize) -> Result<Page, CollectError> {
    Ok(Page {
        name,
        json: serde_json::to_vec(&doc).map_err(|e| CollectError::Service(e.to_string()))?,
        records,
    })
}

/// Runs one request, retrying throttling errors with backoff.
macro_rules! send_retrying {
    ($counters:expr, $api:expr, $target:expr, $make:expr) => {{
        let mut attempt = 0;
        loop {
            $counters.requests += 1;
            match $make.send().await {
                Ok(r) => break r,
                Err(e) if again(&e, attempt, $counters) => {
                    tokio::time::sleep(backoff(attempt)).await;
                    attempt += 1;
                }
                Err(e) => return Err(describe(&e, $api, $target)),
            }
        }
    }};
}

/// Every resource id of a type (`ListDiscoveredResources`, deleted ones included: their history matters).
pub async fn discovered_resources(
    client: &Client,
    resource_type: &str,
    counters: &mut Counters,
) -> Result<Vec<String>, CollectError> {
    let mut ids = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let resp = send_retrying!(
            counters,
            "ListDiscoveredResources",
            resource_type,
            client
                .list_discovered_resources()
                .resource_type(ResourceType::from(resource_type))
                .include_deleted_resources(true)
                .set_next_token(token.clone())
        );
        ids.extend(
            resp.resource_identifiers()
                .iter()
                .filter_map(|r| r.resource_id().map(str::to_string)),
        );
        match resp.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_string()),
            _ => break,
        }
    }
    Ok(ids)
}

/// Every page of a resource's history in [since, until]; empty pages with a `nextToken` are followed (and not
/// returned: they hold nothing to ingest).
pub async fn resource_history(
    client: &Client,
    resource_type: &str,
    resource_id: &str,
    since: Option<i64>,
    until: Option<i64>,
    counters: &mut Counters,
) -> Result<Vec<Page>, CollectError> {
    let mut pages = Vec::new();
    let mut token: Option<String> = None;
    let mut n = 0;
    let target = format!("{resource_type} {resource_id}");
    loop {
        let resp = send_retrying!(
            counters,
            "GetResourceConfigHistory",
            &target,
            client
                .get_resource_config_history()
                .resource_type(ResourceType::from(resource_type))
                .resource_id(resource_id)
                .set_earlier_time(since.map(DateTime::from_millis))
                .set_later_time(until.map(DateTime::from_millis))
                .set_next_token(token.clone())
        );
        n += 1;
        let items: Vec<Value> = resp.configuration_items().iter().map(item_json).collect();
        if !items.is_empty() {
            let records = items.len();
            pages.push(page(
                format!("config-history://{resource_type}/{resource_id}/page-{n:05}"),
                json!({ "configurationItems": items }),
                records,
            )?);
        }
        match resp.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_string()),
            _ => break,
        }
    }
    Ok(pages)
}

/// `BatchGetResourceConfig` for up to 100 resources per request.
pub async fn batch_get(
    client: &Client,
    keys: &[(String, String)],
    counters: &mut Counters,
) -> Result<Vec<Page>, CollectError> {
    let mut pages = Vec::new();
    for (n, chunk) in keys.chunks(100).enumerate() {
        let mut rk = Vec::new();
        for (t, id) in chunk {
            rk.push(
                ResourceKey::builder()
                    .resource_type(ResourceType::from(t.as_str()))
                    .resource_id(id)
                    .build()
                    .map_err(|e| CollectError::Service(format!("BatchGetResourceConfig: {e}")))?,
            );
        }
        let resp = send_retrying!(
            counters,
            "BatchGetResourceConfig",
            &format!("{} resource(s)", chunk.len()),
            client
                .batch_get_resource_config()
                .set_resource_keys(Some(rk.clone()))
        );
        let items: Vec<Value> = resp
            .base_configuration_items()
            .iter()
            .map(base_item_json)
            .collect();
        let records = items.len();
        pages.push(page(
            format!(
                "config-batch://{}/page-{:05}",
                tag(&format!("{chunk:?}")),
                n + 1
            ),
            json!({ "baseConfigurationItems": items }),
            records,
        )?);
    }
    Ok(pages)
}

/// Every page of an advanced query (`SelectResourceConfig`).
pub async fn select(
    client: &Client,
    expression: &str,
    counters: &mut Counters,
) -> Result<Vec<Page>, CollectError> {
    let mut pages = Vec::new();
    let mut token: Option<String> = None;
    let mut n = 0;
    loop {
        let resp = send_retrying!(
            counters,
            "SelectResourceConfig",
            "advanced query",
            client
                .select_resource_config()
                .expression(expression)
                .set_next_token(token.clone())
        );
        n += 1;
        let results = resp.results();
        if !results.is_empty() {
            pages.push(page(
                format!("config-select://{}/page-{n:05}", tag(expression)),
                json!({ "Results": results }),
                results.len(),
            )?);
        }
        match resp.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_string()),
            _ => break,
        }
    }
    Ok(pages)
}
