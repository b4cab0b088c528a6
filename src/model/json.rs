//! JSON that arrived as text inside JSON: decoded into values, recursively.

use serde_json::Value;

/// How much of embedded text to decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Embedded {
    /// Strings that hold a JSON object or array (bucket policies, `supplementaryConfiguration` values).
    Json,
    /// Those, and URL-encoded JSON (`%7B%22Version...`: IAM policy documents in Config items).
    JsonOrUrlEncoded,
}

/// Replaces every string holding a JSON object or array by that value, recursively. Plain strings stay.
pub fn decode_embedded(v: Value, how: Embedded) -> Value {
    match v {
        Value::String(s) => {
            let t = s.trim_start();
            let url = how == Embedded::JsonOrUrlEncoded
                && (t.starts_with("%7B") || t.starts_with("%7b") || t.starts_with("%5B"));
            let decoded;
            let text = if url {
                decoded = percent_encoding::percent_decode_str(&s.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned();
                decoded.as_str()
            } else {
                s.as_str()
            };
            let tt = text.trim_start();
            if tt.starts_with('{') || tt.starts_with('[') {
                if let Ok(inner @ (Value::Object(_) | Value::Array(_))) =
                    serde_json::from_str::<Value>(text)
                {
                    return decode_embedded(inner, how);
                }
            }
            Value::String(s)
        }
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| (k, decode_embedded(v, how)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(|v| decode_embedded(v, how)).collect()),
        other => other,
    }
}

/// The canonical form of a CloudTrail record, for telling a re-delivery from a different record with the same
/// `eventID`: the same event delivered by S3, by LookupEvents (`CloudTrailEvent` string) and by CloudTrail Lake
/// (columns, JSON-valued ones as strings) must compare equal, and any other difference must not.
///
/// Only representation is normalized: key order (objects are sorted maps), JSON held in strings (decoded),
/// date-times in any accepted format (the instant), scalars as text (`true` and `"true"`, `5` and `"5"`), and
/// null values, which Lake writes for absent fields (dropped), and the `p_*` fields Panther adds to its exports.
/// Nothing else: every value of the record counts.
pub fn canonical_record(text: &str) -> Option<Value> {
    let mut v = serde_json::from_str::<Value>(text).ok()?;
    // Panther adds its own top-level `p_*` fields (parse time, row id) to each copy it exports: not the event's.
    if let Value::Object(m) = &mut v {
        m.retain(|k, _| !k.starts_with("p_"));
    }
    Some(canonical_value(v))
}

fn canonical_value(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, canonical_value(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(canonical_value).collect()),
        Value::String(s) => {
            let t = s.trim_start();
            if t.starts_with('{') || t.starts_with('[') {
                if let Ok(inner @ (Value::Object(_) | Value::Array(_))) =
                    serde_json::from_str::<Value>(&s)
                {
                    return canonical_value(inner);
                }
            }
            if looks_like_datetime(&s) {
                if let Some(ms) = crate::model::time::parse_time_str(&s) {
                    return Value::String(format!("\u{0}time:{ms}"));
                }
            }
            Value::String(s)
        }
        Value::Bool(b) => Value::String(b.to_string()),
        Value::Number(n) => Value::String(n.to_string()),
        Value::Null => Value::Null,
    }
}

/// `YYYY-MM-DD` followed by `T` or a space and `HH:MM`: a date-time written as text. Numbers are not taken as
/// epoch times here (an id of digits must stay an id).
fn looks_like_datetime(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 16
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[7] == b'-'
        && (b[10] == b'T' || b[10] == b' ')
        && b[13] == b':'
}

/// Whether two records are the same event delivered twice (see [`canonical_record`]). Records that are not JSON
/// are the same only when byte-identical.
pub fn same_record(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    match (canonical_record(a), canonical_record(b)) {
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::same_record;

    #[test]
    fn representation_is_normalized_and_nothing_else() {
        let s3 = r#"{"eventID":"e","eventTime":"2023-01-01T00:00:00Z","readOnly":false,"requestParameters":{"b":1,"a":"x"},"responseElements":null,"userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::1:user/u"}}"#;
        // CloudTrail Lake: other key order, time format, JSON-valued columns as strings, scalars as text.
        let lake = r#"{"userIdentity":"{\"arn\":\"arn:aws:iam::1:user/u\",\"type\":\"IAMUser\"}","eventTime":"2023-01-01 00:00:00.000","requestParameters":"{\"a\":\"x\",\"b\":\"1\"}","readOnly":"false","eventID":"e"}"#;
        assert!(same_record(s3, lake));
        let pretty = "{\n  \"eventID\": \"e\"\n}";
        assert!(same_record(pretty, r#"{"eventID":"e"}"#));
        // An AccessDenied attempt with the same id, time, caller and request is another record.
        let denied = s3.replace(
            r#""readOnly":false"#,
            r#""readOnly":false,"errorCode":"AccessDenied""#,
        );
        assert!(!same_record(s3, &denied));
        let other_params = s3.replace(r#""a":"x""#, r#""a":"y""#);
        assert!(!same_record(s3, &other_params));
        // Digits are not taken as times; a different id string stays different.
        assert!(!same_record(
            r#"{"x":"1672531200"}"#,
            r#"{"x":"2023-01-01T00:00:00Z"}"#
        ));
        assert!(!same_record("not json", "not  json"));
        // A Panther export of the S3 record.
        let panther = s3.replacen(
            '{',
            r#"{"p_row_id":"r1","p_parse_time":"2023-01-02 00:00:00.000","#,
            1,
        );
        assert!(same_record(s3, &panther));
    }
}
