//! Public keys: the JSON that `aws cloudtrail list-public-keys` prints, PEM and DER files, and keys kept in the
//! store. The fingerprint is the hex MD5 of the key's DER encoding as a PKCS#1 `RSAPublicKey` (the form
//! `ListPublicKeys` returns); SubjectPublicKeyInfo (`BEGIN PUBLIC KEY`) is accepted and converted.

use md5::{Digest, Md5};
use rsa::pkcs1::{DecodeRsaPublicKey, EncodeRsaPublicKey};
use rsa::pkcs8::DecodePublicKey;
use rsa::RsaPublicKey;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, Clone)]
pub struct PublicKey {
    /// Lower-case hex.
    pub fingerprint: String,
    /// PKCS#1 DER.
    pub der: Vec<u8>,
    pub key: RsaPublicKey,
    /// Validity window (epoch ms), when known (list-public-keys gives it; PEM/DER files do not).
    pub valid_from: Option<i64>,
    pub valid_to: Option<i64>,
    /// Where it came from (file path, or `store`).
    pub source: String,
}

/// Hex MD5 of DER bytes.
pub fn fingerprint(der: &[u8]) -> String {
    hex::encode(Md5::digest(der))
}

/// Parses a DER public key, PKCS#1 or SubjectPublicKeyInfo. Returns the key and its PKCS#1 DER.
pub fn parse_der(der: &[u8]) -> Result<(RsaPublicKey, Vec<u8>), String> {
    let key = RsaPublicKey::from_pkcs1_der(der)
        .or_else(|_| RsaPublicKey::from_public_key_der(der))
        .map_err(|e| format!("not an RSA public key (PKCS#1 or SubjectPublicKeyInfo DER): {e}"))?;
    let pkcs1 = key
        .to_pkcs1_der()
        .map_err(|e| format!("cannot encode key: {e}"))?
        .as_bytes()
        .to_vec();
    Ok((key, pkcs1))
}

/// A key from DER bytes. The fingerprint is that of the PKCS#1 DER unless `fingerprint` is given.
pub fn from_der(
    der: &[u8],
    fp: Option<&str>,
    valid_from: Option<i64>,
    valid_to: Option<i64>,
    source: &str,
) -> Result<PublicKey, String> {
    let (key, pkcs1) = parse_der(der)?;
    Ok(PublicKey {
        fingerprint: fp
            .map(|f| f.trim().to_ascii_lowercase())
            .unwrap_or_else(|| fingerprint(&pkcs1)),
        der: pkcs1,
        key,
        valid_from,
        valid_to,
        source: source.to_string(),
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListedKey {
    value: String,
    fingerprint: Option<String>,
    validity_start_time: Option<serde_json::Value>,
    validity_end_time: Option<serde_json::Value>,
}

/// Loads every key in a file: list-public-keys JSON (`PublicKeyList`, also `publicKeyList`), PEM (one or more
/// `PUBLIC KEY` / `RSA PUBLIC KEY` blocks) or DER.
pub fn load_file(path: &Path) -> Result<Vec<PublicKey>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read: {e}"))?;
    load_bytes(&bytes, &path.display().to_string())
}

/// Loads every key in the bytes of a keys file named `source` (see [`load_file`]).
pub fn load_bytes(bytes: &[u8], source: &str) -> Result<Vec<PublicKey>, String> {
    let text = std::str::from_utf8(bytes).ok();
    if let Some(t) = text.map(str::trim_start) {
        if t.starts_with('{') {
            return load_json(t, source);
        }
        if t.starts_with("-----BEGIN") {
            return load_pem(t, source);
        }
    }
    Ok(vec![from_der(bytes, None, None, None, source)?])
}

fn load_json(text: &str, source: &str) -> Result<Vec<PublicKey>, String> {
    use base64::Engine;
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let list = v
        .get("PublicKeyList")
        .or_else(|| v.get("publicKeyList"))
        .ok_or("no PublicKeyList (expected the output of `aws cloudtrail list-public-keys`)")?;
    let listed: Vec<ListedKey> =
        serde_json::from_value(list.clone()).map_err(|e| format!("PublicKeyList: {e}"))?;
    let mut out = Vec::new();
    for (i, k) in listed.iter().enumerate() {
        let der = base64::engine::general_purpose::STANDARD
            .decode(k.value.trim())
            .map_err(|e| format!("PublicKeyList[{i}].Value: not base64: {e}"))?;
        let time = |v: &Option<serde_json::Value>| {
            v.as_ref().and_then(crate::model::time::parse_time_value)
        };
        let key = from_der(
            &der,
            k.fingerprint.as_deref(),
            time(&k.validity_start_time),
            time(&k.validity_end_time),
            source,
        )
        .map_err(|e| format!("PublicKeyList[{i}]: {e}"))?;
        out.push(key);
    }
    Ok(out)
}

fn load_pem(text: &str, source: &str) -> Result<Vec<PublicKey>, String> {
    use base64::Engine;
    let mut out = Vec::new();
    let mut body: Option<String> = None;
    for line in text.lines().map(str::trim) {
        if line.starts_with("-----BEGIN") {
            body = Some(String::new());
        } else if line.starts_with("-----END") {
            let b = body.take().unwrap_or_default();
            let der = base64::engine::general_purpose::STANDARD
                .decode(b.as_bytes())
                .map_err(|e| format!("PEM block {}: not base64: {e}", out.len() + 1))?;
            out.push(from_der(&der, None, None, None, source)?);
        } else if let Some(b) = body.as_mut() {
            if !line.contains(':') {
                b.push_str(line);
            }
        }
    }
    if out.is_empty() {
        return Err("no PEM block".into());
    }
    Ok(out)
}

/// Keys by fingerprint. Several keys may share a fingerprint only if they are the same key (then the validity
/// windows are merged by keeping each entry).
#[derive(Debug, Clone, Default)]
pub struct KeyRing {
    keys: BTreeMap<String, Vec<PublicKey>>,
}

/// Why no key could be used for a digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyLookup<'a> {
    Found(&'a PublicKey),
    NotFound,
    /// The fingerprint is known, but no key with it is valid at that time: (from, to) windows.
    OutsideValidity(Vec<(Option<i64>, Option<i64>)>),
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.fingerprint == other.fingerprint && self.der == other.der
    }
}
impl Eq for PublicKey {}

impl KeyRing {
    pub fn add(&mut self, k: PublicKey) {
        let list = self.keys.entry(k.fingerprint.clone()).or_default();
        if !list
            .iter()
            .any(|e| e.der == k.der && e.valid_from == k.valid_from && e.valid_to == k.valid_to)
        {
            list.push(k);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn len(&self) -> usize {
        self.keys.values().map(Vec::len).sum()
    }

    pub fn iter(&self) -> impl Iterator<Item = &PublicKey> {
        self.keys.values().flatten()
    }

    /// The key with this fingerprint valid at `at` (epoch ms). A key without a window is valid at any time.
    pub fn lookup(&self, fp: &str, at: Option<i64>) -> KeyLookup<'_> {
        let Some(list) = self.keys.get(&fp.trim().to_ascii_lowercase()) else {
            return KeyLookup::NotFound;
        };
        let ok = |k: &PublicKey| match at {
            None => true,
            Some(t) => k.valid_from.is_none_or(|f| f <= t) && k.valid_to.is_none_or(|u| t <= u),
        };
        match list.iter().find(|k| ok(k)) {
            Some(k) => KeyLookup::Found(k),
            None => KeyLookup::OutsideValidity(
                list.iter().map(|k| (k.valid_from, k.valid_to)).collect(),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_public_keys_json_and_validity_windows() {
        let dir = std::env::temp_dir().join(format!("tg-keys-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let src = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/integrity/public-keys.json"
        );
        let keys = load_file(Path::new(src)).unwrap();
        assert_eq!(keys.len(), 1);
        let k = &keys[0];
        assert_eq!(k.fingerprint, "4604357c67c918df7c40d25d35f5a772");
        assert_eq!(
            fingerprint(&k.der),
            k.fingerprint,
            "fingerprint is the MD5 of the PKCS#1 DER"
        );
        assert_eq!(k.valid_from, Some(1_577_836_800_000));
        let mut ring = KeyRing::default();
        ring.add(k.clone());
        ring.add(k.clone());
        assert_eq!(ring.len(), 1);
        assert!(matches!(
            ring.lookup("4604357C67C918DF7C40D25D35F5A772", Some(1_700_000_000_000)),
            KeyLookup::Found(_)
        ));
        assert_eq!(ring.lookup("00", None), KeyLookup::NotFound);
        assert!(matches!(
            ring.lookup(&k.fingerprint, Some(0)),
            KeyLookup::OutsideValidity(_)
        ));
        let bad = dir.join("bad.pem");
        std::fs::write(
            &bad,
            "-----BEGIN PUBLIC KEY-----\n!!!\n-----END PUBLIC KEY-----\n",
        )
        .unwrap();
        assert!(load_file(&bad).is_err());
        std::fs::write(&bad, [0x30u8, 0x03, 0x02, 0x01, 0x05]).unwrap();
        assert!(load_file(&bad)
            .unwrap_err()
            .contains("not an RSA public key"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
