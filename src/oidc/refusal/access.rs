//! Why an access token is not active (RFC 6750 §3.1, RFC 7662 §2.2): the reason audited by the
//! UserInfo endpoint when it refuses a token, and by introspection when it answers
//! `{"active": false}`.

use crate::oidc::mint::TokenRejection;

refusal_codes! {
    /// Why a presented access token is not honoured, by reason.
    InactiveToken;
    /// The signing keys could not be loaded.
    KeysUnavailable => ("keys_unavailable", TemporarilyUnavailable),
    /// The database could not be reached.
    StorageUnavailable => ("storage_unavailable", TemporarilyUnavailable),
    /// Not a JWT, or a claim is missing.
    Malformed => ("malformed_token", InvalidToken),
    /// No key of this issuer has the token's `kid`.
    UnknownKid => ("unknown_kid", InvalidToken),
    BadSignature => ("bad_signature", InvalidToken),
    WrongIssuer => ("wrong_issuer", InvalidToken),
    /// Not an access token (`typ` is not `at+jwt`).
    WrongType => ("wrong_token_type", InvalidToken),
    Expired => ("token_expired", InvalidToken),
    /// Revoked by its client (RFC 7009), or issued from a replayed code.
    Revoked => ("token_revoked", InvalidToken),
    /// The client it was issued to is no longer registered.
    ClientUnknown => ("client_unknown", InvalidToken),
    /// The person it speaks for is no longer active.
    IdentityInactive => ("identity_inactive", InvalidToken),
    /// The refresh family it was issued from was revoked or expired.
    GrantRevoked => ("grant_revoked", InvalidToken),
    /// The SSO session it depends on has ended.
    SessionEnded => ("session_ended", InvalidToken),
    /// Introspection: the token belongs to another client, and the caller is no resource
    /// server.
    OtherClient => ("token_of_other_client", InvalidToken),
    /// Introspection: a refresh token used, revoked or expired.
    RefreshRevoked => ("refresh_revoked", InvalidToken),
    /// Introspection: neither an access token nor a refresh token of this issuer.
    Unknown => ("unknown_token", InvalidToken),
    /// UserInfo: no bearer token.
    NoToken => ("no_token", InvalidToken),
    /// UserInfo: a token in the header and in the body.
    TokenTwice => ("token_twice", InvalidRequest),
    /// UserInfo: the token lacks the `openid` scope.
    OpenidScopeMissing => ("openid_scope_missing", InsufficientScope),
    /// UserInfo: a client's own token, speaking for no person.
    NotAPerson => ("not_a_person", InvalidToken),
}

impl InactiveToken {
    /// The description answered with the error.
    pub fn description(self) -> &'static str {
        match self {
            InactiveToken::KeysUnavailable | InactiveToken::StorageUnavailable => {
                "the server is temporarily unavailable; try again"
            }
            InactiveToken::NoToken => "a bearer access token is required",
            InactiveToken::TokenTwice => "send the access token once",
            InactiveToken::OpenidScopeMissing => "the openid scope is required",
            InactiveToken::NotAPerson => "the access token does not speak for a person",
            _ => "the access token is invalid, expired or revoked",
        }
    }

    /// The OAuth error answered, with its description and the `Bearer` challenge
    /// (RFC 6750 §3).
    pub fn answer(self) -> crate::oidc::error::OAuthError {
        let e = self.error(self.description());
        match self.code() {
            crate::protocol::ErrorCode::InvalidToken
            | crate::protocol::ErrorCode::InsufficientScope => e.with_challenge("Bearer"),
            _ => e,
        }
    }
}

impl From<TokenRejection> for InactiveToken {
    fn from(r: TokenRejection) -> Self {
        match r {
            TokenRejection::Malformed => InactiveToken::Malformed,
            TokenRejection::UnknownKey => InactiveToken::UnknownKid,
            TokenRejection::BadSignature => InactiveToken::BadSignature,
            TokenRejection::WrongIssuer => InactiveToken::WrongIssuer,
            TokenRejection::WrongType => InactiveToken::WrongType,
            TokenRejection::Expired => InactiveToken::Expired,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ErrorCode;

    #[test]
    fn reasons_are_distinct_snake_case() {
        super::super::assert_distinct_snake_case(InactiveToken::ALL.iter().map(|r| r.as_str()));
    }

    #[test]
    fn the_answer_follows_the_reason() {
        use InactiveToken as I;
        for (reason, text, code, challenge) in [
            (
                I::Malformed,
                "malformed_token",
                ErrorCode::InvalidToken,
                true,
            ),
            (I::Expired, "token_expired", ErrorCode::InvalidToken, true),
            (I::Revoked, "token_revoked", ErrorCode::InvalidToken, true),
            (
                I::GrantRevoked,
                "grant_revoked",
                ErrorCode::InvalidToken,
                true,
            ),
            (
                I::SessionEnded,
                "session_ended",
                ErrorCode::InvalidToken,
                true,
            ),
            (
                I::OtherClient,
                "token_of_other_client",
                ErrorCode::InvalidToken,
                true,
            ),
            (I::NoToken, "no_token", ErrorCode::InvalidToken, true),
            (
                I::TokenTwice,
                "token_twice",
                ErrorCode::InvalidRequest,
                false,
            ),
            (
                I::OpenidScopeMissing,
                "openid_scope_missing",
                ErrorCode::InsufficientScope,
                true,
            ),
            (
                I::StorageUnavailable,
                "storage_unavailable",
                ErrorCode::TemporarilyUnavailable,
                false,
            ),
            (
                I::KeysUnavailable,
                "keys_unavailable",
                ErrorCode::TemporarilyUnavailable,
                false,
            ),
        ] {
            assert_eq!(reason.as_str(), text);
            let answer = reason.answer();
            assert_eq!(answer.code, code, "{reason}");
            assert_eq!(answer.challenge.is_some(), challenge, "{reason}");
        }
    }

    #[test]
    fn a_rejected_signature_keeps_its_reason_code() {
        for r in [
            TokenRejection::Malformed,
            TokenRejection::UnknownKey,
            TokenRejection::BadSignature,
            TokenRejection::WrongIssuer,
            TokenRejection::WrongType,
            TokenRejection::Expired,
        ] {
            assert_eq!(InactiveToken::from(r).as_str(), r.reason());
        }
    }
}
