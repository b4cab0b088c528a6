//! Reading files for validation: SHA-256 over the uncompressed bytes, streamed, with every gzip member counted.
//!
//! CloudTrail writes one gzip member per file. A second member (or anything else after the first) is data that
//! was appended after delivery: tools that stop at the end of the first member (the AWS CLI) do not see it, tools
//! that read every member (trailgraph ingest, `zcat`) ingest it. Both hashes are kept so the finding can say which.

use flate2::bufread::GzDecoder;
use sha2::{Digest, Sha256};
use std::io::Read;

/// What hashing one file found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hashed {
    /// Hex SHA-256 over the uncompressed bytes of every member (what `ingest` stores as `sources.sha256`).
    pub sha256: String,
    /// Hex SHA-256 of the first member alone, when the file holds more than one.
    pub first_member_sha256: Option<String>,
    pub compressed: bool,
    /// Gzip members (0 for a plain file).
    pub members: usize,
    pub uncompressed_size: u64,
}

/// Hashes `bytes` (gzip by magic bytes, else plain). An error says why the file cannot be decoded (truncated or
/// corrupt gzip, garbage after a member).
pub fn hash_bytes(bytes: &[u8]) -> Result<Hashed, String> {
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        return Ok(Hashed {
            sha256: hex::encode(Sha256::digest(bytes)),
            first_member_sha256: None,
            compressed: false,
            members: 0,
            uncompressed_size: bytes.len() as u64,
        });
    }
    let mut all = Sha256::new();
    let mut first: Option<Sha256> = None;
    let mut rest = bytes;
    let mut members = 0usize;
    let mut size = 0u64;
    let mut buf = vec![0u8; 1 << 16];
    while !rest.is_empty() {
        if !rest.starts_with(&[0x1f, 0x8b]) {
            return Err(format!(
                "{} byte(s) of non-gzip data after gzip member {members}",
                rest.len()
            ));
        }
        let mut dec = GzDecoder::new(rest);
        loop {
            match dec.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    all.update(&buf[..n]);
                    size += n as u64;
                }
                Err(e) => {
                    return Err(format!(
                        "corrupt or truncated gzip (member {}): {e}",
                        members + 1
                    ))
                }
            }
        }
        members += 1;
        if members == 1 {
            first = Some(all.clone());
        }
        rest = dec.into_inner();
    }
    let first_member_sha256 = if members > 1 {
        first.map(|h| hex::encode(h.finalize()))
    } else {
        None
    };
    Ok(Hashed {
        sha256: hex::encode(all.finalize()),
        first_member_sha256,
        compressed: true,
        members,
        uncompressed_size: size,
    })
}

/// Decompresses a small file (digest, sidecar) completely: every member, at most `cap` bytes. Returns the bytes
/// and the number of gzip members (0 for plain).
pub fn decompress_all(bytes: &[u8], cap: u64) -> Result<(Vec<u8>, usize), String> {
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        if bytes.len() as u64 > cap {
            return Err(format!("larger than {cap} bytes"));
        }
        return Ok((bytes.to_vec(), 0));
    }
    let mut out = Vec::new();
    let mut rest = bytes;
    let mut members = 0usize;
    while !rest.is_empty() {
        if !rest.starts_with(&[0x1f, 0x8b]) {
            return Err(format!(
                "{} byte(s) of non-gzip data after gzip member {members}",
                rest.len()
            ));
        }
        let mut dec = GzDecoder::new(rest);
        let room = cap.saturating_sub(out.len() as u64).saturating_add(1);
        let mut limited = (&mut dec).take(room);
        limited
            .read_to_end(&mut out)
            .map_err(|e| format!("corrupt or truncated gzip (member {}): {e}", members + 1))?;
        if out.len() as u64 > cap {
            return Err(format!("decompresses to more than {cap} bytes"));
        }
        members += 1;
        rest = dec.into_inner();
    }
    Ok((out, members))
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{write::GzEncoder, Compression};
    use std::io::Write;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn hashes_uncompressed_bytes_and_counts_members() {
        let plain = hash_bytes(b"abc").unwrap();
        assert_eq!(
            plain.sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(hash_bytes(&gz(b"abc")).unwrap().sha256, plain.sha256);
        let mut two = gz(b"abc");
        two.extend(gz(b"def"));
        let h = hash_bytes(&two).unwrap();
        assert_eq!(h.members, 2);
        assert_eq!(
            h.first_member_sha256.as_deref(),
            Some(plain.sha256.as_str())
        );
        assert_eq!(h.sha256, hash_bytes(b"abcdef").unwrap().sha256);
        let whole = gz(b"abcdefgh");
        assert!(hash_bytes(&whole[..whole.len() - 5]).is_err());
        let mut garbage = gz(b"abc");
        garbage.extend(b"xyz");
        assert!(hash_bytes(&garbage).unwrap_err().contains("non-gzip"));
        assert_eq!(decompress_all(&two, 100).unwrap(), (b"abcdef".to_vec(), 2));
        assert!(decompress_all(&two, 5).is_err());
    }
}
