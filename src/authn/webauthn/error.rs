//! Why a security-key ceremony failed: one stable code per reason, shared by the audit log and
//! the message shown to the person.

use webauthn_rs::prelude::WebauthnError;

/// An expected failure of a security-key ceremony.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("the ceremony is unknown, already used or expired")]
    CeremonyUnknown,
    #[error("the browser's answer cannot be read")]
    BadResponse,
    #[error("the key is not enrolled here")]
    UnknownKey,
    #[error("the key was removed or revoked")]
    Revoked,
    #[error("the key is suspended after a suspicious use")]
    Flagged,
    #[error("the key's signature counter went backwards (possible clone)")]
    CounterRegression,
    #[error("the key did not verify its user (PIN or biometric)")]
    UserNotVerified,
    #[error("the key did not see its user (touch)")]
    UserNotPresent,
    #[error("the ceremony ran on an origin that is not allowed")]
    WrongOrigin,
    #[error("the key signed for another relying party")]
    WrongRpId,
    #[error("the answer does not match the challenge")]
    ChallengeMismatch,
    #[error("the signature is invalid")]
    SignatureInvalid,
    #[error("the key is not of a model the establishment accepts")]
    ModelNotAllowed,
    #[error("the key is already enrolled")]
    AlreadyEnrolled,
    #[error("the key belongs to another account")]
    OwnerMismatch,
    #[error("the person has no usable key")]
    NoKey,
    #[error("the enrolment code is wrong, used or expired")]
    CodeInvalid,
    #[error("the account is not active")]
    AccountDisabled,
    #[error("too many attempts")]
    Throttled,
    #[error("security keys are not configured")]
    Disabled,
    #[error("the verification failed")]
    VerificationFailed,
    #[error("storage unavailable")]
    Unavailable,
    /// e-CPS does not authorise this enrolment.
    #[error("e-CPS does not authorise this enrolment ({})", .0.reason())]
    Ecps(EcpsRefusal),
}

/// Why e-CPS does not stand in for an enrolment code (docs/security-keys.md, "Enrolment
/// authorised by e-CPS").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EcpsRefusal {
    /// `webauthn.enrol_with_ecps` is off, or Pro Santé Connect is not configured.
    Disabled,
    /// The session holds no factor of its own besides e-CPS (a first factor of the person).
    FirstFactorMissing,
    /// Starting a validation follows the pairing's session rule.
    SessionTooWeak,
    /// The account has no RPPS link: nothing to compare the proven IdNat with.
    NoLink,
    /// Neither a valid pairing nor a fresh validation of this browser.
    NoProof,
    /// The pairing expired or was revoked.
    PairingInactive,
    /// e-CPS proved another IdNat than the account's link.
    Mismatch,
    /// The validation is older than `webauthn.ecps_proof_max_age_secs`.
    ProofStale,
    /// The validation already authorised an enrolment.
    ProofUsed,
    /// The person refused the request in the e-CPS app.
    Refused,
    /// Nobody answered the request in time.
    Expired,
    /// Pro Santé Connect cannot be reached.
    Unreachable,
    /// Pro Santé Connect refused the request (unknown professional, client refused...).
    PscFailed,
}

impl EcpsRefusal {
    pub fn reason(self) -> &'static str {
        match self {
            EcpsRefusal::Disabled => "ecps_enrolment_disabled",
            EcpsRefusal::FirstFactorMissing => "first_factor_missing",
            EcpsRefusal::SessionTooWeak => "session_too_weak",
            EcpsRefusal::NoLink => "no_rpps_link",
            EcpsRefusal::NoProof => "ecps_proof_missing",
            EcpsRefusal::PairingInactive => "pairing_inactive",
            EcpsRefusal::Mismatch => "idnat_mismatch",
            EcpsRefusal::ProofStale => "ecps_proof_stale",
            EcpsRefusal::ProofUsed => "ecps_proof_used",
            EcpsRefusal::Refused => "psc_access_denied",
            EcpsRefusal::Expired => "psc_expired_request",
            EcpsRefusal::Unreachable => "psc_unreachable",
            EcpsRefusal::PscFailed => "psc_failed",
        }
    }

    /// The refusal a stable reason code names (the page's address carries codes only).
    pub fn from_reason(code: &str) -> Option<EcpsRefusal> {
        use EcpsRefusal as E;
        [
            E::Disabled,
            E::FirstFactorMissing,
            E::SessionTooWeak,
            E::NoLink,
            E::NoProof,
            E::PairingInactive,
            E::Mismatch,
            E::ProofStale,
            E::ProofUsed,
            E::Refused,
            E::Expired,
            E::Unreachable,
            E::PscFailed,
        ]
        .into_iter()
        .find(|e| e.reason() == code)
    }
}

impl KeyError {
    /// The stable snake_case code of the audit log.
    pub fn reason(self) -> &'static str {
        match self {
            KeyError::CeremonyUnknown => "ceremony_unknown",
            KeyError::BadResponse => "bad_response",
            KeyError::UnknownKey => "unknown_key",
            KeyError::Revoked => "key_revoked",
            KeyError::Flagged => "key_flagged",
            KeyError::CounterRegression => "counter_regression",
            KeyError::UserNotVerified => "user_not_verified",
            KeyError::UserNotPresent => "user_not_present",
            KeyError::WrongOrigin => "wrong_origin",
            KeyError::WrongRpId => "wrong_rp_id",
            KeyError::ChallengeMismatch => "challenge_mismatch",
            KeyError::SignatureInvalid => "signature_invalid",
            KeyError::ModelNotAllowed => "model_not_allowed",
            KeyError::AlreadyEnrolled => "already_enrolled",
            KeyError::OwnerMismatch => "owner_mismatch",
            KeyError::NoKey => "no_key",
            KeyError::CodeInvalid => "enrolment_code_invalid",
            KeyError::AccountDisabled => "account_disabled",
            KeyError::Throttled => "throttled",
            KeyError::Disabled => "webauthn_disabled",
            KeyError::VerificationFailed => "verification_failed",
            KeyError::Unavailable => "storage_unavailable",
            KeyError::Ecps(e) => e.reason(),
        }
    }
}

impl From<sqlx::Error> for KeyError {
    fn from(e: sqlx::Error) -> Self {
        tracing::error!(error = %e, "security key storage failed");
        KeyError::Unavailable
    }
}

/// Maps the verifier's error to the reason a person and an auditor can act on.
pub fn classify(e: &WebauthnError) -> KeyError {
    use WebauthnError as W;
    match e {
        W::InvalidRPOrigin | W::CredentialCrossOrigin => KeyError::WrongOrigin,
        W::InvalidRPIDHash => KeyError::WrongRpId,
        W::MismatchedChallenge | W::ChallengeNotFound | W::InvalidClientDataType => {
            KeyError::ChallengeMismatch
        }
        W::UserNotVerified => KeyError::UserNotVerified,
        W::UserNotPresent => KeyError::UserNotPresent,
        W::CredentialPossibleCompromise => KeyError::CounterRegression,
        W::CredentialAlreadyExists | W::CredentialExcludedFromRequest => KeyError::AlreadyEnrolled,
        W::CredentialNotFound => KeyError::UnknownKey,
        W::AuthenticationFailure | W::SignatureInvalid => KeyError::SignatureInvalid,
        W::AttestationUntrustedAaguid
        | W::AttestationChainNotTrusted(_)
        | W::AttestationNotVerifiable
        | W::AttestationTrustFailure
        | W::AttestationCertificateTrustStoreEmpty
        | W::AttestationFormatMissingAaguid
        | W::AttestationLeafCertMissing
        | W::AttestationCertificateRequirementsNotMet
        | W::AttestationStatementX5CMissing
        | W::AttestationNotSupported
        | W::MissingAttestationCaList => KeyError::ModelNotAllowed,
        W::ParseBase64Failure(_)
        | W::ParseCBORFailure(_)
        | W::ParseJSONFailure(_)
        | W::ParseNOMFailure
        | W::ParseInsufficientBytesAvailable => KeyError::BadResponse,
        _ => KeyError::VerificationFailed,
    }
}
