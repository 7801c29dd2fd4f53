//! The identity changes the synchronisations share with the administration functions: finding
//! an identity, withdrawing it (a non-active status that revokes its tokens and ends its
//! sessions) and linking it to a national identifier.

use serde_json::json;

use super::Repository;
use crate::audit::{Audit, AuditEvent, RequestContext};
use crate::identity::{IdNat, LinkMethod, Status};
use crate::storage::identities::{self, IdentityRecord};
use crate::storage::links::{self, LinkRecord};
use crate::storage::pairings;
use crate::storage::{Tx, is_unique_violation, refresh};

/// Why an identity change was refused (the administration functions answer the same).
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("the database refused the change: {0}")]
    Storage(#[from] sqlx::Error),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// Finds an identity by username or id.
pub async fn find(state: &Repository<'_>, who: &str) -> Result<IdentityRecord, UserError> {
    if let Some(i) = identities::by_username(state.db.pool(), who).await? {
        return Ok(i);
    }
    identities::by_id(state.db.pool(), who)
        .await?
        .ok_or_else(|| UserError::NotFound(format!("no user {who}: see `trousseau user list`")))
}

/// Sets a non-active status and revokes the identity's refresh tokens, audited in the same
/// transaction, then ends its sessions (each ending audited and notified to its clients).
pub async fn withdraw(
    state: &Repository<'_>,
    identity_id: &str,
    status: Status,
    reason: &str,
    actor: &str,
    details: serde_json::Value,
) -> Result<(), UserError> {
    let (kind, revoke_reason) = match status {
        Status::Left => ("user_left", "identity_left"),
        _ => ("user_disabled", "identity_suspended"),
    };
    let now = state.clock.now();
    let mut tx = state.db.begin().await?;
    identities::set_status(&mut tx, identity_id, status, Some(reason), now).await?;
    let revoked =
        refresh::revoke_identity_families(&mut tx, identity_id, revoke_reason, now).await?;
    revoke_pairing_on_withdrawal(
        state.audit,
        &mut tx,
        identity_id,
        status.as_str(),
        actor,
        now,
    )
    .await?;
    let ev = AuditEvent::success(kind)
        .actor(actor)
        .subject(identity_id)
        .reason(reason)
        .details(json!({ "refresh_families_revoked": revoked, "status": status.as_str(), "context": details }));
    state.audit.in_tx(&mut tx, ev).await?;
    tx.commit().await?;
    state.sessions.end_all(identity_id, revoke_reason).await?;
    Ok(())
}

/// Inside the transaction that suspends an identity or marks its departure: revokes its
/// e-CPS pairing and cancels its pending requests, audited in the same transaction.
pub async fn revoke_pairing_on_withdrawal(
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

/// Ties an identity to a national identifier. One link per identity and per IdNat: an existing
/// link must be removed first.
pub async fn link_rpps(
    state: &Repository<'_>,
    who: &str,
    idnat: &IdNat,
    method: LinkMethod,
    actor: &str,
) -> Result<LinkRecord, UserError> {
    let i = find(state, who).await?;
    if !idnat.is_personal() {
        return Err(UserError::Invalid(format!(
            "{idnat} is a structure card's identifier: only RPPS or ADELI numbers name a person"
        )));
    }
    if let Some(l) = links::of_identity(state.db.pool(), &i.id).await? {
        return Err(UserError::Conflict(format!(
            "{} is already linked to {}: run `trousseau user unlink-rpps {}` first",
            i.username, l.idnat, i.username
        )));
    }
    let rec = LinkRecord {
        identity_id: i.id.clone(),
        idnat: idnat.to_string(),
        method: method.as_str().into(),
        linked_at: state.clock.now(),
        linked_by: actor.into(),
    };
    let mut tx = state.db.begin().await?;
    match links::insert(&mut tx, &rec).await {
        Err(e) if is_unique_violation(&e) => {
            return Err(UserError::Conflict(format!(
                "{idnat} is already linked to another identity"
            )));
        }
        other => other?,
    }
    let ev = AuditEvent::success("rpps_linked")
        .actor(actor)
        .subject(&i.id)
        .details(json!({ "idnat": rec.idnat, "method": rec.method, "luhn_warning": idnat.luhn_warning(), "test_number": idnat.is_test() }));
    state.audit.in_tx(&mut tx, ev).await?;
    tx.commit().await?;
    Ok(rec)
}
