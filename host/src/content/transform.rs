//! The transformer: one channel-neutral message in, what one channel can show to one audience
//! out. Deterministic: the same message and capabilities always give the same result.
//!
//! - Native where the channel declares the kind, within its limits (titles and descriptions
//!   shortened with "…"; a choice id too long for the channel's payload is replaced by a short
//!   token that `Offered` maps back, so the full id is never lost).
//! - Otherwise the next-best primitive: quick replies → list picker → buttons → numbered text,
//!   buttons → quick replies → list → numbered text, list and time-picker slots likewise;
//!   adaptive cards, forms, carousels and rich links → readable text.
//! - Markdown/HTML → the channel's own markup or plain text.
//! - Text longer than the channel allows is split into several messages at paragraph, line or
//!   word boundaries: nothing of the text is cut off.
//! - Attachments the channel cannot take become a link line (or a note when there is no URL).

use serde::{Deserialize, Serialize};

use super::{adaptive, markup, time};
use crate::model::{
    AttachmentLimit, Card, Choice, Content, ListLimits, ListPicker, ListSection, Rich,
    RichCapabilities, TextFormat,
};

/// A choice the customer was offered, as sent: how a typed number or label, or a postback
/// payload, maps back to the author's choice id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Offered {
    /// The author's choice id.
    pub id: String,
    pub title: String,
    /// The payload the channel posts back (the id, or a short token when the id is too long).
    pub payload: String,
    /// Set when the choice was sent as a numbered line of text.
    pub number: Option<u32>,
    /// Several of these may be chosen together.
    #[serde(default)]
    pub multi: bool,
}

/// The result of adapting one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adapted {
    /// One or more messages to send in order (more than one only when the text is too long).
    pub parts: Vec<Content>,
    pub offered: Vec<Offered>,
    /// What was changed and why, for the agent ("quick replies sent as numbered text").
    pub notes: Vec<String>,
}

/// Where a set of choices came from: decides the order of fallbacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    QuickReplies,
    Buttons,
    List { multi: bool },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Quick,
    Buttons,
    List,
    Numbered,
}

struct Builder<'a> {
    caps: &'a RichCapabilities,
    /// Plain-text sections after the body (fallback renderings).
    sections: Vec<String>,
    quick: Vec<Choice>,
    buttons: Vec<Choice>,
    rich: Option<Rich>,
    offered: Vec<Offered>,
    next_number: u32,
    notes: Vec<String>,
    /// A title for the message body when the author wrote none (list title, card title).
    title: Option<String>,
}

/// Adapt `content` to what `caps` can show.
pub fn adapt(content: &Content, caps: &RichCapabilities) -> Adapted {
    let mut b = Builder {
        caps,
        sections: Vec::new(),
        quick: Vec::new(),
        buttons: Vec::new(),
        rich: None,
        offered: Vec::new(),
        next_number: 1,
        notes: Vec::new(),
        title: None,
    };

    // Body text in the author's markup, and its plain form.
    let source = content
        .formatted
        .clone()
        .filter(|_| content.format != TextFormat::Plain)
        .unwrap_or_else(|| content.text.clone());
    let author_wrote_plain = content.format == TextFormat::Plain
        || (content.formatted.is_some() && !content.text.trim().is_empty());
    let plain_body = if author_wrote_plain {
        content.text.clone()
    } else {
        markup::to_plain(content.format, &source)
    };
    let target_format = if content.format == TextFormat::Plain {
        None
    } else if caps.formats.contains(&content.format) {
        Some(content.format)
    } else if let Some(other) = caps
        .formats
        .iter()
        .copied()
        .find(|f| *f != TextFormat::Plain)
    {
        b.notes.push(format!(
            "{} converted to {}",
            format_name(content.format),
            format_name(other)
        ));
        Some(other)
    } else {
        b.notes.push(format!(
            "{} sent as plain text (the channel shows no formatting)",
            format_name(content.format)
        ));
        None
    };

    // The authored rich element claims the rich slot first; choices take what is left.
    if let Some(rich) = &content.rich {
        b.rich(rich);
    }
    if !content.buttons.is_empty() {
        b.place(&content.buttons, Source::Buttons, None, None);
    }
    if !content.quick_replies.is_empty() {
        b.place(&content.quick_replies, Source::QuickReplies, None, None);
    }
    let attachments = b.attachments(&content.attachments);

    // Assemble the plain text.
    let mut body = plain_body.trim_end().to_string();
    let has_native = b.rich.is_some() || !b.quick.is_empty() || !b.buttons.is_empty();
    if body.trim().is_empty() && b.sections.is_empty() && has_native {
        body = b
            .title
            .clone()
            .unwrap_or_else(|| "Please choose an option.".to_string());
    }
    let mut text_blocks: Vec<String> = Vec::new();
    if !body.trim().is_empty() {
        text_blocks.push(body.clone());
    }
    text_blocks.extend(b.sections.iter().cloned());
    let full_text = text_blocks.join("\n\n");

    // Formatted text: the author's markup converted, plus the fallback sections.
    let max = caps.max_text_length.max(1) as usize;
    let mut formatted = target_format.map(|f| {
        let mut out = markup::convert(content.format, f, &source);
        for section in &b.sections {
            let blocks = markup::parse(TextFormat::Plain, section);
            let rendered = markup::render(f, &blocks);
            if !out.is_empty() && f != TextFormat::Html {
                out.push_str("\n\n");
            }
            out.push_str(&rendered);
        }
        (f, out)
    });
    if let Some((f, text)) = &formatted {
        if text.chars().count() > max || full_text.chars().count() > max {
            b.notes.push(format!(
                "{} too long for one message: sent as plain text in parts",
                format_name(*f)
            ));
            formatted = None;
        }
    }

    let chunks = split(&full_text, max);
    let last = chunks.len().saturating_sub(1);
    let mut parts = Vec::with_capacity(chunks.len());
    for (i, chunk) in chunks.into_iter().enumerate() {
        let mut part = Content::text(chunk);
        if i == last {
            if let Some((f, text)) = formatted.take() {
                part.format = f;
                part.formatted = Some(text);
            }
            part.quick_replies = std::mem::take(&mut b.quick);
            part.buttons = std::mem::take(&mut b.buttons);
            part.rich = b.rich.take();
            part.attachments = attachments.clone();
        }
        parts.push(part);
    }
    if parts.len() > 1 {
        b.notes.push(format!(
            "text longer than {max} characters: sent as {} messages",
            parts.len()
        ));
    }
    Adapted {
        parts,
        offered: b.offered,
        notes: b.notes,
    }
}

/// The whole message as plain text, as a channel that shows nothing else would get it: what
/// the inbox stores and searches when the author gave no text.
pub fn fallback_text(content: &Content) -> String {
    let adapted = adapt(content, &RichCapabilities::plain_text(u32::MAX));
    adapted
        .parts
        .iter()
        .map(|p| p.text.as_str())
        .collect::<Vec<_>>()
        .join("\n\n")
}

fn format_name(f: TextFormat) -> &'static str {
    match f {
        TextFormat::Plain => "plain text",
        TextFormat::Markdown => "markdown",
        TextFormat::Html => "HTML",
    }
}

impl Builder<'_> {
    fn rich(&mut self, rich: &Rich) {
        match rich {
            Rich::Template(t) => {
                if self.caps.templates {
                    self.rich = Some(rich.clone());
                } else {
                    self.notes.push(
                        "provider template sent as text (the channel has no templates)".into(),
                    );
                    let mut line = t.parameters.join(" · ");
                    if line.is_empty() {
                        line = t.name.clone();
                    }
                    self.sections.push(line);
                }
            }
            Rich::RichLink(link) => {
                if let Some(limits) = self.caps.rich_link {
                    self.title.get_or_insert_with(|| link.title.clone());
                    let mut link = link.clone();
                    let max = limits.max_title_length;
                    if link.title.chars().count() > max as usize {
                        link.title = shorten(&link.title, max);
                        self.notes
                            .push(format!("rich link title shortened to {max} characters"));
                    }
                    self.rich = Some(Rich::RichLink(link));
                } else {
                    self.notes.push("rich link sent as text".into());
                    self.sections.push(format!("{}\n{}", link.title, link.url));
                }
            }
            Rich::ListPicker(list) => {
                let choices: Vec<Choice> =
                    list.sections.iter().flat_map(|s| s.items.clone()).collect();
                if let Some(limits) = self.caps.list_picker {
                    if fits_list(list, &limits) {
                        self.title.get_or_insert_with(|| list.title.clone());
                        let adapted = self.native_list(list, &limits);
                        self.rich = Some(Rich::ListPicker(adapted));
                        return;
                    }
                }
                let source = Source::List {
                    multi: list.multi_select,
                };
                let header = Some(list.title.clone());
                // A list that does not fit natively takes the next-best slot, never the list
                // slot again.
                self.place(&choices, source, header, Some(Slot::List));
            }
            Rich::TimePicker(picker) => {
                let max_slots = self.caps.time_picker.map(|l| l.max_slots as usize);
                if max_slots.is_some_and(|max| picker.slots.len() <= max) {
                    self.title.get_or_insert_with(|| picker.title.clone());
                    self.rich = Some(rich.clone());
                    return;
                }
                let choices: Vec<Choice> = picker
                    .slots
                    .iter()
                    .map(|s| Choice {
                        id: s.id.clone(),
                        title: time::slot_label(s.start_ms, s.duration_minutes, &picker.time_zone),
                        description: None,
                        image_url: None,
                        url: None,
                    })
                    .collect();
                let mut header = picker.title.clone();
                if let Some(location) = &picker.location {
                    header.push_str(&format!("\n{location}"));
                }
                if !picker.time_zone.is_empty() && time::valid_zone(&picker.time_zone) {
                    header.push_str(&format!("\n(times in {})", picker.time_zone));
                }
                self.notes
                    .push("time picker sent as a choice of slots".into());
                self.place(&choices, Source::List { multi: false }, Some(header), None);
            }
            Rich::Form(form) => {
                if self.caps.form {
                    self.title.get_or_insert_with(|| form.title.clone());
                    self.rich = Some(rich.clone());
                    return;
                }
                self.notes.push("form sent as text".into());
                let mut lines = vec![form.title.clone(), "Please reply with:".to_string()];
                for (i, field) in form.fields.iter().enumerate() {
                    let required = if field.required { " (required)" } else { "" };
                    let options = if field.options.is_empty() {
                        String::new()
                    } else {
                        let titles: Vec<&str> =
                            field.options.iter().map(|o| o.title.as_str()).collect();
                        format!(": {}", titles.join(" / "))
                    };
                    lines.push(format!("{}. {}{required}{options}", i + 1, field.label));
                }
                self.sections.push(lines.join("\n"));
            }
            Rich::AdaptiveCard { json } => {
                let card = adaptive::read(json);
                let native = match (&self.caps.adaptive_card, &card) {
                    (Some(max), Ok(card)) => adaptive::version_at_most(&card.version, max),
                    _ => false,
                };
                if native {
                    self.rich = Some(rich.clone());
                    return;
                }
                match card {
                    Ok(card) => {
                        self.notes.push("adaptive card sent as text".into());
                        self.title = self.title.take().or_else(|| card.lines.first().cloned());
                        if !card.lines.is_empty() {
                            self.sections.push(card.lines.join("\n"));
                        }
                        if !card.actions.is_empty() {
                            self.place(&card.actions, Source::Buttons, None, None);
                        }
                    }
                    Err(e) => self.notes.push(format!("adaptive card not sent: {e}")),
                }
            }
            Rich::Carousel { cards } => {
                if let Some(limits) = self.caps.carousel {
                    let fits = !cards.is_empty()
                        && cards.len() <= limits.max_cards as usize
                        && cards
                            .iter()
                            .all(|c| c.buttons.len() <= limits.max_buttons_per_card as usize);
                    if fits {
                        let cards = cards
                            .iter()
                            .map(|c| Card {
                                title: shorten(&c.title, limits.max_title_length),
                                subtitle: c.subtitle.clone(),
                                image_url: c.image_url.clone(),
                                buttons: c
                                    .buttons
                                    .iter()
                                    .map(|choice| {
                                        self.offer(choice, limits.max_title_length, u32::MAX, None)
                                    })
                                    .collect(),
                            })
                            .collect();
                        self.rich = Some(Rich::Carousel { cards });
                        return;
                    }
                }
                self.notes.push("carousel sent as text".into());
                let mut all_buttons = Vec::new();
                for card in cards {
                    let mut lines = vec![card.title.clone()];
                    lines.extend(card.subtitle.clone());
                    if let Some(image) = &card.image_url {
                        lines.push(format!("[Image] {image}"));
                    }
                    self.sections.push(lines.join("\n"));
                    for button in &card.buttons {
                        let mut b = button.clone();
                        b.title = format!("{} — {}", card.title, button.title);
                        all_buttons.push(b);
                    }
                }
                if !all_buttons.is_empty() {
                    self.place(&all_buttons, Source::Buttons, None, None);
                }
            }
        }
    }

    fn native_list(&mut self, list: &ListPicker, limits: &ListLimits) -> ListPicker {
        ListPicker {
            title: shorten(&list.title, limits.max_title_length),
            button_label: shorten(&list.button_label, limits.max_title_length),
            multi_select: list.multi_select,
            sections: list
                .sections
                .iter()
                .map(|s| ListSection {
                    title: s
                        .title
                        .as_ref()
                        .map(|t| shorten(t, limits.max_title_length)),
                    items: s
                        .items
                        .iter()
                        .map(|c| {
                            let mut offered = self.offer(
                                c,
                                limits.max_title_length,
                                u32::MAX,
                                Some(list.multi_select),
                            );
                            offered.description = c
                                .description
                                .as_ref()
                                .map(|d| shorten(d, limits.max_description_length));
                            offered
                        })
                        .collect(),
                })
                .collect(),
        }
    }

    /// Record a choice as offered and return it as sent (title shortened, payload mapped).
    fn offer(
        &mut self,
        choice: &Choice,
        max_title: u32,
        max_payload: u32,
        multi: Option<bool>,
    ) -> Choice {
        let payload = if choice.id.len() <= max_payload as usize {
            choice.id.clone()
        } else {
            format!("~{}", self.offered.len() + 1)
        };
        if choice.url.is_none() {
            self.offered.push(Offered {
                id: choice.id.clone(),
                title: choice.title.clone(),
                payload: payload.clone(),
                number: None,
                multi: multi.unwrap_or(false),
            });
        }
        Choice {
            id: payload,
            title: shorten(&choice.title, max_title),
            description: choice.description.clone(),
            image_url: choice.image_url.clone(),
            url: choice.url.clone(),
        }
    }

    /// Put `choices` in the best free slot for their source.
    fn place(
        &mut self,
        choices: &[Choice],
        source: Source,
        header: Option<String>,
        exclude: Option<Slot>,
    ) {
        let order: &[Slot] = match source {
            Source::QuickReplies => &[Slot::Quick, Slot::List, Slot::Buttons, Slot::Numbered],
            Source::Buttons => &[Slot::Buttons, Slot::Quick, Slot::List, Slot::Numbered],
            Source::List { multi: false } => {
                &[Slot::List, Slot::Quick, Slot::Buttons, Slot::Numbered]
            }
            Source::List { multi: true } => &[Slot::List, Slot::Numbered],
        };
        let multi = matches!(source, Source::List { multi: true });
        let has_url = choices.iter().any(|c| c.url.is_some());
        for slot in order.iter().copied().filter(|s| Some(*s) != exclude) {
            match slot {
                Slot::Quick => {
                    let Some(l) = self.caps.quick_replies else {
                        continue;
                    };
                    if self.quick.is_empty() && !has_url && choices.len() <= l.max_options as usize
                    {
                        self.title = self.title.take().or(header.clone());
                        self.quick = choices
                            .iter()
                            .map(|c| self.offer(c, l.max_title_length, l.max_payload_length, None))
                            .collect();
                        self.note_moved(source, Slot::Quick);
                        return;
                    }
                }
                Slot::Buttons => {
                    let Some(l) = self.caps.buttons else {
                        continue;
                    };
                    if self.buttons.is_empty() && choices.len() <= l.max_options as usize {
                        self.title = self.title.take().or(header.clone());
                        self.buttons = choices
                            .iter()
                            .map(|c| self.offer(c, l.max_title_length, l.max_payload_length, None))
                            .collect();
                        self.note_moved(source, Slot::Buttons);
                        return;
                    }
                }
                Slot::List => {
                    let Some(l) = self.caps.list_picker else {
                        continue;
                    };
                    let list = ListPicker {
                        title: header.clone().unwrap_or_else(|| "Options".into()),
                        button_label: "Choose".into(),
                        sections: vec![ListSection {
                            title: None,
                            items: choices.to_vec(),
                        }],
                        multi_select: multi,
                    };
                    if self.rich.is_none() && !has_url && fits_list(&list, &l) {
                        self.title = self.title.take().or(header.clone());
                        let adapted = self.native_list(&list, &l);
                        self.rich = Some(Rich::ListPicker(adapted));
                        self.note_moved(source, Slot::List);
                        return;
                    }
                }
                Slot::Numbered => {
                    self.numbered(choices, header.as_deref(), multi);
                    return;
                }
            }
        }
    }

    /// Note when choices left the slot their source would have had natively.
    fn note_moved(&mut self, source: Source, to: Slot) {
        let (from, native) = match source {
            Source::QuickReplies => ("quick replies", Slot::Quick),
            Source::Buttons => ("buttons", Slot::Buttons),
            Source::List { .. } => ("list", Slot::List),
        };
        if to == native {
            return;
        }
        let to = match to {
            Slot::Quick => "quick replies",
            Slot::Buttons => "buttons",
            Slot::List => "a list picker",
            Slot::Numbered => "numbered text",
        };
        self.notes.push(format!("{from} sent as {to}"));
    }

    /// Choices as numbered lines the customer answers by number or label.
    fn numbered(&mut self, choices: &[Choice], header: Option<&str>, multi: bool) {
        self.notes.push("choices sent as numbered text".into());
        let mut lines = Vec::new();
        if let Some(h) = header {
            lines.push(h.to_string());
        }
        let mut links = Vec::new();
        for choice in choices {
            if let Some(url) = &choice.url {
                links.push(format!("• {}: {url}", choice.title));
                continue;
            }
            let n = self.next_number;
            self.next_number += 1;
            let mut line = format!("{n}. {}", choice.title);
            if let Some(d) = &choice.description {
                line.push_str(&format!(" — {d}"));
            }
            lines.push(line);
            self.offered.push(Offered {
                id: choice.id.clone(),
                title: choice.title.clone(),
                payload: choice.id.clone(),
                number: Some(n),
                multi,
            });
        }
        lines.extend(links);
        if choices.iter().any(|c| c.url.is_none()) {
            lines.push(
                if multi {
                    "Reply with one or more numbers, e.g. 1, 3."
                } else {
                    "Reply with the number or the name of your choice."
                }
                .to_string(),
            );
        }
        self.sections.push(lines.join("\n"));
    }

    fn attachments(
        &mut self,
        attachments: &[crate::model::Attachment],
    ) -> Vec<crate::model::Attachment> {
        let mut kept = Vec::new();
        for a in attachments {
            let allowed = self
                .caps
                .attachments
                .iter()
                .find(|l| l.kind == a.kind)
                .filter(|l| accepts(l, a));
            if allowed.is_some() {
                kept.push(a.clone());
                continue;
            }
            let name = a
                .caption
                .clone()
                .or_else(|| a.filename.clone())
                .unwrap_or_else(|| format!("{:?}", a.kind).to_lowercase());
            match &a.url {
                Some(url) => {
                    self.notes.push(format!(
                        "attachment `{name}` sent as a link (not accepted by the channel)"
                    ));
                    self.sections.push(format!("[{name}] {url}"));
                }
                None => self.notes.push(format!(
                    "attachment `{name}` not sent: the channel does not accept it and it has no URL"
                )),
            }
        }
        kept
    }
}

fn accepts(limit: &AttachmentLimit, a: &crate::model::Attachment) -> bool {
    let size_ok = a.size_bytes.is_none_or(|s| s <= limit.max_bytes);
    let mime_ok = match &a.mime_type {
        Some(m) if !limit.mime_types.is_empty() => limit.mime_types.iter().any(|x| x == m),
        _ => true,
    };
    size_ok && mime_ok
}

fn fits_list(list: &ListPicker, l: &ListLimits) -> bool {
    let rows: usize = list.sections.iter().map(|s| s.items.len()).sum();
    rows > 0
        && rows <= l.max_rows as usize
        && list.sections.len() <= l.max_sections.max(1) as usize
        && (!list.multi_select || l.multi_select)
        && list
            .sections
            .iter()
            .flat_map(|s| &s.items)
            .all(|c| c.url.is_none())
}

/// At most `max` characters, ending in "…" when shortened.
pub fn shorten(text: &str, max: u32) -> String {
    let max = max as usize;
    if text.chars().count() <= max {
        return text.to_string();
    }
    if max == 0 {
        return String::new();
    }
    let mut out: String = text.chars().take(max - 1).collect();
    out.truncate(out.trim_end().len());
    out.push('…');
    out
}

/// Split `text` into chunks of at most `max` characters, preferring paragraph, then line,
/// then word boundaries; nothing is dropped but the whitespace at a split.
pub fn split(text: &str, max: usize) -> Vec<String> {
    let max = max.max(1);
    let mut chunks = Vec::new();
    let mut rest = text.trim();
    while rest.chars().count() > max {
        let byte_limit = rest.char_indices().nth(max).map_or(rest.len(), |(i, _)| i);
        let window = &rest[..byte_limit];
        let cut = ["\n\n", "\n", " "]
            .iter()
            .find_map(|sep| window.rfind(sep).filter(|&i| i > 0))
            .unwrap_or(byte_limit);
        chunks.push(rest[..cut].trim_end().to_string());
        rest = rest[cut..].trim_start();
    }
    if !rest.is_empty() || chunks.is_empty() {
        chunks.push(rest.to_string());
    }
    chunks
}
