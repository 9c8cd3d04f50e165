//! `inlet-sdk`: write an Inlet channel plugin in Rust.
//!
//! A plugin is a WebAssembly component (`wasm32-wasip2`) that implements the
//! `inlet:channel` contract in `wit/channel.wit`. With this crate an author:
//!
//! 1. implements [`Channel`] on a type that has a `Default`,
//! 2. calls [`export_channel!`] once with that type,
//! 3. builds with `cargo build --target wasm32-wasip2 --release`.
//!
//! The generated bindings stay private (`mod wit`); this crate re-exports the contract's data
//! types and wraps the host imports in small modules: [`http`], [`config`], [`kv`], [`log`].
//! Helpers every plugin needs live here once: constant-time signature checks ([`signature`]),
//! JSON and form bodies ([`body`]), error constructors, and Meta's webhook handshake,
//! signature and Graph errors for the plugins on Meta's platform ([`meta`]).
//!
//! The export macro stamps [`CONTRACT_VERSION`] into the component's custom section
//! `inlet:contract-version`, so the host can refuse an incompatible plugin before compiling it.

pub mod body;
pub mod meta;
pub mod signature;
#[cfg(feature = "time")]
pub mod slots;

mod wit {
    wit_bindgen::generate!({
        path: "../wit",
        world: "plugin",
        generate_all,
    });
}

mod errors;
mod glue;
pub mod host;

pub use host::{config, http, kv, log};

/// The contract version this SDK implements (the WIT package version).
pub const CONTRACT_VERSION: &str = "0.2.0";
/// Name of the custom section that carries [`CONTRACT_VERSION`].
pub const CONTRACT_SECTION: &str = "inlet:contract-version";
#[doc(hidden)]
pub const CONTRACT_VERSION_LEN: usize = CONTRACT_VERSION.len();
#[doc(hidden)]
pub const CONTRACT_VERSION_BYTES: [u8; CONTRACT_VERSION_LEN] = {
    let src = CONTRACT_VERSION.as_bytes();
    let mut out = [0u8; CONTRACT_VERSION_LEN];
    let mut i = 0;
    while i < CONTRACT_VERSION_LEN {
        out[i] = src[i];
        i += 1;
    }
    out
};

/// The contract's data types, re-exported one by one so authors never touch the bindings.
pub mod types {
    pub use crate::wit::inlet::channel::types::{
        Attachment, AttachmentLimit, CarouselLimits, ChannelError, ChannelKind, Choice,
        ChoiceLimits, ConfigKey, Contact, Content, Deletion, DeliveryStatus, Edit, ErrorDetail,
        Handshake, HttpRequest, HttpResponse, InboundEvent, InboundMessage, Ingress, ListLimits,
        Manifest, MediaKind, MessagingWindow, ModerationAction, ModerationRequest, OutboundMessage,
        Polled, Postback, ProactivePolicy, PublicItem, PublicKind, RateLimit, Receipt, Received,
        Rich, RichCapabilities, RichKind, RichLinkLimits, Sent, TextFormat, TimePickerLimits,
    };
    pub use crate::wit::inlet::channel::types::{
        Capabilities, Card, FieldKind, Form, FormField, ListPicker, ListSection, ProviderTemplate,
        RichLink, TimePicker, TimeSlot,
    };
}

pub use types::*;

/// Result type of every plugin entry point.
pub type Result<T, E = ChannelError> = std::result::Result<T, E>;

/// A channel integration. Implement the required methods; the defaults say "not supported".
pub trait Channel: Send + Sync + 'static {
    /// Identity, configuration keys, egress needs and capabilities.
    fn describe(&self) -> Manifest;

    /// Validate the configuration without network access. The host calls this after loading a
    /// plugin and before a hot-swapped version takes traffic.
    fn health(&self) -> Result<()> {
        let manifest = self.describe();
        for key in manifest.config.iter().filter(|k| k.required) {
            config::require(&key.name)?;
        }
        Ok(())
    }

    /// Verify one webhook request and turn it into events.
    fn receive(&self, request: HttpRequest) -> Result<Received>;

    /// Fetch events for channels without webhooks.
    fn poll(&self, _cursor: Option<String>) -> Result<Polled> {
        Err(ChannelError::permanent("this channel does not poll"))
    }

    /// Deliver one outbound message.
    fn send(&self, message: OutboundMessage) -> Result<Sent>;

    /// Moderate public content.
    fn act(&self, request: ModerationRequest) -> Result<()> {
        Err(ChannelError::permanent(format!(
            "moderation action {:?} is not supported by this channel",
            request.action
        )))
    }
}

/// Export `$ty` (which implements [`Channel`] and `Default`) as the component's channel.
#[macro_export]
macro_rules! export_channel {
    ($ty:ty) => {
        #[doc(hidden)]
        #[no_mangle]
        pub fn __inlet_channel_instance() -> &'static dyn $crate::Channel {
            static INSTANCE: ::std::sync::OnceLock<$ty> = ::std::sync::OnceLock::new();
            INSTANCE.get_or_init(<$ty as ::core::default::Default>::default)
        }

        #[doc(hidden)]
        #[used]
        #[link_section = "inlet:contract-version"]
        static __INLET_CONTRACT_VERSION: [u8; $crate::CONTRACT_VERSION_LEN] =
            $crate::CONTRACT_VERSION_BYTES;
    };
}

impl HttpRequest {
    /// A header value by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// A query parameter by exact name.
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

impl HttpResponse {
    /// A bodiless response.
    pub fn empty(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// A plain-text response (challenge echoes).
    pub fn text(status: u16, text: impl Into<String>) -> Self {
        Self {
            status,
            headers: vec![("content-type".into(), "text/plain; charset=utf-8".into())],
            body: text.into().into_bytes(),
        }
    }

    /// A response with a content type.
    pub fn with_body(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Self {
            status,
            headers: vec![("content-type".into(), content_type.into())],
            body: body.into(),
        }
    }

    /// A header value by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl Received {
    /// Acknowledge with `200 OK` and no body.
    pub fn ok(events: Vec<InboundEvent>) -> Self {
        Self {
            response: HttpResponse::empty(200),
            events,
        }
    }
}

impl Contact {
    /// A contact known only by its provider id.
    pub fn id(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            display_name: None,
            handle: None,
            locale: None,
        }
    }
}

impl RichCapabilities {
    /// Plain text up to `max_text_length` characters and nothing else: start here and switch
    /// on what the channel shows.
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

impl AttachmentLimit {
    /// Any MIME type of `kind` up to `max_bytes`.
    pub fn any(kind: MediaKind, max_bytes: u64) -> Self {
        Self {
            kind,
            max_bytes,
            mime_types: Vec::new(),
        }
    }
}

impl ConfigKey {
    /// A required, non-secret key.
    pub fn required(name: &str, description: &str) -> Self {
        Self {
            name: name.to_string(),
            description: description.to_string(),
            secret: false,
            required: true,
            default_value: None,
        }
    }

    /// A required secret (token, signing key): stored, never shown, never logged.
    pub fn secret(name: &str, description: &str) -> Self {
        Self {
            secret: true,
            ..Self::required(name, description)
        }
    }

    /// An optional key with a default.
    pub fn optional(name: &str, description: &str, default: &str) -> Self {
        Self {
            required: false,
            default_value: Some(default.to_string()),
            ..Self::required(name, description)
        }
    }
}
