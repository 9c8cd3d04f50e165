//! Telegram Bot API channel.
//!
//! Inbound: the webhook set with `setWebhook(secret_token)`; every request must carry
//! `X-Telegram-Bot-Api-Secret-Token` equal to the configured `webhook_secret`. Updates become
//! messages (text, photo, document and other media, resolved with `getFile`), edits and
//! postbacks (inline-keyboard taps, acknowledged with `answerCallbackQuery`).
//!
//! Outbound: `sendMessage`, `sendPhoto`, `sendDocument` with inline keyboards and replies.
//! Telegram errors map onto the contract: 429 `retry_after` → rate-limited, 403 "bot was
//! blocked" → permanent, 5xx → transient.
//!
//! Bot tokens never leave the plugin: attachments carry the Telegram `file_id`, never the
//! download URL (which embeds the token).

mod capabilities;
mod wire;

use inlet_sdk::http::Request;
use inlet_sdk::{
    body, config, export_channel, log, signature, Attachment, Channel, ChannelError, Contact, Edit,
    HttpRequest, InboundEvent, InboundMessage, Manifest, MediaKind, OutboundMessage, Postback,
    Received, Result, Sent,
};
use serde_json::{json, Value};
use wire::{ApiReply, Message, Update, User};

const DEFAULT_API_BASE: &str = "https://api.telegram.org";
const SECRET_HEADER: &str = "x-telegram-bot-api-secret-token";

#[derive(Default)]
struct Telegram;

export_channel!(Telegram);

fn api_base() -> String {
    config::get_or("api_base", DEFAULT_API_BASE)
        .trim_end_matches('/')
        .to_string()
}

/// Call a Bot API method and map Telegram's error answer onto the contract.
fn call(method: &str, payload: &Value) -> Result<Value> {
    let token = config::require("bot_token")?;
    let url = format!("{}/bot{token}/{method}", api_base());
    let response = Request::post(url).json(payload).send()?;
    let reply: ApiReply = response.json()?;
    if reply.ok {
        return Ok(reply.result.unwrap_or(Value::Null));
    }
    let code = reply.error_code.unwrap_or(response.status as i64);
    let description = reply
        .description
        .unwrap_or_else(|| format!("HTTP {}", response.status));
    let message = format!("Telegram {method}: {description}");
    let err = match code {
        429 => {
            let retry = reply
                .parameters
                .and_then(|p| p.retry_after)
                .map(|s| s * 1000)
                .or_else(|| response.retry_after_ms());
            ChannelError::rate_limited(message, retry)
        }
        401 | 404 => ChannelError::unauthorized(format!("{message} (check bot_token)")),
        400 => ChannelError::bad_request(message),
        403 | 409 => ChannelError::permanent(message),
        c if c >= 500 => ChannelError::transient(message),
        _ => ChannelError::permanent(message),
    };
    Err(err.with_code(code.to_string()))
}

fn contact(user: &User) -> Contact {
    let name = match (&user.first_name, &user.last_name) {
        (first, Some(last)) => format!("{first} {last}"),
        (first, None) => first.clone(),
    };
    Contact {
        id: user.id.to_string(),
        display_name: Some(name),
        handle: user.username.clone(),
        locale: user.language_code.clone(),
    }
}

/// A stable id for a message: message ids are unique only within one chat.
fn message_key(chat_id: i64, message_id: i64) -> String {
    format!("{chat_id}:{message_id}")
}

/// Describe the media of a message. `getFile` adds size and file name; if it fails the
/// attachment keeps its `file_id`, which is enough to fetch it later.
fn attachments(message: &Message) -> Vec<Attachment> {
    let mut out = Vec::new();
    let mut push = |kind: MediaKind, file_id: &str, mime: Option<String>, name: Option<String>| {
        let mut attachment = Attachment {
            kind,
            url: None,
            provider_ref: Some(file_id.to_string()),
            mime_type: mime,
            filename: name,
            size_bytes: None,
            caption: message.caption.clone(),
        };
        match call("getFile", &json!({ "file_id": file_id })) {
            Ok(file) => {
                attachment.size_bytes = file.get("file_size").and_then(Value::as_u64);
                if attachment.filename.is_none() {
                    attachment.filename = file
                        .get("file_path")
                        .and_then(Value::as_str)
                        .and_then(|p| p.rsplit('/').next())
                        .map(str::to_string);
                }
            }
            Err(e) => log::warn(format!("getFile {file_id} failed: {}", e.summary())),
        }
        out.push(attachment);
    };
    if let Some(largest) = message.photo.as_ref().and_then(|sizes| sizes.last()) {
        push(
            MediaKind::Image,
            &largest.file_id,
            Some("image/jpeg".into()),
            None,
        );
    }
    if let Some(doc) = &message.document {
        push(
            MediaKind::File,
            &doc.file_id,
            doc.mime_type.clone(),
            doc.file_name.clone(),
        );
    }
    if let Some(f) = &message.video {
        push(
            MediaKind::Video,
            &f.file_id,
            f.mime_type.clone(),
            f.file_name.clone(),
        );
    }
    if let Some(f) = message.voice.as_ref().or(message.audio.as_ref()) {
        push(
            MediaKind::Audio,
            &f.file_id,
            f.mime_type.clone(),
            f.file_name.clone(),
        );
    }
    if let Some(f) = &message.sticker {
        push(
            MediaKind::Sticker,
            &f.file_id,
            Some("image/webp".into()),
            None,
        );
    }
    out
}

fn inbound(message: &Message) -> Result<InboundMessage> {
    let from = message.from.as_ref().ok_or_else(|| {
        ChannelError::bad_request("message without `from` (channel posts are not supported)")
    })?;
    Ok(InboundMessage {
        provider_id: message_key(message.chat.id, message.message_id),
        conversation: message.chat.id.to_string(),
        contact: contact(from),
        text: message.text.clone().or_else(|| message.caption.clone()),
        attachments: attachments(message),
        reply_to: message
            .reply_to_message
            .as_ref()
            .map(|r| message_key(message.chat.id, r.message_id)),
        timestamp_ms: message.date * 1000,
    })
}

impl Channel for Telegram {
    fn describe(&self) -> Manifest {
        capabilities::manifest()
    }

    fn receive(&self, request: HttpRequest) -> Result<Received> {
        let secret = config::require("webhook_secret")?;
        match request.header(SECRET_HEADER) {
            Some(given) if signature::secrets_equal(given, &secret) => {}
            Some(_) => {
                return Err(ChannelError::unauthorized(
                    "X-Telegram-Bot-Api-Secret-Token does not match webhook_secret",
                ))
            }
            None => {
                return Err(ChannelError::unauthorized(
                    "missing X-Telegram-Bot-Api-Secret-Token header",
                ))
            }
        }
        let update: Update = body::json(&request.body)?;
        let mut events = Vec::new();
        if let Some(message) = &update.message {
            events.push(InboundEvent::Message(inbound(message)?));
        } else if let Some(edited) = &update.edited_message {
            let original = inbound(edited)?;
            events.push(InboundEvent::Edit(Edit {
                provider_id: format!("{}:edit:{}", original.provider_id, update.update_id),
                message_ref: original.provider_id,
                conversation: original.conversation,
                contact: original.contact,
                text: original.text,
                attachments: original.attachments,
                timestamp_ms: edited.edit_date.unwrap_or(edited.date) * 1000,
            }));
        } else if let Some(query) = &update.callback_query {
            let data = query
                .data
                .clone()
                .ok_or_else(|| ChannelError::bad_request("callback_query without data"))?;
            let chat_id = query
                .message
                .as_ref()
                .map(|m| m.chat.id)
                .unwrap_or(query.from.id);
            let label = query
                .message
                .as_ref()
                .and_then(|m| wire::button_label(m, &data));
            events.push(InboundEvent::Postback(Postback {
                provider_id: format!("callback:{}", query.id),
                conversation: chat_id.to_string(),
                contact: contact(&query.from),
                payload: data,
                label,
                message_ref: query
                    .message
                    .as_ref()
                    .map(|m| message_key(chat_id, m.message_id)),
                timestamp_ms: inlet_sdk::host::now_ms(),
            }));
            // Stop the spinner on the customer's button; losing this ack is harmless.
            if let Err(e) = call(
                "answerCallbackQuery",
                &json!({ "callback_query_id": query.id }),
            ) {
                log::warn(format!("answerCallbackQuery failed: {}", e.summary()));
            }
        } else {
            log::debug(format!(
                "update {} carries nothing Inlet handles; acknowledged",
                update.update_id
            ));
        }
        Ok(Received::ok(events))
    }

    fn send(&self, message: OutboundMessage) -> Result<Sent> {
        let chat_id: i64 = message.conversation.parse().map_err(|_| {
            ChannelError::bad_request(format!(
                "`{}` is not a Telegram chat id",
                message.conversation
            ))
        })?;
        let payloads = wire::outbound_payloads(chat_id, &message)?;
        let mut last = None;
        for (method, payload) in payloads {
            let result = call(method, &payload)?;
            last = result.get("message_id").and_then(Value::as_i64);
        }
        let message_id =
            last.ok_or_else(|| ChannelError::transient("Telegram answered without a message_id"))?;
        Ok(Sent {
            provider_id: message_key(chat_id, message_id),
            status: inlet_sdk::DeliveryStatus::Sent,
        })
    }
}
