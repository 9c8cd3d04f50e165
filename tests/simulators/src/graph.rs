//! What every Meta Graph API simulator shares (WhatsApp Cloud API, Messenger Send API): the
//! Graph error object and its HTTP answer, the `/{version}/{node}/messages` path with a
//! `vNN.N` version, and small JSON field readers. Each simulator keeps its own validation
//! messages and codes, because Meta's products word them differently.

use bytes::Bytes;
use http::HeaderValue;
use http_body_util::Full;
use hyper::Response;
use serde_json::{json, Value};

use crate::server::json_response;

/// A Graph API error: `{"error":{"message","type","code","error_subcode","error_data",
/// "is_transient","fbtrace_id"}}`, with the HTTP status and an optional `Retry-After`.
#[derive(Debug)]
pub struct GraphError {
    pub status: u16,
    pub code: u32,
    pub subcode: Option<u32>,
    pub message: String,
    /// `error_data` (WhatsApp: `{"messaging_product", "details"}`).
    pub error_data: Option<Value>,
    pub transient: bool,
    pub retry_after: Option<u64>,
}

impl GraphError {
    pub fn new(status: u16, code: u32, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            subcode: None,
            message: message.into(),
            error_data: None,
            transient: false,
            retry_after: None,
        }
    }

    pub fn subcode(mut self, subcode: u32) -> Self {
        self.subcode = Some(subcode);
        self
    }

    pub fn transient(mut self) -> Self {
        self.transient = true;
        self
    }

    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }

    /// The answer Meta gives: the error object, `Retry-After` when set, and the
    /// `WWW-Authenticate` challenge on a 401.
    pub fn response(&self) -> Response<Full<Bytes>> {
        let mut error = json!({
            "message": self.message,
            "type": "OAuthException",
            "code": self.code,
            "fbtrace_id": "AbCdEfGhIjKlMnOpQrStUvW",
        });
        if let Some(sub) = self.subcode {
            error["error_subcode"] = json!(sub);
        }
        if let Some(data) = &self.error_data {
            error["error_data"] = data.clone();
        }
        if self.transient {
            error["is_transient"] = json!(true);
        }
        let mut response = json_response(self.status, &json!({ "error": error }));
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(http::header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.status == 401 {
            response.headers_mut().insert(
                http::header::WWW_AUTHENTICATE,
                HeaderValue::from_static("OAuth \"Facebook Platform\" \"invalid_token\""),
            );
        }
        response
    }
}

/// The node of a `/{version}/{node}/messages` path; any other path, or a version that is
/// not `vNN.N`, is Graph's "Unknown path components" (code 2500).
pub fn messages_node(path: &str) -> Result<&str, GraphError> {
    let unknown = || GraphError::new(400, 2500, format!("Unknown path components: {path}"));
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let [version, node, "messages"] = segments.as_slice() else {
        return Err(unknown());
    };
    let version_ok = version
        .strip_prefix('v')
        .and_then(|v| v.split_once('.'))
        .is_some_and(|(a, b)| {
            !a.is_empty()
                && a.bytes().all(|c| c.is_ascii_digit())
                && b.bytes().all(|c| c.is_ascii_digit())
        });
    if version_ok {
        Ok(node)
    } else {
        Err(unknown())
    }
}

/// Characters, as Meta counts limits.
pub fn chars(s: &str) -> usize {
    s.chars().count()
}

pub fn str_field<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_versioned_messages_paths_name_a_node() {
        assert_eq!(messages_node("/v21.0/me/messages").ok(), Some("me"));
        assert_eq!(messages_node("/v19.0/1234/messages").ok(), Some("1234"));
        for bad in [
            "/me/messages",
            "/v21/me/messages",
            "/vX.0/me/messages",
            "/v21.0/me",
        ] {
            let err = messages_node(bad).err().map(|e| (e.status, e.code));
            assert_eq!(err, Some((400, 2500)), "{bad}");
        }
    }
}
