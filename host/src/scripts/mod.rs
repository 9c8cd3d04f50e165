//! Scripts: declarative, versioned automation (trigger + conditions + actions) that answers,
//! tags and routes before a human does. Owns the script format (`model`), its checks on save
//! (`validate`), the stored versions (here) and the engine that runs them on inbound messages
//! and case changes, with durable waits (`engine`). Never routes by itself: it asks `routing`.

pub mod engine;
pub mod model;
pub mod validate;

use crate::inbox::{keys, now_ms, Inbox, InboxError, Result};
pub use engine::Engine;
use model::ScriptVersion;
use validate::{Known, ScriptError};

/// What a tenant's scripts may refer to.
pub fn known(inbox: &Inbox, tenant: &str) -> Result<Known> {
    let agents = inbox.agents(tenant)?;
    let mut teams: Vec<String> = agents.iter().filter_map(|a| a.team.clone()).collect();
    teams.sort();
    teams.dedup();
    Ok(Known {
        skills: inbox.skills(tenant)?.into_iter().map(|s| s.id).collect(),
        agents: agents.into_iter().map(|a| a.id).collect(),
        teams,
    })
}

/// Why a save was refused.
#[derive(Debug)]
pub enum SaveError {
    Invalid(Vec<ScriptError>),
    Inbox(InboxError),
}

impl From<InboxError> for SaveError {
    fn from(e: InboxError) -> Self {
        Self::Inbox(e)
    }
}

/// Check and store a script as its next version (`create` refuses an existing id, an edit
/// needs one).
pub fn save(
    inbox: &Inbox,
    tenant: &str,
    body: &serde_json::Value,
    path_id: Option<&str>,
) -> std::result::Result<ScriptVersion, SaveError> {
    let draft =
        validate::validate(body, path_id, &known(inbox, tenant)?).map_err(SaveError::Invalid)?;
    let latest = latest(inbox, tenant, &draft.id)?;
    match (path_id, &latest) {
        (None, Some(_)) => {
            return Err(InboxError::Conflict(format!(
                "script `{}` exists; edit it with PUT /api/v1/scripts/{}",
                draft.id, draft.id
            ))
            .into())
        }
        (Some(id), None) => return Err(InboxError::NotFound(format!("no script `{id}`")).into()),
        _ => {}
    }
    // A script re-created after `delete` continues its numbering: the old versions stay
    // stored for the cases still running them.
    let previous = match latest {
        Some(l) => l.version,
        None => versions(inbox, tenant, &draft.id)?
            .last()
            .map_or(0, |v| v.version),
    };
    let version = ScriptVersion {
        id: draft.id.clone(),
        tenant: tenant.to_string(),
        version: previous + 1,
        name: draft.name,
        trigger: draft.trigger,
        business_hours: draft.business_hours,
        steps: draft.steps,
        created_ms: now_ms(),
    };
    inbox.put_records(&[
        (
            keys::script_version(tenant, &version.id, version.version),
            &version,
        ),
        (keys::script_latest(tenant, &version.id), &version),
    ])?;
    Ok(version)
}

/// Retire a script: triggers and new cases no longer find it, while cases running one of its
/// versions finish on that version (versions stay stored). Refused while a channel names it
/// as its default script.
pub fn delete(inbox: &Inbox, tenant: &str, id: &str) -> Result<()> {
    if latest(inbox, tenant, id)?.is_none() {
        return Err(InboxError::NotFound(format!("no script `{id}`")));
    }
    let users: Vec<String> = inbox
        .channels(tenant)?
        .into_iter()
        .filter(|c| c.default_script == id)
        .map(|c| c.id)
        .collect();
    if !users.is_empty() {
        return Err(InboxError::Conflict(format!(
            "script `{id}` is the default script of channel {}: give it another default_script first",
            users.join(", ")
        )));
    }
    inbox.delete_record(keys::script_latest(tenant, id))
}

/// Every version of a script, oldest first.
pub fn versions(inbox: &Inbox, tenant: &str, id: &str) -> Result<Vec<ScriptVersion>> {
    Ok(inbox
        .scan_records(&keys::script_versions(tenant, id))?
        .into_iter()
        .map(|(_, v)| v)
        .collect())
}

/// The newest version (one read: `save` keeps a copy of it under `script_latest`).
pub fn latest(inbox: &Inbox, tenant: &str, id: &str) -> Result<Option<ScriptVersion>> {
    inbox.get_record(&keys::script_latest(tenant, id))
}

pub fn version(inbox: &Inbox, tenant: &str, id: &str, v: u32) -> Result<Option<ScriptVersion>> {
    inbox.get_record(&keys::script_version(tenant, id, v))
}

/// The newest version of every script of the tenant.
pub fn list(inbox: &Inbox, tenant: &str) -> Result<Vec<ScriptVersion>> {
    Ok(inbox
        .scan_records::<ScriptVersion>(&keys::scripts_latest(tenant))?
        .into_iter()
        .map(|(_, v)| v)
        .collect())
}

/// A channel's default skill and default script must exist in its tenant.
pub fn check_channel_defaults(
    inbox: &Inbox,
    tenant: &str,
    skill: &str,
    script: &str,
) -> Result<()> {
    if skill.trim().is_empty() || script.trim().is_empty() {
        return Err(InboxError::Invalid(
            "every channel needs a default_skill and a default_script".into(),
        ));
    }
    if !inbox.skills(tenant)?.iter().any(|s| s.id == skill) {
        return Err(InboxError::Invalid(format!(
            "default_skill: tenant `{tenant}` has no skill `{skill}` (create it with POST /api/v1/skills)"
        )));
    }
    if latest(inbox, tenant, script)?.is_none() {
        return Err(InboxError::Invalid(format!(
            "default_script: tenant `{tenant}` has no script `{script}` (create it with POST /api/v1/scripts)"
        )));
    }
    Ok(())
}

/// For channels of the configuration file (and the demo): create their skill, and a script
/// that only routes, if they do not exist yet.
pub fn ensure_channel_defaults(
    inbox: &Inbox,
    tenant: &str,
    skill: &str,
    script: &str,
) -> Result<()> {
    if !inbox.skills(tenant)?.iter().any(|s| s.id == skill) {
        inbox.put_skill(&crate::inbox::Skill {
            id: skill.to_string(),
            tenant: tenant.to_string(),
            name: skill.to_string(),
        })?;
    }
    if latest(inbox, tenant, script)?.is_none() {
        let body =
            serde_json::json!({"id": script, "name": script, "steps": [{"action": "route"}]});
        save(inbox, tenant, &body, None).map_err(|e| match e {
            SaveError::Inbox(e) => e,
            SaveError::Invalid(errors) => InboxError::Invalid(format!("{errors:?}")),
        })?;
    }
    Ok(())
}
