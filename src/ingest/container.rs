//! Container detection: which kind of file this is, and the records inside it.
//!
//! Detection looks at content, never at what the user says: the top-level keys of an object
//! (`Records`, `configurationItems`, `Events`, `Results`, `digestStartTime`...), the keys of each element
//! (a CloudTrail record, a LookupEvents item, an EventBridge or SNS envelope, a Config notification or
//! rule invocation event), and falls back to JSON Lines when the text is not one JSON value.

use super::cloudtrail::{looks_like_record, parse_record, RecordContext};
use super::config::{looks_like_item, normalize_item, notification_diff};
use crate::model::{ConfigItem, Diagnostic, Event};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// What a file turned out to be. Stored in `sources.kind`; the names are documented in docs/ingest.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    CloudTrailDelivery,
    CloudTrailArray,
    CloudTrailRecord,
    JsonLines,
    LookupEvents,
    LakeResults,
    ConfigFile,
    ConfigApi,
    ConfigBatch,
    ConfigSelect,
    ConfigNotification,
    ConfigRuleEvent,
    Digest,
    DigestSignature,
    Mixed,
    Empty,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::CloudTrailDelivery => "cloudtrail_delivery",
            Kind::CloudTrailArray => "cloudtrail_array",
            Kind::CloudTrailRecord => "cloudtrail_record",
            Kind::JsonLines => "json_lines",
            Kind::LookupEvents => "lookup_events",
            Kind::LakeResults => "lake_results",
            Kind::ConfigFile => "config_file",
            Kind::ConfigApi => "config_api_history",
            Kind::ConfigBatch => "config_api_batch",
            Kind::ConfigSelect => "config_api_select",
            Kind::ConfigNotification => "config_notification",
            Kind::ConfigRuleEvent => "config_rule_event",
            Kind::Digest => "cloudtrail_digest",
            Kind::DigestSignature => "digest_signature",
            Kind::Mixed => "mixed",
            Kind::Empty => "empty",
        }
    }
}

/// Everything read out of one file's text.
#[derive(Debug, Default)]
pub struct Contents {
    pub kind: Option<Kind>,
    /// Records looked at (CloudTrail records, config items, envelopes, lines), stored or not.
    pub records: u64,
    /// Records recognized as something that carries no event or item (scheduled notifications...).
    pub skipped: u64,
    pub events: Vec<Event>,
    pub items: Vec<ConfigItem>,
    pub diagnostics: Vec<Diagnostic>,
    /// For digest files and signature sidecars: the JSON text, stored for integrity validation.
    pub digest_json: Option<String>,
    /// Nesting depth of containers and envelopes being read (bounded by MAX_DEPTH).
    depth: u32,
}

impl Contents {
    fn set_kind(&mut self, k: Kind) {
        self.kind = Some(match self.kind {
            None => k,
            Some(old) if old == k => k,
            Some(_) => Kind::Mixed,
        });
    }
}

/// A file that could not be read as any container at all.
#[derive(Debug)]
pub struct NotRecognized(pub String);

/// Parses a whole file's text. Per-record problems become diagnostics; only a file that is not JSON (or JSON of
/// no known shape) is an error.
pub fn parse_text(text: &str, ctx: &RecordContext) -> Result<Contents, NotRecognized> {
    let mut out = Contents::default();
    let trimmed = text.trim_start_matches(['\u{feff}', ' ', '\t', '\r', '\n']);
    if trimmed.trim_end().is_empty() {
        return Err(NotRecognized("file is empty".into()));
    }
    // The common case, one JSON object: read its members straight away (validating the whole text first, then
    // reading its members, scanned every byte twice). Anything else takes the general path below.
    let object = trimmed
        .starts_with('{')
        .then(|| trimmed.trim_end_matches([' ', '\t', '\r', '\n']))
        .and_then(|raw| Some((raw, keys_of(raw)?)));
    if let Some((raw, members)) = object {
        out.depth += 1;
        let r = top_level_object(raw, members, ctx, &mut out);
        out.depth -= 1;
        r?;
        if out.kind.is_none() {
            out.kind = Some(Kind::Empty);
        }
        return Ok(out);
    }
    match serde_json::from_str::<&RawValue>(trimmed) {
        Ok(raw) => {
            top_level(raw.get(), ctx, &mut out)?;
        }
        Err(whole) => {
            // Not one JSON value: JSON Lines, if the first line is a JSON object or array by itself.
            let first_line = trimmed
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .unwrap_or("");
            let first_ok = (first_line.starts_with('{') || first_line.starts_with('['))
                && serde_json::from_str::<&RawValue>(first_line).is_ok();
            if !first_ok {
                return Err(NotRecognized(format!(
                    "not JSON ({}): {whole}",
                    describe_non_json(trimmed)
                )));
            }
            let mut any = false;
            let mut lines_diags = Vec::new();
            for (n, line) in text.trim_start_matches('\u{feff}').lines().enumerate() {
                let line = line.trim();
                if line.is_empty() {
                    continue;
                }
                let line_no = n as u64 + 1;
                match serde_json::from_str::<&RawValue>(line) {
                    Ok(raw) => {
                        any = true;
                        element(raw.get(), line_no, ctx, &mut out, Some(Kind::JsonLines));
                    }
                    Err(e) => {
                        out.records += 1;
                        lines_diags.push(Diagnostic::error(
                            Some(line_no),
                            "invalid_json",
                            format!("line {line_no} is not JSON: {e}"),
                        ))
                    }
                }
            }
            if !any {
                return Err(NotRecognized(format!(
                    "not JSON ({}): {whole}",
                    describe_non_json(trimmed)
                )));
            }
            out.diagnostics.extend(lines_diags);
            out.set_kind(Kind::JsonLines);
        }
    }
    if out.kind.is_none() {
        out.kind = Some(Kind::Empty);
    }
    Ok(out)
}

/// A precise word on what a non-JSON file looks like, for the failure message.
fn describe_non_json(text: &str) -> &'static str {
    let first = text.lines().next().unwrap_or("").trim();
    if first.starts_with('{') || first.starts_with('[') {
        "invalid JSON"
    } else if first.starts_with("# ") || first.starts_with("## ") {
        "looks like Markdown"
    } else if first.starts_with("---")
        || (first.contains(": ") && !first.contains('{'))
        || first.starts_with("- ")
    {
        "looks like YAML; only JSON containers are read"
    } else if first.matches(',').count() >= 2 || first.matches('\t').count() >= 2 {
        "looks like CSV/TSV; only JSON containers are read"
    } else if first.split(' ').nth(2).is_some_and(|t| t.starts_with('[')) {
        "looks like an S3 server access log, which is not CloudTrail"
    } else {
        "unknown text format"
    }
}

/// A JSON object's members in order, duplicates kept (a tampered file must not hide a member behind another).
struct Obj<'a>(Vec<(String, &'a RawValue)>);

impl<'a> Obj<'a> {
    fn get(&self, k: &str) -> Option<&'a RawValue> {
        self.0.iter().find(|(key, _)| key == k).map(|(_, v)| *v)
    }
    fn all(&self, k: &'a str) -> impl Iterator<Item = &'a RawValue> + '_ {
        self.0
            .iter()
            .filter(move |(key, _)| key == k)
            .map(|(_, v)| *v)
    }
    fn contains_key(&self, k: &str) -> bool {
        self.0.iter().any(|(key, _)| key == k)
    }
    fn len(&self) -> usize {
        self.0.len()
    }
    fn keys(&self) -> Vec<&str> {
        let mut k: Vec<&str> = self.0.iter().map(|(k, _)| k.as_str()).collect();
        k.sort_unstable();
        k.dedup();
        k
    }
    fn duplicates(&self) -> Vec<&str> {
        let mut k: Vec<&str> = self.0.iter().map(|(k, _)| k.as_str()).collect();
        k.sort_unstable();
        let mut d: Vec<&str> = k
            .windows(2)
            .filter(|w| w[0] == w[1])
            .map(|w| w[0])
            .collect();
        d.dedup();
        d
    }
}

impl<'de: 'a, 'a> serde::Deserialize<'de> for Obj<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for V<'a> {
            type Value = Obj<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<M: serde::de::MapAccess<'de>>(
                self,
                mut m: M,
            ) -> Result<Obj<'a>, M::Error> {
                let mut v = Vec::new();
                while let Some((k, val)) = m.next_entry::<String, &'de RawValue>()? {
                    v.push((k, val));
                }
                Ok(Obj(v))
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

fn keys_of(raw: &str) -> Option<Obj<'_>> {
    serde_json::from_str(raw).ok()
}

/// Containers nested deeper than this (envelopes in envelopes) are reported instead of followed.
const MAX_DEPTH: u32 = 12;

/// The keys whose array value holds a file's records.
const CONTAINERS: [(&str, Kind); 6] = [
    ("Records", Kind::CloudTrailDelivery),
    ("configurationItems", Kind::ConfigFile),
    ("baseConfigurationItems", Kind::ConfigBatch),
    ("Events", Kind::LookupEvents),
    ("QueryResultRows", Kind::LakeResults),
    ("Results", Kind::ConfigSelect),
];

fn raw_array(raw: &RawValue) -> Option<Vec<&RawValue>> {
    serde_json::from_str(raw.get()).ok()
}

fn top_level(raw: &str, ctx: &RecordContext, out: &mut Contents) -> Result<(), NotRecognized> {
    if out.depth >= MAX_DEPTH {
        return Err(NotRecognized(format!(
            "containers nested more than {MAX_DEPTH} deep"
        )));
    }
    out.depth += 1;
    let r = top_level_inner(raw, ctx, out);
    out.depth -= 1;
    r
}

fn top_level_inner(
    raw: &str,
    ctx: &RecordContext,
    out: &mut Contents,
) -> Result<(), NotRecognized> {
    if raw.starts_with('[') {
        let items: Vec<&RawValue> = serde_json::from_str(raw)
            .map_err(|e| NotRecognized(format!("invalid JSON array: {e}")))?;
        if items.is_empty() {
            out.diagnostics.push(Diagnostic::warning(
                None,
                "no_records",
                "file holds an empty array",
            ));
            out.set_kind(Kind::Empty);
        }
        for (i, it) in items.iter().enumerate() {
            element(it.get(), i as u64, ctx, out, Some(Kind::CloudTrailArray));
        }
        return Ok(());
    }
    let Some(m) = keys_of(raw) else {
        return Err(NotRecognized(
            "top-level JSON value is neither an object nor an array".into(),
        ));
    };
    top_level_object(raw, m, ctx, out)
}

/// A top-level object (`raw`, whose members are `m`): a container of records, a digest or its signature, an
/// envelope, or one record.
fn top_level_object(
    raw: &str,
    m: Obj<'_>,
    ctx: &RecordContext,
    out: &mut Contents,
) -> Result<(), NotRecognized> {
    // Placebo-recorded API responses wrap the response in {"status_code": .., "data": ..}.
    if let (Some(data), true) = (m.get("data"), m.contains_key("status_code")) {
        return top_level(data.get(), ctx, out);
    }
    if m.contains_key("digestStartTime") && m.contains_key("logFiles") {
        out.set_kind(Kind::Digest);
        out.digest_json = Some(raw.to_string());
        return Ok(());
    }
    if m.contains_key("signature") && m.contains_key("signature-algorithm") && m.len() <= 4 {
        out.set_kind(Kind::DigestSignature);
        out.digest_json = Some(raw.to_string());
        return Ok(());
    }
    for d in m.duplicates() {
        out.diagnostics.push(Diagnostic::warning(
            None,
            "duplicate_key",
            format!("top-level key `{d}` appears more than once; every copy is read"),
        ));
    }
    let mut found_container = false;
    for (key, kind) in CONTAINERS {
        for v in m.all(key) {
            found_container = true;
            let Some(items) = raw_array(v) else {
                out.diagnostics.push(Diagnostic::error(
                    None,
                    "not_an_array",
                    format!("`{key}` is not an array"),
                ));
                continue;
            };
            container(&m, key, kind, &items, ctx, out);
        }
    }
    if found_container {
        if out.kind.is_none() && out.events.is_empty() && out.items.is_empty() {
            let reason = out
                .diagnostics
                .pop()
                .map(|d| d.message)
                .unwrap_or_else(|| "no records".into());
            return Err(NotRecognized(reason));
        }
        return Ok(());
    }
    element(raw, 0, ctx, out, Some(Kind::CloudTrailRecord));
    if out.events.is_empty() && out.items.is_empty() && out.skipped == 0 {
        // A single object of no known shape: the file is not audit data.
        let reason = out
            .diagnostics
            .pop()
            .map(|d| d.message)
            .unwrap_or_else(|| "unknown JSON shape".into());
        return Err(NotRecognized(reason));
    }
    Ok(())
}

/// The records of one container array.
fn container(
    m: &Obj,
    key: &str,
    kind: Kind,
    items: &[&RawValue],
    ctx: &RecordContext,
    out: &mut Contents,
) {
    let kind = match kind {
        Kind::ConfigFile if !m.contains_key("fileVersion") => Kind::ConfigApi,
        k => k,
    };
    out.set_kind(kind);
    if items.is_empty() {
        out.diagnostics.push(Diagnostic::warning(
            None,
            "no_records",
            format!("`{key}` is an empty array"),
        ));
    }
    for (i, it) in items.iter().enumerate() {
        let i = i as u64;
        match kind {
            Kind::ConfigFile | Kind::ConfigApi | Kind::ConfigBatch => {
                out.records += 1;
                let origin = if kind == Kind::ConfigFile {
                    "file"
                } else {
                    "api"
                };
                match serde_json::from_str::<Map<String, Value>>(it.get()) {
                    Ok(obj) => push_item(&obj, origin, i, out),
                    Err(e) => out.diagnostics.push(Diagnostic::error(
                        Some(i),
                        "invalid_item",
                        format!("item {i} is not an object: {e}"),
                    )),
                }
            }
            Kind::ConfigSelect => {
                out.records += 1;
                // Each result is a JSON string (or, in some tools' output, an object).
                let obj = serde_json::from_str::<String>(it.get())
                    .ok()
                    .and_then(|s| serde_json::from_str::<Map<String, Value>>(&s).ok())
                    .or_else(|| serde_json::from_str::<Map<String, Value>>(it.get()).ok());
                match obj {
                        Some(o) if looks_like_item(&o) => push_item(&o, "select", i, out),
                        Some(o) => out.diagnostics.push(Diagnostic::error(
                            Some(i),
                            "incomplete_item",
                            format!("select result {i} lacks resourceType and resourceId (select them to ingest): keys {}", key_list(&o)),
                        )),
                        None => out.diagnostics.push(Diagnostic::error(Some(i), "invalid_item", format!("select result {i} is not a JSON object"))),
                    }
            }
            Kind::LakeResults => {
                out.records += 1;
                lake_row(it.get(), i, ctx, out);
            }
            _ => element(it.get(), i, ctx, out, None),
        }
    }
}

fn key_list(m: &Map<String, Value>) -> String {
    let keys: Vec<&str> = m.keys().map(String::as_str).take(8).collect();
    keys.join(", ")
}

fn push_item(obj: &Map<String, Value>, origin: &'static str, index: u64, out: &mut Contents) {
    match normalize_item(obj, origin) {
        Ok(item) => {
            if origin == "oversized" {
                out.diagnostics.push(Diagnostic::warning(
                    Some(index),
                    "oversized_item",
                    format!(
                        "oversized configuration item for {} {}: configuration not included in the notification (ingest the delivered history file for it)",
                        item.resource_type, item.resource_id
                    ),
                ));
            }
            out.items.push(item)
        }
        Err(reason) => out.diagnostics.push(Diagnostic::error(
            Some(index),
            "invalid_item",
            format!("item {index}: {reason}"),
        )),
    }
}

/// One element of a container (or a whole single-object file, or one JSON line).
/// `kind` is the container kind to record when the element is a plain CloudTrail record.
fn element(raw: &str, index: u64, ctx: &RecordContext, out: &mut Contents, kind: Option<Kind>) {
    if out.depth >= MAX_DEPTH {
        out.records += 1;
        out.diagnostics.push(Diagnostic::error(
            Some(index),
            "not_recognized",
            format!("record {index}: envelopes nested more than {MAX_DEPTH} deep"),
        ));
        return;
    }
    out.depth += 1;
    element_inner(raw, index, ctx, out, kind);
    out.depth -= 1;
}

fn element_inner(
    raw: &str,
    index: u64,
    ctx: &RecordContext,
    out: &mut Contents,
    kind: Option<Kind>,
) {
    let Some(m) = keys_of(raw) else {
        out.records += 1;
        out.diagnostics.push(Diagnostic::error(
            Some(index),
            "not_an_object",
            format!("record {index} is not a JSON object"),
        ));
        return;
    };
    let keys: Vec<&str> = m.keys();
    let text_of = |k: &str| {
        m.get(k)
            .and_then(|v| serde_json::from_str::<String>(v.get()).ok())
    };

    if looks_like_record(&keys) {
        out.records += 1;
        // Lambda/S3/SNS event notifications also carry eventSource/eventName, as `aws:s3` etc.
        if let Some(src) = text_of("eventSource").or_else(|| text_of("EventSource")) {
            if src.starts_with("aws:") {
                out.diagnostics.push(Diagnostic::error(
                    Some(index),
                    "not_cloudtrail",
                    format!(
                        "record {index} is an {src} event notification, not a CloudTrail record"
                    ),
                ));
                return;
            }
        }
        if let Some(k) = kind {
            out.set_kind(if k == Kind::JsonLines {
                Kind::JsonLines
            } else {
                k
            });
        }
        let mut diags = Vec::new();
        match parse_record(raw, index, ctx, &mut diags) {
            Ok(e) => out.events.push(e),
            Err(d) => out.diagnostics.push(d),
        }
        out.diagnostics.extend(diags);
        return;
    }
    // LookupEvents item: the record is a JSON string.
    if let Some(inner) = text_of("CloudTrailEvent") {
        out.records += 1;
        if kind != Some(Kind::JsonLines) {
            out.set_kind(Kind::LookupEvents);
        }
        let mut diags = Vec::new();
        match parse_record(&inner, index, ctx, &mut diags) {
            Ok(mut e) => {
                // The item's `Resources` list (type + name) names resources the record may not.
                if let Some(list) = m.get("Resources") {
                    let region = e.region.clone().unwrap_or_default();
                    let account = e.recipient_account.clone();
                    super::resources::listed(&mut e.resources, list.get(), &account, &region);
                }
                out.events.push(e)
            }
            Err(d) => out.diagnostics.push(d),
        }
        out.diagnostics.extend(diags);
        return;
    }
    // EventBridge envelope: `detail` is the record (CloudTrail) or the Config notification.
    if let (Some(detail), true) = (
        m.get("detail"),
        m.contains_key("detail-type") || m.contains_key("source"),
    ) {
        // Some service events omit recipientAccountId: the envelope's `account` is the recipient.
        let inner = RecordContext {
            envelope_account: text_of("account").or(ctx.envelope_account.clone()),
            ..ctx.clone()
        };
        element(detail.get(), index, &inner, out, kind);
        return;
    }
    // SNS: a notification envelope, or a Lambda SNS event record.
    if let (Some(msg), true) = (
        m.get("Message"),
        m.contains_key("Type") || m.contains_key("TopicArn"),
    ) {
        // The message is a JSON string on the wire; some copies (docs, tools) inline it as an object.
        match serde_json::from_str::<String>(msg.get()) {
            Ok(text) if text.trim_start().starts_with('{') => element(&text, index, ctx, out, kind),
            Ok(_) => {
                out.records += 1;
                out.diagnostics.push(Diagnostic::error(
                    Some(index),
                    "not_recognized",
                    format!("record {index}: SNS message is not JSON"),
                ));
            }
            Err(_) => element(msg.get(), index, ctx, out, kind),
        }
        return;
    }
    if let Some(sns) = m.get("Sns") {
        element(sns.get(), index, ctx, out, kind);
        return;
    }
    // Config rule invocation: the item is inside the `invokingEvent` string.
    if let Some(inv) = text_of("invokingEvent") {
        if kind != Some(Kind::JsonLines) {
            out.set_kind(Kind::ConfigRuleEvent);
        }
        element(&inv, index, ctx, out, kind);
        return;
    }
    if m.contains_key("messageType")
        || m.contains_key("configurationItem")
        || m.contains_key("configurationItemSummary")
    {
        out.records += 1;
        if !matches!(out.kind, Some(Kind::ConfigRuleEvent)) && kind != Some(Kind::JsonLines) {
            out.set_kind(Kind::ConfigNotification);
        }
        let obj: Map<String, Value> = serde_json::from_str(raw).unwrap_or_default();
        let origin = if out.kind == Some(Kind::ConfigRuleEvent) {
            "rule_event"
        } else {
            "notification"
        };
        let before = out.items.len();
        if let Some(Value::Object(item)) = obj.get("configurationItem") {
            push_item(item, origin, index, out);
        } else if let Some(Value::Array(items)) = obj.get("configurationItem") {
            // Notification format 1.0 sent a list.
            for it in items.iter().filter_map(Value::as_object) {
                push_item(it, origin, index, out);
            }
        } else if let Some(Value::Object(summary)) = obj.get("configurationItemSummary") {
            push_item(summary, "oversized", index, out);
        } else {
            // ScheduledNotification, delivery-completed and compliance messages carry no item.
            out.skipped += 1;
        }
        // The change the notification reports: kept with its item (one item per notification since format 1.1).
        if out.items.len() == before + 1 {
            if let Some(d) = notification_diff(&obj) {
                out.items[before].diff = Some(d);
            }
        }
        return;
    }
    // A nested container (a JSON line holding a whole delivery file or API page).
    if [
        "Records",
        "configurationItems",
        "baseConfigurationItems",
        "Events",
        "Results",
        "QueryResultRows",
    ]
    .iter()
    .any(|k| m.contains_key(k))
    {
        if let Err(NotRecognized(msg)) = top_level(raw, ctx, out) {
            out.diagnostics.push(Diagnostic::error(
                Some(index),
                "not_recognized",
                format!("record {index}: {msg}"),
            ));
        }
        return;
    }
    let obj: Map<String, Value> = serde_json::from_str(raw).unwrap_or_default();
    if looks_like_item(&obj) {
        out.records += 1;
        if kind != Some(Kind::JsonLines) {
            out.set_kind(Kind::ConfigApi);
        }
        let origin = if obj.contains_key("ARN") || obj.contains_key("awsAccountId") {
            "file"
        } else {
            "api"
        };
        push_item(&obj, origin, index, out);
        return;
    }
    out.records += 1;
    out.diagnostics.push(Diagnostic::error(
        Some(index),
        "not_recognized",
        format!(
            "record {index} is neither a CloudTrail record nor a Config item (keys: {})",
            key_list(&obj)
        ),
    ));
}

/// CloudTrail Lake `GetQueryResults` row: a list of one-key objects `[{"eventID": ..}, {"eventTime": ..}]`.
/// Rows of a `SELECT *` (or of enough columns) become records; JSON-valued columns arrive as strings.
fn lake_row(raw: &str, index: u64, ctx: &RecordContext, out: &mut Contents) {
    let cells: Vec<Map<String, Value>> = match serde_json::from_str(raw) {
        Ok(c) => c,
        Err(e) => {
            out.diagnostics.push(Diagnostic::error(
                Some(index),
                "invalid_row",
                format!("row {index} is not a list of columns: {e}"),
            ));
            return;
        }
    };
    let mut record = Map::new();
    for cell in cells {
        for (k, v) in cell {
            let v = match v {
                Value::String(s) if s.starts_with('{') || s.starts_with('[') => {
                    serde_json::from_str(&s).unwrap_or(Value::String(s))
                }
                other => other,
            };
            record.insert(k, v);
        }
    }
    let text = Value::Object(record).to_string();
    let mut diags = Vec::new();
    match parse_record(&text, index, ctx, &mut diags) {
        Ok(e) => out.events.push(e),
        Err(d) => out.diagnostics.push(d),
    }
    out.diagnostics.extend(diags);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Contents {
        parse_text(text, &RecordContext::default()).unwrap()
    }
    const REC: &str = r#"{"eventVersion":"1.08","eventTime":"2023-01-01T00:00:00Z","eventSource":"s3.amazonaws.com","eventName":"ListBuckets","eventID":"E1","recipientAccountId":"111","userIdentity":{"type":"Root","arn":"arn:aws:iam::111:root","accountId":"111"}}"#;

    #[test]
    fn detects_every_container() {
        let rec_str = serde_json::to_string(REC).unwrap();
        let cases: Vec<(String, &str, usize, usize)> = vec![
            (format!(r#"{{"Records":[{REC},{REC}]}}"#), "cloudtrail_delivery", 2, 0),
            (format!("[{REC}]"), "cloudtrail_array", 1, 0),
            (REC.to_string(), "cloudtrail_record", 1, 0),
            (format!("{REC}\n{REC}\n"), "json_lines", 2, 0),
            (format!(r#"{{"Events":[{{"EventId":"E1","CloudTrailEvent":{rec_str}}}]}}"#), "lookup_events", 1, 0),
            (format!(r#"{{"EventId":"E1","EventTime":"2023-01-01T01:00:00+01:00","CloudTrailEvent":{rec_str}}}"#), "lookup_events", 1, 0),
            (format!(r#"{{"version":"0","detail-type":"AWS API Call via CloudTrail","source":"aws.s3","detail":{REC}}}"#), "cloudtrail_record", 1, 0),
            (r#"{"QueryResultRows":[[{"eventID":"E1"},{"eventTime":"2023-01-01 00:00:00.000"},{"eventSource":"s3.amazonaws.com"},{"eventName":"ListBuckets"},{"userIdentity":"{\"type\":\"Root\"}"}]]}"#.to_string(), "lake_results", 1, 0),
            (r#"{"fileVersion":"1.0","configurationItems":[{"resourceType":"AWS::S3::Bucket","resourceId":"b","configurationStateId":1,"configurationItemCaptureTime":"2023-01-01T00:00:00Z"}]}"#.to_string(), "config_file", 0, 1),
            (r#"{"configurationItems":[{"resourceType":"AWS::S3::Bucket","resourceId":"b","configurationStateId":"1","configuration":"{}"}],"nextToken":"x"}"#.to_string(), "config_api_history", 0, 1),
            (r#"{"baseConfigurationItems":[{"resourceType":"AWS::S3::Bucket","resourceId":"b","configurationStateId":"1"}],"unprocessedResourceKeys":[]}"#.to_string(), "config_api_batch", 0, 1),
            (r#"{"Results":["{\"resourceType\":\"AWS::S3::Bucket\",\"resourceId\":\"b\",\"configuration\":{}}"],"QueryInfo":{}}"#.to_string(), "config_api_select", 0, 1),
            (r#"{"messageType":"ConfigurationItemChangeNotification","configurationItem":{"resourceType":"AWS::S3::Bucket","resourceId":"b","configurationStateId":1}}"#.to_string(), "config_notification", 0, 1),
            (r#"{"Type":"Notification","TopicArn":"t","Message":"{\"messageType\":\"OversizedConfigurationItemChangeNotification\",\"configurationItemSummary\":{\"resourceType\":\"AWS::S3::Bucket\",\"resourceId\":\"b\",\"configurationStateId\":2}}"}"#.to_string(), "config_notification", 0, 1),
            (r#"{"invokingEvent":"{\"messageType\":\"ConfigurationItemChangeNotification\",\"configurationItem\":{\"resourceType\":\"AWS::S3::Bucket\",\"resourceId\":\"b\",\"configurationStateId\":3}}","ruleParameters":"{}","resultToken":"t"}"#.to_string(), "config_rule_event", 0, 1),
            (r#"{"status_code":200,"data":{"configurationItems":[{"resourceType":"AWS::S3::Bucket","resourceId":"b","configurationStateId":"1"}]}}"#.to_string(), "config_api_history", 0, 1),
            (r#"{"digestStartTime":"2023-01-01T00:00:00Z","digestEndTime":"2023-01-01T01:00:00Z","logFiles":[]}"#.to_string(), "cloudtrail_digest", 0, 0),
            ("[]".to_string(), "empty", 0, 0),
        ];
        for (text, kind, events, items) in cases {
            let c = parse(&text);
            assert_eq!(
                (c.kind.map(Kind::as_str), c.events.len(), c.items.len()),
                (Some(kind), events, items),
                "{text}: {:?}",
                c.diagnostics
            );
        }
    }

    #[test]
    fn bad_inputs_are_reported_not_panicked() {
        for (text, want) in [
            ("", "file is empty"),
            ("hello world", "not JSON"),
            ("{\"a\":1}", "neither"),
            ("42", "neither an object"),
        ] {
            let err = parse_text(text, &RecordContext::default()).unwrap_err();
            assert!(err.0.contains(want), "{text:?}: {}", err.0);
        }
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        // Deep nesting is reported (serde_json's recursion limit), never a stack overflow.
        let c = parse(&deep);
        assert_eq!(
            (c.events.len(), c.diagnostics[0].code),
            (0, "not_an_object")
        );
        let deep_obj = format!(
            r#"{{"Records":[{{"eventName":"X","eventSource":"s","userIdentity":{}1{}}}]}}"#,
            "[".repeat(5000),
            "]".repeat(5000)
        );
        let c = parse(&deep_obj);
        assert_eq!(c.events.len(), 1);
        // A bad line in JSON Lines is a diagnostic with its line number; the rest is kept.
        let c = parse(&format!("{REC}\nnot json\n{REC}"));
        assert_eq!(c.events.len(), 2);
        assert_eq!(
            (c.diagnostics[0].code, c.diagnostics[0].record),
            ("invalid_json", Some(2))
        );
        // S3 event notifications are not CloudTrail.
        let c = parse(
            r#"{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","eventName":"ObjectCreated:Put","eventTime":"2023-01-01T00:00:00Z"}]}"#,
        );
        assert_eq!(
            (c.events.len(), c.diagnostics[0].code),
            (0, "not_cloudtrail")
        );
    }
}
