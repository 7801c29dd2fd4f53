//! Token revocation (RFC 7009): a refresh token revokes its whole family; an access token is
//! listed as revoked until it expires. Unknown tokens answer 200 as the RFC requires.

use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use serde_json::{Value, json};

use super::client_auth::{TokenQuery, token_query};
use crate::audit::AuditEvent;
use crate::crypto::hash_secret;
use crate::oidc::client::Client;
use crate::oidc::error::OAuthError;
use crate::oidc::mint;
use crate::state::AppState;
use crate::storage::{refresh, revoked_tokens};

pub async fn revoke(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> HttpResponse {
    let query = token_query(&req, &state, &body, "revocation_refused", true).await;
    let TokenQuery { token, client, ctx } = match query {
        Ok(q) => q,
        Err(resp) => return resp,
    };
    let what = match revoke_token(&state, &client, &token).await {
        Ok(what) => what,
        Err(e) => return OAuthError::from(e).error_response(),
    };
    let event = AuditEvent::success("token_revoked")
        .client(&client.id)
        .context(&ctx)
        .details(json!({ "token": what }));
    state.audit.record(event).await;
    HttpResponse::Ok().finish()
}

/// Revokes a token of this client; says what it was (`refresh_token`, `access_token`,
/// `token_of_other_client` or `unknown`, all answered alike).
async fn revoke_token(
    state: &AppState,
    client: &Client,
    token: &str,
) -> Result<&'static str, sqlx::Error> {
    let now = state.clock.now();
    let pool = state.db.pool();
    if let Some((family, _)) = refresh::peek(pool, &hash_secret(token)).await? {
        if family.client_id != client.id {
            return Ok("token_of_other_client");
        }
        refresh::revoke_family(pool, &family.id, "revoked_by_client", now).await?;
        return Ok("refresh_token");
    }
    let Ok(keys) = state.keys.get().await else {
        return Ok("unknown");
    };
    let issuer = state.settings.issuer();
    let Ok(claims) = mint::verify(&keys, &issuer, token, Some("at+jwt"), None) else {
        return Ok("unknown");
    };
    let owner = claims.get("client_id").and_then(Value::as_str);
    let jti = claims.get("jti").and_then(Value::as_str);
    let exp = claims.get("exp").and_then(Value::as_i64).unwrap_or(now);
    match (owner, jti) {
        (Some(o), Some(j)) if o == client.id => {
            revoked_tokens::revoke_jti(pool, j, exp).await?;
            Ok("access_token")
        }
        _ => Ok("token_of_other_client"),
    }
}
