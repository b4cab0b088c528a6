//! Object versions (docs/lineage.md, "Object versions"): a key written N times is N datasets, and each call on
//! the key is bound to one of them.
//!
//! - A version is made by a successful `PutObject`, `CompleteMultipartUpload` or `CopyObject` (destination). Its
//!   name is S3's version id (`x-amz-version-id` in the response) or, for an unversioned or suspended bucket, a
//!   *generation* named by the write's event id.
//! - A read is bound to the version its request names (`versionId`, or the copy source's `?versionId=` /
//!   `x-amz-copy-source-version-id`), else to the version current at the time of the read: the last version written
//!   strictly before it, unless a delete ended it and nothing was written since. A read that no logged write
//!   explains (before the first one, or after a delete) read a version written outside the trail: the generation
//!   `unlogged`.
//! - A `DeleteObject` without a version id ends the current version (a delete marker, or the object gone); with one,
//!   it removes that version, and the one before becomes current again if it was the current one.
//! - Parts (`UploadPart`, `UploadPartCopy`) belong to the version the next `CompleteMultipartUpload` makes;
//!   `RestoreObject` to the version current then.
//!
//! Node ids: a key with at most one logged write keeps `s3://bucket/key`; a key with more adds `?versionId=V` or
//! `?generation=EVENTID` (`?generation=unlogged`) to every one of its versions.

use super::graph::Node;
use crate::store::query::EventRow;
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;

/// Calls that make a new version of an object.
pub const CREATES: &[&str] = &["PutObject", "CompleteMultipartUpload", "CopyObject"];
/// Parts of a multipart upload: they belong to the version the next completion makes.
const PARTS: &[&str] = &["UploadPart", "UploadPartCopy"];
const DELETES: &[&str] = &["DeleteObject", "DeleteObjects"];

/// One version of an object, as the answer lists it (`versions` of a lineage answer).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Version {
    /// The version's node id (`s3://bucket/key?versionId=V`, `?generation=EVENTID`, `?generation=unlogged`).
    pub id: String,
    /// S3's version id, when the bucket is versioned.
    pub version_id: Option<String>,
    /// The event id of the write that made it (also its generation in an unversioned bucket); null when unlogged.
    pub written_by: Option<String>,
    pub written: Option<String>,
    /// When a delete ended it (a delete marker, the object removed, or the version itself deleted), and by which
    /// call.
    pub ended: Option<String>,
    pub ended_by: Option<String>,
}

/// A version's node id (or target) split into the key's id and its tag: `s3://b/k?versionId=V` gives
/// (`s3://b/k`, `versionId=V`), `?generation=G` likewise; any other id is the key's own (no tag).
pub fn split_id(id: &str) -> (&str, Option<&str>) {
    for sep in ["?versionId=", "?generation="] {
        if let Some(at) = id.rfind(sep) {
            return (&id[..at], Some(&id[at + 1..]));
        }
    }
    (id, None)
}

/// What a call is bound to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Binding {
    /// One of the logged versions (an index into `ObjectVersions::versions`).
    Known(usize),
    /// A version the request names by an id no logged write made.
    Named(String),
    /// A version written outside the trail.
    Unlogged,
}

#[derive(Debug, Clone)]
struct Made {
    time: i64,
    event_id: String,
    version_id: Option<String>,
    /// Removed for good (a delete naming this version), at this time.
    removed: Option<i64>,
    ended: Option<(i64, String)>,
}

/// The versions of one object, from its logged writes and deletes.
#[derive(Debug, Clone, Default)]
pub struct ObjectVersions {
    made: Vec<Made>,
    /// Deletes without a version id: (time, event id).
    markers: Vec<(i64, String)>,
    /// Each write or delete call (row id) and the version it made, belongs to or ended.
    by_call: HashMap<i64, Binding>,
    /// Some write carried an S3 version id: the bucket is (or was) versioned, so reads may name versions.
    pub versioned: bool,
}

fn text(v: &Value, p: &str) -> Option<String> {
    v.pointer(p)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// The version id a request or response names for the object `key` (`versionId`; for `DeleteObjects` the entry of
/// its `delete.Object` list with this key).
fn named_version(name: &str, raw: &Value, key: &str) -> Option<String> {
    match name {
        "DeleteObjects" => {
            let objects = raw.pointer("/requestParameters/delete/Object")?;
            let list: Vec<&Value> = match objects {
                Value::Array(a) => a.iter().collect(),
                o => vec![o],
            };
            list.into_iter()
                .find(|o| o.get("Key").and_then(Value::as_str) == Some(key))
                .and_then(|o| text(o, "/VersionId"))
        }
        _ => text(raw, "/requestParameters/versionId"),
    }
}

/// The version id of the copy source a `CopyObject`/`UploadPartCopy` read.
pub fn copy_source_version(raw: &Value) -> Option<String> {
    if let Some(v) = text(raw, "/responseElements/x-amz-copy-source-version-id") {
        return Some(v);
    }
    for p in [
        "/requestParameters/x-amz-copy-source",
        "/requestParameters/copySource",
    ] {
        if let Some(src) = text(raw, p) {
            if let Some((_, q)) = src.split_once("?versionId=") {
                return Some(q.split('&').next().unwrap_or(q).to_string());
            }
        }
    }
    None
}

/// The version id a read names (`versionId` of a `GetObject`/`SelectObjectContent`, the source version of a copy).
pub fn read_version(name: &str, raw: &Value) -> Option<String> {
    if name == "CopyObject" || name == "UploadPartCopy" {
        copy_source_version(raw)
    } else {
        text(raw, "/requestParameters/versionId")
    }
}

impl ObjectVersions {
    /// From the object's write and delete calls (any order; failed calls are left out), each with its raw record
    /// when it has one. `key` is the object's key (for `DeleteObjects`).
    pub fn build(key: &str, calls: &[(EventRow, Option<Value>)]) -> ObjectVersions {
        let mut calls: Vec<&(EventRow, Option<Value>)> = calls
            .iter()
            .filter(|(e, _)| e.error_code.is_none())
            .collect();
        calls.sort_by(|a, b| (a.0.time_ms, &a.0.event_id).cmp(&(b.0.time_ms, &b.0.event_id)));
        calls.dedup_by_key(|c| c.0.id);
        let mut out = ObjectVersions::default();
        let mut parts: Vec<i64> = Vec::new();
        for (e, raw) in calls {
            let t = e.time_ms.unwrap_or(i64::MIN);
            let name = e.event_name.as_str();
            if CREATES.contains(&name) {
                // Variants of one call (the same event id logged with other content) make one version.
                if let Some(i) = out.made.iter().position(|m| m.event_id == e.event_id) {
                    out.by_call.insert(e.id, Binding::Known(i));
                    continue;
                }
                let version_id = raw
                    .as_ref()
                    .and_then(|r| text(r, "/responseElements/x-amz-version-id"))
                    .filter(|v| v != "null");
                out.versioned |= version_id.is_some();
                out.made.push(Made {
                    time: t,
                    event_id: e.event_id.clone(),
                    version_id,
                    removed: None,
                    ended: None,
                });
                let i = out.made.len() - 1;
                out.by_call.insert(e.id, Binding::Known(i));
                if name == "CompleteMultipartUpload" {
                    for p in parts.drain(..) {
                        out.by_call.insert(p, Binding::Known(i));
                    }
                }
            } else if PARTS.contains(&name) {
                parts.push(e.id);
            } else if DELETES.contains(&name) {
                let named = raw.as_ref().and_then(|r| named_version(name, r, key));
                let b = match &named {
                    Some(v) => {
                        let found = out
                            .made
                            .iter()
                            .position(|m| m.version_id.as_deref() == Some(v.as_str()));
                        if let Some(i) = found {
                            out.made[i].removed = Some(t);
                            out.made[i].ended.get_or_insert((t, e.event_id.clone()));
                            Binding::Known(i)
                        } else {
                            Binding::Named(v.clone())
                        }
                    }
                    None => {
                        let b = out.current_at(t);
                        if let Binding::Known(i) = b {
                            out.made[i].ended.get_or_insert((t, e.event_id.clone()));
                        }
                        out.markers.push((t, e.event_id.clone()));
                        b
                    }
                };
                out.by_call.insert(e.id, b);
            }
        }
        // Parts never completed belong to the version current when they were written.
        for p in parts {
            out.by_call.insert(p, Binding::Unlogged);
        }
        out
    }

    /// More than one version: the key's nodes carry their version.
    pub fn multi(&self) -> bool {
        self.made.len() > 1
    }

    /// The version current at `t` (for a read at `t`): the last one written strictly before `t` and not removed
    /// by then, unless a delete marker came after it.
    pub fn current_at(&self, t: i64) -> Binding {
        let marker = self
            .markers
            .iter()
            .filter(|(m, _)| *m < t)
            .map(|(m, _)| *m)
            .max();
        for (i, m) in self.made.iter().enumerate().rev() {
            if m.time >= t || m.removed.is_some_and(|r| r < t) {
                continue;
            }
            if marker.is_some_and(|d| d >= m.time) {
                return Binding::Unlogged;
            }
            return Binding::Known(i);
        }
        Binding::Unlogged
    }

    /// The version a write or delete is bound to: the one the call made or ended (a part, the one its upload
    /// completed), else the one current at its time.
    pub fn bind(&self, e: &EventRow) -> Binding {
        match self.by_call.get(&e.id) {
            Some(b) => b.clone(),
            None => self.current_at(e.time_ms.unwrap_or(i64::MIN)),
        }
    }

    /// The version a read is bound to: the one it names, else the one current at its time (never the version the
    /// same call made: a copy of an object onto itself reads the version before).
    pub fn bind_read(&self, e: &EventRow, named: Option<&str>) -> Binding {
        if let Some(v) = named {
            return match self
                .made
                .iter()
                .position(|m| m.version_id.as_deref() == Some(v))
            {
                Some(i) => Binding::Known(i),
                None => Binding::Named(v.to_string()),
            };
        }
        self.current_at(e.time_ms.unwrap_or(i64::MIN))
    }

    /// The binding a target's `?versionId=V` or `?generation=G` names, if it is one of the logged versions.
    pub fn find(&self, tag: &str) -> Option<Binding> {
        if tag == "generation=unlogged" {
            return Some(Binding::Unlogged);
        }
        let v = tag
            .strip_prefix("versionId=")
            .or_else(|| tag.strip_prefix("generation="))?;
        self.made
            .iter()
            .position(|m| m.version_id.as_deref() == Some(v) || m.event_id == v)
            .map(Binding::Known)
    }

    /// Every logged version's binding, in the order written.
    pub fn all(&self) -> Vec<Binding> {
        (0..self.made.len()).map(Binding::Known).collect()
    }

    /// The id suffix of a binding: `versionId=V`, `generation=EVENTID` or `generation=unlogged`.
    pub fn tag(&self, b: &Binding) -> String {
        match b {
            Binding::Known(i) => match &self.made[*i].version_id {
                Some(v) => format!("versionId={v}"),
                None => format!("generation={}", self.made[*i].event_id),
            },
            Binding::Named(v) => format!("versionId={v}"),
            Binding::Unlogged => "generation=unlogged".to_string(),
        }
    }

    /// The node of one version of the object whose key node is `base`.
    pub fn node(&self, base: &Node, b: &Binding) -> Node {
        let tag = self.tag(b);
        let mut n = base.clone();
        n.id = format!("{}?{tag}", base.id);
        n.name = base.name.as_ref().map(|k| format!("{k}?{tag}"));
        n.label = format!("{} ({tag})", base.label);
        n.properties
            .insert("key_node".into(), Value::String(base.id.clone()));
        match b {
            Binding::Known(i) => {
                let m = &self.made[*i];
                if let Some(v) = &m.version_id {
                    n.properties
                        .insert("version_id".into(), Value::String(v.clone()));
                }
                n.properties
                    .insert("written_by".into(), Value::String(m.event_id.clone()));
                n.properties.insert(
                    "written".into(),
                    Value::String(crate::model::time::format_ms(m.time)),
                );
                if let Some((t, by)) = &m.ended {
                    n.properties.insert(
                        "ended".into(),
                        Value::String(crate::model::time::format_ms(*t)),
                    );
                    n.properties
                        .insert("ended_by".into(), Value::String(by.clone()));
                }
            }
            Binding::Named(v) => {
                n.properties
                    .insert("version_id".into(), Value::String(v.clone()));
            }
            Binding::Unlogged => {
                n.properties
                    .insert("written_outside_the_trail".into(), Value::Bool(true));
            }
        }
        n
    }

    /// The versions as an answer lists them.
    pub fn list(&self, base: &Node) -> Vec<Version> {
        self.made
            .iter()
            .enumerate()
            .map(|(i, m)| Version {
                id: format!("{}?{}", base.id, self.tag(&Binding::Known(i))),
                version_id: m.version_id.clone(),
                written_by: Some(m.event_id.clone()),
                written: Some(crate::model::time::format_ms(m.time)),
                ended: m
                    .ended
                    .as_ref()
                    .map(|(t, _)| crate::model::time::format_ms(*t)),
                ended_by: m.ended.as_ref().map(|(_, e)| e.clone()),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ev(id: i64, name: &str, t: i64) -> EventRow {
        EventRow {
            id,
            event_id: format!("e{id}"),
            time_ms: Some(t),
            event_source: "s3.amazonaws.com".into(),
            event_name: name.into(),
            region: None,
            source_ip: None,
            user_agent: None,
            error_code: None,
            error_message: None,
            read_only: None,
            account: "111111111111".into(),
            identity_arn: None,
            identity_type: None,
            access_key_id: None,
            principal_id: 0,
            access: None,
            first_source: 0,
            first_record_index: 0,
            event_type: None,
        }
    }

    fn put(id: i64, t: i64, version: Option<&str>) -> (EventRow, Option<Value>) {
        (
            ev(id, "PutObject", t),
            Some(json!({"responseElements": version.map(|v| json!({"x-amz-version-id": v}))})),
        )
    }

    #[test]
    fn versioned_overwrite_reads_bind_to_the_version_current_or_named() {
        let v = ObjectVersions::build("k", &[put(2, 200, Some("B")), put(1, 100, Some("A"))]);
        assert!(v.multi() && v.versioned);
        assert_eq!(v.bind(&ev(10, "GetObject", 150)), Binding::Known(0));
        assert_eq!(v.bind(&ev(11, "GetObject", 250)), Binding::Known(1));
        assert_eq!(
            v.bind_read(&ev(12, "GetObject", 250), Some("A")),
            Binding::Known(0)
        );
        assert_eq!(v.bind(&ev(13, "GetObject", 50)), Binding::Unlogged);
        assert_eq!(
            v.bind_read(&ev(14, "GetObject", 250), Some("Z")),
            Binding::Named("Z".into())
        );
        // A read at the very millisecond of a write does not see it.
        assert_eq!(v.bind(&ev(15, "GetObject", 200)), Binding::Known(0));
        assert_eq!(v.tag(&Binding::Known(1)), "versionId=B");
        assert_eq!(v.find("versionId=A"), Some(Binding::Known(0)));
    }

    #[test]
    fn unversioned_generations_deletes_and_parts() {
        let calls = vec![
            put(1, 100, None),
            (
                ev(2, "DeleteObject", 200),
                Some(json!({"requestParameters": {"key": "k"}})),
            ),
            (ev(3, "UploadPart", 290), None),
            (ev(4, "CompleteMultipartUpload", 300), Some(json!({}))),
        ];
        let v = ObjectVersions::build("k", &calls);
        assert!(v.multi() && !v.versioned);
        assert_eq!(v.tag(&Binding::Known(0)), "generation=e1");
        assert_eq!(v.bind(&ev(2, "DeleteObject", 200)), Binding::Known(0));
        assert_eq!(v.bind(&ev(3, "UploadPart", 290)), Binding::Known(1));
        // After the delete and before the re-upload, a successful read read something written outside the trail.
        assert_eq!(v.bind(&ev(9, "GetObject", 250)), Binding::Unlogged);
        assert_eq!(v.bind(&ev(9, "GetObject", 350)), Binding::Known(1));
        let base = Node::s3_prefix("s3://b/");
        let l = v.list(&base);
        assert_eq!(l[0].ended_by.as_deref(), Some("e2"));
        assert_eq!(l[1].ended, None);
    }

    #[test]
    fn variants_of_one_write_make_one_version() {
        let mut again = put(2, 100, None);
        again.0.event_id = "e1".into();
        let v = ObjectVersions::build("k", &[put(1, 100, None), again]);
        assert!(!v.multi());
        assert_eq!(v.bind(&ev(2, "PutObject", 100)), Binding::Known(0));
    }

    #[test]
    fn deleting_the_current_version_by_id_makes_the_previous_current() {
        let calls = vec![
            put(1, 100, Some("A")),
            put(2, 200, Some("B")),
            (
                ev(3, "DeleteObject", 300),
                Some(json!({"requestParameters": {"key": "k", "versionId": "B"}})),
            ),
        ];
        let v = ObjectVersions::build("k", &calls);
        assert_eq!(v.bind(&ev(9, "GetObject", 250)), Binding::Known(1));
        assert_eq!(v.bind(&ev(9, "GetObject", 350)), Binding::Known(0));
        assert_eq!(v.bind(&ev(3, "DeleteObject", 300)), Binding::Known(1));
        assert_eq!(
            copy_source_version(
                &json!({"requestParameters": {"x-amz-copy-source": "b/k?versionId=A"}})
            ),
            Some("A".into())
        );
    }
}
