//! Starting a pairing: the session rule first, then the e-CPS request to Pro Santé Connect.

use serde_json::json;

use super::{Means, PairingError, Proof, may_pair, record};
use crate::audit::{AuditEvent, RequestContext};
use crate::authn::level::Level;
use crate::crypto::random_bytes;
use crate::identity::IdNat;
use crate::psc::Ecps;
use crate::psc::pending::{self, Purpose};
use crate::psc::{Channel, ProvenIdentity, PscError};
use crate::storage::links;
use crate::storage::pairings::{self, PairingRecord, RequestRecord};

/// Who starts a pairing, from which session.
#[derive(Debug, Clone)]
pub struct Starter<'a> {
    pub identity_id: &'a str,
    pub session_id: &'a str,
    pub level: Level,
    /// The IdNat the person typed, used only when their account has no RPPS link yet (and
    /// `psc.pairing.link_unlinked` lets a pairing create it).
    pub typed_idnat: Option<&'a str>,
}

/// Two digits shown on the page and in the e-CPS app, so that the person approves their own
/// request and not someone else's.
fn binding_message() -> String {
    let n = random_bytes(2)
        .iter()
        .fold(0u32, |acc, b| acc << 8 | u32::from(*b))
        % 100;
    format!("{n:02}")
}

/// The IdNat to ask Pro Santé Connect about: the link's, or the one typed when the account has
/// none and a pairing may create it.
async fn idnat_to_prove(state: &Ecps<'_>, who: &Starter<'_>) -> Result<IdNat, PairingError> {
    if let Some(l) = links::of_identity(state.db.pool(), who.identity_id).await? {
        return IdNat::parse(&l.idnat).map_err(|_| PairingError::NotPersonal);
    }
    if !state.settings.psc.pairing.link_unlinked {
        return Err(PairingError::NoLink);
    }
    let typed = who.typed_idnat.map(str::trim).unwrap_or_default();
    match IdNat::parse(typed) {
        Ok(i) if i.is_personal() => Ok(i),
        _ => Err(PairingError::NoLink),
    }
}

/// Starts a CIBA pairing: the pending request the page then waits on (any earlier pending
/// request of the person is cancelled). Audited.
pub async fn start_ciba(
    state: &Ecps<'_>,
    who: &Starter<'_>,
    ctx: &RequestContext,
) -> Result<RequestRecord, PairingError> {
    may_pair(state, who.identity_id, who.level, ctx).await?;
    let result = start_ciba_checked(state, who).await;
    let ev = match &result {
        Ok(r) => AuditEvent::success("pairing_started").details(json!({
            "means": "ciba", "request": r.id, "idnat": r.idnat, "expires_at": r.expires_at,
        })),
        Err(e) => {
            AuditEvent::failure("pairing_started", e.reason()).details(json!({ "means": "ciba" }))
        }
    };
    state
        .audit
        .record(
            ev.actor(who.identity_id)
                .subject(who.identity_id)
                .context(ctx),
        )
        .await;
    result
}

async fn start_ciba_checked(
    state: &Ecps<'_>,
    who: &Starter<'_>,
) -> Result<RequestRecord, PairingError> {
    if state.psc.is_none() {
        return Err(PairingError::Disabled);
    }
    let idnat = idnat_to_prove(state, who).await?;
    send_request(
        state,
        who.identity_id,
        who.session_id,
        &idnat,
        pairings::PURPOSE_PAIRING,
    )
    .await
}

/// Sends an e-CPS request about `idnat` to the person's phone (CIBA, with a binding message)
/// and stores it pending, bound to the session that asked and to the person, for `purpose`
/// (a pairing, or a key enrolment). Any earlier pending request of the person is cancelled.
pub async fn send_request(
    state: &Ecps<'_>,
    identity_id: &str,
    session_id: &str,
    idnat: &IdNat,
    purpose: &str,
) -> Result<RequestRecord, PairingError> {
    let psc = state.psc.as_ref().ok_or(PairingError::Disabled)?;
    let binding = binding_message();
    let started = psc.ciba_start(idnat, &binding, Channel::Mobile).await?;
    let now = state.clock.now();
    let expires_in = i64::try_from(started.expires_in)
        .unwrap_or(120)
        .clamp(1, 3600);
    let interval = i64::try_from(started.interval).unwrap_or(5).clamp(1, 60);
    let r = RequestRecord {
        id: crate::crypto::random_token(24),
        identity_id: identity_id.to_owned(),
        session_id: session_id.to_owned(),
        idnat: idnat.to_string(),
        binding_message: binding,
        auth_req_id: started.auth_req_id,
        interval_secs: interval,
        created_at: now,
        expires_at: now + expires_in,
        state: "pending".into(),
        reason: None,
        pairing_id: None,
        settled_at: None,
        purpose: purpose.to_owned(),
        acr: None,
        used_at: None,
    };
    let mut tx = state.db.begin().await?;
    pairings::cancel_pending_of(&mut tx, identity_id, "replaced", now).await?;
    pairings::insert_request(&mut tx, &r).await?;
    tx.commit().await?;
    Ok(r)
}

/// Starts a redirect pairing: the address of Pro Santé Connect's page to send the browser to.
/// The pending authorization is bound to this browser (`binding`, its binding cookie value) and
/// to the person; [`super::complete_redirect`] records what comes back.
pub async fn start_redirect(
    state: &Ecps<'_>,
    who: &Starter<'_>,
    binding: &str,
    ctx: &RequestContext,
) -> Result<String, PairingError> {
    may_pair(state, who.identity_id, who.level, ctx).await?;
    let result = if state.psc.is_none() {
        Err(PairingError::Disabled)
    } else {
        let purpose = Purpose::Pairing {
            identity_id: who.identity_id.to_owned(),
        };
        pending::start(state, binding, purpose, ctx.source_ip.clone())
            .await
            .map(|u| u.to_string())
            .map_err(PairingError::from)
    };
    let ev = match &result {
        Ok(_) => AuditEvent::success("pairing_started"),
        Err(e) => AuditEvent::failure("pairing_started", e.reason()),
    };
    state
        .audit
        .record(
            ev.actor(who.identity_id)
                .subject(who.identity_id)
                .context(ctx)
                .details(json!({ "means": "redirect" })),
        )
        .await;
    result
}

/// A redirect pairing came back from Pro Santé Connect (`/psc/callback`, purpose `pairing`):
/// records the pairing of `identity_id` when the browser's session is still that person's.
pub async fn complete_redirect(
    state: &Ecps<'_>,
    identity_id: &str,
    session_identity: Option<&str>,
    proven: Result<ProvenIdentity, PscError>,
    ctx: &RequestContext,
) -> Result<PairingRecord, PairingError> {
    let fail = |e: PairingError| async move {
        state
            .audit
            .record(
                AuditEvent::failure("pairing_completed", e.reason())
                    .subject(identity_id)
                    .context(ctx)
                    .details(json!({ "means": "redirect" })),
            )
            .await;
        Err(e)
    };
    if session_identity != Some(identity_id) {
        return fail(PairingError::RequestForeign).await;
    }
    let proven = match proven {
        Ok(p) => p,
        Err(e) => return fail(PairingError::Psc(e)).await,
    };
    let proof = Proof {
        identity_id: identity_id.to_owned(),
        acr: proven.acr.clone(),
        idnat: proven.idnat,
        means: Means::Redirect,
    };
    record(state, &proof, ctx).await
}
