//! What the Messenger channel declares: configuration, egress, capabilities and limits.
//!
//! The rich capabilities follow PRODUCT §3 for Facebook Messenger exactly: Table A
//! (automation) has rich link, quick replies, list picker and time picker; Table B (agents) is
//! the same without the time picker. No HTML/Markdown (Messenger shows plain text), no adaptive
//! cards, no forms. Carousels (the generic template) are declared for both audiences; they are
//! not one of the seven kinds of the tables.
//!
//! The window: 24 hours after the customer's last message, and 7 days for human agents who
//! answer with the `HUMAN_AGENT` message tag. Messenger allows no cold outreach: the customer
//! must write first.

use inlet_sdk::{
    AttachmentLimit, Capabilities, CarouselLimits, ChannelKind, ChoiceLimits, ConfigKey, Handshake,
    Ingress, ListLimits, Manifest, MediaKind, MessagingWindow, ProactivePolicy, RichCapabilities,
    RichLinkLimits, TimePickerLimits,
};

const MB: u64 = 1024 * 1024;

/// Longest `message.text`.
pub const MAX_TEXT: usize = 2000;
/// Quick replies: at most 13, title ≤ 20 characters, payload ≤ 1000 characters.
pub const MAX_QUICK_REPLIES: usize = 13;
pub const MAX_QUICK_REPLY_TITLE: usize = 20;
pub const MAX_PAYLOAD: usize = 1000;
/// Button template: 1 to 3 buttons, text ≤ 640 characters, button title ≤ 20 characters.
pub const MAX_BUTTONS: usize = 3;
pub const MAX_BUTTON_TITLE: usize = 20;
pub const MAX_BUTTON_TEXT: usize = 640;
/// Generic template (carousel): ≤ 10 elements, title and subtitle ≤ 80, ≤ 3 buttons each.
pub const MAX_ELEMENTS: usize = 10;
pub const MAX_ELEMENT_TITLE: usize = 80;
pub const MAX_ELEMENT_SUBTITLE: usize = 80;
/// Attachments sent by URL.
pub const MAX_ATTACHMENT_BYTES: u64 = 25 * MB;
/// The standard messaging window and the human-agent window, in hours.
pub const WINDOW_HOURS: u32 = 24;
pub const HUMAN_AGENT_HOURS: u32 = 168;
pub const HUMAN_AGENT_TAG: &str = "HUMAN_AGENT";

/// Quick-reply limits.
pub fn quick_replies() -> ChoiceLimits {
    ChoiceLimits {
        max_options: MAX_QUICK_REPLIES as u32,
        max_title_length: MAX_QUICK_REPLY_TITLE as u32,
        max_payload_length: MAX_PAYLOAD as u32,
    }
}

/// Button-template limits.
pub fn buttons() -> ChoiceLimits {
    ChoiceLimits {
        max_options: MAX_BUTTONS as u32,
        max_title_length: MAX_BUTTON_TITLE as u32,
        max_payload_length: MAX_PAYLOAD as u32,
    }
}

/// What agents may send (Table B): rich link, quick replies, list picker; no time picker.
pub fn agent() -> RichCapabilities {
    let mut rich = RichCapabilities::plain_text(MAX_TEXT as u32);
    // A rich link is a generic template of one element that opens the URL.
    rich.rich_link = Some(RichLinkLimits {
        max_title_length: MAX_ELEMENT_TITLE as u32,
    });
    rich.quick_replies = Some(quick_replies());
    rich.buttons = Some(buttons());
    // A list is a generic template: one element per row, each with a postback button.
    rich.list_picker = Some(ListLimits {
        max_sections: MAX_ELEMENTS as u32,
        max_rows: MAX_ELEMENTS as u32,
        max_title_length: MAX_ELEMENT_TITLE as u32,
        max_description_length: MAX_ELEMENT_SUBTITLE as u32,
        multi_select: false,
    });
    rich.carousel = Some(CarouselLimits {
        max_cards: MAX_ELEMENTS as u32,
        max_buttons_per_card: MAX_BUTTONS as u32,
        max_title_length: MAX_ELEMENT_TITLE as u32,
    });
    rich.attachments = [
        MediaKind::Image,
        MediaKind::Video,
        MediaKind::Audio,
        MediaKind::File,
    ]
    .into_iter()
    .map(|kind| AttachmentLimit::any(kind, MAX_ATTACHMENT_BYTES))
    .collect();
    rich
}

/// What bots and APIs may send (Table A): the agent set plus the time picker, rendered as quick
/// replies of its slots.
pub fn automation() -> RichCapabilities {
    RichCapabilities {
        // One quick reply per slot.
        time_picker: Some(TimePickerLimits {
            max_slots: MAX_QUICK_REPLIES as u32,
        }),
        ..agent()
    }
}

pub fn manifest() -> Manifest {
    Manifest {
        id: "messenger".into(),
        name: "Facebook Messenger (Messenger Platform)".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        kind: ChannelKind::Messaging,
        ingress: Ingress::WEBHOOK,
        handshakes: vec![Handshake::MetaHubChallenge],
        config: vec![
            ConfigKey::secret(
                "access_token",
                "The Page access token for the Send API (sent as access_token)",
            ),
            ConfigKey::secret(
                "app_secret",
                "The Meta app secret; webhooks are signed with it (X-Hub-Signature-256)",
            ),
            ConfigKey::secret(
                "verify_token",
                "The verify token entered in the app's webhook settings (hub.verify_token)",
            ),
            ConfigKey::optional(
                "page_id",
                "Only accept webhook entries for this Page id (empty: every Page of the app)",
                "",
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
            proactive: ProactivePolicy::Never,
            window: Some(MessagingWindow {
                hours: WINDOW_HOURS,
                human_agent_hours: Some(HUMAN_AGENT_HOURS),
                human_agent_tag: Some(HUMAN_AGENT_TAG.into()),
            }),
            receipts: true,
            inbound_attachments: true,
            automation: automation(),
            agent: agent(),
        },
    }
}
