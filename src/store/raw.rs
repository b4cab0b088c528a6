//! Raw-record chunks: many records compressed together (compressing records one by one gains little, and the
//! raw text is the main cost of an insert).
//!
//! Two formats, told apart by their first four bytes once decompressed:
//! - **v1** (stores written before issue 16): a zstd frame of repeated (u32 LE length, UTF-8 bytes).
//! - **v2**: the marker `FF FF FF FF` (a v1 record of 4 GiB cannot exist), then per record: u32 LE length of the
//!   stored text, u8 count of cuts, per cut (u8 field, LEB128 distance from the end of the previous cut, or from
//!   the start, in the original record), the stored text. Records of one trail share their shape, so the cut
//!   lists repeat and compress to little.
//!   A cut is the value of one of [`FIELDS`] taken out of the record, because the event's row holds that exact
//!   value already (the event id, the request id...: text that does not compress, stored once rather than twice).
//!   Reading the record puts each value back at its offset, from the row that points at the record: the record is
//!   byte-identical to what arrived. A value is cut only where the record's bytes equal it exactly (a value
//!   written with JSON escapes stays in the text).

/// Records per raw chunk: big enough to compress well, small enough to decode one event cheaply.
pub const CHUNK_RECORDS: usize = 256;

/// zstd level 3 is the library default: about 8× on CloudTrail JSON at several hundred MB/s.
const LEVEL: i32 = 3;

/// The values a record's event row holds verbatim, in this order (the `events` view's columns in brackets):
/// eventID (`event_id`), requestID (`request_id`), userIdentity.accessKeyId (`access_key_id`), sourceIPAddress
/// (`source_ip`), userIdentity.arn (`user_identity_arn`), userAgent (`user_agent`), errorMessage
/// (`error_message`), eventTime (`event_time` as `YYYY-MM-DDTHH:MM:SSZ` when it has no milliseconds:
/// [`event_time_text`]), eventSource, eventName, awsRegion, recipientAccountId, eventVersion, eventCategory,
/// eventType, userIdentity.type. Its indexes are the field numbers of the v2 format: never reorder, only append.
pub const FIELDS: [&str; 16] = [
    "eventID",
    "requestID",
    "accessKeyId",
    "sourceIPAddress",
    "arn",
    "userAgent",
    "errorMessage",
    "eventTime",
    "eventSource",
    "eventName",
    "awsRegion",
    "recipientAccountId",
    "eventVersion",
    "eventCategory",
    "eventType",
    "type",
];

/// SQL over the `events` view (aliased `e`) for the values of [`FIELDS`], in the same order.
pub const FIELD_COLUMNS: &str = "e.event_id, e.request_id, e.access_key_id, e.source_ip, e.user_identity_arn, \
     e.user_agent, e.error_message, \
     CASE WHEN e.event_time % 1000 = 0 AND e.event_time BETWEEN 0 AND 253402300799000 \
          THEN strftime('%Y-%m-%dT%H:%M:%SZ', e.event_time / 1000, 'unixepoch') END, \
     e.event_source, e.event_name, e.aws_region, e.recipient_account, e.event_version, e.event_category, \
     e.event_type, e.user_identity_type";

/// The text of an event time that [`FIELD_COLUMNS`] gives back: whole seconds from 1970 to 9999 only.
pub fn event_time_text(ms: i64) -> Option<String> {
    if ms % 1000 != 0 || !(0..=253_402_300_799_000).contains(&ms) {
        return None;
    }
    chrono::DateTime::from_timestamp(ms / 1000, 0)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
}

/// A record's values of [`FIELDS`], as its event row stores them.
pub type Values<'a> = [Option<&'a str>; FIELDS.len()];

/// Owned [`Values`], as read from a row.
pub type OwnedValues = [Option<String>; FIELDS.len()];

/// Borrows owned values.
pub fn values(v: &OwnedValues) -> Values<'_> {
    std::array::from_fn(|i| v[i].as_deref())
}

/// Reads [`OwnedValues`] from a row, starting at column `first`.
pub fn read_values(row: &rusqlite::Row, first: usize) -> rusqlite::Result<OwnedValues> {
    let mut v: OwnedValues = Default::default();
    for (i, slot) in v.iter_mut().enumerate() {
        *slot = row.get(first + i)?;
    }
    Ok(v)
}

const V2: [u8; 4] = [0xFF; 4];

/// `"KEY"` of each of [`FIELDS`], as searched for in a record.
const NEEDLES: [&str; FIELDS.len()] = [
    "\"eventID\"",
    "\"requestID\"",
    "\"accessKeyId\"",
    "\"sourceIPAddress\"",
    "\"arn\"",
    "\"userAgent\"",
    "\"errorMessage\"",
    "\"eventTime\"",
    "\"eventSource\"",
    "\"eventName\"",
    "\"awsRegion\"",
    "\"recipientAccountId\"",
    "\"eventVersion\"",
    "\"eventCategory\"",
    "\"eventType\"",
    "\"type\"",
];

/// A searcher for each needle, built once: building one costs more than a search in a record.
static FINDERS: std::sync::LazyLock<Vec<memchr::memmem::Finder<'static>>> =
    std::sync::LazyLock::new(|| NEEDLES.iter().map(memchr::memmem::Finder::new).collect());

/// Where a value starts after a `"KEY"` that ends at `i`: blanks, a colon, blanks and the opening quote.
fn value_start(bytes: &[u8], mut i: usize) -> Option<usize> {
    let skip = |i: &mut usize| {
        while bytes.get(*i).is_some_and(|b| b" \t\r\n".contains(b)) {
            *i += 1;
        }
    };
    skip(&mut i);
    (bytes.get(i) == Some(&b':')).then_some(())?;
    i += 1;
    skip(&mut i);
    (bytes.get(i) == Some(&b'"')).then_some(i + 1)
}

/// A value taken out of a record: its field, where its `"KEY"` starts, where the value starts and ends.
struct Cut {
    field: u8,
    key: usize,
    start: usize,
    end: usize,
}

/// Where each value sits in the record: the first `"KEY"` followed by blanks, a colon, blanks and the value as a
/// JSON string without escapes. One pass over the record's quotes. In record order; a cut whose key or value
/// overlaps another's is left out.
fn cuts(record: &str, values: &Values) -> Vec<Cut> {
    let bytes = record.as_bytes();
    let mut wanted: u32 = 0;
    for (field, value) in values.iter().enumerate() {
        if value.is_some_and(|v| !v.is_empty()) {
            wanted |= 1 << field;
        }
    }
    let mut found: Vec<Cut> = Vec::new();
    for key in memchr::memchr_iter(b'"', bytes) {
        if wanted == 0 {
            break;
        }
        let Some(&first) = bytes.get(key + 1) else {
            break;
        };
        for (field, needle) in NEEDLES.iter().enumerate() {
            let needle = needle.as_bytes();
            if wanted & (1 << field) == 0 || needle[1] != first || !bytes[key..].starts_with(needle)
            {
                continue;
            }
            // Keys are distinct: no other needle starts here.
            let value = values[field].unwrap_or_default().as_bytes();
            if let Some(start) = value_start(bytes, key + needle.len()) {
                let end = start + value.len();
                if bytes.get(start..end) == Some(value) && bytes.get(end) == Some(&b'"') {
                    found.push(Cut {
                        field: field as u8,
                        key,
                        start,
                        end,
                    });
                    wanted &= !(1 << field);
                }
            }
            break;
        }
    }
    found.sort_unstable_by_key(|c| c.start);
    let mut out: Vec<Cut> = Vec::with_capacity(found.len());
    for c in found {
        if out.last().is_none_or(|p| c.key >= p.end) {
            out.push(c);
        }
    }
    out
}

/// Appends one record in the v2 format. A cut is written as its field and which `"KEY"` it follows, counted
/// from the end of the previous cut (almost always the first): the same bytes for every record of one shape.
fn encode_record(buf: &mut Vec<u8>, record: &str, cuts: &[Cut]) {
    let bytes = record.as_bytes();
    let cut_len: usize = cuts.iter().map(|c| c.end - c.start).sum();
    buf.extend_from_slice(&((record.len() - cut_len) as u32).to_le_bytes());
    buf.push(cuts.len() as u8);
    let mut from = 0usize;
    for c in cuts {
        let nth = FINDERS[c.field as usize]
            .find_iter(&bytes[from..c.key])
            .count();
        buf.push(c.field);
        leb128(buf, nth);
        from = c.end;
    }
    let mut from = 0usize;
    for c in cuts {
        buf.extend_from_slice(&bytes[from..c.start]);
        from = c.end;
    }
    buf.extend_from_slice(&bytes[from..]);
}

/// Compresses records (each with its row's values) into one chunk, in the v2 format. Each record is read back
/// before it is kept; one that would not read back byte-identical is kept whole.
pub fn encode_chunk<'a>(
    records: impl IntoIterator<Item = (&'a str, Values<'a>)>,
) -> std::io::Result<Vec<u8>> {
    let mut buf = V2.to_vec();
    for (record, values) in records {
        let cuts = cuts(record, &values);
        let at = buf.len();
        encode_record(&mut buf, record, &cuts);
        if !cuts.is_empty()
            && read_record(&buf, &mut at.clone(), Some(&values)).as_deref()
                != Some(record.as_bytes())
        {
            buf.truncate(at);
            encode_record(&mut buf, record, &[]);
        }
    }
    zstd::bulk::compress(&buf, LEVEL)
}

/// The last chunk decompressed, by (source, chunk number): consecutive records of one chunk decode it once.
pub type ChunkCache = Option<((i64, i64), Vec<u8>)>;

/// The raw record of an event row (`events.id`) as it arrived: its chunk's text with the row's values put back.
/// The one way the store reads a record back (`Store::raw_record`, the writer comparing a re-delivery).
pub fn row_record(
    conn: &rusqlite::Connection,
    row: i64,
    cache: &mut ChunkCache,
) -> rusqlite::Result<Option<String>> {
    use rusqlite::OptionalExtension;
    static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        format!("SELECT e.source_id, e.record_index, {FIELD_COLUMNS} FROM events e WHERE e.id = ?1")
    });
    let found: Option<(i64, i64, OwnedValues)> = conn
        .prepare_cached(&SQL)?
        .query_row([row], |r| Ok((r.get(0)?, r.get(1)?, read_values(r, 2)?)))
        .optional()?;
    let Some((source, index, v)) = found else {
        return Ok(None);
    };
    let chunk = (source, index / CHUNK_RECORDS as i64);
    if cache.as_ref().map(|(k, _)| *k) != Some(chunk) {
        let data: Option<Vec<u8>> = conn
            .prepare_cached("SELECT data FROM raw_chunks WHERE source_id = ?1 AND chunk_no = ?2")?
            .query_row([chunk.0, chunk.1], |r| r.get(0))
            .optional()?;
        let Some(buf) = data.and_then(|d| decompress(&d).ok()) else {
            return Ok(None);
        };
        *cache = Some((chunk, buf));
    }
    Ok(cache
        .as_ref()
        .and_then(|(_, buf)| nth_record(buf, (index % CHUNK_RECORDS as i64) as usize, &values(&v))))
}

/// Decompresses a chunk (either format).
pub fn decompress(data: &[u8]) -> std::io::Result<Vec<u8>> {
    zstd::stream::decode_all(data)
}

/// Appends `v` as unsigned LEB128.
fn leb128(buf: &mut Vec<u8>, v: usize) {
    // Writing to a Vec cannot fail.
    let _ = leb128::write::unsigned(buf, v as u64);
}

/// An unsigned LEB128 number at `*i`, moving `*i` past it.
fn read_leb128(buf: &[u8], i: &mut usize) -> Option<usize> {
    let mut rest = buf.get(*i..)?;
    let v = leb128::read::unsigned(&mut rest).ok()?;
    *i = buf.len() - rest.len();
    usize::try_from(v).ok()
}

fn u32_at(buf: &[u8], i: usize) -> Option<usize> {
    Some(u32::from_le_bytes(buf.get(i..i + 4)?.try_into().ok()?) as usize)
}

/// Record `n` of a decompressed chunk, as text, with the values of its row put back. None past the end, on a
/// truncated chunk, or when a value the record needs is missing from `values` (the wrong row).
pub fn nth_record(buf: &[u8], n: usize, values: &Values) -> Option<String> {
    if buf.get(..4) != Some(&V2[..]) {
        return nth_record_v1(buf, n);
    }
    let mut i = 4usize;
    for _ in 0..n {
        read_record(buf, &mut i, None)?;
    }
    let out = read_record(buf, &mut i, Some(values))?;
    Some(String::from_utf8_lossy(&out).into_owned())
}

/// Reads the v2 record at `*i` and moves `*i` past it: its text with the values put back, or (`values` None)
/// only skips it and gives an empty text.
fn read_record(buf: &[u8], i: &mut usize, values: Option<&Values>) -> Option<Vec<u8>> {
    let len = u32_at(buf, *i)?;
    let count = *buf.get(*i + 4)? as usize;
    *i += 5;
    let mut cuts = Vec::with_capacity(count);
    for _ in 0..count {
        let field = *buf.get(*i)? as usize;
        *i += 1;
        cuts.push((field, read_leb128(buf, i)?));
    }
    let end = i.checked_add(len).filter(|e| *e <= buf.len())?;
    let text = &buf[*i..end];
    *i = end;
    let Some(values) = values else {
        return Some(Vec::new());
    };
    let mut out = Vec::with_capacity(len + 512);
    let mut from = 0usize;
    for (field, nth) in cuts {
        let finder = FINDERS.get(field)?;
        let needle = finder.needle();
        let value = (*values.get(field)?)?;
        let key = from + finder.find_iter(&text[from..]).nth(nth)?;
        let start = value_start(text, key + needle.len())?;
        out.extend_from_slice(&text[from..start]);
        out.extend_from_slice(value.as_bytes());
        from = start;
    }
    out.extend_from_slice(&text[from..]);
    Some(out)
}

fn nth_record_v1(buf: &[u8], n: usize) -> Option<String> {
    let mut i = 0usize;
    for k in 0.. {
        let len = u32_at(buf, i)?;
        i += 4;
        let end = i.checked_add(len).filter(|e| *e <= buf.len())?;
        if k == n {
            return Some(String::from_utf8_lossy(&buf[i..end]).into_owned());
        }
        i = end;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const NONE: Values = [None; FIELDS.len()];

    #[test]
    fn round_trip_without_values() {
        let recs = ["{\"a\":1}", "", "{\n  \"pretty\": true\n}"];
        let data = encode_chunk(recs.iter().map(|r| (*r, NONE))).unwrap();
        let buf = decompress(&data).unwrap();
        for (i, r) in recs.iter().enumerate() {
            assert_eq!(nth_record(&buf, i, &NONE).as_deref(), Some(*r));
        }
        assert_eq!(nth_record(&buf, 3, &NONE), None);
        assert_eq!(nth_record(&buf[..9], 1, &NONE), None);
    }

    #[test]
    fn values_are_cut_and_put_back_byte_identical() {
        let rec = r#"{"requestParameters":{"eventID":"x","requestID": "not-it"},"requestID" :  "r-1","eventID":"e-1","userAgent":"a\"b","arn":"arn:1","accessKeyId":"AKIA"}"#;
        let mut v = NONE;
        v[0] = Some("e-1");
        v[1] = Some("r-1");
        v[2] = Some("AKIA");
        v[4] = Some("arn:1");
        v[5] = Some("a\"b"); // written with an escape: not cut
        let data = encode_chunk([(rec, v), (rec, NONE)]).unwrap();
        let buf = decompress(&data).unwrap();
        assert_eq!(nth_record(&buf, 0, &v).as_deref(), Some(rec));
        assert_eq!(nth_record(&buf, 1, &NONE).as_deref(), Some(rec));
        // Four cuts: the stored text is shorter by their values.
        assert_eq!(u32_at(&buf, 4), Some(rec.len() - "e-1r-1AKIAarn:1".len()));
        assert_eq!(buf[8], 4);
        for (i, f) in FIELDS.iter().enumerate() {
            assert_eq!(NEEDLES[i], format!("\"{f}\""));
        }
        let mut b = Vec::new();
        for v in [0usize, 127, 128, 300, 1 << 40] {
            leb128(&mut b, v);
        }
        let mut i = 0;
        for v in [0usize, 127, 128, 300, 1 << 40] {
            assert_eq!(read_leb128(&b, &mut i), Some(v));
        }
        assert_eq!(i, b.len());
        // The row that does not hold the values cannot read the record.
        assert_eq!(nth_record(&buf, 0, &NONE), None);
    }

    #[test]
    fn keys_inside_values_and_overlapping_keys_read_back() {
        let recs = [
            r#"{"userAgent":"x \"eventID\":\"e-1\" y","eventID":"e-1","type":"t","a":"type"type","type":"t2"}"#,
            r#"{"eventID" : "e-1" ,"eventID":"e-1"}"#,
            r#"{"type":"type","eventID":"e-1e-1"}"#,
        ];
        let mut v = NONE;
        v[0] = Some("e-1");
        v[5] = Some("x \"eventID\":\"e-1\" y");
        v[15] = Some("t2");
        let data = encode_chunk(recs.iter().map(|r| (*r, v))).unwrap();
        let buf = decompress(&data).unwrap();
        for (i, r) in recs.iter().enumerate() {
            assert_eq!(nth_record(&buf, i, &v).as_deref(), Some(*r));
        }
    }

    #[test]
    fn v1_chunks_still_read() {
        let mut buf = Vec::new();
        for r in ["{\"a\":1}", "{}"] {
            buf.extend_from_slice(&(r.len() as u32).to_le_bytes());
            buf.extend_from_slice(r.as_bytes());
        }
        assert_eq!(nth_record(&buf, 1, &NONE).as_deref(), Some("{}"));
        assert_eq!(nth_record(&buf, 2, &NONE), None);
    }
}
