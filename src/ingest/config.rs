//! AWS Config configuration items, from every shape they come in, → [`ConfigItem`].
//!
//! Files (history, snapshot, SNS notifications) and the API (`get-resource-config-history`,
//! `batch-get-resource-config`, `select-resource-config`) name the same fields differently:
//! `awsAccountId`/`accountId`, `ARN`/`arn`, `configurationItemVersion`/`version`,
//! `configurationStateMd5Hash`/`configurationItemMD5Hash`, and the API sends `configuration` and the values of
//! `supplementaryConfiguration` as JSON strings. All of them land in one normalized item.

use crate::model::json::{decode_embedded, Embedded};
use crate::model::time::parse_time_value;
use crate::model::{ConfigDiff, ConfigItem, ResourceRef};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

fn first<'a>(m: &'a Map<String, Value>, keys: &[&str]) -> Option<&'a Value> {
    keys.iter().find_map(|k| m.get(*k).filter(|v| !v.is_null()))
}

fn text(m: &Map<String, Value>, keys: &[&str]) -> Option<String> {
    match first(m, keys)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Whether a JSON object is a configuration item (or an oversized-notification summary).
pub fn looks_like_item(m: &Map<String, Value>) -> bool {
    m.contains_key("resourceType")
        && (m.contains_key("resourceId")
            || m.contains_key("configurationItemCaptureTime")
            || m.contains_key("configurationStateId")
            || m.contains_key("ARN")
            || m.contains_key("arn"))
}

/// Normalizes one item. `origin` says how it arrived (file, api, notification, oversized, rule_event, select).
/// Returns `Err(reason)` when the item lacks what identifies a resource.
pub fn normalize_item(
    item: &Map<String, Value>,
    origin: &'static str,
) -> Result<ConfigItem, String> {
    let rtype = text(item, &["resourceType"]).ok_or("configuration item has no resourceType")?;
    let resource_id = text(item, &["resourceId"]);
    let resource_name = text(item, &["resourceName"]);
    let arn = text(item, &["ARN", "arn"]);
    let account = text(item, &["awsAccountId", "accountId"]).unwrap_or_default();
    let region = text(item, &["awsRegion"]).unwrap_or_default();
    let resource = ResourceRef::from_config(
        &rtype,
        &account,
        &region,
        resource_id.as_deref(),
        resource_name.as_deref(),
        arn.as_deref(),
    )
    .ok_or_else(|| {
        format!("configuration item of type {rtype} has neither resourceId, resourceName nor ARN")
    })?;
    let capture_ms = first(item, &["configurationItemCaptureTime"]).and_then(parse_time_value);
    let configuration = first(item, &["configuration"])
        .cloned()
        .map(|v| decode_embedded(v, Embedded::Json));
    let supplementary = first(item, &["supplementaryConfiguration"])
        .cloned()
        .map(|v| decode_embedded(v, Embedded::Json));
    let raw = Value::Object(item.clone()).to_string();
    let (state_id, synthesized) =
        match text(item, &["configurationStateId", "configurationStateID"]) {
            Some(s) => (s, false),
            None => {
                // select-resource-config may omit it: derive a stable id from capture time and content.
                let mut h = Sha256::new();
                h.update(resource.key.as_bytes());
                h.update(capture_ms.unwrap_or(0).to_le_bytes());
                h.update(
                    configuration
                        .as_ref()
                        .map(|c| c.to_string())
                        .unwrap_or_default()
                        .as_bytes(),
                );
                (format!("tg-{}", &hex::encode(h.finalize())[..16]), true)
            }
        };
    let related_events = match first(item, &["relatedEvents"]) {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    };
    let json_text = |v: Option<&Value>| v.filter(|v| !v.is_null()).map(|v| v.to_string());
    Ok(ConfigItem {
        resource_type: rtype,
        resource_id: resource_id
            .clone()
            .or(resource_name.clone())
            .unwrap_or_else(|| resource.id.clone()),
        resource_name,
        account,
        region,
        capture_ms,
        state_id,
        state_id_synthesized: synthesized,
        status: text(item, &["configurationItemStatus"]),
        version: text(item, &["configurationItemVersion", "version"]),
        md5: text(
            item,
            &["configurationStateMd5Hash", "configurationItemMD5Hash"],
        ),
        creation_ms: first(item, &["resourceCreationTime"]).and_then(parse_time_value),
        availability_zone: text(item, &["availabilityZone"]),
        configuration: json_text(configuration.as_ref()),
        supplementary: json_text(supplementary.as_ref()),
        tags: json_text(first(item, &["tags"])),
        relationships: json_text(first(item, &["relationships"])),
        related_events,
        diff: None,
        origin,
        resource,
        raw,
    })
}

/// The `configurationItemDiff` of a change notification (None when absent or not an object).
pub fn notification_diff(message: &Map<String, Value>) -> Option<ConfigDiff> {
    let d = match message.get("configurationItemDiff")? {
        Value::Object(d) => d.clone(),
        // Some copies carry it as a JSON string.
        Value::String(s) => serde_json::from_str::<Map<String, Value>>(s).ok()?,
        _ => return None,
    };
    let props = match d.get("changedProperties") {
        Some(Value::Object(p)) => Value::Object(p.clone()),
        _ => Value::Object(Map::new()),
    };
    Some(ConfigDiff {
        change_type: text(&d, &["changeType"]),
        changed_properties: props.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(s: &str) -> Map<String, Value> {
        serde_json::from_str(s).unwrap()
    }

    #[test]
    fn file_and_api_shapes_agree() {
        let file = obj(
            r#"{"configurationItemVersion":"1.3","configurationItemCaptureTime":"2023-01-02T03:04:05.000Z","configurationStateId":1672628645000,"awsAccountId":"111","configurationItemStatus":"OK","resourceType":"AWS::S3::Bucket","resourceId":"b","resourceName":"b","ARN":"arn:aws:s3:::b","awsRegion":"us-east-1","configuration":{"name":"b"},"supplementaryConfiguration":{"BucketPolicy":{"policyText":"{\"Version\":\"2012-10-17\"}"}},"relatedEvents":[]}"#,
        );
        let api = obj(
            r#"{"version":"1.3","accountId":"111","configurationItemCaptureTime":1672628645.0,"configurationItemStatus":"OK","configurationStateId":"1672628645000","arn":"arn:aws:s3:::b","resourceType":"AWS::S3::Bucket","resourceId":"b","resourceName":"b","awsRegion":"us-east-1","configuration":"{\"name\":\"b\"}","supplementaryConfiguration":{"BucketPolicy":"{\"policyText\":\"{\\\"Version\\\":\\\"2012-10-17\\\"}\"}"}}"#,
        );
        let a = normalize_item(&file, "file").unwrap();
        let b = normalize_item(&api, "api").unwrap();
        assert_eq!(a.resource.key, "AWS::S3::Bucket|||b");
        assert_eq!(
            (a.resource.key.as_str(), a.state_id.as_str(), a.capture_ms),
            (b.resource.key.as_str(), b.state_id.as_str(), b.capture_ms)
        );
        assert_eq!(a.configuration, b.configuration);
        assert_eq!(
            a.supplementary.as_deref(),
            Some(r#"{"BucketPolicy":{"policyText":{"Version":"2012-10-17"}}}"#)
        );
        assert_eq!(a.supplementary, b.supplementary);
        assert_eq!(a.version.as_deref(), Some("1.3"));
    }

    #[test]
    fn missing_state_id_is_synthesized_and_stable() {
        let m = obj(
            r#"{"resourceType":"AWS::EC2::SecurityGroup","resourceId":"sg-1","configurationItemCaptureTime":"2023-01-01T00:00:00Z","configuration":{"a":1}}"#,
        );
        let a = normalize_item(&m, "select").unwrap();
        let b = normalize_item(&m, "select").unwrap();
        assert!(a.state_id_synthesized && a.state_id.starts_with("tg-"));
        assert_eq!(a.state_id, b.state_id);
        assert!(normalize_item(&obj(r#"{"resourceType":"AWS::S3::Bucket"}"#), "file").is_err());
    }
}
