//! Meta platform helpers shared by every plugin on Meta's Graph API (WhatsApp Cloud API,
//! Messenger, and later Instagram and Facebook Pages): the webhook verification handshake,
//! the `X-Hub-Signature-256` check, and the Graph error body. Each plugin keeps its own
//! mapping of error codes to retry decisions, because the codes differ per product.

use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::signature::{self, Algorithm, Encoding};
use crate::{body, config, log, ChannelError, HttpRequest, HttpResponse, Received, Result};

/// A webhook notification's envelope: every Meta product names its `object`.
pub trait Notification: DeserializeOwned {
    /// `object` of the envelope, e.g. `page` or `whatsapp_business_account`.
    fn object(&self) -> &str;
}

/// A checked Meta webhook request.
pub enum Webhook<T> {
    /// Answered already: the verification handshake, or a notification for another object.
    Answer(Received),
    /// A signed notification for this product, parsed.
    Notification(T),
}

/// The receive path every Meta plugin shares: GET is the verification handshake; POST must
/// carry a valid `X-Hub-Signature-256` before its JSON body is parsed; a notification for
/// another `object` than `object` is acknowledged and ignored; other methods are refused.
/// `product` names the channel in messages ("Messenger").
pub fn webhook<T: Notification>(
    request: &HttpRequest,
    product: &str,
    object: &str,
) -> Result<Webhook<T>> {
    match request.method.as_str() {
        "GET" => return hub_handshake(request).map(Webhook::Answer),
        "POST" => {}
        other => {
            return Err(ChannelError::bad_request(format!(
                "method {other} is not used by {product} webhooks"
            )))
        }
    }
    verify_hub_signature(request)?;
    let notification: T = body::json(&request.body)?;
    if notification.object() != object {
        log::debug(format!(
            "webhook for object `{}` ignored (not {object})",
            notification.object()
        ));
        return Ok(Webhook::Answer(Received::ok(Vec::new())));
    }
    Ok(Webhook::Notification(notification))
}

/// The header Meta signs every webhook POST with: `sha256=<hex HMAC-SHA256(app secret, body)>`.
pub const SIGNATURE_HEADER: &str = "x-hub-signature-256";

/// Answer the GET verification handshake Meta sends when the webhook is configured:
/// `hub.mode=subscribe`, `hub.verify_token` compared in constant time with the `verify_token`
/// configuration key, `hub.challenge` echoed as text.
pub fn hub_handshake(request: &HttpRequest) -> Result<Received> {
    let mode = request.query_param("hub.mode").unwrap_or_default();
    if mode != "subscribe" {
        return Err(ChannelError::bad_request(format!(
            "GET without hub.mode=subscribe (got `{mode}`): not a Meta verification request"
        )));
    }
    let expected = config::require("verify_token")?;
    let given = request.query_param("hub.verify_token").unwrap_or_default();
    if !signature::secrets_equal(given, &expected) {
        return Err(ChannelError::unauthorized(
            "hub.verify_token does not match verify_token",
        ));
    }
    let challenge = request
        .query_param("hub.challenge")
        .ok_or_else(|| ChannelError::bad_request("verification request without hub.challenge"))?;
    Ok(Received {
        response: HttpResponse::text(200, challenge),
        events: Vec::new(),
    })
}

/// Check `X-Hub-Signature-256` against the raw body, keyed with the `app_secret`
/// configuration key. Call it before parsing the body.
pub fn verify_hub_signature(request: &HttpRequest) -> Result<()> {
    let secret = config::require("app_secret")?;
    let header = request
        .header(SIGNATURE_HEADER)
        .ok_or_else(|| ChannelError::unauthorized("missing X-Hub-Signature-256 header"))?;
    let hex = header.trim().strip_prefix("sha256=").ok_or_else(|| {
        ChannelError::unauthorized("X-Hub-Signature-256 does not start with `sha256=`")
    })?;
    if !signature::verify(
        Algorithm::Sha256,
        Encoding::Hex,
        secret.as_bytes(),
        &request.body,
        hex,
    ) {
        return Err(ChannelError::unauthorized(
            "X-Hub-Signature-256 does not match the body signed with app_secret",
        ));
    }
    Ok(())
}

/// A Graph API error answer: `{"error": {"message", "type", "code", "error_subcode",
/// "error_data": {"details"}, "is_transient", "fbtrace_id"}}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GraphError {
    /// Meta's message, or the start of the body when it is not a Graph error.
    pub message: String,
    pub code: Option<i64>,
    pub subcode: Option<i64>,
    /// `error_data.details` (WhatsApp puts the useful part here).
    pub details: Option<String>,
    pub is_transient: bool,
}

#[derive(Deserialize)]
struct Envelope {
    error: Wire,
}

#[derive(Deserialize)]
struct Wire {
    message: Option<String>,
    code: Option<i64>,
    error_subcode: Option<i64>,
    error_data: Option<WireData>,
    is_transient: Option<bool>,
}

#[derive(Deserialize)]
struct WireData {
    details: Option<String>,
}

impl GraphError {
    /// Read an error body; anything that is not a Graph error keeps its first 200 characters
    /// as the message.
    pub fn parse(body: &[u8]) -> Self {
        match serde_json::from_slice::<Envelope>(body) {
            Ok(Envelope { error }) => Self {
                message: error
                    .message
                    .unwrap_or_else(|| String::from_utf8_lossy(body).chars().take(200).collect()),
                code: error.code,
                subcode: error.error_subcode,
                details: error.error_data.and_then(|d| d.details),
                is_transient: error.is_transient == Some(true),
            },
            Err(_) => Self {
                message: String::from_utf8_lossy(body).chars().take(200).collect(),
                ..Self::default()
            },
        }
    }

    /// The code for [`ChannelError::with_code`]: Meta's code, else the HTTP status.
    pub fn provider_code(&self, status: u16) -> String {
        self.code
            .map_or_else(|| status.to_string(), |c| c.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_errors_are_read_with_code_subcode_and_details() {
        // The shape of Meta's documented error response.
        let body = br#"{"error":{"message":"(#100) No matching user found","type":"OAuthException","code":100,"error_subcode":2018001,"fbtrace_id":"AbC"}}"#;
        let e = GraphError::parse(body);
        assert_eq!(e.message, "(#100) No matching user found");
        assert_eq!((e.code, e.subcode), (Some(100), Some(2018001)));
        assert_eq!(e.provider_code(400), "100");
        let wa = br#"{"error":{"message":"Re-engagement message","code":131047,"error_data":{"details":"More than 24 hours have passed"},"is_transient":false}}"#;
        let e = GraphError::parse(wa);
        assert_eq!(e.details.as_deref(), Some("More than 24 hours have passed"));
        assert!(!e.is_transient);
        let html = GraphError::parse(b"<html>Bad gateway</html>");
        assert_eq!(
            (html.message.as_str(), html.code),
            ("<html>Bad gateway</html>", None)
        );
        assert_eq!(html.provider_code(502), "502");
    }
}
