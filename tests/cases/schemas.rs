//! The JSON outputs match their schemas in `schemas/` (required fields present, no undocumented fields, types),
//! and `schemas/store.sql` is the migrations' SQL.

use crate::util::*;
use serde_json::Value;

fn check(value: &Value, schema: &Value, at: &str) {
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
        let ok = allowed.contains(&actual) || (actual == "integer" && allowed.contains(&"number"));
        assert!(ok, "{at}: {actual} is not one of {allowed:?}");
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
            assert!(obj.contains_key(r), "{at}: required field {r} missing");
        }
        for (k, v) in obj {
            match props.get(k) {
                Some(s) => check(v, s, &format!("{at}.{k}")),
                None => assert!(
                    schema.get("additionalProperties") != Some(&Value::Bool(false)),
                    "{at}: undocumented field {k}"
                ),
            }
        }
    }
    if let (Value::Object(obj), Some(extra)) = (
        value,
        schema.get("additionalProperties").filter(|v| v.is_object()),
    ) {
        for (k, v) in obj {
            check(v, extra, &format!("{at}.{k}"));
        }
    }
    if let (Value::Array(items), Some(item_schema)) = (value, schema.get("items")) {
        for (i, v) in items.iter().enumerate() {
            check(v, item_schema, &format!("{at}[{i}]"));
        }
    }
}

fn schema(name: &str) -> Value {
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
