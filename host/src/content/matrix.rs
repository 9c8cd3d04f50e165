//! The rich-content matrix derived from a channel's declared capabilities: for each of the
//! seed's seven kinds and each audience, native (✓), fallback text offered (F) or not offered
//! (✗). The same derivation filters saved rich messages and is what the tests compare with the
//! seed's Tables A and B.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::model::{Capabilities, RichCapabilities, RichKind, TextFormat};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Support {
    /// Shown natively.
    Native,
    /// Offered; delivered as readable fallback text.
    Fallback,
    /// Not offered to this audience.
    No,
}

impl Support {
    /// The seed's notation: ✓, F, ✗.
    pub fn symbol(self) -> &'static str {
        match self {
            Support::Native => "✓",
            Support::Fallback => "F",
            Support::No => "✗",
        }
    }

    /// May the audience author this kind on the channel?
    pub fn offered(self) -> bool {
        self != Support::No
    }
}

pub fn support(caps: &RichCapabilities, kind: RichKind) -> Support {
    let native = match kind {
        RichKind::AdaptiveCard => caps.adaptive_card.is_some(),
        RichKind::FormattedText => caps
            .formats
            .iter()
            .any(|f| matches!(f, TextFormat::Markdown | TextFormat::Html)),
        RichKind::RichLink => caps.rich_link.is_some(),
        RichKind::QuickReplies => caps.quick_replies.is_some(),
        RichKind::ListPicker => caps.list_picker.is_some(),
        RichKind::TimePicker => caps.time_picker.is_some(),
        RichKind::Form => caps.form,
    };
    if native {
        Support::Native
    } else if caps.fallback.contains(&kind) {
        Support::Fallback
    } else {
        Support::No
    }
}

/// One audience's row: the seven kinds in the seed's column order.
pub fn row(caps: &RichCapabilities) -> [Support; 7] {
    RichKind::ALL.map(|k| support(caps, k))
}

/// Both audiences, as served by the API (`rich_content` of a channel).
#[derive(Debug, Clone, Serialize)]
pub struct Matrix {
    pub automation: BTreeMap<RichKind, Support>,
    pub agent: BTreeMap<RichKind, Support>,
}

pub fn matrix(caps: &Capabilities) -> Matrix {
    let kinds = |c: &RichCapabilities| RichKind::ALL.iter().map(|k| (*k, support(c, *k))).collect();
    Matrix {
        automation: kinds(&caps.automation),
        agent: kinds(&caps.agent),
    }
}
