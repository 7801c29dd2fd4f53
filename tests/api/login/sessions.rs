//! The SSO session (design.md, "SSO session"): true single sign-on, the `__Host-` cookie, idle
//! and absolute lifetimes, `prompt` and `max_age`, levels and step-up, consent, switching
//! users on a shared workstation, offline access, suspension, form_post and the login page's
//! language and CSRF protection.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure is a panic

use reqwest::StatusCode;
use reqwest::header::{CONTENT_SECURITY_POLICY, CONTENT_TYPE, SET_COOKIE};
use serde_json::Value;
use trousseau::clock::Clock;
use trousseau::identity::Status;

use crate::helpers::{
    Browser, Rp, TestApp, authorize, authorize_url, claims, error_code, exchange, login_tokens,
    query_param, spawn_app,
};

const PW: &str = "correct horse battery";
const BOB_PW: &str = "staple battery horse";
const MINUTE: i64 = 60;

/// The URL with `name` set to `value` (replaced when present, added otherwise).
fn set_param(url: &str, name: &str, value: &str) -> String {
    let mut parsed = url::Url::parse(url).expect("absolute URL");
    let pairs: Vec<(String, String)> = parsed
        .query_pairs()
        .filter(|(k, _)| k != name)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    parsed
        .query_pairs_mut()
        .clear()
        .extend_pairs(pairs)
        .append_pair(name, value);
    parsed.to_string()
}

/// Where the browser ends up: a page of the provider (status 200…) or a redirect to a client.
struct Landing {
    status: StatusCode,
    url: String,
    body: String,
}

impl Landing {
    fn is_login_page(&self) -> bool {
        self.status == StatusCode::OK && self.url.contains("/login?")
    }
}

async fn land(browser: &mut Browser, url: &str) -> Landing {
    let resp = browser.get(url).await;
    settle(browser, resp).await
}

async fn settle(browser: &mut Browser, resp: reqwest::Response) -> Landing {
    let (resp, url) = browser.follow(resp).await;
    let status = resp.status();
    let body = resp.text().await.unwrap_or_default();
    Landing { status, url, body }
}

/// Submits the login form of the page at `login_url` and follows to wherever it leads.
async fn login_at(browser: &mut Browser, login_url: &str, user: &str, pw: &str) -> Landing {
    let resp = browser.submit_login(login_url, user, pw).await;
    assert_eq!(
        resp.status(),
        StatusCode::SEE_OTHER,
        "login of {user} accepted"
    );
    settle(browser, resp).await
}

/// Minimal HTML entity decoding for attribute values.
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let Some(end) = rest.find(';') else { break };
        let entity = &rest[1..end];
        let decoded = match entity {
            "amp" => Some('&'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            "lt" => Some('<'),
            "gt" => Some('>'),
            _ => entity
                .strip_prefix("#x")
                .or_else(|| entity.strip_prefix("#X"))
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The value of the hidden input called `name`.
fn hidden_value(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')?;
    Some(unescape(&html[start..start + end]))
}

async fn refresh(app: &TestApp, rp: &Rp, token: &str) -> reqwest::Response {
    app.post_form(
        "/token",
        Some(rp),
        &[("grant_type", "refresh_token"), ("refresh_token", token)],
    )
    .await
}

/// Refreshes and expects success; returns the rotated refresh token.
async fn refresh_ok(app: &TestApp, rp: &Rp, token: &str) -> String {
    let resp = refresh(app, rp, token).await;
    assert_eq!(resp.status(), StatusCode::OK, "refresh succeeds");
    let body: Value = resp.json().await.unwrap();
    body["refresh_token"]
        .as_str()
        .expect("a rotated refresh token")
        .to_owned()
}

async fn refresh_refused(app: &TestApp, rp: &Rp, token: &str) {
    let (status, code) = error_code(refresh(app, rp, token).await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::BAD_REQUEST, "invalid_grant")
    );
}

/// Exchanges the code of a redirect to `rp` and returns the token response.
async fn tokens_from(app: &TestApp, rp: &Rp, redirect: &str, verifier: &str) -> Value {
    assert!(
        redirect.starts_with(&rp.redirect_uri),
        "a redirect to the client, got {redirect}"
    );
    let code = query_param(redirect, "code").unwrap_or_else(|| panic!("a code in {redirect}"));
    let resp = exchange(app, rp, &code, verifier).await;
    assert_eq!(resp.status(), StatusCode::OK);
    resp.json().await.unwrap()
}

/// Single sign-on for `rp` in a browser that already has a session: no page at all.
async fn sso_tokens(
    app: &TestApp,
    browser: &mut Browser,
    rp: &Rp,
    extra: &[(&str, &str)],
) -> Value {
    let (url, verifier) = authorize_url(app, rp, extra);
    let back = authorize(browser, &url, None).await;
    tokens_from(app, rp, &back, &verifier).await
}

fn id_claims(tokens: &Value) -> Value {
    claims(tokens["id_token"].as_str().expect("an ID token"))
}

fn refresh_token(tokens: &Value) -> String {
    tokens["refresh_token"]
        .as_str()
        .expect("a refresh token")
        .to_owned()
}

#[tokio::test]
async fn a_second_client_gets_a_code_without_any_page_and_the_same_session() {
    let app = spawn_app().await;
    let dpi = app.rp("dpi").await;
    let labo = app.rp("labo").await;
    app.create_user("alice", PW).await;
    let mut browser = app.browser();
    let first = login_tokens(&app, &mut browser, &dpi, "alice", PW).await;

    app.clock.advance(5);
    let (url, verifier) = authorize_url(&app, &labo, &[]);
    let resp = browser.get(&url).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with(&labo.redirect_uri),
        "straight back to the second client: {location}"
    );
    let second = tokens_from(&app, &labo, &location, &verifier).await;

    let (a, b) = (id_claims(&first), id_claims(&second));
    assert_eq!(a["sid"], b["sid"], "one SSO session");
    assert!(a["sid"].as_str().is_some_and(|s| !s.is_empty()));
    assert_eq!(a["auth_time"], b["auth_time"], "no new authentication");
    assert_eq!(a["sub"], b["sub"]);
    assert_eq!(b["aud"], "labo");
}

#[tokio::test]
async fn the_session_cookie_is_host_prefixed_secure_httponly_and_lax() {
    let app = spawn_app().await;
    let dpi = app.rp("dpi").await;
    app.create_user("alice", PW).await;
    let mut browser = app.browser();
    let (url, _) = authorize_url(&app, &dpi, &[]);
    let page = land(&mut browser, &url).await;
    assert!(page.is_login_page());
    let resp = browser.submit_login(&page.url, "alice", PW).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let cookies: Vec<String> = resp
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let session = cookies
        .iter()
        .find(|c| c.starts_with("__Host-trousseau_session="))
        .expect("a session cookie is set");
    let attrs: Vec<String> = session
        .split(';')
        .map(|a| a.trim().to_ascii_lowercase())
        .collect();
    for wanted in ["secure", "httponly", "samesite=lax", "path=/"] {
        assert!(attrs.iter().any(|a| a == wanted), "{wanted} in {session}");
    }
    assert!(
        !attrs.iter().any(|a| a.starts_with("domain=")),
        "a __Host- cookie has no Domain: {session}"
    );
    let value = session
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1;
    assert!(value.len() >= 32, "an unguessable session token");
}

#[tokio::test]
async fn the_session_ends_after_thirty_idle_minutes_and_authorization_requests_are_activity() {
    let app = spawn_app().await;
    let dpi = app.rp("dpi").await;
    app.create_user("alice", PW).await;
    let mut browser = app.browser();
    let tokens = login_tokens(&app, &mut browser, &dpi, "alice", PW).await;

    // 29 minutes of idleness, then an authorization request: that is activity.
    app.clock.advance(29 * MINUTE);
    sso_tokens(&app, &mut browser, &dpi, &[]).await;
    app.clock.advance(29 * MINUTE);
    sso_tokens(&app, &mut browser, &dpi, &[]).await;

    app.clock.advance(31 * MINUTE);
    let (url, _) = authorize_url(&app, &dpi, &[]);
    let page = land(&mut browser, &url).await;
    assert!(
        page.is_login_page(),
        "31 idle minutes end the session: {} {}",
        page.status,
        page.url
    );
    refresh_refused(&app, &dpi, &refresh_token(&tokens)).await;
}

#[tokio::test]
async fn refreshing_every_twenty_minutes_keeps_the_session_alive_past_the_idle_timeout() {
    let app = spawn_app().await;
    let dpi = app.rp("dpi").await;
    let labo = app.rp("labo").await;
    app.create_user("alice", PW).await;
    let mut browser = app.browser();
    let tokens = login_tokens(&app, &mut browser, &dpi, "alice", PW).await;
    let mut rt = refresh_token(&tokens);
    for _ in 0..3 {
        app.clock.advance(20 * MINUTE);
        rt = refresh_ok(&app, &dpi, &rt).await;
    }
    // An hour after the login and without the browser doing anything, SSO still works.
    let second = sso_tokens(&app, &mut browser, &labo, &[]).await;
    assert_eq!(id_claims(&second)["sid"], id_claims(&tokens)["sid"]);
}

#[tokio::test]
async fn the_session_ends_four_hours_after_its_creation_whatever_the_activity() {
    let app = spawn_app().await;
    let dpi = app.rp("dpi").await;
    app.create_user("alice", PW).await;
    let mut browser = app.browser();
    let tokens = login_tokens(&app, &mut browser, &dpi, "alice", PW).await;
    let mut rt = refresh_token(&tokens);
    for _ in 0..11 {
        app.clock.advance(20 * MINUTE);
        rt = refresh_ok(&app, &dpi, &rt).await;
    }
    // 4 h after the login.
    app.clock.advance(20 * MINUTE);
    refresh_refused(&app, &dpi, &rt).await;
    let (url, verifier) = authorize_url(&app, &dpi, &[]);
    let page = land(&mut browser, &url).await;
    assert!(
        page.is_login_page(),
        "a new login after the absolute end: {} {}",
        page.status,
        page.url
    );
    let back = login_at(&mut browser, &page.url, "alice", PW).await;
    let fresh = tokens_from(&app, &dpi, &back.url, &verifier).await;
    assert_ne!(
        id_claims(&fresh)["sid"],
        id_claims(&tokens)["sid"],
        "a new session starts"
    );
}

#[tokio::test]
async fn prompt_login_reauthenticates_in_the_same_session_with_the_username_prefilled() {
    let app = spawn_app().await;
    let dpi = app.rp("dpi").await;
    app.create_user("alice", PW).await;
    let mut browser = app.browser();
    let start = app.clock.now();
    let first = id_claims(&login_tokens(&app, &mut browser, &dpi, "alice", PW).await);
    assert_eq!(first["auth_time"], start);

    app.clock.advance(100);
    let (url, verifier) = authorize_url(&app, &dpi, &[("prompt", "login")]);
    let page = land(&mut browser, &url).await;
    assert!(
        page.is_login_page(),
        "prompt=login shows the login page: {} {}",
        page.status,
        page.url
    );
    assert!(
        page.body.contains("value=\"alice\""),
        "the username is prefilled: {}",
        page.body
    );
    assert!(page.body.contains("name=\"password\""));
    let back = login_at(&mut browser, &page.url, "alice", PW).await;
    let second = id_claims(&tokens_from(&app, &dpi, &back.url, &verifier).await);
    assert_eq!(second["sid"], first["sid"], "the same session");
    assert_eq!(
        second["auth_time"],
        start + 100,
        "a new authentication time"
    );

    // Re-authenticating never extends the absolute end of the session.
    let sid = first["sid"].as_str().unwrap();
    let record = trousseau::storage::sessions::by_id(app.state.db.pool(), sid)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        record.expires_at,
        start + app.state.settings.session.absolute_secs
    );
}

#[tokio::test]
async fn max_age_forces_reauthentication_when_the_authentication_is_older() {
    let app = spawn_app().await;
    let dpi = app.rp("dpi").await;
    let mut strict = app.spec("strict");
    strict.max_auth_age = Some(60);
    let strict = app.register(strict).await;
    app.create_user("alice", PW).await;
    let mut browser = app.browser();
    let start = app.clock.now();
    let first = id_claims(&login_tokens(&app, &mut browser, &dpi, "alice", PW).await);

    app.clock.advance(30);
    sso_tokens(&app, &mut browser, &dpi, &[("max_age", "60")]).await;
    sso_tokens(&app, &mut browser, &strict, &[]).await;

    // The request's max_age, then the client's policy, each on an authentication 90 s old.
    for (i, rp) in [&dpi, &strict].into_iter().enumerate() {
        app.clock.advance(90);
        let extra: &[(&str, &str)] = if rp.id == "dpi" {
            &[("max_age", "60")]
        } else {
            &[]
        };
        let (url, verifier) = authorize_url(&app, rp, extra);
        let page = land(&mut browser, &url).await;
        assert!(
            page.is_login_page(),
            "{}: re-authentication required: {} {}",
            rp.id,
            page.status,
            page.url
        );
        assert_eq!(query_param(&page.url, "reason").as_deref(), Some("reauth"));
        let back = login_at(&mut browser, &page.url, "alice", PW).await;
        let again = id_claims(&tokens_from(&app, rp, &back.url, &verifier).await);
        assert_eq!(again["sid"], first["sid"]);
        assert_eq!(again["auth_time"], start + 120 + 90 * i as i64);
    }
}

#[tokio::test]
async fn prompt_none_returns_a_code_with_a_session_and_login_required_without() {
    let app = spawn_app().await;
    let dpi = app.rp("dpi").await;
    app.create_user("alice", PW).await;
    let mut browser = app.browser();

    let (url, _) = authorize_url(&app, &dpi, &[("prompt", "none")]);
    let back = authorize(&mut browser, &url, None).await;
    assert!(back.starts_with(&dpi.redirect_uri), "{back}");
    assert_eq!(
        query_param(&back, "error").as_deref(),
        Some("login_required")
    );
    assert_eq!(query_param(&back, "state").as_deref(), Some("st4te"));

    login_tokens(&app, &mut browser, &dpi, "alice", PW).await;
    let tokens = sso_tokens(&app, &mut browser, &dpi, &[("prompt", "none")]).await;
    assert!(tokens["access_token"].is_string());
}

/// The cancel link of a step-up page, decoded.
fn cancel_link(body: &str) -> String {
    let start = body.find("/authorize/resume?").expect("a cancel link");
    let end = body[start..].find('"').unwrap();
    unescape(&body[start..start + end])
}

fn assert_step_up_page(page: &Landing) {
    assert_eq!(page.status, StatusCode::OK, "{}", page.url);
    assert!(page.url.contains("/login?"), "{}", page.url);
    assert_eq!(query_param(&page.url, "reason").as_deref(), Some("stepup"));
    assert!(
        page.body.contains("authentification forte"),
        "French explanation: {}",
        page.body
    );
    assert!(
        !page.body.contains("name=\"password\""),
        "no password form: a password cannot raise the level"
    );
    assert!(!page.body.contains("action=\"/login\""));
}

#[tokio::test]
async fn a_client_demanding_loa3_gets_the_step_up_page_whose_cancel_link_returns_access_denied() {
    let app = spawn_app().await;
    let mut spec = app.spec("psc");
    spec.min_acr = Some("loa3".into());
    let psc = app.register(spec).await;
    app.create_user("alice", PW).await;
    let mut browser = app.browser();

    // Without a session: the password first, then the step-up page.
    let (url, _) = authorize_url(&app, &psc, &[]);
    let page = land(&mut browser, &url).await;
    assert!(page.is_login_page());
    assert!(page.body.contains("name=\"password\""));
    let step_up = login_at(&mut browser, &page.url, "alice", PW).await;
    assert_step_up_page(&step_up);

    let cancel = cancel_link(&step_up.body);
    let resp = browser.get(&cancel).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let back = resp.headers()["location"].to_str().unwrap().to_owned();
    assert!(back.starts_with(&psc.redirect_uri), "{back}");
    assert_eq!(
        query_param(&back, "error").as_deref(),
        Some("access_denied")
    );
    assert_eq!(query_param(&back, "state").as_deref(), Some("st4te"));
    assert_eq!(
        query_param(&back, "iss").as_deref(),
        Some(app.issuer.as_str())
    );
    assert!(query_param(&back, "code").is_none());

    // With a loa1 session: the step-up page at once; asking for less than the policy changes nothing.
    for extra in [&[][..], &[("acr_values", "loa1")][..]] {
        let (url, _) = authorize_url(&app, &psc, extra);
        assert_step_up_page(&land(&mut browser, &url).await);
    }
}

#[tokio::test]
async fn acr_values_loa3_in_the_request_gets_the_step_up_page() {
    let app = spawn_app().await;
    let dpi = app.rp("dpi").await;
    app.create_user("alice", PW).await;
    let mut browser = app.browser();
    login_tokens(&app, &mut browser, &dpi, "alice", PW).await;

    let (url, _) = authorize_url(&app, &dpi, &[("acr_values", "loa3")]);
    let page = land(&mut browser, &url).await;
    assert_step_up_page(&page);
    let resp = browser.get(&cancel_link(&page.body)).await;
    let back = resp.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(
        query_param(&back, "error").as_deref(),
        Some("access_denied")
    );

    // loa1 is what the session has: a code.
    let tokens = sso_tokens(&app, &mut browser, &dpi, &[("acr_values", "loa1")]).await;
    assert_eq!(id_claims(&tokens)["acr"], "loa1");
}

#[tokio::test]
async fn prompt_none_with_a_too_low_level_is_interaction_required() {
    let app = spawn_app().await;
    let dpi = app.rp("dpi").await;
    let mut spec = app.spec("psc");
    spec.min_acr = Some("loa3".into());
    let psc = app.register(spec).await;
    app.create_user("alice", PW).await;
    let mut browser = app.browser();
    login_tokens(&app, &mut browser, &dpi, "alice", PW).await;

    for (rp, extra) in [
        (&psc, vec![("prompt", "none")]),
        (&dpi, vec![("prompt", "none"), ("acr_values", "loa3")]),
    ] {
        let (url, _) = authorize_url(&app, rp, &extra);
        let back = authorize(&mut browser, &url, None).await;
        assert!(back.starts_with(&rp.redirect_uri), "{back}");
        assert_eq!(
            query_param(&back, "error").as_deref(),
            Some("interaction_required"),
            "{back}"
        );
        assert_eq!(query_param(&back, "state").as_deref(), Some("st4te"));
    }
}

/// Answers the consent page at `url` with `decision` and follows.
async fn consent(browser: &mut Browser, url: &str, decision: &str) -> Landing {
    let flow = query_param(url, "flow").expect("a flow");
    let csrf = browser
        .cookies
        .get("__Host-trousseau_csrf")
        .cloned()
        .expect("csrf cookie");
    let resp = browser
        .post(
            "/consent",
            &[("flow", &flow), ("csrf", &csrf), ("decision", decision)],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    settle(browser, resp).await
}

fn assert_consent_page(page: &Landing) {
    assert_eq!(page.status, StatusCode::OK, "{}", page.url);
    assert!(page.url.contains("/consent?flow="), "{}", page.url);
    assert!(
        page.body.contains("Autoriser") && page.body.contains("Refuser"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("Application portail"),
        "the client is named"
    );
}

#[tokio::test]
async fn a_third_party_client_asks_consent_once_and_again_with_prompt_consent() {
    let app = spawn_app().await;
    let mut spec = app.spec("portail");
    spec.first_party = false;
    let portail = app.register(spec).await;
    app.create_user("alice", PW).await;
    let mut browser = app.browser();

    let (url, verifier) = authorize_url(&app, &portail, &[]);
    let page = land(&mut browser, &url).await;
    assert!(page.is_login_page());
    let page = login_at(&mut browser, &page.url, "alice", PW).await;
    assert_consent_page(&page);
    let back = consent(&mut browser, &page.url, "allow").await;
    tokens_from(&app, &portail, &back.url, &verifier).await;
    assert!(
        app.audit("consent")
            .await
            .iter()
            .any(|e| e.outcome == "success" && e.client_id.as_deref() == Some("portail"))
    );

    // Remembered: no page the next time.
    sso_tokens(&app, &mut browser, &portail, &[]).await;
    sso_tokens(&app, &mut browser, &portail, &[("prompt", "none")]).await;

    // A scope not consented to yet is asked for.
    let (url, _) = authorize_url(&app, &portail, &[]);
    let wider = set_param(&url, "scope", "openid profile email offline_access");
    assert_consent_page(&land(&mut browser, &wider).await);

    // prompt=consent asks again.
    let (url, verifier) = authorize_url(&app, &portail, &[("prompt", "consent")]);
    let page = land(&mut browser, &url).await;
    assert_consent_page(&page);
    let back = consent(&mut browser, &page.url, "allow").await;
    tokens_from(&app, &portail, &back.url, &verifier).await;
}

#[tokio::test]
async fn refusing_consent_returns_access_denied_and_stores_nothing() {
    let app = spawn_app().await;
    let mut spec = app.spec("portail");
    spec.first_party = false;
    let portail = app.register(spec).await;
    app.create_user("alice", PW).await;
    let mut browser = app.browser();

    let (url, _) = authorize_url(&app, &portail, &[]);
    let page = land(&mut browser, &url).await;
    let page = login_at(&mut browser, &page.url, "alice", PW).await;
    assert_consent_page(&page);
    let back = consent(&mut browser, &page.url, "deny").await;
    assert!(back.url.starts_with(&portail.redirect_uri), "{}", back.url);
    assert_eq!(
        query_param(&back.url, "error").as_deref(),
        Some("access_denied")
    );
    assert_eq!(query_param(&back.url, "state").as_deref(), Some("st4te"));
    assert!(query_param(&back.url, "code").is_none());
    assert!(
        app.audit("consent")
            .await
            .iter()
            .any(|e| e.reason.as_deref() == Some("denied_by_user"))
    );

    // Nothing was remembered: asked again, and prompt=none cannot skip it.
    let (url, _) = authorize_url(&app, &portail, &[]);
    assert_consent_page(&land(&mut browser, &url).await);
    let (url, _) = authorize_url(&app, &portail, &[("prompt", "none")]);
    let back = authorize(&mut browser, &url, None).await;
    assert_eq!(
        query_param(&back, "error").as_deref(),
        Some("consent_required")
    );
}

#[tokio::test]
async fn not_me_ends_the_session_and_lets_another_user_sign_in() {
    let app = spawn_app().await;
    let dpi = app.rp("dpi").await;
    app.create_user("alice", PW).await;
    let bob = app.create_user("bob", BOB_PW).await;
    let mut browser = app.browser();
    let alice_tokens = login_tokens(&app, &mut browser, &dpi, "alice", PW).await;

    let (url, verifier) = authorize_url(&app, &dpi, &[("prompt", "login")]);
    let page = land(&mut browser, &url).await;
    assert!(page.is_login_page());
    assert!(
        page.body.contains("action=\"/switch-user\""),
        "the switch-user action is offered: {}",
        page.body
    );
    assert!(
        page.body.contains("Connecté en tant que") && page.body.contains("(alice)"),
        "{}",
        page.body
    );
    let flow = query_param(&page.url, "flow").unwrap();

    // Without the CSRF token nothing happens.
    let resp = browser.post("/switch-user", &[("flow", &flow)]).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let alice_rt = refresh_ok(&app, &dpi, &refresh_token(&alice_tokens)).await;

    let csrf = browser
        .cookies
        .get("__Host-trousseau_csrf")
        .cloned()
        .unwrap();
    let resp = browser
        .post("/switch-user", &[("flow", &flow), ("csrf", &csrf)])
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(resp.headers()["location"], format!("/login?flow={flow}"));
    assert!(
        !browser.cookies.contains_key("__Host-trousseau_session"),
        "the session cookie is cleared"
    );
    refresh_refused(&app, &dpi, &alice_rt).await;
    assert!(
        app.audit("logout")
            .await
            .iter()
            .any(|e| e.reason.as_deref() == Some("switch_user"))
    );

    let page = land(&mut browser, &format!("/login?flow={flow}")).await;
    assert!(page.is_login_page());
    assert!(
        !page.body.contains("(alice)"),
        "nobody is signed in any more"
    );
    let back = login_at(&mut browser, &page.url, "bob", BOB_PW).await;
    let bob_claims = id_claims(&tokens_from(&app, &dpi, &back.url, &verifier).await);
    assert_eq!(bob_claims["sub"], bob);
    assert_ne!(bob_claims["sid"], id_claims(&alice_tokens)["sid"]);
}

#[tokio::test]
async fn signing_in_as_another_person_ends_the_previous_session() {
    let app = spawn_app().await;
    let dpi = app.rp("dpi").await;
    app.create_user("alice", PW).await;
    let bob = app.create_user("bob", BOB_PW).await;
    let mut browser = app.browser();
    let alice_tokens = login_tokens(&app, &mut browser, &dpi, "alice", PW).await;

    let (url, verifier) = authorize_url(&app, &dpi, &[("prompt", "login")]);
    let page = land(&mut browser, &url).await;
    let back = login_at(&mut browser, &page.url, "bob", BOB_PW).await;
    let bob_claims = id_claims(&tokens_from(&app, &dpi, &back.url, &verifier).await);
    assert_eq!(bob_claims["sub"], bob);
    assert_ne!(
        bob_claims["sid"],
        id_claims(&alice_tokens)["sid"],
        "bob gets his own session"
    );
    refresh_refused(&app, &dpi, &refresh_token(&alice_tokens)).await;

    // The browser now carries bob's session only.
    let again = id_claims(&sso_tokens(&app, &mut browser, &dpi, &[]).await);
    assert_eq!(again["sub"], bob);
    assert_eq!(again["sid"], bob_claims["sid"]);
}

#[tokio::test]
async fn offline_access_outlives_the_session_but_not_eight_hours() {
    let app = spawn_app().await;
    let dpi = app.rp("dpi").await;
    let mobile = app.rp("mobile").await;
    app.create_user("alice", PW).await;
    let mut browser = app.browser();
    let online = login_tokens(&app, &mut browser, &dpi, "alice", PW).await;
    let (url, verifier) = authorize_url(&app, &mobile, &[]);
    let url = set_param(&url, "scope", "openid offline_access");
    let back = authorize(&mut browser, &url, None).await;
    let offline = tokens_from(&app, &mobile, &back, &verifier).await;
    assert!(
        offline["scope"]
            .as_str()
            .unwrap()
            .contains("offline_access")
    );

    // End the SSO session (RP-initiated logout).
    let hint = online["id_token"].as_str().unwrap();
    let resp = browser.get(&format!("/logout?id_token_hint={hint}")).await;
    assert_eq!(resp.status(), StatusCode::OK);
    refresh_refused(&app, &dpi, &refresh_token(&online)).await;

    let mut rt = refresh_ok(&app, &mobile, &refresh_token(&offline)).await;
    app.clock.advance(7 * 60 * MINUTE);
    rt = refresh_ok(&app, &mobile, &rt).await;
    app.clock.advance(60 * MINUTE);
    refresh_refused(&app, &mobile, &rt).await;
}

#[tokio::test]
async fn disabling_a_user_ends_their_sessions_and_revokes_their_refresh_tokens() {
    let app = spawn_app().await;
    let dpi = app.rp("dpi").await;
    let mobile = app.rp("mobile").await;
    app.create_user("alice", PW).await;
    let mut browser = app.browser();
    let online = login_tokens(&app, &mut browser, &dpi, "alice", PW).await;
    let (url, verifier) = authorize_url(&app, &mobile, &[]);
    let back = authorize(
        &mut browser,
        &set_param(&url, "scope", "openid offline_access"),
        None,
    )
    .await;
    let offline = tokens_from(&app, &mobile, &back, &verifier).await;

    let disabled =
        trousseau::admin::users::disable(&app.state, "alice", "left the hospital", "test")
            .await
            .unwrap();
    assert_eq!(disabled.status, Status::Suspended);
    refresh_refused(&app, &dpi, &refresh_token(&online)).await;
    refresh_refused(&app, &mobile, &refresh_token(&offline)).await;
    assert!(
        app.audit("logout")
            .await
            .iter()
            .any(|e| e.reason.as_deref() == Some("identity_suspended"))
    );

    let (url, _) = authorize_url(&app, &dpi, &[]);
    let page = land(&mut browser, &url).await;
    assert!(
        page.is_login_page(),
        "the session is over: {} {}",
        page.status,
        page.url
    );
    let resp = browser.submit_login(&page.url, "alice", PW).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert!(resp.text().await.unwrap().contains("désactivé"));
}

#[tokio::test]
async fn form_post_answers_with_a_self_submitting_form_allowed_by_the_csp() {
    let app = spawn_app().await;
    let dpi = app.rp("dpi").await;
    app.create_user("alice", PW).await;
    let mut browser = app.browser();

    // Through the login page first, then with the session.
    let (url, verifier) = authorize_url(&app, &dpi, &[("response_mode", "form_post")]);
    let page = land(&mut browser, &url).await;
    assert!(page.is_login_page());
    let resp = browser.submit_login(&page.url, "alice", PW).await;
    let (resp, _) = browser.follow(resp).await;
    check_form_post(&app, &dpi, resp, &verifier).await;

    let (url, verifier) = authorize_url(&app, &dpi, &[("response_mode", "form_post")]);
    let resp = browser.get(&url).await;
    check_form_post(&app, &dpi, resp, &verifier).await;
}

async fn check_form_post(app: &TestApp, rp: &Rp, resp: reqwest::Response, verifier: &str) {
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let csp = resp.headers()[CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains(&format!("form-action https://{}.example", rp.id)),
        "{csp}"
    );
    let html = resp.text().await.unwrap();
    let action = html
        .split("action=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .map(unescape)
        .expect("a form action");
    assert_eq!(action, rp.redirect_uri);
    assert!(html.contains("method=\"post\""));
    assert_eq!(hidden_value(&html, "state").as_deref(), Some("st4te"));
    assert_eq!(
        hidden_value(&html, "iss").as_deref(),
        Some(app.issuer.as_str())
    );
    let code = hidden_value(&html, "code").expect("a code field");
    let resp = exchange(app, rp, &code, verifier).await;
    assert_eq!(resp.status(), StatusCode::OK, "the posted code is good");
}

#[tokio::test]
async fn the_login_page_speaks_french_by_default_and_english_when_asked() {
    let app = spawn_app().await;
    let dpi = app.rp("dpi").await;

    let (url, _) = authorize_url(&app, &dpi, &[]);
    let page = land(&mut app.browser(), &url).await;
    assert!(page.is_login_page());
    assert!(
        page.body.contains("<html lang=\"fr\">") && page.body.contains("Connexion"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("Sign in"));

    let (url, _) = authorize_url(&app, &dpi, &[("ui_locales", "en")]);
    let page = land(&mut app.browser(), &url).await;
    assert!(
        page.body.contains("<html lang=\"en\">") && page.body.contains("Sign in"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("Connexion"));

    // A browser without a language preference of its own (no cookie set by the switch).
    let mut b = app.browser();
    let (url, _) = authorize_url(&app, &dpi, &[]);
    let resp = b.get(&url).await;
    let login = app.url(resp.headers()["location"].to_str().unwrap());
    let html = b
        .send(
            app.http
                .get(&login)
                .header("accept-language", "en-GB,en;q=0.9,fr;q=0.5"),
        )
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("<html lang=\"en\">") && html.contains("Sign in"),
        "{html}"
    );
    let html = b
        .send(
            app.http
                .get(&login)
                .header("accept-language", "fr-FR,fr;q=0.9"),
        )
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("Connexion"), "{html}");
}

#[tokio::test]
async fn a_login_post_without_the_csrf_token_is_forbidden() {
    let app = spawn_app().await;
    let dpi = app.rp("dpi").await;
    app.create_user("alice", PW).await;
    let mut browser = app.browser();
    let (url, _) = authorize_url(&app, &dpi, &[]);
    let page = land(&mut browser, &url).await;
    let flow = query_param(&page.url, "flow").unwrap();

    let resp = browser
        .post(
            "/login",
            &[("flow", &flow), ("username", "alice"), ("password", PW)],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert!(!browser.cookies.contains_key("__Host-trousseau_session"));
    let forged = "A".repeat(43);
    let resp = browser
        .post(
            "/login",
            &[
                ("flow", &flow),
                ("csrf", &forged),
                ("username", "alice"),
                ("password", PW),
            ],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert!(!browser.cookies.contains_key("__Host-trousseau_session"));
    assert_eq!(
        app.audit("login")
            .await
            .iter()
            .filter(|e| e.reason.as_deref() == Some("csrf"))
            .count(),
        2
    );

    // The genuine form still works.
    let resp = browser.submit_login(&page.url, "alice", PW).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn max_age_zero_asks_for_a_login_even_within_the_same_second() {
    let app = spawn_app().await;
    let dpi = app.rp("dpi").await;
    app.create_user("alice", PW).await;
    let mut browser = app.browser();
    let first = id_claims(&login_tokens(&app, &mut browser, &dpi, "alice", PW).await);
    // No clock movement: the session is zero seconds old, yet max_age=0 demands a login.
    let (url, verifier) = authorize_url(&app, &dpi, &[("max_age", "0")]);
    let page = land(&mut browser, &url).await;
    assert!(page.is_login_page(), "{} {}", page.status, page.url);
    let back = login_at(&mut browser, &page.url, "alice", PW).await;
    let again = id_claims(&tokens_from(&app, &dpi, &back.url, &verifier).await);
    assert_eq!(
        again["sid"], first["sid"],
        "the same session, re-authenticated"
    );
}
