//! Timestamp parsing: every time in the store is UTC epoch milliseconds.
//!
//! Real inputs carry RFC 3339 with `Z` or an offset, a space instead of `T`, nanoseconds, naive times (taken as UTC),
//! epoch seconds or milliseconds as numbers or numeric strings, and placebo-recorded `datetime` dicts.

use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};

/// Parses a textual timestamp into UTC epoch milliseconds. Returns `None` for anything that is not a time
/// (for example the literal `redacted` found in test data).
pub fn parse_time_str(s: &str) -> Option<i64> {
    parse_time_str_any(s).filter(|ms| plausible(*ms))
}

/// Times outside 1970..=9999 are not times of AWS audit data (and would not print as RFC 3339).
fn plausible(ms: i64) -> bool {
    (0..=253_402_300_799_999).contains(&ms)
}

fn parse_time_str_any(s: &str) -> Option<i64> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Some(dt.with_timezone(&Utc).timestamp_millis());
    }
    // Space separator, lower-case designators.
    let t = s.replacen(' ', "T", 1).replace('z', "Z").replace('t', "T");
    if let Ok(dt) = DateTime::parse_from_rfc3339(&t) {
        return Some(dt.with_timezone(&Utc).timestamp_millis());
    }
    // Offsets without a colon (+0000) or with a space before them.
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f%z",
        "%Y-%m-%dT%H:%M:%S%z",
        "%Y-%m-%dT%H:%M:%S%.f %z",
    ] {
        if let Ok(dt) = DateTime::parse_from_str(&t, fmt) {
            return Some(dt.with_timezone(&Utc).timestamp_millis());
        }
    }
    // Naive times are UTC (CloudTrail and Config never log local time without an offset).
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(t.trim_end_matches('Z'), fmt) {
            return Some(dt.and_utc().timestamp_millis());
        }
    }
    // AWS's human form in STS responses: `Jan 1, 2023, 1:00:00 AM` (UTC).
    if let Ok(dt) = NaiveDateTime::parse_from_str(s, "%b %d, %Y, %I:%M:%S %p") {
        return Some(dt.and_utc().timestamp_millis());
    }
    // Python repr that leaked into some exports: `datetime.datetime(2020, 4, 22, 13, 13, 17, 718000, tzinfo=...)`.
    if let Some(rest) = s.strip_prefix("datetime.datetime(") {
        // A zone of the machine that printed it (`tzlocal()`) is unknown here: not an instant. Only UTC (or no
        // zone, which boto's placebo recordings use for UTC) is read.
        if let Some((_, tz)) = rest.split_once("tzinfo=") {
            let tz = tz.trim_end_matches(')').trim();
            if !matches!(
                tz,
                "tzutc(" | "tzutc()" | "datetime.timezone.utc" | "UTC" | "tzutc"
            ) {
                return None;
            }
        }
        let nums: Vec<u32> = rest
            .split(',')
            .map_while(|p| p.trim().trim_end_matches(')').parse().ok())
            .collect();
        if nums.len() >= 3 {
            let at = |i: usize| nums.get(i).copied().unwrap_or(0);
            let date = chrono::NaiveDate::from_ymd_opt(at(0) as i32, at(1), at(2))?;
            let time = chrono::NaiveTime::from_hms_micro_opt(at(3), at(4), at(5), at(6))?;
            return Some(date.and_time(time).and_utc().timestamp_millis());
        }
    }
    // A bare date is its midnight UTC.
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Some(d.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis());
    }
    // Numeric strings are epochs.
    if let Ok(f) = s.parse::<f64>() {
        return epoch_number(f);
    }
    None
}

/// Interprets a number as an epoch in seconds, milliseconds, microseconds or nanoseconds, by magnitude.
pub fn epoch_number(f: f64) -> Option<i64> {
    if !f.is_finite() || f < 0.0 {
        return None;
    }
    let ms = if f < 1e11 {
        f * 1000.0 // seconds (up to year 5138)
    } else if f < 1e14 {
        f // milliseconds
    } else if f < 1e17 {
        f / 1000.0 // microseconds
    } else {
        f / 1_000_000.0 // nanoseconds
    };
    Some(ms.round() as i64).filter(|ms| plausible(*ms))
}

/// Parses a JSON value that holds a time: a string, a number, or a placebo `{"__class__": "datetime", ...}` dict.
pub fn parse_time_value(v: &serde_json::Value) -> Option<i64> {
    match v {
        serde_json::Value::String(s) => parse_time_str(s),
        serde_json::Value::Number(n) => n.as_f64().and_then(epoch_number),
        serde_json::Value::Object(m) => {
            let get = |k: &str| m.get(k).and_then(|v| v.as_i64());
            if m.get("__class__").and_then(|c| c.as_str()) == Some("datetime") {
                let date = chrono::NaiveDate::from_ymd_opt(
                    get("year")? as i32,
                    get("month")? as u32,
                    get("day")? as u32,
                )?;
                let time = chrono::NaiveTime::from_hms_micro_opt(
                    get("hour").unwrap_or(0) as u32,
                    get("minute").unwrap_or(0) as u32,
                    get("second").unwrap_or(0) as u32,
                    get("microsecond").unwrap_or(0) as u32,
                )?;
                return Some(date.and_time(time).and_utc().timestamp_millis())
                    .filter(|ms| plausible(*ms));
            }
            None
        }
        _ => None,
    }
}

/// Formats epoch milliseconds as RFC 3339 UTC with millisecond precision, the one textual form the tool prints.
pub fn format_ms(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map(|d| d.to_rfc3339_opts(SecondsFormat::Millis, true))
        .unwrap_or_else(|| ms.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_formats_seen_in_real_data() {
        let cases: &[(&str, Option<i64>)] = &[
            ("2023-03-15T10:20:30Z", Some(1678875630000)),
            ("2023-03-15T10:20:30.123Z", Some(1678875630123)),
            ("2023-03-15 10:20:30", Some(1678875630000)),
            ("2023-03-15 10:20:30.123456789", Some(1678875630123)),
            ("2023-03-15T05:20:30-05:00", Some(1678875630000)),
            ("2023-03-15T12:20:30+0200", Some(1678875630000)),
            ("2023-03-15T10:20:30.000000Z", Some(1678875630000)),
            ("1678875630", Some(1678875630000)),
            ("1678875630.5", Some(1678875630500)),
            ("1678875630123", Some(1678875630123)),
            ("Jan 1, 2023, 1:00:00 AM", Some(1672534800000)),
            // The local zone of the machine that printed it is not known (the item's own configurationStateId
            // shows it was not UTC): not an instant.
            (
                "datetime.datetime(2020, 4, 22, 13, 13, 17, 718000, tzinfo=tzlocal())",
                None,
            ),
            (
                "datetime.datetime(2020, 4, 22, 13, 13, 17, 718000, tzinfo=tzutc())",
                Some(1587561197718),
            ),
            (
                "datetime.datetime(2020, 4, 22, 13, 13, 17, 718000)",
                Some(1587561197718),
            ),
            ("2024-03-01", Some(1709251200000)),
            ("redacted", None),
            ("1e300", None),
            ("99999-01-01T00:00:00Z", None),
            ("", None),
        ];
        for (input, want) in cases {
            assert_eq!(parse_time_str(input), *want, "input {input:?}");
        }
    }

    #[test]
    fn parses_numbers_and_placebo_dicts() {
        let v: serde_json::Value = serde_json::json!(1678875630.25);
        assert_eq!(parse_time_value(&v), Some(1678875630250));
        let v = serde_json::json!({"__class__": "datetime", "year": 2023, "month": 3, "day": 15,
            "hour": 10, "minute": 20, "second": 30, "microsecond": 5000});
        assert_eq!(parse_time_value(&v), Some(1678875630005));
        assert_eq!(format_ms(1678875630005), "2023-03-15T10:20:30.005Z");
    }
}
