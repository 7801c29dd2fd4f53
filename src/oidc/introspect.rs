//! Token introspection (RFC 7662): for authenticated confidential clients; revoked, expired
//! or unknown tokens are reported `{"active": false}`.

use actix_web::http::header::CACHE_CONTROL;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use serde_json::{Value, json};

use super::access;
use super::client_auth::{ClientRequest, client_request};
use super::error::OAuthError;
use crate::app::AppState;
use crate::audit::AuditEvent;
use crate::crypto::hash_secret;
use crate::storage::{identities, refresh};

pub async fn introspect(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> HttpResponse {
    let ClientRequest {
        params,
        client,
        ctx,
    } = match client_request(&req, &state, &body, "introspection_refused").await {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    if client.is_public() {
        state
            .audit
            .record(
                AuditEvent::failure("introspection_refused", "public_client")
                    .client(&client.id)
                    .context(&ctx),
            )
            .await;
        return OAuthError::invalid_client("public clients cannot introspect tokens")
            .error_response();
    }
    let Some(token) = params.get("token") else {
        return OAuthError::invalid_request("the parameter token is missing").error_response();
    };
    let inactive = json!({ "active": false });
    // token_type_hint is only a hint (RFC 7662 §2.1): every token type is searched, and
    // checking a JWT first costs no database round trip for an opaque refresh token.
    let mut answer = None;
    if let Ok(active) = access::active(&state, token).await {
        let mut out = active.claims;
        out.insert("active".into(), json!(true));
        out.insert("token_type".into(), json!("Bearer"));
        answer = Some(Value::Object(out));
    }
    if answer.is_none() {
        answer = match refresh_answer(&state, token).await {
            Ok(a) => a,
            Err(e) => return OAuthError::from(e).error_response(),
        };
    }
    state
        .audit
        .record(
            AuditEvent::success("token_introspected")
                .client(&client.id)
                .context(&ctx)
                .details(json!({ "active": answer.is_some() })),
        )
        .await;
    HttpResponse::Ok()
        .insert_header((CACHE_CONTROL, "no-store"))
        .json(answer.unwrap_or(inactive))
}

async fn refresh_answer(state: &AppState, token: &str) -> Result<Option<Value>, sqlx::Error> {
    let now = state.clock.now();
    let Some((family, used_at)) = refresh::peek(state.db.pool(), &hash_secret(token)).await? else {
        return Ok(None);
    };
    if used_at.is_some() || family.revoked_at.is_some() || family.expires_at <= now {
        return Ok(None);
    }
    if let Some(sid) = &family.session_id
        && crate::session::by_id(state, sid).await?.is_none()
    {
        return Ok(None);
    }
    let active = identities::by_id(state.db.pool(), &family.identity_id)
        .await?
        .is_some_and(|i| i.status == "active");
    if !active {
        return Ok(None);
    }
    Ok(Some(json!({
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
