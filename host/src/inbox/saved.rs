//! Saved rich messages: content authored once (with `{{variables}}`), reused by agents and
//! automation. Each save is validated and bumps the version.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::types::{now_ms, Millis};
use super::{keys, put, Inbox, InboxError, Result};
use crate::model::{is_valid_id, Content, RichKind};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RichMessage {
    pub id: String,
    pub tenant: String,
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    pub content: Content,
    /// The `{{name}}` placeholders the content uses.
    pub variables: Vec<String>,
    /// The rich kinds it uses (what a channel must offer for it to be listed).
    pub kinds: Vec<RichKind>,
    pub version: u32,
    pub created_ms: Millis,
    pub updated_ms: Millis,
}

/// What an admin sends to save one.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RichMessageInput {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    pub content: Content,
}

impl Inbox {
    pub fn put_rich_message(&self, tenant: &str, input: RichMessageInput) -> Result<RichMessage> {
        if !is_valid_id(&input.id) {
            return Err(InboxError::Invalid(format!(
                "id `{}`: use 1-64 of a-z, 0-9, - and _",
                input.id
            )));
        }
        if input.name.trim().is_empty() {
            return Err(InboxError::Invalid("name: must not be empty".into()));
        }
        crate::content::validate(&input.content)
            .map_err(|e| InboxError::Invalid(format!("content.{e}")))?;
        let _guard = self.write.lock().unwrap_or_else(|p| p.into_inner());
        let key = keys::rich_message(tenant, &input.id);
        let old: Option<RichMessage> = self.read(&key)?;
        let now = now_ms();
        let saved = RichMessage {
            variables: placeholders(&input.content),
            kinds: crate::content::kinds(&input.content),
            id: input.id,
            tenant: tenant.to_string(),
            name: input.name,
            description: input.description,
            content: input.content,
            version: old.as_ref().map_or(1, |o| o.version + 1),
            created_ms: old.as_ref().map_or(now, |o| o.created_ms),
            updated_ms: now,
        };
        self.commit.commit(vec![put(key, &saved)])?;
        Ok(saved)
    }

    pub fn rich_message(&self, tenant: &str, id: &str) -> Result<RichMessage> {
        self.read(&keys::rich_message(tenant, id))?
            .ok_or_else(|| InboxError::NotFound(format!("no saved rich message `{id}`")))
    }

    pub fn rich_messages(&self, tenant: &str) -> Result<Vec<RichMessage>> {
        Ok(self
            .scan_records(&keys::rich_messages(tenant))?
            .into_iter()
            .map(|(_, v)| v)
            .collect())
    }

    pub fn delete_rich_message(&self, tenant: &str, id: &str) -> Result<()> {
        self.rich_message(tenant, id)?;
        self.commit
            .commit(vec![crate::store::Op::Delete(keys::rich_message(
                tenant, id,
            ))])?;
        Ok(())
    }
}

/// The `{{name}}` placeholders in every text of `content`, sorted, once each.
pub fn placeholders(content: &Content) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    if let Ok(mut value) = serde_json::to_value(content) {
        each_string(&mut value, &mut |s| {
            expand(s, |name| {
                if !name.is_empty() && !names.iter().any(|n| n == name) {
                    names.push(name.to_string());
                }
                String::new()
            });
        });
    }
    names.sort();
    names
}

/// Fill every `{{name}}` from `values`; the error names the variables without a value.
pub fn fill(content: &Content, values: &BTreeMap<String, String>) -> Result<Content> {
    let missing: Vec<String> = placeholders(content)
        .into_iter()
        .filter(|n| !values.contains_key(n))
        .collect();
    if !missing.is_empty() {
        return Err(InboxError::Invalid(format!(
            "variables without a value: {}",
            missing.join(", ")
        )));
    }
    let mut value =
        serde_json::to_value(content).map_err(|e| InboxError::Invalid(format!("content: {e}")))?;
    each_string(&mut value, &mut |s| {
        *s = expand(s, |name| values.get(name).cloned().unwrap_or_default());
    });
    serde_json::from_value(value).map_err(|e| InboxError::Invalid(format!("content: {e}")))
}

/// Every string inside `value`, in document order.
fn each_string(value: &mut serde_json::Value, f: &mut impl FnMut(&mut String)) {
    match value {
        serde_json::Value::String(s) => f(s),
        serde_json::Value::Array(items) => items.iter_mut().for_each(|v| each_string(v, f)),
        serde_json::Value::Object(map) => map.values_mut().for_each(|v| each_string(v, f)),
        _ => {}
    }
}

/// `text` with each `{{ name }}` replaced by `with(name)` (the name trimmed); an unclosed
/// `{{` stays as it is.
fn expand(text: &str, mut with: impl FnMut(&str) -> String) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let Some(end) = rest[start..].find("}}") else {
            break;
        };
        out.push_str(&rest[..start]);
        out.push_str(&with(rest[start + 2..start + end].trim()));
        rest = &rest[start + end + 2..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Choice;

    #[test]
    fn placeholders_are_found_everywhere_and_filled() {
        let mut c = Content::text("Hi {{contact.name}}, your order {{ order }} shipped.");
        c.quick_replies = vec![Choice {
            id: "track-{{order}}".into(),
            title: "Track {{order}}".into(),
            description: None,
            image_url: None,
            url: None,
        }];
        assert_eq!(placeholders(&c), ["contact.name", "order"]);
        let values = BTreeMap::from([
            ("contact.name".to_string(), "Ana".to_string()),
            ("order".to_string(), "#42".to_string()),
        ]);
        let filled = fill(&c, &values).expect("filled");
        assert_eq!(filled.text, "Hi Ana, your order #42 shipped.");
        assert_eq!(filled.quick_replies[0].id, "track-#42");
        let err = fill(&c, &BTreeMap::new()).unwrap_err().to_string();
        assert_eq!(err, "variables without a value: contact.name, order");
    }
}
