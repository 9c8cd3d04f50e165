//! The outbound API: proactive conversations, saved rich messages (and which of them a case's
//! channel offers), and the dead-letter list of messages that failed for good.

use std::sync::Arc;

use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use serde_json::json;

use super::agent::{author, visible_case};
use super::auth::{Access, Principal};
use super::errors::{json_response, ApiError, Body};
use super::{blocking, query_map, read_json};
use crate::app::{App, ConversationInput};
use crate::content::Audience;
use crate::inbox::RichMessageInput;

const MAX_JSON: usize = 256 * 1024;

pub async fn handle(
    app: &Arc<App>,
    p: &Principal,
    req: Request<Incoming>,
    pattern: &str,
    params: &[String],
) -> Result<Response<Body>, ApiError> {
    let id = params.first().cloned().unwrap_or_default();
    let method = req.method().as_str().to_string();
    match (method.as_str(), pattern) {
        ("POST", "/api/v1/conversations") => {
            let input: ConversationInput = read_json(req.into_body(), MAX_JSON).await?;
            let needed = super::permissions::reply_permission(app, &input.channel);
            super::permissions::require_channel(app, p, &input.channel, needed).await?;
            let (a, t, who) = (app.clone(), p.tenant.clone(), author(p));
            let (case, message) = blocking(move || a.start_conversation(&t, who, input)).await?;
            Ok(json_response(
                StatusCode::ACCEPTED,
                &json!({"case": case, "message": message}),
            ))
        }
        ("GET", "/api/v1/cases/{case_id}/rich-messages") => {
            let case = visible_case(app, p, &id).await?;
            let audience = match query_map(&req).get("audience").map(String::as_str) {
                Some("automation") => Audience::Automation,
                Some("agent") => Audience::Agent,
                None if p.access == Access::Agent => Audience::Agent,
                None => Audience::Automation,
                Some(other) => {
                    return Err(ApiError::bad_request(format!(
                        "audience `{other}`: use agent or automation"
                    )))
                }
            };
            let (a, t) = (app.clone(), p.tenant.clone());
            let list = blocking(move || a.rich_messages_for(&t, &case, audience)).await?;
            Ok(json_response(StatusCode::OK, &list))
        }
        ("GET", "/api/v1/rich-messages") => {
            let (inbox, t) = (app.inbox.clone(), p.tenant.clone());
            Ok(json_response(
                StatusCode::OK,
                &blocking(move || inbox.rich_messages(&t)).await?,
            ))
        }
        ("GET", "/api/v1/rich-messages/{rich_message_id}") => {
            let (inbox, t) = (app.inbox.clone(), p.tenant.clone());
            Ok(json_response(
                StatusCode::OK,
                &blocking(move || inbox.rich_message(&t, &id)).await?,
            ))
        }
        ("POST", "/api/v1/rich-messages") | ("PUT", "/api/v1/rich-messages/{rich_message_id}") => {
            p.require_supervisor()?;
            let input: RichMessageInput = read_json(req.into_body(), MAX_JSON).await?;
            let update = method == "PUT";
            if update && input.id != id {
                return Err(ApiError::bad_request(format!(
                    "the body's id `{}` differs from the path's `{id}`",
                    input.id
                )));
            }
            let (inbox, t) = (app.inbox.clone(), p.tenant.clone());
            let saved = blocking(move || {
                if update {
                    inbox.rich_message(&t, &input.id)?;
                } else if inbox.rich_message(&t, &input.id).is_ok() {
                    return Err(crate::inbox::InboxError::Conflict(format!(
                        "saved rich message `{}` exists; PUT it to change it",
                        input.id
                    )));
                }
                inbox.put_rich_message(&t, input)
            })
            .await?;
            let status = if update {
                StatusCode::OK
            } else {
                StatusCode::CREATED
            };
            Ok(json_response(status, &saved))
        }
        ("DELETE", "/api/v1/rich-messages/{rich_message_id}") => {
            p.require_supervisor()?;
            let (inbox, t, i) = (app.inbox.clone(), p.tenant.clone(), id.clone());
            blocking(move || inbox.delete_rich_message(&t, &i)).await?;
            Ok(json_response(StatusCode::OK, &json!({"deleted": id})))
        }
        ("GET", "/api/v1/outbox/dead") => {
            p.require_supervisor()?;
            let (inbox, t) = (app.inbox.clone(), p.tenant.clone());
            Ok(json_response(
                StatusCode::OK,
                &blocking(move || inbox.dead_letters(&t)).await?,
            ))
        }
        _ => Err(ApiError::not_found(format!("no route {method} {pattern}"))),
    }
}
