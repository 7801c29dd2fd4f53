//! Why a request to the token endpoint is refused (RFC 6749 §5.2), and why a client's
//! authentication fails there or at the other endpoints that authenticate clients
//! (introspection, revocation, pushed requests).

refusal_codes! {
    /// A failed client authentication (RFC 6749 §2.3, RFC 7523 §3), by reason.
    ClientAuthRefusal;
    /// An `Authorization` header that is not HTTP Basic with client credentials.
    MalformedBasicAuth => ("malformed_basic_auth", InvalidClient),
    /// No client authentication at all, and no `client_id`.
    NoClientAuth => ("no_client_auth", InvalidClient),
    /// Two methods at once (HTTP Basic and a form secret, or a secret and an assertion).
    SeveralMethods => ("several_client_auth_methods", InvalidRequest),
    /// The form's `client_id` names another client than the credentials.
    ClientIdMismatch => ("client_id_mismatch", InvalidRequest),
    /// No registered client has this id.
    UnknownClient => ("unknown_client", InvalidClient),
    /// The secret does not verify.
    WrongClientSecret => ("wrong_client_secret", InvalidClient),
    /// The client is registered with another authentication method.
    WrongClientAuthMethod => ("wrong_client_auth_method", InvalidClient),
    /// The client authenticated, but an administrator disabled it.
    ClientDisabled => ("client_disabled", InvalidClient),
    /// A public client at an endpoint for confidential clients (introspection).
    PublicClient => ("public_client", InvalidClient),
    /// `client_assertion_type` is not the JWT bearer type.
    BadAssertionType => ("bad_assertion_type", InvalidClient),
    /// An assertion that is not a JWT, or lacks `iss`, `sub`, `exp` or `jti`.
    MalformedAssertion => ("malformed_assertion", InvalidClient),
    /// The assertion's issuer differs from the form's `client_id` (same reason code as
    /// `ClientIdMismatch`, answered as a failed authentication).
    AssertionIssuerMismatch => ("client_id_mismatch", InvalidClient),
    /// An algorithm other than RS256, ES256 or PS256.
    AssertionAlgRefused => ("assertion_alg_refused", InvalidClient),
    /// No registered key matches the assertion's `kid` and `alg`.
    UnknownKid => ("unknown_kid", InvalidClient),
    BadAssertionSignature => ("bad_assertion_signature", InvalidClient),
    AssertionWrongAudience => ("assertion_wrong_audience", InvalidClient),
    AssertionExpired => ("assertion_expired", InvalidClient),
    /// `exp` more than 10 minutes ahead.
    AssertionTooLong => ("assertion_too_long", InvalidClient),
    /// The assertion's `jti` was already used.
    AssertionReplay => ("assertion_replay", InvalidClient),
}

refusal_codes! {
    /// A refused token request once past client authentication, or one that could not be
    /// read or served, by reason.
    GrantRefusal;
    /// The body is not form-encoded.
    BadContentType => ("bad_content_type", InvalidRequest),
    /// A parameter given twice.
    RepeatedParameter => ("repeated_parameter", InvalidRequest),
    /// A required parameter of the grant is missing.
    MalformedTokenRequest => ("malformed_token_request", InvalidRequest),
    UnsupportedGrantType => ("unsupported_grant_type", UnsupportedGrantType),
    /// The client is not registered for this grant type.
    GrantNotAllowed => ("grant_not_allowed", UnauthorizedClient),
    /// A public client asked for client_credentials.
    PublicClientCredentials => ("public_client_credentials", UnauthorizedClient),
    /// A scope the client may not ask for.
    ScopeNotAllowed => ("scope_not_allowed", InvalidScope),
    /// A refresh asked for a scope the original grant did not give.
    ScopeWidening => ("scope_widening", InvalidScope),
    UnknownCode => ("unknown_code", InvalidGrant),
    /// A code presented a second time: what it issued is revoked.
    CodeReplay => ("code_replay", InvalidGrant),
    CodeOfOtherClient => ("code_of_other_client", InvalidGrant),
    CodeExpired => ("code_expired", InvalidGrant),
    RedirectUriMismatch => ("redirect_uri_mismatch", InvalidGrant),
    PkceMismatch => ("pkce_mismatch", InvalidGrant),
    PkceMissing => ("pkce_missing", InvalidGrant),
    PkceUnexpected => ("pkce_unexpected", InvalidGrant),
    /// The SSO session the grant depends on has ended.
    SessionEnded => ("session_ended", InvalidGrant),
    /// The person is no longer active.
    IdentityInactive => ("identity_inactive", InvalidGrant),
    UnknownRefreshToken => ("unknown_refresh_token", InvalidGrant),
    /// A used refresh token presented again: its family is revoked.
    RefreshReuse => ("refresh_reuse", InvalidGrant),
    RefreshOfOtherClient => ("refresh_of_other_client", InvalidGrant),
    RefreshRevoked => ("refresh_revoked", InvalidGrant),
    RefreshExpired => ("refresh_expired", InvalidGrant),
    /// Any other malformed request.
    InvalidRequest => ("invalid_request", InvalidRequest),
    /// The database could not be reached.
    StorageUnavailable => ("storage_unavailable", TemporarilyUnavailable),
    /// An unexpected failure (its cause is logged, never answered).
    InternalError => ("internal_error", ServerError),
}

/// Why a token request (or a client's authentication at any client endpoint) was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenRefusal {
    Client(ClientAuthRefusal),
    Grant(GrantRefusal),
}

impl TokenRefusal {
    /// The stable snake_case reason code of the audit log.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenRefusal::Client(r) => r.as_str(),
            TokenRefusal::Grant(r) => r.as_str(),
        }
    }

    /// The OAuth error answered for this reason.
    pub fn code(self) -> crate::protocol::ErrorCode {
        match self {
            TokenRefusal::Client(r) => r.code(),
            TokenRefusal::Grant(r) => r.code(),
        }
    }

    /// The OAuth error for this reason, with its description.
    pub fn error(self, description: impl Into<String>) -> crate::oidc::error::OAuthError {
        crate::oidc::error::OAuthError::new(self.code(), description)
    }
}

impl std::fmt::Display for TokenRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<ClientAuthRefusal> for TokenRefusal {
    fn from(r: ClientAuthRefusal) -> Self {
        TokenRefusal::Client(r)
    }
}

impl From<GrantRefusal> for TokenRefusal {
    fn from(r: GrantRefusal) -> Self {
        TokenRefusal::Grant(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ErrorCode;

    #[test]
    fn reasons_are_distinct_snake_case() {
        let all = ClientAuthRefusal::ALL
            .iter()
            .map(|r| r.as_str())
            .chain(GrantRefusal::ALL.iter().map(|r| r.as_str()));
        super::super::assert_distinct_except(all, &["client_id_mismatch"]);
    }

    #[test]
    fn the_answer_follows_the_reason() {
        use ClientAuthRefusal as C;
        use GrantRefusal as G;
        let table: &[(TokenRefusal, &str, ErrorCode)] = &[
            (
                C::MalformedBasicAuth.into(),
                "malformed_basic_auth",
                ErrorCode::InvalidClient,
            ),
            (
                C::NoClientAuth.into(),
                "no_client_auth",
                ErrorCode::InvalidClient,
            ),
            (
                C::SeveralMethods.into(),
                "several_client_auth_methods",
                ErrorCode::InvalidRequest,
            ),
            (
                C::ClientIdMismatch.into(),
                "client_id_mismatch",
                ErrorCode::InvalidRequest,
            ),
            (
                C::AssertionIssuerMismatch.into(),
                "client_id_mismatch",
                ErrorCode::InvalidClient,
            ),
            (
                C::UnknownClient.into(),
                "unknown_client",
                ErrorCode::InvalidClient,
            ),
            (
                C::WrongClientSecret.into(),
                "wrong_client_secret",
                ErrorCode::InvalidClient,
            ),
            (
                C::PublicClient.into(),
                "public_client",
                ErrorCode::InvalidClient,
            ),
            (
                C::AssertionReplay.into(),
                "assertion_replay",
                ErrorCode::InvalidClient,
            ),
            (
                G::BadContentType.into(),
                "bad_content_type",
                ErrorCode::InvalidRequest,
            ),
            (
                G::UnsupportedGrantType.into(),
                "unsupported_grant_type",
                ErrorCode::UnsupportedGrantType,
            ),
            (
                G::GrantNotAllowed.into(),
                "grant_not_allowed",
                ErrorCode::UnauthorizedClient,
            ),
            (
                G::PublicClientCredentials.into(),
                "public_client_credentials",
                ErrorCode::UnauthorizedClient,
            ),
            (
                G::ScopeNotAllowed.into(),
                "scope_not_allowed",
                ErrorCode::InvalidScope,
            ),
            (
                G::ScopeWidening.into(),
                "scope_widening",
                ErrorCode::InvalidScope,
            ),
            (G::CodeReplay.into(), "code_replay", ErrorCode::InvalidGrant),
            (
                G::PkceMismatch.into(),
                "pkce_mismatch",
                ErrorCode::InvalidGrant,
            ),
            (
                G::RefreshReuse.into(),
                "refresh_reuse",
                ErrorCode::InvalidGrant,
            ),
            (
                G::SessionEnded.into(),
                "session_ended",
                ErrorCode::InvalidGrant,
            ),
            (
                G::StorageUnavailable.into(),
                "storage_unavailable",
                ErrorCode::TemporarilyUnavailable,
            ),
            (
                G::InternalError.into(),
                "internal_error",
                ErrorCode::ServerError,
            ),
        ];
        for (reason, text, code) in table {
            assert_eq!(reason.as_str(), *text);
            assert_eq!(reason.code(), *code, "{reason}");
            assert_eq!(reason.error("x").code, *code);
        }
        // Every failed authentication but the two misuses of the form answers invalid_client.
        for r in ClientAuthRefusal::ALL {
            let form_misuse = matches!(r, C::SeveralMethods | C::ClientIdMismatch);
            assert_eq!(r.code() == ErrorCode::InvalidClient, !form_misuse, "{r}");
        }
    }
}
