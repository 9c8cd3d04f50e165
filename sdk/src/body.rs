//! Request and response bodies: JSON and `application/x-www-form-urlencoded`.

use serde::de::DeserializeOwned;

/// A body that could not be parsed; becomes `bad-request` with a message saying where.
#[derive(Debug)]
pub struct BodyError(String);

impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BodyError {}

/// Parse JSON, reporting line and column of the first error.
pub fn json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, BodyError> {
    serde_json::from_slice(bytes).map_err(|e| BodyError(format!("malformed JSON body: {e}")))
}

/// Parse a form-encoded body into pairs, in order (`+` is a space, `%XX` decoded).
pub fn form(bytes: &[u8]) -> Result<Vec<(String, String)>, BodyError> {
    let text =
        std::str::from_utf8(bytes).map_err(|_| BodyError("form body is not UTF-8".to_string()))?;
    let mut out = Vec::new();
    for pair in text.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        out.push((decode_component(k)?, decode_component(v)?));
    }
    Ok(out)
}

/// Look a field up in parsed form pairs.
pub fn field<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn decode_component(s: &str) -> Result<String, BodyError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| BodyError(format!("bad percent-escape in form field {s:?}")))?;
                out.push(hex);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| BodyError(format!("form field {s:?} is not UTF-8")))
}

/// Percent-encode one component (RFC 3986 unreserved characters pass through).
pub fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Encode pairs as a form body.
pub fn encode_form<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                encode_component(k.as_ref()),
                encode_component(v.as_ref())
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// `Basic` authorization header value.
pub fn basic_auth(user: &str, password: &str) -> String {
    use base64::Engine as _;
    let raw = format!("{user}:{password}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_round_trips_plus_and_percent_escapes() {
        let pairs = form(b"Body=Hello+there%21&From=%2B14155550100&Empty=").expect("valid form");
        assert_eq!(field(&pairs, "Body"), Some("Hello there!"));
        assert_eq!(field(&pairs, "From"), Some("+14155550100"));
        assert_eq!(field(&pairs, "Empty"), Some(""));
        let encoded = encode_form(&[("Body", "Hello there!"), ("To", "+1 415")]);
        assert_eq!(encoded, "Body=Hello%20there%21&To=%2B1%20415");
        let back = form(encoded.as_bytes()).expect("round trip");
        assert_eq!(field(&back, "To"), Some("+1 415"));
    }

    #[test]
    fn malformed_bodies_say_what_is_wrong() {
        let err = form(b"a=%zz").expect_err("bad escape");
        assert!(err.to_string().contains("percent-escape"), "{err}");
        let err = json::<serde_json::Value>(b"{\"a\":").expect_err("truncated");
        assert!(err.to_string().contains("malformed JSON"), "{err}");
    }

    #[test]
    fn basic_auth_matches_rfc7617_example() {
        assert_eq!(
            basic_auth("Aladdin", "open sesame"),
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
    }
}
