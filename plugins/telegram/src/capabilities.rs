//! What the Telegram channel declares: configuration, egress, capabilities and limits.

use inlet_sdk::{
    AttachmentLimit, Capabilities, ChannelKind, ChoiceLimits, ConfigKey, Ingress, Manifest,
    MediaKind, ProactivePolicy, RichCapabilities,
};

const MB: u64 = 1024 * 1024;

pub fn manifest() -> Manifest {
    // Telegram shows the same things to bots and humans. The seed lists Telegram in neither
    // rich-content table, so none of its seven kinds is declared (no HTML, no rich link, no
    // quick replies): the host sends those as plain fallback text. Inline-keyboard buttons are
    // not one of the seven kinds; they are declared, and the host uses them for the choices of
    // a fallback so the customer can still tap an answer.
    let mut rich = RichCapabilities::plain_text(4096);
    rich.buttons = Some(ChoiceLimits {
        max_options: 100,
        max_title_length: 64,
        max_payload_length: 64,
    });
    // Sent by URL: Telegram fetches photos up to 5 MB and other files up to 20 MB.
    rich.attachments = vec![
        AttachmentLimit::any(MediaKind::Image, 5 * MB),
        AttachmentLimit::any(MediaKind::Video, 20 * MB),
        AttachmentLimit::any(MediaKind::Audio, 20 * MB),
        AttachmentLimit::any(MediaKind::File, 20 * MB),
    ];
    Manifest {
        id: "telegram".into(),
        name: "Telegram".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        kind: ChannelKind::Messaging,
        ingress: Ingress::WEBHOOK,
        handshakes: Vec::new(),
        config: vec![
            ConfigKey::secret("bot_token", "Bot token from @BotFather"),
            ConfigKey::secret(
                "webhook_secret",
                "secret_token given to setWebhook; Telegram sends it in X-Telegram-Bot-Api-Secret-Token",
            ),
            ConfigKey::optional("api_base", "Bot API base URL", "https://api.telegram.org"),
        ],
        egress: vec!["{api_base}".into()],
        regions: Vec::new(),
        poll_interval_secs: None,
        capabilities: Capabilities {
            private_messages: true,
            public_content: false,
            publish: false,
            moderation: Vec::new(),
            // Bots may only answer users who started them.
            proactive: ProactivePolicy::Never,
            window: None,
            receipts: false,
            inbound_attachments: true,
            automation: rich.clone(),
            agent: rich,
        },
    }
}
