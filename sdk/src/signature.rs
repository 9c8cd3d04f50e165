//! Webhook signature checks, written once for every plugin.
//!
//! All comparisons are constant-time over the decoded MAC bytes; a signature that does not
//! decode (bad hex, bad base64, wrong length) is simply "not valid", never a panic.

use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The hash inside the HMAC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Sha1,
    Sha256,
}

/// How the provider writes the MAC into its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Hex,
    Base64,
}

/// HMAC of `message` under `key`.
pub fn hmac(algorithm: Algorithm, key: &[u8], message: &[u8]) -> Vec<u8> {
    match algorithm {
        Algorithm::Sha1 => {
            // An HMAC accepts keys of any length; `new_from_slice` cannot fail for it.
            let mut mac = match Hmac::<Sha1>::new_from_slice(key) {
                Ok(m) => m,
                Err(_) => return Vec::new(),
            };
            mac.update(message);
            mac.finalize().into_bytes().to_vec()
        }
        Algorithm::Sha256 => {
            let mut mac = match Hmac::<Sha256>::new_from_slice(key) {
                Ok(m) => m,
                Err(_) => return Vec::new(),
            };
            mac.update(message);
            mac.finalize().into_bytes().to_vec()
        }
    }
}

/// The HMAC encoded the way providers send it.
pub fn sign(algorithm: Algorithm, encoding: Encoding, key: &[u8], message: &[u8]) -> String {
    let mac = hmac(algorithm, key, message);
    match encoding {
        Encoding::Hex => hex::encode(mac),
        Encoding::Base64 => {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD.encode(mac)
        }
    }
}

/// Does `provided` (hex or base64, as the provider sent it) match the HMAC of `message`?
pub fn verify(
    algorithm: Algorithm,
    encoding: Encoding,
    key: &[u8],
    message: &[u8],
    provided: &str,
) -> bool {
    let decoded = match encoding {
        Encoding::Hex => hex::decode(provided.trim()),
        Encoding::Base64 => {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD
                .decode(provided.trim())
                .map_err(|_| hex::FromHexError::InvalidStringLength)
        }
    };
    let Ok(decoded) = decoded else {
        return false;
    };
    let expected = hmac(algorithm, key, message);
    !expected.is_empty() && expected.ct_eq(&decoded).into()
}

/// Constant-time equality of two secrets (Telegram's secret-token header).
pub fn secrets_equal(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 2202 test case 2 (HMAC-SHA1) and RFC 4231 test case 2 (HMAC-SHA256).
    #[test]
    fn rfc_vectors_verify_in_hex_and_base64() {
        let key = b"Jefe";
        let msg = b"what do ya want for nothing?";
        let sha1 = "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79";
        let sha256 = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
        assert!(verify(Algorithm::Sha1, Encoding::Hex, key, msg, sha1));
        assert!(verify(Algorithm::Sha256, Encoding::Hex, key, msg, sha256));
        let b64 = sign(Algorithm::Sha256, Encoding::Base64, key, msg);
        assert!(verify(Algorithm::Sha256, Encoding::Base64, key, msg, &b64));
        assert_eq!(sign(Algorithm::Sha1, Encoding::Hex, key, msg), sha1);
    }

    #[test]
    fn tampered_or_undecodable_signatures_are_rejected() {
        let key = b"Jefe";
        let msg = b"what do ya want for nothing?";
        let good = sign(Algorithm::Sha256, Encoding::Hex, key, msg);
        let mut bad = good.clone().into_bytes();
        bad[0] = if bad[0] == b'0' { b'1' } else { b'0' };
        let bad = String::from_utf8(bad).unwrap_or_default();
        assert!(!verify(Algorithm::Sha256, Encoding::Hex, key, msg, &bad));
        assert!(!verify(Algorithm::Sha256, Encoding::Hex, key, msg, "zz"));
        assert!(!verify(
            Algorithm::Sha256,
            Encoding::Base64,
            key,
            msg,
            "!!!"
        ));
        assert!(!verify(Algorithm::Sha256, Encoding::Hex, key, msg, ""));
        assert!(!verify(
            Algorithm::Sha256,
            Encoding::Hex,
            b"other",
            msg,
            &good
        ));
    }

    #[test]
    fn secret_tokens_compare_exactly() {
        assert!(secrets_equal("abc_DEF-123", "abc_DEF-123"));
        assert!(!secrets_equal("abc_DEF-123", "abc_DEF-124"));
        assert!(!secrets_equal("abc", "abcd"));
    }
}
