//! Pushed authorization requests (RFC 9126): the client pushes its request authenticated, gets a
//! one-time `request_uri` valid for a minute, and sends the browser with only that.

// Helpers of a test module fail loudly like the tests themselves (clippy.toml's
// allow-*-in-tests covers only #[test] functions).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use reqwest::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION};
use reqwest::{Response, StatusCode};
use serde_json::Value;

use crate::helpers::{
    Rp, TestApp, authorize, claims, error_code, exchange, pkce, query_param, spawn_app,
};

const USER: &str = "alice";
const PASSWORD: &str = "correct horse battery";
const PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

/// The authorization parameters a client pushes, with its PKCE verifier.
fn request(rp: &Rp) -> (Vec<(&'static str, String)>, String) {
    let (verifier, challenge) = pkce();
    let params = vec![
        ("response_type", "code".into()),
        ("client_id", rp.id.clone()),
        ("redirect_uri", rp.redirect_uri.clone()),
        ("scope", "openid profile".into()),
        ("state", "pushed-state".into()),
        ("nonce", "pushed-nonce".into()),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256".into()),
    ];
    (params, verifier)
}

async fn push(app: &TestApp, rp: Option<&Rp>, params: &[(&'static str, String)]) -> Response {
    let form: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
    app.post_form("/par", rp, &form).await
}

/// Pushes a valid request and returns (request_uri, verifier).
async fn pushed(app: &TestApp, rp: &Rp) -> (String, String) {
    let (params, verifier) = request(rp);
    // A public client has no secret: its client_id in the body is all it sends.
    let resp = push(app, rp.secret.is_some().then_some(rp), &params).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let body: Value = resp.json().await.unwrap();
    (body["request_uri"].as_str().unwrap().to_owned(), verifier)
}

fn authorize_by_reference(app: &TestApp, client_id: &str, request_uri: &str) -> String {
    let mut url = url::Url::parse(&app.url("/authorize")).unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", client_id)
        .append_pair("request_uri", request_uri);
    url.to_string()
}

async fn assert_error_page(resp: Response) {
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.headers().get(LOCATION).is_none());
    assert!(
        resp.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
}

async fn reasons(app: &TestApp, kind: &str) -> Vec<String> {
    app.audit(kind)
        .await
        .into_iter()
        .filter_map(|e| e.reason)
        .collect()
}

#[tokio::test]
async fn a_pushed_request_completes_the_code_flow() {
    let app = spawn_app().await;
    let rp = app.rp("dpi").await;
    app.create_user(USER, PASSWORD).await;
    let (params, verifier) = request(&rp);

    let resp = push(&app, Some(&rp), &params).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    assert_eq!(resp.headers()[CACHE_CONTROL], "no-store");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["expires_in"], 60);
    let request_uri = body["request_uri"].as_str().unwrap();
    assert!(
        request_uri.starts_with(PREFIX) && request_uri.len() > PREFIX.len() + 32,
        "{request_uri}"
    );

    let mut browser = app.browser();
    let back = authorize(
        &mut browser,
        &authorize_by_reference(&app, "dpi", request_uri),
        Some((USER, PASSWORD)),
    )
    .await;
    assert!(back.starts_with("https://dpi.example/cb?"), "{back}");
    assert_eq!(query_param(&back, "state").as_deref(), Some("pushed-state"));
    assert_eq!(
        query_param(&back, "iss").as_deref(),
        Some(app.issuer.as_str())
    );
    let code = query_param(&back, "code").expect("a code");

    let resp = exchange(&app, &rp, &code, &verifier).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let tokens: Value = resp.json().await.unwrap();
    assert_eq!(tokens["scope"], "openid profile");
    let id = claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(id["nonce"], "pushed-nonce");
    assert_eq!(id["aud"], "dpi");
}

#[tokio::test]
async fn only_the_pushed_parameters_count() {
    let app = spawn_app().await;
    let rp = app.rp("dpi").await;
    app.create_user(USER, PASSWORD).await;
    let (request_uri, _) = pushed(&app, &rp).await;
    // Parameters added in the front channel cannot change what was pushed.
    let mut url = url::Url::parse(&authorize_by_reference(&app, "dpi", &request_uri)).unwrap();
    url.query_pairs_mut()
        .append_pair("state", "tampered")
        .append_pair("scope", "openid profile email");
    let mut browser = app.browser();
    let back = authorize(&mut browser, url.as_str(), Some((USER, PASSWORD))).await;
    assert_eq!(query_param(&back, "state").as_deref(), Some("pushed-state"));
    assert!(query_param(&back, "code").is_some());
    let events = app.audit("code_issued").await;
    let details: Value = serde_json::from_str(events[0].details.as_deref().unwrap()).unwrap();
    assert_eq!(details["scope"], "openid profile");
}

#[tokio::test]
async fn a_request_uri_is_single_use() {
    let app = spawn_app().await;
    let rp = app.rp("dpi").await;
    app.create_user(USER, PASSWORD).await;
    let (request_uri, _) = pushed(&app, &rp).await;
    let url = authorize_by_reference(&app, "dpi", &request_uri);

    let mut browser = app.browser();
    authorize(&mut browser, &url, Some((USER, PASSWORD))).await;
    // Even with a live session, the second use is refused.
    let resp = browser.get(&url).await;
    assert_error_page(resp).await;
    let resp = app.http.get(&url).send().await.unwrap();
    assert_error_page(resp).await;
    let found = reasons(&app, "authorization_refused").await;
    assert_eq!(
        found.iter().filter(|r| *r == "invalid_request_uri").count(),
        2,
        "{found:?}"
    );
}

#[tokio::test]
async fn an_expired_request_uri_is_refused() {
    let app = spawn_app().await;
    let rp = app.rp("dpi").await;
    let (request_uri, _) = pushed(&app, &rp).await;
    app.clock.advance(61);
    let resp = app
        .http
        .get(authorize_by_reference(&app, "dpi", &request_uri))
        .send()
        .await
        .unwrap();
    assert_error_page(resp).await;
    assert!(
        reasons(&app, "authorization_refused")
            .await
            .iter()
            .any(|r| r == "invalid_request_uri")
    );
}

#[tokio::test]
async fn a_request_uri_works_only_for_the_client_that_pushed_it() {
    let app = spawn_app().await;
    let rp = app.rp("dpi").await;
    app.rp("intruder").await;
    let (request_uri, _) = pushed(&app, &rp).await;
    let resp = app
        .http
        .get(authorize_by_reference(&app, "intruder", &request_uri))
        .send()
        .await
        .unwrap();
    assert_error_page(resp).await;
    let resp = app
        .http
        .get(authorize_by_reference(
            &app,
            "dpi",
            &format!("{PREFIX}made-up"),
        ))
        .send()
        .await
        .unwrap();
    assert_error_page(resp).await;
    let resp = app
        .http
        .get(authorize_by_reference(
            &app,
            "dpi",
            "https://dpi.example/request.jwt",
        ))
        .send()
        .await
        .unwrap();
    assert_error_page(resp).await;
    let found = reasons(&app, "authorization_refused").await;
    assert_eq!(
        found.iter().filter(|r| *r == "invalid_request_uri").count(),
        3,
        "{found:?}"
    );
}

#[tokio::test]
async fn a_pushed_request_with_a_bad_redirect_uri_is_invalid_request() {
    let app = spawn_app().await;
    let rp = app.rp("dpi").await;
    let (mut params, _) = request(&rp);
    params.retain(|(k, _)| *k != "redirect_uri");
    params.push(("redirect_uri", "https://evil.example/cb".into()));
    let resp = push(&app, Some(&rp), &params).await;
    assert_eq!(resp.headers()[CONTENT_TYPE], "application/json");
    assert_eq!(
        error_code(resp).await,
        (StatusCode::BAD_REQUEST, "invalid_request".into())
    );
    let events = app.audit("par_refused").await;
    assert_eq!(events.len(), 1);
    assert_eq!(
        events[0].reason.as_deref(),
        Some("unregistered_redirect_uri")
    );
    assert_eq!(events[0].client_id.as_deref(), Some("dpi"));
}

#[tokio::test]
async fn a_pushed_request_is_validated_like_a_front_channel_one() {
    let app = spawn_app().await;
    let rp = app.rp("dpi").await;
    let (params, _) = request(&rp);
    let set = |key: &'static str, value: Option<&str>| {
        let mut p: Vec<(&'static str, String)> =
            params.iter().filter(|(k, _)| *k != key).cloned().collect();
        if let Some(v) = value {
            p.push((key, v.to_owned()));
        }
        p
    };
    let cases = [
        (
            set("scope", Some("profile")),
            "invalid_scope",
            "missing_openid_scope",
        ),
        (
            set("code_challenge", None),
            "invalid_request",
            "missing_code_challenge",
        ),
        (
            set("response_type", Some("token")),
            "unsupported_response_type",
            "unsupported_response_type",
        ),
        (
            set("request", Some("a.b.c")),
            "request_not_supported",
            "request_object",
        ),
    ];
    for (p, error, reason) in cases {
        let resp = push(&app, Some(&rp), &p).await;
        assert_eq!(
            error_code(resp).await,
            (StatusCode::BAD_REQUEST, error.into()),
            "{reason}"
        );
        assert!(
            reasons(&app, "par_refused")
                .await
                .iter()
                .any(|r| r == reason),
            "{reason}"
        );
    }
    let resp = push(
        &app,
        Some(&rp),
        &set("request_uri", Some(&format!("{PREFIX}x"))),
    )
    .await;
    assert_eq!(
        error_code(resp).await,
        (StatusCode::BAD_REQUEST, "invalid_request".into()),
        "no nested request_uri"
    );
}

#[tokio::test]
async fn pushing_requires_client_authentication() {
    let app = spawn_app().await;
    let rp = app.rp("dpi").await;
    let (params, _) = request(&rp);
    // A confidential client naming itself without its secret.
    let resp = push(&app, None, &params).await;
    assert_eq!(
        error_code(resp).await,
        (StatusCode::UNAUTHORIZED, "invalid_client".into())
    );
    // Nobody named at all.
    let anonymous: Vec<_> = params
        .iter()
        .filter(|(k, _)| *k != "client_id")
        .cloned()
        .collect();
    let resp = push(&app, None, &anonymous).await;
    assert_eq!(
        error_code(resp).await,
        (StatusCode::UNAUTHORIZED, "invalid_client".into())
    );

    let wrong = Rp {
        secret: Some("wrong".into()),
        ..rp.clone()
    };
    let resp = push(&app, Some(&wrong), &params).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(
        resp.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic")
    );

    let found = reasons(&app, "par_refused").await;
    for reason in [
        "wrong_client_auth_method",
        "no_client_auth",
        "wrong_client_secret",
    ] {
        assert!(found.iter().any(|r| r == reason), "{reason} in {found:?}");
    }
}

#[tokio::test]
async fn a_client_cannot_push_for_another() {
    let app = spawn_app().await;
    let rp = app.rp("dpi").await;
    let other = app.rp("intruder").await;
    let (params, _) = request(&rp);
    // Authenticated as intruder, naming dpi as client_id.
    let resp = push(&app, Some(&other), &params).await;
    assert_eq!(
        error_code(resp).await,
        (StatusCode::BAD_REQUEST, "invalid_request".into())
    );
    assert!(
        reasons(&app, "par_refused")
            .await
            .iter()
            .any(|r| r == "client_id_mismatch")
    );
}

#[tokio::test]
async fn a_public_client_may_push_with_its_client_id() {
    let app = spawn_app().await;
    let mut spec = app.spec("mobile");
    spec.public = true;
    let rp = app.register(spec).await;
    app.create_user(USER, PASSWORD).await;
    let (request_uri, verifier) = pushed(&app, &rp).await;
    let mut browser = app.browser();
    let back = authorize(
        &mut browser,
        &authorize_by_reference(&app, "mobile", &request_uri),
        Some((USER, PASSWORD)),
    )
    .await;
    let code = query_param(&back, "code").expect("a code");
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", rp.redirect_uri.as_str()),
        ("code_verifier", verifier.as_str()),
        ("client_id", "mobile"),
    ];
    assert_eq!(
        app.post_form("/token", None, &form).await.status(),
        StatusCode::OK
    );
}
