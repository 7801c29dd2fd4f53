//! The authorization_code grant (RFC 6749 §4.1.3, RFC 7636 §4.6): single-use codes bound to
//! the client, the redirect URI, the PKCE challenge and the session. A replayed code revokes
//! the tokens issued from it.

use serde_json::json;

use super::{PersonGrant, TokenResponse, active_identity, sign_for_person};
use crate::audit::{AuditEvent, RequestContext};
use crate::crypto::{ct_eq, hash_secret, random_token, s256};
use crate::endpoint::client_auth::Refusal;
use crate::oidc::client::{Client, GrantType};
use crate::oidc::mint::AccessToken;
use crate::oidc::refusal::GrantRefusal as Why;
use crate::protocol::{Scope, ScopeSet};
use crate::session::{self, Session, SessionClaims};
use crate::state::AppState;
use crate::storage::codes::{self, CodeRecord};
use crate::storage::identities::IdentityRecord;
use crate::storage::refresh::{self, FamilyRecord};
use crate::storage::revoked_tokens;

const INVALID_CODE: &str = "the authorization code is invalid, expired or already used";

/// A refusal of this grant, naming the client.
fn refuse(client: &Client, why: Why, msg: &str) -> Refusal {
    Refusal::new(why, msg, Some(client.id.as_str()))
}

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
    let record = redeem(state, client, &hash, now, ctx).await?;
    if let Err((why, msg)) = binding(&record, client, redirect_uri, verifier, now) {
        return Err(refuse(client, why, msg));
    }
    let (session, identity) = signed_in(state, client, &record).await?;
    let claims = session.claims(&state.settings.session.levels);
    // The family is named before the access token is signed: the token carries it.
    let family_id = client
        .allows(GrantType::RefreshToken)
        .then(|| uuid::Uuid::now_v7().to_string());
    let person = PersonGrant {
        identity: &identity,
        scope: &record.scope,
        claims: &claims,
        family: family_id.as_deref(),
        nonce: record.nonce.as_deref(),
        with_id_token: true,
    };
    let (at, id_token) = sign_for_person(state, client, &person, now).await?;
    let refresh_token = match &family_id {
        Some(family) => {
            let from = Refreshable {
                record: &record,
                session: &session,
                claims: &claims,
            };
            Some(start_refresh(state, client, family, &from, now).await?)
        }
        None => None,
    };
    record_issued(state, client, &hash, family_id, &at, now).await?;
    let sub = &identity.id;
    super::audit_issued(state, client, sub, "authorization_code", ctx, &at.jti).await;
    Ok(TokenResponse {
        access_token: at.token,
        token_type: "Bearer",
        expires_in: at.expires_in,
        id_token,
        refresh_token,
        scope: record.scope,
    })
}

/// Uses the code once. A code used before is a replay: what its first use obtained is revoked.
async fn redeem(
    state: &AppState,
    client: &Client,
    hash: &str,
    now: i64,
    ctx: &RequestContext,
) -> Result<CodeRecord, Refusal> {
    if let Some(record) = codes::consume(state.db.pool(), hash, now).await? {
        return Ok(record);
    }
    let Some(issued) = codes::mark_replayed(state.db.pool(), hash, now).await? else {
        return Err(refuse(client, Why::UnknownCode, INVALID_CODE));
    };
    // RFC 6749 §4.1.2: revoke what the first use of the code obtained. When that exchange has
    // not recorded it yet, it finds the mark and withdraws it itself.
    withdraw(state, &issued, now).await?;
    let event = AuditEvent::failure("code_replay", "code_reused")
        .client(&issued.client_id)
        .context(ctx)
        .details(json!({ "presented_by": client.id }));
    state.audit.record(event).await;
    Err(refuse(client, Why::CodeReplay, INVALID_CODE))
}

/// The session the code was issued in, still live, and its person, still active.
async fn signed_in(
    state: &AppState,
    client: &Client,
    record: &CodeRecord,
) -> Result<(Session, IdentityRecord), Refusal> {
    let Some(session) = session::by_id(&state.sessions(), &record.session_id).await? else {
        let msg = "the login session has ended; sign in again";
        return Err(refuse(client, Why::SessionEnded, msg));
    };
    let Some(identity) = active_identity(state, &record.identity_id).await? else {
        let msg = "the account is not active";
        return Err(refuse(client, Why::IdentityInactive, msg));
    };
    Ok((session, identity))
}

/// What binds the code: its client, its lifetime, the redirect URI and the PKCE challenge.
fn binding(
    record: &CodeRecord,
    client: &Client,
    redirect_uri: Option<&str>,
    verifier: Option<&str>,
    now: i64,
) -> Result<(), (Why, &'static str)> {
    if record.client_id != client.id {
        return Err((Why::CodeOfOtherClient, INVALID_CODE));
    }
    if record.expires_at <= now {
        return Err((Why::CodeExpired, INVALID_CODE));
    }
    if redirect_uri != Some(record.redirect_uri.as_str()) {
        let msg = "redirect_uri differs from the authorization request";
        return Err((Why::RedirectUriMismatch, msg));
    }
    match (&record.code_challenge, verifier) {
        (Some(challenge), Some(v)) if !ct_eq(&s256(v), challenge) => Err((
            Why::PkceMismatch,
            "code_verifier does not match the code_challenge",
        )),
        (Some(_), Some(_)) | (None, None) => Ok(()),
        (Some(_), None) => Err((Why::PkceMissing, "code_verifier is required")),
        (None, Some(_)) => Err((
            Why::PkceUnexpected,
            "code_verifier was sent but no code_challenge was",
        )),
    }
}

/// What a refresh family starts from: the code, its session and the session's claims.
struct Refreshable<'a> {
    record: &'a CodeRecord,
    session: &'a Session,
    claims: &'a SessionClaims,
}

/// Starts the refresh family of this code and gives its first refresh token.
async fn start_refresh(
    state: &AppState,
    client: &Client,
    family: &str,
    from: &Refreshable<'_>,
    now: i64,
) -> Result<String, Refusal> {
    let (record, session) = (from.record, from.session);
    let offline = ScopeSet::parse(&record.scope)
        .map_err(anyhow::Error::from)?
        .contains(Scope::OFFLINE_ACCESS);
    let started = NewFamily {
        id: family,
        identity_id: &record.identity_id,
        session_id: &session.id,
        scope: &record.scope,
        offline,
        session_end: session.expires_at,
    };
    new_family(state, client, &started, from.claims).await?;
    let token = random_token(32);
    refresh::insert_token(state.db.pool(), &hash_secret(&token), family, now).await?;
    Ok(token)
}

/// Records what the code issued; when the code was replayed meanwhile, the tokens never leave.
async fn record_issued(
    state: &AppState,
    client: &Client,
    hash: &str,
    family_id: Option<String>,
    at: &AccessToken,
    now: i64,
) -> Result<(), Refusal> {
    let issued = codes::Issued {
        client_id: client.id.to_string(),
        family_id,
        access_jti: Some(at.jti.clone()),
        access_expires_at: Some(now + at.expires_in),
    };
    let family = issued.family_id.as_deref();
    let expires_at = now + at.expires_in;
    let replayed = codes::set_issued(state.db.pool(), hash, family, &at.jti, expires_at).await?;
    if replayed {
        // The code was replayed while these tokens were minted: they never leave.
        withdraw(state, &issued, now).await?;
        return Err(refuse(client, Why::CodeReplay, INVALID_CODE));
    }
    Ok(())
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
        client_id: client.id.to_string(),
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
