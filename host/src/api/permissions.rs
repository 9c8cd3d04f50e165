//! Agents' channel permissions on the API: read, reply-private, reply-public, moderate.
//! A channel the agent has no entry for does not exist for them (404, like another tenant's
//! objects); a channel they know but may not do this on is a 403 naming the permission.
//! Admins, supervisors and the operator hold every permission.

use std::sync::Arc;

use http::StatusCode;

use super::auth::{Access, Principal};
use super::blocking;
use super::errors::ApiError;
use crate::app::App;
use crate::inbox::{Agent, Case, Permission, WorkKind};

/// Refuse unless the caller may do `permission` on the case's channel.
pub async fn require(
    app: &Arc<App>,
    p: &Principal,
    case: &Case,
    permission: Permission,
) -> Result<(), ApiError> {
    let not_found = format!("no case `{}`", case.id);
    on_channel(app, p, &case.channel, permission, not_found).await
}

/// Refuse unless the caller may do `permission` on `channel`: for outbound that has no case
/// yet (a proactive conversation).
pub async fn require_channel(
    app: &Arc<App>,
    p: &Principal,
    channel: &str,
    permission: Permission,
) -> Result<(), ApiError> {
    let not_found = format!("no channel `{channel}`");
    on_channel(app, p, channel, permission, not_found).await
}

/// Admins, supervisors and the operator pass; an agent's record decides for agents.
async fn on_channel(
    app: &Arc<App>,
    p: &Principal,
    channel: &str,
    permission: Permission,
    not_found: String,
) -> Result<(), ApiError> {
    if p.access != Access::Agent {
        return Ok(());
    }
    let (inbox, t, a) = (
        app.inbox.clone(),
        p.tenant.clone(),
        p.agent.clone().unwrap_or_default(),
    );
    let agent = blocking(move || inbox.agent(&t, &a)).await?;
    decide(agent.as_ref(), channel, permission, not_found)
}

/// The decision: 404 for a channel the agent has no entry for, 403 naming the permission.
/// The decision for a case (the tests' entry point).
#[cfg(test)]
fn check(agent: Option<&Agent>, case: &Case, permission: Permission) -> Result<(), ApiError> {
    decide(
        agent,
        &case.channel,
        permission,
        format!("no case `{}`", case.id),
    )
}

fn decide(
    agent: Option<&Agent>,
    channel: &str,
    permission: Permission,
    not_found: String,
) -> Result<(), ApiError> {
    match agent.and_then(|a| a.permissions_on(channel)) {
        None => Err(ApiError::not_found(not_found)),
        Some(list) if list.contains(&permission) => Ok(()),
        Some(_) => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "missing_permission",
            format!(
                "agent `{}` lacks the `{}` permission on channel `{}`",
                agent.map(|a| a.id.as_str()).unwrap_or_default(),
                permission.as_str(),
                channel
            ),
        )
        .with_details(serde_json::json!({"permission": permission.as_str(), "channel": channel}))),
    }
}

/// A reply on a social channel is public (a comment); everywhere else it is private.
pub fn reply_permission(app: &App, channel: &str) -> Permission {
    reply_permission_for(app.routing.kind_of(channel))
}

fn reply_permission_for(kind: WorkKind) -> Permission {
    match kind {
        WorkKind::Social => Permission::ReplyPublic,
        _ => Permission::ReplyPrivate,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case_on(channel: &str) -> Case {
        serde_json::from_value(serde_json::json!({
            "id": "c1", "tenant": "t", "channel": channel, "contact": "x", "conversation": "x",
            "status": "open", "priority": 5, "skill": "s", "assignee": null, "tags": [],
            "subject": null, "created_ms": 0, "updated_ms": 0, "last_inbound_ms": null,
            "resolved_ms": null, "message_count": 1
        }))
        .expect("case")
    }

    #[test]
    fn a_public_reply_on_a_social_channel_needs_reply_public_and_is_refused_naming_it() {
        let agent: Agent = serde_json::from_value(serde_json::json!({
            "id": "sam", "tenant": "t", "name": "Sam", "channels": ["wa"], "skills": [],
            "permissions": {"fb-page": ["read", "reply-private"]}
        }))
        .expect("agent");
        let fb = case_on("fb-page");
        let needed = reply_permission_for(WorkKind::Social);
        assert_eq!(needed, Permission::ReplyPublic);
        let err = check(Some(&agent), &fb, needed).expect_err("denied");
        assert_eq!(
            (err.status, err.code),
            (StatusCode::FORBIDDEN, "missing_permission")
        );
        assert_eq!(
            err.message,
            "agent `sam` lacks the `reply-public` permission on channel `fb-page`"
        );
        assert!(check(Some(&agent), &fb, Permission::ReplyPrivate).is_ok());
        // A channel listed without explicit permissions: read and both replies, no moderation.
        let wa = case_on("wa");
        assert_eq!(
            reply_permission_for(WorkKind::Chat),
            Permission::ReplyPrivate
        );
        assert!(check(Some(&agent), &wa, Permission::ReplyPublic).is_ok());
        let err = check(Some(&agent), &wa, Permission::Moderate).expect_err("denied");
        assert!(err.message.contains("`moderate`"), "{}", err.message);
        // Unknown channel, or no agent record: the case does not exist for them.
        let err = check(Some(&agent), &case_on("sms"), Permission::Read).expect_err("hidden");
        assert_eq!(err.status, StatusCode::NOT_FOUND);
        assert_eq!(
            check(None, &wa, Permission::Read).map_err(|e| e.status),
            Err(StatusCode::NOT_FOUND)
        );
    }
}
