//! Pushed authorization requests (RFC 9126): the client posts its request, authenticated, and
//! gets a one-time `request_uri` valid for a minute.

use actix_web::http::header::CACHE_CONTROL;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use serde_json::json;

use super::client_auth::{ClientRequest, client_request};
use crate::audit::AuditEvent;
use crate::crypto::{hash_secret, random_token};
use crate::oidc::error::OAuthError;
use crate::oidc::request::{RequestError, parse};
use crate::state::AppState;
use crate::storage::par::insert_par;

pub async fn par(req: HttpRequest, state: web::Data<AppState>, body: web::Bytes) -> HttpResponse {
    let ClientRequest {
        mut params,
        client,
        ctx,
    } = match client_request(&req, &state, &body, "par_refused").await {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    if params.contains("request_uri") {
        return OAuthError::invalid_request("request_uri cannot be pushed").error_response();
    }
    // Client authentication parameters are not part of the authorization request.
    for k in ["client_secret", "client_assertion", "client_assertion_type"] {
        params.remove(k);
    }
    params.insert("client_id", client.id.clone());
    if let Err(e) = parse(
        Some(client.clone()),
        &params,
        &state.settings.session.levels,
    ) {
        let (error, reason) = match e {
            RequestError::Page { reason, .. } => (
                reason.error("redirect_uri is missing or not registered"),
                reason,
            ),
            RequestError::Redirect {
                reason,
                description,
                ..
            } => (reason.error(description), reason),
        };
        state
            .audit
            .record(
                AuditEvent::failure("par_refused", reason)
                    .client(&client.id)
                    .context(&ctx),
            )
            .await;
        return error.error_response();
    }
    let handle = random_token(32);
    let now = state.clock.now();
    let ttl = state.settings.tokens.par_ttl_secs;
    if let Err(e) = insert_par(
        state.db.pool(),
        &hash_secret(&handle),
        &client.id,
        &crate::oidc::request::known_params(&params).to_json(),
        now + ttl,
    )
    .await
    {
        return OAuthError::from(e).error_response();
    }
    HttpResponse::Created()
        .insert_header((CACHE_CONTROL, "no-store"))
        .json(json!({ "request_uri": format!("urn:ietf:params:oauth:request_uri:{handle}"), "expires_in": ttl }))
}
