//! Why an authorization request is refused (RFC 6749 §4.1.2.1, OIDC Core §3.1.2.6): one value
//! gives both the audit log's reason code and the `error` the client receives.

refusal_codes! {
    /// A refused authorization request, by reason.
    AuthzRefusal;
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
    /// The client is disabled by an administrator.
    ClientDisabled => ("client_disabled", UnauthorizedClient),
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
    /// Pro Santé Connect's broker, with a session proven through PSC itself (e-CPS).
    PscOriginSession => ("psc_origin_session", LoginRequired),
    /// `prompt=none` from Pro Santé Connect's broker for an account without a valid pairing.
    PairingRequired => ("pairing_required", InteractionRequired),
    /// Pro Santé Connect's broker, for an identity whose establishment (`tid`) is unknown.
    EstablishmentUnknown => ("establishment_unknown", AccessDenied),
}

impl AuthzRefusal {
    /// A description for the refusals the decision function makes.
    pub fn description(self) -> &'static str {
        match self {
            AuthzRefusal::NoSession => "the user is not signed in",
            AuthzRefusal::ReauthenticationRequired => "the user must sign in again",
            AuthzRefusal::LevelTooLow => "a stronger authentication is required",
            AuthzRefusal::ConsentRequired => "the user has not consented",
            AuthzRefusal::UserCancelled => "the user cancelled the request",
            AuthzRefusal::PscOriginSession => {
                "the session was opened through Pro Santé Connect: sign in again with a \
                 security key or a CPS card"
            }
            AuthzRefusal::PairingRequired => "the account has no valid e-CPS pairing",
            AuthzRefusal::EstablishmentUnknown => "the user's establishment is not known",
            _ => "the request was refused",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_distinct_snake_case() {
        super::super::assert_distinct_snake_case(AuthzRefusal::ALL.iter().map(|r| r.as_str()));
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
            (AuthzRefusal::ClientDisabled, "unauthorized_client"),
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
