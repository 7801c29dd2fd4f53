//! Logout: RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0) with its confirmation
//! page, and back-channel logout (OpenID Connect Back-Channel Logout 1.0) delivered to real
//! receivers, retried, then given up with an audit event.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure is a panic

use base64::Engine;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, LOCATION, SET_COOKIE};
use serde_json::Value;
use trousseau::clock::Clock;

use crate::helpers::http_peer::Request;
use crate::helpers::{
    Browser, HttpPeer, Reply, Rp, TestApp, authorize, authorize_url, claims, error_code,
    login_tokens, spawn_app, wait,
};

const PW: &str = "correct horse battery";
const SESSION_COOKIE: &str = "__Host-trousseau_session";
const BACKCHANNEL_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

async fn refresh_status(app: &TestApp, rp: &Rp, token: &str) -> (StatusCode, String) {
    error_code(
        app.post_form(
            "/token",
            Some(rp),
            &[("grant_type", "refresh_token"), ("refresh_token", token)],
        )
        .await,
    )
    .await
}

fn rt(tokens: &Value) -> String {
    tokens["refresh_token"]
        .as_str()
        .expect("a refresh token")
        .to_owned()
}

fn id_token(tokens: &Value) -> String {
    tokens["id_token"].as_str().expect("an ID token").to_owned()
}

fn logout_url(params: &[(&str, &str)]) -> String {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    format!("/logout?{query}")
}

/// Whether an authorization request for `rp` lands on the login page (no live session).
async fn shows_login_page(app: &TestApp, browser: &mut Browser, rp: &Rp) -> bool {
    let (url, _) = authorize_url(app, rp, &[]);
    let resp = browser.get(&url).await;
    let (resp, location) = browser.follow(resp).await;
    resp.status() == StatusCode::OK && location.contains("/login?")
}

/// Whether an authorization request for `rp` goes straight back with a code (live session).
async fn gets_code_silently(app: &TestApp, browser: &mut Browser, rp: &Rp) -> bool {
    let (url, _) = authorize_url(app, rp, &[("prompt", "none")]);
    let back = authorize(browser, &url, None).await;
    back.contains("code=")
}

#[tokio::test]
async fn rp_initiated_logout_with_a_hint_redirects_with_state_and_ends_the_session() {
    let app = spawn_app().await;
    let dpi = app.rp("dpi").await;
    let labo = app.rp("labo").await;
    app.create_user("alice", PW).await;
    let mut browser = app.browser();
    let tokens = login_tokens(&app, &mut browser, &dpi, "alice", PW).await;
    let other = login_tokens(&app, &mut browser, &labo, "alice", PW).await;
    let old_cookie = browser
        .cookies
        .get(SESSION_COOKIE)
        .cloned()
        .expect("a session cookie");

    let hint = id_token(&tokens);
    let url = logout_url(&[
        ("id_token_hint", &hint),
        ("post_logout_redirect_uri", "https://dpi.example/bye"),
        ("state", "bye-st4te"),
    ]);
    let resp = browser.get(&url).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        resp.headers()[LOCATION],
        "https://dpi.example/bye?state=bye-st4te"
    );
    let cleared = resp
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with(&format!("{SESSION_COOKIE}=")))
        .expect("the session cookie is cleared");
    assert!(
        cleared.starts_with(&format!("{SESSION_COOKIE}=;")) && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
    assert!(!browser.cookies.contains_key(SESSION_COOKIE));

    // Every refresh token of the session is revoked, whichever client holds it.
    for (rp, t) in [(&dpi, &tokens), (&labo, &other)] {
        assert_eq!(
            refresh_status(&app, rp, &rt(t)).await,
            (StatusCode::BAD_REQUEST, "invalid_grant".to_owned())
        );
    }
    assert!(
        shows_login_page(&app, &mut browser, &dpi).await,
        "the next request shows the login page"
    );
    // The session is over on the server, not only in this browser.
    browser.cookies.insert(SESSION_COOKIE.into(), old_cookie);
    assert!(
        shows_login_page(&app, &mut browser, &labo).await,
        "the old cookie opens nothing"
    );
    let events = app.audit("logout").await;
    assert!(
        events
            .iter()
            .any(|e| e.outcome == "success" && e.reason.as_deref() == Some("logout")),
        "{events:?}"
    );
}

#[tokio::test]
async fn an_unregistered_post_logout_redirect_uri_gets_an_error_page_and_keeps_the_session() {
    let app = spawn_app().await;
    let dpi = app.rp("dpi").await;
    app.rp("labo").await;
    app.create_user("alice", PW).await;
    let mut browser = app.browser();
    let tokens = login_tokens(&app, &mut browser, &dpi, "alice", PW).await;
    let hint = id_token(&tokens);

    // Unknown anywhere, and registered for another client: both refused.
    for uri in [
        "https://evil.example/bye",
        "https://labo.example/bye",
        "https://dpi.example/bye/other",
    ] {
        let resp = browser
            .get(&logout_url(&[
                ("id_token_hint", &hint),
                ("post_logout_redirect_uri", uri),
                ("state", "s"),
            ]))
            .await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{uri}");
        assert!(
            resp.headers().get(LOCATION).is_none(),
            "never redirected to {uri}"
        );
        assert!(
            resp.headers()[CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        let html = resp.text().await.unwrap();
        assert!(
            html.contains("pas enregistrée"),
            "the page explains: {html}"
        );
        for attr in ["href", "action"] {
            assert!(
                !html.contains(&format!("{attr}=\"{uri}")),
                "the page does not link to {uri}: {html}"
            );
        }
    }
    assert!(
        gets_code_silently(&app, &mut browser, &dpi).await,
        "the session is untouched"
    );
    assert_eq!(
        refresh_status(&app, &dpi, &rt(&tokens)).await.0,
        StatusCode::OK
    );
    assert!(
        app.audit("logout_refused")
            .await
            .iter()
            .any(|e| e.reason.as_deref() == Some("unregistered_post_logout_redirect_uri"))
    );
}

#[tokio::test]
async fn logout_without_a_hint_asks_for_confirmation_first() {
    let app = spawn_app().await;
    let dpi = app.rp("dpi").await;
    app.create_user("alice", PW).await;
    let mut browser = app.browser();
    let tokens = login_tokens(&app, &mut browser, &dpi, "alice", PW).await;

    let resp = browser.get("/logout").await;
    assert_eq!(resp.status(), StatusCode::OK);
    let html = resp.text().await.unwrap();
    assert!(
        html.contains("<form method=\"post\" action=\"/logout\">"),
        "{html}"
    );
    assert!(html.contains("name=\"csrf\""), "{html}");
    assert!(browser.cookies.contains_key(SESSION_COOKIE));
    assert!(
        gets_code_silently(&app, &mut browser, &dpi).await,
        "nothing ended before the confirmation"
    );

    // A forged confirmation (a wrong CSRF token) is refused.
    let forged = "A".repeat(43);
    let resp = browser.post("/logout", &[("csrf", &forged)]).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert!(gets_code_silently(&app, &mut browser, &dpi).await);
    // Without any token it is a relying party's request: asked for confirmation again.
    let resp = browser.post("/logout", &[]).await;
    let (resp, _) = browser.follow(resp).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.text().await.unwrap().contains("action=\"/logout\""));
    assert!(gets_code_silently(&app, &mut browser, &dpi).await);

    let csrf = browser
        .cookies
        .get("__Host-trousseau_csrf")
        .cloned()
        .expect("a CSRF cookie");
    let resp = browser.post("/logout", &[("csrf", &csrf)]).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.text().await.unwrap().contains("Vous êtes déconnecté"));
    assert!(!browser.cookies.contains_key(SESSION_COOKIE));
    assert_eq!(
        refresh_status(&app, &dpi, &rt(&tokens)).await,
        (StatusCode::BAD_REQUEST, "invalid_grant".to_owned())
    );
    assert!(shows_login_page(&app, &mut browser, &dpi).await);
}

#[tokio::test]
async fn a_relying_party_may_send_the_logout_request_by_post() {
    let app = spawn_app().await;
    let dpi = app.rp("dpi").await;
    app.create_user("alice", PW).await;
    let mut browser = app.browser();
    let tokens = login_tokens(&app, &mut browser, &dpi, "alice", PW).await;

    // An auto-submitted form from the relying party: no CSRF token of ours.
    let hint = id_token(&tokens);
    let form = [
        ("id_token_hint", hint.as_str()),
        ("post_logout_redirect_uri", "https://dpi.example/bye"),
        ("state", "p0st"),
    ];
    let resp = browser.post("/logout", &form).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let location = resp.headers()[LOCATION].to_str().unwrap().to_owned();
    assert!(
        location.starts_with("/logout?"),
        "replayed as a GET on the provider: {location}"
    );
    let (resp, next) = browser.follow(resp).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(next, "https://dpi.example/bye?state=p0st");
    assert!(!browser.cookies.contains_key(SESSION_COOKIE));
    assert_eq!(
        refresh_status(&app, &dpi, &rt(&tokens)).await,
        (StatusCode::BAD_REQUEST, "invalid_grant".to_owned())
    );
    assert!(shows_login_page(&app, &mut browser, &dpi).await);

    // The same checks as for GET: an unregistered URI is refused.
    let resp = browser
        .post(
            "/logout",
            &[
                ("id_token_hint", hint.as_str()),
                ("post_logout_redirect_uri", "https://evil.example/bye"),
            ],
        )
        .await;
    let (resp, next) = browser.follow(resp).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{next}");
}

#[tokio::test]
async fn a_hint_naming_someone_else_asks_for_confirmation() {
    let app = spawn_app().await;
    let dpi = app.rp("dpi").await;
    app.create_user("alice", PW).await;
    app.create_user("bob", PW).await;
    let mut alice = app.browser();
    let alice_tokens = login_tokens(&app, &mut alice, &dpi, "alice", PW).await;
    let mut bob = app.browser();
    login_tokens(&app, &mut bob, &dpi, "bob", PW).await;

    let hint = id_token(&alice_tokens);
    let resp = bob
        .get(&logout_url(&[
            ("id_token_hint", &hint),
            ("post_logout_redirect_uri", "https://dpi.example/bye"),
        ]))
        .await;
    assert_eq!(
        resp.status(),
        StatusCode::OK,
        "a confirmation page, not a silent logout"
    );
    assert!(resp.text().await.unwrap().contains("action=\"/logout\""));
    assert!(
        gets_code_silently(&app, &mut bob, &dpi).await,
        "bob is still signed in"
    );
    assert!(
        gets_code_silently(&app, &mut alice, &dpi).await,
        "alice too"
    );
}

/// A relying party's back-channel logout endpoint on loopback, answering `status`.
async fn start_receiver(status: u16) -> HttpPeer {
    HttpPeer::start(move |_| Reply::status(status)).await
}

/// The back-channel logout URI of `client` on the receiver.
fn receiver_uri(receiver: &HttpPeer, client: &str) -> String {
    receiver.url(&format!("/bc/{client}"))
}

/// The (client, body) of each post the receiver was sent.
fn posts_of(requests: Vec<Request>) -> Vec<(String, String)> {
    requests
        .iter()
        .map(|r| {
            let client = r.path.strip_prefix("/bc/").unwrap_or(&r.path).to_owned();
            (client, r.text())
        })
        .collect()
}

/// The `logout_token` of a form-encoded body.
fn logout_token(body: &str) -> String {
    url::form_urlencoded::parse(body.as_bytes())
        .find(|(k, _)| k == "logout_token")
        .map(|(_, v)| v.into_owned())
        .expect("a logout_token field")
}

fn jwt_header(jwt: &str) -> Value {
    let part = jwt.split('.').next().unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .unwrap(),
    )
    .unwrap()
}

async fn backchannel_client(app: &TestApp, id: &str, receiver: &HttpPeer) -> Rp {
    let mut spec = app.spec(id);
    spec.backchannel_logout_uri = Some(receiver_uri(receiver, id));
    app.register(spec).await
}

#[tokio::test]
async fn every_client_of_the_session_receives_a_logout_token() {
    let app = spawn_app().await;
    let receiver = start_receiver(200).await;
    let dpi = backchannel_client(&app, "dpi", &receiver).await;
    let labo = backchannel_client(&app, "labo", &receiver).await;
    let plain = app.rp("plain").await;
    backchannel_client(&app, "unused", &receiver).await;
    app.create_user("alice", PW).await;
    let mut browser = app.browser();
    let dpi_tokens = login_tokens(&app, &mut browser, &dpi, "alice", PW).await;
    let labo_tokens = login_tokens(&app, &mut browser, &labo, "alice", PW).await;
    login_tokens(&app, &mut browser, &plain, "alice", PW).await;
    let id = claims(&id_token(&dpi_tokens));
    assert_eq!(id["sid"], claims(&id_token(&labo_tokens))["sid"]);

    let resp = browser
        .get(&logout_url(&[
            ("id_token_hint", &id_token(&dpi_tokens)),
            ("post_logout_redirect_uri", "https://dpi.example/bye"),
        ]))
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let posts = posts_of(receiver.wait_for(2).await);

    let keys = app.state.keys.get().await.unwrap();
    let mut jtis = Vec::new();
    let mut clients: Vec<String> = posts.iter().map(|(c, _)| c.clone()).collect();
    clients.sort();
    assert_eq!(
        clients,
        ["dpi", "labo"],
        "only the clients of the session with a back-channel URI"
    );
    for (client, body) in &posts {
        let token = logout_token(body);
        let header = jwt_header(&token);
        assert_eq!(header["typ"], "logout+jwt");
        assert!(header["kid"].is_string());
        let verified = trousseau::oidc::mint::verify(
            &keys,
            &app.issuer,
            &token,
            Some("logout+jwt"),
            Some(app.clock.now()),
        );
        assert!(
            verified.is_ok(),
            "the logout token is signed by the provider: {verified:?}"
        );
        let c = claims(&token);
        assert_eq!(c["iss"], app.issuer);
        assert_eq!(c["aud"], client.as_str());
        assert_eq!(c["sid"], id["sid"]);
        assert_eq!(c["sub"], id["sub"]);
        assert!(c["jti"].as_str().is_some_and(|j| !j.is_empty()));
        assert!(c["iat"].is_i64());
        assert!(c["events"][BACKCHANNEL_EVENT].is_object(), "{c}");
        assert!(
            c.get("nonce").is_none(),
            "a logout token never carries a nonce"
        );
        jtis.push(c["jti"].as_str().unwrap().to_owned());
    }
    assert_ne!(jtis[0], jtis[1]);

    // Delivered once each, recorded as done.
    let done = wait::value("both deliveries recorded as done", || async {
        let counts = trousseau::storage::logout::counts(app.state.db.pool())
            .await
            .unwrap();
        (counts == (0, 2, 0)).then_some(counts)
    })
    .await;
    assert_eq!(done, (0, 2, 0));
    let audit = app.audit("backchannel_logout").await;
    assert_eq!(
        audit.iter().filter(|e| e.outcome == "success").count(),
        2,
        "{audit:?}"
    );
    // Nothing is left to deliver: one more pass posts nothing.
    assert_eq!(
        trousseau::oidc::backchannel::deliver_due(&app.state.backchannel())
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        posts_of(receiver.requests()).len(),
        2,
        "no duplicate delivery"
    );
}

/// The attempts of the only queued delivery once no node holds it.
async fn settled_attempts(app: &TestApp, expected: i64) {
    wait::until(&format!("{expected} settled attempts"), || async {
        let row: (i64, Option<i64>) =
            sqlx::query_as("SELECT attempts, locked_until FROM logout_deliveries")
                .fetch_one(app.state.db.pool())
                .await
                .unwrap();
        row.0 == expected && row.1.is_none()
    })
    .await;
}

#[tokio::test]
async fn a_failing_receiver_is_retried_then_the_delivery_is_given_up_and_audited() {
    let app = spawn_app().await;
    let receiver = start_receiver(500).await;
    let dpi = backchannel_client(&app, "dpi", &receiver).await;
    app.create_user("alice", PW).await;
    let mut browser = app.browser();
    let tokens = login_tokens(&app, &mut browser, &dpi, "alice", PW).await;
    let resp = browser
        .get(&logout_url(&[("id_token_hint", &id_token(&tokens))]))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);

    // The first attempt happens at once, then the back-off decides (1 s base in tests).
    receiver.wait_for(1).await;
    settled_attempts(&app, 1).await;
    let counts = trousseau::storage::logout::counts(app.state.db.pool())
        .await
        .unwrap();
    assert_eq!(counts, (1, 0, 0), "still pending after a failure");
    // Not due before the back-off has passed.
    assert_eq!(
        trousseau::oidc::backchannel::deliver_due(&app.state.backchannel())
            .await
            .unwrap(),
        0
    );

    for attempt in 2..=4 {
        app.clock.advance(60);
        trousseau::oidc::backchannel::deliver_due(&app.state.backchannel())
            .await
            .unwrap();
        settled_attempts(&app, attempt).await;
    }
    assert_eq!(
        trousseau::storage::logout::counts(app.state.db.pool())
            .await
            .unwrap(),
        (0, 0, 1),
        "failed after 1 + 3 attempts"
    );
    let posts = posts_of(receiver.requests());
    assert_eq!(posts.len(), 4);
    assert!(
        posts.iter().all(|p| p == &posts[0]),
        "the same logout token every time"
    );

    let audit = app.audit("backchannel_logout").await;
    let failure = audit
        .iter()
        .find(|e| e.outcome == "failure")
        .expect("a failure event");
    assert_eq!(failure.reason.as_deref(), Some("delivery_failed"));
    assert_eq!(failure.client_id.as_deref(), Some("dpi"));
    let details: Value = serde_json::from_str(failure.details.as_deref().unwrap()).unwrap();
    assert_eq!(details["attempts"], 4);
    assert!(!audit.iter().any(|e| e.outcome == "success"));

    // Given up for good.
    app.clock.advance(3600);
    assert_eq!(
        trousseau::oidc::backchannel::deliver_due(&app.state.backchannel())
            .await
            .unwrap(),
        0
    );
    assert_eq!(posts_of(receiver.requests()).len(), 4);
}
