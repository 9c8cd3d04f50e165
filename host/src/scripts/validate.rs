//! Checking a script on save. Every problem is reported with a JSON pointer to the field
//! (`/steps/2/then/0/priority`) and what is wrong with it, so an admin's editor can point at
//! it. References (skills, agents, teams, channels) must exist in the tenant.

use serde::Serialize;
use serde_json::Value;

use super::model::*;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScriptError {
    pub pointer: String,
    pub message: String,
}

/// What a script may refer to.
#[derive(Debug, Default)]
pub struct Known {
    pub skills: Vec<String>,
    pub agents: Vec<String>,
    pub teams: Vec<String>,
}

/// The parts of a script an admin sends.
#[derive(Debug, Clone)]
pub struct ScriptDraft {
    pub id: String,
    pub name: String,
    pub trigger: Trigger,
    pub business_hours: Option<BusinessHours>,
    pub steps: Vec<Step>,
}

struct Check<'a> {
    known: &'a Known,
    errors: Vec<ScriptError>,
    uses_hours: Option<String>,
}

impl Check<'_> {
    fn err(&mut self, pointer: impl Into<String>, message: impl Into<String>) {
        self.errors.push(ScriptError {
            pointer: pointer.into(),
            message: message.into(),
        });
    }
}

const ACTIONS: [&str; 9] = [
    "set-skill",
    "set-priority",
    "reply",
    "tag",
    "assign",
    "set-status",
    "wait",
    "branch",
    "route",
];

/// Parse and check `body`. `id` is the script id from the path on edits.
pub fn validate(
    body: &Value,
    path_id: Option<&str>,
    known: &Known,
) -> Result<ScriptDraft, Vec<ScriptError>> {
    let mut c = Check {
        known,
        errors: Vec::new(),
        uses_hours: None,
    };
    let Some(obj) = body.as_object() else {
        c.err("", "a script is a JSON object");
        return Err(c.errors);
    };
    for key in obj.keys() {
        if !["id", "name", "trigger", "business_hours", "steps"].contains(&key.as_str()) {
            c.err(
                format!("/{key}"),
                "unknown field (id, name, trigger, business_hours, steps)",
            );
        }
    }
    let id = match (obj.get("id").and_then(Value::as_str), path_id) {
        (Some(id), Some(p)) if id != p => {
            c.err(
                "/id",
                format!("`{id}` differs from the script in the path (`{p}`)"),
            );
            p.to_string()
        }
        (Some(id), _) => id.to_string(),
        (None, Some(p)) => p.to_string(),
        (None, None) => {
            c.err("/id", "required: 1-64 of a-z, 0-9, - or _");
            String::new()
        }
    };
    let starts_well = id
        .chars()
        .next()
        .is_some_and(|ch| ch.is_ascii_alphanumeric());
    let well_formed = id.is_empty() || (starts_well && crate::model::is_valid_id(&id));
    if !well_formed {
        c.err("/id", format!("`{id}` must be 1-64 of a-z, 0-9, - or _"));
    }
    let name = match obj.get("name") {
        None => id.clone(),
        Some(Value::String(s)) if !s.trim().is_empty() && s.len() <= 200 => s.clone(),
        Some(_) => {
            c.err("/name", "a non-empty string of at most 200 characters");
            id.clone()
        }
    };
    let trigger = match obj.get("trigger") {
        None => Trigger::default(),
        Some(v) => match serde_json::from_value::<Trigger>(v.clone()) {
            Ok(t) => {
                for (i, ch) in t.channels.iter().enumerate() {
                    if !crate::model::is_valid_id(ch) {
                        c.err(
                            format!("/trigger/channels/{i}"),
                            format!("`{ch}` is not a channel id"),
                        );
                    }
                }
                t
            }
            Err(e) => {
                c.err(
                    "/trigger",
                    format!("{e} (event: new-case, inbound-message or status-changed)"),
                );
                Trigger::default()
            }
        },
    };
    let business_hours = match obj.get("business_hours") {
        None | Some(Value::Null) => None,
        Some(v) => match serde_json::from_value::<BusinessHours>(v.clone()) {
            Ok(h) => {
                check_hours(&mut c, &h);
                Some(h)
            }
            Err(e) => {
                c.err("/business_hours", e.to_string());
                None
            }
        },
    };
    let steps = match obj.get("steps") {
        Some(Value::Array(items)) if !items.is_empty() => steps(&mut c, items, "/steps"),
        Some(Value::Array(_)) => {
            c.err("/steps", "a script needs at least one step");
            Vec::new()
        }
        _ => {
            c.err("/steps", "required: an array of steps");
            Vec::new()
        }
    };
    if business_hours.is_none() {
        if let Some(at) = c.uses_hours.clone() {
            c.err(
                "/business_hours",
                format!("required: {at} uses business hours"),
            );
        }
    }
    if c.errors.is_empty() {
        Ok(ScriptDraft {
            id,
            name,
            trigger,
            business_hours,
            steps,
        })
    } else {
        Err(c.errors)
    }
}

fn check_hours(c: &mut Check, h: &BusinessHours) {
    if !(-14 * 60..=14 * 60).contains(&h.utc_offset_minutes) {
        c.err(
            "/business_hours/utc_offset_minutes",
            "must be between -840 and 840",
        );
    }
    for (i, d) in h.days.iter().enumerate() {
        if !DAYS.contains(&d.as_str()) {
            c.err(
                format!("/business_hours/days/{i}"),
                format!("`{d}` is not one of mon, tue, wed, thu, fri, sat, sun"),
            );
        }
    }
    let open = minutes(&h.open);
    let close = minutes(&h.close);
    if open.is_none() {
        c.err(
            "/business_hours/open",
            format!("`{}` is not a time HH:MM", h.open),
        );
    }
    if close.is_none() {
        c.err(
            "/business_hours/close",
            format!("`{}` is not a time HH:MM", h.close),
        );
    }
    if let (Some(o), Some(cl)) = (open, close) {
        if cl <= o {
            c.err("/business_hours/close", "must be after open (same day)");
        }
    }
}

fn steps(c: &mut Check, items: &[Value], at: &str) -> Vec<Step> {
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let here = format!("{at}/{i}");
        if let Some(s) = step(c, item, &here) {
            out.push(s);
        }
    }
    out
}

fn step(c: &mut Check, item: &Value, at: &str) -> Option<Step> {
    let Some(action) = item.get("action").and_then(Value::as_str) else {
        c.err(
            format!("{at}/action"),
            format!("required: one of {}", ACTIONS.join(", ")),
        );
        return None;
    };
    if !ACTIONS.contains(&action) {
        c.err(
            format!("{at}/action"),
            format!("unknown action `{action}` (one of {})", ACTIONS.join(", ")),
        );
        return None;
    }
    if action == "branch" {
        let condition = match item.get("if") {
            Some(v) => condition(c, v, &format!("{at}/if")),
            None => {
                c.err(format!("{at}/if"), "required: the condition");
                None
            }
        };
        for key in item.as_object().into_iter().flat_map(|o| o.keys()) {
            if !["action", "if", "then", "else"].contains(&key.as_str()) {
                c.err(format!("{at}/{key}"), "unknown field (if, then, else)");
            }
        }
        let arm = |c: &mut Check, name: &str| match item.get(name) {
            None => Vec::new(),
            Some(Value::Array(a)) => steps(c, a, &format!("{at}/{name}")),
            Some(_) => {
                c.err(format!("{at}/{name}"), "an array of steps");
                Vec::new()
            }
        };
        let then = arm(c, "then");
        let otherwise = arm(c, "else");
        return condition.map(|condition| Step::Branch {
            condition,
            then,
            otherwise,
        });
    }
    let allowed: &[&str] = match action {
        "set-skill" => &["skill"],
        "set-priority" => &["priority"],
        "reply" => &["content"],
        "tag" => &["tags"],
        "assign" => &["agent", "team"],
        "set-status" => &["status"],
        "wait" => &["until", "timeout_s"],
        _ => &[],
    };
    let unknown: Vec<String> = item
        .as_object()
        .into_iter()
        .flat_map(|o| o.keys())
        .filter(|k| k.as_str() != "action" && !allowed.contains(&k.as_str()))
        .cloned()
        .collect();
    for key in &unknown {
        c.err(
            format!("{at}/{key}"),
            format!(
                "unknown field of `{action}` (allowed: {})",
                allowed.join(", ")
            ),
        );
    }
    if !unknown.is_empty() {
        return None;
    }
    let parsed: Step = match serde_json::from_value(item.clone()) {
        Ok(s) => s,
        Err(e) => {
            c.err(at.to_string(), format!("{action}: {e}"));
            return None;
        }
    };
    match &parsed {
        Step::SetSkill { skill } if !c.known.skills.contains(skill) => {
            c.err(
                format!("{at}/skill"),
                format!("no skill `{skill}` in this tenant"),
            );
        }
        Step::SetPriority { priority } if !(1..=9).contains(priority) => {
            c.err(
                format!("{at}/priority"),
                format!("{priority} is not 1 (highest) to 9 (lowest)"),
            );
        }
        Step::Reply { content }
            if content.text.trim().is_empty() && content.attachments.is_empty() =>
        {
            c.err(
                format!("{at}/content/text"),
                "an auto-reply needs text or an attachment",
            );
        }
        Step::Tag { tags } => {
            if tags.is_empty() {
                c.err(format!("{at}/tags"), "at least one tag");
            }
            for (i, t) in tags.iter().enumerate() {
                if t.is_empty() || t.len() > 64 {
                    c.err(format!("{at}/tags/{i}"), "a tag is 1-64 characters");
                }
            }
        }
        Step::Assign { agent, team } => match (agent, team) {
            (Some(a), None) if !c.known.agents.contains(a) => {
                c.err(
                    format!("{at}/agent"),
                    format!("no agent `{a}` in this tenant"),
                );
            }
            (None, Some(t)) if !c.known.teams.contains(t) => {
                c.err(format!("{at}/team"), format!("no agent is in team `{t}`"));
            }
            (Some(_), Some(_)) | (None, None) => {
                c.err(
                    at.to_string(),
                    "assign names exactly one of `agent` and `team`",
                );
            }
            _ => {}
        },
        Step::Wait { until, timeout_s } => {
            if *until == WaitUntil::BusinessHours {
                c.uses_hours.get_or_insert(format!("{at}/until"));
            }
            if timeout_s == &Some(0) {
                c.err(format!("{at}/timeout_s"), "must be at least 1 second");
            }
            if timeout_s.is_none() && *until != WaitUntil::BusinessHours {
                c.err(
                    format!("{at}/timeout_s"),
                    "required when waiting for `inbound` or `timeout`",
                );
            }
        }
        _ => {}
    }
    Some(parsed)
}

fn condition(c: &mut Check, v: &Value, at: &str) -> Option<Condition> {
    let parsed: Condition = match serde_json::from_value(v.clone()) {
        Ok(p) => p,
        Err(e) => {
            c.err(at.to_string(), format!("{e} (a condition is one of keyword, contact_attribute, channel, business_hours, wait_timed_out, all, any, not)"));
            return None;
        }
    };
    check_condition(c, &parsed, at);
    Some(parsed)
}

fn check_condition(c: &mut Check, cond: &Condition, at: &str) {
    match cond {
        Condition::Keyword(words) => {
            if words.is_empty() {
                c.err(format!("{at}/keyword"), "at least one keyword");
            }
            for (i, w) in words.iter().enumerate() {
                if w.trim().is_empty() {
                    c.err(format!("{at}/keyword/{i}"), "an empty keyword");
                }
            }
        }
        Condition::ContactAttribute(t) => {
            if !ATTRIBUTES.contains(&t.name.as_str()) {
                c.err(
                    format!("{at}/contact_attribute/name"),
                    format!("`{}` is not one of {}", t.name, ATTRIBUTES.join(", ")),
                );
            }
            if t.equals.is_none() == t.contains.is_none() {
                c.err(
                    format!("{at}/contact_attribute"),
                    "set exactly one of `equals` and `contains`",
                );
            }
        }
        // Channels may not exist yet: a channel needs its default script first, and that
        // script may name the channel. Only the id's form is checked.
        Condition::Channel(list) => {
            for (i, ch) in list.iter().enumerate() {
                if !crate::model::is_valid_id(ch) {
                    c.err(
                        format!("{at}/channel/{i}"),
                        format!("`{ch}` is not a channel id"),
                    );
                }
            }
        }
        Condition::BusinessHours(_) => {
            c.uses_hours.get_or_insert(format!("{at}/business_hours"));
        }
        Condition::WaitTimedOut(_) => {}
        Condition::All(list) | Condition::Any(list) => {
            let name = if matches!(cond, Condition::All(_)) {
                "all"
            } else {
                "any"
            };
            for (i, sub) in list.iter().enumerate() {
                check_condition(c, sub, &format!("{at}/{name}/{i}"));
            }
        }
        Condition::Not(sub) => check_condition(c, sub, &format!("{at}/not")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn known() -> Known {
        Known {
            skills: vec!["support".into(), "billing".into()],
            agents: vec!["ann".into()],
            teams: vec!["night".into()],
        }
    }

    fn pointers(body: Value) -> Vec<String> {
        match validate(&body, None, &known()) {
            Ok(_) => Vec::new(),
            Err(e) => e.into_iter().map(|e| e.pointer).collect(),
        }
    }

    #[test]
    fn a_valid_script_with_every_action_passes() {
        let body = json!({
            "id": "welcome", "name": "Welcome",
            "business_hours": {"utc_offset_minutes": 60, "open": "08:00", "close": "18:00"},
            "steps": [
                {"action": "branch", "if": {"business_hours": false}, "then": [
                    {"action": "reply", "content": {"text": "We are closed", "quick_replies": [{"id": "cb", "title": "Call me back"}]}},
                    {"action": "wait", "until": "business-hours"}
                ]},
                {"action": "branch", "if": {"any": [{"keyword": ["refund"]}, {"contact_attribute": {"name": "handle", "contains": "vip"}}]},
                 "then": [{"action": "set-skill", "skill": "billing"}, {"action": "set-priority", "priority": 2}],
                 "else": [{"action": "tag", "tags": ["general"]}]},
                {"action": "wait", "until": "inbound", "timeout_s": 60},
                {"action": "assign", "team": "night"},
                {"action": "set-status", "status": "open"},
                {"action": "route"}
            ]
        });
        let draft = validate(&body, None, &known()).expect("valid");
        assert_eq!(draft.steps.len(), 6);
    }

    #[test]
    fn every_mistake_is_reported_with_a_pointer_to_the_field() {
        let body = json!({
            "id": "x",
            "steps": [
                {"action": "set-priority", "priority": 12},
                {"action": "branch", "if": {"keyword": ["ok"]}, "then": [{"action": "set-skill", "skill": "nope"}]},
                {"action": "fly"},
                {"action": "assign", "agent": "bob"},
                {"action": "wait", "until": "business-hours"},
                {"action": "reply", "content": {"text": " "}},
                {"action": "branch", "if": {"weather": "sunny"}}
            ]
        });
        assert_eq!(
            pointers(body),
            vec![
                "/steps/0/priority",
                "/steps/1/then/0/skill",
                "/steps/2/action",
                "/steps/3/agent",
                "/steps/5/content/text",
                "/steps/6/if",
                "/business_hours",
            ]
        );
        assert_eq!(pointers(json!({"id": "x", "steps": []})), vec!["/steps"]);
        assert_eq!(
            pointers(json!({"id": "x", "steps": [{"action": "route", "extra": 1}]})),
            vec!["/steps/0/extra"]
        );
        assert_eq!(
            pointers(
                json!({"id": "x", "business_hours": {"open": "18:00", "close": "08:00"}, "steps": [{"action": "route"}]})
            ),
            vec!["/business_hours/close"]
        );
    }
}
