//! Lenient serde helpers for fields whose JSON type drifts between producers
//! (`readOnly` as bool or string, ids as numbers or strings, objects where strings were expected).

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::fmt;

struct StrVisitor;

impl<'de> Visitor<'de> for StrVisitor {
    type Value = Option<String>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a scalar")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Some(v))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(StrVisitor)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
        while m.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(None)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Self::Value, A::Error> {
        while s.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }
}

/// Any scalar as text (numbers and booleans rendered); null, objects and arrays as `None`.
pub fn string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    d.deserialize_any(StrVisitor)
        .map(|s| s.filter(|s| !s.is_empty()))
}

/// A boolean given as `true`, `"true"`, `"True"`, `1`; anything else is `None`.
pub fn boolean<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    Ok(d.deserialize_any(StrVisitor)?
        .and_then(|s| match s.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => Some(true),
            "false" | "0" | "no" => Some(false),
            _ => None,
        }))
}

/// A time field as logged (any JSON type) and its value in epoch milliseconds when it is a time.
#[derive(Debug, Clone, Default)]
pub struct TimeField {
    pub text: String,
    pub ms: Option<i64>,
}

/// A time given as a string, a number (epoch) or an object (placebo `datetime` dict).
pub fn time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<TimeField>, D::Error> {
    use serde::Deserialize;
    let Some(raw) = Option::<Box<serde_json::value::RawValue>>::deserialize(d)? else {
        return Ok(None);
    };
    let text = raw.get();
    Ok(match text.as_bytes().first() {
        Some(b'"') => serde_json::from_str::<String>(text)
            .ok()
            .map(|s| TimeField {
                ms: crate::model::time::parse_time_str(&s),
                text: s,
            }),
        Some(b'n') => None,
        _ => {
            let v: Option<serde_json::Value> = serde_json::from_str(text).ok();
            Some(TimeField {
                text: text.to_string(),
                ms: v.as_ref().and_then(crate::model::time::parse_time_value),
            })
        }
    })
}

/// A nested object parsed typed when it has the expected shape, `None` otherwise (instead of failing the record).
pub fn lenient<'de, D: Deserializer<'de>, T: serde::de::DeserializeOwned>(
    d: D,
) -> Result<Option<T>, D::Error> {
    use serde::Deserialize;
    let raw = Option::<Box<serde_json::value::RawValue>>::deserialize(d)?;
    Ok(raw.and_then(|r| serde_json::from_str(r.get()).ok()))
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct T {
        #[serde(default, deserialize_with = "super::string")]
        s: Option<String>,
        #[serde(default, deserialize_with = "super::boolean")]
        b: Option<bool>,
    }

    #[test]
    fn accepts_drifting_types() {
        let cases = [
            (r#"{"s": "x", "b": true}"#, Some("x"), Some(true)),
            (r#"{"s": 12, "b": "false"}"#, Some("12"), Some(false)),
            (r#"{"s": null, "b": null}"#, None, None),
            (r#"{"s": {"a": [1]}, "b": [true]}"#, None, None),
            (r#"{"s": "", "b": "True"}"#, None, Some(true)),
            (r#"{}"#, None, None),
        ];
        for (text, s, b) in cases {
            let t: T = serde_json::from_str(text).unwrap();
            assert_eq!((t.s.as_deref(), t.b), (s, b), "{text}");
        }
    }
}
