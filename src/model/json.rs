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
