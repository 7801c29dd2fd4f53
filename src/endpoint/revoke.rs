//! Token revocation (RFC 7009): a refresh token revokes its whole family; an access token is
//! listed as revoked until it expires. Unknown tokens answer 200 as the RFC requires.

use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use serde_json::{Value, json};

use super::client_auth::{ClientRequest, client_request};
use crate::audit::AuditEvent;
use crate::crypto::hash_secret;
use crate::oidc::error::OAuthError;
use crate::oidc::mint;
use crate::state::AppState;
use crate::storage::{refresh, revoked_tokens};

pub async fn revoke(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> HttpResponse {
    let ClientRequest {
        params,
        client,
        ctx,
    } = match client_request(&req, &state, &body, "revocation_refused").await {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    let Some(token) = params.get("token") else {
        return OAuthError::invalid_request("the parameter token is missing").error_response();
    };
    let now = state.clock.now();
    let mut what = "unknown";
    match refresh::peek(state.db.pool(), &hash_secret(token)).await {
        Ok(Some((family, _))) if family.client_id == client.id => {
            if let Err(e) =
                refresh::revoke_family(state.db.pool(), &family.id, "revoked_by_client", now).await
            {
                return OAuthError::from(e).error_response();
            }
            what = "refresh_token";
        }
        Ok(Some(_)) => what = "token_of_other_client",
        Ok(None) => {
            if let Ok(keys) = state.keys.get().await
                && let Ok(claims) =
                    mint::verify(&keys, &state.settings.issuer(), token, Some("at+jwt"), None)
            {
                let owner = claims.get("client_id").and_then(Value::as_str);
                let jti = claims.get("jti").and_then(Value::as_str);
                let exp = claims.get("exp").and_then(Value::as_i64).unwrap_or(now);
                match (owner, jti) {
                    (Some(o), Some(j)) if o == client.id => {
                        if let Err(e) = revoked_tokens::revoke_jti(state.db.pool(), j, exp).await {
                            return OAuthError::from(e).error_response();
                        }
                        what = "access_token";
                    }
                    _ => what = "token_of_other_client",
                }
            }
        }
        Err(e) => return OAuthError::from(e).error_response(),
    }
    state
        .audit
        .record(
            AuditEvent::success("token_revoked")
                .client(&client.id)
                .context(&ctx)
                .details(json!({ "token": what })),
        )
        .await;
    HttpResponse::Ok().finish()
}
