//! `/webhooks/{channel_id}`: hand the provider's request to the channel's plugin, record the
//! events, and only then answer the provider with the plugin's response.
//!
//! A rejected request (bad signature, malformed body, stopped plugin) records nothing.

use std::sync::Arc;

use http::{Request, Response, StatusCode};
use hyper::body::Incoming;

use super::errors::{ApiError, Body, Direction};
use super::{bytes_response, read_body};
use crate::app::App;
use crate::model::HttpRequest;

pub async fn handle(
    app: &Arc<App>,
    channel_id: &str,
    req: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    let channel = app
        .runtime
        .channel(channel_id)
        .ok_or_else(|| ApiError::not_found(format!("unknown channel `{channel_id}`")))?;
    let (parts, body) = req.into_parts();
    let body = read_body(body, app.max_webhook_bytes).await?;
    let public = channel
        .config_value("inlet.public_url")
        .unwrap_or_default()
        .to_string();
    let raw_query = parts.uri.query().unwrap_or_default();
    let url = if raw_query.is_empty() {
        public
    } else {
        format!("{public}?{raw_query}")
    };
    let query = form_urlencoded::parse(raw_query.as_bytes())
        .into_owned()
        .collect();
    let headers = parts
        .headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
        .collect();
    let request = HttpRequest {
        method: parts.method.to_string(),
        url,
        query,
        headers,
        body: body.to_vec(),
    };
    let received = channel.receive(request).await.map_err(|e| {
        tracing::info!(channel = %channel_id, "webhook rejected: {e}");
        ApiError::from_call(&e, Direction::Inbound)
    })?;
    let count = received.events.len();
    let new = app.sink.record(channel_id, received.events).map_err(|e| {
        // Not durable: the provider must retry.
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "storage_unavailable",
            format!("events not stored: {e}"),
        )
    })?;
    tracing::debug!(channel = %channel_id, events = count, new, "webhook accepted");
    let r = received.response;
    Ok(bytes_response(r.status, &r.headers, r.body))
}
