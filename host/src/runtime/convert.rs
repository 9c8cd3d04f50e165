//! The one place where generated WIT types and host `model` types meet.

use super::bindings::{imports, wit};
use crate::model as m;

// ------------------------------------------------------------------ plugin → host

impl From<wit::ErrorDetail> for m::ErrorDetail {
    fn from(d: wit::ErrorDetail) -> Self {
        Self {
            message: d.message,
            provider_code: d.provider_code,
        }
    }
}

impl From<wit::ChannelError> for m::ChannelError {
    fn from(e: wit::ChannelError) -> Self {
        use wit::ChannelError as W;
        match e {
            W::BadRequest(d) => Self::BadRequest {
                message: d.message,
                provider_code: d.provider_code,
            },
            W::Unauthorized(d) => Self::Unauthorized {
                message: d.message,
                provider_code: d.provider_code,
            },
            W::RateLimited(r) => Self::RateLimited {
                message: r.message,
                retry_after_ms: r.retry_after_ms,
                provider_code: r.provider_code,
            },
            W::Transient(d) => Self::Transient {
                message: d.message,
                provider_code: d.provider_code,
            },
            W::Permanent(d) => Self::Permanent {
                message: d.message,
                provider_code: d.provider_code,
            },
        }
    }
}

impl From<wit::ChannelKind> for m::ChannelKind {
    fn from(k: wit::ChannelKind) -> Self {
        match k {
            wit::ChannelKind::Messaging => Self::Messaging,
            wit::ChannelKind::Social => Self::Social,
            wit::ChannelKind::Collaboration => Self::Collaboration,
        }
    }
}

impl From<wit::Handshake> for m::Handshake {
    fn from(h: wit::Handshake) -> Self {
        use wit::Handshake as W;
        match h {
            W::MetaHubChallenge => Self::MetaHubChallenge,
            W::XCrc => Self::XCrc,
            W::SlackUrlVerification => Self::SlackUrlVerification,
            W::LinkedinChallenge => Self::LinkedinChallenge,
            W::WechatEchostr => Self::WechatEchostr,
            W::ViberWebhookEvent => Self::ViberWebhookEvent,
        }
    }
}

impl From<wit::ModerationAction> for m::ModerationAction {
    fn from(a: wit::ModerationAction) -> Self {
        use wit::ModerationAction as W;
        match a {
            W::Hide => Self::Hide,
            W::Unhide => Self::Unhide,
            W::Delete => Self::Delete,
            W::Like => Self::Like,
            W::Unlike => Self::Unlike,
        }
    }
}

impl From<m::ModerationAction> for wit::ModerationAction {
    fn from(a: m::ModerationAction) -> Self {
        use m::ModerationAction as M;
        match a {
            M::Hide => Self::Hide,
            M::Unhide => Self::Unhide,
            M::Delete => Self::Delete,
            M::Like => Self::Like,
            M::Unlike => Self::Unlike,
        }
    }
}

impl From<wit::TextFormat> for m::TextFormat {
    fn from(f: wit::TextFormat) -> Self {
        match f {
            wit::TextFormat::Plain => Self::Plain,
            wit::TextFormat::Markdown => Self::Markdown,
            wit::TextFormat::Html => Self::Html,
        }
    }
}

impl From<wit::RichKind> for m::RichKind {
    fn from(k: wit::RichKind) -> Self {
        match k {
            wit::RichKind::AdaptiveCard => Self::AdaptiveCard,
            wit::RichKind::FormattedText => Self::FormattedText,
            wit::RichKind::RichLink => Self::RichLink,
            wit::RichKind::QuickReplies => Self::QuickReplies,
            wit::RichKind::ListPicker => Self::ListPicker,
            wit::RichKind::TimePicker => Self::TimePicker,
            wit::RichKind::Form => Self::Form,
        }
    }
}

impl From<m::TextFormat> for wit::TextFormat {
    fn from(f: m::TextFormat) -> Self {
        match f {
            m::TextFormat::Plain => Self::Plain,
            m::TextFormat::Markdown => Self::Markdown,
            m::TextFormat::Html => Self::Html,
        }
    }
}

impl From<wit::MediaKind> for m::MediaKind {
    fn from(k: wit::MediaKind) -> Self {
        use wit::MediaKind as W;
        match k {
            W::Image => Self::Image,
            W::Video => Self::Video,
            W::Audio => Self::Audio,
            W::File => Self::File,
            W::Sticker => Self::Sticker,
            W::Location => Self::Location,
            W::ContactCard => Self::ContactCard,
        }
    }
}

impl From<m::MediaKind> for wit::MediaKind {
    fn from(k: m::MediaKind) -> Self {
        use m::MediaKind as M;
        match k {
            M::Image => Self::Image,
            M::Video => Self::Video,
            M::Audio => Self::Audio,
            M::File => Self::File,
            M::Sticker => Self::Sticker,
            M::Location => Self::Location,
            M::ContactCard => Self::ContactCard,
        }
    }
}

fn choice_limits(c: wit::ChoiceLimits) -> m::ChoiceLimits {
    m::ChoiceLimits {
        max_options: c.max_options,
        max_title_length: c.max_title_length,
        max_payload_length: c.max_payload_length,
    }
}

impl From<wit::RichCapabilities> for m::RichCapabilities {
    fn from(r: wit::RichCapabilities) -> Self {
        Self {
            max_text_length: r.max_text_length,
            formats: r.formats.into_iter().map(Into::into).collect(),
            rich_link: r.rich_link.map(|l| m::RichLinkLimits {
                max_title_length: l.max_title_length,
            }),
            quick_replies: r.quick_replies.map(choice_limits),
            buttons: r.buttons.map(choice_limits),
            list_picker: r.list_picker.map(|l| m::ListLimits {
                max_sections: l.max_sections,
                max_rows: l.max_rows,
                max_title_length: l.max_title_length,
                max_description_length: l.max_description_length,
                multi_select: l.multi_select,
            }),
            time_picker: r.time_picker.map(|t| m::TimePickerLimits {
                max_slots: t.max_slots,
            }),
            form: r.form,
            adaptive_card: r.adaptive_card,
            carousel: r.carousel.map(|c| m::CarouselLimits {
                max_cards: c.max_cards,
                max_buttons_per_card: c.max_buttons_per_card,
                max_title_length: c.max_title_length,
            }),
            attachments: r
                .attachments
                .into_iter()
                .map(|a| m::AttachmentLimit {
                    kind: a.kind.into(),
                    max_bytes: a.max_bytes,
                    mime_types: a.mime_types,
                })
                .collect(),
            templates: r.templates,
            fallback: r.fallback.into_iter().map(Into::into).collect(),
        }
    }
}

impl From<wit::Manifest> for m::Manifest {
    fn from(w: wit::Manifest) -> Self {
        let c = w.capabilities;
        Self {
            id: w.id,
            name: w.name,
            version: w.version,
            kind: w.kind.into(),
            ingress: m::Ingress {
                webhook: w.ingress.contains(wit::Ingress::WEBHOOK),
                polling: w.ingress.contains(wit::Ingress::POLLING),
            },
            handshakes: w.handshakes.into_iter().map(Into::into).collect(),
            config: w
                .config
                .into_iter()
                .map(|k| m::ConfigKey {
                    name: k.name,
                    description: k.description,
                    secret: k.secret,
                    required: k.required,
                    default_value: k.default_value,
                })
                .collect(),
            egress: w.egress,
            regions: w.regions,
            poll_interval_secs: w.poll_interval_secs,
            capabilities: m::Capabilities {
                private_messages: c.private_messages,
                public_content: c.public_content,
                publish: c.publish,
                moderation: c.moderation.into_iter().map(Into::into).collect(),
                proactive: match c.proactive {
                    wit::ProactivePolicy::Allowed => m::ProactivePolicy::Allowed,
                    wit::ProactivePolicy::TemplatesOnly => m::ProactivePolicy::TemplatesOnly,
                    wit::ProactivePolicy::Never => m::ProactivePolicy::Never,
                },
                window: c.window.map(|w| m::MessagingWindow {
                    hours: w.hours,
                    human_agent_hours: w.human_agent_hours,
                    human_agent_tag: w.human_agent_tag,
                }),
                receipts: c.receipts,
                inbound_attachments: c.inbound_attachments,
                automation: c.automation.into(),
                agent: c.agent.into(),
            },
        }
    }
}

impl From<wit::Contact> for m::Contact {
    fn from(c: wit::Contact) -> Self {
        Self {
            id: c.id,
            display_name: c.display_name,
            handle: c.handle,
            locale: c.locale,
        }
    }
}

impl From<m::Contact> for wit::Contact {
    fn from(c: m::Contact) -> Self {
        Self {
            id: c.id,
            display_name: c.display_name,
            handle: c.handle,
            locale: c.locale,
        }
    }
}

impl From<wit::Attachment> for m::Attachment {
    fn from(a: wit::Attachment) -> Self {
        Self {
            kind: a.kind.into(),
            url: a.url,
            provider_ref: a.provider_ref,
            mime_type: a.mime_type,
            filename: a.filename,
            size_bytes: a.size_bytes,
            caption: a.caption,
        }
    }
}

impl From<m::Attachment> for wit::Attachment {
    fn from(a: m::Attachment) -> Self {
        Self {
            kind: a.kind.into(),
            url: a.url,
            provider_ref: a.provider_ref,
            mime_type: a.mime_type,
            filename: a.filename,
            size_bytes: a.size_bytes,
            caption: a.caption,
        }
    }
}

fn attachments_in(list: Vec<wit::Attachment>) -> Vec<m::Attachment> {
    list.into_iter().map(Into::into).collect()
}

impl From<wit::DeliveryStatus> for m::DeliveryStatus {
    fn from(s: wit::DeliveryStatus) -> Self {
        use wit::DeliveryStatus as W;
        match s {
            W::Queued => Self::Queued,
            W::Sent => Self::Sent,
            W::Delivered => Self::Delivered,
            W::Read => Self::Read,
            W::Failed => Self::Failed,
        }
    }
}

impl From<wit::InboundEvent> for m::InboundEvent {
    fn from(e: wit::InboundEvent) -> Self {
        use wit::InboundEvent as W;
        match e {
            W::Message(msg) => Self::Message(m::InboundMessage {
                provider_id: msg.provider_id,
                conversation: msg.conversation,
                contact: msg.contact.into(),
                text: msg.text,
                attachments: attachments_in(msg.attachments),
                reply_to: msg.reply_to,
                timestamp_ms: msg.timestamp_ms,
            }),
            W::Edit(e) => Self::Edit(m::Edit {
                provider_id: e.provider_id,
                message_ref: e.message_ref,
                conversation: e.conversation,
                contact: e.contact.into(),
                text: e.text,
                attachments: attachments_in(e.attachments),
                timestamp_ms: e.timestamp_ms,
            }),
            W::Postback(p) => Self::Postback(m::Postback {
                provider_id: p.provider_id,
                conversation: p.conversation,
                contact: p.contact.into(),
                payload: p.payload,
                label: p.label,
                message_ref: p.message_ref,
                timestamp_ms: p.timestamp_ms,
            }),
            W::Receipt(r) => Self::Receipt(m::Receipt {
                provider_id: r.provider_id,
                message_ref: r.message_ref,
                status: r.status.into(),
                error: r.error.map(Into::into),
                timestamp_ms: r.timestamp_ms,
            }),
            W::Deletion(d) => Self::Deletion(m::Deletion {
                provider_id: d.provider_id,
                conversation: d.conversation,
                message_ref: d.message_ref,
                timestamp_ms: d.timestamp_ms,
            }),
            W::Public(p) => Self::Public(m::PublicItem {
                provider_id: p.provider_id,
                kind: match p.kind {
                    wit::PublicKind::Post => m::PublicKind::Post,
                    wit::PublicKind::Comment => m::PublicKind::Comment,
                    wit::PublicKind::Reply => m::PublicKind::Reply,
                    wit::PublicKind::Mention => m::PublicKind::Mention,
                    wit::PublicKind::Review => m::PublicKind::Review,
                },
                conversation: p.conversation,
                parent_ref: p.parent_ref,
                author: p.author.into(),
                text: p.text,
                attachments: attachments_in(p.attachments),
                rating: p.rating,
                permalink: p.permalink,
                timestamp_ms: p.timestamp_ms,
            }),
        }
    }
}

impl From<wit::HttpResponse> for m::HttpResponse {
    fn from(r: wit::HttpResponse) -> Self {
        Self {
            status: r.status,
            headers: r.headers,
            body: r.body,
        }
    }
}

impl From<m::HttpResponse> for wit::HttpResponse {
    fn from(r: m::HttpResponse) -> Self {
        Self {
            status: r.status,
            headers: r.headers,
            body: r.body,
        }
    }
}

impl From<wit::Received> for m::Received {
    fn from(r: wit::Received) -> Self {
        Self {
            response: r.response.into(),
            events: r.events.into_iter().map(Into::into).collect(),
        }
    }
}

impl From<wit::Polled> for m::Polled {
    fn from(p: wit::Polled) -> Self {
        Self {
            events: p.events.into_iter().map(Into::into).collect(),
            next_cursor: p.next_cursor,
        }
    }
}

impl From<wit::Sent> for m::Sent {
    fn from(s: wit::Sent) -> Self {
        Self {
            provider_id: s.provider_id,
            status: s.status.into(),
        }
    }
}

/// A request the plugin wants to make, in host terms.
pub struct Outgoing {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub timeout_ms: Option<u32>,
}

impl From<imports::OutgoingRequest> for Outgoing {
    fn from(r: imports::OutgoingRequest) -> Self {
        Self {
            method: r.method,
            url: r.url,
            headers: r.headers,
            body: r.body,
            timeout_ms: r.timeout_ms,
        }
    }
}

// ------------------------------------------------------------------ host → plugin

impl From<m::HttpRequest> for wit::HttpRequest {
    fn from(r: m::HttpRequest) -> Self {
        Self {
            method: r.method,
            url: r.url,
            query: r.query,
            headers: r.headers,
            body: r.body,
        }
    }
}

fn choice_out(c: m::Choice) -> wit::Choice {
    wit::Choice {
        id: c.id,
        title: c.title,
        description: c.description,
        image_url: c.image_url,
        url: c.url,
    }
}

fn choices_out(list: Vec<m::Choice>) -> Vec<wit::Choice> {
    list.into_iter().map(choice_out).collect()
}

impl From<m::Rich> for wit::Rich {
    fn from(r: m::Rich) -> Self {
        match r {
            m::Rich::RichLink(l) => Self::RichLink(wit::RichLink {
                url: l.url,
                title: l.title,
                image_url: l.image_url,
            }),
            m::Rich::ListPicker(l) => Self::ListPicker(wit::ListPicker {
                title: l.title,
                button_label: l.button_label,
                sections: l
                    .sections
                    .into_iter()
                    .map(|s| wit::ListSection {
                        title: s.title,
                        items: choices_out(s.items),
                    })
                    .collect(),
                multi_select: l.multi_select,
            }),
            m::Rich::TimePicker(t) => Self::TimePicker(wit::TimePicker {
                title: t.title,
                slots: t
                    .slots
                    .into_iter()
                    .map(|s| wit::TimeSlot {
                        id: s.id,
                        start_ms: s.start_ms,
                        duration_minutes: s.duration_minutes,
                    })
                    .collect(),
                time_zone: t.time_zone,
                location: t.location,
            }),
            m::Rich::Form(f) => Self::Form(wit::Form {
                title: f.title,
                fields: f
                    .fields
                    .into_iter()
                    .map(|f| wit::FormField {
                        id: f.id,
                        label: f.label,
                        kind: match f.kind {
                            m::FieldKind::Text => wit::FieldKind::Text,
                            m::FieldKind::Email => wit::FieldKind::Email,
                            m::FieldKind::Phone => wit::FieldKind::Phone,
                            m::FieldKind::Number => wit::FieldKind::Number,
                            m::FieldKind::Date => wit::FieldKind::Date,
                            m::FieldKind::Choice => wit::FieldKind::Choice,
                            m::FieldKind::Multiline => wit::FieldKind::Multiline,
                        },
                        required: f.required,
                        options: choices_out(f.options),
                    })
                    .collect(),
                submit_label: f.submit_label,
            }),
            m::Rich::AdaptiveCard { json } => Self::AdaptiveCard(json),
            m::Rich::Carousel { cards } => Self::Carousel(
                cards
                    .into_iter()
                    .map(|c| wit::Card {
                        title: c.title,
                        subtitle: c.subtitle,
                        image_url: c.image_url,
                        buttons: choices_out(c.buttons),
                    })
                    .collect(),
            ),
            m::Rich::Template(t) => Self::Template(wit::ProviderTemplate {
                name: t.name,
                language: t.language,
                parameters: t.parameters,
            }),
        }
    }
}

impl From<m::Content> for wit::Content {
    fn from(c: m::Content) -> Self {
        Self {
            text: c.text,
            format: c.format.into(),
            formatted: c.formatted,
            quick_replies: choices_out(c.quick_replies),
            buttons: choices_out(c.buttons),
            rich: c.rich.map(Into::into),
            attachments: c.attachments.into_iter().map(Into::into).collect(),
        }
    }
}

impl From<m::OutboundMessage> for wit::OutboundMessage {
    fn from(o: m::OutboundMessage) -> Self {
        Self {
            idempotency_key: o.idempotency_key,
            conversation: o.conversation,
            recipient: o.recipient.map(Into::into),
            content: o.content.into(),
            reply_to: o.reply_to,
            tag: o.tag,
            public_reply: o.public_reply,
        }
    }
}

impl From<m::ModerationRequest> for wit::ModerationRequest {
    fn from(r: m::ModerationRequest) -> Self {
        Self {
            action: r.action.into(),
            target: r.target,
        }
    }
}
