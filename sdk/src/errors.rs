//! Constructors and formatting for [`ChannelError`], so plugins say what went wrong in one line.

use crate::{ChannelError, ErrorDetail, RateLimit};

fn detail(message: impl Into<String>) -> ErrorDetail {
    ErrorDetail {
        message: message.into(),
        provider_code: None,
    }
}

impl ChannelError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::BadRequest(detail(message))
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::Unauthorized(detail(message))
    }

    pub fn transient(message: impl Into<String>) -> Self {
        Self::Transient(detail(message))
    }

    pub fn permanent(message: impl Into<String>) -> Self {
        Self::Permanent(detail(message))
    }

    pub fn rate_limited(message: impl Into<String>, retry_after_ms: Option<u64>) -> Self {
        Self::RateLimited(RateLimit {
            message: message.into(),
            retry_after_ms,
            provider_code: None,
        })
    }

    /// Attach the provider's own error code (`21610`, `403`, ...).
    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        let code = Some(code.into());
        match &mut self {
            Self::BadRequest(d)
            | Self::Unauthorized(d)
            | Self::Transient(d)
            | Self::Permanent(d) => d.provider_code = code,
            Self::RateLimited(r) => r.provider_code = code,
        }
        self
    }

    /// A one-line summary: kind and message (the generated `Display` prints the debug form).
    pub fn summary(&self) -> String {
        let kind = match self {
            Self::BadRequest(_) => "bad request",
            Self::Unauthorized(_) => "unauthorized",
            Self::RateLimited(_) => "rate limited",
            Self::Transient(_) => "transient",
            Self::Permanent(_) => "permanent",
        };
        format!("{kind}: {}", self.message())
    }

    /// The human-readable message.
    pub fn message(&self) -> &str {
        match self {
            Self::BadRequest(d)
            | Self::Unauthorized(d)
            | Self::Transient(d)
            | Self::Permanent(d) => &d.message,
            Self::RateLimited(r) => &r.message,
        }
    }
}

impl From<crate::body::BodyError> for ChannelError {
    fn from(e: crate::body::BodyError) -> Self {
        Self::bad_request(e.to_string())
    }
}
