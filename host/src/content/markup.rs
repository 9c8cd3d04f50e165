//! Text markup: a small document model that markdown and HTML are read into, and that is
//! written back out as plain text, markdown or HTML. This is how a message authored in one
//! markup reaches a channel that renders another, or none.
//!
//! The subset is what chat channels render: paragraphs, headings, bullet and numbered lists,
//! bold, italic, inline code, links and line breaks. Anything else keeps its text and loses its
//! styling; `<script>` and `<style>` lose both.

use crate::model::TextFormat;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inline {
    Text(String),
    Bold(Vec<Inline>),
    Italic(Vec<Inline>),
    Code(String),
    Link { text: Vec<Inline>, url: String },
    Break,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block {
    Paragraph(Vec<Inline>),
    Heading(Vec<Inline>),
    /// `number` is set for ordered lists.
    Item {
        number: Option<u32>,
        inlines: Vec<Inline>,
    },
}

/// Read `source` written in `format`.
pub fn parse(format: TextFormat, source: &str) -> Vec<Block> {
    match format {
        TextFormat::Plain => source
            .split("\n\n")
            .filter(|p| !p.trim().is_empty())
            .map(|p| Block::Paragraph(plain_inlines(p)))
            .collect(),
        TextFormat::Markdown => parse_markdown(source),
        TextFormat::Html => parse_html(source),
    }
}

/// Convert `source` from one markup to another.
pub fn convert(from: TextFormat, to: TextFormat, source: &str) -> String {
    if from == to {
        return source.to_string();
    }
    render(to, &parse(from, source))
}

pub fn render(format: TextFormat, blocks: &[Block]) -> String {
    let mut out = String::new();
    let mut previous_item = false;
    for block in blocks {
        let item = matches!(block, Block::Item { .. });
        if !out.is_empty() {
            out.push_str(match (format, previous_item && item) {
                (TextFormat::Html, _) => "",
                (_, true) => "\n",
                (_, false) => "\n\n",
            });
        }
        previous_item = item;
        match (format, block) {
            (TextFormat::Html, Block::Paragraph(i)) => {
                out.push_str("<p>");
                inlines(format, i, &mut out);
                out.push_str("</p>");
            }
            (TextFormat::Html, Block::Heading(i)) => {
                out.push_str("<p><b>");
                inlines(format, i, &mut out);
                out.push_str("</b></p>");
            }
            (TextFormat::Html, Block::Item { number, inlines: i }) => {
                // Chat channels' HTML (Telegram, email clients) has no reliable lists.
                match number {
                    Some(n) => out.push_str(&format!("{n}. ")),
                    None => out.push_str("• "),
                }
                inlines(format, i, &mut out);
                out.push_str("<br>");
            }
            (TextFormat::Markdown, Block::Heading(i)) => {
                out.push_str("**");
                inlines(format, i, &mut out);
                out.push_str("**");
            }
            (_, Block::Paragraph(i)) | (_, Block::Heading(i)) => inlines(format, i, &mut out),
            (_, Block::Item { number, inlines: i }) => {
                match number {
                    Some(n) => out.push_str(&format!("{n}. ")),
                    None => out.push_str(if format == TextFormat::Markdown {
                        "- "
                    } else {
                        "• "
                    }),
                }
                inlines(format, i, &mut out);
            }
        }
    }
    out
}

/// The plain text of `source`.
pub fn to_plain(format: TextFormat, source: &str) -> String {
    match format {
        TextFormat::Plain => source.to_string(),
        _ => render(TextFormat::Plain, &parse(format, source)),
    }
}

fn inlines(format: TextFormat, items: &[Inline], out: &mut String) {
    for item in items {
        match (format, item) {
            (TextFormat::Html, Inline::Text(t)) => out.push_str(&escape_html(t)),
            (TextFormat::Markdown, Inline::Text(t)) => out.push_str(&escape_markdown(t)),
            (_, Inline::Text(t)) => out.push_str(t),
            (TextFormat::Html, Inline::Bold(i)) => wrap(format, "<b>", i, "</b>", out),
            (TextFormat::Html, Inline::Italic(i)) => wrap(format, "<i>", i, "</i>", out),
            (TextFormat::Html, Inline::Code(c)) => {
                out.push_str("<code>");
                out.push_str(&escape_html(c));
                out.push_str("</code>");
            }
            (TextFormat::Html, Inline::Link { text, url }) => {
                out.push_str(&format!("<a href=\"{}\">", escape_html(url)));
                inlines(format, text, out);
                out.push_str("</a>");
            }
            (TextFormat::Html, Inline::Break) => out.push_str("<br>"),
            (TextFormat::Markdown, Inline::Bold(i)) => wrap(format, "**", i, "**", out),
            (TextFormat::Markdown, Inline::Italic(i)) => wrap(format, "_", i, "_", out),
            (TextFormat::Markdown, Inline::Code(c)) => {
                out.push('`');
                out.push_str(c);
                out.push('`');
            }
            (TextFormat::Markdown, Inline::Link { text, url }) => {
                out.push('[');
                inlines(format, text, out);
                out.push_str(&format!("]({url})"));
            }
            (_, Inline::Break) => out.push('\n'),
            (_, Inline::Bold(i)) | (_, Inline::Italic(i)) => inlines(format, i, out),
            (_, Inline::Code(c)) => out.push_str(c),
            (_, Inline::Link { text, url }) => {
                let mut label = String::new();
                inlines(format, text, &mut label);
                if label.trim().is_empty() || label == *url {
                    out.push_str(url);
                } else {
                    out.push_str(&format!("{label} ({url})"));
                }
            }
        }
    }
}

fn wrap(format: TextFormat, open: &str, items: &[Inline], close: &str, out: &mut String) {
    out.push_str(open);
    inlines(format, items, out);
    out.push_str(close);
}

pub fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn escape_markdown(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '_' | '`' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn plain_inlines(text: &str) -> Vec<Inline> {
    let mut out = Vec::new();
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push(Inline::Break);
        }
        if !line.is_empty() {
            out.push(Inline::Text(line.to_string()));
        }
    }
    out
}

// ------------------------------------------------------------------ markdown

fn parse_markdown(source: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut paragraph: Vec<&str> = Vec::new();
    let flush = |paragraph: &mut Vec<&str>, blocks: &mut Vec<Block>| {
        if !paragraph.is_empty() {
            let mut inl = Vec::new();
            for (i, line) in paragraph.iter().enumerate() {
                if i > 0 {
                    inl.push(Inline::Break);
                }
                inl.extend(md_inlines(line));
            }
            blocks.push(Block::Paragraph(inl));
            paragraph.clear();
        }
    };
    for line in source.lines() {
        let trimmed = line.trim_start();
        if trimmed.is_empty() {
            flush(&mut paragraph, &mut blocks);
        } else if let Some(rest) = heading(trimmed) {
            flush(&mut paragraph, &mut blocks);
            blocks.push(Block::Heading(md_inlines(rest)));
        } else if let Some(rest) = trimmed
            .strip_prefix("- ")
            .or_else(|| trimmed.strip_prefix("* "))
            .or_else(|| trimmed.strip_prefix("+ "))
        {
            flush(&mut paragraph, &mut blocks);
            blocks.push(Block::Item {
                number: None,
                inlines: md_inlines(rest),
            });
        } else if let Some((n, rest)) = ordered(trimmed) {
            flush(&mut paragraph, &mut blocks);
            blocks.push(Block::Item {
                number: Some(n),
                inlines: md_inlines(rest),
            });
        } else {
            paragraph.push(line.trim_end());
        }
    }
    flush(&mut paragraph, &mut blocks);
    blocks
}

fn heading(line: &str) -> Option<&str> {
    let hashes = line.chars().take_while(|c| *c == '#').count();
    (1..=6)
        .contains(&hashes)
        .then(|| &line[hashes..])
        .and_then(|r| r.strip_prefix(' '))
}

fn ordered(line: &str) -> Option<(u32, &str)> {
    let digits = line.chars().take_while(char::is_ascii_digit).count();
    if digits == 0 || digits > 9 {
        return None;
    }
    let rest = line[digits..]
        .strip_prefix(". ")
        .or_else(|| line[digits..].strip_prefix(") "))?;
    Some((line[..digits].parse().ok()?, rest))
}

/// Inline markdown: `**bold**`, `__bold__`, `*italic*`, `_italic_`, `` `code` ``,
/// `[text](url)`, backslash escapes. Unclosed markers stay literal.
fn md_inlines(text: &str) -> Vec<Inline> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut literal = String::new();
    let mut i = 0;
    let push_literal = |literal: &mut String, out: &mut Vec<Inline>| {
        if !literal.is_empty() {
            out.push(Inline::Text(std::mem::take(literal)));
        }
    };
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' && i + 1 < chars.len() && chars[i + 1].is_ascii_punctuation() {
            literal.push(chars[i + 1]);
            i += 2;
            continue;
        }
        if c == '`' {
            if let Some(end) = find(&chars, i + 1, &['`']) {
                push_literal(&mut literal, &mut out);
                out.push(Inline::Code(chars[i + 1..end].iter().collect()));
                i = end + 1;
                continue;
            }
        }
        if c == '[' {
            if let Some(close) = find(&chars, i + 1, &[']']) {
                if chars.get(close + 1) == Some(&'(') {
                    if let Some(paren) = find(&chars, close + 2, &[')']) {
                        push_literal(&mut literal, &mut out);
                        let label: String = chars[i + 1..close].iter().collect();
                        out.push(Inline::Link {
                            text: md_inlines(&label),
                            url: chars[close + 2..paren].iter().collect(),
                        });
                        i = paren + 1;
                        continue;
                    }
                }
            }
        }
        if c == '*' || c == '_' {
            let double = chars.get(i + 1) == Some(&c);
            let marker: &[char] = if double { &[c, c] } else { &[c] };
            let start = i + marker.len();
            // A marker opens only before a non-space and closes after one.
            if chars.get(start).is_some_and(|n| !n.is_whitespace()) {
                if let Some(end) = find(&chars, start, marker) {
                    if end > start && !chars[end - 1].is_whitespace() {
                        push_literal(&mut literal, &mut out);
                        let inner: String = chars[start..end].iter().collect();
                        let inner = md_inlines(&inner);
                        out.push(if double {
                            Inline::Bold(inner)
                        } else {
                            Inline::Italic(inner)
                        });
                        i = end + marker.len();
                        continue;
                    }
                }
            }
        }
        literal.push(c);
        i += 1;
    }
    push_literal(&mut literal, &mut out);
    out
}

fn find(chars: &[char], from: usize, marker: &[char]) -> Option<usize> {
    (from..chars.len()).find(|&j| chars[j..].starts_with(marker))
}

// ------------------------------------------------------------------ HTML

#[derive(Clone, Copy, PartialEq)]
enum Style {
    Bold,
    Italic,
    Code,
}

/// A forgiving reader for the HTML an agent or a template writes.
fn parse_html(source: &str) -> Vec<Block> {
    let mut blocks: Vec<Block> = Vec::new();
    let mut current: Vec<Inline> = Vec::new();
    let mut current_kind: Option<Option<u32>> = None; // Some(number) inside <li>
    let mut styles: Vec<Style> = Vec::new();
    let mut link: Option<(String, Vec<Inline>)> = None;
    let mut ordered_counters: Vec<Option<u32>> = Vec::new();
    let mut skip_until: Option<&str> = None;
    let mut heading = false;

    let mut rest = source;
    while !rest.is_empty() {
        if let Some(tag_start) = rest.find('<') {
            let text = &rest[..tag_start];
            if skip_until.is_none() && !text.is_empty() {
                push_html_text(text, &styles, &mut current, &mut link);
            }
            let after = &rest[tag_start..];
            let Some(tag_end) = after.find('>') else {
                if skip_until.is_none() {
                    push_html_text(after, &styles, &mut current, &mut link);
                }
                break;
            };
            let tag = &after[1..tag_end];
            rest = &after[tag_end + 1..];
            let closing = tag.starts_with('/');
            let name: String = tag
                .trim_start_matches('/')
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect::<String>()
                .to_ascii_lowercase();
            if let Some(until) = skip_until {
                if closing && name == until {
                    skip_until = None;
                }
                continue;
            }
            let mut end_block = |current: &mut Vec<Inline>,
                                 current_kind: &mut Option<Option<u32>>,
                                 heading: &mut bool| {
                trim_inlines(current);
                if !current.is_empty() {
                    let inlines = std::mem::take(current);
                    blocks.push(match current_kind.take() {
                        Some(number) => Block::Item { number, inlines },
                        None if *heading => Block::Heading(inlines),
                        None => Block::Paragraph(inlines),
                    });
                }
                *current_kind = None;
                *heading = false;
            };
            match (name.as_str(), closing) {
                ("script" | "style", false) => {
                    skip_until = Some(if name == "script" { "script" } else { "style" })
                }
                ("b" | "strong", false) => styles.push(Style::Bold),
                ("i" | "em", false) => styles.push(Style::Italic),
                ("code", false) => styles.push(Style::Code),
                ("b" | "strong" | "i" | "em" | "code", true) => {
                    styles.pop();
                }
                ("a", false) => {
                    link = Some((attribute(tag, "href").unwrap_or_default(), Vec::new()))
                }
                ("a", true) => {
                    if let Some((url, text)) = link.take() {
                        current.push(Inline::Link { text, url });
                    }
                }
                ("br", _) => current.push(Inline::Break),
                ("ol", false) => ordered_counters.push(Some(0)),
                ("ul", false) => ordered_counters.push(None),
                ("ol" | "ul", true) => {
                    end_block(&mut current, &mut current_kind, &mut heading);
                    ordered_counters.pop();
                }
                ("li", false) => {
                    end_block(&mut current, &mut current_kind, &mut heading);
                    let number = match ordered_counters.last_mut() {
                        Some(Some(n)) => {
                            *n += 1;
                            Some(*n)
                        }
                        _ => None,
                    };
                    current_kind = Some(number);
                }
                ("h1" | "h2" | "h3" | "h4" | "h5" | "h6", false) => {
                    end_block(&mut current, &mut current_kind, &mut heading);
                    heading = true;
                }
                ("p" | "div" | "li" | "h1" | "h2" | "h3" | "h4" | "h5" | "h6" | "tr", _) => {
                    end_block(&mut current, &mut current_kind, &mut heading)
                }
                _ => {}
            }
        } else {
            if skip_until.is_none() {
                push_html_text(rest, &styles, &mut current, &mut link);
            }
            break;
        }
    }
    if let Some((url, text)) = link.take() {
        current.push(Inline::Link { text, url });
    }
    trim_inlines(&mut current);
    if !current.is_empty() {
        blocks.push(match current_kind {
            Some(number) => Block::Item {
                number,
                inlines: current,
            },
            None if heading => Block::Heading(current),
            None => Block::Paragraph(current),
        });
    }
    blocks
}

fn push_html_text(
    raw: &str,
    styles: &[Style],
    current: &mut Vec<Inline>,
    link: &mut Option<(String, Vec<Inline>)>,
) {
    // HTML collapses whitespace.
    let text = decode_entities(&raw.split_whitespace().collect::<Vec<_>>().join(" "));
    let text = if raw.starts_with(char::is_whitespace) && !text.is_empty() {
        format!(" {text}")
    } else {
        text
    };
    let text = if raw.ends_with(char::is_whitespace) && !text.trim().is_empty() {
        format!("{text} ")
    } else {
        text
    };
    if text.is_empty() {
        return;
    }
    let mut node = if styles.contains(&Style::Code) {
        Inline::Code(text)
    } else {
        Inline::Text(text)
    };
    for style in styles.iter().rev() {
        node = match style {
            Style::Bold => Inline::Bold(vec![node]),
            Style::Italic => Inline::Italic(vec![node]),
            Style::Code => node,
        };
    }
    match link {
        Some((_, text)) => text.push(node),
        None => current.push(node),
    }
}

fn trim_inlines(items: &mut Vec<Inline>) {
    if let Some(Inline::Text(t)) = items.first_mut() {
        *t = t.trim_start().to_string();
    }
    if let Some(Inline::Text(t)) = items.last_mut() {
        *t = t.trim_end().to_string();
    }
    items.retain(|i| !matches!(i, Inline::Text(t) if t.is_empty()));
    while matches!(items.last(), Some(Inline::Break)) {
        items.pop();
    }
}

fn attribute(tag: &str, name: &str) -> Option<String> {
    let lower = tag.to_ascii_lowercase();
    let at = lower.find(&format!("{name}="))? + name.len() + 1;
    let value = &tag[at..];
    let (quote, body) = match value.chars().next()? {
        q @ ('"' | '\'') => (Some(q), &value[1..]),
        _ => (None, value),
    };
    let end = match quote {
        Some(q) => body.find(q)?,
        None => body.find(char::is_whitespace).unwrap_or(body.len()),
    };
    Some(decode_entities(&body[..end]))
}

pub fn decode_entities(text: &str) -> String {
    if !text.contains('&') {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        let Some(semi) = tail.find(';').filter(|s| *s <= 10) else {
            out.push('&');
            rest = &tail[1..];
            continue;
        };
        let entity = &tail[1..semi];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" | "#39" => Some('\''),
            "nbsp" => Some(' '),
            _ => entity
                .strip_prefix("#x")
                .or_else(|| entity.strip_prefix("#X"))
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &tail[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use TextFormat::*;

    #[test]
    fn markdown_to_plain_keeps_words_and_links() {
        let md = "# Order\n\nYour order **#123** is _on its way_.\n\n- Track: [here](https://t.example/1)\n- Help: `help`";
        assert_eq!(
            to_plain(Markdown, md),
            "Order\n\nYour order #123 is on its way.\n\n• Track: here (https://t.example/1)\n• Help: help"
        );
    }

    #[test]
    fn markdown_to_html_and_back() {
        let md = "Hi **Ana**, see [the FAQ](https://x.example/faq?a=1&b=2).";
        let html = convert(Markdown, Html, md);
        assert_eq!(
            html,
            "<p>Hi <b>Ana</b>, see <a href=\"https://x.example/faq?a=1&amp;b=2\">the FAQ</a>.</p>"
        );
        assert_eq!(convert(Html, Markdown, &html), md);
    }

    #[test]
    fn html_to_plain_collapses_whitespace_drops_scripts_decodes_entities() {
        let html = "<h1>Hello</h1>\n<p>Fish &amp; chips   <b>today</b>&nbsp;only</p><script>alert(1)</script><ol><li>One</li><li>Two</li></ol>";
        assert_eq!(
            to_plain(Html, html),
            "Hello\n\nFish & chips today only\n\n1. One\n2. Two"
        );
    }

    #[test]
    fn unclosed_markers_and_escapes_stay_literal() {
        assert_eq!(to_plain(Markdown, "2 * 3 = 6 and a_b"), "2 * 3 = 6 and a_b");
        assert_eq!(to_plain(Markdown, r"\*not bold\*"), "*not bold*");
        assert_eq!(
            convert(Plain, Markdown, "a*b_c"),
            r"a\*b\_c",
            "plain text written as markdown is escaped"
        );
    }
}
