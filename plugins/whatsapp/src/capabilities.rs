//! What the WhatsApp channel declares: configuration, egress, capabilities and limits.
//!
//! The rich capabilities follow PRODUCT §3 for WhatsApp exactly: Table A (automation) has
//! HTML/Markdown, rich link, quick replies, list picker and time picker; Table B (agents) is
//! the same without the time picker. Adaptive cards, forms and carousels are not declared.

use inlet_sdk::{
    AttachmentLimit, Capabilities, ChannelKind, ChoiceLimits, ConfigKey, Handshake, Ingress,
    ListLimits, Manifest, MediaKind, MessagingWindow, ProactivePolicy, RichCapabilities,
    RichLinkLimits, TextFormat, TimePickerLimits,
};

const KB: u64 = 1024;
const MB: u64 = 1024 * 1024;

/// Longest text body (`text.body`).
pub const MAX_TEXT: usize = 4096;
/// Reply buttons: at most 3, title ≤ 20 characters, id ≤ 256 characters.
pub const MAX_BUTTONS: usize = 3;
pub const MAX_BUTTON_TITLE: usize = 20;
pub const MAX_BUTTON_ID: usize = 256;
/// Lists: ≤ 10 sections, ≤ 10 rows in total, row title ≤ 24, description ≤ 72, button ≤ 20.
pub const MAX_SECTIONS: usize = 10;
pub const MAX_ROWS: usize = 10;
pub const MAX_ROW_TITLE: usize = 24;
pub const MAX_ROW_DESCRIPTION: usize = 72;
pub const MAX_ROW_ID: usize = 200;
pub const MAX_SECTION_TITLE: usize = 24;
pub const MAX_LIST_BUTTON: usize = 20;
/// Body text of an interactive reply-button message, and media captions.
pub const MAX_INTERACTIVE_BODY: usize = 1024;
pub const MAX_CAPTION: usize = 1024;

/// The reply-button limits, used for both quick replies and buttons.
pub fn reply_buttons() -> ChoiceLimits {
    ChoiceLimits {
        max_options: MAX_BUTTONS as u32,
        max_title_length: MAX_BUTTON_TITLE as u32,
        max_payload_length: MAX_BUTTON_ID as u32,
    }
}

/// What agents may send (Table B): everything but the time picker.
pub fn agent() -> RichCapabilities {
    let mut rich = RichCapabilities::plain_text(MAX_TEXT as u32);
    // WhatsApp renders its own `*bold*` / `_italic_` markup; the host converts markdown to it.
    rich.formats = vec![TextFormat::Plain, TextFormat::Markdown];
    // The link travels as WhatsApp's own URL preview of the text: the title is not shown on
    // its own, so only the text's limit applies.
    rich.rich_link = Some(RichLinkLimits {
        max_title_length: MAX_TEXT as u32,
    });
    rich.quick_replies = Some(reply_buttons());
    rich.buttons = Some(reply_buttons());
    rich.list_picker = Some(ListLimits {
        max_sections: MAX_SECTIONS as u32,
        max_rows: MAX_ROWS as u32,
        max_title_length: MAX_ROW_TITLE as u32,
        max_description_length: MAX_ROW_DESCRIPTION as u32,
        multi_select: false,
    });
    rich.templates = true;
    rich.attachments = vec![
        AttachmentLimit {
            kind: MediaKind::Image,
            max_bytes: 5 * MB,
            mime_types: vec!["image/jpeg".into(), "image/png".into()],
        },
        AttachmentLimit::any(MediaKind::Video, 16 * MB),
        AttachmentLimit::any(MediaKind::Audio, 16 * MB),
        AttachmentLimit::any(MediaKind::File, 100 * MB),
        AttachmentLimit {
            kind: MediaKind::Sticker,
            max_bytes: 100 * KB,
            mime_types: vec!["image/webp".into()],
        },
    ];
    rich
}

/// What bots and APIs may send (Table A): the agent set plus the time picker, rendered as an
/// interactive list of its slots.
pub fn automation() -> RichCapabilities {
    RichCapabilities {
        // A list row per slot.
        time_picker: Some(TimePickerLimits {
            max_slots: MAX_ROWS as u32,
        }),
        ..agent()
    }
}

pub fn manifest() -> Manifest {
    Manifest {
        id: "whatsapp".into(),
        name: "WhatsApp Business (Cloud API)".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        kind: ChannelKind::Messaging,
        ingress: Ingress::WEBHOOK,
        handshakes: vec![Handshake::MetaHubChallenge],
        config: vec![
            ConfigKey::secret(
                "access_token",
                "System-user or business access token for the Graph API (Bearer)",
            ),
            ConfigKey::secret(
                "app_secret",
                "The Meta app secret; webhooks are signed with it (X-Hub-Signature-256)",
            ),
            ConfigKey::secret(
                "verify_token",
                "The verify token entered in the app's webhook settings (hub.verify_token)",
            ),
            ConfigKey::required(
                "phone_number_id",
                "The business phone number id messages are sent from",
            ),
            ConfigKey::optional(
                "api_base",
                "Graph API base URL",
                "https://graph.facebook.com",
            ),
            ConfigKey::optional("api_version", "Graph API version", "v21.0"),
        ],
        egress: vec!["{api_base}".into()],
        regions: Vec::new(),
        poll_interval_secs: None,
        capabilities: Capabilities {
            private_messages: true,
            public_content: false,
            publish: false,
            moderation: Vec::new(),
            proactive: ProactivePolicy::TemplatesOnly,
            window: Some(MessagingWindow {
                hours: 24,
                human_agent_hours: None,
                human_agent_tag: None,
            }),
            receipts: true,
            inbound_attachments: true,
            automation: automation(),
            agent: agent(),
        },
    }
}
