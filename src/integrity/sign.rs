//! The digest signature: SHA256withRSA (RSASSA-PKCS1-v1_5 with SHA-256) over the data signing string
//! `digestEndTime \n digestS3Bucket/digestS3Object \n hex(sha256(uncompressed digest)) \n previousDigestSignature`,
//! with the literal `null` when there is no previous signature (AWS's Java reference formats a JSON null so, and
//! the AWS CLI substitutes `null` explicitly).

use rsa::pkcs1v15::{Signature, SigningKey, VerifyingKey};
use rsa::signature::{SignatureEncoding, Signer, Verifier};
use rsa::{RsaPrivateKey, RsaPublicKey};
use sha2::Sha256;

/// The only signature algorithm accepted.
pub const ALGORITHM: &str = "SHA256withRSA";

pub fn signing_string(
    end_time: &str,
    bucket: &str,
    object: &str,
    digest_sha256_hex: &str,
    previous_signature: Option<&str>,
) -> String {
    format!(
        "{end_time}\n{bucket}/{object}\n{digest_sha256_hex}\n{}",
        previous_signature.unwrap_or("null")
    )
}

/// Checks a hex signature over `message`. The error says what is wrong (not hex, wrong length, does not verify).
pub fn verify(key: &RsaPublicKey, message: &[u8], signature_hex: &str) -> Result<(), String> {
    let sig =
        hex::decode(signature_hex.trim()).map_err(|e| format!("signature is not hex: {e}"))?;
    let modulus_len = rsa::traits::PublicKeyParts::size(key);
    if sig.len() != modulus_len {
        return Err(format!(
            "signature is {} bytes, the key's modulus {modulus_len}",
            sig.len()
        ));
    }
    let sig = Signature::try_from(sig.as_slice()).map_err(|e| format!("bad signature: {e}"))?;
    VerifyingKey::<Sha256>::new(key.clone())
        .verify(message, &sig)
        .map_err(|_| "signature does not verify (SHA256withRSA)".to_string())
}

/// Whether the signature verifies under another hash (SHA-1, SHA-512): such a signature is still rejected, but the
/// finding says so.
pub fn other_hash_verifies(
    key: &RsaPublicKey,
    message: &[u8],
    signature_hex: &str,
) -> Option<&'static str> {
    let sig = hex::decode(signature_hex.trim()).ok()?;
    let sig = Signature::try_from(sig.as_slice()).ok()?;
    if VerifyingKey::<sha2::Sha512>::new(key.clone())
        .verify(message, &sig)
        .is_ok()
    {
        return Some("SHA512withRSA");
    }
    if VerifyingKey::<sha2::Sha384>::new(key.clone())
        .verify(message, &sig)
        .is_ok()
    {
        return Some("SHA384withRSA");
    }
    None
}

/// Signs `message` (SHA256withRSA), hex. For the test signer and tests only.
pub fn sign(key: &RsaPrivateKey, message: &[u8]) -> String {
    hex::encode(
        SigningKey::<Sha256>::new(key.clone())
            .sign(message)
            .to_bytes(),
    )
}

/// Signs with SHA-512 (tests of the "another hash" rule).
pub fn sign_sha512(key: &RsaPrivateKey, message: &[u8]) -> String {
    hex::encode(
        SigningKey::<sha2::Sha512>::new(key.clone())
            .sign(message)
            .to_bytes(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::pkcs8::DecodePrivateKey;

    fn test_key() -> RsaPrivateKey {
        let pem = include_str!("../../fixtures/integrity/test-key.TEST-ONLY.pem");
        RsaPrivateKey::from_pkcs8_pem(pem).unwrap()
    }

    #[test]
    fn signing_string_and_round_trip() {
        assert_eq!(
            signing_string(
                "2015-08-12T04:01:31Z",
                "b",
                "AWSLogs/1/x.json.gz",
                "ab",
                None
            ),
            "2015-08-12T04:01:31Z\nb/AWSLogs/1/x.json.gz\nab\nnull"
        );
        assert_eq!(
            signing_string("T", "b", "k", "ab", Some("cd")),
            "T\nb/k\nab\ncd"
        );
        let k = test_key();
        let pubk = k.to_public_key();
        let sig = sign(&k, b"message");
        assert_eq!(sig.len(), 512);
        assert_eq!(verify(&pubk, b"message", &sig), Ok(()));
        assert_eq!(verify(&pubk, b"message", &sig.to_uppercase()), Ok(()));
        assert!(verify(&pubk, b"other", &sig).is_err());
        assert!(verify(&pubk, b"message", "zz")
            .unwrap_err()
            .contains("not hex"));
        assert!(verify(&pubk, b"message", "abcd")
            .unwrap_err()
            .contains("2 bytes"));
        let s512 = sign_sha512(&k, b"message");
        assert!(verify(&pubk, b"message", &s512).is_err());
        assert_eq!(
            other_hash_verifies(&pubk, b"message", &s512),
            Some("SHA512withRSA")
        );
        assert_eq!(other_hash_verifies(&pubk, b"message", &sig), None);
    }
}
