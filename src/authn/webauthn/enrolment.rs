//! Enrolment codes: the one-time authorisation an admin or the helpdesk hands to a person after
//! checking their identity in person, so that they can enrol their first security key. Stored
//! hashed, single use, short-lived; a new code replaces the previous one.

use serde_json::json;

use super::error::KeyError;
use crate::audit::{AuditEvent, RequestContext};
use crate::authn::Authn;
use crate::authn::level::{AuthFactor, Method};
use crate::authn::throttle::{self, Blocked};
use crate::crypto::{hash_secret, random_bytes};
use crate::identity::{IdentityDocument, LinkMethod};
use crate::storage::identities::{self, IdentityRecord};
use crate::storage::roles;
use crate::storage::security_keys::{self as store, CodeRecord};

/// Crockford's base32 alphabet: no I, L, O or U to misread on a printed slip.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// 12 characters = 60 bits.
const CODE_LEN: usize = 12;

/// A code to read out: `7KQ2-M9PD-X4RT`.
#[derive(Debug, Clone)]
pub struct IssuedCode {
    pub code: String,
    pub expires_at: i64,
}

fn generate() -> String {
    let raw: String = random_bytes(CODE_LEN)
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(b % 32)]))
        .collect();
    raw.as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("-")
}

/// A typed code, normalised: case, spaces and dashes do not matter, and the letters people
/// confuse with digits read as those digits.
pub fn normalise(typed: &str) -> String {
    typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| match c.to_ascii_uppercase() {
            'O' => '0',
            'I' | 'L' => '1',
            other => other,
        })
        .collect()
}

/// The stored form of a code.
pub fn code_hash(typed: &str) -> String {
    hash_secret(&format!("enrolment:{}", normalise(typed)))
}

/// Whether a session may enrol a key without a code: it must hold a phishing-resistant factor.
/// When the identity's RPPS link came from an e-CPS pairing (`link_method` `ecps`: nobody at
/// the establishment checked it), a card does not count, since the card reaches the identity
/// through that very link: such a person needs a helpdesk code or an enrolled key.
pub fn session_may_enrol(factors: &[AuthFactor], link_method: Option<&str>) -> bool {
    let link_unchecked = link_method == Some(LinkMethod::Ecps.as_str());
    factors
        .iter()
        .any(|f| f.method.phishing_resistant() && !(link_unchecked && f.method == Method::Card))
}

/// How the person's identity was checked before the code is handed over: the evidence an
/// eIDAS "substantial" level needs.
#[derive(Debug, Clone)]
pub struct IdentityCheckInput {
    /// The person who checked (name of the agent).
    pub checked_by: String,
    pub document: IdentityDocument,
    /// Checked remotely (video), not in person.
    pub remote: bool,
}

/// Issues a code for `identity` (the previous unused one stops working), recording the
/// identity check made before it when there is one, in the same transaction.
pub async fn issue(
    state: &Authn<'_>,
    identity: &IdentityRecord,
    ttl_secs: i64,
    actor: &str,
    check: Option<&IdentityCheckInput>,
) -> anyhow::Result<IssuedCode> {
    let code = generate();
    let now = state.clock.now();
    let expires_at = now + ttl_secs;
    let mut tx = state.db.begin().await?;
    let check_id = match check {
        Some(c) => Some(record_check(state, &mut tx, identity, c, actor, now).await?),
        None => None,
    };
    store::insert_code(
        &mut tx,
        &CodeRecord {
            code_hash: code_hash(&code),
            identity_id: identity.id.clone(),
            created_at: now,
            created_by: actor.to_owned(),
            expires_at,
            used_at: None,
            identity_check_id: check_id.clone(),
        },
    )
    .await?;
    state
        .audit
        .in_tx(
            &mut tx,
            AuditEvent::success("enrolment_code_issued")
                .actor(actor)
                .subject(&identity.id)
                .details(json!({ "expires_at": expires_at, "identity_check": check_id })),
        )
        .await?;
    tx.commit().await?;
    Ok(IssuedCode { code, expires_at })
}

async fn record_check(
    state: &Authn<'_>,
    tx: &mut crate::storage::Tx,
    identity: &IdentityRecord,
    c: &IdentityCheckInput,
    actor: &str,
    now: i64,
) -> anyhow::Result<String> {
    let id = uuid::Uuid::now_v7().to_string();
    roles::insert_check(
        tx,
        &roles::IdentityCheck {
            id: id.clone(),
            identity_id: identity.id.clone(),
            checked_by: c.checked_by.clone(),
            document: c.document.as_str().to_owned(),
            remote: i64::from(c.remote),
            checked_at: now,
            recorded_by: actor.to_owned(),
        },
    )
    .await?;
    state
        .audit
        .in_tx(
            tx,
            AuditEvent::success("identity_checked")
                .actor(actor)
                .subject(&identity.id)
                .details(json!({
                    "check": id, "checked_by": c.checked_by,
                    "document": c.document, "remote": c.remote,
                })),
        )
        .await?;
    Ok(id)
}

/// Checks a username and code pair (throttled like a password); the code is spent only when a
/// key is enrolled with it.
pub async fn redeem(
    state: &Authn<'_>,
    username: &str,
    typed_code: &str,
    ctx: &RequestContext,
) -> Result<(IdentityRecord, String), KeyError> {
    let now = state.clock.now();
    let identity = identities::by_username(state.db.pool(), username.trim()).await?;
    let throttle_key = match &identity {
        Some(i) => format!("enrol:{}", i.id),
        None => format!("enrol:unknown:{}", username.trim().to_lowercase()),
    };
    let ip = ctx.source_ip.as_deref();
    let fail = |reason: &'static str, subject: Option<&str>| {
        let mut ev = AuditEvent::failure("enrolment_code_checked", reason)
            .context(ctx)
            .details(json!({ "username": username }));
        if let Some(s) = subject {
            ev = ev.subject(s);
        }
        ev
    };
    let subject = identity.as_ref().map(|i| i.id.clone());
    match throttle::check(
        state.db,
        &state.settings.throttle,
        now,
        Some(&throttle_key),
        ip,
    )
    .await?
    {
        None => {}
        Some(Blocked::Account { .. } | Blocked::Address { .. }) => {
            state
                .audit
                .record(fail("throttled", subject.as_deref()))
                .await;
            return Err(KeyError::Throttled);
        }
    }
    let hash = code_hash(typed_code);
    let code = store::live_code(state.db.pool(), &hash, now).await?;
    let valid = match (&identity, &code) {
        (Some(i), Some(c)) => c.identity_id == i.id,
        _ => false,
    };
    let Some(identity) = identity.filter(|_| valid) else {
        throttle::failure(
            state.db,
            &state.settings.throttle,
            now,
            Some(&throttle_key),
            ip,
        )
        .await?;
        state
            .audit
            .record(fail(KeyError::CodeInvalid.reason(), subject.as_deref()))
            .await;
        return Err(KeyError::CodeInvalid);
    };
    if !identity.status.is_active() {
        state
            .audit
            .record(fail(KeyError::AccountDisabled.reason(), Some(&identity.id)))
            .await;
        return Err(KeyError::AccountDisabled);
    }
    Ok((identity, hash))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_grouped_and_unambiguous() {
        let c = generate();
        assert_eq!(c.len(), 14);
        assert_eq!(c.matches('-').count(), 2);
        assert!(
            c.chars()
                .all(|ch| ch == '-' || ALPHABET.contains(&(ch as u8)))
        );
        assert_eq!(normalise(&c.to_lowercase()), c.replace('-', ""));
    }

    #[test]
    fn a_card_behind_an_ecps_link_does_not_authorise_enrolment() {
        let card = AuthFactor {
            method: Method::Card,
            user_verified: true,
        };
        let key = AuthFactor {
            method: Method::SecurityKey,
            user_verified: true,
        };
        let pwd = AuthFactor {
            method: Method::Password,
            user_verified: false,
        };
        assert!(session_may_enrol(&[pwd, card], Some("admin")));
        assert!(session_may_enrol(&[card], None));
        assert!(!session_may_enrol(&[pwd, card], Some("ecps")));
        assert!(session_may_enrol(&[key], Some("ecps")));
        assert!(!session_may_enrol(&[pwd], None));
    }

    #[test]
    fn typing_slips_are_forgiven() {
        assert_eq!(normalise(" 7kq2-m9pd x4rt "), "7KQ2M9PDX4RT");
        assert_eq!(normalise("OIL0"), "0110");
        assert_eq!(code_hash("abcd-efgh-0000"), code_hash("ABCDEFGHOOOO"));
    }
}
