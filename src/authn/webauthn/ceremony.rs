//! The WebAuthn ceremonies: enrolment of a key, and assertions (second factor after a password,
//! or passwordless with a discoverable credential). Each ceremony's verifier state waits in the
//! database between the options and the browser's answer, and is taken out exactly once: a
//! replayed answer finds nothing.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use uuid::Uuid;
use webauthn_rs::prelude::{
    AttestationMetadata, AuthenticatorAttachment, Credential, DiscoverableAuthentication,
    PublicKeyCredential, RegisterPublicKeyCredential, SecurityKey, SecurityKeyAuthentication,
    SecurityKeyRegistration,
};

use super::error::{KeyError, classify};
use super::verifier::Verifier;
use crate::audit::{AuditEvent, RequestContext};
use crate::authn::Authn;
use crate::crypto::random_token;
use crate::storage::identities::{self, IdentityRecord};
use crate::storage::security_keys::{self as store, CeremonyRecord, KeyRecord};

/// Extra seconds a ceremony's state outlives the browser's own timeout.
const GRACE_SECS: i64 = 60;
/// Longest key name kept.
pub const NAME_MAX: usize = 60;

/// What the browser needs to run a ceremony.
#[derive(Debug, serde::Serialize)]
pub struct Options {
    pub ceremony: String,
    /// `{"publicKey": …}` (and `mediation` for conditional UI), base64url for binary fields.
    pub options: Value,
}

/// What authorises an enrolment.
#[derive(Debug, Clone)]
pub enum Authorisation {
    /// A one-time code from an admin or the helpdesk (its hash), spent with the enrolment.
    Code(String),
    /// A session already holding a strong factor (another key, a card).
    StrongSession,
    /// e-CPS, with a session of the person (docs/security-keys.md, "Enrolment authorised by
    /// e-CPS"): checked again, and a validation spent, when the key is stored.
    Ecps(EcpsGrant),
}

/// The e-CPS authority of an enrolment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EcpsGrant {
    /// The person's valid pairing (its id).
    Pairing(String),
    /// A fresh e-CPS validation made for the enrolment (the CIBA request's id): single use.
    Ciba(String),
}

impl EcpsGrant {
    /// The stored form (`pairing:ID`, `ciba:ID`).
    pub fn stored(&self) -> String {
        match self {
            EcpsGrant::Pairing(id) => format!("pairing:{id}"),
            EcpsGrant::Ciba(id) => format!("ciba:{id}"),
        }
    }

    pub fn parse(s: &str) -> Option<EcpsGrant> {
        match s.split_once(':')? {
            ("pairing", id) if !id.is_empty() => Some(EcpsGrant::Pairing(id.to_owned())),
            ("ciba", id) if !id.is_empty() => Some(EcpsGrant::Ciba(id.to_owned())),
            _ => None,
        }
    }

    /// How a key enrolled on this authority was authorised (`created_via`).
    pub fn via(&self) -> &'static str {
        match self {
            EcpsGrant::Pairing(_) => VIA_ECPS_PAIRING,
            EcpsGrant::Ciba(_) => VIA_ECPS_CIBA,
        }
    }
}

/// How a key's enrolment was authorised, as stored (`created_via`).
const VIA_CODE: &str = "enrolment_code";
const VIA_SESSION: &str = "strong_session";
const VIA_ECPS_PAIRING: &str = "ecps_pairing";
const VIA_ECPS_CIBA: &str = "ecps_ciba";

/// Which assertion is asked.
#[derive(Debug, Clone)]
pub enum Assertion {
    /// After a password (or for a step-up): this person's keys, user verification not required.
    SecondFactor { identity_id: String },
    /// No username: the key says who it is; user verification required.
    Passwordless { conditional: bool },
}

/// A verified assertion.
#[derive(Debug)]
pub struct Verified {
    pub identity_id: String,
    pub key_id: String,
    pub key_name: String,
    pub user_verified: bool,
    /// The key's verifier state after this use, and its counter.
    pub credential: String,
    pub counter: i64,
}

fn verifier<'a>(state: &'a Authn<'_>) -> Result<&'a Verifier, KeyError> {
    state.security_keys.as_deref().ok_or(KeyError::Disabled)
}

fn user_handle(identity_id: &str) -> Result<Uuid, KeyError> {
    Uuid::parse_str(identity_id).map_err(|_| KeyError::VerificationFailed)
}

fn load_credential(k: &KeyRecord) -> Result<Credential, KeyError> {
    serde_json::from_str(&k.credential).map_err(|e| {
        tracing::error!(key = %k.id, error = %e, "a stored security key cannot be read");
        KeyError::Unavailable
    })
}

async fn save_ceremony(
    state: &Authn<'_>,
    kind: &str,
    identity_id: Option<&str>,
    flow_id: Option<&str>,
    auth: Option<&Authorisation>,
    verifier_state: &impl serde::Serialize,
) -> Result<String, KeyError> {
    let (code_hash, ecps_grant) = match auth {
        Some(Authorisation::Code(h)) => (Some(h.clone()), None),
        Some(Authorisation::Ecps(g)) => (None, Some(g.stored())),
        Some(Authorisation::StrongSession) | None => (None, None),
    };
    let id = random_token(24);
    let now = state.clock.now();
    let ttl = i64::try_from(state.settings.webauthn.timeout_secs).unwrap_or(600) + GRACE_SECS;
    store::insert_ceremony(
        state.db.pool(),
        &CeremonyRecord {
            id: id.clone(),
            kind: kind.to_owned(),
            identity_id: identity_id.map(str::to_owned),
            flow_id: flow_id.map(str::to_owned),
            code_hash,
            state: serde_json::to_string(verifier_state).map_err(|_| KeyError::Unavailable)?,
            expires_at: now + ttl,
            ecps_grant,
        },
    )
    .await?;
    Ok(id)
}

/// Takes a live ceremony out of storage: one of `kinds`, started in `flow_id`.
async fn take(
    state: &Authn<'_>,
    id: &str,
    kinds: &[&str],
    flow_id: Option<&str>,
) -> Result<CeremonyRecord, KeyError> {
    match store::take_ceremony(state.db.pool(), id).await? {
        Some(c)
            if kinds.contains(&c.kind.as_str())
                && c.expires_at > state.clock.now()
                && c.flow_id.as_deref() == flow_id =>
        {
            Ok(c)
        }
        _ => Err(KeyError::CeremonyUnknown),
    }
}

/// Starts enrolling a key for `identity`.
pub async fn start_enrolment(
    state: &Authn<'_>,
    identity: &IdentityRecord,
    auth: &Authorisation,
    flow_id: Option<&str>,
) -> Result<Options, KeyError> {
    let v = verifier(state)?;
    if !v.can_enrol() {
        return Err(KeyError::ModelNotAllowed);
    }
    if !identity.status.is_active() {
        return Err(KeyError::AccountDisabled);
    }
    let existing = store::of_identity(state.db.pool(), &identity.id).await?;
    let exclude: Vec<_> = existing
        .iter()
        .filter(|k| k.revoked_at.is_none())
        .filter_map(|k| URL_SAFE_NO_PAD.decode(&k.credential_id).ok())
        .collect();
    let display = format!("{} {}", identity.given_name, identity.family_name);
    let (ccr, reg) = v
        .webauthn
        .start_securitykey_registration(
            user_handle(&identity.id)?,
            &identity.username,
            display.trim(),
            (!exclude.is_empty()).then_some(exclude),
            v.ca_list.clone(),
            Some(AuthenticatorAttachment::CrossPlatform),
        )
        .map_err(|e| {
            tracing::error!(error = ?e, "cannot start a key enrolment");
            KeyError::VerificationFailed
        })?;
    let mut options = serde_json::to_value(&ccr).map_err(|_| KeyError::Unavailable)?;
    // A discoverable credential when the key can hold one (passwordless login), and the key's
    // PIN asked when it has one: the key is then worth two factors on its own.
    if let Some(sel) = options
        .pointer_mut("/publicKey/authenticatorSelection")
        .and_then(Value::as_object_mut)
    {
        sel.insert("residentKey".into(), json!("preferred"));
        sel.insert("requireResidentKey".into(), json!(false));
        sel.insert("userVerification".into(), json!("preferred"));
    }
    // The credential stays usable without the PIN when its id is given (second factor after a
    // password), and is not listed to anyone without the PIN (passwordless).
    if let Some(ext) = options
        .pointer_mut("/publicKey/extensions")
        .and_then(Value::as_object_mut)
    {
        ext.insert(
            "credentialProtectionPolicy".into(),
            json!("userVerificationOptionalWithCredentialIDList"),
        );
        ext.insert("enforceCredentialProtectionPolicy".into(), json!(false));
    }
    let ceremony = save_ceremony(
        state,
        "register",
        Some(&identity.id),
        flow_id,
        Some(auth),
        &reg,
    )
    .await?;
    Ok(Options { ceremony, options })
}

/// Finishes an enrolment: verifies the attestation against the policy, stores the key and
/// spends the enrolment code in one transaction.
pub async fn finish_enrolment(
    state: &Authn<'_>,
    ceremony_id: &str,
    flow_id: Option<&str>,
    response: &str,
    name: &str,
    ctx: &RequestContext,
) -> Result<KeyRecord, KeyError> {
    let result = finish_enrolment_inner(state, ceremony_id, flow_id, response, name, ctx).await;
    if let Err((e, identity)) = &result {
        let mut ev = AuditEvent::failure("security_key_enrolled", e.reason()).context(ctx);
        if let Some(id) = identity {
            ev = ev.subject(id);
        }
        state.audit.record(ev).await;
    }
    result.map_err(|(e, _)| e)
}

async fn finish_enrolment_inner(
    state: &Authn<'_>,
    ceremony_id: &str,
    flow_id: Option<&str>,
    response: &str,
    name: &str,
    ctx: &RequestContext,
) -> Result<KeyRecord, (KeyError, Option<String>)> {
    let v = verifier(state).map_err(|e| (e, None))?;
    let c = take(state, ceremony_id, &["register"], flow_id)
        .await
        .map_err(|e| (e, None))?;
    let identity_id = c.identity_id.clone().unwrap_or_default();
    let fail = |e: KeyError| (e, Some(identity_id.clone()));
    let reg: SecurityKeyRegistration =
        serde_json::from_str(&c.state).map_err(|_| fail(KeyError::Unavailable))?;
    let rsp: RegisterPublicKeyCredential =
        serde_json::from_str(response).map_err(|_| fail(KeyError::BadResponse))?;
    let sk = v
        .webauthn
        .finish_securitykey_registration(&rsp, &reg)
        .map_err(|e| {
            tracing::info!(error = ?e, "a key enrolment was refused");
            fail(classify(&e))
        })?;
    let credential_id = URL_SAFE_NO_PAD.encode(sk.cred_id());
    if store::by_credential_id(state.db.pool(), &credential_id)
        .await
        .map_err(|e| fail(e.into()))?
        .is_some()
    {
        return Err(fail(KeyError::AlreadyEnrolled));
    }
    let aaguid = match &sk.attestation().metadata {
        AttestationMetadata::Packed { aaguid } | AttestationMetadata::Tpm { aaguid, .. } => {
            Some(*aaguid)
        }
        _ => None,
    };
    let attested = v.ca_list.is_some();
    let model = aaguid.and_then(|a| v.model_name(&a).map(str::to_owned));
    let credential: Credential = sk.into();
    let now = state.clock.now();
    let ecps = match c.ecps_grant.as_deref() {
        Some(g) => Some(EcpsGrant::parse(g).ok_or_else(|| fail(KeyError::CeremonyUnknown))?),
        None => None,
    };
    let mut linked_idnat = None;
    if ecps.is_some() {
        // The account may have been suspended, or linked to someone else, since the options.
        let active = identities::by_id(state.db.pool(), &identity_id)
            .await
            .map_err(|e| fail(e.into()))?
            .is_some_and(|i| i.status.is_active());
        if !active {
            return Err(fail(KeyError::AccountDisabled));
        }
        linked_idnat = crate::storage::links::of_identity(state.db.pool(), &identity_id)
            .await
            .map_err(|e| fail(e.into()))?
            .map(|l| l.idnat);
    }
    let name = clean_name(name);
    let record = KeyRecord {
        id: Uuid::now_v7().to_string(),
        identity_id: identity_id.clone(),
        credential_id,
        name: if name.is_empty() {
            "Clé de sécurité".to_owned()
        } else {
            name
        },
        credential: serde_json::to_string(&credential).map_err(|_| fail(KeyError::Unavailable))?,
        aaguid: aaguid.map(|a| a.to_string()),
        model,
        attested: i64::from(attested),
        user_verified: i64::from(credential.user_verified),
        counter: i64::from(credential.counter),
        created_at: now,
        created_via: match (&c.code_hash, &ecps) {
            (Some(_), _) => VIA_CODE,
            (None, Some(g)) => g.via(),
            (None, None) => VIA_SESSION,
        }
        .to_owned(),
        last_used_at: None,
        flagged_at: None,
        flag_reason: None,
        revoked_at: None,
        revoked_by: None,
        revoked_reason: None,
    };
    let mut tx = state.db.begin().await.map_err(|e| fail(e.into()))?;
    if let Some(code) = &c.code_hash
        && !store::use_code(&mut tx, code, now)
            .await
            .map_err(|e| fail(e.into()))?
    {
        return Err(fail(KeyError::CodeInvalid));
    }
    let authorised = match &ecps {
        Some(g) => Some(
            spend_ecps(
                state,
                &mut tx,
                g,
                &identity_id,
                linked_idnat.as_deref(),
                now,
            )
            .await
            .map_err(fail)?,
        ),
        None => None,
    };
    store::insert(&mut tx, &record)
        .await
        .map_err(|e| fail(e.into()))?;
    if let Some(details) = authorised {
        let mut details = details;
        details["key"] = json!(record.id);
        let ev = AuditEvent::success("security_key_enrolment_authorised")
            .actor(&identity_id)
            .subject(&identity_id)
            .reason(record.created_via.as_str())
            .context(ctx)
            .details(details);
        state
            .audit
            .in_tx(&mut tx, ev)
            .await
            .map_err(|e| fail(e.into()))?;
    }
    state
        .audit
        .in_tx(
            &mut tx,
            AuditEvent::success("security_key_enrolled")
                .subject(&identity_id)
                .context(ctx)
                .details(json!({
                    "key": record.id,
                    "name": record.name,
                    "aaguid": record.aaguid,
                    "model": record.model,
                    "attested": attested,
                    "user_verified": record.user_verified != 0,
                    "via": record.created_via,
                })),
        )
        .await
        .map_err(|e| fail(e.into()))?;
    tx.commit().await.map_err(|e| fail(e.into()))?;
    Ok(record)
}

/// Checks again, in the transaction that stores the key, the e-CPS authority of an enrolment:
/// the pairing is still active, or the validation is still fresh and unspent (then spent: two
/// enrolments racing on one validation store one key), and what it proved is still the IdNat
/// of the account's link (`linked_idnat`). What the audit event says about it.
async fn spend_ecps(
    state: &Authn<'_>,
    tx: &mut crate::storage::Tx,
    grant: &EcpsGrant,
    identity_id: &str,
    linked_idnat: Option<&str>,
    now: i64,
) -> Result<Value, KeyError> {
    use super::EcpsRefusal;
    let details = spend_grant(state, tx, grant, identity_id, now).await?;
    match (details["idnat"].as_str(), linked_idnat) {
        (Some(proven), Some(linked)) if proven == linked => Ok(details),
        (_, None) => Err(KeyError::Ecps(EcpsRefusal::NoLink)),
        _ => Err(KeyError::Ecps(EcpsRefusal::Mismatch)),
    }
}

async fn spend_grant(
    state: &Authn<'_>,
    tx: &mut crate::storage::Tx,
    grant: &EcpsGrant,
    identity_id: &str,
    now: i64,
) -> Result<Value, KeyError> {
    use super::EcpsRefusal;
    use crate::storage::pairings;
    match grant {
        EcpsGrant::Pairing(id) => {
            let p = pairings::live_pairing(tx, id, identity_id, now)
                .await?
                .ok_or(KeyError::Ecps(EcpsRefusal::PairingInactive))?;
            Ok(json!({
                "pairing": p.id, "idnat": p.idnat, "means": p.means,
                "validated_at": p.validated_at, "acr": p.acr,
            }))
        }
        EcpsGrant::Ciba(id) => {
            let max_age = state.settings.webauthn.ecps_proof_max_age_secs;
            match pairings::spend_proof(tx, id, identity_id, now - max_age, now).await? {
                (true, Some(r)) => Ok(json!({
                    "request": r.id, "idnat": r.idnat, "acr": r.acr,
                    "validated_at": r.settled_at,
                })),
                (_, r) => Err(KeyError::Ecps(match r {
                    Some(r) if r.used_at.is_some() => EcpsRefusal::ProofUsed,
                    Some(r) if r.settled_at.is_some_and(|t| t <= now - max_age) => {
                        EcpsRefusal::ProofStale
                    }
                    _ => EcpsRefusal::NoProof,
                })),
            }
        }
    }
}

/// A key name as a person typed it: trimmed, control characters dropped, bounded.
pub fn clean_name(name: &str) -> String {
    name.trim()
        .chars()
        .filter(|c| !c.is_control())
        .take(NAME_MAX)
        .collect()
}

/// Starts an assertion.
pub async fn start_assertion(
    state: &Authn<'_>,
    kind: &Assertion,
    flow_id: Option<&str>,
) -> Result<Options, KeyError> {
    let v = verifier(state)?;
    match kind {
        Assertion::SecondFactor { identity_id } => {
            let keys: Vec<SecurityKey> = store::of_identity(state.db.pool(), identity_id)
                .await?
                .iter()
                .filter(|k| k.usable())
                .map(|k| load_credential(k).map(SecurityKey::from))
                .collect::<Result<_, _>>()?;
            if keys.is_empty() {
                return Err(KeyError::NoKey);
            }
            let (rcr, auth) = v
                .webauthn
                .start_securitykey_authentication(&keys)
                .map_err(|e| {
                    tracing::error!(error = ?e, "cannot start a key assertion");
                    KeyError::VerificationFailed
                })?;
            let options = serde_json::to_value(&rcr).map_err(|_| KeyError::Unavailable)?;
            let ceremony = save_ceremony(
                state,
                "second_factor",
                Some(identity_id),
                flow_id,
                None,
                &auth,
            )
            .await?;
            Ok(Options { ceremony, options })
        }
        Assertion::Passwordless { conditional } => {
            let (rcr, auth) = v
                .webauthn
                .start_discoverable_authentication()
                .map_err(|e| {
                    tracing::error!(error = ?e, "cannot start a passwordless assertion");
                    KeyError::VerificationFailed
                })?;
            let mut options = serde_json::to_value(&rcr).map_err(|_| KeyError::Unavailable)?;
            if let Some(o) = options.as_object_mut() {
                if *conditional {
                    o.insert("mediation".into(), json!("conditional"));
                } else {
                    o.remove("mediation");
                }
            }
            let ceremony = save_ceremony(state, "passwordless", None, flow_id, None, &auth).await?;
            Ok(Options { ceremony, options })
        }
    }
}

/// Finishes an assertion: the key, its owner, the signature, user presence (and verification
/// when passwordless), the challenge, origin and RP ID, and the signature counter. Failures are
/// audited here; a counter that goes backwards flags the key.
pub async fn finish_assertion(
    state: &Authn<'_>,
    ceremony_id: &str,
    response: &str,
    flow_id: Option<&str>,
    ctx: &RequestContext,
) -> Result<Verified, KeyError> {
    let mut subject: Option<String> = None;
    let mut key: Option<String> = None;
    let result = assertion_inner(
        state,
        ceremony_id,
        response,
        flow_id,
        &mut subject,
        &mut key,
    )
    .await;
    if let Err(e) = &result {
        let mut ev = AuditEvent::failure("login", e.reason())
            .context(ctx)
            .details(json!({ "method": "security_key", "key": key }));
        if let Some(s) = &subject {
            ev = ev.subject(s);
        }
        state.audit.record(ev).await;
        if *e == KeyError::CounterRegression
            && let Some(k) = &key
            && store::flag(state.db.pool(), k, "counter_regression", state.clock.now())
                .await
                .unwrap_or(false)
        {
            let mut ev = AuditEvent::failure("security_key_flagged", "counter_regression")
                .context(ctx)
                .details(json!({ "key": k }));
            if let Some(s) = &subject {
                ev = ev.subject(s);
            }
            state.audit.record(ev).await;
        }
    }
    result
}

async fn assertion_inner(
    state: &Authn<'_>,
    ceremony_id: &str,
    response: &str,
    flow_id: Option<&str>,
    subject: &mut Option<String>,
    key_seen: &mut Option<String>,
) -> Result<Verified, KeyError> {
    let v = verifier(state)?;
    let rsp: PublicKeyCredential =
        serde_json::from_str(response).map_err(|_| KeyError::BadResponse)?;
    let c = take(
        state,
        ceremony_id,
        &["second_factor", "passwordless"],
        flow_id,
    )
    .await?;
    let credential_id = URL_SAFE_NO_PAD.encode(rsp.raw_id.as_ref() as &[u8]);
    let record = store::by_credential_id(state.db.pool(), &credential_id)
        .await?
        .ok_or(KeyError::UnknownKey)?;
    *key_seen = Some(record.id.clone());
    *subject = Some(record.identity_id.clone());
    if record.revoked_at.is_some() {
        return Err(KeyError::Revoked);
    }
    if record.flagged_at.is_some() {
        return Err(KeyError::Flagged);
    }
    let credential = load_credential(&record)?;
    let stored_counter = credential.counter;
    let result = match c.kind.as_str() {
        "second_factor" => {
            if c.identity_id.as_deref() != Some(record.identity_id.as_str()) {
                return Err(KeyError::OwnerMismatch);
            }
            let auth: SecurityKeyAuthentication =
                serde_json::from_str(&c.state).map_err(|_| KeyError::Unavailable)?;
            v.webauthn
                .finish_securitykey_authentication(&rsp, &auth)
                .map_err(|e| classify(&e))?
        }
        "passwordless" => {
            let auth: DiscoverableAuthentication =
                serde_json::from_str(&c.state).map_err(|_| KeyError::Unavailable)?;
            let (handle, _) = v
                .webauthn
                .identify_discoverable_authentication(&rsp)
                .map_err(|e| classify(&e))?;
            if handle != user_handle(&record.identity_id)? {
                return Err(KeyError::OwnerMismatch);
            }
            v.webauthn
                .finish_discoverable_authentication_v2(&rsp, auth, &credential)
                .map_err(|e| classify(&e))?
        }
        _ => return Err(KeyError::CeremonyUnknown),
    };
    let counter = result.counter();
    if (counter != 0 || stored_counter != 0) && counter <= stored_counter {
        return Err(KeyError::CounterRegression);
    }
    let identity = identities::by_id(state.db.pool(), &record.identity_id)
        .await?
        .ok_or(KeyError::UnknownKey)?;
    if !identity.status.is_active() {
        return Err(KeyError::AccountDisabled);
    }
    let mut sk = SecurityKey::from(credential);
    sk.update_credential(&result);
    let updated: Credential = sk.into();
    Ok(Verified {
        identity_id: record.identity_id,
        key_id: record.id,
        key_name: record.name,
        user_verified: result.user_verified(),
        credential: serde_json::to_string(&updated).map_err(|_| KeyError::Unavailable)?,
        counter: i64::from(counter),
    })
}
