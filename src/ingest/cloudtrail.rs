//! One CloudTrail record (JSON text) → a normalized [`Event`].
//!
//! Typed serde on the hot path (parsing to `serde_json::Value` is five times slower); only the small
//! `requestParameters`/`responseElements` objects are parsed to values, for resource extraction.

use super::identity::{self, UserIdentityRaw};
use super::loose;
use super::resources;
use crate::model::{Diagnostic, Event};
use serde::Deserialize;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

#[derive(Deserialize, Default)]
#[serde(default)]
struct RecordRaw<'a> {
    #[serde(rename = "eventVersion", deserialize_with = "loose::string")]
    event_version: Option<String>,
    #[serde(rename = "eventTime", deserialize_with = "loose::time")]
    event_time: Option<loose::TimeField>,
    #[serde(rename = "@timestamp", deserialize_with = "loose::time")]
    at_timestamp: Option<loose::TimeField>,
    /// Panther's normalized event time, present in its exports when `eventTime` is not.
    #[serde(rename = "p_event_time", deserialize_with = "loose::time")]
    p_event_time: Option<loose::TimeField>,
    #[serde(rename = "eventSource", deserialize_with = "loose::string")]
    event_source: Option<String>,
    #[serde(rename = "eventName", deserialize_with = "loose::string")]
    event_name: Option<String>,
    #[serde(rename = "awsRegion", deserialize_with = "loose::string")]
    aws_region: Option<String>,
    #[serde(rename = "sourceIPAddress", deserialize_with = "loose::string")]
    source_ip: Option<String>,
    #[serde(rename = "userAgent", deserialize_with = "loose::string")]
    user_agent: Option<String>,
    #[serde(rename = "errorCode", deserialize_with = "loose::string")]
    error_code: Option<String>,
    #[serde(rename = "errorMessage", deserialize_with = "loose::string")]
    error_message: Option<String>,
    #[serde(rename = "requestID", deserialize_with = "loose::string")]
    request_id: Option<String>,
    #[serde(rename = "eventID", deserialize_with = "loose::string")]
    event_id: Option<String>,
    #[serde(rename = "eventType", deserialize_with = "loose::string")]
    event_type: Option<String>,
    #[serde(rename = "eventCategory", deserialize_with = "loose::string")]
    event_category: Option<String>,
    #[serde(rename = "readOnly", deserialize_with = "loose::boolean")]
    read_only: Option<bool>,
    #[serde(rename = "managementEvent", deserialize_with = "loose::boolean")]
    management_event: Option<bool>,
    #[serde(rename = "recipientAccountId", deserialize_with = "loose::string")]
    recipient_account: Option<String>,
    #[serde(rename = "sharedEventID", deserialize_with = "loose::string")]
    shared_event_id: Option<String>,
    #[serde(rename = "vpcEndpointId", deserialize_with = "loose::string")]
    vpc_endpoint_id: Option<String>,
    #[serde(rename = "userIdentity", deserialize_with = "identity::deserialize")]
    user_identity: Option<UserIdentityRaw>,
    #[serde(rename = "requestParameters", borrow)]
    request_parameters: Option<&'a RawValue>,
    #[serde(rename = "responseElements", borrow)]
    response_elements: Option<&'a RawValue>,
    #[serde(rename = "resources", borrow)]
    resources: Option<&'a RawValue>,
    /// CloudTrail Insights events name the API they are about here, not at the top level.
    #[serde(rename = "insightDetails")]
    insight_details: Option<InsightDetailsRaw>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct InsightDetailsRaw {
    #[serde(rename = "eventSource", deserialize_with = "loose::string")]
    event_source: Option<String>,
    #[serde(rename = "eventName", deserialize_with = "loose::string")]
    event_name: Option<String>,
}

/// Whether a JSON object looks like a CloudTrail record (used by container detection).
pub fn looks_like_record(keys: &[&str]) -> bool {
    let has = |k: &str| keys.contains(&k);
    (has("eventName") && (has("eventSource") || has("eventTime") || has("eventID")))
        || (has("eventID") && has("eventTime"))
        || (has("eventVersion") && has("userIdentity"))
        // Panther-normalized exports: `p_event_time` (and `p_log_type`) stand in for fields they may drop.
        || (has("eventName") && (has("p_event_time") || has("p_log_type")))
}

/// Context from where the record was found (the account in the file's S3 key, when any).
#[derive(Debug, Default, Clone)]
pub struct RecordContext {
    /// The account in the file's S3 key.
    pub path_account: Option<String>,
    /// The `account` of an EventBridge envelope around the record.
    pub envelope_account: Option<String>,
}

/// Normalizes one record. `record` is the record's JSON text, kept verbatim as the event's raw record.
/// Warnings (unparseable time) are pushed to `diags`; a record that can't be used at all is an `Err`.
pub fn parse_record(
    record: &str,
    index: u64,
    ctx: &RecordContext,
    diags: &mut Vec<Diagnostic>,
) -> Result<Event, Diagnostic> {
    // Typed parsing rejects duplicate keys and lone surrogate escapes; such a record is repaired (last key wins,
    // U+FFFD for the broken escape) rather than lost. The raw record stays as it arrived.
    let repaired: String;
    let r: RecordRaw = match serde_json::from_str(record) {
        Ok(r) => r,
        Err(first) => {
            let invalid = |e: &dyn std::fmt::Display| {
                Diagnostic::error(
                    Some(index),
                    "invalid_record",
                    format!("record {index} is not a usable JSON object: {e}"),
                )
            };
            repaired = repair_json(record).ok_or_else(|| invalid(&first))?;
            let r = serde_json::from_str(&repaired).map_err(|e| invalid(&e))?;
            diags.push(Diagnostic::warning(
                Some(index),
                "record_repaired",
                format!("record {index} read after repair ({first}); the raw record is kept as it arrived"),
            ));
            r
        }
    };
    // An Insights event (`eventType` AwsCloudTrailInsight) is about the API named in `insightDetails`: it is stored
    // under that source and name, with the unusual activity (state, baseline) read from the raw record when shown.
    let insight = r.insight_details.as_ref();
    let event_source = r
        .event_source
        .or_else(|| insight.and_then(|i| i.event_source.clone()))
        .unwrap_or_default();
    let event_name = r
        .event_name
        .or_else(|| insight.and_then(|i| i.event_name.clone()))
        .unwrap_or_default();
    if event_name.is_empty() && event_source.is_empty() {
        return Err(Diagnostic::error(
            Some(index),
            "not_a_record",
            "record has neither eventName nor eventSource",
        ));
    }
    let time = r.event_time.or(r.at_timestamp).or(r.p_event_time);
    let time_ms = time.as_ref().and_then(|t| t.ms);
    if time_ms.is_none() {
        let shown = time
            .as_ref()
            .map(|t| format!("{:?} is not a time", t.text))
            .unwrap_or_else(|| "is missing".into());
        diags.push(Diagnostic::warning(
            Some(index),
            "bad_time",
            format!("record {index}: eventTime {shown}; event stored without a time"),
        ));
    }
    let mut ident = identity::normalize(r.user_identity.as_ref());
    if insight.is_some() && r.user_identity.is_none() {
        // Insights are written by CloudTrail itself, about many callers (their attributions are in the record).
        ident.principal = crate::model::Principal {
            key: "service:insights.cloudtrail.amazonaws.com".into(),
            ptype: "AWSService".into(),
            name: Some("CloudTrail Insights".into()),
            ..Default::default()
        };
    }
    let recipient_account = r
        .recipient_account
        .or_else(|| ctx.envelope_account.clone())
        .or_else(|| ctx.path_account.clone())
        .or_else(|| ident.account.clone())
        .unwrap_or_default();
    let region = r.aws_region;
    let params = json_object(r.request_parameters, "requestParameters", index, diags);
    let response = json_object(r.response_elements, "responseElements", index, diags);
    let res_entries = r
        .resources
        .and_then(|v| serde_json::from_str::<Vec<resources::ResourceEntry>>(v.get()).ok());
    let read_only = r.read_only;
    let resources = resources::extract(&resources::Call {
        source: &event_source,
        name: &event_name,
        read_only,
        account: &recipient_account,
        region: region.as_deref().unwrap_or(""),
        params: params.as_ref(),
        response: response.as_ref(),
        entries: res_entries.as_deref().unwrap_or(&[]),
    });
    let issued = identity::issued_credentials(
        &event_source,
        &event_name,
        params.as_ref(),
        response.as_ref(),
    );

    let event_id = match r.event_id {
        Some(id) => id,
        None => synthesized_id(record),
    };
    Ok(Event {
        event_id,
        recipient_account,
        time_ms,
        event_version: r.event_version,
        event_source,
        event_name,
        region,
        source_ip: r.source_ip,
        user_agent: r.user_agent,
        error_code: r.error_code,
        error_message: r.error_message,
        request_id: r.request_id,
        event_type: r.event_type,
        event_category: r.event_category,
        read_only,
        management_event: r.management_event,
        shared_event_id: r.shared_event_id,
        vpc_endpoint_id: r.vpc_endpoint_id,
        identity: ident,
        resources,
        issued,
        raw_hash: xxhash_rust::xxh3::xxh3_64(record.as_bytes()) as i64,
        raw: record.to_string(),
    })
}

/// `tg-` + the first 32 hex digits of SHA-256 over the record re-serialized with sorted keys (Panther's `p_*`
/// fields left out), so the same record pretty-printed, compact or exported by Panther gets the same id.
fn synthesized_id(record: &str) -> String {
    // Panther's own `p_*` fields (row id, parse time) differ between exports of one record: left out.
    let canonical = serde_json::from_str::<serde_json::Value>(record)
        .map(|mut v| {
            if let serde_json::Value::Object(m) = &mut v {
                m.retain(|k, _| !k.starts_with("p_"));
            }
            v.to_string()
        })
        .unwrap_or_else(|_| record.to_string());
    let digest = Sha256::digest(canonical.as_bytes());
    format!("tg-{}", &hex::encode(digest)[..32])
}

/// `requestParameters` and friends: an object, null, or (type drift) a string holding JSON. An object that cannot
/// be read (numbers beyond f64, pathological nesting) is a warning: the event is kept, its resources may be missing.
fn json_object(
    raw: Option<&RawValue>,
    field: &str,
    index: u64,
    diags: &mut Vec<Diagnostic>,
) -> Option<serde_json::Value> {
    let raw = raw?;
    let text = raw.get();
    let parsed = match text.as_bytes().first() {
        Some(b'{') => serde_json::from_str(text).map_err(|e| e.to_string()),
        Some(b'"') => serde_json::from_str::<String>(text)
            .map_err(|e| e.to_string())
            .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).map_err(|e| e.to_string())),
        _ => return None,
    };
    match parsed {
        Ok(v) => v.is_object().then_some(v),
        Err(e) if text.starts_with('{') => {
            diags.push(Diagnostic::warning(
                Some(index),
                "unreadable_field",
                format!("record {index}: {field} could not be read ({e}); resources it names are not extracted"),
            ));
            None
        }
        Err(_) => None, // a plain string, as some services log
    }
}

/// Makes a record that typed parsing refused readable: lone UTF-16 surrogate escapes become U+FFFD, and
/// duplicate keys collapse (last wins) through a `Value` round trip.
fn repair_json(text: &str) -> Option<String> {
    let fixed = replace_lone_surrogates(text);
    let v: serde_json::Value = serde_json::from_str(&fixed).ok()?;
    v.is_object().then(|| v.to_string())
}

fn replace_lone_surrogates(text: &str) -> String {
    let b = text.as_bytes();
    let hex_at = |i: usize| -> Option<u32> {
        let h = text.get(i..i + 4)?;
        u32::from_str_radix(h, 16).ok()
    };
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut last = 0;
    while i + 1 < b.len() {
        if b[i] == b'\\' {
            if b[i + 1] == b'u' {
                if let Some(cp) = hex_at(i + 2) {
                    let is_high = (0xD800..0xDC00).contains(&cp);
                    let is_low = (0xDC00..0xE000).contains(&cp);
                    let paired = is_high
                        && b.get(i + 6) == Some(&b'\\')
                        && b.get(i + 7) == Some(&b'u')
                        && hex_at(i + 8).is_some_and(|lo| (0xDC00..0xE000).contains(&lo));
                    if (is_high && !paired) || is_low {
                        out.push_str(&text[last..i]);
                        out.push_str("\\ufffd");
                        i += 6;
                        last = i;
                        continue;
                    }
                    i += if paired { 12 } else { 6 };
                    continue;
                }
            }
            i += 2; // skip the escaped character
            continue;
        }
        i += 1;
    }
    out.push_str(&text[last..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Access;

    fn parse(text: &str) -> Event {
        let mut d = Vec::new();
        parse_record(text, 0, &RecordContext::default(), &mut d).unwrap()
    }

    #[test]
    fn s3_data_event_from_the_sans_lab() {
        let e = parse(
            r#"{"eventVersion":"1.08","userIdentity":{"type":"AssumedRole","principalId":"AROARDMGH3JVBU2IUKMLG:i-0b9b1a5b5c1f5ef84","arn":"arn:aws:sts::111122223333:assumed-role/WebRole/i-0b9b1a5b5c1f5ef84","accountId":"111122223333","accessKeyId":"ASIARDMGH3JVNV7KV4VO","sessionContext":{"sessionIssuer":{"type":"Role","principalId":"AROARDMGH3JVBU2IUKMLG","arn":"arn:aws:iam::111122223333:role/WebRole","accountId":"111122223333","userName":"WebRole"},"attributes":{"creationDate":"2023-08-10T19:28:31Z","mfaAuthenticated":"false"},"ec2RoleDelivery":"2.0"}},"eventTime":"2023-08-10T20:17:33Z","eventSource":"s3.amazonaws.com","eventName":"GetObject","awsRegion":"us-east-1","sourceIPAddress":"10.0.0.1","userAgent":"[aws-cli/2.13.4]","requestParameters":{"bucketName":"moviestore","Host":"moviestore.s3.amazonaws.com","key":"db/customers.csv"},"responseElements":null,"requestID":"R1","eventID":"e1","readOnly":true,"resources":[{"type":"AWS::S3::Object","ARN":"arn:aws:s3:::moviestore/db/customers.csv"},{"accountId":"111122223333","type":"AWS::S3::Bucket","ARN":"arn:aws:s3:::moviestore"}],"eventType":"AwsApiCall","managementEvent":false,"recipientAccountId":"111122223333","eventCategory":"Data"}"#,
        );
        assert_eq!(e.event_id, "e1");
        assert_eq!(e.time_ms, Some(1691698653000));
        assert_eq!(
            e.identity.principal.key,
            "arn:aws:iam::111122223333:role/WebRole"
        );
        assert_eq!(
            e.identity.access_key_id.as_deref(),
            Some("ASIARDMGH3JVNV7KV4VO")
        );
        assert_eq!(
            e.identity.session_name.as_deref(),
            Some("i-0b9b1a5b5c1f5ef84")
        );
        let got: Vec<(&str, Access)> = e
            .resources
            .iter()
            .map(|(r, a)| (r.key.as_str(), *a))
            .collect();
        assert_eq!(
            got,
            vec![
                ("AWS::S3::Bucket|||moviestore", Access::Read),
                (
                    "AWS::S3::Object|||moviestore/db/customers.csv",
                    Access::Read
                )
            ]
        );
    }

    #[test]
    fn drifting_types_and_logstash_timestamp() {
        let e = parse(
            r#"{"eventName":"ListBuckets","eventSource":"s3.amazonaws.com","readOnly":"true","requestParameters":"{\"Host\":\"s3.amazonaws.com\"}","@timestamp":"2020-09-14T00:44:23.000Z","userIdentity":{"accountId":"123","principalId":"x"}}"#,
        );
        assert_eq!(e.read_only, Some(true));
        assert_eq!(e.time_ms, Some(1600044263000));
        assert!(e.event_id.starts_with("tg-"));
        assert_eq!(e.recipient_account, "123");
        assert_eq!(e.identity.utype, None);
    }

    #[test]
    fn duplicate_keys_and_lone_surrogates_are_repaired() {
        let mut d = Vec::new();
        let text = r#"{"eventName":"A","eventSource":"s3.amazonaws.com","eventTime":"2023-01-01T00:00:00Z","eventTime":"2023-01-02T00:00:00Z","userAgent":"evil\ud800","eventID":"x"}"#;
        let e = parse_record(text, 3, &RecordContext::default(), &mut d).unwrap();
        assert_eq!(e.time_ms, Some(1672617600000));
        assert_eq!(e.user_agent.as_deref(), Some("evil\u{fffd}"));
        assert_eq!(e.raw, text);
        assert_eq!((d[0].code, d[0].record), ("record_repaired", Some(3)));
        assert_eq!(
            replace_lone_surrogates(r#""\ud83d\ude00 \udc00 \\ud800""#),
            r#""\ud83d\ude00 \ufffd \\ud800""#
        );
    }

    #[test]
    fn same_instant_in_two_formats_is_one_time() {
        let mut d = Vec::new();
        let a = parse_record(r#"{"eventName":"A","eventSource":"s","eventTime":"2023-01-01T00:00:00Z","eventID":"x"}"#, 0, &RecordContext::default(), &mut d).unwrap();
        let b = parse_record(r#"{"eventName":"A","eventSource":"s","eventTime":"2023-01-01 00:00:00.000","eventID":"x"}"#, 0, &RecordContext::default(), &mut d).unwrap();
        assert_eq!((a.time_ms, a.event_id), (b.time_ms, b.event_id));
        let c = parse_record(r#"{"eventName":"A","eventSource":"s","eventTime":{"__class__":"datetime","year":2023,"month":1,"day":1},"eventID":"x"}"#, 0, &RecordContext::default(), &mut d).unwrap();
        assert_eq!(c.time_ms, Some(1672531200000));
    }

    #[test]
    fn insights_events_are_about_the_api_in_their_details() {
        // From AWS's CloudTrail user guide (cloudtrail-log-file-examples).
        let e = parse(
            r#"{"eventVersion":"1.07","eventTime":"2019-11-14T00:51:00Z","awsRegion":"us-east-1","eventID":"EXAMPLE8-9621-4d00-b913-beca2EXAMPLE","eventType":"AwsCloudTrailInsight","recipientAccountId":"123456789012","sharedEventID":"EXAMPLE2-1729-42f1-b735-5d8c0EXAMPLE","insightDetails":{"state":"Start","eventSource":"ssm.amazonaws.com","eventName":"UpdateInstanceInformation","insightType":"ApiCallRateInsight","insightContext":{"statistics":{"baseline":{"average":85.4202380952},"insight":{"average":664}}}},"eventCategory":"Insight"}"#,
        );
        assert_eq!(
            (
                e.event_source.as_str(),
                e.event_name.as_str(),
                e.event_type.as_deref()
            ),
            (
                "ssm.amazonaws.com",
                "UpdateInstanceInformation",
                Some("AwsCloudTrailInsight")
            )
        );
        assert_eq!(
            e.identity.principal.key,
            "service:insights.cloudtrail.amazonaws.com"
        );
        assert_eq!(e.time_ms, Some(1573692660000));
    }

    #[test]
    fn not_a_record_is_a_diagnostic() {
        let mut d = Vec::new();
        let err = parse_record(r#"{"foo": 1}"#, 7, &RecordContext::default(), &mut d).unwrap_err();
        assert_eq!((err.code, err.record), ("not_a_record", Some(7)));
        let err =
            parse_record(r#"{"eventName": {"#, 8, &RecordContext::default(), &mut d).unwrap_err();
        assert_eq!((err.code, err.record), ("invalid_record", Some(8)));
    }
}
