//! Twilio Programmable Messaging (SMS/MMS) channel.
//!
//! Inbound: form-encoded webhooks for incoming messages and status callbacks, both verified
//! with `X-Twilio-Signature`: base64 HMAC-SHA1, keyed with the auth token, over the public
//! webhook URL followed by every POST parameter sorted by name as `name` + `value`.
//!
//! Outbound: `POST /2010-04-01/Accounts/{AccountSid}/Messages.json` (form body, HTTP Basic
//! auth) with `StatusCallback` pointing at this channel's webhook so delivery receipts arrive.
//! Twilio error codes map onto retryable (429/20429, 5xx) and permanent (21211, 21610, ...).

mod capabilities;

use inlet_sdk::http::Request;
use inlet_sdk::signature::{self, Algorithm, Encoding};
use inlet_sdk::{
    body, config, export_channel, Attachment, Channel, ChannelError, Contact, DeliveryStatus,
    ErrorDetail, HttpRequest, HttpResponse, InboundEvent, InboundMessage, Manifest, MediaKind,
    OutboundMessage, Receipt, Received, Result, Sent,
};
use serde::Deserialize;

const DEFAULT_API_BASE: &str = "https://api.twilio.com";
const EMPTY_TWIML: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response></Response>";

#[derive(Default)]
struct Twilio;

export_channel!(Twilio);

/// The string Twilio signs: the URL, then each parameter as name+value, sorted by name.
pub fn signed_payload(url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    let mut out = url.to_string();
    for (k, v) in sorted {
        out.push_str(k);
        out.push_str(v);
    }
    out
}

fn field<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    body::field(params, name).filter(|v| !v.is_empty())
}

fn required<'a>(params: &'a [(String, String)], name: &str) -> Result<&'a str> {
    field(params, name)
        .ok_or_else(|| ChannelError::bad_request(format!("missing form field `{name}`")))
}

fn media_kind(mime: &str) -> MediaKind {
    match mime.split('/').next() {
        Some("image") => MediaKind::Image,
        Some("video") => MediaKind::Video,
        Some("audio") => MediaKind::Audio,
        _ => MediaKind::File,
    }
}

fn inbound_message(params: &[(String, String)]) -> Result<InboundEvent> {
    let sid = required(params, "MessageSid")?;
    let from = required(params, "From")?;
    let num_media: usize = field(params, "NumMedia")
        .map(|n| {
            n.parse()
                .map_err(|_| ChannelError::bad_request(format!("NumMedia `{n}` is not a number")))
        })
        .transpose()?
        .unwrap_or(0);
    let mut attachments = Vec::new();
    for i in 0..num_media.min(10) {
        let url = required(params, &format!("MediaUrl{i}"))?;
        let mime =
            field(params, &format!("MediaContentType{i}")).unwrap_or("application/octet-stream");
        attachments.push(Attachment {
            kind: media_kind(mime),
            url: Some(url.to_string()),
            provider_ref: url.rsplit('/').next().map(str::to_string),
            mime_type: Some(mime.to_string()),
            filename: None,
            size_bytes: None,
            caption: None,
        });
    }
    Ok(InboundEvent::Message(InboundMessage {
        provider_id: sid.to_string(),
        conversation: from.to_string(),
        contact: Contact {
            id: from.to_string(),
            display_name: None,
            handle: Some(from.to_string()),
            locale: None,
        },
        text: field(params, "Body").map(str::to_string),
        attachments,
        reply_to: None,
        timestamp_ms: inlet_sdk::host::now_ms(),
    }))
}

fn status_receipt(params: &[(String, String)], status: &str) -> Result<Option<InboundEvent>> {
    let sid = required(params, "MessageSid")?;
    let mapped = match status {
        "sent" => DeliveryStatus::Sent,
        "delivered" => DeliveryStatus::Delivered,
        "read" => DeliveryStatus::Read,
        "failed" | "undelivered" | "canceled" => DeliveryStatus::Failed,
        // queued, sending, accepted, scheduled: nothing new for the agent.
        _ => return Ok(None),
    };
    let error = field(params, "ErrorCode").map(|code| ErrorDetail {
        message: format!("Twilio reported {status} with error {code}"),
        provider_code: Some(code.to_string()),
    });
    Ok(Some(InboundEvent::Receipt(Receipt {
        provider_id: format!("{sid}:{status}"),
        message_ref: sid.to_string(),
        status: mapped,
        error,
        timestamp_ms: inlet_sdk::host::now_ms(),
    })))
}

#[derive(Deserialize)]
struct MessageResource {
    sid: String,
}

#[derive(Deserialize)]
struct ApiError {
    code: Option<i64>,
    message: Option<String>,
}

fn map_error(response: &HttpResponse) -> ChannelError {
    let parsed: Option<ApiError> = serde_json::from_slice(&response.body).ok();
    let code = parsed.as_ref().and_then(|e| e.code);
    let message = format!(
        "Twilio answered HTTP {}: {}",
        response.status,
        parsed
            .as_ref()
            .and_then(|e| e.message.clone())
            .unwrap_or_else(|| String::from_utf8_lossy(&response.body)
                .chars()
                .take(200)
                .collect())
    );
    let err = match (response.status, code) {
        (429, _) | (_, Some(20429)) => {
            ChannelError::rate_limited(message, response.retry_after_ms())
        }
        (401, _) | (_, Some(20003)) => ChannelError::unauthorized(message),
        (s, _) if s >= 500 => ChannelError::transient(message),
        // 21211 invalid To, 21610 unsubscribed, 21614 not mobile, 21617 too long, 21408 region...
        _ => ChannelError::permanent(message),
    };
    match code {
        Some(code) => err.with_code(code.to_string()),
        None => err.with_code(response.status.to_string()),
    }
}

impl Channel for Twilio {
    fn describe(&self) -> Manifest {
        capabilities::manifest()
    }

    fn health(&self) -> Result<()> {
        config::require("account_sid")?;
        config::require("auth_token")?;
        if config::get("from_number").is_none() && config::get("messaging_service_sid").is_none() {
            return Err(ChannelError::permanent(
                "channel configuration needs `from_number` or `messaging_service_sid`",
            ));
        }
        Ok(())
    }

    fn receive(&self, request: HttpRequest) -> Result<Received> {
        let token = config::require("auth_token")?;
        let provided = request
            .header("x-twilio-signature")
            .ok_or_else(|| ChannelError::unauthorized("missing X-Twilio-Signature header"))?;
        let params = body::form(&request.body)?;
        let payload = signed_payload(&request.url, &params);
        if !signature::verify(
            Algorithm::Sha1,
            Encoding::Base64,
            token.as_bytes(),
            payload.as_bytes(),
            provided,
        ) {
            return Err(ChannelError::unauthorized(format!(
                "X-Twilio-Signature does not match (signed URL {})",
                request.url
            )));
        }
        let event = match field(&params, "MessageStatus") {
            Some(status) if status != "received" && status != "receiving" => {
                status_receipt(&params, status)?
            }
            _ => Some(inbound_message(&params)?),
        };
        Ok(Received {
            response: HttpResponse::with_body(200, "text/xml", EMPTY_TWIML),
            events: event.into_iter().collect(),
        })
    }

    fn send(&self, message: OutboundMessage) -> Result<Sent> {
        let sid = config::require("account_sid")?;
        let token = config::require("auth_token")?;
        let base = config::get_or("api_base", DEFAULT_API_BASE);
        let mut form: Vec<(String, String)> = vec![("To".into(), message.conversation.clone())];
        match (
            config::get("messaging_service_sid"),
            config::get("from_number"),
        ) {
            (Some(service), _) => form.push(("MessagingServiceSid".into(), service)),
            (None, Some(from)) => form.push(("From".into(), from)),
            (None, None) => return Err(ChannelError::permanent("no `from_number` configured")),
        }
        if !message.content.text.is_empty() {
            form.push(("Body".into(), message.content.text.clone()));
        }
        for attachment in &message.content.attachments {
            let url = attachment
                .url
                .clone()
                .ok_or_else(|| ChannelError::bad_request("MMS media must be given by URL"))?;
            form.push(("MediaUrl".into(), url));
        }
        if let Some(callback) =
            config::get("status_callback_url").or_else(|| config::get("inlet.public_url"))
        {
            form.push(("StatusCallback".into(), callback));
        }
        let url = format!(
            "{}/2010-04-01/Accounts/{sid}/Messages.json",
            base.trim_end_matches('/')
        );
        let response = Request::post(url)
            .header("authorization", body::basic_auth(&sid, &token))
            .header(
                "i-twilio-idempotency-token",
                message.idempotency_key.clone(),
            )
            .form(&form)
            .send()?;
        if !response.is_success() {
            return Err(map_error(&response));
        }
        let resource: MessageResource = response.json()?;
        Ok(Sent {
            provider_id: resource.sid,
            status: DeliveryStatus::Queued,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Twilio's worked example from its "Webhooks security" page.
    #[test]
    fn signature_matches_twilio_worked_example() {
        let params: Vec<(String, String)> = [
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+12349013030"),
            ("Digits", "1234"),
            ("From", "+12349013030"),
            ("To", "+18005551212"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let payload = signed_payload("https://mycompany.com/myapp.php?foo=1&bar=2", &params);
        assert_eq!(
            signature::sign(
                Algorithm::Sha1,
                Encoding::Base64,
                b"12345",
                payload.as_bytes()
            ),
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        );
    }
}
