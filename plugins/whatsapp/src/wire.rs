//! WhatsApp Cloud API wire formats: the webhook payload (the subset Inlet reads) turned into
//! events, the `/{phone-number-id}/messages` request bodies built from outbound content, and
//! Graph error answers mapped onto the contract. Pure functions: no host calls, so the unit
//! tests run natively.

use inlet_sdk::meta::GraphError;
use inlet_sdk::slots;
use inlet_sdk::{
    Attachment, ChannelError, Choice, Contact, Content, DeliveryStatus, ErrorDetail, InboundEvent,
    InboundMessage, ListPicker, MediaKind, OutboundMessage, Postback, Receipt, Result, Rich,
    TextFormat, TimePicker,
};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::capabilities::{
    MAX_BUTTONS, MAX_BUTTON_ID, MAX_BUTTON_TITLE, MAX_CAPTION, MAX_INTERACTIVE_BODY,
    MAX_LIST_BUTTON, MAX_ROWS, MAX_ROW_DESCRIPTION, MAX_ROW_ID, MAX_ROW_TITLE, MAX_SECTIONS,
    MAX_SECTION_TITLE, MAX_TEXT,
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
    pub changes: Vec<Change>,
}

#[derive(Deserialize)]
pub struct Change {
    #[serde(default)]
    pub field: String,
    #[serde(default)]
    pub value: ChangeValue,
}

#[derive(Deserialize, Default)]
pub struct ChangeValue {
    pub metadata: Option<Metadata>,
    #[serde(default)]
    pub contacts: Vec<WaContact>,
    #[serde(default)]
    pub messages: Vec<Value>,
    #[serde(default)]
    pub statuses: Vec<Status>,
}

#[derive(Deserialize)]
pub struct Metadata {
    pub phone_number_id: Option<String>,
}

#[derive(Deserialize)]
pub struct WaContact {
    pub wa_id: String,
    pub profile: Option<Profile>,
}

#[derive(Deserialize)]
pub struct Profile {
    pub name: Option<String>,
}

#[derive(Deserialize)]
pub struct Status {
    pub id: String,
    pub status: String,
    pub timestamp: Option<String>,
    #[serde(default)]
    pub errors: Vec<GraphStatusError>,
}

#[derive(Deserialize)]
pub struct GraphStatusError {
    pub code: Option<i64>,
    pub title: Option<String>,
    pub message: Option<String>,
    pub error_data: Option<ErrorData>,
}

#[derive(Deserialize)]
pub struct ErrorData {
    pub details: Option<String>,
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

fn timestamp_ms(ts: Option<&str>, now_ms: u64) -> u64 {
    ts.and_then(|t| t.parse::<u64>().ok())
        .map(|s| s * 1000)
        .unwrap_or(now_ms)
}

/// Turn a verified webhook body into events. Changes for another phone number id (one app
/// can serve several numbers) are skipped; a message that cannot be understood becomes a
/// message saying so, never a failure of the whole webhook.
pub fn events(
    notification: &Notification,
    phone_number_id: Option<&str>,
    now_ms: u64,
) -> Vec<InboundEvent> {
    let mut out = Vec::new();
    for change in notification.entry.iter().flat_map(|e| &e.changes) {
        if change.field != "messages" {
            continue;
        }
        let value = &change.value;
        let number = value
            .metadata
            .as_ref()
            .and_then(|m| m.phone_number_id.as_deref());
        if let (Some(ours), Some(theirs)) = (phone_number_id, number) {
            if ours != theirs {
                continue;
            }
        }
        for message in &value.messages {
            if let Some(event) = message_event(message, &value.contacts, now_ms) {
                out.push(event);
            }
        }
        for status in &value.statuses {
            if let Some(event) = receipt(status, now_ms) {
                out.push(event);
            }
        }
    }
    out
}

fn contact_for(from: &str, contacts: &[WaContact]) -> Contact {
    let name = contacts
        .iter()
        .find(|c| c.wa_id == from)
        .or_else(|| (contacts.len() == 1).then(|| &contacts[0]))
        .and_then(|c| c.profile.as_ref())
        .and_then(|p| p.name.clone())
        .filter(|n| !n.is_empty());
    Contact {
        id: from.to_string(),
        display_name: name,
        handle: Some(format!("+{from}")),
        locale: None,
    }
}

fn media(message: &Value, kind_key: &str, kind: MediaKind) -> Attachment {
    let m = message.get(kind_key).cloned().unwrap_or(Value::Null);
    Attachment {
        kind,
        url: None,
        provider_ref: owned(&m, &["id"]),
        mime_type: owned(&m, &["mime_type"])
            .or_else(|| (kind == MediaKind::Sticker).then(|| "image/webp".to_string())),
        filename: owned(&m, &["filename"]),
        size_bytes: None,
        caption: owned(&m, &["caption"]),
    }
}

fn message_event(message: &Value, contacts: &[WaContact], now_ms: u64) -> Option<InboundEvent> {
    // Without an id or sender there is nothing to file; Meta always sends both.
    let id = str_at(message, &["id"])?.to_string();
    let from = str_at(message, &["from"])?.to_string();
    let kind = str_at(message, &["type"]).unwrap_or("unknown");
    let contact = contact_for(&from, contacts);
    let timestamp_ms = timestamp_ms(str_at(message, &["timestamp"]), now_ms);
    let reply_to = owned(message, &["context", "id"]);

    let postback = |payload: Option<String>, label: Option<String>| {
        payload.map(|payload| {
            InboundEvent::Postback(Postback {
                provider_id: id.clone(),
                conversation: from.clone(),
                contact: contact.clone(),
                payload,
                label,
                message_ref: reply_to.clone(),
                timestamp_ms,
            })
        })
    };
    let text: Option<String>;
    let mut attachments = Vec::new();
    match kind {
        "text" => text = owned(message, &["text", "body"]),
        "image" | "video" | "audio" | "document" | "sticker" => {
            let media_kind = match kind {
                "image" => MediaKind::Image,
                "video" => MediaKind::Video,
                "audio" => MediaKind::Audio,
                "sticker" => MediaKind::Sticker,
                _ => MediaKind::File,
            };
            let attachment = media(message, kind, media_kind);
            text = attachment.caption.clone();
            attachments.push(attachment);
        }
        "interactive" => {
            let reply_kind = str_at(message, &["interactive", "type"]).unwrap_or_default();
            if reply_kind == "button_reply" || reply_kind == "list_reply" {
                let event = postback(
                    owned(message, &["interactive", reply_kind, "id"]),
                    owned(message, &["interactive", reply_kind, "title"]),
                );
                if event.is_some() {
                    return event;
                }
            }
            text = Some(format!(
                "[interactive {reply_kind} reply Inlet cannot read]"
            ));
        }
        "button" => {
            // A quick-reply button of a template: `payload` is what the template defined.
            let label = owned(message, &["button", "text"]);
            let payload = owned(message, &["button", "payload"]).or_else(|| label.clone());
            if let Some(event) = postback(payload, label) {
                return Some(event);
            }
            text = Some("[template button without payload]".to_string());
        }
        "location" => {
            let loc = message.get("location").cloned().unwrap_or(Value::Null);
            let lat = loc.get("latitude").and_then(Value::as_f64).unwrap_or(0.0);
            let lon = loc.get("longitude").and_then(Value::as_f64).unwrap_or(0.0);
            let label = [owned(&loc, &["name"]), owned(&loc, &["address"])]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(", ");
            let place = if label.is_empty() {
                format!("Location: {lat}, {lon}")
            } else {
                format!("Location: {label} ({lat}, {lon})")
            };
            attachments.push(Attachment {
                kind: MediaKind::Location,
                url: Some(format!("https://maps.google.com/?q={lat},{lon}")),
                provider_ref: None,
                mime_type: None,
                filename: None,
                size_bytes: None,
                caption: (!label.is_empty()).then(|| label.clone()),
            });
            text = Some(place);
        }
        "contacts" => {
            let cards = message
                .get("contacts")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let mut lines = Vec::new();
            for card in &cards {
                let name = owned(card, &["name", "formatted_name"]).unwrap_or_default();
                let phones: Vec<String> = card
                    .get("phones")
                    .and_then(Value::as_array)
                    .map(|p| {
                        p.iter()
                            .filter_map(|x| owned(x, &["phone"]))
                            .collect::<Vec<_>>()
                    })
                    .unwrap_or_default();
                let line = format!("{name} {}", phones.join(", ")).trim().to_string();
                attachments.push(Attachment {
                    kind: MediaKind::ContactCard,
                    url: None,
                    provider_ref: None,
                    mime_type: None,
                    filename: None,
                    size_bytes: None,
                    caption: Some(line.clone()),
                });
                lines.push(line);
            }
            text = Some(format!("Shared contact: {}", lines.join("; ")));
        }
        // A reaction is not a message of its own; Inlet has no event for it.
        "reaction" => return None,
        other => {
            let why = message
                .get("errors")
                .and_then(|e| e.get(0))
                .and_then(|e| owned(e, &["title"]).or_else(|| owned(e, &["message"])));
            text = Some(match why {
                Some(why) => format!("[unsupported WhatsApp message of type `{other}`: {why}]"),
                None => format!("[unsupported WhatsApp message of type `{other}`]"),
            });
        }
    }
    Some(InboundEvent::Message(InboundMessage {
        provider_id: id,
        conversation: from,
        contact,
        text,
        attachments,
        reply_to,
        timestamp_ms,
    }))
}

fn receipt(status: &Status, now_ms: u64) -> Option<InboundEvent> {
    let mapped = match status.status.as_str() {
        "sent" => DeliveryStatus::Sent,
        "delivered" => DeliveryStatus::Delivered,
        "read" => DeliveryStatus::Read,
        "failed" => DeliveryStatus::Failed,
        // `deleted`, `warning`, ... carry nothing for the agent.
        _ => return None,
    };
    let error = status.errors.first().map(|e| {
        let title = e
            .title
            .clone()
            .or_else(|| e.message.clone())
            .unwrap_or_else(|| "delivery failed".into());
        let message = match e.error_data.as_ref().and_then(|d| d.details.as_deref()) {
            Some(details) if details != title => format!("{title}: {details}"),
            _ => title,
        };
        ErrorDetail {
            message: format!("WhatsApp: {message}"),
            provider_code: e.code.map(|c| c.to_string()),
        }
    });
    Some(InboundEvent::Receipt(Receipt {
        provider_id: format!("{}:{}", status.id, status.status),
        message_ref: status.id.clone(),
        status: mapped,
        error,
        timestamp_ms: timestamp_ms(status.timestamp.as_deref(), now_ms),
    }))
}

// ------------------------------------------------------------------ outbound

fn too_long(field: &str, limit: usize, got: usize) -> ChannelError {
    ChannelError::bad_request(format!(
        "{field} is limited to {limit} characters on WhatsApp, got {got}"
    ))
}

fn check_len(field: &str, value: &str, limit: usize) -> Result<()> {
    let n = value.chars().count();
    if n > limit {
        return Err(too_long(field, limit, n));
    }
    Ok(())
}

fn check_nonempty(field: &str, value: &str) -> Result<()> {
    if value.trim().is_empty() {
        return Err(ChannelError::bad_request(format!(
            "{field} must not be empty on WhatsApp"
        )));
    }
    Ok(())
}

/// The text to send: the host's markdown rewritten in WhatsApp's own markup, else plain text.
fn body_text(content: &Content) -> String {
    match (&content.format, &content.formatted) {
        (TextFormat::Markdown, Some(formatted)) => whatsapp_markup(formatted),
        _ => content.text.clone(),
    }
}

/// Markdown (as the host writes it) → WhatsApp markup: `**b**`/`__b__` → `*b*`, `*i*`/`_i_` →
/// `_i_`, `~~s~~` → `~s~`, `[text](url)` → `text (url)`, `# heading` → `*heading*`, escapes
/// dropped. Inline code keeps its backticks (WhatsApp renders them).
pub fn whatsapp_markup(markdown: &str) -> String {
    let mut lines = Vec::new();
    for line in markdown.lines() {
        let trimmed = line.trim_start();
        let hashes = trimmed.chars().take_while(|c| *c == '#').count();
        let line = match trimmed.get(hashes..).and_then(|r| r.strip_prefix(' ')) {
            Some(rest) if (1..=6).contains(&hashes) => format!("*{}*", inline_markup(rest)),
            _ => inline_markup(line),
        };
        lines.push(line);
    }
    lines.join("\n")
}

fn inline_markup(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        match c {
            '\\' if next.is_some_and(|n| n.is_ascii_punctuation()) => {
                out.extend(next);
                i += 2;
            }
            '*' | '_' if next == Some(c) => {
                out.push('*');
                i += 2;
            }
            '*' => {
                out.push('_');
                i += 1;
            }
            '~' if next == Some('~') => {
                out.push('~');
                i += 2;
            }
            '[' => {
                let rest: String = chars[i..].iter().collect();
                match link(&rest) {
                    Some((label, url, used)) => {
                        out.push_str(&format!("{} ({url})", inline_markup(&label)));
                        i += used;
                    }
                    None => {
                        out.push('[');
                        i += 1;
                    }
                }
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// `[label](url)` at the start of `text`: label, url and the characters used.
fn link(text: &str) -> Option<(String, String, usize)> {
    let close = text.find("](")?;
    let end = text[close + 2..].find(')')? + close + 2;
    let label = text[1..close].to_string();
    let url = text[close + 2..end].to_string();
    Some((label.clone(), url, text[..=end].chars().count()))
}

fn has_web_url(text: &str) -> bool {
    text.contains("http://") || text.contains("https://")
}

fn envelope(to: &str, reply_to: Option<&str>) -> Value {
    let mut v = json!({
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
    });
    if let Some(id) = reply_to {
        v["context"] = json!({ "message_id": id });
    }
    v
}

fn reply_buttons(choices: &[&Choice]) -> Result<Vec<Value>> {
    if choices.len() > MAX_BUTTONS {
        return Err(ChannelError::bad_request(format!(
            "quick_replies/buttons: WhatsApp shows at most {MAX_BUTTONS} reply buttons, got {}",
            choices.len()
        )));
    }
    let mut out = Vec::new();
    for (i, choice) in choices.iter().enumerate() {
        if choice.url.is_some() {
            return Err(ChannelError::bad_request(format!(
                "button {i} (`{}`) opens a URL; WhatsApp reply buttons can only post back",
                choice.title
            )));
        }
        check_nonempty(&format!("button {i} title"), &choice.title)?;
        check_len(
            &format!("button {i} title"),
            &choice.title,
            MAX_BUTTON_TITLE,
        )?;
        check_nonempty(&format!("button {i} id"), &choice.id)?;
        check_len(&format!("button {i} id"), &choice.id, MAX_BUTTON_ID)?;
        if choices[..i].iter().any(|c| c.id == choice.id) {
            return Err(ChannelError::bad_request(format!(
                "button {i}: id `{}` is used twice; WhatsApp button ids must be unique",
                choice.id
            )));
        }
        out.push(json!({"type": "reply", "reply": {"id": choice.id, "title": choice.title}}));
    }
    Ok(out)
}

fn list_interactive(body: &str, picker: &ListPicker) -> Result<Value> {
    check_nonempty("list picker body text", body)?;
    check_len("list picker body text", body, MAX_TEXT)?;
    check_nonempty("list picker button_label", &picker.button_label)?;
    check_len(
        "list picker button_label",
        &picker.button_label,
        MAX_LIST_BUTTON,
    )?;
    if picker.multi_select {
        return Err(ChannelError::bad_request(
            "list picker: WhatsApp lists are single-select (multi_select is not supported)",
        ));
    }
    if picker.sections.is_empty() || picker.sections.len() > MAX_SECTIONS {
        return Err(ChannelError::bad_request(format!(
            "list picker sections: WhatsApp needs 1 to {MAX_SECTIONS}, got {}",
            picker.sections.len()
        )));
    }
    let rows: usize = picker.sections.iter().map(|s| s.items.len()).sum();
    if rows == 0 || rows > MAX_ROWS {
        return Err(ChannelError::bad_request(format!(
            "list picker rows: WhatsApp needs 1 to {MAX_ROWS} rows in total, got {rows}"
        )));
    }
    let mut sections = Vec::new();
    for (s, section) in picker.sections.iter().enumerate() {
        let mut out = json!({});
        match &section.title {
            Some(title) => {
                check_len(&format!("list section {s} title"), title, MAX_SECTION_TITLE)?;
                out["title"] = json!(title);
            }
            None if picker.sections.len() > 1 => {
                return Err(ChannelError::bad_request(format!(
                    "list section {s} title is required when a list has more than one section"
                )))
            }
            None => {}
        }
        let mut rows = Vec::new();
        for (r, item) in section.items.iter().enumerate() {
            let field = format!("list section {s} row {r}");
            check_nonempty(&format!("{field} title"), &item.title)?;
            check_len(&format!("{field} title"), &item.title, MAX_ROW_TITLE)?;
            check_nonempty(&format!("{field} id"), &item.id)?;
            check_len(&format!("{field} id"), &item.id, MAX_ROW_ID)?;
            let mut row = json!({"id": item.id, "title": item.title});
            if let Some(description) = &item.description {
                check_len(
                    &format!("{field} description"),
                    description,
                    MAX_ROW_DESCRIPTION,
                )?;
                row["description"] = json!(description);
            }
            rows.push(row);
        }
        out["rows"] = json!(rows);
        sections.push(out);
    }
    Ok(json!({
        "type": "list",
        "body": {"text": body},
        "action": {"button": picker.button_label, "sections": sections},
    }))
}

/// A time picker as a list: one row per slot, row id = slot id, row title = the start time in
/// the picker's time zone (the IANA database is compiled in), description = the duration.
pub fn time_picker_as_list(body: &str, picker: &TimePicker) -> Result<Value> {
    if picker.slots.is_empty() || picker.slots.len() > MAX_ROWS {
        return Err(ChannelError::bad_request(format!(
            "time picker slots: WhatsApp lists take 1 to {MAX_ROWS} rows, got {}",
            picker.slots.len()
        )));
    }
    let zone = slots::zone(picker)?;
    let items = picker
        .slots
        .iter()
        .map(|slot| {
            Ok(Choice {
                id: slot.id.clone(),
                title: slots::label(slot.start_ms, &zone)?,
                description: Some(format!("{} min", slot.duration_minutes)),
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
    let list = ListPicker {
        title: picker.title.clone(),
        button_label: "Choose a time".into(),
        sections: vec![inlet_sdk::ListSection { title: None, items }],
        multi_select: false,
    };
    list_interactive(&text, &list)
}

fn template(to: &str, reply_to: Option<&str>, t: &inlet_sdk::ProviderTemplate) -> Result<Value> {
    check_nonempty("template name", &t.name)?;
    check_nonempty("template language", &t.language)?;
    let mut template = json!({
        "name": t.name,
        "language": {"code": t.language, "policy": "deterministic"},
    });
    if !t.parameters.is_empty() {
        let params: Vec<Value> = t
            .parameters
            .iter()
            .map(|p| json!({"type": "text", "text": p}))
            .collect();
        template["components"] = json!([{"type": "body", "parameters": params}]);
    }
    let mut v = envelope(to, reply_to);
    v["type"] = json!("template");
    v["template"] = template;
    Ok(v)
}

fn media_payload(
    to: &str,
    reply_to: Option<&str>,
    attachment: &Attachment,
    caption: Option<&str>,
) -> Result<Value> {
    let kind = match attachment.kind {
        MediaKind::Image => "image",
        MediaKind::Video => "video",
        MediaKind::Audio => "audio",
        MediaKind::File => "document",
        MediaKind::Sticker => "sticker",
        other => {
            return Err(ChannelError::bad_request(format!(
                "attachments of kind {other:?} cannot be sent on WhatsApp"
            )))
        }
    };
    let mut media = match (&attachment.url, &attachment.provider_ref) {
        (Some(url), _) if url.starts_with("https://") || url.starts_with("http://") => {
            json!({ "link": url })
        }
        (_, Some(id)) => json!({ "id": id }),
        _ => {
            return Err(ChannelError::bad_request(format!(
                "{kind} attachment needs an http(s) url or a WhatsApp media id"
            )))
        }
    };
    if let Some(caption) = caption {
        if kind == "audio" || kind == "sticker" {
            return Err(ChannelError::bad_request(format!(
                "WhatsApp does not allow a caption on {kind} attachments"
            )));
        }
        check_len(&format!("{kind} caption"), caption, MAX_CAPTION)?;
        media["caption"] = json!(caption);
    }
    if kind == "document" {
        if let Some(name) = &attachment.filename {
            media["filename"] = json!(name);
        }
    }
    let mut v = envelope(to, reply_to);
    v["type"] = json!(kind);
    v[kind] = media;
    Ok(v)
}

/// The request bodies that deliver `message`, in order. Attachments go first (the text
/// becomes the caption of a single captionable attachment when it fits), then the text as a
/// text, interactive or template message. The reply-to context goes on the first one.
pub fn outbound_payloads(message: &OutboundMessage) -> Result<Vec<Value>> {
    let to = message.conversation.as_str();
    check_nonempty("conversation (recipient wa_id)", to)?;
    let content = &message.content;
    let text = body_text(content);
    check_len("text", &text, MAX_TEXT)?;
    let reply = message.reply_to.as_deref();

    if let Some(Rich::Template(t)) = &content.rich {
        // A template stands alone: its text is the approved one, not ours.
        return Ok(vec![template(to, reply, t)?]);
    }
    // The link is shown as WhatsApp's own URL preview of the text.
    let mut text = text;
    if let Some(Rich::RichLink(link)) = &content.rich {
        if !text.contains(&link.url) {
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str(&link.url);
            check_len("text with the rich link's URL", &text, MAX_TEXT)?;
        }
    }
    let choices: Vec<&Choice> = content
        .buttons
        .iter()
        .chain(content.quick_replies.iter())
        .collect();
    let interactive = match &content.rich {
        Some(Rich::ListPicker(list)) => Some(list_interactive(&text, list)?),
        Some(Rich::TimePicker(picker)) => Some(time_picker_as_list(&text, picker)?),
        Some(Rich::RichLink(_)) | None if !choices.is_empty() => {
            check_nonempty("body text of a message with reply buttons", &text)?;
            check_len(
                "body text of a message with reply buttons",
                &text,
                MAX_INTERACTIVE_BODY,
            )?;
            Some(json!({
                "type": "button",
                "body": {"text": text},
                "action": {"buttons": reply_buttons(&choices)?},
            }))
        }
        Some(Rich::RichLink(_)) | None => None,
        Some(Rich::Form(_)) => {
            return Err(ChannelError::bad_request(
                "forms are not supported on WhatsApp (declared form: false)",
            ))
        }
        Some(Rich::AdaptiveCard(_)) => {
            return Err(ChannelError::bad_request(
                "adaptive cards are not supported on WhatsApp",
            ))
        }
        Some(Rich::Carousel(_)) => {
            return Err(ChannelError::bad_request(
                "carousels are not supported on WhatsApp",
            ))
        }
        Some(Rich::Template(_)) => None,
    };

    let mut out = Vec::new();
    let captionable = |a: &Attachment| !matches!(a.kind, MediaKind::Audio | MediaKind::Sticker);
    let text_as_caption = interactive.is_none()
        && content.attachments.len() == 1
        && captionable(&content.attachments[0])
        && content.attachments[0].caption.is_none()
        && !text.is_empty()
        && text.chars().count() <= MAX_CAPTION;
    for attachment in &content.attachments {
        let caption = attachment
            .caption
            .as_deref()
            .or_else(|| text_as_caption.then_some(text.as_str()));
        let first = out.is_empty();
        out.push(media_payload(
            to,
            if first { reply } else { None },
            attachment,
            caption,
        )?);
    }
    let first = out.is_empty();
    let ctx = if first { reply } else { None };
    if let Some(interactive) = interactive {
        let mut v = envelope(to, ctx);
        v["type"] = json!("interactive");
        v["interactive"] = interactive;
        out.push(v);
    } else if !text_as_caption && !text.is_empty() {
        let mut v = envelope(to, ctx);
        v["type"] = json!("text");
        v["text"] = json!({"body": text, "preview_url": has_web_url(&text)});
        out.push(v);
    }
    if out.is_empty() {
        return Err(ChannelError::bad_request(
            "message has neither text nor attachments",
        ));
    }
    Ok(out)
}

// ------------------------------------------------------------------ errors

/// Map a Graph error answer onto the contract, with the provider code attached.
pub fn map_error(status: u16, body: &[u8], retry_after_ms: Option<u64>) -> ChannelError {
    let graph = GraphError::parse(body);
    let mut message = graph.message.clone();
    if let Some(details) = graph.details.as_deref() {
        if !message.contains(details) {
            message = format!("{message}: {details}");
        }
    }
    let message = format!("WhatsApp answered HTTP {status}: {message}");
    let transient = graph.is_transient;
    let err = match (status, graph.code) {
        (429, _) | (_, Some(4 | 80007 | 130429 | 131048 | 131056)) => {
            ChannelError::rate_limited(message, retry_after_ms)
        }
        (401, _) | (_, Some(190)) => {
            ChannelError::unauthorized(format!("{message} (check access_token)"))
        }
        (_, Some(1 | 2 | 131000)) => ChannelError::transient(message),
        (s, _) if s >= 500 => ChannelError::transient(message),
        _ if transient => ChannelError::transient(message),
        // 131047 outside the 24 h window, 131026 undeliverable, 131051 unsupported type,
        // 131052 media download, 100/131009 bad parameter, 132xxx template, 368 policy, ...
        _ => ChannelError::permanent(message),
    };
    err.with_code(graph.provider_code(status))
}

#[cfg(test)]
mod tests;
