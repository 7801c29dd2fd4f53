//! How a pairing ends before its expiry: cancelled by the person, revoked by an administrator,
//! or revoked at once when the identity is suspended or leaves (restoring the account never
//! restores it).

use serde_json::json;

use super::PairingError;
use crate::audit::{Audit, AuditEvent, RequestContext};
use crate::state::AppState;
use crate::storage::Tx;
use crate::storage::pairings::{self, PairingRecord};

/// Revokes one pairing by id (administrators): the revoked row.
pub async fn revoke(
    state: &AppState,
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
    state: &AppState,
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

/// Inside the transaction that suspends an identity or marks its departure: revokes its
/// pairing and cancels its pending requests, audited in the same transaction.
pub async fn revoke_on_withdrawal(
    audit: &Audit,
    tx: &mut Tx,
    identity_id: &str,
    status: &str,
    actor: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    let reason = format!("identity_{status}");
    pairings::cancel_pending_of(tx, identity_id, &reason, now).await?;
    if let Some(p) = pairings::revoke_active_of(tx, identity_id, actor, &reason, now).await? {
        let ev = AuditEvent::success("pairing_revoked")
            .actor(actor)
            .subject(identity_id)
            .reason(reason)
            .context(&RequestContext::default())
            .details(json!({ "pairing": p.id, "idnat": p.idnat }));
        audit.in_tx(tx, ev).await?;
    }
    Ok(())
}
