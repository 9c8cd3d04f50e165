//! Rich content: authored once, channel-neutral (`model::Content`), delivered as the best form
//! each channel can show to each audience, down to plain text.
//!
//! - [`validate`] checks what an author (agent, bot, saved message) wrote, with precise errors.
//! - [`adapt`] turns it into what one channel shows one audience (`transform`).
//! - [`fallback_text`] is the plain-text form the inbox stores and searches.
//! - [`answer`] maps a customer's "2" or typed label back to the option's id.
//! - [`matrix`] derives the seed's ✓/F/✗ table from a channel's declared capabilities.
//!
//! Nothing here touches storage or plugins; delivery calls [`adapt`] at send time with the
//! channel's current capabilities (a hot swap can change them).

pub mod adaptive;
pub mod answer;
pub mod markup;
pub mod matrix;
pub mod time;
mod transform;

#[cfg(test)]
mod tests;

pub use transform::{adapt, fallback_text, shorten, split, Adapted, Offered};

use std::collections::HashSet;

use crate::model::{
    Capabilities, Choice, Content, FieldKind, Rich, RichCapabilities, RichKind, TextFormat,
};

/// Who a message is written by decides which of a channel's capability sets applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Audience {
    /// Bots, scripts, APIs, campaigns (the seed's Table A).
    Automation,
    /// Live human agents (Table B).
    Agent,
}

impl Audience {
    pub fn capabilities(self, caps: &Capabilities) -> &RichCapabilities {
        match self {
            Audience::Automation => &caps.automation,
            Audience::Agent => &caps.agent,
        }
    }
}

/// The rich kinds a message uses (for filtering saved messages by what a channel offers).
pub fn kinds(content: &Content) -> Vec<RichKind> {
    let mut kinds = Vec::new();
    if content.format != TextFormat::Plain {
        kinds.push(RichKind::FormattedText);
    }
    if !content.quick_replies.is_empty() {
        kinds.push(RichKind::QuickReplies);
    }
    match &content.rich {
        Some(Rich::AdaptiveCard { .. }) => kinds.push(RichKind::AdaptiveCard),
        Some(Rich::RichLink(_)) => kinds.push(RichKind::RichLink),
        Some(Rich::ListPicker(_)) => kinds.push(RichKind::ListPicker),
        Some(Rich::TimePicker(_)) => kinds.push(RichKind::TimePicker),
        Some(Rich::Form(_)) => kinds.push(RichKind::Form),
        Some(Rich::Carousel { .. }) | Some(Rich::Template(_)) | None => {}
    }
    kinds
}

/// Check authored content; the error names the field and what is wrong.
pub fn validate(content: &Content) -> Result<(), String> {
    let has_body = !content.text.trim().is_empty()
        || content
            .formatted
            .as_deref()
            .is_some_and(|f| !f.trim().is_empty());
    if !has_body
        && content.rich.is_none()
        && content.attachments.is_empty()
        && content.quick_replies.is_empty()
        && content.buttons.is_empty()
    {
        return Err("content needs text, rich content or an attachment".into());
    }
    if content.formatted.is_some() && content.format == TextFormat::Plain {
        return Err("`formatted` needs `format` markdown or html".into());
    }
    choices("quick_replies", &content.quick_replies)?;
    choices("buttons", &content.buttons)?;
    if content.quick_replies.iter().any(|c| c.url.is_some()) {
        return Err("quick_replies: a quick reply cannot open a URL; use a button".into());
    }
    match &content.rich {
        None => Ok(()),
        Some(Rich::RichLink(link)) => {
            if !(link.url.starts_with("https://") || link.url.starts_with("http://")) {
                return Err(format!("rich.url: `{}` is not an http(s) URL", link.url));
            }
            nonempty("rich.title", &link.title)
        }
        Some(Rich::ListPicker(list)) => {
            nonempty("rich.title", &list.title)?;
            let all: Vec<Choice> = list.sections.iter().flat_map(|s| s.items.clone()).collect();
            if all.is_empty() {
                return Err("rich.sections: a list picker needs at least one item".into());
            }
            choices("rich.sections[].items", &all)
        }
        Some(Rich::TimePicker(picker)) => {
            nonempty("rich.title", &picker.title)?;
            if picker.slots.is_empty() {
                return Err("rich.slots: a time picker needs at least one slot".into());
            }
            if !time::valid_zone(&picker.time_zone) {
                return Err(format!(
                    "rich.time_zone: `{}` is not an IANA time zone (e.g. Europe/Berlin)",
                    picker.time_zone
                ));
            }
            let mut seen = HashSet::new();
            for slot in &picker.slots {
                if slot.id.is_empty() || !seen.insert(&slot.id) {
                    return Err(format!(
                        "rich.slots: slot ids must be non-empty and unique (`{}`)",
                        slot.id
                    ));
                }
            }
            Ok(())
        }
        Some(Rich::Form(form)) => {
            nonempty("rich.title", &form.title)?;
            if form.fields.is_empty() {
                return Err("rich.fields: a form needs at least one field".into());
            }
            let mut seen = HashSet::new();
            for (i, field) in form.fields.iter().enumerate() {
                if field.id.is_empty() || !seen.insert(&field.id) {
                    return Err(format!("rich.fields[{i}].id: must be non-empty and unique"));
                }
                nonempty(&format!("rich.fields[{i}].label"), &field.label)?;
                if field.kind == FieldKind::Choice {
                    if field.options.is_empty() {
                        return Err(format!(
                            "rich.fields[{i}].options: a choice field needs options"
                        ));
                    }
                    choices(&format!("rich.fields[{i}].options"), &field.options)?;
                }
            }
            Ok(())
        }
        Some(Rich::AdaptiveCard { json }) => adaptive::read(json).map(|_| ()),
        Some(Rich::Carousel { cards }) => {
            if cards.is_empty() {
                return Err("rich.cards: a carousel needs at least one card".into());
            }
            for (i, card) in cards.iter().enumerate() {
                nonempty(&format!("rich.cards[{i}].title"), &card.title)?;
                choices(&format!("rich.cards[{i}].buttons"), &card.buttons)?;
            }
            Ok(())
        }
        Some(Rich::Template(t)) => {
            nonempty("rich.name", &t.name)?;
            nonempty("rich.language", &t.language)
        }
    }
}

fn nonempty(field: &str, value: &str) -> Result<(), String> {
    if value.trim().is_empty() {
        Err(format!("{field}: must not be empty"))
    } else {
        Ok(())
    }
}

fn choices(field: &str, items: &[Choice]) -> Result<(), String> {
    let mut seen = HashSet::new();
    for (i, c) in items.iter().enumerate() {
        if c.title.trim().is_empty() {
            return Err(format!("{field}[{i}].title: must not be empty"));
        }
        if c.url.is_none() && (c.id.is_empty() || !seen.insert(&c.id)) {
            return Err(format!(
                "{field}[{i}].id: must be non-empty and unique (`{}`)",
                c.id
            ));
        }
    }
    Ok(())
}
