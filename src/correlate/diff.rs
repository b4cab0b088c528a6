//! Semantic diff of two configuration states: JSON that arrived as text (policies as JSON strings, URL-encoded IAM
//! policy documents) is decoded first, then compared as JSON. Output: RFC 6902 operations and readable lines.

use serde_json::Value;

/// Decodes every string that holds a JSON object or array, also when URL-encoded (IAM policy documents).
pub fn decode(v: Value) -> Value {
    match v {
        Value::String(s) => {
            let t = s.trim_start();
            let text = if t.starts_with("%7B") || t.starts_with("%7b") || t.starts_with("%5B") {
                percent_encoding::percent_decode_str(&s.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            } else {
                s.clone()
            };
            let tt = text.trim_start();
            if tt.starts_with('{') || tt.starts_with('[') {
                if let Ok(inner @ (Value::Object(_) | Value::Array(_))) =
                    serde_json::from_str::<Value>(&text)
                {
                    return decode(inner);
                }
            }
            Value::String(s)
        }
        Value::Object(m) => Value::Object(m.into_iter().map(|(k, v)| (k, decode(v))).collect()),
        Value::Array(a) => Value::Array(a.into_iter().map(decode).collect()),
        other => other,
    }
}

/// RFC 6902 operations turning `before` into `after` (both decoded first).
pub fn patch(before: &Value, after: &Value) -> Vec<Value> {
    let ops = json_patch::diff(&decode(before.clone()), &decode(after.clone()));
    match serde_json::to_value(ops) {
        Ok(Value::Array(a)) => a,
        _ => Vec::new(),
    }
}

/// One readable line per operation: `~ /path: old → new`, `+ /path: value`, `- /path: old`.
pub fn lines(before: &Value, ops: &[Value]) -> Vec<String> {
    let before = decode(before.clone());
    let short = |v: &Value| {
        let s = v.to_string();
        if s.chars().count() > 120 {
            format!("{}…", s.chars().take(119).collect::<String>())
        } else {
            s
        }
    };
    ops.iter()
        .map(|op| {
            let path = op.get("path").and_then(Value::as_str).unwrap_or("");
            let old = before.pointer(path);
            match op.get("op").and_then(Value::as_str).unwrap_or("") {
                "add" => format!(
                    "+ {path}: {}",
                    short(op.get("value").unwrap_or(&Value::Null))
                ),
                "remove" => format!("- {path}: {}", old.map(short).unwrap_or_default()),
                "replace" => format!(
                    "~ {path}: {} → {}",
                    old.map(short).unwrap_or_default(),
                    short(op.get("value").unwrap_or(&Value::Null))
                ),
                other => format!("{other} {path}"),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn policies_in_strings_are_diffed_as_json() {
        let before = json!({"BucketPolicy": {"policyText": "{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\"arn:aws:iam::1:root\"}]}"}});
        let after = json!({"BucketPolicy": {"policyText": "{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\"*\"}]}"}});
        let ops = patch(&before, &after);
        assert_eq!(
            ops,
            vec![
                json!({"op": "replace", "path": "/BucketPolicy/policyText/Statement/0/Principal", "value": "*"})
            ]
        );
        assert_eq!(
            lines(&before, &ops),
            vec![
                "~ /BucketPolicy/policyText/Statement/0/Principal: \"arn:aws:iam::1:root\" → \"*\""
            ]
        );
        // URL-encoded IAM documents, as Config stores them.
        let doc = "%7B%22Version%22%3A%222012-10-17%22%7D";
        assert_eq!(
            decode(json!({"assumeRolePolicyDocument": doc})),
            json!({"assumeRolePolicyDocument": {"Version": "2012-10-17"}})
        );
        assert_eq!(decode(json!("plain text")), json!("plain text"));
    }
}
