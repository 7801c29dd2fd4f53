//! Why an RP-initiated logout request is refused (OpenID Connect RP-Initiated Logout 1.0 §2,
//! §3): the audit reason code; the person sees an error page, never an OAuth error.

refusal_codes! {
    /// A refused logout request, by reason.
    LogoutRefusal;
    /// The signing keys could not be loaded to check `id_token_hint`.
    KeysUnavailable => ("keys_unavailable", TemporarilyUnavailable),
    /// An `id_token_hint` that is not an ID token of this issuer.
    BadIdTokenHint => ("bad_id_token_hint", InvalidRequest),
    /// `client_id` differs from the hint's audience.
    ClientIdMismatch => ("client_id_mismatch", InvalidRequest),
    /// A `post_logout_redirect_uri` without a client to check it against.
    RedirectWithoutClient => ("redirect_without_client", InvalidRequest),
    /// The database could not be reached.
    StorageUnavailable => ("storage_unavailable", TemporarilyUnavailable),
    UnknownClient => ("unknown_client", InvalidRequest),
    /// A `post_logout_redirect_uri` the client did not register.
    UnregisteredRedirectUri => ("unregistered_post_logout_redirect_uri", InvalidRequest),
    /// The confirmation form's CSRF token is missing or wrong.
    Csrf => ("csrf", AccessDenied),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ErrorCode;

    #[test]
    fn reasons_are_distinct_snake_case() {
        super::super::assert_distinct_snake_case(LogoutRefusal::ALL.iter().map(|r| r.as_str()));
    }

    #[test]
    fn reason_codes() {
        for (reason, text, code) in [
            (
                LogoutRefusal::BadIdTokenHint,
                "bad_id_token_hint",
                ErrorCode::InvalidRequest,
            ),
            (
                LogoutRefusal::UnregisteredRedirectUri,
                "unregistered_post_logout_redirect_uri",
                ErrorCode::InvalidRequest,
            ),
            (LogoutRefusal::Csrf, "csrf", ErrorCode::AccessDenied),
            (
                LogoutRefusal::StorageUnavailable,
                "storage_unavailable",
                ErrorCode::TemporarilyUnavailable,
            ),
        ] {
            assert_eq!(reason.as_str(), text);
            assert_eq!(reason.code(), code);
        }
    }
}
