//! The authorization_code grant (RFC 6749 §4.1.3, RFC 7636 §4.6): single-use codes bound to
//! the client, the redirect URI, the PKCE challenge and the session. A replayed code revokes
//! the tokens issued from it.

use serde_json::json;

use super::TokenResponse;
use crate::audit::{AuditEvent, RequestContext};
use crate::crypto::{ct_eq, hash_secret, random_token, s256};
use crate::endpoint::client_auth::Refusal;
use crate::oidc::client::{Client, GrantType};
use crate::oidc::mint;
use crate::oidc::refusal::GrantRefusal as Why;
use crate::protocol::{Scope, ScopeSet};
use crate::session;
use crate::session::SessionClaims;
use crate::state::AppState;
use crate::storage::refresh::{self, FamilyRecord};
use crate::storage::{codes, identities, revoked_tokens};

const INVALID_CODE: &str = "the authorization code is invalid, expired or already used";

pub async fn grant(
    state: &AppState,
    client: &Client,
    code: &str,
    redirect_uri: Option<&str>,
    verifier: Option<&str>,
    ctx: &RequestContext,
) -> Result<TokenResponse, Refusal> {
    let now = state.clock.now();
    let hash = hash_secret(code);
    let refuse = |why: Why, msg: &str| Refusal::new(why, msg, Some(&client.id));
    let Some(record) = codes::consume(state.db.pool(), &hash, now).await? else {
        if let Some(issued) = codes::mark_replayed(state.db.pool(), &hash, now).await? {
            // RFC 6749 §4.1.2: revoke what the first use of the code obtained. When that
            // exchange has not recorded it yet, it finds the mark and withdraws it itself.
            withdraw(state, &issued, now).await?;
            let owner = issued.client_id;
            state
                .audit
                .record(
                    AuditEvent::failure("code_replay", "code_reused")
                        .client(&owner)
                        .context(ctx)
                        .details(json!({ "presented_by": client.id })),
                )
                .await;
            return Err(refuse(Why::CodeReplay, INVALID_CODE));
        }
        return Err(refuse(Why::UnknownCode, INVALID_CODE));
    };
    if record.client_id != client.id {
        return Err(refuse(Why::CodeOfOtherClient, INVALID_CODE));
    }
    if record.expires_at <= now {
        return Err(refuse(Why::CodeExpired, INVALID_CODE));
    }
    if redirect_uri != Some(record.redirect_uri.as_str()) {
        return Err(refuse(
            Why::RedirectUriMismatch,
            "redirect_uri differs from the authorization request",
        ));
    }
    match (&record.code_challenge, verifier) {
        (Some(challenge), Some(v)) => {
            if !ct_eq(&s256(v), challenge) {
                return Err(refuse(
                    Why::PkceMismatch,
                    "code_verifier does not match the code_challenge",
                ));
            }
        }
        (Some(_), None) => return Err(refuse(Why::PkceMissing, "code_verifier is required")),
        (None, Some(_)) => {
            return Err(refuse(
                Why::PkceUnexpected,
                "code_verifier was sent but no code_challenge was",
            ));
        }
        (None, None) => {}
    }
    let Some(session) = session::by_id(&state.sessions(), &record.session_id).await? else {
        return Err(refuse(
            Why::SessionEnded,
            "the login session has ended; sign in again",
        ));
    };
    let identity = match identities::by_id(state.db.pool(), &record.identity_id).await? {
        Some(i) if i.status.is_active() => i,
        _ => return Err(refuse(Why::IdentityInactive, "the account is not active")),
    };
    let claims = session.claims(&state.settings.session.levels);
    let keys = state.keys.get().await?;
    let issuer = state.settings.issuer();
    let ttl = &state.settings.tokens;
    // The family is named before the access token is signed: the token carries it.
    let family_id = client
        .allows(GrantType::RefreshToken)
        .then(|| uuid::Uuid::now_v7().to_string());
    let at = mint::access_token(
        &keys,
        &issuer,
        client,
        &identity.id,
        &record.scope,
        Some(&claims),
        family_id.as_deref(),
        ttl.access_token_ttl_secs,
        now,
    )?;
    let scopes = ScopeSet::parse(&record.scope).map_err(anyhow::Error::from)?;
    let extra =
        crate::endpoint::claims::for_id_token(state, client, &identity.id, &scopes.as_strs())
            .await?;
    let id_token = mint::id_token(
        &keys,
        &issuer,
        client,
        &identity,
        &record.scope,
        &claims,
        record.nonce.as_deref(),
        Some(&at.token),
        extra,
        ttl.id_token_ttl_secs,
        now,
    )?;
    let refresh_token = if let Some(family) = &family_id {
        let offline = scopes.contains(Scope::OFFLINE_ACCESS);
        let started = NewFamily {
            id: family,
            identity_id: &identity.id,
            session_id: &session.id,
            scope: &record.scope,
            offline,
            session_end: session.expires_at,
        };
        new_family(state, client, &started, &claims).await?;
        let token = random_token(32);
        refresh::insert_token(state.db.pool(), &hash_secret(&token), family, now).await?;
        Some(token)
    } else {
        None
    };
    let issued = codes::Issued {
        client_id: client.id.clone(),
        family_id,
        access_jti: Some(at.jti.clone()),
        access_expires_at: Some(now + at.expires_in),
    };
    let replayed = codes::set_issued(
        state.db.pool(),
        &hash,
        issued.family_id.as_deref(),
        &at.jti,
        now + at.expires_in,
    )
    .await?;
    if replayed {
        // The code was replayed while these tokens were minted: they never leave.
        withdraw(state, &issued, now).await?;
        return Err(refuse(Why::CodeReplay, INVALID_CODE));
    }
    super::audit_issued(
        state,
        client,
        &identity.id,
        "authorization_code",
        ctx,
        &at.jti,
    )
    .await;
    Ok(TokenResponse {
        access_token: at.token,
        token_type: "Bearer",
        expires_in: at.expires_in,
        id_token: Some(id_token),
        refresh_token,
        scope: record.scope,
    })
}

/// Revokes what a code issued: its refresh family and its access token.
async fn withdraw(state: &AppState, issued: &codes::Issued, now: i64) -> Result<(), sqlx::Error> {
    if let Some(f) = &issued.family_id {
        refresh::revoke_family(state.db.pool(), f, "code_replay", now).await?;
    }
    if let (Some(jti), Some(exp)) = (&issued.access_jti, issued.access_expires_at) {
        revoked_tokens::revoke_jti(state.db.pool(), jti, exp).await?;
    }
    Ok(())
}

/// A refresh family about to start.
struct NewFamily<'a> {
    id: &'a str,
    identity_id: &'a str,
    session_id: &'a str,
    scope: &'a str,
    offline: bool,
    session_end: i64,
}

/// Starts a refresh family: bound to the session, or (offline_access) to its own maximum.
async fn new_family(
    state: &AppState,
    client: &Client,
    new: &NewFamily<'_>,
    claims: &SessionClaims,
) -> Result<(), sqlx::Error> {
    let now = state.clock.now();
    let family = FamilyRecord {
        id: new.id.to_owned(),
        client_id: client.id.clone(),
        identity_id: new.identity_id.to_owned(),
        session_id: (!new.offline).then(|| new.session_id.to_owned()),
        scope: new.scope.to_owned(),
        created_at: now,
        expires_at: if new.offline {
            now + state.settings.tokens.offline_max_secs
        } else {
            new.session_end
        },
        revoked_at: None,
        revoked_reason: None,
        session_claims: serde_json::to_string(claims).unwrap_or_default(),
    };
    refresh::insert_family(state.db.pool(), &family).await
}
