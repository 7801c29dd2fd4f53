//! Requests that must fail, each with its standard error (RFC 6749 §4.1.2.1 and §5.2, RFC 6750
//! §3.1, OIDC Core §3.1.2.6) and an audit event with a stable reason.

// Helpers of a test module fail loudly like the tests themselves (clippy.toml's
// allow-*-in-tests covers only #[test] functions).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::header::{CONTENT_TYPE, LOCATION, WWW_AUTHENTICATE};
use reqwest::{Response, StatusCode};
use serde_json::Value;
use trousseau::oidc::client::GrantType;

use crate::helpers::{
    Browser, Rp, TestApp, authorize, authorize_url, error_code, exchange, login_tokens, pkce,
    query_param, spawn_app,
};

const USER: &str = "alice";
const PASSWORD: &str = "correct horse battery";

/// The parameters of a valid authorization request, for each test to spoil.
fn valid(rp: &Rp) -> Vec<(&'static str, String)> {
    let (_, challenge) = pkce();
    vec![
        ("response_type", "code".into()),
        ("client_id", rp.id.clone()),
        ("redirect_uri", rp.redirect_uri.clone()),
        ("scope", "openid profile".into()),
        ("state", "st4te".into()),
        ("nonce", "n0nce".into()),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256".into()),
    ]
}

/// Replaces (or, with `None`, removes) one parameter.
fn with(
    mut params: Vec<(&'static str, String)>,
    key: &'static str,
    value: Option<&str>,
) -> Vec<(&'static str, String)> {
    params.retain(|(k, _)| *k != key);
    if let Some(v) = value {
        params.push((key, v.to_owned()));
    }
    params
}

fn authorize_with(app: &TestApp, params: &[(&'static str, String)]) -> String {
    let mut url = url::Url::parse(&app.url("/authorize")).unwrap();
    url.query_pairs_mut()
        .extend_pairs(params.iter().map(|(k, v)| (*k, v.as_str())));
    url.to_string()
}

/// Asserts the request is refused by a redirect to the client carrying `error`, `state` and
/// `iss`; returns the redirect.
async fn refused_by_redirect(
    app: &TestApp,
    rp: &Rp,
    params: &[(&'static str, String)],
    error: &str,
) -> String {
    let resp = app
        .http
        .get(authorize_with(app, params))
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        StatusCode::SEE_OTHER,
        "a redirect to the client"
    );
    let location = resp.headers()[LOCATION].to_str().unwrap().to_owned();
    assert!(
        location.starts_with(&format!("{}?", rp.redirect_uri)),
        "{location}"
    );
    assert_eq!(
        query_param(&location, "error").as_deref(),
        Some(error),
        "{location}"
    );
    assert!(query_param(&location, "error_description").is_some_and(|d| !d.is_empty()));
    assert_eq!(
        query_param(&location, "state").as_deref(),
        Some("st4te"),
        "{location}"
    );
    assert_eq!(
        query_param(&location, "iss").as_deref(),
        Some(app.issuer.as_str()),
        "RFC 9207"
    );
    assert!(query_param(&location, "code").is_none());
    location
}

/// Asserts an HTML error page: 400, no redirect, the French message by default.
async fn refused_by_page(resp: Response, message: &str) {
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(
        resp.headers().get(LOCATION).is_none(),
        "never a redirect to an untrusted address"
    );
    assert!(
        resp.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let body = resp.text().await.unwrap();
    assert!(body.contains(message), "{body}");
}

/// Reasons of the audit events of a kind.
async fn reasons(app: &TestApp, kind: &str) -> Vec<String> {
    app.audit(kind)
        .await
        .into_iter()
        .filter_map(|e| e.reason)
        .collect()
}

async fn assert_audited(app: &TestApp, kind: &str, reason: &str) {
    let found = reasons(app, kind).await;
    assert!(
        found.iter().any(|r| r == reason),
        "{kind} with reason {reason} in {found:?}"
    );
}

/// A signed-in browser's code and PKCE verifier for `rp`.
async fn code_for(app: &TestApp, browser: &mut Browser, rp: &Rp) -> (String, String) {
    let (url, verifier) = authorize_url(app, rp, &[]);
    let back = authorize(browser, &url, Some((USER, PASSWORD))).await;
    (query_param(&back, "code").expect("a code"), verifier)
}

async fn token_error(resp: Response) -> (StatusCode, String) {
    assert_eq!(resp.headers()["cache-control"], "no-store");
    error_code(resp).await
}

fn bad_request(code: &str) -> (StatusCode, String) {
    (StatusCode::BAD_REQUEST, code.to_owned())
}

fn unauthorized(code: &str) -> (StatusCode, String) {
    (StatusCode::UNAUTHORIZED, code.to_owned())
}

// --- The authorization endpoint ---

#[tokio::test]
async fn an_unregistered_redirect_uri_shows_an_error_page() {
    let app = spawn_app().await;
    let rp = app.rp("dpi").await;
    for bad in [
        "https://evil.example/cb",
        "https://dpi.example/cb/",
        "https://dpi.example/cb?x=1",
        "https://DPI.example/cb",
    ] {
        let resp = app
            .http
            .get(authorize_with(
                &app,
                &with(valid(&rp), "redirect_uri", Some(bad)),
            ))
            .send()
            .await
            .unwrap();
        refused_by_page(resp, "adresse de retour").await;
    }
    let resp = app
        .http
        .get(authorize_with(
            &app,
            &with(valid(&rp), "redirect_uri", None),
        ))
        .send()
        .await
        .unwrap();
    refused_by_page(resp, "adresse de retour").await;

    let events = app.audit("authorization_refused").await;
    let unregistered = events
        .iter()
        .filter(|e| e.reason.as_deref() == Some("unregistered_redirect_uri"))
        .count();
    assert_eq!(unregistered, 4);
    assert!(
        events
            .iter()
            .all(|e| e.client_id.as_deref() == Some("dpi") && e.outcome == "failure")
    );
    assert_audited(&app, "authorization_refused", "missing_redirect_uri").await;
}

#[tokio::test]
async fn the_error_page_speaks_english_when_asked() {
    let app = spawn_app().await;
    let rp = app.rp("dpi").await;
    let url = authorize_with(
        &app,
        &with(valid(&rp), "redirect_uri", Some("https://evil.example/cb")),
    );
    let resp = app
        .http
        .get(url)
        .header("accept-language", "en-GB,en;q=0.8")
        .send()
        .await
        .unwrap();
    refused_by_page(resp, "return address is not registered").await;
}

#[tokio::test]
async fn an_unknown_client_shows_an_error_page() {
    let app = spawn_app().await;
    let rp = app.rp("dpi").await;
    let resp = app
        .http
        .get(authorize_with(
            &app,
            &with(valid(&rp), "client_id", Some("nobody")),
        ))
        .send()
        .await
        .unwrap();
    refused_by_page(resp, "pas reconnue").await;
    let resp = app
        .http
        .get(authorize_with(&app, &with(valid(&rp), "client_id", None)))
        .send()
        .await
        .unwrap();
    refused_by_page(resp, "pas reconnue").await;

    let events = app.audit("authorization_refused").await;
    assert_eq!(events.len(), 2);
    assert!(
        events
            .iter()
            .all(|e| e.reason.as_deref() == Some("unknown_client"))
    );
    assert!(
        events
            .iter()
            .any(|e| e.client_id.as_deref() == Some("nobody"))
    );
}

#[tokio::test]
async fn a_repeated_authorization_parameter_shows_an_error_page() {
    let app = spawn_app().await;
    let rp = app.rp("dpi").await;
    let mut params = valid(&rp);
    params.push(("redirect_uri", "https://evil.example/cb".into()));
    let resp = app
        .http
        .get(authorize_with(&app, &params))
        .send()
        .await
        .unwrap();
    refused_by_page(resp, "pas reconnue").await;
    assert_audited(&app, "authorization_refused", "repeated_parameter").await;
}

/// One way to spoil a valid authorization request: the parameters changed (`None` removes one),
/// the error the client is sent back, and the reason audited (`None`: the same as another row).
struct Spoiled {
    changes: &'static [(&'static str, Option<&'static str>)],
    error: &'static str,
    reason: Option<&'static str>,
}

const fn spoiled(
    changes: &'static [(&'static str, Option<&'static str>)],
    error: &'static str,
    reason: Option<&'static str>,
) -> Spoiled {
    Spoiled {
        changes,
        error,
        reason,
    }
}

/// Each spoiled request is refused by a redirect to the client with its error, and each
/// reason is audited.
async fn assert_refused_by_redirect(rows: &[Spoiled]) {
    let app = spawn_app().await;
    let rp = app.rp("dpi").await;
    for row in rows {
        let mut params = valid(&rp);
        for (key, value) in row.changes {
            params = with(params, key, *value);
        }
        refused_by_redirect(&app, &rp, &params, row.error).await;
    }
    for reason in rows.iter().filter_map(|row| row.reason) {
        assert_audited(&app, "authorization_refused", reason).await;
    }
}

#[tokio::test]
async fn response_type_must_be_code() {
    assert_refused_by_redirect(&[
        // A missing required parameter is invalid_request (RFC 6749 §4.1.2.1).
        spoiled(
            &[("response_type", None)],
            "invalid_request",
            Some("missing_response_type"),
        ),
        spoiled(
            &[("response_type", Some("token"))],
            "unsupported_response_type",
            Some("unsupported_response_type"),
        ),
        spoiled(
            &[("response_type", Some("id_token"))],
            "unsupported_response_type",
            None,
        ),
        spoiled(
            &[("response_type", Some("code id_token"))],
            "unsupported_response_type",
            None,
        ),
    ])
    .await;
}

#[tokio::test]
async fn the_scope_must_include_openid_and_stay_within_the_clients() {
    assert_refused_by_redirect(&[
        spoiled(
            &[("scope", Some("profile email"))],
            "invalid_scope",
            Some("missing_openid_scope"),
        ),
        spoiled(&[("scope", None)], "invalid_scope", None),
        spoiled(
            &[("scope", Some("openid admin"))],
            "invalid_scope",
            Some("scope_not_allowed"),
        ),
    ])
    .await;
}

#[tokio::test]
async fn pkce_is_required_and_only_s256() {
    assert_refused_by_redirect(&[
        spoiled(
            &[("code_challenge", None), ("code_challenge_method", None)],
            "invalid_request",
            Some("pkce_required"),
        ),
        spoiled(
            &[("code_challenge_method", Some("plain"))],
            "invalid_request",
            Some("pkce_method_refused"),
        ),
        // Without a method the challenge would be `plain`.
        spoiled(&[("code_challenge_method", None)], "invalid_request", None),
        spoiled(
            &[("code_challenge", None)],
            "invalid_request",
            Some("missing_code_challenge"),
        ),
        spoiled(
            &[("code_challenge", Some("tooshort"))],
            "invalid_request",
            Some("malformed_code_challenge"),
        ),
    ])
    .await;
}

#[tokio::test]
async fn prompt_none_without_a_session_is_login_required() {
    assert_refused_by_redirect(&[
        spoiled(
            &[("prompt", Some("none"))],
            "login_required",
            Some("no_session"),
        ),
        spoiled(
            &[("prompt", Some("none login"))],
            "invalid_request",
            Some("bad_prompt"),
        ),
        // `none` stands alone, whatever the other value (OIDC Core §3.1.2.1).
        spoiled(
            &[("prompt", Some("select_account none"))],
            "invalid_request",
            Some("bad_prompt"),
        ),
        spoiled(&[("prompt", Some("whenever"))], "invalid_request", None),
    ])
    .await;
}

#[tokio::test]
async fn request_objects_are_not_supported() {
    assert_refused_by_redirect(&[spoiled(
        &[(
            "request",
            Some("eyJhbGciOiJub25lIn0.eyJzY29wZSI6Im9wZW5pZCJ9."),
        )],
        "request_not_supported",
        Some("request_object"),
    )])
    .await;
}

#[tokio::test]
async fn an_unknown_response_mode_is_refused() {
    assert_refused_by_redirect(&[spoiled(
        &[("response_mode", Some("fragment"))],
        "invalid_request",
        Some("bad_response_mode"),
    )])
    .await;
}

#[tokio::test]
async fn a_client_without_the_code_grant_cannot_authorize() {
    let app = spawn_app().await;
    let mut spec = app.spec("batch");
    spec.grants = vec![GrantType::ClientCredentials];
    let rp = app.register(spec).await;
    refused_by_redirect(&app, &rp, &valid(&rp), "unauthorized_client").await;
    assert_audited(&app, "authorization_refused", "grant_not_allowed").await;
}

#[tokio::test]
async fn a_malformed_max_age_is_refused() {
    assert_refused_by_redirect(&[
        spoiled(
            &[("max_age", Some("-1"))],
            "invalid_request",
            Some("bad_max_age"),
        ),
        spoiled(&[("max_age", Some("soon"))], "invalid_request", None),
        spoiled(&[("max_age", Some("1e3"))], "invalid_request", None),
    ])
    .await;
}

// --- Codes at the token endpoint ---

#[tokio::test]
async fn a_replayed_code_is_refused_and_revokes_what_it_gave() {
    let app = spawn_app().await;
    let rp = app.rp("dpi").await;
    app.create_user(USER, PASSWORD).await;
    let mut browser = app.browser();
    let (code, verifier) = code_for(&app, &mut browser, &rp).await;
    let resp = exchange(&app, &rp, &code, &verifier).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let tokens: Value = resp.json().await.unwrap();
    let rt = tokens["refresh_token"].as_str().unwrap();

    let resp = exchange(&app, &rp, &code, &verifier).await;
    assert_eq!(token_error(resp).await, bad_request("invalid_grant"));
    let resp = app
        .post_form(
            "/token",
            Some(&rp),
            &[("grant_type", "refresh_token"), ("refresh_token", rt)],
        )
        .await;
    assert_eq!(
        token_error(resp).await,
        bad_request("invalid_grant"),
        "the refresh token of the first exchange is revoked"
    );
    let access = tokens["access_token"].as_str().unwrap();
    let info = app
        .http
        .get(app.url("/userinfo"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(
        info.status(),
        StatusCode::UNAUTHORIZED,
        "the access token of the first exchange is revoked"
    );

    let replay = app.audit("code_replay").await;
    assert_eq!(replay.len(), 1);
    assert_eq!(replay[0].client_id.as_deref(), Some("dpi"));
    assert_eq!(replay[0].outcome, "failure");
    assert_audited(&app, "token_refused", "code_replay").await;
    assert_audited(&app, "token_refused", "refresh_revoked").await;
}

/// Concurrent redemptions of one code, tried again and again: at most one exchange succeeds,
/// and whatever it obtained is dead once the others are answered, however the requests
/// interleaved (the replay may land before the winner recorded what it issued).
#[tokio::test]
async fn concurrent_redemptions_of_a_code_leave_no_live_token() {
    const TRIALS: usize = 25;
    const AT_ONCE: usize = 6;
    let app = spawn_app().await;
    let rp = app.rp("dpi").await;
    app.create_user(USER, PASSWORD).await;
    let mut browser = app.browser();
    let mut winners = 0;
    for trial in 0..TRIALS {
        let (code, verifier) = code_for(&app, &mut browser, &rp).await;
        let answers = futures_util::future::join_all(
            (0..AT_ONCE).map(|_| exchange(&app, &rp, &code, &verifier)),
        )
        .await;
        let mut won = Vec::new();
        for resp in answers {
            if resp.status() == StatusCode::OK {
                won.push(resp.json::<Value>().await.unwrap());
            } else {
                assert_eq!(token_error(resp).await, bad_request("invalid_grant"));
            }
        }
        assert!(won.len() <= 1, "trial {trial}: {} exchanges won", won.len());
        let Some(tokens) = won.pop() else { continue };
        winners += 1;
        let access = tokens["access_token"].as_str().unwrap();
        let info = app
            .http
            .get(app.url("/userinfo"))
            .bearer_auth(access)
            .send()
            .await
            .unwrap();
        assert_eq!(
            info.status(),
            StatusCode::UNAUTHORIZED,
            "trial {trial}: the winner's access token is revoked"
        );
        let introspected: Value = app
            .post_form("/introspect", Some(&rp), &[("token", access)])
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(introspected["active"], false, "trial {trial}");
        let rt = tokens["refresh_token"].as_str().unwrap();
        let resp = app
            .post_form(
                "/token",
                Some(&rp),
                &[("grant_type", "refresh_token"), ("refresh_token", rt)],
            )
            .await;
        assert_eq!(
            token_error(resp).await,
            bad_request("invalid_grant"),
            "trial {trial}: the winner's refresh token is revoked"
        );
    }
    let replays = app.audit("code_replay").await;
    assert!(
        replays.len() >= TRIALS,
        "every trial saw a replay: {replays:?}"
    );
    eprintln!("{winners} of {TRIALS} trials had an exchange answered with tokens");
}

#[tokio::test]
async fn a_pkce_mismatch_is_invalid_grant() {
    let app = spawn_app().await;
    let rp = app.rp("dpi").await;
    app.create_user(USER, PASSWORD).await;
    let mut browser = app.browser();
    let (code, _) = code_for(&app, &mut browser, &rp).await;
    let (other_verifier, _) = pkce();
    let resp = exchange(&app, &rp, &code, &other_verifier).await;
    assert_eq!(token_error(resp).await, bad_request("invalid_grant"));
    assert_audited(&app, "token_refused", "pkce_mismatch").await;

    let (code, _) = code_for(&app, &mut browser, &rp).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", rp.redirect_uri.as_str()),
    ];
    let resp = app.post_form("/token", Some(&rp), &form).await;
    assert_eq!(token_error(resp).await, bad_request("invalid_grant"));
    assert_audited(&app, "token_refused", "pkce_missing").await;
}

#[tokio::test]
async fn an_expired_code_is_invalid_grant() {
    let app = spawn_app().await;
    let rp = app.rp("dpi").await;
    app.create_user(USER, PASSWORD).await;
    let mut browser = app.browser();
    let (code, verifier) = code_for(&app, &mut browser, &rp).await;
    app.clock.advance(61);
    let resp = exchange(&app, &rp, &code, &verifier).await;
    assert_eq!(token_error(resp).await, bad_request("invalid_grant"));
    assert_audited(&app, "token_refused", "code_expired").await;
}

#[tokio::test]
async fn the_redirect_uri_must_match_at_the_token_endpoint() {
    let app = spawn_app().await;
    let mut spec = app.spec("dpi");
    spec.redirect_uris.push("https://dpi.example/other".into());
    let rp = app.register(spec).await;
    app.create_user(USER, PASSWORD).await;
    let mut browser = app.browser();

    let (code, verifier) = code_for(&app, &mut browser, &rp).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", "https://dpi.example/other"),
        ("code_verifier", verifier.as_str()),
    ];
    let resp = app.post_form("/token", Some(&rp), &form).await;
    assert_eq!(
        token_error(resp).await,
        bad_request("invalid_grant"),
        "another registered URI is still a mismatch"
    );

    let (code, verifier) = code_for(&app, &mut browser, &rp).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("code_verifier", verifier.as_str()),
    ];
    let resp = app.post_form("/token", Some(&rp), &form).await;
    assert_eq!(
        token_error(resp).await,
        bad_request("invalid_grant"),
        "a missing redirect_uri too"
    );

    let events = app.audit("token_refused").await;
    assert_eq!(
        events
            .iter()
            .filter(|e| e.reason.as_deref() == Some("redirect_uri_mismatch"))
            .count(),
        2
    );
}

#[tokio::test]
async fn a_code_of_another_client_is_invalid_grant() {
    let app = spawn_app().await;
    let a = app.rp("dpi").await;
    let b = app.rp("intruder").await;
    app.create_user(USER, PASSWORD).await;
    let mut browser = app.browser();
    let (code, verifier) = code_for(&app, &mut browser, &a).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", a.redirect_uri.as_str()),
        ("code_verifier", verifier.as_str()),
    ];
    let resp = app.post_form("/token", Some(&b), &form).await;
    assert_eq!(token_error(resp).await, bad_request("invalid_grant"));
    let events = app.audit("token_refused").await;
    let ev = events
        .iter()
        .find(|e| e.reason.as_deref() == Some("code_of_other_client"))
        .expect("audited");
    assert_eq!(ev.client_id.as_deref(), Some("intruder"));
}

#[tokio::test]
async fn an_unknown_code_is_invalid_grant() {
    let app = spawn_app().await;
    let rp = app.rp("dpi").await;
    let (verifier, _) = pkce();
    let resp = exchange(&app, &rp, "no-such-code", &verifier).await;
    assert_eq!(token_error(resp).await, bad_request("invalid_grant"));
    assert_audited(&app, "token_refused", "unknown_code").await;
}

#[tokio::test]
async fn a_refresh_token_of_another_client_is_invalid_grant() {
    let app = spawn_app().await;
    let a = app.rp("dpi").await;
    let b = app.rp("intruder").await;
    app.create_user(USER, PASSWORD).await;
    let mut browser = app.browser();
    let tokens = login_tokens(&app, &mut browser, &a, USER, PASSWORD).await;
    let rt = tokens["refresh_token"].as_str().unwrap();
    let resp = app
        .post_form(
            "/token",
            Some(&b),
            &[("grant_type", "refresh_token"), ("refresh_token", rt)],
        )
        .await;
    assert_eq!(token_error(resp).await, bad_request("invalid_grant"));
    assert_audited(&app, "token_refused", "refresh_of_other_client").await;
}

// --- Client authentication and request shape at the token endpoint ---

#[tokio::test]
async fn a_wrong_client_secret_is_invalid_client_with_a_basic_challenge() {
    let app = spawn_app().await;
    let rp = app.rp("dpi").await;
    let wrong = Rp {
        secret: Some("not-the-secret".into()),
        ..rp
    };
    let resp = app
        .post_form(
            "/token",
            Some(&wrong),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let challenge = resp.headers()[WWW_AUTHENTICATE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(challenge.starts_with("Basic"), "{challenge}");
    assert_eq!(token_error(resp).await, unauthorized("invalid_client"));
    let events = app.audit("token_refused").await;
    let ev = events
        .iter()
        .find(|e| e.reason.as_deref() == Some("wrong_client_secret"))
        .expect("audited");
    assert_eq!(ev.client_id.as_deref(), Some("dpi"));
}

#[tokio::test]
async fn an_unknown_client_is_invalid_client() {
    let app = spawn_app().await;
    let ghost = Rp {
        id: "ghost".into(),
        secret: Some("whatever".into()),
        redirect_uri: String::new(),
    };
    let resp = app
        .post_form(
            "/token",
            Some(&ghost),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(
        resp.headers()[WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .starts_with("Basic")
    );
    assert_eq!(token_error(resp).await, unauthorized("invalid_client"));

    let resp = app
        .post_form("/token", None, &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(
        token_error(resp).await,
        unauthorized("invalid_client"),
        "no client authentication at all"
    );

    assert_audited(&app, "token_refused", "unknown_client").await;
    assert_audited(&app, "token_refused", "no_client_auth").await;
}

#[tokio::test]
async fn grant_type_is_required_and_must_be_supported() {
    let app = spawn_app().await;
    let rp = app.rp("dpi").await;
    let resp = app.post_form("/token", Some(&rp), &[("code", "x")]).await;
    assert_eq!(token_error(resp).await, bad_request("invalid_request"));
    assert_audited(&app, "token_refused", "malformed_token_request").await;

    for grant in [
        "password",
        "implicit",
        "urn:ietf:params:oauth:grant-type:device_code",
    ] {
        let resp = app
            .post_form("/token", Some(&rp), &[("grant_type", grant)])
            .await;
        assert_eq!(
            token_error(resp).await,
            bad_request("unsupported_grant_type"),
            "{grant}"
        );
    }
    assert_audited(&app, "token_refused", "unsupported_grant_type").await;

    let resp = app
        .post_form("/token", Some(&rp), &[("grant_type", "authorization_code")])
        .await;
    assert_eq!(
        token_error(resp).await,
        bad_request("invalid_request"),
        "code is missing"
    );
}

#[tokio::test]
async fn a_repeated_parameter_is_invalid_request() {
    let app = spawn_app().await;
    let rp = app.rp("dpi").await;
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", "a"),
        ("refresh_token", "b"),
    ];
    let resp = app.post_form("/token", Some(&rp), &form).await;
    assert_eq!(token_error(resp).await, bad_request("invalid_request"));
    assert_audited(&app, "token_refused", "repeated_parameter").await;
}

#[tokio::test]
async fn a_json_body_is_invalid_request() {
    let app = spawn_app().await;
    let rp = app.rp("dpi").await;
    let resp = app
        .http
        .post(app.url("/token"))
        .basic_auth(&rp.id, rp.secret.as_deref())
        .json(&serde_json::json!({ "grant_type": "client_credentials" }))
        .send()
        .await
        .unwrap();
    assert_eq!(token_error(resp).await, bad_request("invalid_request"));
    let resp = app
        .http
        .post(app.url("/token"))
        .basic_auth(&rp.id, rp.secret.as_deref())
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap();
    assert_eq!(
        token_error(resp).await,
        bad_request("invalid_request"),
        "no Content-Type at all"
    );
    let events = app.audit("token_refused").await;
    assert_eq!(
        events
            .iter()
            .filter(|e| e.reason.as_deref() == Some("bad_content_type"))
            .count(),
        2
    );
}

#[tokio::test]
async fn a_grant_the_client_was_not_given_is_unauthorized_client() {
    let app = spawn_app().await;
    let rp = app.rp("dpi").await;
    let resp = app
        .post_form("/token", Some(&rp), &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(token_error(resp).await, bad_request("unauthorized_client"));

    let mut spec = app.spec("batch");
    spec.grants = vec![GrantType::ClientCredentials];
    spec.scopes = vec!["api.read".into()];
    let machine = app.register(spec).await;
    let resp = app
        .post_form(
            "/token",
            Some(&machine),
            &[("grant_type", "refresh_token"), ("refresh_token", "x")],
        )
        .await;
    assert_eq!(token_error(resp).await, bad_request("unauthorized_client"));

    let events = app.audit("token_refused").await;
    let not_allowed: Vec<_> = events
        .iter()
        .filter(|e| e.reason.as_deref() == Some("grant_not_allowed"))
        .collect();
    assert_eq!(not_allowed.len(), 2);
}

#[tokio::test]
async fn a_public_client_cannot_use_client_credentials() {
    let app = spawn_app().await;
    let mut spec = app.spec("mobile");
    spec.public = true;
    app.register(spec).await;
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", "mobile"),
    ];
    let resp = app.post_form("/token", None, &form).await;
    let (status, code) = token_error(resp).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(code, "unauthorized_client");
    let events = app.audit("token_refused").await;
    assert!(
        events
            .iter()
            .any(|e| e.client_id.as_deref() == Some("mobile") && e.outcome == "failure"),
        "{events:?}"
    );
}

#[tokio::test]
async fn a_malformed_authorization_header_is_invalid_client() {
    let app = spawn_app().await;
    let rp = app.rp("dpi").await;
    let no_colon = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("dpi")
    );
    for header in [
        "Bearer abc",
        "Basic !!!",
        no_colon.as_str(),
        "Digest username=\"dpi\"",
    ] {
        let resp = app
            .http
            .post(app.url("/token"))
            .header("authorization", header)
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", rp.id.as_str()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{header}");
        assert!(
            resp.headers()[WWW_AUTHENTICATE]
                .to_str()
                .unwrap()
                .starts_with("Basic")
        );
        assert_eq!(token_error(resp).await, unauthorized("invalid_client"));
    }
    let events = app.audit("token_refused").await;
    assert_eq!(
        events
            .iter()
            .filter(|e| e.reason.as_deref() == Some("malformed_basic_auth"))
            .count(),
        4
    );
}

// --- Bearer tokens at UserInfo ---

async fn userinfo_refusal(app: &TestApp, token: &str) {
    let resp = app
        .http
        .get(app.url("/userinfo"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{token}");
    let challenge = resp.headers()[WWW_AUTHENTICATE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        challenge.starts_with("Bearer ") && challenge.contains("error=\"invalid_token\""),
        "{challenge}"
    );
    assert_eq!(error_code(resp).await.1, "invalid_token");
}

fn with_header(jwt: &str, header: &Value) -> String {
    let mut parts: Vec<String> = jwt.split('.').map(str::to_owned).collect();
    parts[0] = URL_SAFE_NO_PAD.encode(header.to_string());
    parts.join(".")
}

fn with_claims(jwt: &str, claims: &Value) -> String {
    let mut parts: Vec<String> = jwt.split('.').map(str::to_owned).collect();
    parts[1] = URL_SAFE_NO_PAD.encode(claims.to_string());
    parts.join(".")
}

#[tokio::test]
async fn bad_bearer_tokens_are_invalid_token() {
    let app = spawn_app().await;
    let rp = app.rp("dpi").await;
    app.create_user(USER, PASSWORD).await;
    let mut browser = app.browser();
    let tokens = login_tokens(&app, &mut browser, &rp, USER, PASSWORD).await;
    let at = tokens["access_token"].as_str().unwrap();
    let header: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(at.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();

    userinfo_refusal(&app, "garbage").await;
    userinfo_refusal(&app, "a.b.c").await;

    let mut forged = crate::helpers::claims(at);
    forged["sub"] = "someone-else".into();
    userinfo_refusal(&app, &with_claims(at, &forged)).await;

    let mut unknown_kid = header.clone();
    unknown_kid["kid"] = "no-such-key".into();
    userinfo_refusal(&app, &with_header(at, &unknown_kid)).await;

    let mut none = header.clone();
    none["alg"] = "none".into();
    let unsigned = format!("{}.", with_header(at, &none).rsplit_once('.').unwrap().0);
    userinfo_refusal(&app, &unsigned).await;

    // An ID token is not an access token (RFC 9068 §4: typ at+jwt).
    userinfo_refusal(&app, tokens["id_token"].as_str().unwrap()).await;

    // The genuine token still works until it expires.
    let ok = app
        .http
        .get(app.url("/userinfo"))
        .bearer_auth(at)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    app.clock.advance(301);
    userinfo_refusal(&app, at).await;

    let found = reasons(&app, "userinfo_refused").await;
    for reason in [
        "malformed_token",
        "bad_signature",
        "unknown_kid",
        "wrong_token_type",
        "token_expired",
    ] {
        assert!(found.iter().any(|r| r == reason), "{reason} in {found:?}");
    }
}
