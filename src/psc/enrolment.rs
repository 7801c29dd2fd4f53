//! e-CPS as the authority of a security-key enrolment (docs/security-keys.md, "Enrolment
//! authorised by e-CPS"): a person signed in to their account enrols a key without a helpdesk
//! code when e-CPS establishes their national identity, through their valid pairing or through
//! a fresh e-CPS validation (CIBA) asked from this browser for that purpose. The proven IdNat
//! must be the account's RPPS link. The decision lives here; the key ceremony checks the
//! authority again, and spends a validation, in the transaction that stores the key.

use serde_json::json;

use super::Ecps;
use super::pairing::{self, Asker, PairingError, check_session};
use crate::audit::{AuditEvent, RequestContext};
use crate::authn::level::{AuthFactor, Level, Method};
use crate::authn::webauthn::{EcpsGrant, EcpsRefusal, KeyError};
use crate::identity::IdNat;
use crate::storage::findings::{self, FindingRecord, PAIRING_MISMATCH};
use crate::storage::identities;
use crate::storage::links::{self, LinkRecord};
use crate::storage::pairings::{self, PURPOSE_ENROLMENT, RequestRecord};

/// The audit event of a refused e-CPS authority (its success is recorded with the key).
pub const AUTHORISED_EVENT: &str = "security_key_enrolment_authorised";
/// The audit event of a validation asked for an enrolment.
pub const STARTED_EVENT: &str = "ecps_enrolment_started";
/// The audit event of a validation's outcome.
pub const PROVEN_EVENT: &str = "ecps_enrolment_proven";

/// The session that asks: its browser (the session id) and the person.
#[derive(Debug, Clone)]
pub struct Enroller<'a> {
    pub identity_id: &'a str,
    pub session_id: &'a str,
    pub level: Level,
    pub factors: &'a [AuthFactor],
}

/// Whether e-CPS may stand in for an enrolment code here: `webauthn.enrol_with_ecps` and Pro
/// Santé Connect configured.
pub fn enabled(state: &Ecps<'_>) -> bool {
    state.settings.webauthn.enrol_with_ecps && state.settings.psc.enabled && state.psc.is_some()
}

/// The person proved something of their own to open the session: e-CPS alone is not a first
/// factor of the account (the authority would then rest on e-CPS only).
fn first_factor(factors: &[AuthFactor]) -> bool {
    factors.iter().any(|f| f.method != Method::Ecps)
}

/// What a settled enrolment request says, when it cannot authorise an enrolment now.
fn request_refusal(r: &RequestRecord, now: i64, max_age: i64) -> Option<EcpsRefusal> {
    Some(match r.state.as_str() {
        "proven" if r.used_at.is_some() => EcpsRefusal::ProofUsed,
        "proven" if r.settled_at.is_some_and(|t| t <= now - max_age) => EcpsRefusal::ProofStale,
        "proven" => return None,
        "mismatch" => EcpsRefusal::Mismatch,
        "refused" => EcpsRefusal::Refused,
        "expired" => EcpsRefusal::Expired,
        "failed" => EcpsRefusal::PscFailed,
        // Pending, replaced by another request, or cancelled: nothing proven.
        _ => EcpsRefusal::NoProof,
    })
}

/// The person's identity (active) and RPPS link, or why e-CPS cannot authorise anything.
async fn person(
    state: &Ecps<'_>,
    who: &Enroller<'_>,
) -> Result<(identities::IdentityRecord, LinkRecord), KeyError> {
    if !enabled(state) {
        return Err(KeyError::Ecps(EcpsRefusal::Disabled));
    }
    if !first_factor(who.factors) {
        return Err(KeyError::Ecps(EcpsRefusal::FirstFactorMissing));
    }
    let pool = state.db.pool();
    let identity = identities::by_id(pool, who.identity_id)
        .await?
        .filter(|i| i.status.is_active())
        .ok_or(KeyError::AccountDisabled)?;
    let link = links::of_identity(pool, who.identity_id)
        .await?
        .ok_or(KeyError::Ecps(EcpsRefusal::NoLink))?;
    Ok((identity, link))
}

/// What e-CPS establishes for this session now, without an audit event (what the page offers):
/// a fresh unspent validation asked from this browser for an enrolment, or else the person's
/// valid pairing; each must have proven the IdNat of the account's link.
pub async fn evaluate(state: &Ecps<'_>, who: &Enroller<'_>) -> Result<EcpsGrant, KeyError> {
    let (_, link) = person(state, who).await?;
    let now = state.clock.now();
    let max_age = state.settings.webauthn.ecps_proof_max_age_secs;
    let asker = Asker {
        session_id: who.session_id,
        identity_id: who.identity_id,
    };
    let latest = pairing::latest_of_purpose(state, &asker, PURPOSE_ENROLMENT)
        .await
        .map_err(|_| KeyError::Unavailable)?;
    let mut refusal = None;
    if let Some(r) = &latest {
        match request_refusal(r, now, max_age) {
            None if r.idnat == link.idnat => return Ok(EcpsGrant::Ciba(r.id.clone())),
            None => refusal = Some(EcpsRefusal::Mismatch),
            Some(e) => refusal = Some(e),
        }
    }
    match pairings::latest_of(state.db.pool(), who.identity_id).await? {
        Some(p) if p.status_at(now) == "active" && p.idnat == link.idnat => {
            Ok(EcpsGrant::Pairing(p.id))
        }
        Some(p) if p.status_at(now) == "active" => {
            Err(KeyError::Ecps(refusal.unwrap_or(EcpsRefusal::Mismatch)))
        }
        Some(_) => Err(KeyError::Ecps(
            refusal.unwrap_or(EcpsRefusal::PairingInactive),
        )),
        None => Err(KeyError::Ecps(refusal.unwrap_or(EcpsRefusal::NoProof))),
    }
}

/// What the enrolment page offers a session that holds no strong factor.
#[derive(Debug)]
pub enum Offer {
    /// e-CPS authorises an enrolment now.
    Authorised(EcpsGrant),
    /// A validation may be asked from the e-CPS app; the latest one of this browser, if any
    /// (pending: the page waits for it; settled: its outcome).
    Ask(Option<Box<RequestRecord>>),
    /// Nothing: no session, off, no RPPS link, or no first factor of the person.
    Nothing,
}

/// What e-CPS offers this session (none for a browser without a session).
pub async fn offer(state: &Ecps<'_>, who: Option<&Enroller<'_>>) -> Offer {
    let Some(who) = who else {
        return Offer::Nothing;
    };
    match evaluate(state, who).await {
        Ok(g) => Offer::Authorised(g),
        Err(KeyError::Ecps(
            EcpsRefusal::Disabled | EcpsRefusal::FirstFactorMissing | EcpsRefusal::NoLink,
        )) => Offer::Nothing,
        Err(KeyError::Ecps(_)) => {
            let asker = Asker {
                session_id: who.session_id,
                identity_id: who.identity_id,
            };
            let latest = pairing::latest_of_purpose(state, &asker, PURPOSE_ENROLMENT)
                .await
                .ok()
                .flatten();
            Offer::Ask(latest.map(Box::new))
        }
        Err(_) => Offer::Nothing,
    }
}

/// The e-CPS authority of an enrolment asked by this session, or the refusal, audited.
pub async fn authorise(
    state: &Ecps<'_>,
    who: &Enroller<'_>,
    ctx: &RequestContext,
) -> Result<EcpsGrant, KeyError> {
    let result = evaluate(state, who).await;
    if let Err(e) = &result {
        state
            .audit
            .record(
                AuditEvent::failure(AUTHORISED_EVENT, e.reason())
                    .actor(who.identity_id)
                    .subject(who.identity_id)
                    .context(ctx)
                    .details(json!({ "authority": "ecps" })),
            )
            .await;
    }
    result
}

/// Why a request could not be sent, as the person's refusal.
fn refusal_of(e: PairingError) -> KeyError {
    match e {
        PairingError::Disabled => KeyError::Ecps(EcpsRefusal::Disabled),
        PairingError::Psc(p) if p.transient() => KeyError::Ecps(EcpsRefusal::Unreachable),
        PairingError::Psc(_) => KeyError::Ecps(EcpsRefusal::PscFailed),
        PairingError::SessionTooWeak => KeyError::Ecps(EcpsRefusal::SessionTooWeak),
        PairingError::NotPersonal | PairingError::NoLink => KeyError::Ecps(EcpsRefusal::NoLink),
        other => {
            tracing::error!(error = %other, "cannot send an e-CPS request for an enrolment");
            KeyError::Unavailable
        }
    }
}

/// Asks the person's e-CPS app to validate an enrolment (CIBA, about the IdNat of the account's
/// link), under the pairing's session rule; the request is bound to this session. Audited.
pub async fn start(
    state: &Ecps<'_>,
    who: &Enroller<'_>,
    ctx: &RequestContext,
) -> Result<RequestRecord, KeyError> {
    let result = async {
        let (_, link) = person(state, who).await?;
        check_session(who.level, Some(&link)).map_err(refusal_of)?;
        let idnat = IdNat::parse(&link.idnat).map_err(|_| KeyError::Ecps(EcpsRefusal::NoLink))?;
        pairing::send_request(
            state,
            who.identity_id,
            who.session_id,
            &idnat,
            PURPOSE_ENROLMENT,
        )
        .await
        .map_err(refusal_of)
    }
    .await;
    let ev = match &result {
        Ok(r) => AuditEvent::success(STARTED_EVENT).details(json!({
            "means": "ciba", "request": r.id, "idnat": r.idnat, "expires_at": r.expires_at,
        })),
        Err(e) => {
            AuditEvent::failure(STARTED_EVENT, e.reason()).details(json!({ "means": "ciba" }))
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

/// An enrolment request of this session, for its wait page (`None` for another browser's or
/// another person's: they learn nothing about it).
pub async fn request_for(
    state: &Ecps<'_>,
    request_id: &str,
    asker: &Asker<'_>,
) -> anyhow::Result<Option<RequestRecord>> {
    match pairing::request_for(state, request_id, asker).await {
        Ok(r) if r.purpose == PURPOSE_ENROLMENT => Ok(Some(r)),
        Ok(_) | Err(PairingError::RequestUnknown | PairingError::RequestForeign) => Ok(None),
        Err(e) => Err(anyhow::Error::new(e)),
    }
}

/// Settles an approved enrolment request (claimed by the caller): `proven` when e-CPS proved
/// the IdNat of the account's link, with the validation's acr; otherwise `mismatch` (and a
/// finding for an administrator) or `failed`. Audited.
pub async fn settle(
    state: &Ecps<'_>,
    r: &RequestRecord,
    proven: &IdNat,
    acr: Option<&str>,
) -> anyhow::Result<()> {
    let pool = state.db.pool();
    let now = state.clock.now();
    let identity = identities::by_id(pool, &r.identity_id).await?;
    let link = links::of_identity(pool, &r.identity_id).await?;
    let details = json!({
        "means": "ciba", "request": r.id, "idnat": proven.as_str(), "acr": acr,
    });
    let (to, reason) = if !identity.is_some_and(|i| i.status.is_active()) {
        ("failed", Some("account_inactive"))
    } else {
        match &link {
            Some(l) if l.idnat == proven.as_str() => ("proven", None),
            Some(_) => ("mismatch", Some(EcpsRefusal::Mismatch.reason())),
            None => ("failed", Some(EcpsRefusal::NoLink.reason())),
        }
    };
    if !pairings::settle_proof(pool, &r.id, to, reason, acr, now).await? {
        return Ok(());
    }
    let ev = match reason {
        None => AuditEvent::success(PROVEN_EVENT),
        Some(why) => AuditEvent::failure(PROVEN_EVENT, why),
    }
    .actor(&r.identity_id)
    .subject(&r.identity_id)
    .details(details.clone());
    if to != "mismatch" {
        state.audit.record(ev).await;
        return Ok(());
    }
    let linked = link.map(|l| l.idnat);
    let detail = json!({
        "proven_idnat": proven.as_str(), "linked_idnat": linked, "means": "ciba",
        "purpose": PURPOSE_ENROLMENT,
    });
    let finding = FindingRecord {
        id: uuid::Uuid::now_v7().to_string(),
        category: PAIRING_MISMATCH.into(),
        identity_id: Some(r.identity_id.clone()),
        idnat: linked.clone(),
        detail: detail.to_string(),
        first_seen: now,
        seen_at: now,
    };
    let mut tx = state.db.begin().await?;
    findings::insert(&mut tx, &finding).await?;
    state.audit.in_tx(&mut tx, ev).await?;
    let found = AuditEvent::success("rpps_finding")
        .actor("ecps_enrolment")
        .reason(PAIRING_MISMATCH)
        .subject(&r.identity_id)
        .details(json!({ "idnat": linked, "detail": detail }));
    state.audit.in_tx(&mut tx, found).await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(state: &str, settled_at: i64, used_at: Option<i64>) -> RequestRecord {
        RequestRecord {
            id: "r".into(),
            identity_id: "i".into(),
            session_id: "s".into(),
            idnat: "810001045367".into(),
            binding_message: "42".into(),
            auth_req_id: "a".into(),
            interval_secs: 5,
            created_at: 0,
            expires_at: 120,
            state: state.into(),
            reason: None,
            pairing_id: None,
            settled_at: Some(settled_at),
            purpose: PURPOSE_ENROLMENT.into(),
            acr: Some("eidas2".into()),
            used_at,
        }
    }

    #[test]
    fn a_proof_authorises_once_while_fresh() {
        let max = 600;
        assert_eq!(
            request_refusal(&request("proven", 1000, None), 1599, max),
            None
        );
        assert_eq!(
            request_refusal(&request("proven", 1000, None), 1600, max),
            Some(EcpsRefusal::ProofStale)
        );
        assert_eq!(
            request_refusal(&request("proven", 1000, Some(1001)), 1001, max),
            Some(EcpsRefusal::ProofUsed)
        );
        assert_eq!(
            request_refusal(&request("refused", 1000, None), 1001, max),
            Some(EcpsRefusal::Refused)
        );
        assert_eq!(
            request_refusal(&request("pending", 1000, None), 1001, max),
            Some(EcpsRefusal::NoProof)
        );
    }

    #[test]
    fn e_cps_alone_is_not_a_first_factor() {
        let f = |method| AuthFactor {
            method,
            user_verified: true,
        };
        assert!(!first_factor(&[f(Method::Ecps)]));
        assert!(first_factor(&[f(Method::Password)]));
        assert!(first_factor(&[f(Method::Ecps), f(Method::Password)]));
        assert!(!first_factor(&[]));
    }
}
