//! The channel-neutral data model the host works with: manifests and capabilities, inbound
//! events, outbound content, structured channel errors.
//!
//! These mirror the WIT contract (`wit/channel.wit`) field for field, but they are plain Rust
//! types with serde, owned by the host. `runtime::convert` is the only place that translates
//! between them and the generated bindings; nothing else in the host sees wasmtime types.

use serde::{Deserialize, Serialize};

/// Ids of plugins, channels, tenants, agents, skills: 1-64 of a-z, 0-9, `-`, `_`.
pub fn is_valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

// ------------------------------------------------------------------ errors

/// A structured error from a plugin (or from the host acting for it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ChannelError {
    #[error("bad request: {message}")]
    BadRequest {
        message: String,
        provider_code: Option<String>,
    },
    #[error("unauthorized: {message}")]
    Unauthorized {
        message: String,
        provider_code: Option<String>,
    },
    #[error("rate limited: {message} (retry after {retry_after_ms:?} ms)")]
    RateLimited {
        message: String,
        retry_after_ms: Option<u64>,
        provider_code: Option<String>,
    },
    #[error("transient: {message}")]
    Transient {
        message: String,
        provider_code: Option<String>,
    },
    #[error("permanent: {message}")]
    Permanent {
        message: String,
        provider_code: Option<String>,
    },
}

impl ChannelError {
    /// Worth trying again later?
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::RateLimited { .. } | Self::Transient { .. })
    }

    pub fn provider_code(&self) -> Option<&str> {
        match self {
            Self::BadRequest { provider_code, .. }
            | Self::Unauthorized { provider_code, .. }
            | Self::RateLimited { provider_code, .. }
            | Self::Transient { provider_code, .. }
            | Self::Permanent { provider_code, .. } => provider_code.as_deref(),
        }
    }
}

// ------------------------------------------------------------------ manifest

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChannelKind {
    Messaging,
    Social,
    Collaboration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ingress {
    pub webhook: bool,
    pub polling: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Handshake {
    MetaHubChallenge,
    XCrc,
    SlackUrlVerification,
    LinkedinChallenge,
    WechatEchostr,
    ViberWebhookEvent,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigKey {
    pub name: String,
    pub description: String,
    pub secret: bool,
    pub required: bool,
    pub default_value: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModerationAction {
    Hide,
    Unhide,
    Delete,
    Like,
    Unlike,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProactivePolicy {
    Allowed,
    TemplatesOnly,
    Never,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessagingWindow {
    pub hours: u32,
    pub human_agent_hours: Option<u32>,
    pub human_agent_tag: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TextFormat {
    Plain,
    Markdown,
    Html,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MediaKind {
    Image,
    Video,
    Audio,
    File,
    Sticker,
    Location,
    ContactCard,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentLimit {
    pub kind: MediaKind,
    pub max_bytes: u64,
    pub mime_types: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChoiceLimits {
    pub max_options: u32,
    pub max_title_length: u32,
    pub max_payload_length: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListLimits {
    pub max_sections: u32,
    pub max_rows: u32,
    pub max_title_length: u32,
    pub max_description_length: u32,
    pub multi_select: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RichLinkLimits {
    pub max_title_length: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimePickerLimits {
    pub max_slots: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CarouselLimits {
    pub max_cards: u32,
    pub max_buttons_per_card: u32,
    pub max_title_length: u32,
}

/// What one audience may send on a channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RichCapabilities {
    pub max_text_length: u32,
    pub formats: Vec<TextFormat>,
    pub rich_link: Option<RichLinkLimits>,
    pub quick_replies: Option<ChoiceLimits>,
    pub buttons: Option<ChoiceLimits>,
    pub list_picker: Option<ListLimits>,
    pub time_picker: Option<TimePickerLimits>,
    pub form: bool,
    pub adaptive_card: Option<String>,
    pub carousel: Option<CarouselLimits>,
    pub attachments: Vec<AttachmentLimit>,
    pub templates: bool,
    /// Kinds offered to this audience as fallback text (the seed's "F").
    #[serde(default)]
    pub fallback: Vec<RichKind>,
}

impl RichCapabilities {
    /// Plain text up to `max_text_length` characters and nothing else.
    pub fn plain_text(max_text_length: u32) -> Self {
        Self {
            max_text_length,
            formats: vec![TextFormat::Plain],
            rich_link: None,
            quick_replies: None,
            buttons: None,
            list_picker: None,
            time_picker: None,
            form: false,
            adaptive_card: None,
            carousel: None,
            attachments: Vec::new(),
            templates: false,
            fallback: Vec::new(),
        }
    }
}

/// The seven kinds of rich content of the seed's Tables A and B.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RichKind {
    AdaptiveCard,
    FormattedText,
    RichLink,
    QuickReplies,
    ListPicker,
    TimePicker,
    Form,
}

impl RichKind {
    pub const ALL: [RichKind; 7] = [
        RichKind::AdaptiveCard,
        RichKind::FormattedText,
        RichKind::RichLink,
        RichKind::QuickReplies,
        RichKind::ListPicker,
        RichKind::TimePicker,
        RichKind::Form,
    ];
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capabilities {
    pub private_messages: bool,
    pub public_content: bool,
    pub publish: bool,
    pub moderation: Vec<ModerationAction>,
    pub proactive: ProactivePolicy,
    pub window: Option<MessagingWindow>,
    pub receipts: bool,
    pub inbound_attachments: bool,
    /// Bots, APIs and virtual agents.
    pub automation: RichCapabilities,
    /// Live human agents.
    pub agent: RichCapabilities,
}

/// A plugin's self-description, read with `describe()`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub id: String,
    pub name: String,
    pub version: String,
    pub kind: ChannelKind,
    pub ingress: Ingress,
    pub handshakes: Vec<Handshake>,
    pub config: Vec<ConfigKey>,
    pub egress: Vec<String>,
    pub regions: Vec<String>,
    pub poll_interval_secs: Option<u32>,
    pub capabilities: Capabilities,
}

// ------------------------------------------------------------------ HTTP

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpRequest {
    pub method: String,
    pub url: String,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

// ------------------------------------------------------------------ inbound

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    pub id: String,
    pub display_name: Option<String>,
    pub handle: Option<String>,
    pub locale: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    pub kind: MediaKind,
    pub url: Option<String>,
    pub provider_ref: Option<String>,
    pub mime_type: Option<String>,
    pub filename: Option<String>,
    pub size_bytes: Option<u64>,
    pub caption: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboundMessage {
    pub provider_id: String,
    pub conversation: String,
    pub contact: Contact,
    pub text: Option<String>,
    pub attachments: Vec<Attachment>,
    pub reply_to: Option<String>,
    pub timestamp_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Edit {
    pub provider_id: String,
    pub message_ref: String,
    pub conversation: String,
    pub contact: Contact,
    pub text: Option<String>,
    pub attachments: Vec<Attachment>,
    pub timestamp_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Postback {
    pub provider_id: String,
    pub conversation: String,
    pub contact: Contact,
    pub payload: String,
    pub label: Option<String>,
    pub message_ref: Option<String>,
    pub timestamp_ms: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeliveryStatus {
    Queued,
    Sent,
    Delivered,
    Read,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    pub message: String,
    pub provider_code: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    pub provider_id: String,
    pub message_ref: String,
    pub status: DeliveryStatus,
    pub error: Option<ErrorDetail>,
    pub timestamp_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deletion {
    pub provider_id: String,
    pub conversation: String,
    pub message_ref: String,
    pub timestamp_ms: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PublicKind {
    Post,
    Comment,
    Reply,
    Mention,
    Review,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicItem {
    pub provider_id: String,
    pub kind: PublicKind,
    pub conversation: String,
    pub parent_ref: Option<String>,
    pub author: Contact,
    pub text: Option<String>,
    pub attachments: Vec<Attachment>,
    pub rating: Option<u8>,
    pub permalink: Option<String>,
    pub timestamp_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum InboundEvent {
    Message(InboundMessage),
    Edit(Edit),
    Postback(Postback),
    Receipt(Receipt),
    Deletion(Deletion),
    Public(PublicItem),
}

impl InboundEvent {
    /// The provider's id for this event: the dedupe key within a channel.
    pub fn provider_id(&self) -> &str {
        match self {
            Self::Message(m) => &m.provider_id,
            Self::Edit(e) => &e.provider_id,
            Self::Postback(p) => &p.provider_id,
            Self::Receipt(r) => &r.provider_id,
            Self::Deletion(d) => &d.provider_id,
            Self::Public(p) => &p.provider_id,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Received {
    pub response: HttpResponse,
    pub events: Vec<InboundEvent>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Polled {
    pub events: Vec<InboundEvent>,
    pub next_cursor: Option<String>,
}

// ------------------------------------------------------------------ outbound

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Choice {
    pub id: String,
    pub title: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub image_url: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RichLink {
    pub url: String,
    pub title: String,
    pub image_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListSection {
    pub title: Option<String>,
    pub items: Vec<Choice>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListPicker {
    pub title: String,
    pub button_label: String,
    pub sections: Vec<ListSection>,
    pub multi_select: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeSlot {
    pub id: String,
    pub start_ms: u64,
    pub duration_minutes: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimePicker {
    pub title: String,
    pub slots: Vec<TimeSlot>,
    pub time_zone: String,
    pub location: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FieldKind {
    Text,
    Email,
    Phone,
    Number,
    Date,
    Choice,
    Multiline,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormField {
    pub id: String,
    pub label: String,
    pub kind: FieldKind,
    pub required: bool,
    pub options: Vec<Choice>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Form {
    pub title: String,
    pub fields: Vec<FormField>,
    pub submit_label: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Card {
    pub title: String,
    pub subtitle: Option<String>,
    pub image_url: Option<String>,
    pub buttons: Vec<Choice>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderTemplate {
    pub name: String,
    pub language: String,
    pub parameters: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Rich {
    RichLink(RichLink),
    ListPicker(ListPicker),
    TimePicker(TimePicker),
    Form(Form),
    AdaptiveCard { json: String },
    Carousel { cards: Vec<Card> },
    Template(ProviderTemplate),
}

/// A message: as an author writes it (channel-neutral, every field optional in JSON), and as a
/// plugin receives it after `content::adapt` fitted it to the channel's capabilities.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Content {
    /// The plain text; derived from the rest when the author leaves it empty.
    #[serde(default)]
    pub text: String,
    #[serde(default = "plain")]
    pub format: TextFormat,
    #[serde(default)]
    pub formatted: Option<String>,
    #[serde(default)]
    pub quick_replies: Vec<Choice>,
    #[serde(default)]
    pub buttons: Vec<Choice>,
    #[serde(default)]
    pub rich: Option<Rich>,
    #[serde(default)]
    pub attachments: Vec<Attachment>,
}

fn plain() -> TextFormat {
    TextFormat::Plain
}

impl Content {
    /// Plain text only.
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            format: TextFormat::Plain,
            formatted: None,
            quick_replies: Vec::new(),
            buttons: Vec::new(),
            rich: None,
            attachments: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboundMessage {
    pub idempotency_key: String,
    pub conversation: String,
    pub recipient: Option<Contact>,
    pub content: Content,
    pub reply_to: Option<String>,
    pub tag: Option<String>,
    pub public_reply: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sent {
    pub provider_id: String,
    pub status: DeliveryStatus,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModerationRequest {
    pub action: ModerationAction,
    pub target: String,
}
