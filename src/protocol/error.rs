//! OAuth 2.0 error codes (RFC 6749 §4.1.2.1 and §5.2, RFC 6750 §3.1, OIDC Core §3.1.2.6,
//! RFC 9126 §2.3, OIDC CIBA §11 and §13): the value of an answer's `error`, read back from
//! another issuer's answers by the same type.

use std::fmt;
use std::str::FromStr;

macro_rules! error_codes {
    ($($(#[$doc:meta])* $variant:ident => $text:literal,)*) => {
        /// A standard OAuth error code.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $($(#[$doc])* $variant,)*
        }

        impl ErrorCode {
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $text,)*
                }
            }
        }
    };
}

error_codes! {
    InvalidRequest => "invalid_request",
    InvalidClient => "invalid_client",
    InvalidGrant => "invalid_grant",
    UnauthorizedClient => "unauthorized_client",
    UnsupportedGrantType => "unsupported_grant_type",
    InvalidScope => "invalid_scope",
    AccessDenied => "access_denied",
    UnsupportedResponseType => "unsupported_response_type",
    ServerError => "server_error",
    TemporarilyUnavailable => "temporarily_unavailable",
    LoginRequired => "login_required",
    ConsentRequired => "consent_required",
    InteractionRequired => "interaction_required",
    AccountSelectionRequired => "account_selection_required",
    InvalidRequestUri => "invalid_request_uri",
    InvalidRequestObject => "invalid_request_object",
    RequestNotSupported => "request_not_supported",
    RequestUriNotSupported => "request_uri_not_supported",
    RegistrationNotSupported => "registration_not_supported",
    InvalidToken => "invalid_token",
    InsufficientScope => "insufficient_scope",
    /// CIBA: the user has not answered yet; poll again after the interval.
    AuthorizationPending => "authorization_pending",
    /// CIBA: polling too fast; add 5 seconds to the interval.
    SlowDown => "slow_down",
    /// CIBA: the `auth_req_id` expired.
    ExpiredToken => "expired_token",
    /// CIBA: the `login_hint_token` expired.
    ExpiredLoginHintToken => "expired_login_hint_token",
    /// CIBA: the hint does not name a known user.
    UnknownUserId => "unknown_user_id",
    /// CIBA: a user code is required and missing.
    MissingUserCode => "missing_user_code",
    /// CIBA: the user code is wrong.
    InvalidUserCode => "invalid_user_code",
    /// CIBA: the binding message is refused.
    InvalidBindingMessage => "invalid_binding_message",
    /// CIBA: the authentication failed for another reason.
    TransactionFailed => "transaction_failed",
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An `error` value that no standard defines.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown OAuth error code {0:?}")]
pub struct UnknownErrorCode(pub String);

impl FromStr for ErrorCode {
    type Err = UnknownErrorCode;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ErrorCode::ALL
            .iter()
            .copied()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| UnknownErrorCode(s.to_owned()))
    }
}

impl serde::Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for ErrorCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips() {
        for code in ErrorCode::ALL {
            assert_eq!(code.as_str().parse::<ErrorCode>(), Ok(*code));
            let json = serde_json::to_string(code).unwrap();
            assert_eq!(json, format!("\"{code}\""));
            assert_eq!(serde_json::from_str::<ErrorCode>(&json).unwrap(), *code);
            let s = code.as_str();
            assert!(
                s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{s}"
            );
        }
        let mut texts: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        texts.sort_unstable();
        texts.dedup();
        assert_eq!(texts.len(), ErrorCode::ALL.len());
    }

    #[test]
    fn ciba_answers_are_read() {
        #[derive(serde::Deserialize)]
        struct Answer {
            error: ErrorCode,
        }
        for (text, code) in [
            ("authorization_pending", ErrorCode::AuthorizationPending),
            ("slow_down", ErrorCode::SlowDown),
            ("expired_token", ErrorCode::ExpiredToken),
            ("access_denied", ErrorCode::AccessDenied),
        ] {
            let a: Answer = serde_json::from_str(&format!(r#"{{"error":"{text}"}}"#)).unwrap();
            assert_eq!(a.error, code);
        }
        assert_eq!(
            "bogus".parse::<ErrorCode>(),
            Err(UnknownErrorCode("bogus".into()))
        );
    }
}
