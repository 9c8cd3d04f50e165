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
            .scan(&keys::rich_messages(tenant), None, usize::MAX)?
            .into_iter()
            .filter_map(|(_, v)| serde_json::from_slice(&v).ok())
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
    let mut names = Vec::new();
    if let Ok(value) = serde_json::to_value(content) {
        walk(&value, &mut |s| {
            let mut rest = s;
            while let Some(start) = rest.find("{{") {
                let Some(end) = rest[start..].find("}}") else {
                    break;
                };
                let name = rest[start + 2..start + end].trim().to_string();
                if !name.is_empty() && !names.contains(&name) {
                    names.push(name);
                }
                rest = &rest[start + end + 2..];
            }
        });
    }
    names.sort();
    names
}

fn walk(value: &serde_json::Value, f: &mut impl FnMut(&str)) {
    match value {
        serde_json::Value::String(s) => f(s),
        serde_json::Value::Array(items) => items.iter().for_each(|v| walk(v, f)),
        serde_json::Value::Object(map) => map.values().for_each(|v| walk(v, f)),
        _ => {}
    }
}

/// Fill every `{{name}}` from `values`; the error names the first variable without a value.
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
    replace(&mut value, values);
    serde_json::from_value(value).map_err(|e| InboxError::Invalid(format!("content: {e}")))
}

fn replace(value: &mut serde_json::Value, values: &BTreeMap<String, String>) {
    match value {
        serde_json::Value::String(s) if s.contains("{{") => {
            let mut out = String::with_capacity(s.len());
            let mut rest = s.as_str();
            while let Some(start) = rest.find("{{") {
                let Some(end) = rest[start..].find("}}") else {
                    break;
                };
                out.push_str(&rest[..start]);
                let name = rest[start + 2..start + end].trim();
                out.push_str(values.get(name).map_or("", String::as_str));
                rest = &rest[start + end + 2..];
            }
            out.push_str(rest);
            *s = out;
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(|v| replace(v, values)),
        serde_json::Value::Object(map) => map.values_mut().for_each(|v| replace(v, values)),
        _ => {}
    }
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
