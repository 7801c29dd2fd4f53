//! The UserInfo endpoint (OIDC Core §5.3), GET and POST, bearer token in the header (or the
//! form body on POST, RFC 6750 §2.2).

use actix_web::http::header::{AUTHORIZATION, CACHE_CONTROL};
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use serde_json::{Value, json};

use super::error::OAuthError;
use super::mint;
use super::params::Params;
use crate::app::AppState;
use crate::audit::AuditEvent;
use crate::storage::{identities, misc};
use crate::web::context::context_of;

/// The claims of a valid, unrevoked access token of an active identity.
pub async fn active_access_token(
    state: &AppState,
    token: &str,
) -> Result<serde_json::Map<String, Value>, &'static str> {
    let keys = state.keys.get().await.map_err(|_| "keys_unavailable")?;
    let claims = mint::verify(
        &keys,
        &state.settings.issuer(),
        token,
        Some("at+jwt"),
        Some(state.clock.now()),
    )
    .map_err(|r| r.reason())?;
    let jti = claims
        .get("jti")
        .and_then(Value::as_str)
        .ok_or("malformed_token")?;
    if misc::is_jti_revoked(state.db.pool(), jti)
        .await
        .map_err(|_| "storage_unavailable")?
    {
        return Err("token_revoked");
    }
    Ok(claims)
}

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
    let claims = match active_access_token(&state, &token).await {
        Ok(c) => c,
        Err(reason) => {
            state
                .audit
                .record(AuditEvent::failure("userinfo_refused", reason).context(&ctx))
                .await;
            return OAuthError::invalid_token("the access token is invalid, expired or revoked")
                .error_response();
        }
    };
    let sub = claims
        .get("sub")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let scope = claims
        .get("scope")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let scopes: Vec<&str> = scope.split(' ').collect();
    if !scopes.contains(&"openid") {
        return OAuthError::new(
            super::error::ErrorCode::InsufficientScope,
            "the openid scope is required",
        )
        .with_challenge("Bearer")
        .error_response();
    }
    let identity = match identities::by_id(state.db.pool(), sub).await {
        Ok(Some(i)) if i.status == "active" => i,
        Ok(_) => return OAuthError::invalid_token("the account is not active").error_response(),
        Err(e) => return OAuthError::from(e).error_response(),
    };
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
