//! Telegram Bot API wire types (the subset Inlet reads) and outbound request bodies.

use inlet_sdk::{ChannelError, Choice, MediaKind, OutboundMessage, Result, TextFormat};
use serde::Deserialize;
use serde_json::{json, Value};

/// Telegram's caption limit; longer text is sent as a separate message.
const CAPTION_MAX: usize = 1024;

#[derive(Deserialize)]
pub struct ApiReply {
    pub ok: bool,
    pub result: Option<Value>,
    pub error_code: Option<i64>,
    pub description: Option<String>,
    pub parameters: Option<ResponseParameters>,
}

#[derive(Deserialize)]
pub struct ResponseParameters {
    pub retry_after: Option<u64>,
}

#[derive(Deserialize)]
pub struct Update {
    pub update_id: i64,
    pub message: Option<Message>,
    pub edited_message: Option<Message>,
    pub callback_query: Option<CallbackQuery>,
}

#[derive(Deserialize)]
pub struct User {
    pub id: i64,
    pub first_name: String,
    pub last_name: Option<String>,
    pub username: Option<String>,
    pub language_code: Option<String>,
}

#[derive(Deserialize)]
pub struct Chat {
    pub id: i64,
}

#[derive(Deserialize)]
pub struct PhotoSize {
    pub file_id: String,
}

#[derive(Deserialize)]
pub struct FileRef {
    pub file_id: String,
    pub file_name: Option<String>,
    pub mime_type: Option<String>,
}

#[derive(Deserialize)]
pub struct Message {
    pub message_id: i64,
    pub date: u64,
    pub edit_date: Option<u64>,
    pub chat: Chat,
    pub from: Option<User>,
    pub text: Option<String>,
    pub caption: Option<String>,
    pub photo: Option<Vec<PhotoSize>>,
    pub document: Option<FileRef>,
    pub video: Option<FileRef>,
    pub voice: Option<FileRef>,
    pub audio: Option<FileRef>,
    pub sticker: Option<FileRef>,
    pub reply_to_message: Option<Box<Message>>,
    pub reply_markup: Option<Value>,
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    pub id: String,
    pub from: User,
    pub message: Option<Message>,
    pub data: Option<String>,
}

/// The text of the inline button whose `callback_data` is `data`.
pub fn button_label(message: &Message, data: &str) -> Option<String> {
    let rows = message
        .reply_markup
        .as_ref()?
        .get("inline_keyboard")?
        .as_array()?;
    rows.iter()
        .filter_map(Value::as_array)
        .flatten()
        .find(|b| b.get("callback_data").and_then(Value::as_str) == Some(data))
        .and_then(|b| b.get("text").and_then(Value::as_str))
        .map(str::to_string)
}

fn button(choice: &Choice) -> Result<Value> {
    if let Some(url) = &choice.url {
        return Ok(json!({ "text": choice.title, "url": url }));
    }
    if choice.id.is_empty() || choice.id.len() > 64 {
        return Err(ChannelError::bad_request(format!(
            "button `{}`: Telegram callback data must be 1-64 bytes, got {}",
            choice.title,
            choice.id.len()
        )));
    }
    Ok(json!({ "text": choice.title, "callback_data": choice.id }))
}

/// Inline keyboard: buttons one per row, quick replies two per row.
fn keyboard(message: &OutboundMessage) -> Result<Option<Value>> {
    let mut rows: Vec<Vec<Value>> = Vec::new();
    for choice in &message.content.buttons {
        rows.push(vec![button(choice)?]);
    }
    for pair in message.content.quick_replies.chunks(2) {
        rows.push(pair.iter().map(button).collect::<Result<Vec<_>>>()?);
    }
    Ok((!rows.is_empty()).then(|| json!({ "inline_keyboard": rows })))
}

/// The Bot API calls that deliver `message`, in order: media first (caption when short
/// enough), then the text with the keyboard.
pub fn outbound_payloads(
    chat_id: i64,
    message: &OutboundMessage,
) -> Result<Vec<(&'static str, Value)>> {
    let content = &message.content;
    let (text, parse_mode) = match (&content.format, &content.formatted) {
        (TextFormat::Html, Some(html)) => (html.clone(), Some("HTML")),
        _ => (content.text.clone(), None),
    };
    let reply = message
        .reply_to
        .as_ref()
        .and_then(|r| r.rsplit(':').next())
        .and_then(|id| id.parse::<i64>().ok())
        .map(|id| json!({ "message_id": id }));
    let markup = keyboard(message)?;

    let mut calls = Vec::new();
    let mut text_sent_as_caption = false;
    for (i, attachment) in content.attachments.iter().enumerate() {
        let source = attachment
            .url
            .clone()
            .or_else(|| attachment.provider_ref.clone())
            .ok_or_else(|| ChannelError::bad_request("attachment has neither url nor file_id"))?;
        let (method, field) = match attachment.kind {
            MediaKind::Image => ("sendPhoto", "photo"),
            MediaKind::Video => ("sendVideo", "video"),
            MediaKind::Audio => ("sendAudio", "audio"),
            _ => ("sendDocument", "document"),
        };
        let mut payload = json!({ "chat_id": chat_id, field: source });
        let last = i + 1 == content.attachments.len();
        let caption = attachment.caption.clone().or_else(|| {
            (last && !text.is_empty() && text.chars().count() <= CAPTION_MAX).then(|| text.clone())
        });
        if let Some(caption) = caption {
            if last && caption == text {
                text_sent_as_caption = true;
                if let Some(mode) = parse_mode {
                    payload["parse_mode"] = json!(mode);
                }
                if let Some(markup) = &markup {
                    payload["reply_markup"] = markup.clone();
                }
            }
            payload["caption"] = json!(caption);
        }
        if i == 0 {
            if let Some(reply) = &reply {
                payload["reply_parameters"] = reply.clone();
            }
        }
        calls.push((method, payload));
    }
    if !text_sent_as_caption {
        if text.is_empty() {
            if calls.is_empty() {
                return Err(ChannelError::bad_request(
                    "message has neither text nor attachments",
                ));
            }
        } else {
            let mut payload = json!({ "chat_id": chat_id, "text": text });
            if let Some(mode) = parse_mode {
                payload["parse_mode"] = json!(mode);
            }
            if let Some(markup) = markup {
                payload["reply_markup"] = markup;
            }
            if calls.is_empty() {
                if let Some(reply) = reply {
                    payload["reply_parameters"] = reply;
                }
            }
            calls.push(("sendMessage", payload));
        }
    }
    Ok(calls)
}
