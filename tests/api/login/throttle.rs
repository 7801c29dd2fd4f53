//! Brute-force throttling of the password login: account locks that expire or that an admin
//! lifts, per-address slowing down, no user enumeration, suspended accounts.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure is a panic

use reqwest::StatusCode;

use crate::helpers::{Browser, TestApp, authorize_url, spawn_app};
use trousseau::storage::audit::AuditRecord;

const PW: &str = "correct horse battery";
const WRONG_CREDENTIALS: &str = "Identifiant ou mot de passe incorrect";

/// A browser on the login page of a fresh authorization request; returns the page URL.
async fn on_login_page(app: &TestApp) -> (Browser, String) {
    let rp = app
        .rp(&format!("dpi{}", uuid::Uuid::new_v4().simple()))
        .await;
    let mut browser = app.browser();
    let (url, _) = authorize_url(app, &rp, &[]);
    let resp = browser.get(&url).await;
    let (resp, location) = browser.follow(resp).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(location.contains("/login?"), "{location}");
    (browser, location)
}

/// Submits the login form; returns the status and the page.
async fn attempt(
    browser: &mut Browser,
    login_url: &str,
    user: &str,
    pw: &str,
) -> (StatusCode, String) {
    let resp = browser.submit_login(login_url, user, pw).await;
    let status = resp.status();
    (status, resp.text().await.unwrap_or_default())
}

/// The text of the error box of a login page.
fn alert(html: &str) -> String {
    let start = html
        .find("role=\"alert\"")
        .unwrap_or_else(|| panic!("an error message in {html}"));
    let from = start + html[start..].find('>').unwrap() + 1;
    let to = from + html[from..].find("</div>").unwrap();
    html[from..to].to_owned()
}

/// Events of a kind in the order they happened.
async fn chronological(app: &TestApp, kind: &str) -> Vec<AuditRecord> {
    let mut events = app.audit(kind).await;
    events.reverse();
    events
}

/// Five wrong passwords, one second apart: the fifth locks the account.
async fn lock_out(app: &TestApp, browser: &mut Browser, login_url: &str, user: &str) {
    for i in 1..=5 {
        app.clock.advance(1);
        let (status, html) = attempt(browser, login_url, user, "not the password").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "attempt {i}");
        assert!(
            alert(&html).contains(WRONG_CREDENTIALS),
            "attempt {i}: {html}"
        );
    }
}

#[tokio::test]
async fn five_wrong_passwords_lock_the_account_until_an_admin_unlocks_it() {
    let app = spawn_app().await;
    let alice = app.create_user("alice", PW).await;
    let (mut browser, login) = on_login_page(&app).await;
    lock_out(&app, &mut browser, &login, "alice").await;

    app.clock.advance(1);
    let (status, html) = attempt(&mut browser, &login, "alice", PW).await;
    assert_eq!(
        status,
        StatusCode::TOO_MANY_REQUESTS,
        "even the right password is refused while locked"
    );
    assert!(html.contains("temporairement verrouillé"), "{html}");
    assert!(!browser.cookies.contains_key("__Host-trousseau_session"));

    let reasons: Vec<String> = chronological(&app, "login")
        .await
        .iter()
        .filter(|e| e.outcome == "failure")
        .map(|e| e.reason.clone().unwrap_or_default())
        .collect();
    assert_eq!(
        reasons,
        [
            "wrong_password",
            "wrong_password",
            "wrong_password",
            "wrong_password",
            "wrong_password",
            "account_locked"
        ]
    );
    let logins = chronological(&app, "login").await;
    assert!(
        logins
            .iter()
            .all(|e| e.subject.as_deref() == Some(alice.as_str()))
    );
    let locks = app.audit("account_locked").await;
    assert_eq!(locks.len(), 1, "{locks:?}");
    assert_eq!(locks[0].subject.as_deref(), Some(alice.as_str()));
    assert_eq!(locks[0].outcome, "failure");

    assert!(
        trousseau::admin::users::unlock(&app.state, "alice", "test")
            .await
            .unwrap(),
        "there was a lock to lift"
    );
    let (status, _) = attempt(&mut browser, &login, "alice", PW).await;
    assert_eq!(
        status,
        StatusCode::SEE_OTHER,
        "the right password works again"
    );
    assert!(browser.cookies.contains_key("__Host-trousseau_session"));
    assert_eq!(app.audit("user_unlocked").await.len(), 1);
}

#[tokio::test]
async fn an_account_lock_expires_by_itself_after_five_minutes() {
    let app = spawn_app().await;
    app.create_user("alice", PW).await;
    let (mut browser, login) = on_login_page(&app).await;
    lock_out(&app, &mut browser, &login, "alice").await;

    app.clock.advance(299);
    let (status, html) = attempt(&mut browser, &login, "alice", PW).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{html}");
    app.clock.advance(1);
    let (status, html) = attempt(&mut browser, &login, "alice", PW).await;
    assert_eq!(
        status,
        StatusCode::SEE_OTHER,
        "five minutes later the lock is gone: {html}"
    );

    // The next lock lasts twice as long (a new authorization request: the last one ended at
    // the client with its code).
    let (mut browser, login) = on_login_page(&app).await;
    lock_out(&app, &mut browser, &login, "alice").await;
    app.clock.advance(599);
    assert_eq!(
        attempt(&mut browser, &login, "alice", PW).await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
    app.clock.advance(1);
    assert_eq!(
        attempt(&mut browser, &login, "alice", PW).await.0,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn a_successful_login_resets_the_count_of_failures() {
    let app = spawn_app().await;
    app.create_user("alice", PW).await;
    for round in 0..2 {
        let (mut browser, login) = on_login_page(&app).await;
        for _ in 0..4 {
            assert_eq!(
                attempt(&mut browser, &login, "alice", "wrong").await.0,
                StatusCode::UNAUTHORIZED
            );
        }
        assert_eq!(
            attempt(&mut browser, &login, "alice", PW).await.0,
            StatusCode::SEE_OTHER,
            "round {round}"
        );
    }
    assert!(
        app.audit("account_locked").await.is_empty(),
        "never five failures in a row"
    );
}

#[tokio::test]
async fn unknown_usernames_get_the_same_answer_as_wrong_passwords() {
    let app = spawn_app().await;
    app.create_user("alice", PW).await;
    let (mut browser, login) = on_login_page(&app).await;

    let (known_status, known) = attempt(&mut browser, &login, "alice", "not the password").await;
    let (unknown_status, unknown) =
        attempt(&mut browser, &login, "nobody", "not the password").await;
    assert_eq!(known_status, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown_status, known_status, "same status");
    assert_eq!(alert(&unknown), alert(&known), "same message");
    assert!(alert(&unknown).contains(WRONG_CREDENTIALS));

    let failures = chronological(&app, "login").await;
    let reasons: Vec<&str> = failures
        .iter()
        .filter_map(|e| e.reason.as_deref())
        .collect();
    assert_eq!(reasons, ["wrong_password", "unknown_user"]);
    assert!(
        failures[1].subject.is_none(),
        "no identity for an unknown username"
    );
}

#[tokio::test]
async fn a_suspended_user_is_told_the_account_is_disabled_only_with_the_right_password() {
    let app = spawn_app().await;
    app.create_user("alice", PW).await;
    trousseau::admin::users::disable(&app.state, "alice", "left the hospital", "test")
        .await
        .unwrap();
    let (mut browser, login) = on_login_page(&app).await;

    let (status, html) = attempt(&mut browser, &login, "alice", "not the password").await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a wrong password says nothing about the account"
    );
    assert!(alert(&html).contains(WRONG_CREDENTIALS));

    let (status, html) = attempt(&mut browser, &login, "alice", PW).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(alert(&html).contains("désactivé"), "{html}");
    assert!(!browser.cookies.contains_key("__Host-trousseau_session"));
    assert!(
        chronological(&app, "login")
            .await
            .iter()
            .any(|e| e.reason.as_deref() == Some("account_disabled"))
    );

    trousseau::admin::users::enable(&app.state, "alice", "test")
        .await
        .unwrap();
    assert_eq!(
        attempt(&mut browser, &login, "alice", PW).await.0,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn many_failures_from_one_address_slow_it_down() {
    let app = spawn_app().await;
    app.create_user("alice", PW).await;
    let (mut browser, login) = on_login_page(&app).await;
    let max = app.state.settings.throttle.address_max_failures;
    for i in 0..max {
        let (status, _) = attempt(&mut browser, &login, &format!("guess{i}"), "x").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, html) = attempt(&mut browser, &login, "alice", PW).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(alert(&html).contains("depuis ce poste"), "{html}");
    assert!(
        app.audit("login")
            .await
            .iter()
            .any(|e| e.reason.as_deref() == Some("address_throttled"))
    );

    app.clock
        .advance(app.state.settings.throttle.address_window_secs);
    // Ten minutes idle end the login page's flow too: the person starts again from the
    // application.
    let (mut browser, login) = on_login_page(&app).await;
    assert_eq!(
        attempt(&mut browser, &login, "alice", PW).await.0,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn unknown_usernames_are_locked_like_real_accounts() {
    let app = spawn_app().await;
    app.create_user("alice", PW).await;
    let (mut browser, login) = on_login_page(&app).await;
    lock_out(&app, &mut browser, &login, "alice").await;
    lock_out(&app, &mut browser, &login, "nobody").await;
    // The sixth attempt looks the same whether the account exists or not.
    app.clock.advance(1);
    let real = attempt(&mut browser, &login, "alice", "whatever").await;
    let ghost = attempt(&mut browser, &login, "nobody", "whatever").await;
    assert_eq!(real.0, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(ghost.0, real.0);
    assert_eq!(alert(&ghost.1), alert(&real.1));
}
