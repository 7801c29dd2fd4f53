//! The UserInfo endpoint (OIDC Core §5.3), GET and POST, bearer token in the header (or the
//! form body on POST, RFC 6750 §2.2).

use actix_web::http::header::{AUTHORIZATION, CACHE_CONTROL};
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use serde_json::{Value, json};

use super::access::{self, ActiveToken};
use crate::audit::AuditEvent;
use crate::oidc::error::OAuthError;
use crate::oidc::mint;
use crate::oidc::params::Params;
use crate::protocol::{Scope, ScopeSet};
use crate::state::AppState;
use crate::ui::context::context_of;

pub async fn userinfo(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> HttpResponse {
    let ctx = context_of(&req);
    let header = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let from_body = Params::parse(&body)
        .ok()
        .and_then(|p| p.get("access_token").map(str::to_owned));
    // The scheme name is case-insensitive (RFC 7235 §2.1).
    let bearer = header.and_then(|h| {
        h.get(..7)
            .filter(|p| p.eq_ignore_ascii_case("bearer "))
            .and_then(|_| h.get(7..))
    });
    let token = match (bearer, from_body) {
        (Some(t), None) => t.trim().to_owned(),
        (None, Some(t)) if req.method() == actix_web::http::Method::POST => t,
        (Some(_), Some(_)) => {
            return OAuthError::invalid_request("send the access token once").error_response();
        }
        _ => {
            return OAuthError::invalid_token("a bearer access token is required").error_response();
        }
    };
    let ActiveToken { claims, identity } = match access::active(&state, &token).await {
        Ok(t) => t,
        Err(reason) => {
            state
                .audit
                .record(AuditEvent::failure("userinfo_refused", reason).context(&ctx))
                .await;
            return OAuthError::invalid_token("the access token is invalid, expired or revoked")
                .error_response();
        }
    };
    let scope = claims
        .get("scope")
        .and_then(Value::as_str)
        .unwrap_or_default();
    // A token carries the scope Trousseau wrote; a malformed one grants nothing.
    let scopes = ScopeSet::parse(scope).unwrap_or_default();
    if !scopes.contains(Scope::OPENID) {
        return OAuthError::new(
            crate::oidc::error::ErrorCode::InsufficientScope,
            "the openid scope is required",
        )
        .with_challenge("Bearer")
        .error_response();
    }
    // A token with the openid scope always speaks for a person; `access::active` checked that
    // person is still active.
    let Some(identity) = identity else {
        return OAuthError::invalid_token("the access token does not speak for a person")
            .error_response();
    };
    let scopes = scopes.as_strs();
    let mut out = mint::identity_claims(&identity, &scopes);
    match super::claims::scoped(&state, &identity.id, &scopes).await {
        Ok(extra) => out.extend(extra),
        Err(e) => return OAuthError::from(e).error_response(),
    }
    out.insert("sub".into(), json!(identity.id));
    HttpResponse::Ok()
        .insert_header((CACHE_CONTROL, "no-store"))
        .json(Value::Object(out))
}
