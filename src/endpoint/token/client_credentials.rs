//! The client_credentials grant (RFC 6749 §4.4): a JWT access token for the client itself,
//! signed without touching the database.

use super::{TokenResponse, audit_issued};
use crate::audit::RequestContext;
use crate::endpoint::client_auth::Refusal;
use crate::oidc::client::Client;
use crate::oidc::mint;
use crate::oidc::refusal::GrantRefusal as Why;
use crate::protocol::ScopeSet;
use crate::state::AppState;

pub async fn grant(
    state: &AppState,
    client: &Client,
    scope: Option<&str>,
    ctx: &RequestContext,
) -> Result<TokenResponse, Refusal> {
    if client.is_public() {
        let msg = "a public client cannot use client_credentials";
        return Err(Refusal::new(
            Why::PublicClientCredentials,
            msg,
            Some(client.id.as_str()),
        ));
    }
    let scope = granted_scope(client, scope)?;
    let keys = state.keys.get().await?;
    let now = state.clock.now();
    let issuer = state.settings.issuer();
    let at = mint::access_token(
        &keys,
        &issuer,
        client,
        client.id.as_str(),
        &scope,
        None,
        None,
        state.settings.tokens.access_token_ttl_secs,
        now,
    )?;
    audit_issued(
        state,
        client,
        client.id.as_str(),
        "client_credentials",
        ctx,
        &at.jti,
    )
    .await;
    Ok(TokenResponse {
        access_token: at.token,
        token_type: "Bearer",
        expires_in: at.expires_in,
        id_token: None,
        refresh_token: None,
        scope,
    })
}

/// The scopes granted to the client acting for itself: those asked for, all registered for
/// it by default, never a person's scope.
fn granted_scope(client: &Client, scope: Option<&str>) -> Result<String, Refusal> {
    let allowed: Vec<&str> = client
        .scopes
        .iter()
        .map(String::as_str)
        .filter(|s| !crate::oidc::scope::is_person_scope(s))
        .collect();
    let not_allowed = |bad: &str| {
        let msg = format!("the scope {bad} is not allowed for this client");
        Refusal::new(Why::ScopeNotAllowed, msg, Some(client.id.as_str()))
    };
    Ok(match scope {
        None => allowed.join(" "),
        Some(asked) => {
            let want = ScopeSet::parse(asked).map_err(|e| not_allowed(&e.0))?;
            if let Some(bad) = want.iter().find(|s| !allowed.contains(&s.as_str())) {
                return Err(not_allowed(bad.as_str()));
            }
            want.to_string()
        }
    })
}
