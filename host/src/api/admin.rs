//! The admin API under `/api/v1` (bearer token): plugins (list, inspect, install/hot swap),
//! channels (list, create, delete, send a message), received events.

use std::collections::HashMap;
use std::sync::Arc;

use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use serde::Deserialize;
use serde_json::json;

use super::errors::{json_response, ApiError, Body, Direction};
use super::{method_not_allowed, read_body};
use crate::app::App;
use crate::model::{Choice, Content, OutboundMessage};
use crate::runtime::{ChannelConfigError, ChannelSpec, LoadError, PluginSource};

const MAX_PLUGIN_BYTES: usize = 64 * 1024 * 1024;
const MAX_JSON_BYTES: usize = 256 * 1024;

pub async fn handle(
    app: &Arc<App>,
    req: Request<Incoming>,
    rest: &[String],
) -> Result<Response<Body>, ApiError> {
    let method = req.method().clone();
    let query: HashMap<String, String> = req
        .uri()
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let rest: Vec<&str> = rest.iter().map(String::as_str).collect();
    match (rest.as_slice(), &method) {
        (["plugins"], &Method::GET) => Ok(json_response(StatusCode::OK, &app.runtime.plugins())),
        (["plugins"], &Method::POST) => {
            let bytes = read_body(req.into_body(), MAX_PLUGIN_BYTES).await?;
            let report = app
                .runtime
                .install(bytes.to_vec(), PluginSource::Upload)
                .await
                .map_err(load_error)?;
            Ok(json_response(StatusCode::OK, &report))
        }
        (["plugins", "inspect"], &Method::POST) => {
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
        (["plugins", id], &Method::GET) => app
            .runtime
            .plugin(id)
            .map(|p| json_response(StatusCode::OK, &p))
            .ok_or_else(|| ApiError::not_found(format!("no plugin `{id}`"))),
        (["channels"], &Method::GET) => {
            let list: Vec<_> = app
                .runtime
                .channels()
                .iter()
                .map(|c| channel_view(c))
                .collect();
            Ok(json_response(StatusCode::OK, &list))
        }
        (["channels"], &Method::POST) => {
            let body = read_body(req.into_body(), MAX_JSON_BYTES).await?;
            let spec: ChannelSpec = serde_json::from_slice(&body)
                .map_err(|e| ApiError::bad_request(format!("invalid channel JSON: {e}")))?;
            let channel = app
                .runtime
                .add_channel(spec, &app.public_base_url)
                .await
                .map_err(channel_error)?;
            Ok(json_response(StatusCode::CREATED, &channel_view(&channel)))
        }
        (["channels", id], &Method::GET) => app
            .runtime
            .channel(id)
            .map(|c| json_response(StatusCode::OK, &channel_view(&c)))
            .ok_or_else(|| ApiError::not_found(format!("unknown channel `{id}`"))),
        (["channels", id], &Method::DELETE) => {
            if app.runtime.remove_channel(id) {
                Ok(json_response(StatusCode::OK, &json!({"deleted": id})))
            } else {
                Err(ApiError::not_found(format!("unknown channel `{id}`")))
            }
        }
        (["channels", id, "messages"], &Method::POST) => {
            let channel = app
                .runtime
                .channel(id)
                .ok_or_else(|| ApiError::not_found(format!("unknown channel `{id}`")))?;
            let body = read_body(req.into_body(), MAX_JSON_BYTES).await?;
            let send: SendRequest = serde_json::from_slice(&body)
                .map_err(|e| ApiError::bad_request(format!("invalid message JSON: {e}")))?;
            let message = send.into_outbound();
            let sent = channel
                .send(message)
                .await
                .map_err(|e| ApiError::from_call(&e, Direction::Outbound))?;
            Ok(json_response(StatusCode::OK, &sent))
        }
        (["events"], &Method::GET) => {
            let after = query.get("after").and_then(|v| v.parse().ok()).unwrap_or(0);
            let limit = query
                .get("limit")
                .and_then(|v| v.parse().ok())
                .unwrap_or(100usize)
                .min(1000);
            let events = app
                .sink
                .list(query.get("channel").map(String::as_str), after, limit);
            Ok(json_response(StatusCode::OK, &events))
        }
        (
            ["plugins"]
            | ["plugins", _]
            | ["channels"]
            | ["channels", _]
            | ["channels", _, "messages"]
            | ["events"],
            m,
        ) => Err(method_not_allowed(m)),
        _ => Err(ApiError::not_found(format!(
            "no route /api/v1/{}",
            rest.join("/")
        ))),
    }
}

/// Body of `POST /api/v1/channels/{id}/messages`.
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
    attachments: Vec<crate::model::Attachment>,
}

impl SendRequest {
    fn into_outbound(self) -> OutboundMessage {
        let mut content = Content::text(self.text);
        content.buttons = self.buttons;
        content.quick_replies = self.quick_replies;
        content.attachments = self.attachments;
        OutboundMessage {
            idempotency_key: self.idempotency_key.unwrap_or_else(new_key),
            conversation: self.conversation,
            recipient: None,
            content,
            reply_to: self.reply_to,
            tag: None,
            public_reply: false,
        }
    }
}

fn new_key() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("out-{nanos:x}")
}

/// A channel as the API shows it: no secrets, ever.
fn channel_view(c: &crate::runtime::ChannelHandle) -> serde_json::Value {
    let plugin = c.plugin();
    let secret: Vec<&str> = plugin
        .manifest
        .config
        .iter()
        .filter(|k| k.secret)
        .map(|k| k.name.as_str())
        .collect();
    let mut config = serde_json::Map::new();
    for key in &plugin.manifest.config {
        if let Some(v) = c.config_value(&key.name) {
            let shown = if secret.contains(&key.name.as_str()) {
                "********".to_string()
            } else {
                v
            };
            config.insert(key.name.clone(), json!(shown));
        }
    }
    json!({
        "id": c.id,
        "plugin": plugin.manifest.id,
        "version": plugin.manifest.version,
        "public_url": c.config_value("inlet.public_url"),
        "config": config,
        "stats": c.stats(),
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

fn channel_error(e: ChannelConfigError) -> ApiError {
    let status = match e {
        ChannelConfigError::Exists(_) => StatusCode::CONFLICT,
        ChannelConfigError::UnknownPlugin(_) => StatusCode::NOT_FOUND,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    };
    ApiError::new(status, "invalid_channel", e.to_string())
}
