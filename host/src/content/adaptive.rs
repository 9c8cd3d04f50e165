//! Adaptive Cards (schema 1.0–1.6) for channels that cannot render them: a readable text
//! transcription plus the card's actions as choices.
//!
//! `TextBlock` and `RichTextBlock` become lines (their markdown subset read as markdown),
//! `FactSet` becomes "Title: value" lines, images their alt text, inputs their labels (choice
//! sets list their options), containers and columns are read in order, and `Action.Submit`,
//! `Action.Execute` and `Action.OpenUrl` become choices; `Action.ShowCard` inlines its card.

use serde_json::Value;

use super::markup;
use crate::model::{Choice, TextFormat};

/// The highest schema version the transformer reads.
pub const MAX_VERSION: &str = "1.6";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardText {
    pub version: String,
    pub lines: Vec<String>,
    pub actions: Vec<Choice>,
}

/// Parse and check a card; the error says what is wrong with it.
pub fn read(json: &str) -> Result<CardText, String> {
    let card: Value =
        serde_json::from_str(json).map_err(|e| format!("adaptive card is not JSON: {e}"))?;
    if card.get("type").and_then(Value::as_str) != Some("AdaptiveCard") {
        return Err("adaptive card: `type` must be \"AdaptiveCard\"".into());
    }
    let version = card
        .get("version")
        .and_then(Value::as_str)
        .ok_or("adaptive card: `version` is required")?
        .to_string();
    if !version_at_most(&version, MAX_VERSION) || parse_version(&version).is_none() {
        return Err(format!(
            "adaptive card: version `{version}` is not supported (1.0 to {MAX_VERSION})"
        ));
    }
    let mut out = CardText {
        version,
        lines: Vec::new(),
        actions: Vec::new(),
    };
    if let Some(body) = card.get("body").and_then(Value::as_array) {
        elements(body, &mut out);
    }
    if let Some(actions) = card.get("actions").and_then(Value::as_array) {
        read_actions(actions, &mut out);
    }
    if let Some(fallback) = card.get("fallbackText").and_then(Value::as_str) {
        if out.lines.is_empty() {
            out.lines.push(fallback.to_string());
        }
    }
    Ok(out)
}

/// `version` ≤ `max`, both "major.minor".
pub fn version_at_most(version: &str, max: &str) -> bool {
    match (parse_version(version), parse_version(max)) {
        (Some(v), Some(m)) => v <= m,
        _ => false,
    }
}

fn parse_version(v: &str) -> Option<(u32, u32)> {
    let (major, minor) = v.split_once('.')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

fn text_of(v: &Value, key: &str) -> Option<String> {
    v.get(key)
        .and_then(Value::as_str)
        .map(|t| markup::to_plain(TextFormat::Markdown, t))
        .filter(|t| !t.trim().is_empty())
}

fn elements(items: &[Value], out: &mut CardText) {
    for item in items {
        if item.get("isVisible").and_then(Value::as_bool) == Some(false) {
            continue;
        }
        let kind = item.get("type").and_then(Value::as_str).unwrap_or_default();
        match kind {
            "TextBlock" => out.lines.extend(text_of(item, "text")),
            "RichTextBlock" => {
                let text: String = item
                    .get("inlines")
                    .and_then(Value::as_array)
                    .map(|inl| {
                        inl.iter()
                            .filter_map(|i| {
                                i.as_str()
                                    .map(str::to_string)
                                    .or_else(|| i.get("text")?.as_str().map(str::to_string))
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                if !text.trim().is_empty() {
                    out.lines.push(text);
                }
            }
            "FactSet" => {
                for fact in item
                    .get("facts")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let title = text_of(fact, "title").unwrap_or_default();
                    let value = text_of(fact, "value").unwrap_or_default();
                    out.lines.push(format!("{title}: {value}"));
                }
            }
            "Image" => out.lines.push(image(item)),
            "ImageSet" => {
                for img in item
                    .get("images")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    out.lines.push(image(img));
                }
            }
            "Media" => out.lines.push(format!(
                "[Media: {}]",
                text_of(item, "altText").unwrap_or_else(|| "video".into())
            )),
            "Container" => {
                if let Some(items) = item.get("items").and_then(Value::as_array) {
                    elements(items, out);
                }
            }
            "ColumnSet" => {
                for column in item
                    .get("columns")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if let Some(items) = column.get("items").and_then(Value::as_array) {
                        elements(items, out);
                    }
                }
            }
            "Table" => {
                for row in item
                    .get("rows")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let mut cells = Vec::new();
                    for cell in row
                        .get("cells")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                    {
                        let mut inner = CardText {
                            version: String::new(),
                            lines: Vec::new(),
                            actions: Vec::new(),
                        };
                        if let Some(items) = cell.get("items").and_then(Value::as_array) {
                            elements(items, &mut inner);
                        }
                        cells.push(inner.lines.join(" "));
                    }
                    out.lines.push(cells.join(" | "));
                }
            }
            "ActionSet" => {
                if let Some(actions) = item.get("actions").and_then(Value::as_array) {
                    read_actions(actions, out);
                }
            }
            k if k.starts_with("Input.") => input(item, k, out),
            _ => {}
        }
        if let Some(select) = item.get("selectAction") {
            read_actions(std::slice::from_ref(select), out);
        }
    }
}

fn image(item: &Value) -> String {
    match text_of(item, "altText") {
        Some(alt) => format!("[Image: {alt}]"),
        None => "[Image]".into(),
    }
}

fn input(item: &Value, kind: &str, out: &mut CardText) {
    let label = text_of(item, "label")
        .or_else(|| text_of(item, "placeholder"))
        .or_else(|| text_of(item, "title"))
        .or_else(|| item.get("id").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_else(|| "Input".into());
    let required = item.get("isRequired").and_then(Value::as_bool) == Some(true);
    let suffix = if required { " (required)" } else { "" };
    if kind == "Input.ChoiceSet" {
        let options: Vec<String> = item
            .get("choices")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|c| text_of(c, "title"))
            .collect();
        out.lines
            .push(format!("{label}{suffix}: {}", options.join(", ")));
    } else {
        out.lines.push(format!("{label}{suffix}: ____"));
    }
}

fn read_actions(actions: &[Value], out: &mut CardText) {
    for action in actions {
        let kind = action
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let title = text_of(action, "title");
        match kind {
            "Action.OpenUrl" => {
                if let Some(url) = action.get("url").and_then(Value::as_str) {
                    out.actions.push(Choice {
                        id: url.to_string(),
                        title: title.unwrap_or_else(|| url.to_string()),
                        description: None,
                        image_url: None,
                        url: Some(url.to_string()),
                    });
                }
            }
            "Action.Submit" | "Action.Execute" => {
                let title = title.unwrap_or_else(|| "Submit".into());
                let id = match action.get("data").or_else(|| action.get("verb")) {
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Null) | None => title.clone(),
                    Some(other) => other.to_string(),
                };
                out.actions.push(Choice {
                    id,
                    title,
                    description: None,
                    image_url: None,
                    url: None,
                });
            }
            "Action.ShowCard" => {
                if let Some(title) = title {
                    out.lines.push(title);
                }
                if let Some(card) = action.get("card") {
                    if let Some(body) = card.get("body").and_then(Value::as_array) {
                        elements(body, out);
                    }
                    if let Some(actions) = card.get("actions").and_then(Value::as_array) {
                        read_actions(actions, out);
                    }
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shape of the official "Activity Update" sample (adaptivecards.io/samples).
    const ACTIVITY_UPDATE: &str = r#"{
      "type": "AdaptiveCard", "$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "version": "1.5",
      "body": [
        {"type": "TextBlock", "text": "Publish Adaptive Card Schema", "weight": "bolder", "size": "medium", "wrap": true, "style": "heading"},
        {"type": "ColumnSet", "columns": [
          {"type": "Column", "width": "auto", "items": [
            {"type": "Image", "url": "https://example.invalid/matt.png", "altText": "Matt Hidinger", "size": "small", "style": "person"}]},
          {"type": "Column", "width": "stretch", "items": [
            {"type": "TextBlock", "weight": "bolder", "text": "Matt Hidinger", "wrap": true},
            {"type": "TextBlock", "spacing": "none", "text": "Created {{DATE(2017-02-14T06:08:39Z,SHORT)}}", "isSubtle": true, "wrap": true}]}]},
        {"type": "TextBlock", "text": "Now that we have defined the main rules and features of the format, we need to produce a schema and publish it to GitHub.", "wrap": true},
        {"type": "FactSet", "facts": [
          {"title": "Board:", "value": "Adaptive Cards"},
          {"title": "List:", "value": "Backlog"},
          {"title": "Assigned to:", "value": "Matt Hidinger"},
          {"title": "Due date:", "value": "Not set"}]}
      ],
      "actions": [
        {"type": "Action.ShowCard", "title": "Set due date", "card": {"type": "AdaptiveCard",
          "body": [{"type": "Input.Date", "id": "dueDate", "label": "Due date"},
                   {"type": "Input.Text", "id": "comment", "placeholder": "Add a comment", "isMultiline": true}],
          "actions": [{"type": "Action.Submit", "title": "OK", "data": {"action": "setDueDate"}}]}},
        {"type": "Action.OpenUrl", "title": "View", "url": "https://adaptivecards.io"}
      ]
    }"#;

    #[test]
    fn the_activity_update_sample_reads_as_text_with_its_actions() {
        let card = read(ACTIVITY_UPDATE).expect("valid card");
        assert_eq!(card.version, "1.5");
        assert_eq!(
            card.lines,
            vec![
                "Publish Adaptive Card Schema",
                "[Image: Matt Hidinger]",
                "Matt Hidinger",
                "Created {{DATE(2017-02-14T06:08:39Z,SHORT)}}",
                "Now that we have defined the main rules and features of the format, we need to produce a schema and publish it to GitHub.",
                "Board:: Adaptive Cards",
                "List:: Backlog",
                "Assigned to:: Matt Hidinger",
                "Due date:: Not set",
                "Set due date",
                "Due date: ____",
                "Add a comment: ____",
            ]
        );
        let titles: Vec<_> = card.actions.iter().map(|a| a.title.as_str()).collect();
        assert_eq!(titles, ["OK", "View"]);
        assert_eq!(card.actions[0].id, r#"{"action":"setDueDate"}"#);
        assert_eq!(
            card.actions[1].url.as_deref(),
            Some("https://adaptivecards.io")
        );
    }

    /// The shape of the official "Input Form" sample: inputs with labels and a choice set.
    #[test]
    fn inputs_and_choice_sets_list_their_labels_and_options() {
        let card = read(
            r#"{"type":"AdaptiveCard","version":"1.3","body":[
              {"type":"TextBlock","text":"Tell us about yourself","weight":"bolder"},
              {"type":"Input.Text","id":"myName","label":"Name (Optional)","placeholder":"Last, First"},
              {"type":"Input.Text","id":"myEmail","label":"Email","isRequired":true,"style":"email"},
              {"type":"Input.ChoiceSet","id":"myColor","label":"Favourite colour","choices":[
                 {"title":"Red","value":"1"},{"title":"Green","value":"2"}]}],
              "actions":[{"type":"Action.Submit","title":"Submit"}]}"#,
        )
        .expect("valid");
        assert_eq!(
            card.lines,
            vec![
                "Tell us about yourself",
                "Name (Optional): ____",
                "Email (required): ____",
                "Favourite colour: Red, Green"
            ]
        );
        assert_eq!(card.actions[0].id, "Submit");
    }

    #[test]
    fn bad_cards_are_refused_with_the_reason() {
        assert!(read("{").unwrap_err().contains("not JSON"));
        assert!(read(r#"{"type":"Card","version":"1.0"}"#)
            .unwrap_err()
            .contains("`type`"));
        assert!(read(r#"{"type":"AdaptiveCard"}"#)
            .unwrap_err()
            .contains("`version`"));
        assert!(read(r#"{"type":"AdaptiveCard","version":"1.7"}"#)
            .unwrap_err()
            .contains("1.7"));
        assert!(version_at_most("1.2", "1.6") && !version_at_most("1.10", "1.6"));
    }
}
