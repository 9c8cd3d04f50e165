//! `/webhooks/{channel_id}`: hand the provider's request to the channel's plugin, store the
//! events durably in the inbox, and only then answer the provider with the plugin's response.
//!
//! A rejected request (bad signature, malformed body, stopped plugin, suspended tenant)
//! stores nothing.

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
    let unknown = || ApiError::not_found(format!("unknown channel `{channel_id}`"));
    let inbox = app.inbox.clone();
    let id = channel_id.to_string();
    let record = super::blocking(move || {
        let Some(tenant) = inbox.channel_owner(&id)? else {
            return Ok(None);
        };
        let active = inbox
            .tenant(&tenant)?
            .is_some_and(|t| t.status == crate::inbox::TenantStatus::Active);
        Ok(inbox.channel(&tenant, &id)?.map(|c| (c, active)))
    })
    .await?;
    let (record, active) = record.ok_or_else(unknown)?;
    if !active {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "tenant_suspended",
            "this channel's tenant is suspended; nothing was stored",
        ));
    }
    if !record.enabled {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "channel_disabled",
            format!("channel `{channel_id}` is disabled; nothing was stored"),
        ));
    }
    if let Err(retry) = app.webhook_limiter.check(&record.tenant) {
        // The provider retries later; nothing is stored.
        return Err(super::rate_limited(&record.tenant, "webhook", retry));
    }
    let channel = app.runtime.channel(channel_id).ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "channel_unavailable",
            format!("channel `{channel_id}` is not running"),
        )
    })?;
    let (parts, body) = req.into_parts();
    let body = read_body(body, app.max_webhook_bytes).await?;
    let public = channel.config_value("inlet.public_url").unwrap_or_default();
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
    if count > 0 {
        let inbox = app.inbox.clone();
        let events = received.events;
        let report = super::blocking(move || inbox.ingest(&record, events))
            .await
            .map_err(|e| match e.code {
                // Over quota: a clear refusal (507), nothing stored; the provider retries.
                "storage_quota_exceeded" => e,
                _ => ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "storage_unavailable",
                    format!("events not stored, retry: {}", e.message),
                ),
            })?;
        tracing::debug!(channel = %channel_id, events = count, new = report.new, duplicates = report.duplicates, "webhook accepted");
    }
    let r = received.response;
    Ok(bytes_response(r.status, &r.headers, r.body))
}
