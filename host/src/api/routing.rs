//! The routing and automation API: scripts (create, edit = new version, read, retire), agent
//! removal, SLA policies,
//! queue figures, agents' state and load, "take next", transfer, and moderation of public
//! content (hide, delete, like) under the agent's `moderate` permission.

use std::sync::Arc;

use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use serde::Deserialize;
use serde_json::json;

use super::auth::{Access, Principal};
use super::errors::{json_response, ApiError, Body, Direction};
use super::{blocking, read_json};
use crate::app::App;
use crate::inbox::{AgentState, Direction as MsgDirection, Message, Permission};
use crate::model::{ModerationAction, ModerationRequest};
use crate::routing::sla::SlaPolicy;
use crate::scripts::SaveError;

const MAX_JSON: usize = 256 * 1024;

/// The routes this module serves (see `ROUTES`).
pub fn owns(pattern: &str) -> bool {
    pattern.starts_with("/api/v1/scripts")
        || pattern.starts_with("/api/v1/agents/{agent_id}")
        || pattern.ends_with("/transfer")
        || pattern.ends_with("/moderate")
        || matches!(
            pattern,
            "/api/v1/sla-policies" | "/api/v1/queues" | "/api/v1/next-case"
        )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StateBody {
    state: AgentState,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NextBody {
    /// Supervisors name the agent; agents take for themselves.
    #[serde(default)]
    agent: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TransferBody {
    #[serde(default)]
    agent: Option<String>,
    #[serde(default)]
    skill: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ModerateBody {
    action: ModerationAction,
}

fn save_error(e: SaveError) -> ApiError {
    match e {
        SaveError::Inbox(e) => e.into(),
        SaveError::Invalid(errors) => {
            let first = errors
                .first()
                .map(|e| format!("{}: {}", e.pointer, e.message))
                .unwrap_or_default();
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_script", first)
                .with_details(json!({"errors": errors}))
        }
    }
}

/// Agents act for themselves; supervisors and admins for anyone.
fn acting_for(p: &Principal, agent: Option<&str>) -> Result<String, ApiError> {
    match (p.access, agent, &p.agent) {
        (Access::Agent, Some(a), Some(me)) if a != me => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "agents can only act for themselves",
        )),
        (Access::Agent, _, Some(me)) => Ok(me.clone()),
        (_, Some(a), _) => Ok(a.to_string()),
        _ => Err(ApiError::bad_request("name the `agent`")),
    }
}

pub async fn handle(
    app: &Arc<App>,
    p: &Principal,
    req: Request<Incoming>,
    pattern: &str,
    params: &[String],
) -> Result<Response<Body>, ApiError> {
    let id = params.first().cloned().unwrap_or_default();
    let method = req.method().as_str().to_string();
    let (inbox, t) = (app.inbox.clone(), p.tenant.clone());
    match (method.as_str(), pattern) {
        ("GET", "/api/v1/scripts") => {
            p.require_supervisor()?;
            let list = blocking(move || crate::scripts::list(&inbox, &t)).await?;
            Ok(json_response(StatusCode::OK, &list))
        }
        ("POST", "/api/v1/scripts") | ("PUT", "/api/v1/scripts/{script_id}") => {
            p.require_admin()?;
            let body: serde_json::Value = read_json(req.into_body(), MAX_JSON).await?;
            let path_id = (!id.is_empty()).then_some(id);
            let saved = tokio::task::spawn_blocking(move || {
                crate::scripts::save(&inbox, &t, &body, path_id.as_deref())
            })
            .await
            .map_err(|e| {
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string())
            })?
            .map_err(save_error)?;
            let status = if method == "POST" {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            Ok(json_response(status, &saved))
        }
        ("GET", "/api/v1/scripts/{script_id}") => {
            p.require_supervisor()?;
            let wanted = id.clone();
            let (latest, versions) = blocking(move || {
                Ok((
                    crate::scripts::latest(&inbox, &t, &id)?,
                    crate::scripts::versions(&inbox, &t, &id)?,
                ))
            })
            .await?;
            let latest =
                latest.ok_or_else(|| ApiError::not_found(format!("no script `{wanted}`")))?;
            Ok(json_response(
                StatusCode::OK,
                &json!({"script": latest, "versions": versions.iter().map(|v| json!({"version": v.version, "created_ms": v.created_ms})).collect::<Vec<_>>()}),
            ))
        }
        ("DELETE", "/api/v1/scripts/{script_id}") => {
            p.require_admin()?;
            let deleted = id.clone();
            blocking(move || crate::scripts::delete(&inbox, &t, &id)).await?;
            Ok(json_response(StatusCode::OK, &json!({"deleted": deleted})))
        }
        ("DELETE", "/api/v1/agents/{agent_id}") => {
            p.require_admin()?;
            let routing = app.routing.clone();
            let deleted = id.clone();
            blocking(move || routing.remove_agent(&t, &id)).await?;
            Ok(json_response(StatusCode::OK, &json!({"deleted": deleted})))
        }
        ("GET", "/api/v1/sla-policies") => {
            p.require_supervisor()?;
            let routing = app.routing.clone();
            let list = blocking(move || routing.sla_policies(&t)).await?;
            Ok(json_response(StatusCode::OK, &list))
        }
        ("PUT", "/api/v1/sla-policies") => {
            p.require_admin()?;
            let body: Vec<SlaPolicy> = read_json(req.into_body(), MAX_JSON).await?;
            let (routing, stored) = (app.routing.clone(), body.clone());
            blocking(move || routing.set_sla_policies(&t, stored)).await?;
            Ok(json_response(StatusCode::OK, &body))
        }
        ("GET", "/api/v1/queues") => {
            p.require_supervisor()?;
            let routing = app.routing.clone();
            let stats = blocking(move || routing.queue_stats(&t)).await?;
            Ok(json_response(StatusCode::OK, &stats))
        }
        ("POST", "/api/v1/agents/{agent_id}/state") => {
            let agent = acting_for(p, Some(&id))?;
            let body: StateBody = read_json(req.into_body(), MAX_JSON).await?;
            let routing = app.routing.clone();
            let updated = blocking(move || routing.set_state(&t, &agent, body.state)).await?;
            Ok(json_response(StatusCode::OK, &updated))
        }
        ("GET", "/api/v1/agents/{agent_id}/load") => {
            let agent = acting_for(p, Some(&id))?;
            let routing = app.routing.clone();
            let (a, i) = (agent.clone(), agent);
            let exists = blocking(move || inbox.agent(&t, &a)).await?.is_some();
            if !exists {
                return Err(ApiError::not_found(format!("no agent `{i}`")));
            }
            let t = p.tenant.clone();
            let load = blocking(move || routing.agent_load(&t, &i)).await?;
            Ok(json_response(StatusCode::OK, &load))
        }
        ("POST", "/api/v1/next-case") => {
            // An empty body is fine: agents take for themselves.
            let bytes = super::read_body(req.into_body(), MAX_JSON).await?;
            let body: NextBody = if bytes.iter().all(u8::is_ascii_whitespace) {
                NextBody { agent: None }
            } else {
                serde_json::from_slice(&bytes)
                    .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))?
            };
            let agent = acting_for(p, body.agent.as_deref())?;
            let routing = app.routing.clone();
            match blocking(move || routing.take_next(&t, &agent)).await? {
                Some(case) => Ok(json_response(StatusCode::OK, &case)),
                None => Err(ApiError::not_found(
                    "no queued case for this agent's skills, channels and free capacity",
                )),
            }
        }
        ("POST", "/api/v1/cases/{case_id}/transfer") => {
            let i = id.clone();
            let case = blocking(move || inbox.case(&t, &i)).await?;
            super::permissions::require(app, p, &case, Permission::Read).await?;
            let body: TransferBody = read_json(req.into_body(), MAX_JSON).await?;
            let by = p
                .agent
                .clone()
                .unwrap_or_else(|| format!("{:?}", p.access).to_lowercase());
            let (routing, t) = (app.routing.clone(), p.tenant.clone());
            let case = blocking(move || {
                routing.transfer(&t, &id, body.agent.as_deref(), body.skill.as_deref(), &by)
            })
            .await?;
            Ok(json_response(StatusCode::OK, &case))
        }
        ("POST", "/api/v1/cases/{case_id}/messages/{seq}/moderate") => {
            let i = id.clone();
            let case = blocking(move || inbox.case(&t, &i)).await?;
            super::permissions::require(app, p, &case, Permission::Moderate).await?;
            let body: ModerateBody = read_json(req.into_body(), MAX_JSON).await?;
            let seq: u64 = params
                .get(1)
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| ApiError::bad_request("message sequence must be a number"))?;
            let (inbox, t) = (app.inbox.clone(), p.tenant.clone());
            let message: Option<Message> =
                blocking(move || inbox.get_record(&crate::inbox::keys::message(&t, &id, seq)))
                    .await?;
            let target = message
                .filter(|m| m.direction == MsgDirection::Inbound)
                .and_then(|m| m.provider_id)
                .ok_or_else(|| {
                    ApiError::not_found(format!("no inbound message {seq} with a provider id"))
                })?;
            let channel = app.runtime.channel(&case.channel).ok_or_else(|| {
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "channel_unavailable",
                    "channel is not running",
                )
            })?;
            if !channel
                .plugin()
                .manifest
                .capabilities
                .moderation
                .contains(&body.action)
            {
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "unsupported",
                    format!(
                        "channel `{}` cannot {:?} content",
                        case.channel, body.action
                    )
                    .to_lowercase(),
                ));
            }
            channel
                .act(ModerationRequest {
                    action: body.action,
                    target,
                })
                .await
                .map_err(|e| ApiError::from_call(&e, Direction::Outbound))?;
            Ok(json_response(StatusCode::OK, &json!({"done": body.action})))
        }
        _ => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "no_route",
            format!("no route {method} {pattern}"),
        )),
    }
}
