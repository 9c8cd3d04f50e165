//! What the Twilio SMS channel declares: configuration, egress, capabilities and limits.

use inlet_sdk::{
    AttachmentLimit, Capabilities, ChannelKind, ConfigKey, Ingress, Manifest, MediaKind,
    ProactivePolicy, RichCapabilities,
};

/// MMS: 5 MB for the whole message (carriers may accept less).
const MMS_TOTAL: u64 = 5 * 1024 * 1024;

pub fn manifest() -> Manifest {
    let mut rich = RichCapabilities::plain_text(1600);
    rich.attachments = vec![
        AttachmentLimit {
            kind: MediaKind::Image,
            max_bytes: MMS_TOTAL,
            mime_types: vec!["image/jpeg".into(), "image/png".into(), "image/gif".into()],
        },
        AttachmentLimit::any(MediaKind::Video, MMS_TOTAL),
        AttachmentLimit::any(MediaKind::Audio, MMS_TOTAL),
    ];
    Manifest {
        id: "twilio-sms".into(),
        name: "SMS (Twilio)".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        kind: ChannelKind::Messaging,
        ingress: Ingress::WEBHOOK,
        handshakes: Vec::new(),
        config: vec![
            ConfigKey::required("account_sid", "Twilio Account SID (AC...)"),
            ConfigKey::secret(
                "auth_token",
                "Twilio auth token: signs webhooks and authenticates sends",
            ),
            ConfigKey::optional(
                "from_number",
                "Sender number in E.164 (or set messaging_service_sid)",
                "",
            ),
            ConfigKey::optional(
                "messaging_service_sid",
                "Messaging Service SID (MG...) used instead of from_number",
                "",
            ),
            ConfigKey::optional(
                "status_callback_url",
                "Where Twilio posts delivery status; defaults to this channel's webhook",
                "",
            ),
            ConfigKey::optional(
                "api_base",
                "Twilio REST API base URL",
                "https://api.twilio.com",
            ),
        ],
        egress: vec!["{api_base}".into()],
        regions: Vec::new(),
        poll_interval_secs: None,
        capabilities: Capabilities {
            private_messages: true,
            public_content: false,
            publish: false,
            moderation: Vec::new(),
            proactive: ProactivePolicy::Allowed,
            window: None,
            receipts: true,
            inbound_attachments: true,
            automation: rich.clone(),
            agent: rich,
        },
    }
}
