//! Why an authorization request is refused (RFC 6749 §4.1.2.1, OIDC Core §3.1.2.6): one value
//! gives both the audit log's reason code and the `error` the client receives.

use super::error::{ErrorCode, OAuthError};

macro_rules! refusals {
    ($($(#[$doc:meta])* $variant:ident => ($text:literal, $code:ident),)*) => {
        /// A refused authorization request, by reason.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum AuthzRefusal {
            $($(#[$doc])* $variant,)*
        }

        impl AuthzRefusal {
            pub const ALL: &'static [AuthzRefusal] = &[$(AuthzRefusal::$variant,)*];

            /// The stable snake_case reason code of the audit log.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(AuthzRefusal::$variant => $text,)*
                }
            }

            /// The OAuth error answered for this reason (at the redirect URI, or by the
            /// pushed-request endpoint when the request never reaches a redirect).
            pub fn code(self) -> ErrorCode {
                match self {
                    $(AuthzRefusal::$variant => ErrorCode::$code,)*
                }
            }
        }
    };
}

refusals! {
    /// A parameter given twice (error page).
    RepeatedParameter => ("repeated_parameter", InvalidRequest),
    /// A `request_uri` that is unknown, expired, used or another client's (error page).
    InvalidRequestUri => ("invalid_request_uri", InvalidRequestUri),
    /// Too many flows pending from one address (error page).
    TooManyPendingFlows => ("too_many_pending_flows", TemporarilyUnavailable),
    /// A flow opened in a browser that did not start it (restarted there, at a fresh login).
    FlowNotBound => ("flow_not_bound", LoginRequired),
    /// No registered client has this id (error page).
    UnknownClient => ("unknown_client", InvalidRequest),
    /// A parameter is longer than its bound.
    ParameterTooLong => ("parameter_too_long", InvalidRequest),
    /// No redirect URI (error page).
    MissingRedirectUri => ("missing_redirect_uri", InvalidRequest),
    /// A redirect URI the client did not register (error page).
    UnregisteredRedirectUri => ("unregistered_redirect_uri", InvalidRequest),
    BadResponseMode => ("bad_response_mode", InvalidRequest),
    RequestObject => ("request_object", RequestNotSupported),
    MissingResponseType => ("missing_response_type", InvalidRequest),
    UnsupportedResponseType => ("unsupported_response_type", UnsupportedResponseType),
    GrantNotAllowed => ("grant_not_allowed", UnauthorizedClient),
    MissingOpenidScope => ("missing_openid_scope", InvalidScope),
    ScopeNotAllowed => ("scope_not_allowed", InvalidScope),
    MissingCodeChallenge => ("missing_code_challenge", InvalidRequest),
    PkceMethodRefused => ("pkce_method_refused", InvalidRequest),
    MalformedCodeChallenge => ("malformed_code_challenge", InvalidRequest),
    PkceRequired => ("pkce_required", InvalidRequest),
    BadPrompt => ("bad_prompt", InvalidRequest),
    BadMaxAge => ("bad_max_age", InvalidRequest),
    /// The user cancelled at the login or consent page.
    UserCancelled => ("user_cancelled", AccessDenied),
    /// `prompt=none` without a session.
    NoSession => ("no_session", LoginRequired),
    /// `prompt=none` when the user must sign in again.
    ReauthenticationRequired => ("reauthentication_required", LoginRequired),
    /// `prompt=none` when the session's level is below the one required.
    LevelTooLow => ("level_too_low", InteractionRequired),
    /// `prompt=none` when consent is missing.
    ConsentRequired => ("consent_required", ConsentRequired),
}

impl AuthzRefusal {
    /// The OAuth error for this reason, with its description.
    pub fn error(self, description: impl Into<String>) -> OAuthError {
        OAuthError::new(self.code(), description)
    }

    /// A description for the refusals the decision function makes.
    pub fn description(self) -> &'static str {
        match self {
            AuthzRefusal::NoSession => "the user is not signed in",
            AuthzRefusal::ReauthenticationRequired => "the user must sign in again",
            AuthzRefusal::LevelTooLow => "a stronger authentication is required",
            AuthzRefusal::ConsentRequired => "the user has not consented",
            AuthzRefusal::UserCancelled => "the user cancelled the request",
            _ => "the request was refused",
        }
    }
}

impl From<AuthzRefusal> for String {
    fn from(r: AuthzRefusal) -> String {
        r.as_str().to_owned()
    }
}

impl std::fmt::Display for AuthzRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_distinct_snake_case() {
        let mut texts: Vec<&str> = AuthzRefusal::ALL.iter().map(|r| r.as_str()).collect();
        assert!(
            texts
                .iter()
                .all(|t| t.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
        );
        texts.sort_unstable();
        texts.dedup();
        assert_eq!(texts.len(), AuthzRefusal::ALL.len());
    }

    #[test]
    fn the_answer_follows_the_reason() {
        for (reason, code) in [
            (AuthzRefusal::NoSession, "login_required"),
            (AuthzRefusal::ReauthenticationRequired, "login_required"),
            (AuthzRefusal::LevelTooLow, "interaction_required"),
            (AuthzRefusal::ConsentRequired, "consent_required"),
            (AuthzRefusal::ScopeNotAllowed, "invalid_scope"),
            (AuthzRefusal::GrantNotAllowed, "unauthorized_client"),
            (AuthzRefusal::RequestObject, "request_not_supported"),
            (
                AuthzRefusal::UnsupportedResponseType,
                "unsupported_response_type",
            ),
            (AuthzRefusal::BadPrompt, "invalid_request"),
            (AuthzRefusal::UserCancelled, "access_denied"),
            (AuthzRefusal::InvalidRequestUri, "invalid_request_uri"),
        ] {
            assert_eq!(reason.code().as_str(), code, "{reason}");
            assert_eq!(reason.error("x").code, reason.code());
        }
    }
}
