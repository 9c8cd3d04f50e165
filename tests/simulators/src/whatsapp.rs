//! WhatsApp Business Cloud API simulator ([`WhatsAppSim`]): the Graph
//! `POST /{version}/{phone-number-id}/messages` endpoint with bearer-token auth, Meta's
//! validation limits and Graph error bodies, the 24-hour customer-service window (131047),
//! registered message templates (132001/132000), fault injection, builders for real webhook
//! notifications (text, interactive reply, status) and their signed delivery
//! (`X-Hub-Signature-256`, over the escaped-unicode JSON Meta sends).
//!
//! Faults ([`crate::Faults`]): a rate limit answers HTTP 429 with Graph code 130429 plus
//! `Retry-After` (which Graph itself does not send, so tests control the wait); a server
//! error answers code 131000 (code 2 for 503), marked `is_transient`; down is 503.
//!
//! The window is tracked from the webhooks this simulator generates: building an inbound
//! message for a `wa_id` records that the customer wrote at that moment.
//!
//! Meta reports a send outside the window (131047) either in the send answer or as a
//! `failed` status webhook; this simulator answers it synchronously (HTTP 400), so the
//! refusal is visible to the send call.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use hmac::{Hmac, Mac as _};
use http::Method;
use http_body_util::Full;
use hyper::Response;
use serde::Serialize;
use serde_json::{json, Value};
use sha1::Sha1;
use sha2::Sha256;

use crate::graph::{chars, messages_node, str_field, GraphError};
use crate::server::{
    json_response, lock, post, request, unix_now, Control, Fault, Gate, Handler, HttpResponse,
    Server, SimRequest,
};

/// The Graph API version the simulator's URLs use by default (any `vNN.N` is accepted).
pub const API_VERSION: &str = "v21.0";
/// The customer-service window, in seconds.
pub const WINDOW_SECS: u64 = 24 * 3600;
/// The WhatsApp Business Account id in generated webhooks.
pub const WABA_ID: &str = "102290129340398";
/// `text.body`.
pub const MAX_TEXT: usize = 4096;
/// Media captions and the body of reply-button messages.
pub const MAX_CAPTION: usize = 1024;
/// Reply buttons: count, title, id.
pub const MAX_BUTTONS: usize = 3;
pub const MAX_BUTTON_TITLE: usize = 20;
pub const MAX_BUTTON_ID: usize = 256;
/// Lists: button label, sections, rows in total, row title/description/id, section title.
pub const MAX_LIST_BUTTON: usize = 20;
pub const MAX_SECTIONS: usize = 10;
pub const MAX_ROWS: usize = 10;
pub const MAX_ROW_TITLE: usize = 24;
pub const MAX_ROW_DESCRIPTION: usize = 72;
pub const MAX_ROW_ID: usize = 200;
pub const MAX_SECTION_TITLE: usize = 24;
/// Interactive header and footer text.
pub const MAX_HEADER_FOOTER: usize = 60;

/// `sha256=` + hex HMAC-SHA256(app_secret, body): the `X-Hub-Signature-256` header value.
pub fn signature(app_secret: &str, body: &[u8]) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(app_secret.as_bytes()) else {
        return String::new();
    };
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The legacy `X-Hub-Signature` value: `sha1=` + hex HMAC-SHA1.
pub fn signature_sha1(app_secret: &str, body: &[u8]) -> String {
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(app_secret.as_bytes()) else {
        return String::new();
    };
    mac.update(body);
    format!("sha1={}", hex::encode(mac.finalize().into_bytes()))
}

/// JSON as Meta puts it on the wire: every non-ASCII character escaped as `\uXXXX` (UTF-16).
pub fn meta_json(value: &Value) -> String {
    let raw = value.to_string();
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

/// One message accepted by the `messages` endpoint.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SentWhatsApp {
    /// The assigned `wamid.…`.
    pub id: String,
    /// The recipient's wa_id (digits only).
    pub to: String,
    /// `type`: text, image, interactive, template, ...
    pub kind: String,
    /// The request body as sent.
    pub body: Value,
}

/// An in-process WhatsApp Cloud API. Stops when dropped.
#[derive(Debug)]
pub struct WhatsAppSim {
    state: Arc<State>,
    server: Server,
}

#[derive(Debug)]
struct State {
    access_token: String,
    app_secret: String,
    phone_number_id: String,
    display_phone_number: String,
    control: Control,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// (name, language code) → number of body parameters.
    templates: HashMap<(String, String), usize>,
    /// wa_id → when the customer last wrote (Unix seconds).
    last_inbound: HashMap<String, u64>,
    /// wa_ids that are not on WhatsApp (131026).
    unreachable: HashSet<String>,
    sent: Vec<SentWhatsApp>,
    counter: u64,
}

/// A 400 with `error_data.details` saying what exactly is wrong.
fn param(code: u32, details: impl Into<String>) -> GraphError {
    let message = match code {
        131008 => "(#131008) Required parameter is missing",
        131009 => "(#131009) Parameter value is not valid",
        _ => "(#100) Invalid parameter",
    };
    with_details(GraphError::new(400, code, message), details)
}

/// WhatsApp's `error_data`: `{"messaging_product": "whatsapp", "details": …}`.
fn with_details(mut err: GraphError, details: impl Into<String>) -> GraphError {
    err.error_data = Some(json!({"messaging_product": "whatsapp", "details": details.into()}));
    err
}

fn invalid_token() -> GraphError {
    GraphError::new(
        401,
        190,
        "Error validating access token: The session is invalid because the user logged out.",
    )
}

fn server_error(status: u16) -> GraphError {
    if status == 503 {
        GraphError::new(503, 2, "(#2) Service temporarily unavailable")
    } else {
        GraphError::new(status, 131000, "(#131000) Something went wrong")
    }
    .transient()
}

/// A required, non-empty string no longer than `max`.
fn bounded(v: &Value, key: &str, path: &str, max: usize) -> Result<String, GraphError> {
    let s = str_field(v, key)
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| param(131008, format!("Param {path} is required")))?;
    if chars(s) > max {
        return Err(param(
            131009,
            format!(
                "Param {path} must be at most {max} characters long, got {}",
                chars(s)
            ),
        ));
    }
    Ok(s.to_string())
}

/// An optional string no longer than `max`.
fn optional_bounded(v: &Value, key: &str, path: &str, max: usize) -> Result<(), GraphError> {
    if let Some(s) = str_field(v, key) {
        if chars(s) > max {
            return Err(param(
                131009,
                format!(
                    "Param {path} must be at most {max} characters long, got {}",
                    chars(s)
                ),
            ));
        }
    }
    Ok(())
}

fn validate_media(kind: &str, media: &Value) -> Result<(), GraphError> {
    let id = str_field(media, "id");
    let link = str_field(media, "link");
    match (id, link) {
        (Some(_), Some(_)) | (None, None) => {
            return Err(param(
                100,
                format!("Param {kind} must have exactly one of 'id' or 'link'"),
            ))
        }
        (None, Some(link)) if !(link.starts_with("https://") || link.starts_with("http://")) => {
            return Err(param(
                131009,
                format!("Param {kind}['link'] is not a valid URL"),
            ))
        }
        _ => {}
    }
    if media.get("caption").is_some() {
        if kind == "audio" || kind == "sticker" {
            return Err(param(
                100,
                format!("Param {kind}['caption'] is not allowed for {kind} messages"),
            ));
        }
        optional_bounded(media, "caption", &format!("{kind}['caption']"), MAX_CAPTION)?;
    }
    if media.get("filename").is_some() && kind != "document" {
        return Err(param(
            100,
            format!("Param {kind}['filename'] is only allowed for documents"),
        ));
    }
    Ok(())
}

fn validate_interactive(i: &Value) -> Result<(), GraphError> {
    let kind = str_field(i, "type").unwrap_or_default();
    let body = i.get("body").cloned().unwrap_or(Value::Null);
    if let Some(header) = i.get("header") {
        optional_bounded(
            header,
            "text",
            "interactive['header']['text']",
            MAX_HEADER_FOOTER,
        )?;
    }
    if let Some(footer) = i.get("footer") {
        optional_bounded(
            footer,
            "text",
            "interactive['footer']['text']",
            MAX_HEADER_FOOTER,
        )?;
    }
    let action = i.get("action").cloned().unwrap_or(Value::Null);
    match kind {
        "button" => {
            bounded(&body, "text", "interactive['body']['text']", MAX_CAPTION)?;
            let buttons = action
                .get("buttons")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            if buttons.is_empty() || buttons.len() > MAX_BUTTONS {
                return Err(param(
                    131009,
                    format!(
                        "Param interactive['action']['buttons'] must have 1 to {MAX_BUTTONS} \
                         buttons, got {}",
                        buttons.len()
                    ),
                ));
            }
            let mut ids = HashSet::new();
            let mut titles = HashSet::new();
            for (n, b) in buttons.iter().enumerate() {
                if str_field(b, "type") != Some("reply") {
                    return Err(param(
                        100,
                        format!(
                            "Param interactive['action']['buttons'][{n}]['type'] must be 'reply'"
                        ),
                    ));
                }
                let reply = b.get("reply").cloned().unwrap_or(Value::Null);
                let path = format!("interactive['action']['buttons'][{n}]['reply']");
                let id = bounded(&reply, "id", &format!("{path}['id']"), MAX_BUTTON_ID)?;
                let title = bounded(
                    &reply,
                    "title",
                    &format!("{path}['title']"),
                    MAX_BUTTON_TITLE,
                )?;
                if !ids.insert(id) || !titles.insert(title) {
                    return Err(param(131009, "Buttons must have unique ids and titles"));
                }
            }
        }
        "list" => {
            bounded(&body, "text", "interactive['body']['text']", MAX_TEXT)?;
            bounded(
                &action,
                "button",
                "interactive['action']['button']",
                MAX_LIST_BUTTON,
            )?;
            let sections = action
                .get("sections")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            if sections.is_empty() || sections.len() > MAX_SECTIONS {
                return Err(param(
                    131009,
                    format!(
                        "Param interactive['action']['sections'] must have 1 to {MAX_SECTIONS} \
                         sections, got {}",
                        sections.len()
                    ),
                ));
            }
            let mut total = 0;
            let mut ids = HashSet::new();
            for (s, section) in sections.iter().enumerate() {
                let path = format!("interactive['action']['sections'][{s}]");
                if sections.len() > 1 {
                    bounded(
                        section,
                        "title",
                        &format!("{path}['title']"),
                        MAX_SECTION_TITLE,
                    )?;
                } else {
                    optional_bounded(
                        section,
                        "title",
                        &format!("{path}['title']"),
                        MAX_SECTION_TITLE,
                    )?;
                }
                let rows = section
                    .get("rows")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                for (r, row) in rows.iter().enumerate() {
                    let path = format!("{path}['rows'][{r}]");
                    let id = bounded(row, "id", &format!("{path}['id']"), MAX_ROW_ID)?;
                    bounded(row, "title", &format!("{path}['title']"), MAX_ROW_TITLE)?;
                    optional_bounded(
                        row,
                        "description",
                        &format!("{path}['description']"),
                        MAX_ROW_DESCRIPTION,
                    )?;
                    if !ids.insert(id) {
                        return Err(param(131009, "Row ids must be unique"));
                    }
                }
                total += rows.len();
            }
            if total == 0 || total > MAX_ROWS {
                return Err(param(
                    131009,
                    format!("Total row count exceed max allowed count: {MAX_ROWS} (got {total})"),
                ));
            }
        }
        other => {
            return Err(param(
                100,
                format!("Param interactive['type'] `{other}` is not supported by the simulator"),
            ))
        }
    }
    Ok(())
}

impl WhatsAppSim {
    /// Starts a Cloud API that accepts `access_token`, signs webhooks with `app_secret` and
    /// owns the business number `phone_number_id`.
    pub async fn start(
        access_token: &str,
        app_secret: &str,
        phone_number_id: &str,
    ) -> anyhow::Result<Self> {
        let state = Arc::new(State {
            access_token: access_token.to_string(),
            app_secret: app_secret.to_string(),
            phone_number_id: phone_number_id.to_string(),
            display_phone_number: "15550783881".to_string(),
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

    /// `http://127.0.0.1:<port>`: the `api_base` of a channel.
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// `{base_url}/{API_VERSION}/{phone_number_id}/messages`.
    pub fn messages_url(&self) -> String {
        format!(
            "{}/{API_VERSION}/{}/messages",
            self.base_url(),
            self.state.phone_number_id
        )
    }

    /// The business phone number id.
    pub fn phone_number_id(&self) -> &str {
        &self.state.phone_number_id
    }

    /// Registers an approved template with `body_params` positional body parameters.
    pub fn register_template(&self, name: &str, language: &str, body_params: usize) {
        lock(&self.state.inner)
            .templates
            .insert((name.to_string(), language.to_string()), body_params);
    }

    /// Records that `wa_id` wrote at `unix_secs` (opens or refreshes the window).
    pub fn customer_wrote_at(&self, wa_id: &str, unix_secs: u64) {
        lock(&self.state.inner)
            .last_inbound
            .insert(wa_id.to_string(), unix_secs);
    }

    /// Moves `wa_id`'s last message 25 hours into the past: the window is closed.
    pub fn close_window(&self, wa_id: &str) {
        self.customer_wrote_at(wa_id, unix_now().saturating_sub(WINDOW_SECS + 3600));
    }

    /// Is the customer-service window with `wa_id` open now?
    pub fn window_open(&self, wa_id: &str) -> bool {
        lock(&self.state.inner)
            .last_inbound
            .get(wa_id)
            .is_some_and(|t| unix_now().saturating_sub(*t) < WINDOW_SECS)
    }

    /// `wa_id` is not a WhatsApp user: sends to it fail with 131026.
    pub fn make_unreachable(&self, wa_id: &str) {
        lock(&self.state.inner)
            .unreachable
            .insert(wa_id.to_string());
    }

    /// Accepted messages, in order.
    pub fn sent(&self) -> Vec<SentWhatsApp> {
        lock(&self.state.inner).sent.clone()
    }

    fn next_wamid(&self, seed: &str) -> String {
        let mut inner = lock(&self.state.inner);
        inner.counter += 1;
        wamid(&self.state.phone_number_id, seed, inner.counter)
    }

    fn notification(&self, value: Value) -> Value {
        let mut value = value;
        value["messaging_product"] = json!("whatsapp");
        value["metadata"] = json!({
            "display_phone_number": self.state.display_phone_number,
            "phone_number_id": self.state.phone_number_id,
        });
        json!({
            "object": "whatsapp_business_account",
            "entry": [{"id": WABA_ID, "changes": [{"value": value, "field": "messages"}]}],
        })
    }

    fn inbound(&self, wa_id: &str, name: &str, message: Value) -> Value {
        self.inbound_at(wa_id, name, message, unix_now())
    }

    fn inbound_at(&self, wa_id: &str, name: &str, message: Value, now: u64) -> Value {
        self.customer_wrote_at(wa_id, now);
        let mut message = message;
        message["from"] = json!(wa_id);
        message["id"] = json!(self.next_wamid(wa_id));
        message["timestamp"] = json!(now.to_string());
        self.notification(json!({
            "contacts": [{"profile": {"name": name}, "wa_id": wa_id}],
            "messages": [message],
        }))
    }

    /// The notification Meta posts when `wa_id` (profile name `name`) sends `text`. Opens the
    /// customer-service window.
    pub fn text_message(&self, wa_id: &str, name: &str, text: &str) -> Value {
        self.inbound(wa_id, name, json!({"type": "text", "text": {"body": text}}))
    }

    /// A text the customer wrote at `unix_secs` (a notification Meta delivers late): the
    /// window runs from then.
    pub fn text_message_at(&self, wa_id: &str, name: &str, text: &str, unix_secs: u64) -> Value {
        self.inbound_at(
            wa_id,
            name,
            json!({"type": "text", "text": {"body": text}}),
            unix_secs,
        )
    }

    /// The notification for a tap on a reply button (`reply_type` `button_reply`) or a list
    /// row (`list_reply`) of the message `context_id` we sent. Refreshes the window.
    pub fn interactive_reply(
        &self,
        wa_id: &str,
        name: &str,
        context_id: &str,
        reply_type: &str,
        id: &str,
        title: &str,
    ) -> Value {
        self.inbound(
            wa_id,
            name,
            json!({
                "context": {"from": self.state.display_phone_number, "id": context_id},
                "type": "interactive",
                "interactive": {"type": reply_type, reply_type: {"id": id, "title": title}},
            }),
        )
    }

    /// The status notification for a message we accepted (`sent`, `delivered`, `read` or
    /// `failed` with `error` = (code, title)).
    pub fn status(&self, wamid: &str, status: &str, error: Option<(u32, &str)>) -> Value {
        let recipient = lock(&self.state.inner)
            .sent
            .iter()
            .find(|s| s.id == wamid)
            .map(|s| s.to.clone())
            .unwrap_or_default();
        let mut item = json!({
            "id": wamid,
            "status": status,
            "timestamp": unix_now().to_string(),
            "recipient_id": recipient,
        });
        if status != "failed" {
            item["conversation"] = json!({"id": "a75d17ad06104c51166f948319b03c6a",
                                          "origin": {"type": "service"}});
            item["pricing"] = json!({"billable": true, "pricing_model": "CBP",
                                     "category": "service"});
        }
        if let Some((code, title)) = error {
            item["errors"] = json!([{
                "code": code, "title": title, "message": title,
                "error_data": {"details": title},
                "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
            }]);
        }
        self.notification(json!({ "statuses": [item] }))
    }

    /// POSTs `notification` to `url` as Meta does: escaped-unicode JSON, signed with the app
    /// secret (or `app_secret_override`, to prove the receiver rejects a wrong signature).
    /// Returns (status, body).
    pub async fn deliver(
        &self,
        url: &str,
        notification: &Value,
        app_secret_override: Option<&str>,
    ) -> anyhow::Result<(u16, String)> {
        let secret = app_secret_override.unwrap_or(&self.state.app_secret);
        let body = meta_json(notification);
        let sig256 = signature(secret, body.as_bytes());
        let sig1 = signature_sha1(secret, body.as_bytes());
        let headers = [
            ("content-type", "application/json"),
            ("x-hub-signature-256", sig256.as_str()),
            ("x-hub-signature", sig1.as_str()),
            ("user-agent", "facebookexternalua"),
        ];
        let (status, _, body) = post(url, &headers, body).await?;
        Ok((status, String::from_utf8_lossy(&body).into_owned()))
    }

    /// The GET Meta sends to verify a webhook: `hub.mode=subscribe`, `hub.verify_token`,
    /// `hub.challenge`.
    pub async fn verify_webhook(
        &self,
        url: &str,
        verify_token: &str,
        challenge: &str,
    ) -> anyhow::Result<HttpResponse> {
        let url = format!(
            "{url}?hub.mode=subscribe&hub.verify_token={}&hub.challenge={}",
            encode(verify_token),
            encode(challenge)
        );
        request(Method::GET, &url, &[], Bytes::new()).await
    }
}

/// A message id in Meta's style (`wamid.` + an opaque, unique token).
fn wamid(key: &str, seed: &str, counter: u64) -> String {
    let raw = format!("{seed}:{counter}:{}", unix_now());
    let mac = signature(key, raw.as_bytes());
    let token: String = mac.trim_start_matches("sha256=").chars().take(32).collect();
    format!("wamid.HBgL{}", token.to_ascii_uppercase())
}

fn encode(s: &str) -> String {
    let pair = crate::server::form_encode(&[(String::new(), s.to_string())]);
    pair.trim_start_matches('=').to_string()
}

impl State {
    async fn handle(self: Arc<Self>, req: SimRequest) -> Response<Full<Bytes>> {
        if self.control.count_api_call() {
            return server_error(503).response();
        }
        match self.api(&req).await {
            Ok(body) => json_response(200, &body),
            Err(err) => err.response(),
        }
    }

    fn authenticated(&self, req: &SimRequest) -> bool {
        req.header("authorization")
            .and_then(|h| h.strip_prefix("Bearer "))
            .is_some_and(|t| t.trim() == self.access_token)
    }

    async fn api(&self, req: &SimRequest) -> Result<Value, GraphError> {
        let path = req.uri.path().to_string();
        let number = messages_node(&path)?;
        if !self.authenticated(req) {
            return Err(invalid_token());
        }
        if number != self.phone_number_id {
            return Err(GraphError::new(
                400,
                100,
                format!(
                    "Unsupported post request. Object with ID '{number}' does not exist, cannot be \
                     loaded due to missing permissions, or does not support this operation."
                ),
            ));
        }
        if req.method != Method::POST {
            return Err(GraphError::new(400, 100, "Unsupported get request."));
        }
        match self.control.take_fault() {
            Gate::Proceed => {}
            Gate::Fault(Fault::Delay(delay)) => tokio::time::sleep(delay).await,
            Gate::Fault(Fault::RateLimit { retry_after_secs }) => {
                let err = GraphError::new(429, 130429, "(#130429) Rate limit hit");
                return Err(with_details(
                    err,
                    "Message failed to send because there were too many messages sent from this \
                     phone number in a short period of time",
                )
                .retry_after(retry_after_secs));
            }
            Gate::Fault(Fault::ServerError(status)) => return Err(server_error(status)),
        }
        if req.media_type() != "application/json" {
            return Err(param(100, "The request body must be JSON"));
        }
        let body: Value = serde_json::from_slice(&req.body)
            .map_err(|e| param(100, format!("Malformed JSON body: {e}")))?;
        self.create(body)
    }

    fn create(&self, body: Value) -> Result<Value, GraphError> {
        if str_field(&body, "messaging_product") != Some("whatsapp") {
            return Err(param(
                100,
                "The parameter messaging_product is required and must be 'whatsapp'",
            ));
        }
        if let Some(rt) = str_field(&body, "recipient_type") {
            if rt != "individual" {
                return Err(param(100, "Param recipient_type must be 'individual'"));
            }
        }
        let to_raw = str_field(&body, "to")
            .ok_or_else(|| param(131008, "The parameter to is required."))?
            .to_string();
        let to: String = to_raw.chars().filter(char::is_ascii_digit).collect();
        let plausible = to_raw
            .chars()
            .all(|c| c.is_ascii_digit() || "+ -()".contains(c));
        if !plausible || !(8..=15).contains(&to.len()) {
            return Err(param(100, format!("Invalid 'to' phone number: {to_raw}")));
        }
        let kind = str_field(&body, "type").unwrap_or("text").to_string();
        let part = body.get(kind.as_str()).cloned().unwrap_or(Value::Null);
        if part.is_null() {
            return Err(param(131008, format!("Param {kind} is required")));
        }
        match kind.as_str() {
            "text" => {
                bounded(&part, "body", "text['body']", MAX_TEXT)?;
                if part.get("preview_url").is_some_and(|p| !p.is_boolean()) {
                    return Err(param(100, "Param text['preview_url'] must be a boolean"));
                }
            }
            "image" | "video" | "audio" | "document" | "sticker" => validate_media(&kind, &part)?,
            "interactive" => validate_interactive(&part)?,
            "template" => self.validate_template(&part)?,
            "location" | "contacts" | "reaction" => {}
            other => {
                return Err(param(
                    100,
                    format!("Param type `{other}` is not a valid message type"),
                ))
            }
        }
        if let Some(context) = body.get("context") {
            if str_field(context, "message_id").is_none() {
                return Err(param(131008, "Param context['message_id'] is required"));
            }
        }
        let mut inner = lock(&self.inner);
        if inner.unreachable.contains(&to) {
            return Err(with_details(
                GraphError::new(400, 131026, "(#131026) Message undeliverable"),
                "Message Undeliverable: the recipient is not a WhatsApp user",
            ));
        }
        let in_window = inner
            .last_inbound
            .get(&to)
            .is_some_and(|t| unix_now().saturating_sub(*t) < WINDOW_SECS);
        if kind != "template" && !in_window {
            return Err(with_details(
                GraphError::new(400, 131047, "(#131047) Re-engagement message"),
                "Message failed to send because more than 24 hours have passed since the \
                 customer last replied to this number.",
            ));
        }
        inner.counter += 1;
        let id = wamid(&self.phone_number_id, &to, inner.counter);
        inner.sent.push(SentWhatsApp {
            id: id.clone(),
            to: to.clone(),
            kind: kind.clone(),
            body,
        });
        let mut message = json!({ "id": id });
        if kind == "template" {
            message["message_status"] = json!("accepted");
        }
        Ok(json!({
            "messaging_product": "whatsapp",
            "contacts": [{"input": to_raw, "wa_id": to}],
            "messages": [message],
        }))
    }

    fn validate_template(&self, t: &Value) -> Result<(), GraphError> {
        let name = str_field(t, "name")
            .ok_or_else(|| param(131008, "Param template['name'] is required"))?;
        let language = t
            .get("language")
            .and_then(|l| str_field(l, "code"))
            .ok_or_else(|| param(131008, "Param template['language']['code'] is required"))?;
        let Some(expected) = lock(&self.inner)
            .templates
            .get(&(name.to_string(), language.to_string()))
            .copied()
        else {
            return Err(with_details(
                GraphError::new(
                    404,
                    132001,
                    "(#132001) Template name does not exist in the translation",
                ),
                format!("template name ({name}) does not exist in {language}"),
            ));
        };
        let given = t
            .get("components")
            .and_then(Value::as_array)
            .map(|components| {
                components
                    .iter()
                    .filter(|c| str_field(c, "type") == Some("body"))
                    .map(|c| {
                        c.get("parameters")
                            .and_then(Value::as_array)
                            .map_or(0, Vec::len)
                    })
                    .sum::<usize>()
            })
            .unwrap_or(0);
        if given != expected {
            return Err(with_details(
                GraphError::new(
                    400,
                    132000,
                    "(#132000) Number of parameters does not match the expected number of params",
                ),
                format!(
                    "body: number of localizable_params ({given}) does not match the expected \
                     number of params ({expected})"
                ),
            ));
        }
        Ok(())
    }
}

impl crate::server::Faults for WhatsAppSim {
    fn control(&self) -> &crate::server::Control {
        &self.state.control
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Recomputed with Python: hmac.new(b"app-secret", b'{"a":1}', hashlib.sha256).hexdigest().
    #[test]
    fn signature_is_prefixed_lowercase_hex_hmac_sha256() {
        assert_eq!(
            signature("app-secret", br#"{"a":1}"#),
            "sha256=a2ac6607a24977f9757e6d78319ae1660ad42ffeee0ee3f0dff30a92bcf85448"
        );
    }

    #[test]
    fn meta_json_escapes_non_ascii_as_utf16() {
        let v = json!({"text": "Grüße 👍"});
        assert_eq!(meta_json(&v), r#"{"text":"Gr\u00fc\u00dfe \ud83d\udc4d"}"#);
        let back: Value = serde_json::from_str(&meta_json(&v)).unwrap_or_default();
        assert_eq!(back, v);
    }
}
