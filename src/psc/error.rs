//! What can go wrong when Trousseau talks to Pro Santé Connect: one variant per failure a person
//! or an administrator must tell apart, each with a stable reason (audit) and a message key.

/// A failed exchange with PSC or a refused answer from it.
#[derive(Debug, thiserror::Error)]
pub enum PscError {
    #[error("Pro Santé Connect cannot be reached")]
    Unreachable,
    #[error("Pro Santé Connect did not answer in time")]
    Timeout,
    #[error("the TLS connection to Pro Santé Connect failed")]
    Tls,
    #[error("the discovery document of Pro Santé Connect is malformed")]
    DiscoveryMalformed,
    #[error("Pro Santé Connect publishes no usable signing key")]
    JwksEmpty,
    #[error("Pro Santé Connect failed (HTTP {0})")]
    ServerError(u16),
    #[error("the {0} answer of Pro Santé Connect is malformed")]
    Malformed(&'static str),
    #[error("Pro Santé Connect refused the client credentials")]
    InvalidClient,
    #[error("the person refused the request")]
    AccessDenied,
    #[error("the request expired before the person answered")]
    ExpiredToken,
    #[error("the person has not answered yet")]
    AuthorizationPending,
    #[error("polling too fast")]
    SlowDown,
    #[error("Pro Santé Connect does not know this professional")]
    UnknownUser,
    #[error("the ID token comes from another issuer")]
    WrongIssuer,
    #[error("the ID token is meant for another client")]
    WrongAudience,
    #[error("the ID token signature does not verify")]
    BadSignature,
    #[error("the ID token is signed with an algorithm other than RS256 or ES256, or not at all")]
    AlgRefused,
    #[error("the ID token is signed with a key Pro Santé Connect does not publish")]
    UnknownKey,
    #[error("the ID token has expired")]
    TokenExpired,
    #[error("the ID token answers another request (nonce)")]
    NonceMismatch,
    #[error("the ID token was already used (nonce replayed)")]
    NonceReplayed,
    #[error("the ID token's acr is not accepted")]
    InsufficientAcr,
    #[error("the proven national identifier is not a valid IdNat")]
    InvalidIdNat,
    #[error("Pro Santé Connect answered outside the protocol: {0}")]
    Protocol(String),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl PscError {
    /// Stable snake_case code, written in the audit log.
    pub fn reason(&self) -> &'static str {
        match self {
            PscError::Unreachable => "psc_unreachable",
            PscError::Timeout => "psc_timeout",
            PscError::Tls => "psc_tls",
            PscError::DiscoveryMalformed => "psc_discovery_malformed",
            PscError::JwksEmpty => "psc_jwks_empty",
            PscError::ServerError(_) => "psc_server_error",
            PscError::Malformed(_) => "psc_malformed_answer",
            PscError::InvalidClient => "psc_invalid_client",
            PscError::AccessDenied => "psc_access_denied",
            PscError::ExpiredToken => "psc_expired_request",
            PscError::AuthorizationPending => "psc_authorization_pending",
            PscError::SlowDown => "psc_slow_down",
            PscError::UnknownUser => "psc_unknown_user",
            PscError::WrongIssuer => "psc_wrong_issuer",
            PscError::WrongAudience => "psc_wrong_audience",
            PscError::BadSignature => "psc_bad_signature",
            PscError::AlgRefused => "psc_alg_refused",
            PscError::UnknownKey => "psc_unknown_kid",
            PscError::TokenExpired => "psc_token_expired",
            PscError::NonceMismatch => "psc_nonce_mismatch",
            PscError::NonceReplayed => "psc_nonce_replayed",
            PscError::InvalidIdNat => "psc_invalid_idnat",
            PscError::InsufficientAcr => "psc_insufficient_acr",
            PscError::Protocol(_) => "psc_protocol",
            PscError::Unexpected(_) => "psc_unexpected",
        }
    }

    /// The i18n key of the person's message (`web::i18n`, `psc_*` texts).
    pub fn message_key(&self) -> &'static str {
        match self {
            PscError::Unreachable | PscError::Timeout | PscError::ServerError(_) => {
                "psc_unreachable"
            }
            PscError::Tls => "psc_tls",
            PscError::AccessDenied => "psc_denied",
            PscError::ExpiredToken => "psc_expired",
            PscError::AuthorizationPending | PscError::SlowDown => "psc_pending",
            PscError::UnknownUser => "psc_unknown_user",
            PscError::WrongIssuer => "psc_wrong_issuer",
            PscError::WrongAudience => "psc_wrong_audience",
            PscError::BadSignature => "psc_bad_signature",
            PscError::AlgRefused => "psc_alg_refused",
            PscError::UnknownKey => "psc_unknown_kid",
            PscError::TokenExpired => "psc_token_expired",
            PscError::NonceMismatch => "psc_nonce_mismatch",
            PscError::NonceReplayed => "psc_nonce_replayed",
            PscError::InsufficientAcr => "psc_insufficient_acr",
            PscError::InvalidIdNat => "psc_invalid_idnat",
            PscError::DiscoveryMalformed
            | PscError::JwksEmpty
            | PscError::InvalidClient
            | PscError::Malformed(_)
            | PscError::Protocol(_)
            | PscError::Unexpected(_) => "psc_misconfigured",
        }
    }

    /// Whether trying again later may succeed (PSC down, slow or failing).
    pub fn transient(&self) -> bool {
        matches!(
            self,
            PscError::Unreachable | PscError::Timeout | PscError::ServerError(_)
        )
    }

    /// Classifies a transport failure.
    pub fn from_transport(e: &reqwest::Error) -> PscError {
        if e.is_timeout() {
            return PscError::Timeout;
        }
        let mut source: Option<&dyn std::error::Error> = Some(e);
        while let Some(s) = source {
            let text = s.to_string().to_ascii_lowercase();
            if s.is::<rustls::Error>() || text.contains("certificate") || text.contains("tls") {
                return PscError::Tls;
            }
            source = s.source();
        }
        if e.is_connect() || e.is_request() {
            return PscError::Unreachable;
        }
        PscError::Protocol(format!("transport: {e}"))
    }
}
