//! When an access token is active (RFC 7662 §2.2, RFC 9068 §4), for UserInfo and introspection:
//! a JWT access token lives no longer than what it was issued from (docs/oidc.md, "When an
//! access token stops working").

use serde_json::{Map, Value};

use crate::oidc::mint::{self, GRANT_CLAIM};
use crate::oidc::refusal::InactiveToken;
use crate::session::is_live;
use crate::state::AppState;
use crate::storage::identities::{self, IdentityRecord};
use crate::storage::{refresh, revoked_tokens, sessions};

/// A valid access token that nothing has withdrawn.
#[derive(Debug)]
pub struct ActiveToken {
    pub claims: Map<String, Value>,
    /// The person the token speaks for; `None` for a client acting for itself.
    pub identity: Option<IdentityRecord>,
}

impl ActiveToken {
    /// The client the token was issued to.
    pub fn client_id(&self) -> &str {
        text(&self.claims, "client_id").unwrap_or_default()
    }
}

fn text<'a>(claims: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    claims.get(name).and_then(Value::as_str)
}

/// Checks an access token; the error is the reason shared with the audit log.
///
/// Active means: signed by this issuer, of type `at+jwt`, not expired, not revoked (RFC 7009
/// or a replayed code), its client still registered; and for a person's token, the identity
/// active, its refresh family (`grant_id`) neither revoked nor expired, and, unless that family
/// is an `offline_access` one, its SSO session still live.
pub async fn active(state: &AppState, token: &str) -> Result<ActiveToken, InactiveToken> {
    let keys = state
        .keys
        .get()
        .await
        .map_err(|_| InactiveToken::KeysUnavailable)?;
    let now = state.clock.now();
    let claims = mint::verify(
        &keys,
        &state.settings.issuer(),
        token,
        Some("at+jwt"),
        Some(now),
    )
    .map_err(InactiveToken::from)?;
    let jti = text(&claims, "jti").ok_or(InactiveToken::Malformed)?;
    if revoked_tokens::is_jti_revoked(state.db.pool(), jti)
        .await
        .map_err(stored)?
    {
        return Err(InactiveToken::Revoked);
    }
    let client_id = text(&claims, "client_id").ok_or(InactiveToken::Malformed)?;
    let sub = text(&claims, "sub").ok_or(InactiveToken::Malformed)?;
    if state
        .clients
        .get(client_id)
        .await
        .map_err(stored)?
        .is_none()
    {
        return Err(InactiveToken::ClientUnknown);
    }
    let identity = match text(&claims, "sid") {
        Some(_) => Some(person(state, &claims, now).await?),
        // client_credentials: the client itself, bound to its registration only.
        None if sub == client_id => None,
        None => return Err(InactiveToken::Malformed),
    };
    Ok(ActiveToken { claims, identity })
}

fn stored(_: sqlx::Error) -> InactiveToken {
    InactiveToken::StorageUnavailable
}

/// The person a token with a session speaks for: the identity active, the refresh family it
/// names still valid and, unless that family is an `offline_access` one, the session live.
async fn person(
    state: &AppState,
    claims: &Map<String, Value>,
    now: i64,
) -> Result<IdentityRecord, InactiveToken> {
    let (Some(sid), Some(sub), Some(client_id)) = (
        text(claims, "sid"),
        text(claims, "sub"),
        text(claims, "client_id"),
    ) else {
        return Err(InactiveToken::Malformed);
    };
    let identity = match identities::by_id(state.db.pool(), sub)
        .await
        .map_err(stored)?
    {
        Some(i) if i.status.is_active() => i,
        _ => return Err(InactiveToken::IdentityInactive),
    };
    let mut session = Some(sid);
    if let Some(grant) = text(claims, GRANT_CLAIM) {
        let family = refresh::family(state.db.pool(), grant)
            .await
            .map_err(stored)?
            .filter(|f| f.client_id == client_id && f.identity_id == sub)
            .ok_or(InactiveToken::GrantRevoked)?;
        if family.revoked_at.is_some() || family.expires_at <= now {
            return Err(InactiveToken::GrantRevoked);
        }
        // An offline_access family outlives the session; the others end with it.
        session = family.session_id.is_some().then_some(sid);
    }
    if let Some(sid) = session {
        let record = sessions::by_id(state.db.pool(), sid)
            .await
            .map_err(stored)?
            .filter(|s| is_live(s, now, state.settings.session.idle_secs))
            .ok_or(InactiveToken::SessionEnded)?;
        // A client using the session's token is activity of the session (docs/sessions.md).
        crate::session::note_activity(&state.sessions(), &record)
            .await
            .map_err(stored)?;
    }
    Ok(identity)
}
