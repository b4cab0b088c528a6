//! Ids stored compactly: an event or request id that is a UUID in its canonical lowercase form
//! (`8-4-4-4-12` hex digits) is stored as its 16 bytes, any other id as its text. The `events` view reads both as
//! text again, so the form is invisible to every reader. Bytes sort as their text does.
//! Likewise the common values of two small sets (`eventType`, `userIdentity.type`) are stored as a one-byte code.

use rusqlite::types::{ToSqlOutput, Value, ValueRef};

/// The 16 bytes of a canonical lowercase UUID, or None for any other text.
pub fn uuid_bytes(text: &str) -> Option<[u8; 16]> {
    let b = text.as_bytes();
    if b.len() != 36 || [8, 13, 18, 23].iter().any(|&i| b[i] != b'-') {
        return None;
    }
    let mut out = [0u8; 16];
    let mut n = 0;
    let mut hi = None;
    for (i, &c) in b.iter().enumerate() {
        if [8, 13, 18, 23].contains(&i) {
            continue;
        }
        let v = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => return None,
        };
        match hi.take() {
            None => hi = Some(v),
            Some(h) => {
                out[n] = h << 4 | v;
                n += 1;
            }
        }
    }
    Some(out)
}

/// The canonical text of 16 UUID bytes.
pub fn uuid_text(bytes: &[u8]) -> Option<String> {
    let bytes: &[u8; 16] = bytes.try_into().ok()?;
    let h = hex::encode(bytes);
    Some(format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    ))
}

/// The stored form of an id.
pub fn stored(text: &str) -> ToSqlOutput<'_> {
    match uuid_bytes(text) {
        Some(b) => ToSqlOutput::Owned(Value::Blob(b.to_vec())),
        None => ToSqlOutput::Borrowed(ValueRef::Text(text.as_bytes())),
    }
}

/// The text of a stored id (`tg_id_text`): 16 bytes as a UUID, anything else as it is.
pub fn text_of(v: ValueRef<'_>) -> Value {
    match v {
        ValueRef::Blob(b) => uuid_text(b).map_or_else(|| Value::Blob(b.to_vec()), Value::Text),
        other => other.into(),
    }
}

/// The stored form of an id value (`tg_id_compact`, for migrating text ids).
pub fn compact(v: ValueRef<'_>) -> Value {
    match v {
        ValueRef::Text(t) => match std::str::from_utf8(t).ok().and_then(uuid_bytes) {
            Some(b) => Value::Blob(b.to_vec()),
            None => Value::Text(String::from_utf8_lossy(t).into_owned()),
        },
        other => other.into(),
    }
}

/// The `eventType` values stored as one byte (`event_rows.event_type`, migration 0013): a BLOB holding the value's
/// 1-based position here. Any other value (`AwsCloudTrailInsight` among them, which a partial index names) is text.
pub const EVENT_TYPES: &[&str] = &[
    "AwsApiCall",
    "AwsServiceEvent",
    "AwsConsoleAction",
    "AwsConsoleSignIn",
    "AwsVpceEvent",
];

/// The `userIdentity.type` values stored as one byte (`event_rows.user_identity_type`), as [`EVENT_TYPES`]; any
/// other value (`AWSAccount` among them, which a partial index names) is text.
pub const IDENTITY_TYPES: &[&str] = &[
    "AssumedRole",
    "IAMUser",
    "AWSService",
    "Root",
    "FederatedUser",
    "WebIdentityUser",
    "SAMLUser",
    "IdentityCenterUser",
    "Unknown",
    "Directory",
];

/// The stored form of a value of a small set: its one-byte code, or its text.
pub fn coded<'a>(set: &[&str], text: &'a str) -> ToSqlOutput<'a> {
    match set.iter().position(|v| *v == text) {
        Some(i) => ToSqlOutput::Owned(Value::Blob(vec![i as u8 + 1])),
        None => ToSqlOutput::Borrowed(ValueRef::Text(text.as_bytes())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_uuids_only() {
        let id = "ea097fe4-cf6e-4306-b05e-5b4b4563501b";
        let b = uuid_bytes(id).unwrap();
        assert_eq!(uuid_text(&b).as_deref(), Some(id));
        for other in [
            "EA097FE4-CF6E-4306-B05E-5B4B4563501B",
            "ea097fe4cf6e4306b05e5b4b4563501b",
            "ea097fe4-cf6e-4306-b05e-5b4b4563501",
            "ea097fe4-cf6e-4306-b05e-5b4b4563501g",
            "ea097fe4-cf6e-4306-b05e+5b4b4563501b",
            "1",
            "",
        ] {
            assert_eq!(uuid_bytes(other), None, "{other}");
        }
        // Bytes sort as their text.
        let (a, z) = (
            "0a000000-0000-0000-0000-000000000000",
            "a0000000-0000-0000-0000-000000000000",
        );
        assert!(uuid_bytes(a).unwrap() < uuid_bytes(z).unwrap());
    }
}
