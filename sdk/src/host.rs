//! Thin wrappers over the host imports: logging, configuration, key-value state, outbound HTTP.
//!
//! Outbound HTTP goes through the host, which enforces the operator's allowlist; a denied
//! destination comes back as an error, never as a silent drop.

use crate::wit::inlet::channel::host as imports;

/// Log lines land in the host's `tracing`, tagged with plugin, version and channel.
pub mod log {
    use super::imports::{self, LogLevel};

    pub fn debug(message: impl AsRef<str>) {
        imports::log(LogLevel::Debug, message.as_ref());
    }
    pub fn info(message: impl AsRef<str>) {
        imports::log(LogLevel::Info, message.as_ref());
    }
    pub fn warn(message: impl AsRef<str>) {
        imports::log(LogLevel::Warn, message.as_ref());
    }
    pub fn error(message: impl AsRef<str>) {
        imports::log(LogLevel::Error, message.as_ref());
    }
}

/// The channel's configuration, as the operator or tenant admin set it.
pub mod config {
    use super::imports;
    use crate::ChannelError;

    pub fn get(key: &str) -> Option<String> {
        imports::config_get(key).filter(|v| !v.is_empty())
    }

    /// A required key, or a `permanent` error naming it.
    pub fn require(key: &str) -> Result<String, ChannelError> {
        get(key).ok_or_else(|| {
            ChannelError::permanent(format!("channel configuration is missing `{key}`"))
        })
    }

    /// A key with a fallback.
    pub fn get_or(key: &str, default: &str) -> String {
        get(key).unwrap_or_else(|| default.to_string())
    }
}

/// Per-channel state that survives restarts.
pub mod kv {
    use super::imports;

    pub fn get(key: &str) -> Option<Vec<u8>> {
        imports::kv_get(key)
    }
    pub fn set(key: &str, value: &[u8]) {
        imports::kv_set(key, value)
    }
    pub fn delete(key: &str) {
        imports::kv_delete(key)
    }
}

/// Outbound HTTP through the host.
pub mod http {
    use super::imports::{self, HttpError, OutgoingRequest};
    use crate::{ChannelError, HttpResponse};
    use serde::de::DeserializeOwned;

    /// A request under construction.
    #[derive(Debug, Clone)]
    pub struct Request {
        method: String,
        url: String,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
        timeout_ms: Option<u32>,
    }

    impl Request {
        pub fn new(method: &str, url: impl Into<String>) -> Self {
            Self {
                method: method.to_string(),
                url: url.into(),
                headers: Vec::new(),
                body: Vec::new(),
                timeout_ms: None,
            }
        }
        pub fn get(url: impl Into<String>) -> Self {
            Self::new("GET", url)
        }
        pub fn post(url: impl Into<String>) -> Self {
            Self::new("POST", url)
        }
        pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
            self.headers.push((name.to_ascii_lowercase(), value.into()));
            self
        }
        pub fn json(self, value: &serde_json::Value) -> Self {
            let mut r = self.header("content-type", "application/json");
            r.body = value.to_string().into_bytes();
            r
        }
        pub fn form<K: AsRef<str>, V: AsRef<str>>(self, pairs: &[(K, V)]) -> Self {
            let mut r = self.header("content-type", "application/x-www-form-urlencoded");
            r.body = crate::body::encode_form(pairs).into_bytes();
            r
        }
        pub fn timeout_ms(mut self, ms: u32) -> Self {
            self.timeout_ms = Some(ms);
            self
        }

        /// Send it. Transport failures map to `transient`, a denied destination to `permanent`.
        pub fn send(self) -> Result<HttpResponse, ChannelError> {
            let url = self.url.clone();
            imports::http_fetch(&OutgoingRequest {
                method: self.method,
                url: self.url,
                headers: self.headers,
                body: self.body,
                timeout_ms: self.timeout_ms,
            })
            .map_err(|e| match e {
                HttpError::Denied(why) => {
                    ChannelError::permanent(format!("egress to {url} denied by the host: {why}"))
                }
                HttpError::InvalidRequest(why) => {
                    ChannelError::permanent(format!("invalid outbound request to {url}: {why}"))
                }
                HttpError::Timeout => ChannelError::transient(format!("timeout calling {url}")),
                HttpError::Connection(why) => {
                    ChannelError::transient(format!("cannot reach {url}: {why}"))
                }
                HttpError::TooLarge => {
                    ChannelError::permanent(format!("response from {url} exceeds the host limit"))
                }
            })
        }
    }

    impl HttpResponse {
        /// The body as JSON; a provider answering garbage is a transient failure.
        pub fn json<T: DeserializeOwned>(&self) -> Result<T, ChannelError> {
            serde_json::from_slice(&self.body).map_err(|e| {
                ChannelError::transient(format!(
                    "provider answered HTTP {} with a body that is not the expected JSON: {e}",
                    self.status
                ))
            })
        }

        pub fn is_success(&self) -> bool {
            (200..300).contains(&self.status)
        }

        /// `Retry-After` in milliseconds, when given in seconds.
        pub fn retry_after_ms(&self) -> Option<u64> {
            self.header("retry-after")
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(|s| s * 1000)
        }
    }
}

/// Wall-clock time from the host, milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    imports::now_ms()
}
