//! Messenger Platform wire formats: the `object=page` webhook (the subset Inlet reads) turned
//! into events, the Send API request bodies built from outbound content, and Graph error
//! answers mapped onto the contract. Pure functions: no host calls, so the unit tests run
//! natively.
//!
//! Read receipts carry only a watermark (every message sent before it was read); turning a
//! watermark into receipts for our message ids needs the ids the plugin sent, which `lib.rs`
//! keeps in the channel's key-value store and hands to [`watermark_receipts`].

use inlet_sdk::meta::GraphError;
use inlet_sdk::slots;
use inlet_sdk::{
    Attachment, Card, ChannelError, Choice, Content, DeliveryStatus, InboundEvent, InboundMessage,
    ListPicker, MediaKind, OutboundMessage, Postback, Receipt, Result, Rich, RichLink, TimePicker,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::capabilities::{
    MAX_BUTTONS, MAX_BUTTON_TEXT, MAX_BUTTON_TITLE, MAX_ELEMENTS, MAX_ELEMENT_SUBTITLE,
    MAX_ELEMENT_TITLE, MAX_PAYLOAD, MAX_QUICK_REPLIES, MAX_QUICK_REPLY_TITLE, MAX_TEXT,
};

// ------------------------------------------------------------------ inbound

#[derive(Deserialize)]
pub struct Notification {
    #[serde(default)]
    pub object: String,
    #[serde(default)]
    pub entry: Vec<Entry>,
}

impl inlet_sdk::meta::Notification for Notification {
    fn object(&self) -> &str {
        &self.object
    }
}

#[derive(Deserialize)]
pub struct Entry {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub messaging: Vec<Value>,
}

/// A delivery or read watermark for one customer (PSID): every message we sent to them at or
/// before `watermark_ms` has reached this status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watermark {
    pub psid: String,
    pub status: DeliveryStatus,
    pub watermark_ms: u64,
    /// The message ids Meta listed (delivery receipts may carry them; read receipts never).
    pub mids: Vec<String>,
}

/// What one webhook body holds: events ready for the host, and watermarks to resolve against
/// the ids we sent.
#[derive(Default)]
pub struct Parsed {
    pub events: Vec<InboundEvent>,
    pub watermarks: Vec<Watermark>,
}

/// A message id we sent, with when we sent it (kept per PSID to resolve watermarks).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentMid {
    pub mid: String,
    pub at_ms: u64,
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for key in path {
        cur = cur.get(key)?;
    }
    cur.as_str().filter(|s| !s.is_empty())
}

fn owned(v: &Value, path: &[&str]) -> Option<String> {
    str_at(v, path).map(str::to_string)
}

/// Turn a verified webhook body into events. Entries for another Page (one app can serve
/// several) are skipped when `page_id` is configured; echoes of the Page's own sends are
/// ignored; an item Inlet cannot understand never fails the whole webhook.
pub fn parse(notification: &Notification, page_id: Option<&str>, now_ms: u64) -> Parsed {
    let mut out = Parsed::default();
    for entry in &notification.entry {
        if let Some(ours) = page_id {
            if !entry.id.is_empty() && entry.id != ours {
                continue;
            }
        }
        for item in &entry.messaging {
            parse_item(item, now_ms, &mut out);
        }
    }
    out
}

fn parse_item(item: &Value, now_ms: u64, out: &mut Parsed) {
    // Without a sender there is nobody to file it under; Meta always sends one.
    let Some(psid) = owned(item, &["sender", "id"]) else {
        return;
    };
    let timestamp_ms = item
        .get("timestamp")
        .and_then(Value::as_u64)
        .unwrap_or(now_ms);
    let contact = inlet_sdk::Contact::id(psid.clone());
    if let Some(message) = item.get("message") {
        if message.get("is_echo").and_then(Value::as_bool) == Some(true) {
            return;
        }
        let Some(mid) = owned(message, &["mid"]) else {
            return;
        };
        let text = owned(message, &["text"]);
        if let Some(payload) = owned(message, &["quick_reply", "payload"]) {
            out.events.push(InboundEvent::Postback(Postback {
                provider_id: mid,
                conversation: psid,
                contact,
                payload,
                label: text,
                message_ref: None,
                timestamp_ms,
            }));
            return;
        }
        let attachments: Vec<Attachment> = message
            .get("attachments")
            .and_then(Value::as_array)
            .map(|list| list.iter().map(attachment).collect())
            .unwrap_or_default();
        let text = text.or_else(|| {
            // A shared location or link arrives as a `fallback` attachment: say what it is.
            attachments
                .iter()
                .filter_map(|a| a.caption.clone())
                .reduce(|a, b| format!("{a}\n{b}"))
        });
        out.events.push(InboundEvent::Message(InboundMessage {
            provider_id: mid,
            conversation: psid,
            contact,
            text,
            attachments,
            reply_to: owned(message, &["reply_to", "mid"]),
            timestamp_ms,
        }));
    } else if let Some(postback) = item.get("postback") {
        let Some(payload) = owned(postback, &["payload"]) else {
            return;
        };
        // `postback.mid` is the dedupe id; older payloads lack it: sender and time identify it.
        let provider_id =
            owned(postback, &["mid"]).unwrap_or_else(|| format!("postback:{psid}:{timestamp_ms}"));
        out.events.push(InboundEvent::Postback(Postback {
            provider_id,
            conversation: psid,
            contact,
            payload,
            label: owned(postback, &["title"]),
            message_ref: None,
            timestamp_ms,
        }));
    } else if let Some(delivery) = item.get("delivery") {
        let mids = delivery
            .get("mids")
            .and_then(Value::as_array)
            .map(|m| {
                m.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        out.watermarks.push(Watermark {
            psid,
            status: DeliveryStatus::Delivered,
            watermark_ms: delivery
                .get("watermark")
                .and_then(Value::as_u64)
                .unwrap_or(timestamp_ms),
            mids,
        });
    } else if let Some(read) = item.get("read") {
        out.watermarks.push(Watermark {
            psid,
            status: DeliveryStatus::Read,
            watermark_ms: read
                .get("watermark")
                .and_then(Value::as_u64)
                .unwrap_or(timestamp_ms),
            mids: Vec::new(),
        });
    }
    // Referrals, handovers, reactions, optins: nothing an agent acts on.
}

fn attachment(a: &Value) -> Attachment {
    let kind = str_at(a, &["type"]).unwrap_or("fallback");
    let url = owned(a, &["payload", "url"]);
    let (media, caption) = match kind {
        "image" if a.pointer("/payload/sticker_id").is_some() => (MediaKind::Sticker, None),
        "image" => (MediaKind::Image, None),
        "video" | "reel" | "ig_reel" => (MediaKind::Video, None),
        "audio" => (MediaKind::Audio, None),
        "location" => {
            let lat = a
                .pointer("/payload/coordinates/lat")
                .and_then(Value::as_f64);
            let lon = a
                .pointer("/payload/coordinates/long")
                .and_then(Value::as_f64);
            let place = match (lat, lon) {
                (Some(lat), Some(lon)) => format!("Location: {lat}, {lon}"),
                _ => "Location".to_string(),
            };
            (MediaKind::Location, Some(place))
        }
        "fallback" | "template" => {
            let title = owned(a, &["title"]).or_else(|| owned(a, &["payload", "title"]));
            let line = match (&title, &url) {
                (Some(t), Some(u)) => format!("{t} ({u})"),
                (Some(t), None) => t.clone(),
                (None, Some(u)) => u.clone(),
                (None, None) => format!("[Messenger {kind} attachment]"),
            };
            (MediaKind::File, Some(line))
        }
        _ => (MediaKind::File, None),
    };
    Attachment {
        kind: media,
        url,
        provider_ref: a
            .pointer("/payload/sticker_id")
            .and_then(Value::as_u64)
            .map(|id| id.to_string()),
        mime_type: None,
        filename: None,
        size_bytes: None,
        caption,
    }
}

/// Receipts for a watermark: the ids Meta listed, or else every id we sent to that customer at
/// or before the watermark. Receipt ids are `{mid}:{status}`, so redeliveries dedupe.
pub fn watermark_receipts(w: &Watermark, sent: &[SentMid]) -> Vec<InboundEvent> {
    let mids: Vec<&str> = if w.mids.is_empty() {
        sent.iter()
            .filter(|s| s.at_ms <= w.watermark_ms)
            .map(|s| s.mid.as_str())
            .collect()
    } else {
        w.mids.iter().map(String::as_str).collect()
    };
    let label = match w.status {
        DeliveryStatus::Read => "read",
        _ => "delivered",
    };
    mids.into_iter()
        .map(|mid| {
            InboundEvent::Receipt(Receipt {
                provider_id: format!("{mid}:{label}"),
                message_ref: mid.to_string(),
                status: w.status,
                error: None,
                timestamp_ms: w.watermark_ms,
            })
        })
        .collect()
}

// ------------------------------------------------------------------ outbound

fn check_len(field: &str, value: &str, limit: usize) -> Result<()> {
    let n = value.chars().count();
    if n > limit {
        return Err(ChannelError::bad_request(format!(
            "{field} is limited to {limit} characters on Messenger, got {n}"
        )));
    }
    Ok(())
}

fn check_nonempty(field: &str, value: &str) -> Result<()> {
    if value.trim().is_empty() {
        return Err(ChannelError::bad_request(format!(
            "{field} must not be empty on Messenger"
        )));
    }
    Ok(())
}

fn check_count(field: &str, n: usize, max: usize) -> Result<()> {
    if n == 0 || n > max {
        return Err(ChannelError::bad_request(format!(
            "{field}: Messenger takes 1 to {max}, got {n}"
        )));
    }
    Ok(())
}

fn quick_reply_list(choices: &[Choice]) -> Result<Vec<Value>> {
    check_count("quick replies", choices.len(), MAX_QUICK_REPLIES)?;
    choices
        .iter()
        .enumerate()
        .map(|(i, c)| {
            if c.url.is_some() {
                return Err(ChannelError::bad_request(format!(
                    "quick reply {i} (`{}`) opens a URL; Messenger quick replies only post back",
                    c.title
                )));
            }
            check_nonempty(&format!("quick reply {i} title"), &c.title)?;
            check_len(
                &format!("quick reply {i} title"),
                &c.title,
                MAX_QUICK_REPLY_TITLE,
            )?;
            check_nonempty(&format!("quick reply {i} payload"), &c.id)?;
            check_len(&format!("quick reply {i} payload"), &c.id, MAX_PAYLOAD)?;
            let mut q = json!({"content_type": "text", "title": c.title, "payload": c.id});
            if let Some(image) = &c.image_url {
                q["image_url"] = json!(image);
            }
            Ok(q)
        })
        .collect()
}

/// A postback or `web_url` button.
fn button(field: &str, c: &Choice) -> Result<Value> {
    check_nonempty(&format!("{field} title"), &c.title)?;
    check_len(&format!("{field} title"), &c.title, MAX_BUTTON_TITLE)?;
    match &c.url {
        Some(url) => {
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err(ChannelError::bad_request(format!(
                    "{field} url must be http(s), got `{url}`"
                )));
            }
            Ok(json!({"type": "web_url", "url": url, "title": c.title}))
        }
        None => {
            check_nonempty(&format!("{field} payload"), &c.id)?;
            check_len(&format!("{field} payload"), &c.id, MAX_PAYLOAD)?;
            Ok(json!({"type": "postback", "title": c.title, "payload": c.id}))
        }
    }
}

fn template(payload: Value) -> Value {
    json!({"attachment": {"type": "template", "payload": payload}})
}

fn button_template(text: &str, buttons: &[Choice]) -> Result<Value> {
    check_nonempty("button template text", text)?;
    check_len("button template text", text, MAX_BUTTON_TEXT)?;
    check_count("buttons", buttons.len(), MAX_BUTTONS)?;
    let buttons = buttons
        .iter()
        .enumerate()
        .map(|(i, b)| button(&format!("button {i}"), b))
        .collect::<Result<Vec<_>>>()?;
    Ok(template(json!({
        "template_type": "button",
        "text": text,
        "buttons": buttons,
    })))
}

fn element(
    field: &str,
    title: &str,
    subtitle: Option<&str>,
    image_url: Option<&str>,
) -> Result<Value> {
    check_nonempty(&format!("{field} title"), title)?;
    check_len(&format!("{field} title"), title, MAX_ELEMENT_TITLE)?;
    let mut e = json!({ "title": title });
    if let Some(subtitle) = subtitle.filter(|s| !s.is_empty()) {
        check_len(&format!("{field} subtitle"), subtitle, MAX_ELEMENT_SUBTITLE)?;
        e["subtitle"] = json!(subtitle);
    }
    if let Some(image) = image_url {
        e["image_url"] = json!(image);
    }
    Ok(e)
}

fn generic(elements: Vec<Value>) -> Result<Value> {
    check_count("generic template elements", elements.len(), MAX_ELEMENTS)?;
    Ok(template(
        json!({"template_type": "generic", "elements": elements}),
    ))
}

/// A rich link: a generic template of one element that opens the URL, with a button.
fn rich_link(link: &RichLink) -> Result<Value> {
    let mut e = element("rich link", &link.title, None, link.image_url.as_deref())?;
    let open = Choice {
        id: String::new(),
        title: "Open".into(),
        description: None,
        image_url: None,
        url: Some(link.url.clone()),
    };
    let button = button("rich link button", &open)?;
    e["default_action"] = json!({"type": "web_url", "url": link.url});
    e["buttons"] = json!([button]);
    generic(vec![e])
}

/// A list: one element per row (section titles are dropped), each with a postback button
/// labelled with the list's button label.
fn list(picker: &ListPicker) -> Result<Value> {
    if picker.multi_select {
        return Err(ChannelError::bad_request(
            "list picker: Messenger lists are single-select (multi_select is not supported)",
        ));
    }
    let label = if picker.button_label.trim().is_empty() {
        "Choose"
    } else {
        picker.button_label.as_str()
    };
    let mut elements = Vec::new();
    for (r, item) in picker.sections.iter().flat_map(|s| &s.items).enumerate() {
        let field = format!("list row {r}");
        let mut e = element(
            &field,
            &item.title,
            item.description.as_deref(),
            item.image_url.as_deref(),
        )?;
        let choose = Choice {
            title: label.to_string(),
            ..item.clone()
        };
        e["buttons"] = json!([button(&format!("{field} button"), &choose)?]);
        elements.push(e);
    }
    generic(elements)
}

fn carousel(cards: &[Card]) -> Result<Value> {
    let mut elements = Vec::new();
    for (i, card) in cards.iter().enumerate() {
        let field = format!("carousel card {i}");
        let mut e = element(
            &field,
            &card.title,
            card.subtitle.as_deref(),
            card.image_url.as_deref(),
        )?;
        if card.buttons.len() > MAX_BUTTONS {
            return Err(ChannelError::bad_request(format!(
                "{field}: Messenger takes at most {MAX_BUTTONS} buttons per element, got {}",
                card.buttons.len()
            )));
        }
        if !card.buttons.is_empty() {
            let buttons = card
                .buttons
                .iter()
                .enumerate()
                .map(|(b, c)| button(&format!("{field} button {b}"), c))
                .collect::<Result<Vec<_>>>()?;
            e["buttons"] = json!(buttons);
        }
        elements.push(e);
    }
    generic(elements)
}

/// A time picker as text plus one quick reply per slot: the title is the start in the
/// picker's zone (`Tue 24 Nov 14:00`, 16 characters), the payload the slot id.
pub fn time_picker(body: &str, picker: &TimePicker) -> Result<Value> {
    if picker.slots.is_empty() || picker.slots.len() > MAX_QUICK_REPLIES {
        return Err(ChannelError::bad_request(format!(
            "time picker slots: Messenger shows 1 to {MAX_QUICK_REPLIES} as quick replies, got {}",
            picker.slots.len()
        )));
    }
    let zone = slots::zone(picker)?;
    let choices = picker
        .slots
        .iter()
        .map(|slot| {
            Ok(Choice {
                id: slot.id.clone(),
                title: slots::label(slot.start_ms, &zone)?,
                description: None,
                image_url: None,
                url: None,
            })
        })
        .collect::<Result<Vec<Choice>>>()?;
    let mut text = if body.trim().is_empty() {
        picker.title.clone()
    } else {
        body.to_string()
    };
    if let Some(location) = &picker.location {
        text.push_str(&format!("\n{location}"));
    }
    text.push_str(&format!("\n(Times in {})", picker.time_zone));
    check_len("time picker text", &text, MAX_TEXT)?;
    Ok(json!({"text": text, "quick_replies": quick_reply_list(&choices)?}))
}

fn media(attachment: &Attachment) -> Result<Value> {
    let kind = match attachment.kind {
        MediaKind::Image | MediaKind::Sticker => "image",
        MediaKind::Video => "video",
        MediaKind::Audio => "audio",
        MediaKind::File => "file",
        other => {
            return Err(ChannelError::bad_request(format!(
                "attachments of kind {other:?} cannot be sent on Messenger"
            )))
        }
    };
    let payload = match (&attachment.url, &attachment.provider_ref) {
        (Some(url), _) if url.starts_with("https://") || url.starts_with("http://") => {
            json!({"url": url, "is_reusable": true})
        }
        (_, Some(id)) => json!({ "attachment_id": id }),
        _ => {
            return Err(ChannelError::bad_request(format!(
                "{kind} attachment needs an http(s) url or a Messenger attachment_id"
            )))
        }
    };
    Ok(json!({"attachment": {"type": kind, "payload": payload}}))
}

/// The `message` objects that deliver `content`, in order: attachments (each caption as a
/// text after it), then the text — plain, as a button template, or before a template it
/// introduces. Quick replies go on the last message.
pub fn messages(content: &Content) -> Result<Vec<Value>> {
    let text = content.text.clone();
    check_len("text", &text, MAX_TEXT)?;
    let mut out = Vec::new();
    for attachment in &content.attachments {
        out.push(media(attachment)?);
        if let Some(caption) = attachment.caption.as_deref().filter(|c| !c.is_empty()) {
            check_len("attachment caption", caption, MAX_TEXT)?;
            out.push(json!({ "text": caption }));
        }
    }
    let text_message = |out: &mut Vec<Value>| {
        if !text.trim().is_empty() {
            out.push(json!({ "text": text }));
        }
    };
    let quick = &content.quick_replies;
    match &content.rich {
        Some(Rich::TimePicker(picker)) => {
            if !quick.is_empty() {
                return Err(ChannelError::bad_request(
                    "a time picker is sent as quick replies on Messenger; it cannot carry more",
                ));
            }
            out.push(time_picker(&text, picker)?);
        }
        Some(Rich::RichLink(link)) => {
            // The text stays, unless it only repeats the URL the card opens.
            if text.trim() != link.url {
                text_message(&mut out);
            }
            out.push(rich_link(link)?);
        }
        Some(Rich::ListPicker(picker)) => {
            text_message(&mut out);
            out.push(list(picker)?);
        }
        Some(Rich::Carousel(cards)) => {
            text_message(&mut out);
            out.push(carousel(cards)?);
        }
        Some(Rich::Form(_)) => {
            return Err(ChannelError::bad_request(
                "forms are not supported on Messenger (declared form: false)",
            ))
        }
        Some(Rich::AdaptiveCard(_)) => {
            return Err(ChannelError::bad_request(
                "adaptive cards are not supported on Messenger",
            ))
        }
        Some(Rich::Template(_)) => {
            return Err(ChannelError::bad_request(
                "provider templates are not supported on Messenger (declared templates: false)",
            ))
        }
        None => {}
    }
    if !content.buttons.is_empty() {
        if content.rich.is_some() {
            return Err(ChannelError::bad_request(
                "buttons cannot be combined with a template on Messenger",
            ));
        }
        out.push(button_template(&text, &content.buttons)?);
    } else if content.rich.is_none() {
        text_message(&mut out);
    }
    if !quick.is_empty() {
        let replies = quick_reply_list(quick)?;
        let last = out.last_mut().ok_or_else(|| {
            ChannelError::bad_request("quick replies need a text on Messenger, and there is none")
        })?;
        last["quick_replies"] = json!(replies);
    }
    if out.is_empty() {
        return Err(ChannelError::bad_request(
            "message has neither text nor attachments",
        ));
    }
    Ok(out)
}

/// The Send API request bodies that deliver `message`: `messaging_type: RESPONSE` inside the
/// window, `MESSAGE_TAG` with the host's tag (`HUMAN_AGENT`) outside it.
pub fn outbound_payloads(message: &OutboundMessage) -> Result<Vec<Value>> {
    let psid = message.conversation.as_str();
    check_nonempty("conversation (recipient PSID)", psid)?;
    let mut envelope = json!({
        "recipient": {"id": psid},
        "messaging_type": "RESPONSE",
    });
    if let Some(tag) = message.tag.as_deref().filter(|t| !t.is_empty()) {
        envelope["messaging_type"] = json!("MESSAGE_TAG");
        envelope["tag"] = json!(tag);
    }
    Ok(messages(&message.content)?
        .into_iter()
        .map(|m| {
            let mut body = envelope.clone();
            body["message"] = m;
            body
        })
        .collect())
}

// ------------------------------------------------------------------ errors

/// Map a Graph error answer onto the contract, with the provider code attached.
///
/// Retryable: 1, 2 and 1200 (temporary), HTTP 5xx → transient; 4 and 613 (and HTTP 429) →
/// rate-limited, honouring `Retry-After`. Everything else is permanent with Meta's message:
/// 551 (person unavailable), 10/2018278 (outside the allowed window), 190 (token), 200
/// (permission), 100 (invalid parameter, e.g. 2018001 no matching user).
pub fn map_error(status: u16, body: &[u8], retry_after_ms: Option<u64>) -> ChannelError {
    let graph = GraphError::parse(body);
    let mut message = graph.message.clone();
    if let Some(sub) = graph.subcode {
        message = format!("{message} (subcode {sub})");
    }
    let message = format!("Messenger answered HTTP {status}: {message}");
    let err = match (status, graph.code) {
        (429, _) | (_, Some(4 | 613)) => ChannelError::rate_limited(message, retry_after_ms),
        (_, Some(1 | 2 | 1200)) => ChannelError::transient(message),
        (s, _) if s >= 500 => ChannelError::transient(message),
        (_, Some(190)) => ChannelError::permanent(format!("{message} (check access_token)")),
        _ => ChannelError::permanent(message),
    };
    err.with_code(graph.provider_code(status))
}

#[cfg(test)]
mod tests;
