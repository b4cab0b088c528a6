//! The JSON outputs match their schemas in `schemas/` (required fields present, no undocumented fields, types),
//! and `schemas/store.sql` is the migrations' SQL.

use crate::util::*;
use serde_json::Value;

/// Checks `value` against `schema` (the subset of JSON Schema the project's schemas use: type, properties,
/// required, additionalProperties, items, enum, oneOf, $ref to `#/$defs/...` or to another file in schemas/).
fn check_in(value: &Value, schema: &Value, root: &Value, at: &str) -> Result<(), String> {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        return match r.strip_prefix("#/$defs/") {
            Some(name) => check_in(value, &root["$defs"][name], root, at),
            None => {
                // `file.json` or `file.json#/$defs/name`.
                let (file, def) = r
                    .split_once("#/$defs/")
                    .map_or((r, None), |(f, d)| (f, Some(d)));
                let other = super::schemas::schema(file);
                match def {
                    Some(d) => check_in(value, &other["$defs"][d], &other, at),
                    None => check_in(value, &other, &other, at),
                }
            }
        };
    }
    if let Some(alts) = schema.get("oneOf").and_then(Value::as_array) {
        if !alts.iter().any(|a| check_in(value, a, root, at).is_ok()) {
            return Err(format!("{at}: matches none of oneOf"));
        }
    }
    if let Some(e) = schema.get("enum").and_then(Value::as_array) {
        if !e.contains(value) {
            return Err(format!("{at}: {value} not in {e:?}"));
        }
    }
    if let Some(types) = schema.get("type") {
        let allowed: Vec<&str> = match types {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let actual = match value {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        };
        if !(allowed.contains(&actual) || (actual == "integer" && allowed.contains(&"number"))) {
            return Err(format!("{at}: {actual} is not one of {allowed:?}"));
        }
    }
    if let (Value::Object(obj), Some(props)) =
        (value, schema.get("properties").and_then(Value::as_object))
    {
        for r in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let r = r.as_str().unwrap();
            if !obj.contains_key(r) {
                return Err(format!("{at}: required field {r} missing"));
            }
        }
        for (k, v) in obj {
            match props.get(k) {
                Some(s) => check_in(v, s, root, &format!("{at}.{k}"))?,
                None if schema.get("additionalProperties") == Some(&Value::Bool(false)) => {
                    return Err(format!("{at}: undocumented field {k}"))
                }
                None => {}
            }
        }
    }
    if let (Value::Object(obj), Some(extra)) = (
        value,
        schema.get("additionalProperties").filter(|v| v.is_object()),
    ) {
        for (k, v) in obj {
            check_in(v, extra, root, &format!("{at}.{k}"))?;
        }
    }
    if let (Value::Array(items), Some(item_schema)) = (value, schema.get("items")) {
        for (i, v) in items.iter().enumerate() {
            check_in(v, item_schema, root, &format!("{at}[{i}]"))?;
        }
    }
    Ok(())
}

pub fn check(value: &Value, schema: &Value, at: &str) {
    if let Err(e) = check_in(value, schema, schema, at) {
        panic!("{e}");
    }
}

pub fn schema(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(repo().join("schemas").join(name)).unwrap())
        .unwrap()
}

#[test]
fn stats_and_ingest_summary_follow_their_schemas() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "nope").unwrap();
    let r = ingest(&db, &[&fixtures().join("corpus-samples"), &bad]);
    check(&r.json(), &schema("ingest-summary.schema.json"), "ingest");
    check(&stats(&db), &schema("stats.schema.json"), "stats");
    // An empty store too (nulls for times).
    let empty = dir.path().join("e.db");
    let e = dir.path().join("empty.json");
    std::fs::write(&e, "[]").unwrap();
    ingest(&empty, &[&e]);
    let s = stats(&empty);
    assert_eq!(s["first_event_time"], Value::Null);
    check(&s, &schema("stats.schema.json"), "stats");
}

#[test]
fn store_sql_schema_is_the_migrations() {
    let mut sql = String::new();
    let mut files: Vec<_> = std::fs::read_dir(repo().join("src/store/migrations"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for f in files {
        sql.push_str(&std::fs::read_to_string(f).unwrap());
    }
    assert_eq!(
        std::fs::read_to_string(repo().join("schemas/store.sql")).unwrap(),
        sql,
        "copy the migrations to schemas/store.sql"
    );
}
