//! Token introspection (RFC 7662): for authenticated confidential clients, about their own
//! tokens, and for resource servers (`--introspect`) about every access token; revoked,
//! expired, unknown or someone else's tokens are reported `{"active": false}`.

use actix_web::http::header::CACHE_CONTROL;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use serde_json::{Value, json};

use super::access;
use super::client_auth::{TokenQuery, token_query};
use crate::audit::AuditEvent;
use crate::crypto::hash_secret;
use crate::oidc::client::Client;
use crate::oidc::error::OAuthError;
use crate::oidc::refusal::InactiveToken;
use crate::state::AppState;
use crate::storage::{identities, refresh};

pub async fn introspect(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> HttpResponse {
    let query = token_query(&req, &state, &body, "introspection_refused", false).await;
    let TokenQuery { token, client, ctx } = match query {
        Ok(q) => q,
        Err(resp) => return resp,
    };
    let finding = match finding(&state, &client, &token).await {
        Ok(f) => f,
        Err(e) => return OAuthError::from(e).error_response(),
    };
    let mut event = AuditEvent::success("token_introspected")
        .client(&client.id)
        .context(&ctx)
        .details(json!({ "active": finding.is_ok() }));
    if let Err(reason) = finding {
        event = event.reason(reason.as_str());
    }
    state.audit.record(event).await;
    HttpResponse::Ok()
        .insert_header((CACHE_CONTROL, "no-store"))
        .json(finding.unwrap_or_else(|_| json!({ "active": false })))
}

/// What introspection says of a token: its claims when active, or why it is not.
async fn finding(
    state: &AppState,
    client: &Client,
    token: &str,
) -> Result<Result<Value, InactiveToken>, sqlx::Error> {
    // token_type_hint is only a hint (RFC 7662 §2.1): every token type is searched, and
    // checking a JWT first costs no database round trip for an opaque refresh token.
    let access = access_answer(state, client, token).await;
    if access.is_ok() {
        return Ok(access);
    }
    Ok(match refresh_answer(state, client, token).await? {
        // Neither kind: the access token's reason says more.
        Err(InactiveToken::Unknown) => access,
        found => found,
    })
}

/// An access token: active for the client it was issued to, and for resource servers.
async fn access_answer(
    state: &AppState,
    client: &Client,
    token: &str,
) -> Result<Value, InactiveToken> {
    let active = access::active(state, token).await?;
    if active.client_id() != client.id && !client.introspect {
        return Err(InactiveToken::OtherClient);
    }
    let mut out = active.claims;
    out.insert("active".into(), json!(true));
    out.insert("token_type".into(), json!("Bearer"));
    Ok(Value::Object(out))
}

/// A refresh token: active only for the client it was issued to (a resource server never
/// holds one).
async fn refresh_answer(
    state: &AppState,
    client: &Client,
    token: &str,
) -> Result<Result<Value, InactiveToken>, sqlx::Error> {
    let now = state.clock.now();
    let Some((family, used_at)) = refresh::peek(state.db.pool(), &hash_secret(token)).await? else {
        return Ok(Err(InactiveToken::Unknown));
    };
    if family.client_id != client.id {
        return Ok(Err(InactiveToken::OtherClient));
    }
    if used_at.is_some() || family.revoked_at.is_some() || family.expires_at <= now {
        return Ok(Err(InactiveToken::RefreshRevoked));
    }
    if let Some(sid) = &family.session_id
        && crate::session::by_id(&state.sessions(), sid)
            .await?
            .is_none()
    {
        return Ok(Err(InactiveToken::SessionEnded));
    }
    let active = identities::by_id(state.db.pool(), &family.identity_id)
        .await?
        .is_some_and(|i| i.status.is_active());
    if !active {
        return Ok(Err(InactiveToken::IdentityInactive));
    }
    Ok(Ok(json!({
        "active": true,
        "token_type": "refresh_token",
        "client_id": family.client_id,
        "sub": family.identity_id,
        "scope": family.scope,
        "iat": family.created_at,
        "exp": family.expires_at,
        "iss": state.settings.issuer(),
    })))
}
