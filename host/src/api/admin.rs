//! The admin API: tenants (operator), the plugin catalogue (operator installs, tenant admins
//! read), channels, agents, skills, API tokens, the outbox (tenant admins).

use std::sync::Arc;

use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use serde::Deserialize;
use serde_json::json;

use super::auth::Principal;
use super::errors::{json_response, ApiError, Body, Direction};
use super::{blocking, read_body, read_json};
use crate::app::{App, ChannelInput};
use crate::inbox::{Agent, ChannelRecord, Role, Skill, TenantStatus};
use crate::model::{Attachment, Choice, Content, OutboundMessage};
use crate::runtime::{LoadError, PluginSource};

const MAX_PLUGIN_BYTES: usize = 64 * 1024 * 1024;
const MAX_JSON: usize = 256 * 1024;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewTenant {
    id: String,
    name: String,
    region: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewToken {
    role: Role,
    #[serde(default)]
    agent: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewAgent {
    id: String,
    name: String,
    #[serde(default)]
    channels: Vec<String>,
    #[serde(default)]
    skills: Vec<String>,
    #[serde(default)]
    proficiency: std::collections::BTreeMap<String, u8>,
    #[serde(default)]
    capacity: crate::inbox::Capacity,
    /// Absent keeps the agent's current state (new agents start offline).
    #[serde(default)]
    state: Option<crate::inbox::AgentState>,
    #[serde(default)]
    team: Option<String>,
    #[serde(default)]
    permissions: std::collections::BTreeMap<String, Vec<crate::inbox::Permission>>,
}

/// The operator's per-tenant plugin limits; `null` or absent = the runtime's default.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TenantLimitsBody {
    #[serde(default, deserialize_with = "crate::app::present")]
    plugin_memory_mb: Option<Option<u64>>,
    #[serde(default, deserialize_with = "crate::app::present")]
    plugin_cpu_ms: Option<Option<u64>>,
    #[serde(default, deserialize_with = "crate::app::present")]
    storage_quota_kb: Option<Option<u64>>,
}

/// Which tenants may use a catalogue plugin; `null` = every tenant.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Availability {
    tenants: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Activate {
    version: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewSkill {
    id: String,
    name: String,
}

/// Body of `POST /api/v1/channels/{id}/messages`: a direct send that bypasses the inbox
/// (provider tests, operators).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SendRequest {
    conversation: String,
    text: String,
    #[serde(default)]
    buttons: Vec<Choice>,
    #[serde(default)]
    quick_replies: Vec<Choice>,
    #[serde(default)]
    reply_to: Option<String>,
    #[serde(default)]
    idempotency_key: Option<String>,
    #[serde(default)]
    attachments: Vec<Attachment>,
}

pub async fn handle(
    app: &Arc<App>,
    p: &Principal,
    req: Request<Incoming>,
    pattern: &str,
    params: &[String],
) -> Result<Response<Body>, ApiError> {
    let param = |i: usize| params.get(i).cloned().unwrap_or_default();
    let method = req.method().as_str().to_string();
    match (method.as_str(), pattern) {
        // ---- tenants (operator)
        ("GET", "/api/v1/tenants") => {
            p.require_operator()?;
            let inbox = app.inbox.clone();
            Ok(json_response(
                StatusCode::OK,
                &blocking(move || inbox.tenants()).await?,
            ))
        }
        ("POST", "/api/v1/tenants") => {
            p.require_operator()?;
            let t: NewTenant = read_json(req.into_body(), MAX_JSON).await?;
            let inbox = app.inbox.clone();
            let tenant = blocking(move || inbox.create_tenant(&t.id, &t.name, &t.region)).await?;
            Ok(json_response(StatusCode::CREATED, &tenant))
        }
        ("GET", "/api/v1/tenants/{tenant_id}") => {
            p.require_operator()?;
            let (inbox, id) = (app.inbox.clone(), param(0));
            let (t, used) =
                blocking(move || Ok((inbox.tenant(&id)?, inbox.storage_used(&id)?))).await?;
            let t = t.ok_or_else(|| ApiError::not_found(format!("no tenant `{}`", param(0))))?;
            let mut view = serde_json::to_value(&t).unwrap_or_default();
            view["storage_used_bytes"] = json!(used);
            Ok(json_response(StatusCode::OK, &view))
        }
        ("PATCH", "/api/v1/tenants/{tenant_id}") => {
            p.require_operator()?;
            let body: TenantLimitsBody = read_json(req.into_body(), MAX_JSON).await?;
            // Absent fields stay as they are; `null` returns to the default.
            let (inbox, id) = (app.inbox.clone(), param(0));
            let current = blocking(move || inbox.tenant(&id))
                .await?
                .ok_or_else(|| ApiError::not_found(format!("no tenant `{}`", param(0))))?;
            let memory = body.plugin_memory_mb.unwrap_or(current.plugin_memory_mb);
            let cpu = body.plugin_cpu_ms.unwrap_or(current.plugin_cpu_ms);
            let quota = body.storage_quota_kb.unwrap_or(current.storage_quota_kb);
            if (memory, cpu) != (current.plugin_memory_mb, current.plugin_cpu_ms) {
                app.set_tenant_limits(&param(0), memory, cpu).await?;
            }
            let (inbox, id) = (app.inbox.clone(), param(0));
            let tenant = blocking(move || inbox.set_tenant_quota(&id, quota)).await?;
            Ok(json_response(StatusCode::OK, &tenant))
        }
        ("DELETE", "/api/v1/tenants/{tenant_id}") => {
            p.require_operator()?;
            app.delete_tenant(&param(0)).await?;
            Ok(json_response(StatusCode::OK, &json!({"deleted": param(0)})))
        }
        ("POST", "/api/v1/tenants/{tenant_id}/suspend")
        | ("POST", "/api/v1/tenants/{tenant_id}/resume") => {
            p.require_operator()?;
            let status = if pattern.ends_with("suspend") {
                TenantStatus::Suspended
            } else {
                TenantStatus::Active
            };
            let (inbox, id) = (app.inbox.clone(), param(0));
            let t = blocking(move || inbox.set_tenant_status(&id, status)).await?;
            Ok(json_response(StatusCode::OK, &t))
        }
        ("GET", "/api/v1/tenants/{tenant_id}/export") => {
            p.require_operator()?;
            let (inbox, id) = (app.inbox.clone(), param(0));
            let lines = blocking(move || inbox.export_tenant(&id)).await?;
            let mut body = lines.join("\n");
            body.push('\n');
            Ok(Response::builder()
                .header("content-type", "application/x-ndjson")
                .body(super::errors::full(body))
                .unwrap_or_else(|_| Response::new(super::errors::full(bytes::Bytes::new()))))
        }
        ("POST", "/api/v1/tenants/{tenant_id}/tokens") => {
            p.require_operator()?;
            let t: NewToken = read_json(req.into_body(), MAX_JSON).await?;
            create_token(app, &param(0), t).await
        }

        // ---- plugins
        ("GET", "/api/v1/plugins") => {
            let list = if p.is_operator() {
                app.runtime.plugins()
            } else {
                app.runtime.plugins_for(&p.tenant)
            };
            Ok(json_response(StatusCode::OK, &list))
        }
        ("GET", "/api/v1/plugins/{plugin_id}") => {
            let key = if p.is_operator() && app.runtime.plugin(&param(0)).is_some() {
                Some(param(0))
            } else {
                app.runtime.resolve_plugin(&p.tenant, &param(0))
            };
            key.and_then(|k| app.runtime.plugin(&k))
                .map(|info| json_response(StatusCode::OK, &info))
                .ok_or_else(|| ApiError::not_found(format!("no plugin `{}`", param(0))))
        }
        ("POST", "/api/v1/plugins") => {
            // The operator installs into the catalogue every tenant sees; a tenant admin
            // installs a private (BYOC) plugin only its own tenant sees.
            p.require_admin()?;
            let activate = super::query_map(&req)
                .get("activate")
                .is_none_or(|v| v != "false");
            let bytes = read_body(req.into_body(), MAX_PLUGIN_BYTES).await?;
            let owner = (!p.is_operator()).then_some(p.tenant.as_str());
            let report = app
                .upload_plugin(owner, bytes.to_vec(), activate)
                .await
                .map_err(load_error)?;
            Ok(json_response(StatusCode::OK, &report))
        }
        ("POST", "/api/v1/plugins/{plugin_id}/availability") => {
            p.require_operator()?;
            let body: Availability = read_json(req.into_body(), MAX_JSON).await?;
            app.set_plugin_availability(&param(0), body.tenants)?;
            app.runtime
                .plugin(&param(0))
                .map(|info| json_response(StatusCode::OK, &info))
                .ok_or_else(|| ApiError::not_found(format!("no plugin `{}`", param(0))))
        }
        ("POST", "/api/v1/plugins/{plugin_id}/activate") => {
            p.require_admin()?;
            let body: Activate = read_json(req.into_body(), MAX_JSON).await?;
            let (owner, id) = if p.is_operator()
                && app
                    .runtime
                    .plugin(&param(0))
                    .is_some_and(|i| i.owner.is_none())
            {
                (None, param(0))
            } else if app
                .runtime
                .resolve_plugin(&p.tenant, &param(0))
                .is_some_and(|k| k.contains('/'))
            {
                (Some(p.tenant.as_str()), param(0))
            } else {
                // Tenant admins roll out only their own plugins; the catalogue is the operator's.
                return Err(ApiError::not_found(format!(
                    "no plugin `{}` of yours",
                    param(0)
                )));
            };
            let report = app
                .activate_plugin(owner, &id, &body.version)
                .await
                .map_err(load_error)?;
            Ok(json_response(StatusCode::OK, &report))
        }
        ("POST", "/api/v1/plugins/inspect") => {
            p.require_admin()?;
            let bytes = read_body(req.into_body(), MAX_PLUGIN_BYTES).await?;
            let runtime = app.runtime.clone();
            let info = tokio::task::spawn_blocking(move || {
                runtime
                    .prepare(&bytes, PluginSource::Upload)
                    .map(|p| p.info())
            })
            .await
            .map_err(|e| {
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string())
            })?
            .map_err(load_error)?;
            Ok(json_response(StatusCode::OK, &info))
        }

        // ---- channels
        ("GET", "/api/v1/channels") => {
            p.require_supervisor()?;
            let (inbox, t) = (app.inbox.clone(), p.tenant.clone());
            let list = blocking(move || inbox.channels(&t)).await?;
            let views: Vec<_> = list.iter().map(|c| channel_view(app, c)).collect();
            Ok(json_response(StatusCode::OK, &views))
        }
        ("POST", "/api/v1/channels") => {
            p.require_admin()?;
            let input: ChannelInput = read_json(req.into_body(), MAX_JSON).await?;
            let record = app.create_channel(&p.tenant, input).await?;
            Ok(json_response(
                StatusCode::CREATED,
                &channel_view(app, &record),
            ))
        }
        ("GET", "/api/v1/channels/{channel_id}") => {
            p.require_supervisor()?;
            let record = tenant_channel(app, p, &param(0)).await?;
            Ok(json_response(StatusCode::OK, &channel_view(app, &record)))
        }
        ("PATCH", "/api/v1/channels/{channel_id}") => {
            p.require_admin()?;
            let patch: crate::app::ChannelPatch = read_json(req.into_body(), MAX_JSON).await?;
            let record = app.update_channel(&p.tenant, &param(0), patch).await?;
            Ok(json_response(StatusCode::OK, &channel_view(app, &record)))
        }
        ("DELETE", "/api/v1/channels/{channel_id}") => {
            p.require_admin()?;
            app.delete_channel(&p.tenant, &param(0)).await?;
            Ok(json_response(StatusCode::OK, &json!({"deleted": param(0)})))
        }
        ("POST", "/api/v1/channels/{channel_id}/messages") => {
            p.require_admin()?;
            let record = tenant_channel(app, p, &param(0)).await?;
            let channel = app.runtime.channel(&record.id).ok_or_else(|| {
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "channel_unavailable",
                    "channel is not running",
                )
            })?;
            let send: SendRequest = read_json(req.into_body(), MAX_JSON).await?;
            let mut content = Content::text(send.text);
            content.buttons = send.buttons;
            content.quick_replies = send.quick_replies;
            content.attachments = send.attachments;
            let message = OutboundMessage {
                idempotency_key: send
                    .idempotency_key
                    .unwrap_or_else(|| crate::inbox::new_id("out")),
                conversation: send.conversation,
                recipient: None,
                content,
                reply_to: send.reply_to,
                tag: None,
                public_reply: false,
            };
            let sent = channel
                .send(message)
                .await
                .map_err(|e| ApiError::from_call(&e, Direction::Outbound))?;
            Ok(json_response(StatusCode::OK, &sent))
        }

        // ---- agents, skills, tokens, outbox
        ("GET", "/api/v1/agents") => {
            p.require_supervisor()?;
            let (inbox, t) = (app.inbox.clone(), p.tenant.clone());
            Ok(json_response(
                StatusCode::OK,
                &blocking(move || inbox.agents(&t)).await?,
            ))
        }
        ("POST", "/api/v1/agents") => {
            p.require_admin()?;
            let a: NewAgent = read_json(req.into_body(), MAX_JSON).await?;
            let (inbox, t, i) = (app.inbox.clone(), p.tenant.clone(), a.id.clone());
            let current = blocking(move || inbox.agent(&t, &i)).await?;
            let agent = Agent {
                id: a.id,
                tenant: p.tenant.clone(),
                name: a.name,
                channels: a.channels,
                skills: a.skills,
                proficiency: a.proficiency,
                capacity: a.capacity,
                state: a.state.or(current.map(|c| c.state)).unwrap_or_default(),
                team: a.team,
                permissions: a.permissions,
            };
            let (inbox, ag) = (app.inbox.clone(), agent.clone());
            blocking(move || inbox.put_agent(&ag)).await?;
            app.routing.agent_changed(&agent.tenant, &agent.id).await;
            Ok(json_response(StatusCode::CREATED, &agent))
        }
        ("GET", "/api/v1/skills") => {
            let (inbox, t) = (app.inbox.clone(), p.tenant.clone());
            Ok(json_response(
                StatusCode::OK,
                &blocking(move || inbox.skills(&t)).await?,
            ))
        }
        ("POST", "/api/v1/skills") => {
            p.require_admin()?;
            let s: NewSkill = read_json(req.into_body(), MAX_JSON).await?;
            let skill = Skill {
                id: s.id,
                tenant: p.tenant.clone(),
                name: s.name,
            };
            let (inbox, sk) = (app.inbox.clone(), skill.clone());
            blocking(move || inbox.put_skill(&sk)).await?;
            Ok(json_response(StatusCode::CREATED, &skill))
        }
        ("POST", "/api/v1/tokens") => {
            p.require_admin()?;
            let t: NewToken = read_json(req.into_body(), MAX_JSON).await?;
            create_token(app, &p.tenant, t).await
        }
        ("GET", "/api/v1/outbox") => {
            p.require_supervisor()?;
            let (inbox, t) = (app.inbox.clone(), p.tenant.clone());
            Ok(json_response(
                StatusCode::OK,
                &blocking(move || inbox.outbox(&t)).await?,
            ))
        }
        _ => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "no_route",
            format!("no route {method} {pattern}"),
        )),
    }
}

async fn create_token(
    app: &Arc<App>,
    tenant: &str,
    t: NewToken,
) -> Result<Response<Body>, ApiError> {
    let (inbox, tenant) = (app.inbox.clone(), tenant.to_string());
    let created = blocking(move || {
        if inbox.tenant(&tenant)?.is_none() {
            return Err(crate::inbox::InboxError::NotFound(format!(
                "no tenant `{tenant}`"
            )));
        }
        inbox.create_token(&tenant, t.role, t.agent)
    })
    .await?;
    Ok(json_response(StatusCode::CREATED, &created))
}

/// The caller's tenant's channel, or 404 (also for channels of other tenants).
async fn tenant_channel(
    app: &Arc<App>,
    p: &Principal,
    id: &str,
) -> Result<ChannelRecord, ApiError> {
    let (inbox, t, i) = (app.inbox.clone(), p.tenant.clone(), id.to_string());
    blocking(move || inbox.channel(&t, &i))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("unknown channel `{id}`")))
}

/// A channel as the API shows it: secrets masked, never returned.
fn channel_view(app: &App, c: &ChannelRecord) -> serde_json::Value {
    let running = app.runtime.channel(&c.id);
    let plugin = running.as_ref().map(|r| r.plugin());
    let secret: Vec<String> = plugin
        .as_ref()
        .map(|p| {
            p.manifest
                .config
                .iter()
                .filter(|k| k.secret)
                .map(|k| k.name.clone())
                .collect()
        })
        .unwrap_or_default();
    let mut config = serde_json::Map::new();
    if let (Some(r), Some(p)) = (&running, &plugin) {
        for key in &p.manifest.config {
            if let Some(v) = r.config_value(&key.name) {
                let shown = if secret.contains(&key.name) {
                    "********".to_string()
                } else {
                    v
                };
                config.insert(key.name.clone(), json!(shown));
            }
        }
    } else {
        // Not running: show keys only.
        for k in c.config.keys() {
            config.insert(k.clone(), json!("********"));
        }
    }
    json!({
        "id": c.id,
        "name": c.name,
        "plugin": c.plugin,
        "version": plugin.as_ref().map(|p| p.manifest.version.clone()),
        "running": running.is_some(),
        "plugin_version": c.plugin_version,
        "enabled": c.enabled,
        "default_skill": c.default_skill,
        "default_script": c.default_script,
        "egress": c.egress,
        "public_url": running.as_ref().and_then(|r| r.config_value("inlet.public_url")),
        "config": config,
        "stats": running.as_ref().map(|r| r.stats()),
        // What each audience can send here: native, fallback (offered as text) or no.
        "rich_content": plugin.as_ref().map(|p| crate::content::matrix::matrix(&p.manifest.capabilities)),
    })
}

fn load_error(e: LoadError) -> ApiError {
    let code = match e {
        LoadError::Health { .. } => "health_check_failed",
        LoadError::Invalid(_) => "invalid_plugin",
        _ => "plugin_load_failed",
    };
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, e.to_string())
}
