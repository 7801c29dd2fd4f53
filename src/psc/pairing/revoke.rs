//! How a pairing ends before its expiry: cancelled by the person, revoked by an administrator,
//! or revoked at once when the identity is suspended or leaves (restoring the account never
//! restores it).

use serde_json::json;

use super::PairingError;
use crate::audit::{AuditEvent, RequestContext};
pub use crate::directory::users::revoke_pairing_on_withdrawal as revoke_on_withdrawal;
use crate::psc::Ecps;
use crate::storage::pairings::{self, PairingRecord};

/// Revokes one pairing by id (administrators): the revoked row.
pub async fn revoke(
    state: &Ecps<'_>,
    pairing_id: &str,
    actor: &str,
    reason: &str,
) -> Result<PairingRecord, PairingError> {
    let now = state.clock.now();
    let p = pairings::by_id(state.db.pool(), pairing_id)
        .await?
        .ok_or(PairingError::NotFound)?;
    let mut tx = state.db.begin().await?;
    if !pairings::revoke_row(&mut tx, &p.id, actor, reason, now).await? {
        return Err(PairingError::NotFound);
    }
    let ev = AuditEvent::success("pairing_revoked")
        .actor(actor)
        .subject(&p.identity_id)
        .reason(reason)
        .details(json!({ "pairing": p.id, "idnat": p.idnat }));
    state.audit.in_tx(&mut tx, ev).await?;
    tx.commit().await?;
    Ok(pairings::by_id(state.db.pool(), pairing_id)
        .await?
        .unwrap_or(p))
}

/// The person cancels their own active pairing.
pub async fn cancel(
    state: &Ecps<'_>,
    identity_id: &str,
    ctx: &RequestContext,
) -> Result<PairingRecord, PairingError> {
    let now = state.clock.now();
    let mut tx = state.db.begin().await?;
    let Some(p) =
        pairings::revoke_active_of(&mut tx, identity_id, identity_id, "cancelled", now).await?
    else {
        return Err(PairingError::NotFound);
    };
    let ev = AuditEvent::success("pairing_revoked")
        .actor(identity_id)
        .subject(identity_id)
        .reason("cancelled")
        .context(ctx)
        .details(json!({ "pairing": p.id, "idnat": p.idnat }));
    state.audit.in_tx(&mut tx, ev).await?;
    tx.commit().await?;
    Ok(p)
}
