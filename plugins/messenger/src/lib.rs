//! Facebook Messenger channel (Meta Messenger Platform).
//!
//! Inbound: the app's webhook for a Page. A GET is the verification handshake
//! (`hub.mode=subscribe`, `hub.verify_token` compared in constant time with `verify_token`,
//! `hub.challenge` echoed as text); every POST must carry `X-Hub-Signature-256:
//! sha256=<hex HMAC-SHA256(app_secret, raw body)>`, checked before the body is parsed.
//! `object=page` entries' `messaging[]` become messages (text, attachments), postbacks (quick
//! reply taps, button postbacks) and receipts (delivery and read watermarks); echoes of the
//! Page's own sends are ignored. The dedupe id is the `mid`, the time the customer's
//! `timestamp` (ms), so the host's window starts when the customer really wrote.
//!
//! Outbound: `POST {api_base}/{api_version}/me/messages?access_token=…` with
//! `recipient.id` (PSID) and `messaging_type` `RESPONSE`, or `MESSAGE_TAG` with the tag the
//! host put on the message (`HUMAN_AGENT`, up to 7 days after the customer's last message):
//! text, quick replies, button and generic templates, attachments by URL. Each sent `mid` is
//! kept per customer (the last [`KEPT_MIDS`]) so read watermarks become receipts.
//!
//! Graph errors map onto the contract: 1, 2, 1200 and 5xx → transient, 4 and 613 →
//! rate-limited (`Retry-After` honoured), 551, 10, 190, 200, 100 → permanent with Meta's
//! message. The plugin never truncates: content over Messenger's limits is a `bad-request`
//! naming the field and the limit.

mod capabilities;
mod wire;

use inlet_sdk::http::Request;
use inlet_sdk::meta;
use inlet_sdk::{
    body, config, export_channel, kv, log, Channel, ChannelError, DeliveryStatus, HttpRequest,
    Manifest, OutboundMessage, Received, Result, Sent,
};
use serde::Deserialize;

const DEFAULT_API_BASE: &str = "https://graph.facebook.com";
const DEFAULT_API_VERSION: &str = "v21.0";
/// Sent message ids remembered per customer to resolve read watermarks.
const KEPT_MIDS: usize = 50;

#[derive(Default)]
struct Messenger;

export_channel!(Messenger);

#[derive(Deserialize)]
struct SendResponse {
    message_id: Option<String>,
}

fn messages_url(token: &str) -> String {
    let base = config::get_or("api_base", DEFAULT_API_BASE);
    let version = config::get_or("api_version", DEFAULT_API_VERSION);
    format!(
        "{}/{}/me/messages?access_token={}",
        base.trim_end_matches('/'),
        version.trim_matches('/'),
        body::encode_component(token)
    )
}

fn sent_key(psid: &str) -> String {
    format!("sent:{psid}")
}

fn load_sent(psid: &str) -> Vec<wire::SentMid> {
    kv::get(&sent_key(psid))
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

fn store_sent(psid: &str, sent: &[wire::SentMid]) {
    if sent.is_empty() {
        kv::delete(&sent_key(psid));
        return;
    }
    match serde_json::to_vec(sent) {
        Ok(bytes) => kv::set(&sent_key(psid), &bytes),
        Err(e) => log::warn(format!("cannot store sent message ids: {e}")),
    }
}

fn remember_sent(psid: &str, mid: &str, at_ms: u64) {
    let mut sent = load_sent(psid);
    sent.push(wire::SentMid {
        mid: mid.to_string(),
        at_ms,
    });
    let excess = sent.len().saturating_sub(KEPT_MIDS);
    sent.drain(..excess);
    store_sent(psid, &sent);
}

impl Channel for Messenger {
    fn describe(&self) -> Manifest {
        capabilities::manifest()
    }

    fn receive(&self, request: HttpRequest) -> Result<Received> {
        let notification: wire::Notification = match meta::webhook(&request, "Messenger", "page")? {
            meta::Webhook::Answer(answer) => return Ok(answer),
            meta::Webhook::Notification(n) => n,
        };
        let page = config::get("page_id");
        let parsed = wire::parse(&notification, page.as_deref(), inlet_sdk::host::now_ms());
        let mut events = parsed.events;
        for watermark in &parsed.watermarks {
            let sent = load_sent(&watermark.psid);
            events.extend(wire::watermark_receipts(watermark, &sent));
            // A read message needs no further receipts.
            if watermark.status == DeliveryStatus::Read && watermark.mids.is_empty() {
                let unread: Vec<wire::SentMid> = sent
                    .into_iter()
                    .filter(|s| s.at_ms > watermark.watermark_ms)
                    .collect();
                store_sent(&watermark.psid, &unread);
            }
        }
        Ok(Received::ok(events))
    }

    fn send(&self, message: OutboundMessage) -> Result<Sent> {
        let token = config::require("access_token")?;
        let url = messages_url(&token);
        let payloads = wire::outbound_payloads(&message)?;
        let mut last = None;
        for payload in payloads {
            let response = Request::post(url.clone()).json(&payload).send()?;
            if !response.is_success() {
                return Err(wire::map_error(
                    response.status,
                    &response.body,
                    response.retry_after_ms(),
                ));
            }
            let sent: SendResponse = response.json()?;
            if let Some(mid) = &sent.message_id {
                remember_sent(&message.conversation, mid, inlet_sdk::host::now_ms());
            }
            last = sent.message_id;
        }
        let provider_id =
            last.ok_or_else(|| ChannelError::transient("Messenger answered without message_id"))?;
        Ok(Sent {
            provider_id,
            status: DeliveryStatus::Sent,
        })
    }
}
