//! The agent API: the inbox listing, a case with its messages, replies, status changes,
//! assignment and transfer, notes, tags, search, the accepted-event journal and live events
//! (server-sent events). Agents see and act only on the channels they are permitted; a case
//! on any other channel (or of another tenant) does not exist for them (404).

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body::Frame;
use hyper::body::Incoming;
use serde::Deserialize;
use serde_json::json;

use super::auth::{Access, Principal};
use super::errors::{json_response, ApiError, Body};
use super::{blocking, query_map, read_json};
use crate::app::{App, OutboundInput};
use crate::inbox::{Author, Case, CaseFilter, CaseStatus, Permission, StatusChange};

const MAX_JSON: usize = 256 * 1024;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Assign {
    /// Agent to assign to; `null` unassigns (back to the queue).
    agent: Option<String>,
    /// Transfer to another skill (queue).
    #[serde(default)]
    skill: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MergeBody {
    /// The contact whose profile `contact_id` joins.
    into: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoteBody {
    text: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TagsBody {
    #[serde(default)]
    add: Vec<String>,
    #[serde(default)]
    remove: Vec<String>,
}

/// Channels the principal may see; `None` = all of the tenant's.
pub(super) async fn visible(
    app: &Arc<App>,
    p: &Principal,
) -> Result<Option<Vec<String>>, ApiError> {
    if p.access != Access::Agent {
        return Ok(None);
    }
    let (inbox, t, a) = (
        app.inbox.clone(),
        p.tenant.clone(),
        p.agent.clone().unwrap_or_default(),
    );
    let agent = blocking(move || inbox.agent(&t, &a)).await?;
    Ok(Some(
        agent.map(|a| a.readable_channels()).unwrap_or_default(),
    ))
}

/// The case, if it exists in the caller's tenant and the caller may see its channel.
pub(super) async fn visible_case(
    app: &Arc<App>,
    p: &Principal,
    id: &str,
) -> Result<Case, ApiError> {
    let (inbox, t, i) = (app.inbox.clone(), p.tenant.clone(), id.to_string());
    let case = blocking(move || inbox.case(&t, &i)).await?;
    super::permissions::require(app, p, &case, Permission::Read).await?;
    Ok(case)
}

/// Who writes: the agent behind an agent token, else the token's role as a bot.
pub(super) fn author(p: &Principal) -> Author {
    match &p.agent {
        Some(a) => Author::Agent(a.clone()),
        None => Author::Bot(actor(p)),
    }
}

fn actor(p: &Principal) -> String {
    p.agent
        .clone()
        .unwrap_or_else(|| format!("{:?}", p.access).to_lowercase())
}

pub async fn handle(
    app: &Arc<App>,
    p: &Principal,
    req: Request<Incoming>,
    pattern: &str,
    params: &[String],
) -> Result<Response<Body>, ApiError> {
    let id = params.first().cloned().unwrap_or_default();
    let q = query_map(&req);
    let method = req.method().as_str().to_string();
    match (method.as_str(), pattern) {
        ("GET", "/api/v1/me") => Ok(json_response(StatusCode::OK, p)),
        ("GET", "/api/v1/cases") => {
            let mut filter = CaseFilter {
                channel: q.get("channel").cloned(),
                assignee: q.get("assignee").cloned(),
                skill: q.get("skill").cloned(),
                tag: q.get("tag").cloned(),
                visible_channels: visible(app, p).await?,
                ..CaseFilter::default()
            };
            if let Some(s) = q.get("status") {
                for part in s.split(',').filter(|x| !x.is_empty()) {
                    filter.status.push(CaseStatus::parse(part).ok_or_else(|| {
                        ApiError::bad_request(format!("unknown status `{part}` (new, open, pending, escalated, resolved, closed)"))
                    })?);
                }
            }
            let limit = match q.get("limit") {
                Some(l) => l
                    .parse::<usize>()
                    .map_err(|_| ApiError::bad_request(format!("limit `{l}` is not a number")))?,
                None => 50,
            };
            let cursor = q.get("cursor").cloned();
            let (inbox, t) = (app.inbox.clone(), p.tenant.clone());
            let list =
                blocking(move || inbox.list_cases(&t, &filter, cursor.as_deref(), limit)).await?;
            Ok(json_response(StatusCode::OK, &list))
        }
        ("GET", "/api/v1/cases/{case_id}") => {
            let case = visible_case(app, p, &id).await?;
            let (inbox, t) = (app.inbox.clone(), p.tenant.clone());
            let view = blocking(move || inbox.case_view(&t, &id)).await?;
            // The messaging window (time left to answer freely), when the channel has one.
            let mut body = serde_json::to_value(&view).map_err(|e| {
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string())
            })?;
            body["window"] = json!(app.window(&case));
            Ok(json_response(StatusCode::OK, &body))
        }
        ("POST", "/api/v1/cases/{case_id}/replies") => {
            let case = visible_case(app, p, &id).await?;
            let needed = super::permissions::reply_permission(app, &case.channel);
            super::permissions::require(app, p, &case, needed).await?;
            let body: OutboundInput = read_json(req.into_body(), MAX_JSON).await?;
            let (a, t, who) = (app.clone(), p.tenant.clone(), author(p));
            let message = blocking(move || a.reply(&t, &id, who, body)).await?;
            Ok(json_response(StatusCode::ACCEPTED, &message))
        }
        ("POST", "/api/v1/cases/{case_id}/status") => {
            visible_case(app, p, &id).await?;
            let body: StatusChange = read_json(req.into_body(), MAX_JSON).await?;
            let (inbox, t, by) = (app.inbox.clone(), p.tenant.clone(), actor(p));
            let case = blocking(move || inbox.set_status(&t, &id, body.status, &by)).await?;
            Ok(json_response(StatusCode::OK, &case))
        }
        ("POST", "/api/v1/cases/{case_id}/assign") => {
            visible_case(app, p, &id).await?;
            let body: Assign = read_json(req.into_body(), MAX_JSON).await?;
            // Agents take cases for themselves; assigning others is for supervisors.
            if p.access == Access::Agent && body.agent.as_ref() != p.agent.as_ref() {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "forbidden",
                    "agents can only assign cases to themselves",
                ));
            }
            let (inbox, t, by) = (app.inbox.clone(), p.tenant.clone(), actor(p));
            let case = blocking(move || {
                inbox.assign(&t, &id, body.agent.as_deref(), body.skill.as_deref(), &by)
            })
            .await?;
            Ok(json_response(StatusCode::OK, &case))
        }
        ("POST", "/api/v1/cases/{case_id}/notes") => {
            visible_case(app, p, &id).await?;
            let body: NoteBody = read_json(req.into_body(), MAX_JSON).await?;
            let (inbox, t, by) = (app.inbox.clone(), p.tenant.clone(), actor(p));
            let note = blocking(move || inbox.add_note(&t, &id, &by, &body.text)).await?;
            Ok(json_response(StatusCode::CREATED, &note))
        }
        ("POST", "/api/v1/cases/{case_id}/tags") => {
            visible_case(app, p, &id).await?;
            let body: TagsBody = read_json(req.into_body(), MAX_JSON).await?;
            let (inbox, t) = (app.inbox.clone(), p.tenant.clone());
            let case = blocking(move || inbox.set_tags(&t, &id, &body.add, &body.remove)).await?;
            Ok(json_response(StatusCode::OK, &case))
        }
        ("POST", "/api/v1/cases/{case_id}/messages/{seq}/retry") => {
            let case = visible_case(app, p, &id).await?;
            let needed = super::permissions::reply_permission(app, &case.channel);
            super::permissions::require(app, p, &case, needed).await?;
            let seq: u64 = params
                .get(1)
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| ApiError::bad_request("message sequence must be a number"))?;
            let (inbox, t) = (app.inbox.clone(), p.tenant.clone());
            let message = blocking(move || inbox.retry_message(&t, &id, seq)).await?;
            app.delivery.notify();
            Ok(json_response(StatusCode::ACCEPTED, &message))
        }
        ("GET", "/api/v1/search") => {
            let query = q
                .get("q")
                .cloned()
                .ok_or_else(|| ApiError::bad_request("missing `q`"))?;
            let v = visible(app, p).await?;
            let (inbox, t) = (app.inbox.clone(), p.tenant.clone());
            let hits = blocking(move || inbox.search(&t, &query, v.as_deref(), 100)).await?;
            Ok(json_response(StatusCode::OK, &hits))
        }
        ("GET", "/api/v1/events") => {
            p.require_supervisor()?;
            let number = |name: &str, default: u64| -> Result<u64, ApiError> {
                match q.get(name) {
                    Some(v) => v.parse().map_err(|_| {
                        ApiError::bad_request(format!("{name} `{v}` is not a number"))
                    }),
                    None => Ok(default),
                }
            };
            let after = number("after", 0)?;
            let limit = number("limit", 100)?.min(1000) as usize;
            let channel = q.get("channel").cloned();
            let (inbox, t) = (app.inbox.clone(), p.tenant.clone());
            let events =
                blocking(move || inbox.journal(&t, channel.as_deref(), after, limit)).await?;
            Ok(json_response(StatusCode::OK, &events))
        }
        ("GET", "/api/v1/stream") => stream(app, p).await,
        ("GET", "/api/v1/contacts/{contact_id}") => {
            let v = visible(app, p).await?;
            let (inbox, t) = (app.inbox.clone(), p.tenant.clone());
            let (contact, identities) = blocking(move || inbox.contact_profile(&t, &id)).await?;
            if v.as_ref().is_some_and(|v| !v.contains(&contact.channel)) {
                return Err(ApiError::not_found(format!("no contact `{}`", contact.id)));
            }
            let identities: Vec<_> = identities
                .into_iter()
                .filter(|c| v.as_ref().is_none_or(|v| v.contains(&c.channel)))
                .collect();
            Ok(json_response(
                StatusCode::OK,
                &json!({"contact": contact, "profile": identities}),
            ))
        }
        ("POST", "/api/v1/contacts/{contact_id}/merge") => {
            p.require_supervisor()?;
            let body: MergeBody = read_json(req.into_body(), MAX_JSON).await?;
            let (inbox, t) = (app.inbox.clone(), p.tenant.clone());
            let merged = blocking(move || inbox.merge_contacts(&t, &id, &body.into)).await?;
            Ok(json_response(StatusCode::OK, &json!({"profile": merged})))
        }
        _ => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "no_route",
            format!("no route {method} {pattern}"),
        )),
    }
}

/// Server-sent events: `event: <kind>` lines with JSON data, for the caller's tenant and
/// visible channels; a comment heartbeat every 15 s keeps proxies from closing the stream.
async fn stream(app: &Arc<App>, p: &Principal) -> Result<Response<Body>, ApiError> {
    let visible = visible(app, p).await?;
    let mut rx = app.inbox.subscribe();
    let (tx, body_rx) = tokio::sync::mpsc::channel::<Bytes>(256);
    let tenant = p.tenant.clone();
    tokio::spawn(async move {
        if tx
            .send(Bytes::from_static(b": connected\n\n"))
            .await
            .is_err()
        {
            return;
        }
        loop {
            let next = tokio::time::timeout(std::time::Duration::from_secs(15), rx.recv()).await;
            let frame = match next {
                Err(_) => Bytes::from_static(b": heartbeat\n\n"),
                Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(n))) => {
                    Bytes::from(format!("event: lagged\ndata: {}\n\n", json!({"missed": n})))
                }
                Ok(Err(_)) => return,
                Ok(Ok(event)) => {
                    if event.tenant != tenant {
                        continue;
                    }
                    if let Some(v) = &visible {
                        if !v.contains(&event.channel) {
                            continue;
                        }
                    }
                    let data = serde_json::to_string(&event).unwrap_or_default();
                    Bytes::from(format!("event: {}\ndata: {data}\n\n", event.kind))
                }
            };
            if tx.send(frame).await.is_err() {
                return;
            }
        }
    });
    let body = http_body_util::BodyExt::boxed(SseBody { rx: body_rx });
    Response::builder()
        .header("content-type", "text/event-stream")
        .header("cache-control", "no-cache")
        .body(body)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))
}

struct SseBody {
    rx: tokio::sync::mpsc::Receiver<Bytes>,
}

impl http_body::Body for SseBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        self.rx.poll_recv(cx).map(|b| b.map(|b| Ok(Frame::data(b))))
    }
}
