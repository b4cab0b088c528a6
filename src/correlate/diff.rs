//! Semantic diff of two configuration states: JSON that arrived as text (policies as JSON strings, URL-encoded IAM
//! policy documents) is decoded first, then compared as JSON. Output: RFC 6902 operations and readable lines.

use crate::model::json::{decode_embedded, Embedded};
use serde_json::Value;

/// Decodes every string that holds a JSON object or array, also when URL-encoded (IAM policy documents).
pub fn decode(v: Value) -> Value {
    decode_embedded(v, Embedded::JsonOrUrlEncoded)
}

/// RFC 6902 operations turning `before` into `after`, both already passed through [`decode`] (configuration
/// states are decoded once, when read).
pub fn patch(before: &Value, after: &Value) -> Vec<Value> {
    let ops = json_patch::diff(before, after);
    match serde_json::to_value(ops) {
        Ok(Value::Array(a)) => a,
        _ => Vec::new(),
    }
}

/// [`patch`] and [`lines`] of two parts of larger documents that sit at `prefix` (a JSON pointer): the paths
/// of the operations and lines are those in the larger documents.
pub fn patch_under(prefix: &str, before: &Value, after: &Value) -> (Vec<Value>, Vec<String>) {
    let ops = patch(before, after);
    let lines = lines_under(prefix, before, &ops);
    let ops = ops
        .into_iter()
        .map(|mut op| {
            for field in ["path", "from"] {
                if let Some(Value::String(p)) = op.get_mut(field) {
                    p.insert_str(0, prefix);
                }
            }
            op
        })
        .collect();
    (ops, lines)
}

/// One readable line per operation: `~ /path: old → new`, `+ /path: value`, `- /path: old`.
/// `before` is the decoded document the operations apply to.
pub fn lines(before: &Value, ops: &[Value]) -> Vec<String> {
    lines_under("", before, ops)
}

/// [`lines`] of operations on a part of a larger document at `prefix`, written with the larger document's paths.
fn lines_under(prefix: &str, before: &Value, ops: &[Value]) -> Vec<String> {
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
            let local = op.get("path").and_then(Value::as_str).unwrap_or("");
            let old = before.pointer(local);
            let path = format!("{prefix}{local}");
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
        let (before, after) = (decode(before), decode(after));
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
