//! The refresh_token grant (RFC 6749 §6) with rotation on every use and reuse detection
//! (RFC 9700 §4.14.2): presenting a used token revokes its whole family. A refresh is activity
//! of the SSO session and never outlives it, unless offline_access was granted.

use serde_json::json;

use super::{TokenResponse, narrow_scope};
use crate::audit::{AuditEvent, RequestContext};
use crate::crypto::{hash_secret, random_token};
use crate::endpoint::client_auth::Refusal;
use crate::oidc::client::Client;
use crate::oidc::mint;
use crate::oidc::refusal::GrantRefusal as Why;
use crate::protocol::{Scope, ScopeSet};
use crate::session;
use crate::session::SessionClaims;
use crate::state::AppState;
use crate::storage::identities;
use crate::storage::refresh::{self, Presented};

const INVALID: &str = "the refresh token is invalid, expired or revoked";

pub async fn grant(
    state: &AppState,
    client: &Client,
    token: &str,
    scope: Option<&str>,
    ctx: &RequestContext,
) -> Result<TokenResponse, Refusal> {
    let now = state.clock.now();
    let refuse = |why: Why, msg: &str| Refusal::new(why, msg, Some(&client.id));
    // A scope error must not burn a fresh token: the client still holds it and may retry,
    // which would otherwise look like reuse and revoke the family.
    if let Some((f, None)) = refresh::peek(state.db.pool(), &hash_secret(token)).await?
        && f.client_id == client.id
        && f.revoked_at.is_none()
    {
        narrow_scope(&f.scope, scope).map_err(|r| r.of(&client.id))?;
    }
    let family = match refresh::present(state.db.pool(), &hash_secret(token), now).await? {
        Presented::Unknown => return Err(refuse(Why::UnknownRefreshToken, INVALID)),
        Presented::Reused(f) => {
            let revoked =
                refresh::revoke_family(state.db.pool(), &f.id, "refresh_reuse", now).await?;
            state
                .audit
                .record(
                    AuditEvent::failure("refresh_reuse_detected", "refresh_token_reused")
                        .subject(&f.identity_id)
                        .client(&f.client_id)
                        .context(ctx)
                        .details(json!({ "family": f.id, "family_revoked_now": revoked })),
                )
                .await;
            return Err(refuse(Why::RefreshReuse, INVALID));
        }
        Presented::Fresh(f) => f,
    };
    if family.client_id != client.id {
        refresh::revoke_family(
            state.db.pool(),
            &family.id,
            "presented_by_other_client",
            now,
        )
        .await?;
        return Err(refuse(Why::RefreshOfOtherClient, INVALID));
    }
    if family.revoked_at.is_some() {
        return Err(refuse(Why::RefreshRevoked, INVALID));
    }
    if family.expires_at <= now {
        return Err(refuse(Why::RefreshExpired, INVALID));
    }
    if let Some(sid) = &family.session_id {
        if session::by_id(&state.sessions(), sid).await?.is_none() {
            return Err(refuse(
                Why::SessionEnded,
                "the login session has ended; sign in again",
            ));
        }
        session::touch(&state.sessions(), sid).await?;
    }
    let identity = match identities::by_id(state.db.pool(), &family.identity_id).await? {
        Some(i) if i.status.is_active() => i,
        _ => return Err(refuse(Why::IdentityInactive, "the account is not active")),
    };
    let scope = narrow_scope(&family.scope, scope).map_err(|r| r.of(&client.id))?;
    let claims: SessionClaims =
        serde_json::from_str(&family.session_claims).map_err(anyhow::Error::from)?;
    let keys = state.keys.get().await?;
    let issuer = state.settings.issuer();
    let ttl = &state.settings.tokens;
    let at = mint::access_token(
        &keys,
        &issuer,
        client,
        &identity.id,
        &scope,
        Some(&claims),
        Some(&family.id),
        ttl.access_token_ttl_secs,
        now,
    )?;
    let scopes = ScopeSet::parse(&scope).map_err(anyhow::Error::from)?;
    let id_token = if scopes.contains(Scope::OPENID) {
        let extra =
            crate::endpoint::claims::for_id_token(state, client, &identity.id, &scopes.as_strs())
                .await?;
        Some(mint::id_token(
            &keys,
            &issuer,
            client,
            &identity,
            &scope,
            &claims,
            None,
            Some(&at.token),
            extra,
            ttl.id_token_ttl_secs,
            now,
        )?)
    } else {
        None
    };
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
