//! Pushed authorization requests (RFC 9126): the client posts its request, authenticated, and
//! gets a one-time `request_uri` valid for a minute.

use actix_web::http::header::CACHE_CONTROL;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use serde_json::json;
use std::sync::Arc;

use super::client_auth::{ClientRequest, client_request};
use crate::audit::AuditEvent;
use crate::crypto::{hash_secret, random_token};
use crate::oidc::client::Client;
use crate::oidc::error::OAuthError;
use crate::oidc::params::Params;
use crate::oidc::refusal::AuthzRefusal;
use crate::oidc::request::{RequestError, parse};
use crate::state::AppState;
use crate::storage::par::insert_par;

/// Why a pushed request is not stored.
enum NotPushed {
    /// The authorization request itself is refused (audited with its reason).
    Refused(AuthzRefusal, OAuthError),
    /// The push is malformed, or could not be stored.
    Failed(OAuthError),
}

pub async fn par(req: HttpRequest, state: web::Data<AppState>, body: web::Bytes) -> HttpResponse {
    let ClientRequest {
        params,
        client,
        ctx,
    } = match client_request(&req, &state, &body, "par_refused").await {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    match push(&state, &client, params).await {
        Ok(handle) => HttpResponse::Created()
            .insert_header((CACHE_CONTROL, "no-store"))
            .json(json!({
                "request_uri": format!("urn:ietf:params:oauth:request_uri:{handle}"),
                "expires_in": state.settings.tokens.par_ttl_secs,
            })),
        Err(NotPushed::Refused(reason, error)) => {
            let event = AuditEvent::failure("par_refused", reason).client(&client.id);
            state.audit.record(event.context(&ctx)).await;
            error.error_response()
        }
        Err(NotPushed::Failed(error)) => error.error_response(),
    }
}

/// Checks the pushed request as `/authorize` would and stores it; gives its handle.
async fn push(
    state: &AppState,
    client: &Arc<Client>,
    mut params: Params,
) -> Result<String, NotPushed> {
    if params.contains("request_uri") {
        let e = OAuthError::invalid_request("request_uri cannot be pushed");
        return Err(NotPushed::Failed(e));
    }
    // Client authentication parameters are not part of the authorization request.
    for k in ["client_secret", "client_assertion", "client_assertion_type"] {
        params.remove(k);
    }
    params.insert("client_id", client.id.to_string());
    let levels = &state.settings.session.levels;
    if let Err(e) = parse(Some(client.clone()), &params, levels) {
        return Err(match e {
            RequestError::Page { reason, .. } => {
                let msg = "redirect_uri is missing or not registered";
                NotPushed::Refused(reason, reason.error(msg))
            }
            RequestError::Redirect {
                reason,
                description,
                ..
            } => NotPushed::Refused(reason, reason.error(description)),
        });
    }
    let handle = random_token(32);
    let expires_at = state.clock.now() + state.settings.tokens.par_ttl_secs;
    let request = crate::oidc::request::known_params(&params).to_json();
    insert_par(
        state.db.pool(),
        &hash_secret(&handle),
        client.id.as_str(),
        &request,
        expires_at,
    )
    .await
    .map_err(|e| NotPushed::Failed(e.into()))?;
    Ok(handle)
}
