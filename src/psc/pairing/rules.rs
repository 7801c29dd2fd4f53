//! Who may pair, and what a person's pairing looks like at a given time.

use serde_json::json;

use super::PairingError;
use crate::audit::{AuditEvent, RequestContext};
use crate::authn::level::Level;
use crate::config::PairingSettings;
use crate::identity::{LinkMethod, Status};
use crate::psc::Ecps;
use crate::storage::identities::{self, IdentityRecord};
use crate::storage::links::{self, LinkRecord};
use crate::storage::pairings::{self, PairingRecord};

/// Whether a link was established by a person who checked it (an administrator, HR, or an
/// administrator confirming the reconciliation's suggestion), rather than read from a credential
/// the person presented.
fn link_checked_by_staff(link: &LinkRecord) -> bool {
    matches!(
        link.method.parse::<LinkMethod>(),
        Ok(LinkMethod::Admin | LinkMethod::RppsMatchConfirmed)
    )
}

/// The session rule: a phishing-resistant session (`loa3`), or a `loa1`/`loa2` session only
/// when the identity already has an RPPS link established by staff.
pub fn check_session(level: Level, link: Option<&LinkRecord>) -> Result<(), PairingError> {
    if level >= Level::Loa3 || link.is_some_and(link_checked_by_staff) {
        Ok(())
    } else {
        Err(PairingError::SessionTooWeak)
    }
}

/// Checks that the person behind a session may start a pairing; their identity and link. A
/// refusal is audited.
pub async fn may_pair(
    state: &Ecps<'_>,
    identity_id: &str,
    level: Level,
    ctx: &RequestContext,
) -> Result<(IdentityRecord, Option<LinkRecord>), PairingError> {
    let pool = state.db.pool();
    let identity = identities::by_id(pool, identity_id)
        .await?
        .ok_or(PairingError::AccountInactive)?;
    let link = links::of_identity(pool, identity_id).await?;
    let verdict = if identity.status != Status::Active {
        Err(PairingError::AccountInactive)
    } else {
        check_session(level, link.as_ref())
    };
    if let Err(e) = verdict {
        state
            .audit
            .record(
                AuditEvent::failure("pairing_started", e.reason())
                    .subject(identity_id)
                    .context(ctx)
                    .details(json!({ "level": level as u8, "link_method": link.as_ref().map(|l| l.method.clone()) })),
            )
            .await;
        return Err(e);
    }
    Ok((identity, link))
}

/// Days left before a live pairing expires, when that is within `warn_days` (the banner).
pub fn warning_days(p: &PairingRecord, now: i64, settings: &PairingSettings) -> Option<i64> {
    if p.status_at(now) != "active" {
        return None;
    }
    let left = p.expires_at - now;
    (left <= i64::from(settings.warn_days) * 86_400).then(|| (left + 86_399) / 86_400)
}

/// A person's pairing as their page shows it.
#[derive(Debug, Clone)]
pub struct PairingView {
    pub pairing: PairingRecord,
    /// `active`, `expired` or `revoked` now.
    pub status: &'static str,
    /// Days left, when the expiry warning applies.
    pub warn_days_left: Option<i64>,
}

/// The latest pairing of an identity, as of now.
pub async fn view(
    state: &Ecps<'_>,
    identity_id: &str,
) -> Result<Option<PairingView>, PairingError> {
    let now = state.clock.now();
    let Some(p) = pairings::latest_of(state.db.pool(), identity_id).await? else {
        return Ok(None);
    };
    Ok(Some(PairingView {
        status: p.status_at(now),
        warn_days_left: warning_days(&p, now, &state.settings.psc.pairing),
        pairing: p,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(method: &str) -> LinkRecord {
        LinkRecord {
            identity_id: "i".into(),
            idnat: "810001045367".into(),
            method: method.into(),
            linked_at: 0,
            linked_by: "x".into(),
        }
    }

    #[test]
    fn a_weak_session_needs_a_link_checked_by_staff() {
        assert!(check_session(Level::Loa3, None).is_ok());
        assert!(check_session(Level::Loa1, None).is_err());
        assert!(check_session(Level::Loa2, None).is_err());
        assert!(check_session(Level::Loa1, Some(&link("admin"))).is_ok());
        assert!(check_session(Level::Loa1, Some(&link("rpps_match_confirmed"))).is_ok());
        assert!(check_session(Level::Loa1, Some(&link("cps_card"))).is_err());
        assert!(check_session(Level::Loa1, Some(&link("ecps"))).is_err());
    }

    #[test]
    fn the_warning_starts_warn_days_before_expiry() {
        let settings = PairingSettings {
            validity_days: 365,
            warn_days: 30,
            link_unlinked: false,
        };
        let p = PairingRecord {
            id: "p".into(),
            identity_id: "i".into(),
            idnat: "810001045367".into(),
            means: "ciba".into(),
            validated_at: 0,
            expires_at: 365 * 86_400,
            status: "active".into(),
            created_link: 0,
            revoked_at: None,
            revoked_by: None,
            revoked_reason: None,
            acr: None,
        };
        assert_eq!(warning_days(&p, 0, &settings), None);
        assert_eq!(warning_days(&p, 335 * 86_400, &settings), Some(30));
        assert_eq!(warning_days(&p, 364 * 86_400 + 1, &settings), Some(1));
        assert_eq!(warning_days(&p, 365 * 86_400, &settings), None);
        assert_eq!(p.status_at(365 * 86_400), "expired");
    }
}
