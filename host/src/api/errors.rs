//! One error shape for every HTTP answer: `{"error": {"code", "message", "details"}}`.

use bytes::Bytes;
use http::{Response, StatusCode};
use http_body_util::Full;
use serde_json::{json, Value};

use crate::model::ChannelError;
use crate::runtime::{CallError, CallErrorKind};

/// Response bodies: whole (JSON) or streamed (server-sent events).
pub type Body = http_body_util::combinators::BoxBody<Bytes, std::convert::Infallible>;

/// A whole body.
pub fn full(bytes: impl Into<Bytes>) -> Body {
    use http_body_util::BodyExt;
    Full::new(bytes.into()).boxed()
}

/// Which way the failed plugin call went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// A provider called us (webhook).
    Inbound,
    /// We called the provider (send, act).
    Outbound,
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Value,
    pub retry_after_secs: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: Value::Null,
            retry_after_secs: None,
        }
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", what)
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn response(&self) -> Response<Body> {
        let body =
            json!({"error": {"code": self.code, "message": self.message, "details": self.details}});
        let mut builder = Response::builder()
            .status(self.status)
            .header("content-type", "application/json");
        if let Some(secs) = self.retry_after_secs {
            builder = builder.header("retry-after", secs.to_string());
        }
        builder
            .body(full(body.to_string()))
            .unwrap_or_else(|_| Response::new(full(Bytes::new())))
    }

    /// Map a plugin call failure onto HTTP: the plugin's structured error picks the status;
    /// a stopped plugin (deadline, memory, trap) is a 500 that names plugin, version, channel.
    /// On outbound calls an `unauthorized` means the *provider* refused our credentials, which
    /// is a 502 for the API caller, not a 401 about their own token.
    pub fn from_call(err: &CallError, direction: Direction) -> Self {
        let details = json!({"plugin": err.plugin, "version": err.version, "channel": err.channel});
        let mut api = match &err.kind {
            CallErrorKind::Channel(ce) => {
                let (status, code) = match ce {
                    ChannelError::BadRequest { .. } => (StatusCode::BAD_REQUEST, "bad_request"),
                    ChannelError::Unauthorized { .. } => match direction {
                        Direction::Inbound => (StatusCode::UNAUTHORIZED, "unauthorized"),
                        Direction::Outbound => (StatusCode::BAD_GATEWAY, "provider_unauthorized"),
                    },
                    ChannelError::RateLimited { .. } => {
                        (StatusCode::TOO_MANY_REQUESTS, "rate_limited")
                    }
                    ChannelError::Transient { .. } => {
                        (StatusCode::SERVICE_UNAVAILABLE, "transient")
                    }
                    ChannelError::Permanent { .. } => {
                        (StatusCode::UNPROCESSABLE_ENTITY, "permanent")
                    }
                };
                let mut api = Self::new(status, code, err.to_string());
                if let ChannelError::RateLimited {
                    retry_after_ms: Some(ms),
                    ..
                } = ce
                {
                    api.retry_after_secs = Some(ms.div_ceil(1000));
                }
                let mut d = details.clone();
                d["provider_code"] = json!(ce.provider_code());
                return Self { details: d, ..api };
            }
            CallErrorKind::Deadline(_) => Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "plugin_deadline",
                err.to_string(),
            ),
            CallErrorKind::Memory(_) => Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "plugin_memory",
                err.to_string(),
            ),
            CallErrorKind::Trap(_) => Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "plugin_trap",
                err.to_string(),
            ),
            CallErrorKind::Instantiate(_) | CallErrorKind::Internal(_) => Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "plugin_unavailable",
                err.to_string(),
            ),
        };
        api.details = details;
        api
    }
}

pub fn json_response(status: StatusCode, value: &impl serde::Serialize) -> Response<Body> {
    let body = serde_json::to_vec(value).unwrap_or_else(|_| b"null".to_vec());
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(full(body))
        .unwrap_or_else(|_| Response::new(full(Bytes::new())))
}

impl From<crate::inbox::InboxError> for ApiError {
    fn from(e: crate::inbox::InboxError) -> Self {
        use crate::inbox::InboxError as E;
        match e {
            E::NotFound(m) => Self::new(StatusCode::NOT_FOUND, "not_found", m),
            E::Invalid(m) => Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", m),
            E::Conflict(m) => Self::new(StatusCode::CONFLICT, "conflict", m),
            E::Forbidden(m) => Self::new(StatusCode::FORBIDDEN, "forbidden", m),
            E::Policy(m) => Self::new(StatusCode::UNPROCESSABLE_ENTITY, "channel_policy", m),
            E::QuotaExceeded(m) => Self::new(
                StatusCode::INSUFFICIENT_STORAGE,
                "storage_quota_exceeded",
                m,
            ),
            E::Store(s) => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "storage_unavailable",
                s.to_string(),
            ),
        }
    }
}
