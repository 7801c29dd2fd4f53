//! The refresh_token grant (RFC 6749 §6) with rotation on every use and reuse detection
//! (RFC 9700 §4.14.2): presenting a used token revokes its whole family. A refresh is activity
//! of the SSO session and never outlives it, unless offline_access was granted.

use serde_json::json;

use super::{PersonGrant, TokenResponse, active_identity, narrow_scope, sign_for_person};
use crate::audit::{AuditEvent, RequestContext};
use crate::crypto::{hash_secret, random_token};
use crate::endpoint::client_auth::Refusal;
use crate::oidc::client::Client;
use crate::oidc::refusal::GrantRefusal as Why;
use crate::protocol::{Scope, ScopeSet};
use crate::session;
use crate::session::SessionClaims;
use crate::state::AppState;
use crate::storage::refresh::{self, FamilyRecord, Presented};

const INVALID: &str = "the refresh token is invalid, expired or revoked";

/// A refusal of this grant, naming the client.
fn refuse(client: &Client, why: Why, msg: &str) -> Refusal {
    Refusal::new(why, msg, Some(client.id.as_str()))
}

pub async fn grant(
    state: &AppState,
    client: &Client,
    token: &str,
    scope: Option<&str>,
    ctx: &RequestContext,
) -> Result<TokenResponse, Refusal> {
    let now = state.clock.now();
    check_scope_first(state, client, token, scope).await?;
    let family = present(state, client, token, now, ctx).await?;
    if let Some(sid) = &family.session_id {
        if session::by_id(&state.sessions(), sid).await?.is_none() {
            let msg = "the login session has ended; sign in again";
            return Err(refuse(client, Why::SessionEnded, msg));
        }
        session::touch(&state.sessions(), sid).await?;
    }
    let Some(identity) = active_identity(state, &family.identity_id).await? else {
        let msg = "the account is not active";
        return Err(refuse(client, Why::IdentityInactive, msg));
    };
    let scope = narrow_scope(&family.scope, scope).map_err(|r| r.of(client.id.as_str()))?;
    let claims: SessionClaims =
        serde_json::from_str(&family.session_claims).map_err(anyhow::Error::from)?;
    let with_id_token = ScopeSet::parse(&scope)
        .map_err(anyhow::Error::from)?
        .contains(Scope::OPENID);
    let person = PersonGrant {
        identity: &identity,
        scope: &scope,
        claims: &claims,
        family: Some(&family.id),
        nonce: None,
        with_id_token,
    };
    let (at, id_token) = sign_for_person(state, client, &person, now).await?;
    let next = random_token(32);
    refresh::insert_token(state.db.pool(), &hash_secret(&next), &family.id, now).await?;
    super::audit_issued(state, client, &identity.id, "refresh_token", ctx, &at.jti).await;
    Ok(TokenResponse {
        access_token: at.token,
        token_type: "Bearer",
        expires_in: at.expires_in,
        id_token,
        refresh_token: Some(next),
        scope,
    })
}

/// A scope error must not burn a fresh token: the client still holds it and may retry, which
/// would otherwise look like reuse and revoke the family.
async fn check_scope_first(
    state: &AppState,
    client: &Client,
    token: &str,
    scope: Option<&str>,
) -> Result<(), Refusal> {
    if let Some((f, None)) = refresh::peek(state.db.pool(), &hash_secret(token)).await?
        && f.client_id == client.id
        && f.revoked_at.is_none()
    {
        narrow_scope(&f.scope, scope).map_err(|r| r.of(client.id.as_str()))?;
    }
    Ok(())
}

/// Uses the token once and gives its family, still valid and the client's own. A token used
/// before, or presented by another client, revokes its family.
async fn present(
    state: &AppState,
    client: &Client,
    token: &str,
    now: i64,
    ctx: &RequestContext,
) -> Result<FamilyRecord, Refusal> {
    let pool = state.db.pool();
    let family = match refresh::present(pool, &hash_secret(token), now).await? {
        Presented::Unknown => return Err(refuse(client, Why::UnknownRefreshToken, INVALID)),
        Presented::Reused(f) => {
            let revoked = refresh::revoke_family(pool, &f.id, "refresh_reuse", now).await?;
            let event = AuditEvent::failure("refresh_reuse_detected", "refresh_token_reused")
                .subject(&f.identity_id)
                .client(&f.client_id)
                .context(ctx)
                .details(json!({ "family": f.id, "family_revoked_now": revoked }));
            state.audit.record(event).await;
            return Err(refuse(client, Why::RefreshReuse, INVALID));
        }
        Presented::Fresh(f) => f,
    };
    if family.client_id != client.id {
        let reason = "presented_by_other_client";
        refresh::revoke_family(pool, &family.id, reason, now).await?;
        return Err(refuse(client, Why::RefreshOfOtherClient, INVALID));
    }
    if family.revoked_at.is_some() {
        return Err(refuse(client, Why::RefreshRevoked, INVALID));
    }
    if family.expires_at <= now {
        return Err(refuse(client, Why::RefreshExpired, INVALID));
    }
    Ok(family)
}
