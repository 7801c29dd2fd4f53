//! Unit tests of the authorization request parser and of the decision function.

use std::collections::HashMap;
use std::sync::Arc;

use super::*;
use crate::authn::{AuthFactor, Method};
use crate::oidc::client::{ClientAuthMethod, ClientPolicy};
use crate::oidc::error::ErrorCode;
use crate::oidc::keys::SigningAlg;
use crate::oidc::refusal::AuthzRefusal;
use crate::protocol::ClientId;

const REDIRECT: &str = "https://dpi.example/cb";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

fn levels() -> AcrLadder {
    serde_json::from_str(r#"["loa1", "loa2", "loa3"]"#).unwrap()
}

fn client() -> Client {
    Client {
        id: ClientId::new("dpi").unwrap(),
        name: "DPI".into(),
        secret_hash: None,
        auth_method: ClientAuthMethod::ClientSecret,
        jwks: None,
        redirect_uris: vec![REDIRECT.into()],
        post_logout_redirect_uris: Vec::new(),
        grants: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
        scopes: ["openid", "profile", "email"].map(String::from).to_vec(),
        signing_alg: SigningAlg::Es256,
        backchannel_logout_uri: None,
        first_party: false,
        require_pkce: true,
        policy: ClientPolicy::default(),
        introspect: false,
        disabled: false,
    }
}

fn valid() -> Vec<(&'static str, String)> {
    vec![
        ("response_type", "code".into()),
        ("client_id", "dpi".into()),
        ("redirect_uri", REDIRECT.into()),
        ("scope", "openid profile".into()),
        ("state", "st4te".into()),
        ("nonce", "n0nce".into()),
        ("code_challenge", CHALLENGE.into()),
        ("code_challenge_method", "S256".into()),
    ]
}

/// `valid()` with one parameter replaced, or removed with `None`.
fn params_with(key: &'static str, value: Option<&str>) -> Params {
    let mut params = valid();
    params.retain(|(k, _)| *k != key);
    if let Some(v) = value {
        params.push((key, v.to_owned()));
    }
    to_params(&params)
}

fn to_params(params: &[(&'static str, String)]) -> Params {
    Params::from_map(
        params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect::<HashMap<_, _>>(),
    )
}

fn parse_with(client: Client, params: &Params) -> Result<AuthRequest, RequestError> {
    parse(Some(Arc::new(client)), params, &levels())
}

fn ok(params: &Params) -> AuthRequest {
    parse_with(client(), params).expect("a valid request")
}

/// The reason of a refusal sent back to the client, checking it carries the state.
fn redirect_reason(params: &Params) -> (ErrorCode, &'static str) {
    match parse_with(client(), params) {
        Err(RequestError::Redirect { to, reason, .. }) => {
            assert_eq!(to.redirect_uri.as_str(), REDIRECT);
            assert_eq!(to.client_id, "dpi");
            assert_eq!(to.state.as_deref(), Some("st4te"), "{reason}");
            (reason.code(), reason.as_str())
        }
        other => panic!("expected a redirect, got {other:?}"),
    }
}

fn page_reason(client: Option<Client>, params: &Params) -> (&'static str, bool) {
    match parse(client.map(Arc::new), params, &levels()) {
        Err(RequestError::Page {
            reason,
            bad_redirect,
            ..
        }) => (reason.as_str(), bad_redirect),
        other => panic!("expected an error page, got {other:?}"),
    }
}

#[test]
fn a_valid_request_is_parsed_into_its_fields() {
    let req = ok(&to_params(&valid()));
    assert_eq!(req.client.id, "dpi");
    assert_eq!(req.redirect_uri.as_str(), REDIRECT);
    assert_eq!(req.response_mode, ResponseMode::Query);
    assert_eq!(req.state.as_deref(), Some("st4te"));
    assert_eq!(req.nonce.as_deref(), Some("n0nce"));
    assert_eq!(req.scope.to_string(), "openid profile");
    assert_eq!(req.code_challenge.as_deref(), Some(CHALLENGE));
    assert!(req.prompt.is_empty());
    assert_eq!(req.max_age, None);
    assert_eq!(req.min_level, None);
    assert_eq!(req.required_level(), Level::Loa1);
    assert_eq!(req.max_auth_age(), None);
    let reply = req.reply_to();
    assert_eq!(reply.redirect_uri.as_str(), REDIRECT);
    assert_eq!(reply.state.as_deref(), Some("st4te"));
}

#[test]
fn form_post_prompt_and_max_age_are_read() {
    let mut params = valid();
    params.push(("response_mode", "form_post".into()));
    params.push(("prompt", "login consent select_account".into()));
    params.push(("max_age", "300".into()));
    params.push(("login_hint", "alice".into()));
    let req = ok(&to_params(&params));
    assert_eq!(req.response_mode, ResponseMode::FormPost);
    assert!(req.prompt.contains(Prompt::Login) && req.prompt.contains(Prompt::Consent));
    assert!(!req.prompt.contains(Prompt::None));
    assert_eq!(req.max_age, Some(300));
    assert_eq!(req.login_hint.as_deref(), Some("alice"));
}

#[test]
fn acr_values_set_the_lowest_listed_known_level_as_the_floor() {
    let req = ok(&params_with("acr_values", Some("loa3 unknown loa2")));
    assert_eq!(req.min_level, Some(Level::Loa2));
    assert_eq!(req.required_level(), Level::Loa2);
    let req = ok(&params_with("acr_values", Some("unknown")));
    assert_eq!(req.min_level, None);
}

#[test]
fn the_client_policy_and_the_request_combine_to_the_strictest() {
    let mut strict = client();
    strict.policy = ClientPolicy {
        min_level: Some(Level::Loa3),
        max_auth_age: Some(600),
        psc_broker: false,
    };
    let mut params = valid();
    params.push(("acr_values", "loa2".into()));
    params.push(("max_age", "900".into()));
    let req = parse_with(strict.clone(), &to_params(&params)).unwrap();
    assert_eq!(req.required_level(), Level::Loa3);
    assert_eq!(req.max_auth_age(), Some(600));
    let req = parse_with(strict, &params_with("max_age", Some("60"))).unwrap();
    assert_eq!(req.max_auth_age(), Some(60));
}

#[test]
fn without_a_trustworthy_redirect_uri_the_error_is_a_page() {
    let unknown = page_reason(None, &to_params(&valid()));
    assert_eq!(unknown, ("unknown_client", false));
    let cases = [
        (params_with("redirect_uri", None), "missing_redirect_uri"),
        (
            params_with("redirect_uri", Some("https://evil.example/cb")),
            "unregistered_redirect_uri",
        ),
        // Matching is exact: no prefix, no trailing slash.
        (
            params_with("redirect_uri", Some("https://dpi.example/cb/")),
            "unregistered_redirect_uri",
        ),
        (
            params_with("redirect_uri", Some(&"x".repeat(2049))),
            "parameter_too_long",
        ),
    ];
    for (params, reason) in cases {
        assert_eq!(page_reason(Some(client()), &params), (reason, true));
    }
}

#[test]
fn an_unknown_client_echoes_its_id_only_within_bounds() {
    match parse(None, &params_with("client_id", Some("ghost")), &levels()) {
        Err(RequestError::Page { client_id, .. }) => {
            assert_eq!(client_id.as_deref(), Some("ghost"))
        }
        other => panic!("{other:?}"),
    }
    match parse(
        None,
        &params_with("client_id", Some(&"g".repeat(256))),
        &levels(),
    ) {
        Err(RequestError::Page { client_id, .. }) => assert_eq!(client_id, None),
        other => panic!("{other:?}"),
    }
}

#[test]
fn each_refusal_goes_back_to_the_client_with_its_code_and_reason() {
    let cases: &[(&'static str, Option<&str>, ErrorCode, &str)] = &[
        (
            "response_type",
            None,
            ErrorCode::InvalidRequest,
            "missing_response_type",
        ),
        (
            "response_type",
            Some("token"),
            ErrorCode::UnsupportedResponseType,
            "unsupported_response_type",
        ),
        (
            "response_mode",
            Some("fragment"),
            ErrorCode::InvalidRequest,
            "bad_response_mode",
        ),
        (
            "request",
            Some("eyJhbGciOiJub25lIn0.e30."),
            ErrorCode::RequestNotSupported,
            "request_object",
        ),
        (
            "scope",
            Some("profile"),
            ErrorCode::InvalidScope,
            "missing_openid_scope",
        ),
        (
            "scope",
            None,
            ErrorCode::InvalidScope,
            "missing_openid_scope",
        ),
        (
            "scope",
            Some("openid admin"),
            ErrorCode::InvalidScope,
            "scope_not_allowed",
        ),
        (
            "code_challenge",
            None,
            ErrorCode::InvalidRequest,
            "missing_code_challenge",
        ),
        (
            "code_challenge",
            Some("tooshort"),
            ErrorCode::InvalidRequest,
            "malformed_code_challenge",
        ),
        (
            "code_challenge_method",
            Some("plain"),
            ErrorCode::InvalidRequest,
            "pkce_method_refused",
        ),
        (
            "code_challenge_method",
            None,
            ErrorCode::InvalidRequest,
            "pkce_method_refused",
        ),
        (
            "prompt",
            Some("whenever"),
            ErrorCode::InvalidRequest,
            "bad_prompt",
        ),
        (
            "prompt",
            Some("none login"),
            ErrorCode::InvalidRequest,
            "bad_prompt",
        ),
        (
            "max_age",
            Some("-1"),
            ErrorCode::InvalidRequest,
            "bad_max_age",
        ),
        (
            "max_age",
            Some("soon"),
            ErrorCode::InvalidRequest,
            "bad_max_age",
        ),
        (
            "nonce",
            Some(&"n".repeat(513)),
            ErrorCode::InvalidRequest,
            "parameter_too_long",
        ),
    ];
    for (key, value, code, reason) in cases {
        assert_eq!(
            redirect_reason(&params_with(key, *value)),
            (*code, *reason),
            "{key}={value:?}"
        );
    }
}

#[test]
fn pkce_is_required_unless_the_client_waives_it() {
    let mut params = valid();
    params.retain(|(k, _)| !k.starts_with("code_challenge"));
    let params = to_params(&params);
    assert_eq!(
        redirect_reason(&params),
        (ErrorCode::InvalidRequest, "pkce_required")
    );
    let mut lenient = client();
    lenient.require_pkce = false;
    let req = parse_with(lenient, &params).unwrap();
    assert_eq!(req.code_challenge, None);
}

#[test]
fn a_client_without_the_code_grant_is_unauthorized() {
    let mut batch = client();
    batch.grants = vec![GrantType::ClientCredentials];
    match parse_with(batch, &to_params(&valid())) {
        Err(RequestError::Redirect { reason, .. }) => {
            assert_eq!(reason.code(), ErrorCode::UnauthorizedClient);
            assert_eq!(reason, AuthzRefusal::GrantNotAllowed);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_oversized_state_is_not_echoed() {
    match parse_with(client(), &params_with("state", Some(&"s".repeat(513)))) {
        Err(RequestError::Redirect { to, reason, .. }) => {
            assert_eq!(reason, AuthzRefusal::ParameterTooLong);
            assert_eq!(to.state, None);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn known_params_keeps_only_what_a_flow_reads() {
    let mut params = valid();
    params.push(("utm_source", "mail".into()));
    let kept = known_params(&to_params(&params));
    assert_eq!(kept.get("client_id"), Some("dpi"));
    assert_eq!(kept.get("state"), Some("st4te"));
    assert!(!kept.contains("utm_source"));
}

// --- The decision ---

const NOW: i64 = 1_800_000_000;

fn session(level: Level, auth_time: i64) -> Session {
    Session {
        id: "sid-1".into(),
        identity_id: "alice".into(),
        created_at: auth_time,
        expires_at: auth_time + 4 * 3600,
        auth_time,
        factors: vec![AuthFactor {
            method: Method::Password,
            user_verified: false,
        }],
        level,
        amr: vec![crate::protocol::Amr::Pwd],
    }
}

fn request(extra: &[(&'static str, &str)]) -> AuthRequest {
    let mut params = valid();
    for (k, v) in extra {
        params.retain(|(key, _)| key != k);
        params.push((k, (*v).to_owned()));
    }
    ok(&to_params(&params))
}

fn consented() -> Progress {
    Progress {
        consented: true,
        ..Progress::default()
    }
}

#[test]
fn without_a_session_the_user_logs_in_unless_prompt_none() {
    let p = Progress::default();
    assert_eq!(decide(&request(&[]), None, p, NOW), Decision::Login);
    assert_eq!(
        decide(&request(&[("prompt", "none")]), None, p, NOW),
        Decision::Refuse(AuthzRefusal::NoSession)
    );
}

#[test]
fn a_live_session_with_consent_is_issued_a_code() {
    let s = session(Level::Loa1, NOW - 60);
    assert_eq!(
        decide(&request(&[]), Some(&s), consented(), NOW),
        Decision::Issue
    );
    assert_eq!(
        decide(&request(&[("prompt", "none")]), Some(&s), consented(), NOW),
        Decision::Issue
    );
}

#[test]
fn consent_is_asked_unless_stored_given_in_the_flow_or_first_party() {
    let s = session(Level::Loa1, NOW - 60);
    let req = request(&[]);
    assert_eq!(
        decide(&req, Some(&s), Progress::default(), NOW),
        Decision::Consent
    );
    assert_eq!(
        decide(
            &request(&[("prompt", "none")]),
            Some(&s),
            Progress::default(),
            NOW
        ),
        Decision::Refuse(AuthzRefusal::ConsentRequired)
    );
    // prompt=consent asks again even with a stored consent, until given in this flow.
    let again = request(&[("prompt", "consent")]);
    assert_eq!(
        decide(&again, Some(&s), consented(), NOW),
        Decision::Consent
    );
    let given = Progress {
        consent_done: true,
        ..consented()
    };
    assert_eq!(decide(&again, Some(&s), given, NOW), Decision::Issue);
    let mut own = client();
    own.first_party = true;
    let req = parse_with(own, &to_params(&valid())).unwrap();
    assert_eq!(
        decide(&req, Some(&s), Progress::default(), NOW),
        Decision::Issue
    );
}

#[test]
fn psc_s_broker_is_never_asked_for_consent() {
    let mut broker = client();
    broker.policy.psc_broker = true;
    let req = parse_with(broker, &to_params(&valid())).unwrap();
    let s = session(Level::Loa1, NOW - 60);
    assert_eq!(
        decide(&req, Some(&s), Progress::default(), NOW),
        Decision::Issue
    );
}

#[test]
fn prompt_login_and_max_age_ask_for_a_fresh_login() {
    let s = session(Level::Loa1, NOW - 600);
    let login = request(&[("prompt", "login")]);
    assert_eq!(
        decide(&login, Some(&s), consented(), NOW),
        Decision::Reauthenticate
    );
    let done = Progress {
        login_done: true,
        ..consented()
    };
    assert_eq!(decide(&login, Some(&s), done, NOW), Decision::Issue);

    assert_eq!(
        decide(&request(&[("max_age", "300")]), Some(&s), consented(), NOW),
        Decision::Reauthenticate
    );
    assert_eq!(
        decide(&request(&[("max_age", "600")]), Some(&s), consented(), NOW),
        Decision::Issue,
        "exactly max_age old is still fresh"
    );
    assert_eq!(
        decide(
            &request(&[("max_age", "300"), ("prompt", "none")]),
            Some(&s),
            consented(),
            NOW
        ),
        Decision::Refuse(AuthzRefusal::ReauthenticationRequired)
    );
    // max_age=0: only a login within this flow will do, even in the same second.
    let zero = request(&[("max_age", "0")]);
    let now_session = session(Level::Loa1, NOW);
    assert_eq!(
        decide(&zero, Some(&now_session), consented(), NOW),
        Decision::Reauthenticate
    );
    assert_eq!(
        decide(&zero, Some(&now_session), done, NOW),
        Decision::Issue
    );
}

#[test]
fn a_flow_restarted_elsewhere_needs_a_login_within_it() {
    let s = session(Level::Loa3, NOW - 60);
    let restarted = Progress {
        fresh_login_required: true,
        ..consented()
    };
    assert_eq!(
        decide(&request(&[]), Some(&s), restarted, NOW),
        Decision::Reauthenticate
    );
    assert_eq!(
        decide(&request(&[("prompt", "none")]), Some(&s), restarted, NOW),
        Decision::Refuse(AuthzRefusal::ReauthenticationRequired)
    );
    let logged_in = Progress {
        login_done: true,
        ..restarted
    };
    assert_eq!(
        decide(&request(&[]), Some(&s), logged_in, NOW),
        Decision::Issue
    );
}

#[test]
fn a_session_below_the_level_steps_up() {
    let s = session(Level::Loa1, NOW - 60);
    assert_eq!(
        decide(
            &request(&[("acr_values", "loa2")]),
            Some(&s),
            consented(),
            NOW
        ),
        Decision::StepUp(Level::Loa2)
    );
    assert_eq!(
        decide(
            &request(&[("acr_values", "loa3"), ("prompt", "none")]),
            Some(&s),
            consented(),
            NOW
        ),
        Decision::Refuse(AuthzRefusal::LevelTooLow)
    );
    let high = session(Level::Loa3, NOW - 60);
    assert_eq!(
        decide(
            &request(&[("acr_values", "loa2")]),
            Some(&high),
            consented(),
            NOW
        ),
        Decision::Issue
    );
}

// --- Pro Santé Connect's federation profile ---

fn broker_request(extra: &[(&'static str, &str)]) -> AuthRequest {
    let mut c = client();
    c.policy.psc_broker = true;
    let mut params = valid();
    for (k, v) in extra {
        params.retain(|(key, _)| key != k);
        params.push((k, (*v).to_owned()));
    }
    let settings = crate::config::FederationSettings {
        max_auth_age_secs: 14_400,
        require_pairing: true,
        tid: "chu".into(),
        establishments: Vec::new(),
    };
    parse_with(c, &to_params(&params))
        .unwrap()
        .with_federation(&settings)
}

fn session_of(factors: &[(Method, bool)], auth_time: i64) -> Session {
    let factors: Vec<AuthFactor> = factors
        .iter()
        .map(|(method, user_verified)| AuthFactor {
            method: *method,
            user_verified: *user_verified,
        })
        .collect();
    let (level, amr) = crate::authn::evaluate(&factors).unwrap();
    Session {
        factors,
        level,
        amr,
        ..session(level, auth_time)
    }
}

fn federated() -> Progress {
    Progress {
        consented: true,
        paired: true,
        establishment_known: true,
        ..Progress::default()
    }
}

#[test]
fn the_federation_profile_applies_only_to_the_broker() {
    let plain = request(&[]);
    assert_eq!(plain.federation, None);
    assert_eq!(plain.required_level(), Level::Loa1);
    let broker = broker_request(&[("max_age", "20000")]);
    assert_eq!(broker.required_level(), Level::Loa3);
    assert_eq!(broker.max_auth_age(), Some(14_400), "the smallest wins");
    let pw = session_of(&[(Method::Password, false)], NOW - 60);
    assert_eq!(decide(&plain, Some(&pw), consented(), NOW), Decision::Issue);
}

#[test]
fn the_broker_gets_only_phishing_resistant_fresh_paired_local_logins() {
    use Method::*;
    let req = broker_request(&[]);
    let none = broker_request(&[("prompt", "none")]);
    let key = session_of(&[(SecurityKey, true)], NOW - 60);
    let cases: Vec<(&str, Session, Progress, Decision, Decision)> = vec![
        (
            "key with UV",
            key.clone(),
            federated(),
            Decision::Issue,
            Decision::Issue,
        ),
        (
            "card",
            session_of(&[(Card, true)], NOW - 60),
            federated(),
            Decision::Issue,
            Decision::Issue,
        ),
        (
            "password + key",
            session_of(&[(Password, false), (SecurityKey, false)], NOW - 60),
            federated(),
            Decision::Issue,
            Decision::Issue,
        ),
        (
            "directory password",
            session_of(&[(DirectoryPassword, false)], NOW - 60),
            federated(),
            Decision::StepUp(Level::Loa3),
            Decision::Refuse(AuthzRefusal::LevelTooLow),
        ),
        (
            "e-CPS",
            session_of(&[(Ecps, true)], NOW - 60),
            federated(),
            Decision::Refuse(AuthzRefusal::PscOriginSession),
            Decision::Refuse(AuthzRefusal::PscOriginSession),
        ),
        (
            "e-CPS with a key",
            session_of(&[(Ecps, true), (SecurityKey, true)], NOW - 60),
            federated(),
            Decision::Refuse(AuthzRefusal::PscOriginSession),
            Decision::Refuse(AuthzRefusal::PscOriginSession),
        ),
        (
            "too old",
            session_of(&[(SecurityKey, true)], NOW - 14_401),
            federated(),
            Decision::Reauthenticate,
            Decision::Refuse(AuthzRefusal::ReauthenticationRequired),
        ),
        (
            "not paired",
            key.clone(),
            Progress {
                paired: false,
                ..federated()
            },
            Decision::Pair,
            Decision::Refuse(AuthzRefusal::PairingRequired),
        ),
        (
            "unknown establishment",
            key,
            Progress {
                establishment_known: false,
                ..federated()
            },
            Decision::Stop(AuthzRefusal::EstablishmentUnknown),
            Decision::Stop(AuthzRefusal::EstablishmentUnknown),
        ),
    ];
    for (name, s, progress, interactive, silent) in cases {
        assert_eq!(decide(&req, Some(&s), progress, NOW), interactive, "{name}");
        assert_eq!(
            decide(&none, Some(&s), progress, NOW),
            silent,
            "{name}, prompt=none"
        );
    }
    let no_rule = {
        let mut r = broker_request(&[]);
        r.federation = Some(FederationRule {
            max_auth_age: 14_400,
            require_pairing: false,
        });
        r
    };
    let key = session_of(&[(Method::SecurityKey, true)], NOW - 60);
    let unpaired = Progress {
        paired: false,
        ..federated()
    };
    assert_eq!(decide(&no_rule, Some(&key), unpaired, NOW), Decision::Issue);
}

#[test]
fn a_disabled_client_is_unauthorized() {
    let mut disabled = client();
    disabled.disabled = true;
    match parse_with(disabled, &to_params(&valid())) {
        Err(RequestError::Redirect { reason, .. }) => {
            assert_eq!(reason.code(), ErrorCode::UnauthorizedClient);
            assert_eq!(reason, AuthzRefusal::ClientDisabled);
        }
        other => panic!("{other:?}"),
    }
}
