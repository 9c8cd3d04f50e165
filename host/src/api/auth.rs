//! Who is calling: the operator token (tenants, plugin catalogue; acts on the tenant named by
//! `X-Inlet-Tenant`, or `default`), or a tenant token with a role (admin, supervisor, agent).
//! Cross-tenant access is impossible by construction: every handler scopes by
//! `Principal::tenant`, and objects of other tenants are simply not found (404).

use http::{Request, StatusCode};
use hyper::body::Incoming;

use super::errors::ApiError;
use crate::app::{App, DEFAULT_TENANT};
use crate::inbox::Role;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Access {
    Operator,
    Admin,
    Supervisor,
    Agent,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Principal {
    pub tenant: String,
    pub access: Access,
    pub agent: Option<String>,
}

impl Principal {
    pub fn is_operator(&self) -> bool {
        self.access == Access::Operator
    }

    pub fn is_admin(&self) -> bool {
        matches!(self.access, Access::Operator | Access::Admin)
    }

    pub fn require_operator(&self) -> Result<(), ApiError> {
        if self.is_operator() {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "this needs the operator token",
            ))
        }
    }

    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "this needs a tenant admin token",
            ))
        }
    }

    pub fn require_supervisor(&self) -> Result<(), ApiError> {
        if self.access == Access::Agent {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "this needs a supervisor or admin token",
            ))
        } else {
            Ok(())
        }
    }
}

pub async fn authenticate(app: &App, req: &Request<Incoming>) -> Result<Principal, ApiError> {
    let token = req
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "missing `Authorization: Bearer <token>` header",
            )
        })?
        .to_string();
    if bool::from(subtle::ConstantTimeEq::ct_eq(
        token.as_bytes(),
        app.operator_token.as_bytes(),
    )) {
        let tenant = req
            .headers()
            .get("x-inlet-tenant")
            .and_then(|v| v.to_str().ok())
            .unwrap_or(DEFAULT_TENANT)
            .to_string();
        let (inbox, t) = (app.inbox.clone(), tenant.clone());
        let exists = tokio::task::spawn_blocking(move || inbox.tenant(&t))
            .await
            .map_err(|e| {
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string())
            })?
            .map_err(ApiError::from)?
            .is_some();
        if !exists {
            return Err(ApiError::not_found(format!(
                "X-Inlet-Tenant names no tenant `{tenant}`"
            )));
        }
        return Ok(Principal {
            tenant,
            access: Access::Operator,
            agent: None,
        });
    }
    let inbox = app.inbox.clone();
    let record = tokio::task::spawn_blocking(move || inbox.resolve_token(&token))
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?
        .map_err(ApiError::from)?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "invalid API token",
            )
        })?;
    Ok(Principal {
        tenant: record.tenant,
        access: match record.role {
            Role::Admin => Access::Admin,
            Role::Supervisor => Access::Supervisor,
            Role::Agent => Access::Agent,
        },
        agent: record.agent,
    })
}
