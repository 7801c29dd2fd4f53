//! Who calls the admin API: an OAuth client authenticated by the client credentials grant,
//! whose access token carries the scopes that mirror the roles (`trousseau:admin`,
//! `trousseau:helpdesk`, `trousseau:audit`).

use actix_web::http::header::AUTHORIZATION;
use actix_web::{HttpRequest, web};

use super::problem::Problem;
use crate::endpoint::access;
use crate::identity::AdminRole;
use crate::state::AppState;

/// An authenticated API client and the roles its token grants.
#[derive(Debug, Clone)]
pub struct Caller {
    pub client_id: String,
    pub roles: Vec<AdminRole>,
}

impl Caller {
    /// The actor written in the audit trail.
    pub fn actor(&self) -> String {
        format!("api:{}", self.client_id)
    }

    /// Refuses unless the token grants one of `allowed` (admin always may).
    pub fn require(&self, allowed: &[AdminRole]) -> Result<(), Problem> {
        if self
            .roles
            .iter()
            .any(|r| *r == AdminRole::Admin || allowed.contains(r))
        {
            return Ok(());
        }
        let needed: Vec<&str> = std::iter::once(AdminRole::Admin)
            .chain(allowed.iter().copied())
            .map(AdminRole::scope)
            .collect();
        Err(Problem::forbidden(format!(
            "this operation needs one of the scopes {}",
            needed.join(", ")
        )))
    }
}

/// The bearer token of the request: exactly one `Authorization: Bearer` header.
fn bearer(req: &HttpRequest) -> Result<&str, Problem> {
    let mut headers = req.headers().get_all(AUTHORIZATION);
    let (Some(h), None) = (headers.next(), headers.next()) else {
        return Err(Problem::unauthorized(
            "send the access token in one Authorization: Bearer header",
        ));
    };
    let value = h
        .to_str()
        .map_err(|_| Problem::unauthorized("the Authorization header is not text"))?;
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() => {
            Ok(token.trim())
        }
        _ => Err(Problem::unauthorized(
            "send the access token in one Authorization: Bearer header",
        )),
    }
}

/// Authenticates the caller: an active access token of a client acting for itself (never a
/// person's token), with at least one admin API scope.
pub async fn authenticate(
    state: &web::Data<AppState>,
    req: &HttpRequest,
) -> Result<Caller, Problem> {
    let token = bearer(req)?;
    let active = access::active(state, token).await.map_err(|e| {
        Problem::unauthorized(format!(
            "the access token is not active: {}",
            e.description()
        ))
    })?;
    if active.identity.is_some() {
        return Err(Problem::forbidden(
            "a person's access token cannot call the admin API: use a client credentials token",
        ));
    }
    let scopes = active
        .claims
        .get("scope")
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default();
    let roles: Vec<AdminRole> = AdminRole::ALL
        .into_iter()
        .filter(|r| scopes.split(' ').any(|s| s == r.scope()))
        .collect();
    if roles.is_empty() {
        return Err(Problem::forbidden(
            "the access token has none of the scopes trousseau:admin, trousseau:helpdesk, trousseau:audit",
        ));
    }
    Ok(Caller {
        client_id: active.client_id().to_owned(),
        roles,
    })
}
