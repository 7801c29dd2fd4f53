//! Recording a pairing once e-CPS proved an IdNat: it must equal the account's RPPS link; a
//! mismatch is a finding for an administrator and changes nothing else.

use serde_json::json;

use super::PairingError;
use crate::audit::{AuditEvent, RequestContext};
use crate::identity::{IdNat, LinkMethod, Status};
use crate::psc::Ecps;
use crate::storage::findings::{self, FindingRecord, PAIRING_MISMATCH};
use crate::storage::identities;
use crate::storage::links::{self, LinkRecord};
use crate::storage::pairings::{self, PairingRecord};
use crate::storage::{Tx, is_unique_violation};

/// How the e-CPS validation reached Pro Santé Connect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Means {
    /// Back-channel request answered in the e-CPS app (CIBA, poll mode).
    Ciba,
    /// Authorization-code flow through Pro Santé Connect's pages.
    Redirect,
}

impl Means {
    pub fn as_str(self) -> &'static str {
        match self {
            Means::Ciba => "ciba",
            Means::Redirect => "redirect",
        }
    }
}

/// What Pro Santé Connect proved, for whom.
#[derive(Debug, Clone)]
pub struct Proof {
    pub identity_id: String,
    pub idnat: IdNat,
    pub means: Means,
    /// The acr of the validation, when Pro Santé Connect said it.
    pub acr: Option<String>,
}

/// Who a mismatch or a refusal is audited against, and the event that says so.
fn refused(proof: &Proof, e: &PairingError, ctx: &RequestContext) -> AuditEvent {
    AuditEvent::failure("pairing_completed", e.reason())
        .subject(&proof.identity_id)
        .context(ctx)
        .details(json!({ "idnat": proof.idnat.as_str(), "means": proof.means.as_str() }))
}

/// Records the pairing that `proof` establishes (replacing the person's previous one), or
/// refuses it. Every outcome is audited.
pub async fn record(
    state: &Ecps<'_>,
    proof: &Proof,
    ctx: &RequestContext,
) -> Result<PairingRecord, PairingError> {
    let now = state.clock.now();
    let pool = state.db.pool();
    let identity = identities::by_id(pool, &proof.identity_id)
        .await?
        .ok_or(PairingError::AccountInactive)?;
    let link = links::of_identity(pool, &proof.identity_id).await?;
    let verdict = if identity.status != Status::Active {
        Err(PairingError::AccountInactive)
    } else if !proof.idnat.is_personal() {
        Err(PairingError::NotPersonal)
    } else {
        match &link {
            Some(l) if l.idnat == proof.idnat.as_str() => Ok(false),
            Some(_) => Err(PairingError::Mismatch),
            None if !state.settings.psc.pairing.link_unlinked => Err(PairingError::NoLink),
            None => match links::by_idnat(pool, proof.idnat.as_str()).await? {
                Some(_) => Err(PairingError::LinkedElsewhere),
                None => Ok(true),
            },
        }
    };
    let create_link = match verdict {
        Ok(c) => c,
        Err(PairingError::Mismatch) => {
            mismatch(state, proof, link.as_ref(), ctx).await?;
            return Err(PairingError::Mismatch);
        }
        Err(e) => {
            state.audit.record(refused(proof, &e, ctx)).await;
            return Err(e);
        }
    };
    let validity = i64::from(state.settings.psc.pairing.validity_days) * 86_400;
    let rec = PairingRecord {
        id: uuid::Uuid::now_v7().to_string(),
        identity_id: proof.identity_id.clone(),
        idnat: proof.idnat.to_string(),
        means: proof.means.as_str().into(),
        validated_at: now,
        expires_at: now + validity,
        status: "active".into(),
        created_link: i64::from(create_link),
        revoked_at: None,
        revoked_by: None,
        revoked_reason: None,
        acr: proof.acr.clone(),
    };
    let mut tx = state.db.begin().await?;
    let previous = pairings::revoke_active_of(
        &mut tx,
        &proof.identity_id,
        &proof.identity_id,
        "renewed",
        now,
    )
    .await?;
    if create_link {
        let l = LinkRecord {
            identity_id: proof.identity_id.clone(),
            idnat: proof.idnat.to_string(),
            method: LinkMethod::Ecps.as_str().into(),
            linked_at: now,
            linked_by: "pairing".into(),
        };
        match links::insert(&mut tx, &l).await {
            Err(e) if is_unique_violation(&e) => {
                drop(tx);
                let e = PairingError::LinkedElsewhere;
                state.audit.record(refused(proof, &e, ctx)).await;
                return Err(e);
            }
            other => other?,
        }
        let ev = AuditEvent::success("rpps_linked")
            .actor("pairing")
            .subject(&proof.identity_id)
            .context(ctx)
            .details(json!({ "idnat": l.idnat, "method": l.method }));
        state.audit.in_tx(&mut tx, ev).await?;
    }
    insert_pairing(&mut tx, &rec).await?;
    let ev = AuditEvent::success("pairing_completed")
        .actor(&proof.identity_id)
        .subject(&proof.identity_id)
        .context(ctx)
        .reason(if previous.is_some() {
            "renewed"
        } else {
            "paired"
        })
        .details(json!({
            "pairing": rec.id, "idnat": rec.idnat, "means": rec.means, "acr": rec.acr,
            "expires_at": rec.expires_at, "link_created": create_link,
            "replaced": previous.map(|p| p.id),
        }));
    state.audit.in_tx(&mut tx, ev).await?;
    tx.commit().await?;
    Ok(rec)
}

/// Two completions of one person at once: the second finds the first one's active row.
async fn insert_pairing(tx: &mut Tx, rec: &PairingRecord) -> Result<(), PairingError> {
    match pairings::insert(tx, rec).await {
        Err(e) if is_unique_violation(&e) => Err(PairingError::RequestSettled),
        other => Ok(other?),
    }
}

/// e-CPS proved another IdNat than the link: a finding and an audit event, nothing else.
async fn mismatch(
    state: &Ecps<'_>,
    proof: &Proof,
    link: Option<&LinkRecord>,
    ctx: &RequestContext,
) -> Result<(), PairingError> {
    let now = state.clock.now();
    let linked = link.map(|l| l.idnat.clone());
    let detail = json!({ "proven_idnat": proof.idnat.as_str(), "linked_idnat": linked, "means": proof.means.as_str() });
    let finding = FindingRecord {
        id: uuid::Uuid::now_v7().to_string(),
        category: PAIRING_MISMATCH.into(),
        identity_id: Some(proof.identity_id.clone()),
        idnat: linked,
        detail: detail.to_string(),
        first_seen: now,
        seen_at: now,
    };
    let mut tx = state.db.begin().await?;
    findings::insert(&mut tx, &finding).await?;
    let e = PairingError::Mismatch;
    state.audit.in_tx(&mut tx, refused(proof, &e, ctx)).await?;
    let ev = AuditEvent::success("rpps_finding")
        .actor("pairing")
        .reason(PAIRING_MISMATCH)
        .subject(&proof.identity_id)
        .context(ctx)
        .details(json!({ "idnat": finding.idnat, "detail": detail }));
    state.audit.in_tx(&mut tx, ev).await?;
    tx.commit().await?;
    Ok(())
}
