//! Administration of security keys: enrolment codes, listing, revocation, and the review of
//! keys flagged as possibly cloned.

use serde_json::json;

use super::AdminError;
use crate::audit::{AuditEvent, RequestContext};
use crate::authn::webauthn::enrolment::{self, IdentityCheckInput, IssuedCode};
use crate::state::AppState;
use crate::storage::security_keys::{self as store, KeyRecord};

/// Issues an enrolment code for the identity `who` (username or id), after the identity check
/// `check` (required unless `enrolment.require_proofing = false`).
pub async fn enrolment_code(
    state: &AppState,
    who: &str,
    ttl_secs: Option<i64>,
    actor: &str,
    check: Option<&IdentityCheckInput>,
) -> Result<IssuedCode, AdminError> {
    let identity = super::users::find(state, who).await?;
    if !identity.status.is_active() {
        return Err(AdminError::Invalid(format!(
            "{} is {}: enable the account first",
            identity.username, identity.status
        )));
    }
    let ttl = ttl_secs.unwrap_or(state.settings.webauthn.enrolment_code_ttl_secs);
    if ttl <= 0 {
        return Err(AdminError::Invalid(
            "the code's lifetime must be positive".into(),
        ));
    }
    let check = match check {
        Some(c) if c.checked_by.trim().is_empty() => {
            return Err(AdminError::Invalid(
                "the identity check needs the name of the person who checked".into(),
            ));
        }
        Some(c)
            if c.checked_by.chars().count() > 200 || c.checked_by.chars().any(char::is_control) =>
        {
            return Err(AdminError::Invalid(
                "the name of the person who checked is too long or holds control characters".into(),
            ));
        }
        None if state.settings.enrolment.require_proofing => {
            return Err(AdminError::Invalid(
                "record the identity check first: who checked (--checked-by), which document \
                 (--document id_card|passport|residence_permit|cps_card) and, when not in person, \
                 --remote (enrolment.require_proofing = true)"
                    .into(),
            ));
        }
        other => other,
    };
    Ok(enrolment::issue(&state.authn(), &identity, ttl, actor, check).await?)
}

/// The keys of one identity (revoked ones included), or every key, or the flagged ones.
pub async fn list(
    state: &AppState,
    who: Option<&str>,
    flagged_only: bool,
) -> Result<Vec<KeyRecord>, AdminError> {
    match who {
        Some(who) => {
            let identity = super::users::find(state, who).await?;
            let keys = store::of_identity(state.db.pool(), &identity.id).await?;
            Ok(keys
                .into_iter()
                .filter(|k| !flagged_only || k.flagged_at.is_some())
                .collect())
        }
        None => Ok(store::all(state.db.pool(), flagged_only).await?),
    }
}

/// Revokes a key at once: it can no longer sign in, and the sessions that used it end (with
/// their refresh tokens). False when it was already revoked.
pub async fn revoke(
    state: &AppState,
    key_id: &str,
    actor: &str,
    reason: &str,
    ctx: &RequestContext,
) -> Result<bool, AdminError> {
    let key = store::by_id(state.db.pool(), key_id)
        .await?
        .ok_or_else(|| AdminError::NotFound(format!("no security key {key_id}")))?;
    let now = state.clock.now();
    let mut tx = state.db.begin().await?;
    if !store::revoke(&mut tx, key_id, actor, reason, now).await? {
        return Ok(false);
    }
    state
        .audit
        .in_tx(
            &mut tx,
            AuditEvent::success("security_key_revoked")
                .actor(actor)
                .subject(&key.identity_id)
                .context(ctx)
                .reason(reason)
                .details(json!({ "key": key.id, "name": key.name })),
        )
        .await?;
    tx.commit().await?;
    for session in store::sessions_using(state.db.pool(), key_id).await? {
        crate::session::end(&state.sessions(), &session, "credential_revoked", ctx).await?;
    }
    Ok(true)
}

/// Lifts the suspension of a flagged key after an admin checked it (the key is back in the
/// owner's hands and was not copied).
pub async fn unflag(state: &AppState, key_id: &str, actor: &str) -> Result<(), AdminError> {
    let key = store::by_id(state.db.pool(), key_id)
        .await?
        .ok_or_else(|| AdminError::NotFound(format!("no security key {key_id}")))?;
    let mut credential: webauthn_rs::prelude::Credential = serde_json::from_str(&key.credential)
        .map_err(|e| AdminError::Other(anyhow::anyhow!("the stored key cannot be read: {e}")))?;
    credential.counter = 0;
    let credential = serde_json::to_string(&credential)
        .map_err(|e| AdminError::Other(anyhow::anyhow!("{e}")))?;
    let mut tx = state.db.begin().await?;
    if !store::unflag(&mut tx, key_id, &credential).await? {
        return Err(AdminError::Invalid(format!(
            "the key {key_id} is not flagged (or is revoked)"
        )));
    }
    state
        .audit
        .in_tx(
            &mut tx,
            AuditEvent::success("security_key_unflagged")
                .actor(actor)
                .subject(&key.identity_id)
                .details(json!({ "key": key.id, "flag_reason": key.flag_reason })),
        )
        .await?;
    tx.commit().await?;
    Ok(())
}
