//! Why a pairing step was refused: a stable reason code (audit) and the text shown.

/// A refused pairing step.
#[derive(Debug, thiserror::Error)]
pub enum PairingError {
    /// A `loa1` session, and no RPPS link established by an administrator, HR or the
    /// reconciliation.
    #[error("the session is not strong enough to pair")]
    SessionTooWeak,
    #[error("the account is not active")]
    AccountInactive,
    /// No RPPS link, and `psc.pairing.link_unlinked` is off.
    #[error("the account has no RPPS link")]
    NoLink,
    /// e-CPS proved another IdNat than the account's RPPS link.
    #[error("the proven IdNat differs from the RPPS link")]
    Mismatch,
    /// The proven IdNat is already linked to another account.
    #[error("the proven IdNat is linked to another account")]
    LinkedElsewhere,
    /// A structure card's identifier names no person.
    #[error("the proven IdNat does not name a person")]
    NotPersonal,
    #[error("no such pairing request")]
    RequestUnknown,
    /// The request belongs to another browser or another person.
    #[error("the pairing request belongs to another session")]
    RequestForeign,
    #[error("the pairing request is already settled")]
    RequestSettled,
    #[error("no such pairing")]
    NotFound,
    /// Pro Santé Connect is not configured.
    #[error("Pro Santé Connect is not configured")]
    Disabled,
    /// Pro Santé Connect refused or failed (its own reason code).
    #[error("Pro Santé Connect: {0}")]
    Psc(#[from] crate::psc::PscError),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<sqlx::Error> for PairingError {
    fn from(e: sqlx::Error) -> Self {
        PairingError::Unexpected(anyhow::Error::new(e).context("pairing storage"))
    }
}

impl PairingError {
    /// The stable snake_case code written in the audit trail.
    pub fn reason(&self) -> &'static str {
        match self {
            PairingError::SessionTooWeak => "session_too_weak",
            PairingError::AccountInactive => "account_inactive",
            PairingError::NoLink => "no_rpps_link",
            PairingError::Mismatch => "idnat_mismatch",
            PairingError::LinkedElsewhere => "idnat_linked_elsewhere",
            PairingError::NotPersonal => "idnat_not_personal",
            PairingError::RequestUnknown => "request_unknown",
            PairingError::RequestForeign => "request_foreign",
            PairingError::RequestSettled => "request_settled",
            PairingError::NotFound => "pairing_unknown",
            PairingError::Disabled => "psc_disabled",
            PairingError::Psc(e) => e.reason(),
            PairingError::Unexpected(_) => "internal_error",
        }
    }
}
