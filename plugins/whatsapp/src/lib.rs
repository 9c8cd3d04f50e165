//! WhatsApp Business Cloud API channel (Meta).
//!
//! Inbound: the app's webhook. A GET is the verification handshake (`hub.mode=subscribe`,
//! `hub.verify_token` compared in constant time with `verify_token`, `hub.challenge` echoed as
//! text); every POST must carry `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app_secret,
//! raw body)>`, checked before the body is parsed. `entry[].changes[].value.messages[]` become
//! messages and postbacks (interactive replies, template buttons), `statuses[]` become
//! receipts.
//!
//! Outbound: `POST {api_base}/{api_version}/{phone_number_id}/messages` with the bearer token:
//! text, media by link, reply buttons, lists (list and time pickers), templates. Graph errors
//! map onto the contract: throttling codes → rate-limited, 131047 (outside the 24-hour window)
//! and other refusals → permanent with the code, 5xx → transient, 190 → unauthorized.
//!
//! The plugin never truncates: content over WhatsApp's limits is a `bad-request` naming the
//! field and the limit.

mod capabilities;
mod wire;

use inlet_sdk::http::Request;
use inlet_sdk::meta;
use inlet_sdk::{
    config, export_channel, Channel, ChannelError, DeliveryStatus, HttpRequest, Manifest,
    OutboundMessage, Received, Result, Sent,
};
use serde::Deserialize;

const DEFAULT_API_BASE: &str = "https://graph.facebook.com";
const DEFAULT_API_VERSION: &str = "v21.0";

#[derive(Default)]
struct WhatsApp;

export_channel!(WhatsApp);

#[derive(Deserialize)]
struct SendResponse {
    #[serde(default)]
    messages: Vec<SentId>,
}

#[derive(Deserialize)]
struct SentId {
    id: String,
}

fn messages_url() -> Result<String> {
    let number = config::require("phone_number_id")?;
    let base = config::get_or("api_base", DEFAULT_API_BASE);
    let version = config::get_or("api_version", DEFAULT_API_VERSION);
    Ok(format!(
        "{}/{}/{number}/messages",
        base.trim_end_matches('/'),
        version.trim_matches('/')
    ))
}

impl Channel for WhatsApp {
    fn describe(&self) -> Manifest {
        capabilities::manifest()
    }

    fn receive(&self, request: HttpRequest) -> Result<Received> {
        let notification: wire::Notification =
            match meta::webhook(&request, "WhatsApp", "whatsapp_business_account")? {
                meta::Webhook::Answer(answer) => return Ok(answer),
                meta::Webhook::Notification(n) => n,
            };
        let ours = config::get("phone_number_id");
        let events = wire::events(&notification, ours.as_deref(), inlet_sdk::host::now_ms());
        Ok(Received::ok(events))
    }

    fn send(&self, message: OutboundMessage) -> Result<Sent> {
        let token = config::require("access_token")?;
        let url = messages_url()?;
        let payloads = wire::outbound_payloads(&message)?;
        let mut last = None;
        for payload in payloads {
            let response = Request::post(url.clone())
                .header("authorization", format!("Bearer {token}"))
                .json(&payload)
                .send()?;
            if !response.is_success() {
                return Err(wire::map_error(
                    response.status,
                    &response.body,
                    response.retry_after_ms(),
                ));
            }
            let sent: SendResponse = response.json()?;
            last = sent.messages.into_iter().next().map(|m| m.id);
        }
        let provider_id = last
            .ok_or_else(|| ChannelError::transient("WhatsApp answered without messages[0].id"))?;
        Ok(Sent {
            provider_id,
            status: DeliveryStatus::Sent,
        })
    }
}
