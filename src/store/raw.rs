//! Raw-record chunks: many records compressed together (compressing records one by one gains little, and the
//! raw text is the main cost of an insert). Format: a zstd frame of repeated (u32 LE length, UTF-8 bytes).

/// zstd level 3 is the library default: about 8× on CloudTrail JSON at several hundred MB/s.
const LEVEL: i32 = 3;

pub fn encode_chunk<'a>(records: impl IntoIterator<Item = &'a str>) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    for r in records {
        buf.extend_from_slice(&(r.len() as u32).to_le_bytes());
        buf.extend_from_slice(r.as_bytes());
    }
    zstd::bulk::compress(&buf, LEVEL)
}

pub fn decode_chunk(data: &[u8]) -> std::io::Result<Vec<String>> {
    let buf = zstd::stream::decode_all(data)?;
    let mut out = Vec::new();
    let mut i = 0usize;
    while i + 4 <= buf.len() {
        let len = u32::from_le_bytes(buf[i..i + 4].try_into().expect("4 bytes")) as usize;
        i += 4;
        let end = i
            .checked_add(len)
            .filter(|e| *e <= buf.len())
            .ok_or_else(|| std::io::Error::other("truncated raw chunk"))?;
        out.push(String::from_utf8_lossy(&buf[i..end]).into_owned());
        i = end;
    }
    Ok(out)
}

/// Record `n` of a decompressed chunk, as text (None past the end or on a truncated chunk).
pub fn nth_record(buf: &[u8], n: usize) -> Option<String> {
    let mut i = 0usize;
    for k in 0.. {
        let len = u32::from_le_bytes(buf.get(i..i + 4)?.try_into().ok()?) as usize;
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
    #[test]
    fn round_trip() {
        let recs = ["{\"a\":1}", "", "{\n  \"pretty\": true\n}"];
        let data = super::encode_chunk(recs).unwrap();
        assert_eq!(super::decode_chunk(&data).unwrap(), recs);
        let buf = zstd::stream::decode_all(&data[..]).unwrap();
        for (i, r) in recs.iter().enumerate() {
            assert_eq!(super::nth_record(&buf, i).as_deref(), Some(*r));
        }
        assert_eq!(super::nth_record(&buf, 3), None);
        assert_eq!(super::nth_record(&buf[..5], 1), None);
    }
}
