//! The HTTP server: webhook ingress at `/webhooks/{channel_id}`, the agent and admin API under
//! `/api/v1` (bearer tokens with roles), `/healthz`. hyper 1, HTTP/1.1, one task per
//! connection. Every route is listed once in [`ROUTES`]; `docs/openapi.json` documents
//! exactly that list (a test keeps them in agreement).

mod admin;
mod agent;
mod auth;
pub mod errors;
mod outbound;
mod permissions;
mod routing;
mod webhooks;

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use tokio::net::TcpListener;

use crate::app::App;
pub use auth::{Access, Principal};
use errors::{full, json_response, ApiError, Body};

/// The OpenAPI document, served at `/api/v1/openapi.json`.
pub const OPENAPI: &str = include_str!("../../../docs/openapi.json");

/// Every route: (method, path pattern). `{name}` matches one path segment.
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/healthz"),
    ("POST", "/webhooks/{channel_id}"),
    ("GET", "/webhooks/{channel_id}"),
    ("GET", "/api/v1/openapi.json"),
    ("GET", "/api/v1/me"),
    // operator
    ("GET", "/api/v1/tenants"),
    ("POST", "/api/v1/tenants"),
    ("GET", "/api/v1/tenants/{tenant_id}"),
    ("DELETE", "/api/v1/tenants/{tenant_id}"),
    ("PATCH", "/api/v1/tenants/{tenant_id}"),
    ("POST", "/api/v1/tenants/{tenant_id}/suspend"),
    ("POST", "/api/v1/tenants/{tenant_id}/resume"),
    ("GET", "/api/v1/tenants/{tenant_id}/export"),
    ("POST", "/api/v1/tenants/{tenant_id}/tokens"),
    ("POST", "/api/v1/plugins"),
    ("POST", "/api/v1/plugins/inspect"),
    ("POST", "/api/v1/plugins/{plugin_id}/activate"),
    ("POST", "/api/v1/plugins/{plugin_id}/availability"),
    // tenant admin
    ("GET", "/api/v1/plugins"),
    ("GET", "/api/v1/plugins/{plugin_id}"),
    ("GET", "/api/v1/channels"),
    ("POST", "/api/v1/channels"),
    ("GET", "/api/v1/channels/{channel_id}"),
    ("DELETE", "/api/v1/channels/{channel_id}"),
    ("PATCH", "/api/v1/channels/{channel_id}"),
    ("POST", "/api/v1/channels/{channel_id}/messages"),
    ("GET", "/api/v1/agents"),
    ("POST", "/api/v1/agents"),
    ("GET", "/api/v1/skills"),
    ("POST", "/api/v1/skills"),
    ("POST", "/api/v1/tokens"),
    ("GET", "/api/v1/outbox"),
    // agents
    ("GET", "/api/v1/events"),
    ("GET", "/api/v1/stream"),
    ("GET", "/api/v1/cases"),
    ("GET", "/api/v1/cases/{case_id}"),
    ("POST", "/api/v1/cases/{case_id}/replies"),
    ("POST", "/api/v1/cases/{case_id}/status"),
    ("POST", "/api/v1/cases/{case_id}/assign"),
    ("POST", "/api/v1/cases/{case_id}/notes"),
    ("POST", "/api/v1/cases/{case_id}/tags"),
    ("POST", "/api/v1/cases/{case_id}/messages/{seq}/retry"),
    ("GET", "/api/v1/search"),
    ("GET", "/api/v1/contacts/{contact_id}"),
    ("POST", "/api/v1/contacts/{contact_id}/merge"),
    // routing, scripts, SLA, permissions
    ("GET", "/api/v1/scripts"),
    ("POST", "/api/v1/scripts"),
    ("GET", "/api/v1/scripts/{script_id}"),
    ("PUT", "/api/v1/scripts/{script_id}"),
    ("DELETE", "/api/v1/scripts/{script_id}"),
    ("GET", "/api/v1/sla-policies"),
    ("PUT", "/api/v1/sla-policies"),
    ("GET", "/api/v1/queues"),
    ("DELETE", "/api/v1/agents/{agent_id}"),
    ("POST", "/api/v1/agents/{agent_id}/state"),
    ("GET", "/api/v1/agents/{agent_id}/load"),
    ("POST", "/api/v1/next-case"),
    ("POST", "/api/v1/cases/{case_id}/transfer"),
    ("POST", "/api/v1/cases/{case_id}/messages/{seq}/moderate"),
    // outbound: proactive conversations, saved rich messages, dead letters
    ("POST", "/api/v1/conversations"),
    ("GET", "/api/v1/cases/{case_id}/rich-messages"),
    ("GET", "/api/v1/rich-messages"),
    ("POST", "/api/v1/rich-messages"),
    ("GET", "/api/v1/rich-messages/{rich_message_id}"),
    ("PUT", "/api/v1/rich-messages/{rich_message_id}"),
    ("DELETE", "/api/v1/rich-messages/{rich_message_id}"),
    ("GET", "/api/v1/outbox/dead"),
];

/// Match a request against [`ROUTES`]: the pattern and the captured segments.
pub fn route(method: &Method, path: &str) -> Option<(&'static str, Vec<String>)> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    for (m, pattern) in ROUTES {
        if *m != method.as_str() {
            continue;
        }
        let parts: Vec<&str> = pattern.trim_matches('/').split('/').collect();
        if parts.len() != segments.len() {
            continue;
        }
        let mut params = Vec::new();
        let ok = parts.iter().zip(&segments).all(|(p, s)| {
            if p.starts_with('{') {
                params.push(s.to_string());
                !s.is_empty()
            } else {
                p == s
            }
        });
        if ok {
            return Some((pattern, params));
        }
    }
    None
}

/// Serve until the listener fails or the task is aborted.
pub async fn serve(app: Arc<App>, listener: TcpListener) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(conn) => conn,
            Err(e) => {
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let app = app.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let app = app.clone();
                async move { Ok::<_, Infallible>(handle(app, req).await) }
            });
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(%peer, "connection ended: {e}");
            }
        });
    }
}

async fn handle(app: Arc<App>, req: Request<Incoming>) -> Response<Body> {
    let path = req.uri().path().to_string();
    let Some((pattern, params)) = route(req.method(), &path) else {
        let known_path = ROUTES.iter().any(|(_, p)| route_matches_path(p, &path));
        return if known_path {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                format!("{} is not allowed on {path}", req.method()),
            )
            .response()
        } else {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "no_route",
                format!("no route for {path}"),
            )
            .response()
        };
    };
    let result = match pattern {
        "/healthz" => Ok(json_response(
            StatusCode::OK,
            &serde_json::json!({"status": "ok"}),
        )),
        "/webhooks/{channel_id}" => webhooks::handle(&app, &params[0], req).await,
        "/api/v1/openapi.json" => Ok(Response::builder()
            .header("content-type", "application/json")
            .body(full(Bytes::from_static(OPENAPI.as_bytes())))
            .unwrap_or_else(|_| Response::new(full(Bytes::new())))),
        _ => match auth::authenticate(&app, &req).await {
            Ok(principal) => {
                if let Err(retry) = app.api_limiter.check(&principal.tenant) {
                    return rate_limited(&principal.tenant, "API", retry).response();
                }
                if routing::owns(pattern) {
                    routing::handle(&app, &principal, req, pattern, &params).await
                } else if pattern.starts_with("/api/v1/rich-messages")
                    || matches!(
                        pattern,
                        "/api/v1/conversations"
                            | "/api/v1/outbox/dead"
                            | "/api/v1/cases/{case_id}/rich-messages"
                    )
                {
                    outbound::handle(&app, &principal, req, pattern, &params).await
                } else if pattern.starts_with("/api/v1/cases")
                    || pattern.starts_with("/api/v1/contacts")
                    || matches!(
                        pattern,
                        "/api/v1/events" | "/api/v1/stream" | "/api/v1/search" | "/api/v1/me"
                    )
                {
                    agent::handle(&app, &principal, req, pattern, &params).await
                } else {
                    admin::handle(&app, &principal, req, pattern, &params).await
                }
            }
            Err(e) => Err(e),
        },
    };
    result.unwrap_or_else(|e| e.response())
}

pub(crate) fn rate_limited(tenant: &str, what: &str, retry_after_secs: u64) -> ApiError {
    let mut e = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "tenant_rate_limited",
        format!(
            "tenant `{tenant}` is over its {what} rate limit; retry after {retry_after_secs} s"
        ),
    );
    e.retry_after_secs = Some(retry_after_secs);
    e
}

fn route_matches_path(pattern: &str, path: &str) -> bool {
    let a: Vec<&str> = pattern.trim_matches('/').split('/').collect();
    let b: Vec<&str> = path.trim_matches('/').split('/').collect();
    a.len() == b.len() && a.iter().zip(&b).all(|(p, s)| p.starts_with('{') || p == s)
}

/// Read a body up to `max` bytes; larger bodies are a 413 that says the limit.
pub(crate) async fn read_body(body: Incoming, max: usize) -> Result<Bytes, ApiError> {
    match Limited::new(body, max).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("request body exceeds {} KiB", max / 1024),
            ))
        }
        Err(e) => Err(ApiError::bad_request(format!(
            "cannot read request body: {e}"
        ))),
    }
}

/// Parse a JSON body into `T`, with the parser's message on failure.
pub(crate) async fn read_json<T: serde::de::DeserializeOwned>(
    body: Incoming,
    max: usize,
) -> Result<T, ApiError> {
    let bytes = read_body(body, max).await?;
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))
}

pub(crate) fn query_map(req: &Request<Incoming>) -> std::collections::HashMap<String, String> {
    req.uri()
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default()
}

pub(crate) fn bytes_response(
    status: u16,
    headers: &[(String, String)],
    body: Vec<u8>,
) -> Response<Body> {
    let mut builder =
        Response::builder().status(StatusCode::from_u16(status).unwrap_or(StatusCode::OK));
    for (k, v) in headers {
        // Framing headers are ours to set.
        if matches!(
            k.to_ascii_lowercase().as_str(),
            "content-length" | "transfer-encoding" | "connection"
        ) {
            continue;
        }
        builder = builder.header(k.as_str(), v.as_str());
    }
    builder.body(full(body)).unwrap_or_else(|_| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "bad_plugin_response",
            "plugin returned an invalid HTTP header",
        )
        .response()
    })
}

/// Run blocking inbox work off the reactor, mapping its errors.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, crate::inbox::InboxError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?
        .map_err(ApiError::from)
}
