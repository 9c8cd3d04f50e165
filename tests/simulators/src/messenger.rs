//! Facebook Messenger Send API simulator ([`MessengerSim`]): the Graph
//! `POST /{version}/me/messages?access_token=…` endpoint (also `/{page-id}/messages`) with the
//! Page token checked (190 otherwise), Meta's validation limits and Graph error bodies, the
//! 24-hour standard window and the 7-day `HUMAN_AGENT` tag window (10 / 2018278), unknown PSIDs
//! (100 / 2018001), unavailable people (551), fault injection (down → 5xx, rate limit → 613),
//! builders for real `object=page` webhooks (text, quick-reply tap, postback, delivery, read)
//! and their signed delivery (`X-Hub-Signature-256`, over the escaped-unicode JSON Meta sends).
//!
//! The windows are tracked from the webhooks this simulator generates: building an inbound
//! message for a PSID records that the customer wrote at that moment, and only PSIDs that
//! wrote to the Page exist (Messenger has no cold outreach).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::Method;
use http_body_util::Full;
use hyper::Response;
use serde::Serialize;
use serde_json::{json, Value};

use crate::graph::{chars, messages_node, str_field, GraphError};
use crate::server::{
    json_response, lock, post, request, Control, Fault, Gate, Handler, HttpResponse, Server,
    SimRequest,
};
use crate::whatsapp::{meta_json, signature};

/// The Graph API version the simulator's URLs use by default (any `vNN.N` is accepted).
pub const API_VERSION: &str = "v21.0";
/// The standard messaging window and the `HUMAN_AGENT` window, in milliseconds.
pub const WINDOW_MS: u64 = 24 * 3_600_000;
pub const HUMAN_AGENT_WINDOW_MS: u64 = 7 * 24 * 3_600_000;
/// `message.text`.
pub const MAX_TEXT: usize = 2000;
/// Quick replies: count, title, payload.
pub const MAX_QUICK_REPLIES: usize = 13;
pub const MAX_QUICK_REPLY_TITLE: usize = 20;
pub const MAX_PAYLOAD: usize = 1000;
/// Button template: text, buttons, button title.
pub const MAX_BUTTON_TEXT: usize = 640;
pub const MAX_BUTTONS: usize = 3;
pub const MAX_BUTTON_TITLE: usize = 20;
/// Generic template: elements, title, subtitle.
pub const MAX_ELEMENTS: usize = 10;
pub const MAX_ELEMENT_TITLE: usize = 80;
pub const MAX_ELEMENT_SUBTITLE: usize = 80;
/// The message tags Meta still accepts with `messaging_type: MESSAGE_TAG`.
pub const ALLOWED_TAGS: &[&str] = &[
    "CONFIRMED_EVENT_UPDATE",
    "POST_PURCHASE_UPDATE",
    "ACCOUNT_UPDATE",
    "HUMAN_AGENT",
];

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// One message accepted by the Send API.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SentMessenger {
    /// The assigned `m_…` message id.
    pub mid: String,
    /// `recipient.id`.
    pub psid: String,
    /// `RESPONSE`, `UPDATE` or `MESSAGE_TAG`.
    pub messaging_type: String,
    pub tag: Option<String>,
    /// The `message` object as sent.
    pub message: Value,
}

/// An in-process Messenger Send API. Stops when dropped.
#[derive(Debug)]
pub struct MessengerSim {
    state: Arc<State>,
    server: Server,
}

#[derive(Debug)]
struct State {
    access_token: String,
    app_secret: String,
    page_id: String,
    control: Control,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// PSID → when the customer last wrote (ms).
    last_inbound: HashMap<String, u64>,
    /// PSIDs that blocked the Page or deleted their account (551).
    unavailable: HashSet<String>,
    /// `(code, subcode, message)` answered to the next sends instead of accepting them.
    refusals: Vec<(u32, Option<u32>, String)>,
    sent: Vec<SentMessenger>,
    counter: u64,
}

/// `(#100) …`: an invalid parameter, saying which.
fn param(message: impl Into<String>) -> GraphError {
    GraphError::new(400, 100, format!("(#100) {}", message.into()))
}

fn invalid_token() -> GraphError {
    GraphError::new(
        400,
        190,
        "Invalid OAuth access token - Cannot parse access token",
    )
}

fn server_error(status: u16) -> GraphError {
    if status == 503 {
        GraphError::new(503, 2, "(#2) Service temporarily unavailable")
    } else {
        GraphError::new(status, 1, "An unknown error occurred")
    }
}

fn outside_window() -> GraphError {
    GraphError::new(
        400,
        10,
        "(#10) This message is sent outside of allowed window. Learn more about the new policy \
         here: https://developers.facebook.com/docs/messenger-platform/policy-overview",
    )
    .subcode(2018278)
}

/// A required, non-empty string no longer than `max`.
fn bounded(v: &Value, key: &str, path: &str, max: usize) -> Result<String, GraphError> {
    let s = str_field(v, key)
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| param(format!("param {path} must be non-empty.")))?;
    if chars(s) > max {
        return Err(param(format!(
            "param {path} has too many characters: at most {max}, got {}.",
            chars(s)
        )));
    }
    Ok(s.to_string())
}

fn optional_bounded(v: &Value, key: &str, path: &str, max: usize) -> Result<(), GraphError> {
    if v.get(key).is_some() {
        bounded(v, key, path, max)?;
    }
    Ok(())
}

fn url_field(v: &Value, key: &str, path: &str) -> Result<(), GraphError> {
    let url = str_field(v, key).unwrap_or_default();
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(param(format!("param {path} must be a valid URL.")));
    }
    Ok(())
}

fn array<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn validate_buttons(buttons: &[Value], path: &str) -> Result<(), GraphError> {
    if buttons.len() > MAX_BUTTONS {
        return Err(param(format!(
            "param {path} must have at most {MAX_BUTTONS} buttons, got {}.",
            buttons.len()
        )));
    }
    for (i, b) in buttons.iter().enumerate() {
        let at = format!("{path}[{i}]");
        bounded(b, "title", &format!("{at}[title]"), MAX_BUTTON_TITLE)?;
        match str_field(b, "type") {
            Some("postback") | Some("phone_number") => {
                bounded(b, "payload", &format!("{at}[payload]"), MAX_PAYLOAD)?;
            }
            Some("web_url") => url_field(b, "url", &format!("{at}[url]"))?,
            other => {
                return Err(param(format!(
                "param {at}[type] must be one of postback, web_url, phone_number, got {other:?}."
            )))
            }
        }
    }
    Ok(())
}

fn validate_template(payload: &Value) -> Result<(), GraphError> {
    match str_field(payload, "template_type") {
        Some("button") => {
            bounded(
                payload,
                "text",
                "message[attachment][payload][text]",
                MAX_BUTTON_TEXT,
            )?;
            let buttons = array(payload, "buttons");
            if buttons.is_empty() {
                return Err(param(
                    "param message[attachment][payload][buttons] must be non-empty.",
                ));
            }
            validate_buttons(buttons, "message[attachment][payload][buttons]")
        }
        Some("generic") => {
            let elements = array(payload, "elements");
            if elements.is_empty() || elements.len() > MAX_ELEMENTS {
                return Err(param(format!(
                    "param message[attachment][payload][elements] must have 1 to {MAX_ELEMENTS} \
                     elements, got {}.",
                    elements.len()
                )));
            }
            for (i, e) in elements.iter().enumerate() {
                let at = format!("message[attachment][payload][elements][{i}]");
                bounded(e, "title", &format!("{at}[title]"), MAX_ELEMENT_TITLE)?;
                optional_bounded(
                    e,
                    "subtitle",
                    &format!("{at}[subtitle]"),
                    MAX_ELEMENT_SUBTITLE,
                )?;
                if e.get("image_url").is_some() {
                    url_field(e, "image_url", &format!("{at}[image_url]"))?;
                }
                if let Some(action) = e.get("default_action") {
                    if str_field(action, "type") != Some("web_url") {
                        return Err(param(format!(
                            "param {at}[default_action][type] must be web_url."
                        )));
                    }
                    url_field(action, "url", &format!("{at}[default_action][url]"))?;
                }
                validate_buttons(array(e, "buttons"), &format!("{at}[buttons]"))?;
            }
            Ok(())
        }
        other => Err(param(format!(
            "param message[attachment][payload][template_type] {other:?} is not supported."
        ))),
    }
}

fn validate_message(message: &Value) -> Result<(), GraphError> {
    let text = message.get("text");
    let attachment = message.get("attachment");
    match (text, attachment) {
        (Some(_), Some(_)) | (None, None) => {
            return Err(param(
                "message must have exactly one of text or attachment.",
            ))
        }
        (Some(_), None) => {
            bounded(message, "text", "message[text]", MAX_TEXT)?;
        }
        (None, Some(a)) => {
            let payload = a.get("payload").cloned().unwrap_or(Value::Null);
            match str_field(a, "type") {
                Some("image" | "video" | "audio" | "file") => {
                    match (payload.get("url"), payload.get("attachment_id")) {
                        (Some(_), None) => {
                            url_field(&payload, "url", "message[attachment][payload][url]")?
                        }
                        (None, Some(_)) => {}
                        _ => {
                            return Err(param(
                                "message[attachment][payload] must have exactly one of url or \
                                 attachment_id.",
                            ))
                        }
                    }
                }
                Some("template") => validate_template(&payload)?,
                other => {
                    return Err(param(format!(
                        "param message[attachment][type] {other:?} is not supported."
                    )))
                }
            }
        }
    }
    if let Some(quick) = message.get("quick_replies") {
        let quick = quick.as_array().map_or(&[][..], Vec::as_slice);
        if quick.is_empty() || quick.len() > MAX_QUICK_REPLIES {
            return Err(param(format!(
                "param message[quick_replies] must have 1 to {MAX_QUICK_REPLIES} items, got {}.",
                quick.len()
            )));
        }
        for (i, q) in quick.iter().enumerate() {
            let at = format!("message[quick_replies][{i}]");
            match str_field(q, "content_type") {
                Some("text") => {
                    bounded(q, "title", &format!("{at}[title]"), MAX_QUICK_REPLY_TITLE)?;
                    bounded(q, "payload", &format!("{at}[payload]"), MAX_PAYLOAD)?;
                }
                Some("user_phone_number" | "user_email") => {}
                other => {
                    return Err(param(format!(
                        "param {at}[content_type] {other:?} is not valid."
                    )))
                }
            }
        }
    }
    Ok(())
}

impl MessengerSim {
    /// Starts a Send API that accepts the Page token `access_token`, signs webhooks with
    /// `app_secret` and serves the Page `page_id`.
    pub async fn start(
        access_token: &str,
        app_secret: &str,
        page_id: &str,
    ) -> anyhow::Result<Self> {
        let state = Arc::new(State {
            access_token: access_token.to_string(),
            app_secret: app_secret.to_string(),
            page_id: page_id.to_string(),
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

    pub fn page_id(&self) -> &str {
        &self.state.page_id
    }

    pub fn access_token(&self) -> &str {
        &self.state.access_token
    }

    /// Records that `psid` wrote at `at_ms` (opens or refreshes the windows).
    pub fn customer_wrote_at(&self, psid: &str, at_ms: u64) {
        lock(&self.state.inner)
            .last_inbound
            .insert(psid.to_string(), at_ms);
    }

    /// `psid` blocked the Page: sends to it fail with 551.
    pub fn make_unavailable(&self, psid: &str, unavailable: bool) {
        let mut inner = lock(&self.state.inner);
        if unavailable {
            inner.unavailable.insert(psid.to_string());
        } else {
            inner.unavailable.remove(psid);
        }
    }

    /// Accepted messages, in order.
    pub fn sent(&self) -> Vec<SentMessenger> {
        lock(&self.state.inner).sent.clone()
    }

    fn next_mid(&self) -> String {
        let mut inner = lock(&self.state.inner);
        inner.counter += 1;
        mid(&self.state.page_id, inner.counter)
    }

    fn notification(&self, time_ms: u64, item: Value) -> Value {
        json!({
            "object": "page",
            "entry": [{"id": self.state.page_id, "time": time_ms, "messaging": [item]}],
        })
    }

    fn item(&self, psid: &str, at_ms: u64, key: &str, value: Value) -> Value {
        let mut item = json!({
            "sender": {"id": psid},
            "recipient": {"id": self.state.page_id},
            "timestamp": at_ms,
        });
        item[key] = value;
        self.notification(at_ms, item)
    }

    /// The webhook Meta posts when `psid` sends `text` now. Opens the windows.
    pub fn text_message(&self, psid: &str, text: &str) -> Value {
        self.text_message_at(psid, text, now_ms())
    }

    /// A text the customer wrote at `at_ms` (a webhook Meta delivers late): the windows run
    /// from then.
    pub fn text_message_at(&self, psid: &str, text: &str, at_ms: u64) -> Value {
        self.customer_wrote_at(psid, at_ms);
        let mid = self.next_mid();
        self.item(psid, at_ms, "message", json!({"mid": mid, "text": text}))
    }

    /// The webhook for a tap on a quick reply (`message.text` is its title).
    pub fn quick_reply(&self, psid: &str, title: &str, payload: &str) -> Value {
        let at = now_ms();
        self.customer_wrote_at(psid, at);
        let mid = self.next_mid();
        self.item(
            psid,
            at,
            "message",
            json!({"mid": mid, "text": title, "quick_reply": {"payload": payload}}),
        )
    }

    /// The `messaging_postbacks` webhook for a tap on a postback button.
    pub fn postback(&self, psid: &str, title: &str, payload: &str) -> Value {
        let at = now_ms();
        self.customer_wrote_at(psid, at);
        let mid = self.next_mid();
        self.item(
            psid,
            at,
            "postback",
            json!({"mid": mid, "title": title, "payload": payload}),
        )
    }

    /// The echo Meta sends of a message the Page itself sent.
    pub fn echo(&self, psid: &str, text: &str) -> Value {
        let at = now_ms();
        let mid = self.next_mid();
        let mut item = json!({
            "sender": {"id": self.state.page_id},
            "recipient": {"id": psid},
            "timestamp": at,
            "message": {"is_echo": true, "app_id": 1_517_776_481_860_111u64, "mid": mid,
                        "text": text},
        });
        item["message"]["metadata"] = json!("sent-by-inlet");
        self.notification(at, item)
    }

    /// The `message_deliveries` webhook: the listed messages (and all before now) delivered.
    pub fn delivery(&self, psid: &str, mids: &[&str]) -> Value {
        let at = now_ms();
        self.item(psid, at, "delivery", json!({"mids": mids, "watermark": at}))
    }

    /// The `message_reads` webhook: everything sent to `psid` until now has been read.
    pub fn read(&self, psid: &str) -> Value {
        let at = now_ms();
        self.item(psid, at, "read", json!({ "watermark": at }))
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
        let sig = signature(secret, body.as_bytes());
        let headers = [
            ("content-type", "application/json"),
            ("x-hub-signature-256", sig.as_str()),
            ("user-agent", "facebookexternalua"),
        ];
        let (status, _, body) = post(url, &headers, body).await?;
        Ok((status, String::from_utf8_lossy(&body).into_owned()))
    }

    /// The GET Meta sends to verify a webhook.
    pub async fn verify_webhook(
        &self,
        url: &str,
        verify_token: &str,
        challenge: &str,
    ) -> anyhow::Result<HttpResponse> {
        let enc = |s: &str| {
            crate::server::form_encode(&[(String::new(), s.to_string())])
                .trim_start_matches('=')
                .to_string()
        };
        let url = format!(
            "{url}?hub.mode=subscribe&hub.verify_token={}&hub.challenge={}",
            enc(verify_token),
            enc(challenge)
        );
        request(Method::GET, &url, &[], Bytes::new()).await
    }
}

/// A message id in Meta's style (`m_` + an opaque, unique token).
fn mid(page_id: &str, counter: u64) -> String {
    let raw = format!("{page_id}:{counter}:{}", now_ms());
    let mac = signature(page_id, raw.as_bytes());
    let token: String = mac.trim_start_matches("sha256=").chars().take(40).collect();
    format!("m_{token}")
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

    /// The token from `?access_token=` (what the Send API documents) or a bearer header.
    fn authenticated(&self, req: &SimRequest) -> bool {
        let query = req.uri.query().unwrap_or_default();
        let from_query = crate::server::form_decode(query.as_bytes())
            .into_iter()
            .find(|(k, _)| k == "access_token")
            .map(|(_, v)| v);
        let from_header = req
            .header("authorization")
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(|t| t.trim().to_string());
        from_query
            .or(from_header)
            .is_some_and(|t| t == self.access_token)
    }

    async fn api(&self, req: &SimRequest) -> Result<Value, GraphError> {
        let path = req.uri.path().to_string();
        let node = messages_node(&path)?;
        if !self.authenticated(req) {
            return Err(invalid_token());
        }
        if node != "me" && node != self.page_id {
            return Err(param(format!(
                "Unsupported post request. Object with ID '{node}' does not exist."
            )));
        }
        if req.method != Method::POST {
            return Err(param("Unsupported get request."));
        }
        match self.control.take_fault() {
            Gate::Proceed => {}
            Gate::Fault(Fault::Delay(delay)) => tokio::time::sleep(delay).await,
            Gate::Fault(Fault::RateLimit { retry_after_secs }) => {
                return Err(GraphError::new(
                    400,
                    613,
                    "(#613) Calls to this api have exceeded the rate limit.",
                )
                .retry_after(retry_after_secs));
            }
            Gate::Fault(Fault::ServerError(status)) => return Err(server_error(status)),
        }
        if req.media_type() != "application/json" {
            return Err(param("The request body must be JSON."));
        }
        let body: Value = serde_json::from_slice(&req.body)
            .map_err(|e| param(format!("Malformed JSON body: {e}")))?;
        self.send(body)
    }

    fn send(&self, body: Value) -> Result<Value, GraphError> {
        let psid = body
            .get("recipient")
            .and_then(|r| str_field(r, "id"))
            .filter(|id| !id.is_empty())
            .ok_or_else(|| param("param recipient[id] must be non-empty."))?
            .to_string();
        let messaging_type = str_field(&body, "messaging_type")
            .ok_or_else(|| param("param messaging_type is required."))?
            .to_string();
        let tag = str_field(&body, "tag").map(str::to_string);
        match (messaging_type.as_str(), tag.as_deref()) {
            ("RESPONSE" | "UPDATE", None) => {}
            ("RESPONSE" | "UPDATE", Some(_)) => {
                return Err(param(
                    "param tag is only allowed with messaging_type MESSAGE_TAG.",
                ))
            }
            ("MESSAGE_TAG", Some(t)) if ALLOWED_TAGS.contains(&t) => {}
            ("MESSAGE_TAG", other) => {
                return Err(param(format!(
                    "param tag must be one of {ALLOWED_TAGS:?} with messaging_type \
                     MESSAGE_TAG, got {other:?}."
                )))
            }
            (other, _) => {
                return Err(param(format!(
                    "param messaging_type must be one of RESPONSE, UPDATE, MESSAGE_TAG, got \
                     {other:?}."
                )))
            }
        }
        let message = body
            .get("message")
            .cloned()
            .ok_or_else(|| param("param message must be non-empty."))?;
        validate_message(&message)?;
        let mut inner = lock(&self.inner);
        let Some(last) = inner.last_inbound.get(&psid).copied() else {
            return Err(param("No matching user found").subcode(2018001));
        };
        if inner.unavailable.contains(&psid) {
            return Err(
                GraphError::new(400, 551, "(#551) This person isn't available right now.")
                    .subcode(1545041),
            );
        }
        if let Some((code, subcode, text)) =
            (!inner.refusals.is_empty()).then(|| inner.refusals.remove(0))
        {
            let mut err = GraphError::new(400, code, text);
            err.subcode = subcode;
            return Err(err);
        }
        let age = now_ms().saturating_sub(last);
        let allowed = match tag.as_deref() {
            None => age < WINDOW_MS,
            Some("HUMAN_AGENT") => age < HUMAN_AGENT_WINDOW_MS,
            // Other tags are policy-bound (event and purchase updates), not time-bound.
            Some(_) => true,
        };
        if !allowed {
            return Err(outside_window());
        }
        inner.counter += 1;
        let mid = mid(&self.page_id, inner.counter);
        inner.sent.push(SentMessenger {
            mid: mid.clone(),
            psid: psid.clone(),
            messaging_type,
            tag,
            message,
        });
        Ok(json!({"recipient_id": psid, "message_id": mid}))
    }
}

impl MessengerSim {
    /// Answers the next send that passes validation with Graph error `code` (and `subcode`)
    /// instead of accepting it: provider refusals the simulator has no state for (200
    /// permission, 1200 temporary send failure, ...).
    pub fn refuse_next(&self, code: u32, subcode: Option<u32>, message: &str) {
        lock(&self.state.inner)
            .refusals
            .push((code, subcode, message.to_string()));
    }
}

impl crate::server::Faults for MessengerSim {
    fn control(&self) -> &crate::server::Control {
        &self.state.control
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quick_reply_limits_are_enforced() {
        let qr = |n: usize, title: &str| {
            json!({"text": "Pick", "quick_replies": (0..n).map(|i| json!({"content_type": "text",
                "title": title, "payload": format!("p{i}")})).collect::<Vec<_>>()})
        };
        assert!(validate_message(&qr(13, "Twenty chars exactly")).is_ok());
        assert!(validate_message(&qr(14, "Ok")).is_err());
        assert!(validate_message(&qr(1, "Twenty-one characters")).is_err());
        let long_payload = json!({"text": "x", "quick_replies": [{"content_type": "text",
            "title": "A", "payload": "p".repeat(1001)}]});
        assert!(validate_message(&long_payload).is_err());
        assert!(validate_message(&json!({"text": "x", "attachment": {}})).is_err());
    }

    #[test]
    fn button_templates_take_one_to_three_buttons_and_640_characters() {
        let template = |text: &str, n: usize| {
            json!({"attachment": {"type": "template", "payload": {"template_type": "button",
                "text": text, "buttons": (0..n).map(|i| json!({"type": "postback",
                "title": "B", "payload": format!("b{i}")})).collect::<Vec<_>>()}}})
        };
        assert!(validate_message(&template("Hi", 3)).is_ok());
        assert!(validate_message(&template("Hi", 4)).is_err());
        assert!(validate_message(&template("Hi", 0)).is_err());
        assert!(validate_message(&template(&"x".repeat(641), 1)).is_err());
    }
}
