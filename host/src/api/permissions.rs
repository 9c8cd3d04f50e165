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
use crate::inbox::{Case, Permission, WorkKind};

/// Refuse unless the caller may do `permission` on the case's channel.
pub async fn require(
    app: &Arc<App>,
    p: &Principal,
    case: &Case,
    permission: Permission,
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
    let granted = agent.as_ref().and_then(|a| a.permissions_on(&case.channel));
    match granted {
        None => Err(ApiError::not_found(format!("no case `{}`", case.id))),
        Some(list) if list.contains(&permission) => Ok(()),
        Some(_) => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "missing_permission",
            format!(
                "agent `{}` lacks the `{}` permission on channel `{}`",
                p.agent.as_deref().unwrap_or_default(),
                permission.as_str(),
                case.channel
            ),
        )
        .with_details(
            serde_json::json!({"permission": permission.as_str(), "channel": case.channel}),
        )),
    }
}

/// A reply on a social channel is public (a comment); everywhere else it is private.
pub fn reply_permission(app: &App, channel: &str) -> Permission {
    match app.routing.kind_of(channel) {
        WorkKind::Social => Permission::ReplyPublic,
        _ => Permission::ReplyPrivate,
    }
}
