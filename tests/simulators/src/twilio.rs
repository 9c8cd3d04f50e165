//! Twilio Programmable Messaging simulator ([`TwilioSim`]): the
//! `POST /2010-04-01/Accounts/{AccountSid}/Messages.json` API with HTTP Basic auth, Twilio's
//! validation and error bodies, the Message resource, media served at `GET /media/{path}`,
//! the `X-Twilio-Signature` algorithm ([`signature`]), and signed delivery of inbound-SMS and
//! status-callback webhooks.
//!
//! Faults ([`crate::Faults`]) answer as Twilio does: a rate limit is 429 with code 20429 and
//! `Retry-After`, a server error the status given, down is 503.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use bytes::Bytes;
use hmac::{Hmac, Mac as _};
use http::{HeaderValue, Method};
use http_body_util::Full;
use hyper::Response;
use serde::Serialize;
use serde_json::{json, Value};
use sha1::Sha1;
use sha2::{Digest as _, Sha256};

use crate::server::{
    bytes_response, form_decode, form_encode, json_response, lock, post, rfc2822, unix_now,
    Control, Fault, Gate, Handler, Server, SimRequest,
};

/// The REST API version in every path and webhook.
pub const API_VERSION: &str = "2010-04-01";
/// Longest `Body` accepted, in characters.
pub const MAX_BODY_CHARS: usize = 1600;
/// Most `MediaUrl` parameters accepted on one message.
pub const MAX_MEDIA: usize = 10;

/// Computes `X-Twilio-Signature`: base64(HMAC-SHA1(auth_token, url + the params sorted by key
/// (then value), each appended as key followed by value)).
pub fn signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    let mut data = url.to_string();
    for (key, value) in sorted {
        data.push_str(key);
        data.push_str(value);
    }
    // HMAC accepts keys of any length, so this never fails.
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(auth_token.as_bytes()) else {
        return String::new();
    };
    mac.update(data.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Number of SMS segments Twilio bills for `body`: GSM-7 (160, or 153 per part when
/// concatenated; extension characters count twice) unless a character needs UCS-2 (70, or 67
/// per part, in UTF-16 code units). An empty body (media only) counts as 1.
pub fn num_segments(body: &str) -> usize {
    const GSM_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
                             ¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
    const GSM_EXTENSION: &str = "^{}\\[~]|€\u{c}";
    let mut gsm_units = 0;
    let mut gsm = true;
    for c in body.chars() {
        if GSM_BASIC.contains(c) {
            gsm_units += 1;
        } else if GSM_EXTENSION.contains(c) {
            gsm_units += 2;
        } else {
            gsm = false;
            break;
        }
    }
    let (units, single, part) = if gsm {
        (gsm_units, 160, 153)
    } else {
        (body.encode_utf16().count(), 70, 67)
    };
    if units <= single {
        1
    } else {
        units.div_ceil(part)
    }
}

/// One message accepted by `POST .../Messages.json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SentSms {
    /// The assigned `SM…` sid.
    pub sid: String,
    /// `To`.
    pub to: String,
    /// `From`, when given.
    pub from: Option<String>,
    /// `MessagingServiceSid`, when given.
    pub messaging_service_sid: Option<String>,
    /// `Body` (empty for media-only messages).
    pub body: String,
    /// Every `MediaUrl`, in order.
    pub media_urls: Vec<String>,
    /// `StatusCallback`, when given.
    pub status_callback: Option<String>,
    /// All form parameters as sent.
    pub params: Vec<(String, String)>,
    /// The Message resource as returned by the create call.
    pub resource: Value,
}

/// An in-process Twilio Messaging API. Stops when dropped.
#[derive(Debug)]
pub struct TwilioSim {
    state: Arc<State>,
    server: Server,
}

#[derive(Debug)]
struct State {
    account_sid: String,
    auth_token: String,
    control: Control,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    numbers: HashSet<String>,
    unsubscribed: HashSet<String>,
    media: HashMap<String, (String, Bytes)>,
    sent: Vec<SentSms>,
    /// Current resources by sid (status callbacks update them).
    resources: HashMap<String, Value>,
    counter: u64,
}

/// A REST API error: `{"code","message","more_info","status"}`.
#[derive(Debug)]
struct ApiError {
    status: u16,
    code: u32,
    message: String,
    retry_after: Option<u64>,
}

impl ApiError {
    fn new(status: u16, code: u32, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    fn bad(code: u32, message: impl Into<String>) -> Self {
        Self::new(400, code, message)
    }

    fn response(&self) -> Response<Full<Bytes>> {
        let body = json!({
            "code": self.code,
            "message": self.message,
            "more_info": format!("https://www.twilio.com/docs/errors/{}", self.code),
            "status": self.status,
        });
        let mut response = json_response(self.status, &body);
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(http::header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.status == 401 {
            response.headers_mut().insert(
                http::header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"Twilio API\""),
            );
        }
        response
    }
}

fn authenticate_error() -> ApiError {
    ApiError::new(401, 20003, "Authenticate")
}

fn not_found(path: &str) -> ApiError {
    ApiError::new(
        404,
        20404,
        format!("The requested resource {path} was not found"),
    )
}

fn server_error(status: u16) -> ApiError {
    if status == 503 {
        ApiError::new(503, 20503, "Service Unavailable")
    } else {
        ApiError::new(status, 20500, "Internal Server Error")
    }
}

/// `+` followed by 8–15 digits.
fn is_e164(number: &str) -> bool {
    number.strip_prefix('+').is_some_and(|digits| {
        (8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
    })
}

fn is_http_url(url: &str) -> bool {
    url.starts_with("http://") || url.starts_with("https://")
}

/// ISO country of an E.164 number, for the `FromCountry`/`ToCountry` webhook fields.
fn country_of(number: &str) -> &'static str {
    const PREFIXES: [(&str, &str); 12] = [
        ("+1", "US"),
        ("+44", "GB"),
        ("+49", "DE"),
        ("+33", "FR"),
        ("+34", "ES"),
        ("+39", "IT"),
        ("+31", "NL"),
        ("+61", "AU"),
        ("+91", "IN"),
        ("+55", "BR"),
        ("+52", "MX"),
        ("+81", "JP"),
    ];
    PREFIXES
        .iter()
        .find(|(prefix, _)| number.starts_with(prefix))
        .map_or("", |(_, country)| country)
}

impl TwilioSim {
    /// Starts a Messaging API for this account.
    pub async fn start(account_sid: &str, auth_token: &str) -> anyhow::Result<Self> {
        let state = Arc::new(State {
            account_sid: account_sid.to_string(),
            auth_token: auth_token.to_string(),
            control: Control::default(),
            inner: Mutex::new(Inner::default()),
        });
        let handler_state = state.clone();
        let handler: Handler = Arc::new(move |req| {
            let state = handler_state.clone();
            Box::pin(async move { state.handle(req).await })
        });
        let server = Server::start(handler).await?;
        Ok(Self { state, server })
    }

    /// `http://127.0.0.1:<port>`; the API is at `{base_url}/2010-04-01/Accounts/...`.
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// The account sid this simulator accepts.
    pub fn account_sid(&self) -> &str {
        &self.state.account_sid
    }

    /// `{base_url}/2010-04-01/Accounts/{AccountSid}/Messages.json`.
    pub fn messages_url(&self) -> String {
        format!(
            "{}/{API_VERSION}/Accounts/{}/Messages.json",
            self.base_url(),
            self.state.account_sid
        )
    }

    /// Registers an SMS-capable sender number of the account.
    pub fn add_number(&self, e164: &str) {
        lock(&self.state.inner).numbers.insert(e164.to_string());
    }

    /// The recipient replied STOP: sends to it fail with 21610.
    pub fn unsubscribe(&self, number: &str) {
        lock(&self.state.inner)
            .unsubscribed
            .insert(number.to_string());
    }

    /// The recipient replied START.
    pub fn resubscribe(&self, number: &str) {
        lock(&self.state.inner).unsubscribed.remove(number);
    }

    /// Serves `bytes` at `GET /media/{path}` (no auth), for inbound MMS `MediaUrl{N}`.
    pub fn add_media(&self, path: &str, content_type: &str, bytes: impl Into<Bytes>) {
        lock(&self.state.inner).media.insert(
            path.trim_start_matches('/').to_string(),
            (content_type.to_string(), bytes.into()),
        );
    }

    /// `{base_url}/media/{path}`.
    pub fn media_url(&self, path: &str) -> String {
        format!("{}/media/{}", self.base_url(), path.trim_start_matches('/'))
    }

    /// Accepted messages, in order.
    pub fn sent(&self) -> Vec<SentSms> {
        lock(&self.state.inner).sent.clone()
    }

    /// The current Message resource for a sid (status updated by [`Self::deliver_status`]).
    pub fn message(&self, sid: &str) -> Option<Value> {
        lock(&self.state.inner).resources.get(sid).cloned()
    }

    /// The form fields Twilio posts to a number's webhook for an inbound SMS/MMS. `media` is
    /// `(url, content_type)` per item.
    pub fn inbound_sms(
        &self,
        message_sid: &str,
        from: &str,
        to: &str,
        body: &str,
        media: &[(&str, &str)],
    ) -> Vec<(String, String)> {
        let mut fields: Vec<(String, String)> = [
            ("ToCountry", country_of(to)),
            ("ToState", ""),
            ("SmsMessageSid", message_sid),
            ("NumMedia", &media.len().to_string()),
            ("ToCity", ""),
            ("FromZip", ""),
            ("SmsSid", message_sid),
            ("FromState", ""),
            ("SmsStatus", "received"),
            ("FromCity", ""),
            ("Body", body),
            ("FromCountry", country_of(from)),
            ("To", to),
            ("ToZip", ""),
            ("NumSegments", &num_segments(body).to_string()),
            ("MessageSid", message_sid),
            ("AccountSid", &self.state.account_sid),
            ("From", from),
            ("ApiVersion", API_VERSION),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        for (i, (url, content_type)) in media.iter().enumerate() {
            fields.push((format!("MediaContentType{i}"), content_type.to_string()));
            fields.push((format!("MediaUrl{i}"), url.to_string()));
        }
        fields
    }

    /// POSTs form `params` to `public_url` as Twilio does, with `X-Twilio-Signature` computed
    /// over `public_url` + params with the account's auth token (or `auth_token_override`, to
    /// prove the receiver rejects a wrong signature). Returns (status, body).
    pub async fn deliver(
        &self,
        public_url: &str,
        params: &[(String, String)],
        auth_token_override: Option<&str>,
    ) -> anyhow::Result<(u16, String)> {
        let token = auth_token_override.unwrap_or(&self.state.auth_token);
        let sig = signature(token, public_url, params);
        let headers = [
            ("content-type", "application/x-www-form-urlencoded"),
            ("x-twilio-signature", sig.as_str()),
            ("user-agent", "TwilioProxy/1.1"),
        ];
        let (status, _, body) = post(public_url, &headers, form_encode(params)).await?;
        Ok((status, String::from_utf8_lossy(&body).into_owned()))
    }

    /// POSTs a signed status callback for a sent message to the `StatusCallback` URL it was
    /// sent with, and records the status on the resource. Fails when the sid is unknown or the
    /// message had no `StatusCallback`.
    pub async fn deliver_status(
        &self,
        sent_sid: &str,
        status: &str,
        error_code: Option<&str>,
    ) -> anyhow::Result<(u16, String)> {
        let (sent, callback) = {
            let mut inner = lock(&self.state.inner);
            let sent = inner
                .sent
                .iter()
                .find(|s| s.sid == sent_sid)
                .cloned()
                .ok_or_else(|| anyhow::anyhow!("no message {sent_sid} was sent"))?;
            let callback = sent
                .status_callback
                .clone()
                .ok_or_else(|| anyhow::anyhow!("message {sent_sid} has no StatusCallback"))?;
            if let Some(resource) = inner
                .resources
                .get_mut(sent_sid)
                .and_then(Value::as_object_mut)
            {
                resource.insert("status".into(), json!(status));
                let code = error_code.map(|c| c.parse::<i64>().map_or(json!(c), |n| json!(n)));
                resource.insert("error_code".into(), code.unwrap_or(Value::Null));
                resource.insert("date_updated".into(), json!(rfc2822(unix_now())));
            }
            (sent, callback)
        };
        let mut params: Vec<(String, String)> = Vec::new();
        let mut push = |k: &str, v: &str| params.push((k.to_string(), v.to_string()));
        push("SmsSid", &sent.sid);
        push("SmsStatus", status);
        push("MessageStatus", status);
        push("To", &sent.to);
        if let Some(mss) = &sent.messaging_service_sid {
            push("MessagingServiceSid", mss);
        }
        push("MessageSid", &sent.sid);
        push("AccountSid", &self.state.account_sid);
        if let Some(from) = &sent.from {
            push("From", from);
        }
        if let Some(code) = error_code {
            push("ErrorCode", code);
        }
        push("ApiVersion", API_VERSION);
        self.deliver(&callback, &params, None).await
    }
}

impl State {
    async fn handle(self: Arc<Self>, req: SimRequest) -> Response<Full<Bytes>> {
        let path = req.uri.path().to_string();
        if let Some(media_path) = path.strip_prefix("/media/") {
            return self.media(&req.method, media_path, &path);
        }
        if self.control.count_api_call() {
            return server_error(503).response();
        }
        match self.api(&req, &path).await {
            Ok((status, body)) => json_response(status, &body),
            Err(err) => err.response(),
        }
    }

    fn media(&self, method: &Method, media_path: &str, path: &str) -> Response<Full<Bytes>> {
        if method != Method::GET && method != Method::HEAD {
            return ApiError::new(405, 20004, "Method not allowed").response();
        }
        match lock(&self.inner).media.get(media_path) {
            Some((content_type, bytes)) => bytes_response(content_type, bytes.clone()),
            None => not_found(path).response(),
        }
    }

    fn authenticated(&self, req: &SimRequest) -> bool {
        let Some(encoded) = req
            .header("authorization")
            .and_then(|h| h.strip_prefix("Basic "))
        else {
            return false;
        };
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
            return false;
        };
        let Ok(decoded) = String::from_utf8(decoded) else {
            return false;
        };
        decoded.split_once(':') == Some((self.account_sid.as_str(), self.auth_token.as_str()))
    }

    async fn api(&self, req: &SimRequest, path: &str) -> Result<(u16, Value), ApiError> {
        if !self.authenticated(req) {
            return Err(authenticate_error());
        }
        let Some(rest) = path.strip_prefix(&format!("/{API_VERSION}/Accounts/")) else {
            return Err(not_found(path));
        };
        let segments: Vec<&str> = rest.split('/').collect();
        let (account, resource) = match segments.as_slice() {
            [account, "Messages.json"] => (*account, None),
            [account, "Messages", sid_json] => match sid_json.strip_suffix(".json") {
                Some(sid) => (*account, Some(sid)),
                None => return Err(not_found(path)),
            },
            _ => return Err(not_found(path)),
        };
        if account != self.account_sid {
            return Err(authenticate_error());
        }
        let allowed = match resource {
            None => req.method == Method::POST,
            Some(_) => req.method == Method::GET,
        };
        if !allowed {
            return Err(ApiError::new(405, 20004, "Method not allowed"));
        }
        match self.control.take_fault() {
            Gate::Proceed => {}
            Gate::Fault(Fault::Delay(delay)) => tokio::time::sleep(delay).await,
            Gate::Fault(Fault::RateLimit { retry_after_secs }) => {
                let mut err = ApiError::new(429, 20429, "Too Many Requests");
                err.retry_after = Some(retry_after_secs);
                return Err(err);
            }
            Gate::Fault(Fault::ServerError(status)) => return Err(server_error(status)),
        }
        match resource {
            Some(sid) => lock(&self.inner)
                .resources
                .get(sid)
                .cloned()
                .map(|r| (200, r))
                .ok_or_else(|| not_found(path)),
            None => {
                let params = if req.media_type() == "application/x-www-form-urlencoded" {
                    form_decode(&req.body)
                } else {
                    Vec::new()
                };
                self.create(params).map(|r| (201, r))
            }
        }
    }

    fn create(&self, params: Vec<(String, String)>) -> Result<Value, ApiError> {
        let first = |key: &str| {
            params
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
                .filter(|v| !v.is_empty())
        };
        let media_urls: Vec<String> = params
            .iter()
            .filter(|(k, v)| k == "MediaUrl" && !v.is_empty())
            .map(|(_, v)| v.clone())
            .collect();
        let mut inner = lock(&self.inner);

        let to =
            first("To").ok_or_else(|| ApiError::bad(21604, "A 'To' phone number is required."))?;
        if !is_e164(&to) {
            return Err(ApiError::bad(
                21211,
                format!("The 'To' number {to} is not a valid phone number."),
            ));
        }
        let from = first("From");
        let service = first("MessagingServiceSid");
        if from.is_none() && service.is_none() {
            return Err(ApiError::bad(
                21603,
                "A 'From' or 'MessagingServiceSid' parameter is required.",
            ));
        }
        if let Some(from) = &from {
            if !inner.numbers.contains(from) {
                return Err(ApiError::bad(
                    21606,
                    format!(
                        "The From phone number {from} is not a valid, SMS-capable inbound phone \
                         number or short code for your account."
                    ),
                ));
            }
        }
        let body = first("Body").unwrap_or_default();
        if body.is_empty() && media_urls.is_empty() {
            return Err(ApiError::bad(21602, "Message body is required."));
        }
        if body.chars().count() > MAX_BODY_CHARS {
            return Err(ApiError::bad(
                21617,
                "The concatenated message body exceeds the 1600 character limit.",
            ));
        }
        if media_urls.len() > MAX_MEDIA {
            return Err(ApiError::bad(
                21623,
                "Number of media files exceeds allowed limit.",
            ));
        }
        if media_urls.iter().any(|u| !is_http_url(u)) {
            return Err(ApiError::bad(21620, "Invalid media URL(s)"));
        }
        let status_callback = first("StatusCallback");
        if status_callback.as_deref().is_some_and(|u| !is_http_url(u)) {
            return Err(ApiError::bad(21609, "Invalid StatusCallback url"));
        }
        if inner.unsubscribed.contains(&to) {
            return Err(ApiError::bad(
                21610,
                "Attempt to send to unsubscribed recipient",
            ));
        }

        inner.counter += 1;
        let digest = Sha256::digest(
            format!("{}:{}:{}", self.account_sid, inner.counter, unix_now()).as_bytes(),
        );
        let sid = format!("SM{}", hex::encode(&digest[..16]));
        let now = rfc2822(unix_now());
        let base = format!(
            "/{API_VERSION}/Accounts/{}/Messages/{sid}",
            self.account_sid
        );
        let status = if from.is_none() { "accepted" } else { "queued" };
        let resource = json!({
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": body,
            "date_created": now,
            "date_sent": null,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": null,
            "error_message": null,
            "from": from,
            "messaging_service_sid": service,
            "num_media": media_urls.len().to_string(),
            "num_segments": num_segments(&body).to_string(),
            "price": null,
            "price_unit": "USD",
            "sid": sid,
            "status": status,
            "subresource_uris": {
                "media": format!("{base}/Media.json"),
                "feedback": format!("{base}/Feedback.json"),
            },
            "to": to,
            "uri": format!("{base}.json"),
        });
        inner.resources.insert(sid.clone(), resource.clone());
        inner.sent.push(SentSms {
            sid,
            to,
            from,
            messaging_service_sid: service,
            body,
            media_urls,
            status_callback,
            params,
            resource: resource.clone(),
        });
        Ok(resource)
    }
}

impl crate::server::Faults for TwilioSim {
    fn control(&self) -> &crate::server::Control {
        &self.state.control
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// Twilio's published worked example (twilio.com/docs/usage/security), recomputed with
    /// Python's `hmac` before being written down here.
    #[test]
    fn signature_matches_twilio_published_worked_example() {
        let params = pairs(&[
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+12349013030"),
            ("Digits", "1234"),
            ("From", "+12349013030"),
            ("To", "+18005551212"),
        ]);
        assert_eq!(
            signature(
                "12345",
                "https://mycompany.com/myapp.php?foo=1&bar=2",
                &params
            ),
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        );
    }

    #[test]
    fn signature_does_not_depend_on_parameter_order() {
        let url = "https://example.com/sms";
        let a = pairs(&[("To", "+1"), ("Body", "hi"), ("From", "+2")]);
        let b = pairs(&[("From", "+2"), ("To", "+1"), ("Body", "hi")]);
        assert_eq!(signature("tok", url, &a), signature("tok", url, &b));
        assert_ne!(signature("tok", url, &a), signature("other", url, &a));
    }

    #[test]
    fn segments_follow_gsm7_and_ucs2_limits() {
        assert_eq!(num_segments(""), 1);
        assert_eq!(num_segments(&"a".repeat(160)), 1);
        assert_eq!(num_segments(&"a".repeat(161)), 2);
        assert_eq!(num_segments(&"a".repeat(306)), 2);
        assert_eq!(num_segments(&"a".repeat(307)), 3);
        assert_eq!(num_segments(&"€".repeat(80)), 1);
        assert_eq!(num_segments(&"€".repeat(81)), 2);
        assert_eq!(num_segments(&"ж".repeat(70)), 1);
        assert_eq!(num_segments(&"ж".repeat(71)), 2);
        assert_eq!(num_segments(&"ж".repeat(134)), 2);
        assert_eq!(num_segments(&"ж".repeat(135)), 3);
    }

    #[test]
    fn e164_requires_plus_and_8_to_15_digits() {
        assert!(is_e164("+15551234567"));
        assert!(is_e164("+12345678"));
        assert!(is_e164("+123456789012345"));
        assert!(!is_e164("15551234567"));
        assert!(!is_e164("+1234567"));
        assert!(!is_e164("+1234567890123456"));
        assert!(!is_e164("+1555-123-4567"));
    }
}
