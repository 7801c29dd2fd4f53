//! The sandbox's broker with a real Trousseau as the third-party identity provider (psc.md):
//! `kc_idp_hint` → Trousseau's authorize → the code back at the sandbox → the pairing screen
//! and the phone → PSC-style tokens for the service; the confirmation screen on the next
//! login; an unknown alias; Trousseau answering an error; authentications PSC refuses; the
//! browser binding and CSRF of the screens; one code for a confirmation posted twice at once;
//! the configured pairing length; back-channel logout from Trousseau, a replayed logout token
//! refused.

use reqwest::StatusCode;
use serde_json::Value;

use super::{TOKEN, error_of, post, verify};
use crate::helpers::sandbox::{PROFESSIONAL, Sandbox, SandboxOptions, browser, spawn_sandbox};
use crate::helpers::{Browser, HttpPeer, Reply, TestApp, pkce, query_param, spawn_app};
use trousseau::audit::RequestContext;
use trousseau::authn::level::{AuthFactor, Method};

const ALIAS: &str = "chu-test";
const BROKER_CLIENT: &str = "psc-broker";

/// A Trousseau, and a sandbox whose broker `chu-test` sends professionals to it.
struct Federation {
    app: TestApp,
    sb: Sandbox,
    /// Where the sandbox's client `dmp` receives logout tokens.
    receiver: HttpPeer,
}

/// Starts both; `scopes` are those Trousseau allows its PSC client.
async fn federation(scopes: &[&str]) -> Federation {
    federation_with(scopes, "").await
}

/// The same, with more top-level sandbox keys (`extra`, TOML).
async fn federation_with(scopes: &[&str], extra: &str) -> Federation {
    let app = spawn_app().await;
    let mut spec = app.spec(BROKER_CLIENT);
    spec.scopes = scopes.iter().map(|s| (*s).to_owned()).collect();
    let rp = app.register(spec.clone()).await;
    let receiver = HttpPeer::start(|_| Reply::status(200)).await;
    let sb = spawn_sandbox(SandboxOptions {
        extra_clients: format!(
            "[[clients]]\nclient_id = \"dmp\"\nsecret = \"dmp-secret\"\n\
             redirect_uris = [\"http://127.0.0.1:9/dmp\"]\nbackchannel_logout_uri = \"{}\"\n\
             [[brokers]]\nalias = \"{ALIAS}\"\ntrousseau_issuer = \"{}\"\n\
             client_id = \"{BROKER_CLIENT}\"\nclient_secret = \"{}\"\n",
            receiver.url("/bc"),
            app.issuer,
            rp.secret.unwrap(),
        ),
        extra: extra.to_owned(),
        ..SandboxOptions::default()
    })
    .await;
    // PSC's broker redirect URI (Keycloak form) and its back-channel logout URI.
    spec.redirect_uris = vec![format!("{}/broker/{ALIAS}/endpoint", sb.issuer)];
    spec.backchannel_logout_uri = Some(format!("{}/broker/{ALIAS}/backchannel-logout", sb.issuer));
    trousseau::admin::clients::update(&app.state, &spec, "test")
        .await
        .unwrap();
    Federation { app, sb, receiver }
}

/// A Trousseau browser holding a session of a new user proven with `method`; and its id.
async fn signed_in(app: &TestApp, name: &str, method: Method) -> (Browser, String) {
    let id = app.create_user(name, "correct horse battery staple").await;
    let factor = AuthFactor {
        method,
        user_verified: true,
    };
    let logged = trousseau::session::record_login(
        &app.state.sessions(),
        None,
        &id,
        factor,
        None,
        &RequestContext::default(),
    )
    .await
    .unwrap();
    let mut b = app.browser();
    b.cookies
        .insert("__Host-trousseau_session".into(), logged.new_token.unwrap());
    (b, logged.session.id)
}

fn location(resp: &reqwest::Response) -> String {
    resp.headers()["location"].to_str().unwrap().to_owned()
}

fn between(text: &str, start: &str, end: &str) -> String {
    let from = text
        .find(start)
        .unwrap_or_else(|| panic!("{start} in {text}"))
        + start.len();
    let len = text[from..].find(end).unwrap();
    text[from..from + len].to_owned()
}

/// A service request with `kc_idp_hint` through the sandbox to Trousseau and back: the
/// sandbox's answer to Trousseau's redirect (before following it).
async fn through_trousseau(
    f: &Federation,
    sandbox: &reqwest::Client,
    idp: &mut Browser,
    challenge: &str,
) -> reqwest::Response {
    let start = sandbox
        .get(f.sb.authorize_url(challenge, &format!("&kc_idp_hint={ALIAS}")))
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), StatusCode::SEE_OTHER);
    let to_idp = location(&start);
    assert!(to_idp.starts_with(&f.app.url("/authorize")), "{to_idp}");
    assert_eq!(
        query_param(&to_idp, "client_id").as_deref(),
        Some(BROKER_CLIENT)
    );
    assert_eq!(
        query_param(&to_idp, "code_challenge_method").as_deref(),
        Some("S256")
    );
    assert!(query_param(&to_idp, "nonce").is_some());
    let resp = idp.get(&to_idp).await;
    let (_, back) = idp.follow(resp).await;
    assert!(
        back.starts_with(&format!("{}/broker/{ALIAS}/endpoint", f.sb.issuer)),
        "{back}"
    );
    sandbox.get(&back).send().await.unwrap()
}

/// Follows a sandbox redirect to one of its pages; its HTML.
async fn page(sb: &Sandbox, b: &reqwest::Client, resp: reqwest::Response) -> String {
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let page = b
        .get(format!("{}{}", sb.base, location(&resp)))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    page.text().await.unwrap()
}

/// Fills the pairing screen with `idnat`, approves on the phone; the redirect to the service.
async fn pair(sb: &Sandbox, b: &reqwest::Client, html: &str, idnat: &str) -> String {
    assert!(html.contains("Appairage"), "{html}");
    assert!(html.contains("bac à sable") || html.contains("Bac à sable"));
    let csrf = between(html, "name=\"csrf\" value=\"", "\"");
    let login = between(html, "name=\"login\" value=\"", "\"");
    let sent = b
        .post(format!("{}/wallet/broker/pair", sb.base))
        .form(&[
            ("csrf", csrf.as_str()),
            ("login", login.as_str()),
            ("idnat", idnat),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), StatusCode::SEE_OTHER);
    let wait = format!("{}{}", sb.base, location(&sent));
    let html = b.get(&wait).send().await.unwrap().text().await.unwrap();
    let binding = between(&html, "id=\"binding\">", "<");
    let pending = sb.approve_all(idnat).await;
    assert_eq!(
        pending[0].binding_message, binding,
        "the same code on both screens"
    );
    let back = b.get(&wait).send().await.unwrap();
    assert_eq!(back.status(), StatusCode::SEE_OTHER);
    location(&back)
}

async fn tokens_of(sb: &Sandbox, back: &str, verifier: &str) -> Value {
    assert!(back.starts_with(&sb.redirect_uri), "{back}");
    assert_eq!(query_param(back, "state").as_deref(), Some("st4te"));
    let code = query_param(back, "code").unwrap();
    let resp = sb.exchange(&code, verifier).await;
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

#[tokio::test]
async fn first_use_pairs_then_the_next_login_only_confirms() {
    let f = federation(&["openid", "profile", "email"]).await;
    let (mut idp, _) = signed_in(&f.app, "alice", Method::SecurityKey).await;
    let b = browser();
    let (verifier, challenge) = pkce();
    let back = through_trousseau(&f, &b, &mut idp, &challenge).await;
    let html = page(&f.sb, &b, back).await;
    assert!(
        html.contains("alice"),
        "the establishment account is shown: {html}"
    );
    let back = pair(&f.sb, &b, &html, PROFESSIONAL).await;
    let tokens = tokens_of(&f.sb, &back, &verifier).await;
    let claims = verify(&f.sb, tokens["id_token"].as_str().unwrap()).await;
    assert_eq!(claims["SubjectNameID"], PROFESSIONAL);
    assert_eq!(claims["preferred_username"], PROFESSIONAL);
    assert_eq!(claims["nonce"], "n0nce");
    assert_eq!(claims["acr"], "eidas1");
    assert_eq!(claims["authMode"], "FI_TIERS");
    assert_eq!(
        claims["amr"],
        serde_json::json!(["hwk", "user", "mfa"]),
        "Trousseau's amr"
    );
    assert!(
        claims["SubjectRefPro"]["exercices"].is_array(),
        "from the RPPS file"
    );
    let auth_time = claims["auth_time"].as_i64().unwrap();
    assert!(
        (auth_time - f.app.state.clock.now()).abs() < 5,
        "Trousseau's auth_time"
    );

    // The same sandbox session lets a later service in without any screen.
    let (verifier2, challenge2) = pkce();
    let again = b
        .get(f.sb.authorize_url(&challenge2, &format!("&kc_idp_hint={ALIAS}")))
        .send()
        .await
        .unwrap();
    let tokens2 = tokens_of(&f.sb, &location(&again), &verifier2).await;
    let claims2 = verify(&f.sb, tokens2["id_token"].as_str().unwrap()).await;
    assert_eq!(claims2["sid"], claims["sid"]);

    // A new browser session at the sandbox: Trousseau again, then the confirmation only.
    let b2 = browser();
    let (verifier3, challenge3) = pkce();
    let back = through_trousseau(&f, &b2, &mut idp, &challenge3).await;
    let html = page(&f.sb, &b2, back).await;
    assert!(
        html.contains("Bonjour CLAIRE MARTIN, confirmez-vous vouloir accéder à Pro Santé Connect avec votre compte"),
        "{html}"
    );
    assert!(html.contains("Annuler et utiliser un autre moyen"));
    assert!(
        f.sb.pending(PROFESSIONAL).await.is_empty(),
        "no phone request"
    );
    let csrf = between(&html, "name=\"csrf\" value=\"", "\"");
    let login = between(&html, "name=\"login\" value=\"", "\"");
    let confirm = |decision: &'static str| {
        let (b2, base) = (b2.clone(), f.sb.base.clone());
        let (csrf, login) = (csrf.clone(), login.clone());
        async move {
            b2.post(format!("{base}/wallet/broker/confirm"))
                .form(&[
                    ("csrf", csrf.as_str()),
                    ("login", login.as_str()),
                    ("decision", decision),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    let done = confirm("confirm").await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    let tokens3 = tokens_of(&f.sb, &location(&done), &verifier3).await;
    let claims3 = verify(&f.sb, tokens3["id_token"].as_str().unwrap()).await;
    assert_eq!(claims3["SubjectNameID"], PROFESSIONAL);
    assert_ne!(claims3["sid"], claims["sid"]);
    // A login is finished once.
    assert_eq!(confirm("confirm").await.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn another_means_goes_back_to_psc_login() {
    let f = federation(&["openid", "profile", "email"]).await;
    let (mut idp, _) = signed_in(&f.app, "bob", Method::Card).await;
    let b = browser();
    let (_, challenge) = pkce();
    let back = through_trousseau(&f, &b, &mut idp, &challenge).await;
    let html = page(&f.sb, &b, back).await;
    pair(&f.sb, &b, &html, PROFESSIONAL).await;
    let b2 = browser();
    let back = through_trousseau(&f, &b2, &mut idp, &challenge).await;
    let html = page(&f.sb, &b2, back).await;
    let csrf = between(&html, "name=\"csrf\" value=\"", "\"");
    let login = between(&html, "name=\"login\" value=\"", "\"");
    let other = b2
        .post(format!("{}/wallet/broker/confirm", f.sb.base))
        .form(&[
            ("csrf", csrf.as_str()),
            ("login", login.as_str()),
            ("decision", "other"),
        ])
        .send()
        .await
        .unwrap();
    let to = location(&other);
    assert!(to.starts_with("/wallet/auth?"), "{to}");
    assert!(!to.contains("kc_idp_hint"));
    let prompt = b2.get(format!("{}{to}", f.sb.base)).send().await.unwrap();
    assert_eq!(prompt.status(), 200);
    assert!(
        prompt.text().await.unwrap().contains("name=\"idnat\""),
        "PSC's own login"
    );
}

#[tokio::test]
async fn an_unknown_alias_is_a_clear_error_page() {
    let f = federation(&["openid", "profile", "email"]).await;
    let (_, challenge) = pkce();
    let resp = browser()
        .get(f.sb.authorize_url(&challenge, "&kc_idp_hint=nowhere"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.headers().get("location").is_none());
    let html = resp.text().await.unwrap();
    assert!(html.contains("pas connu du bac à sable"), "{html}");
    assert!(html.contains("bac à sable") || html.contains("Bac à sable"));
}

#[tokio::test]
async fn an_error_from_trousseau_is_shown_and_sent_to_the_service() {
    // Trousseau refuses the scopes PSC asks for (invalid_scope).
    let f = federation(&["openid"]).await;
    let (mut idp, _) = signed_in(&f.app, "carol", Method::SecurityKey).await;
    let b = browser();
    let (_, challenge) = pkce();
    let resp = through_trousseau(&f, &b, &mut idp, &challenge).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let html = resp.text().await.unwrap();
    assert!(
        html.contains("Votre établissement a refusé la connexion"),
        "{html}"
    );
    assert!(html.contains("data-reason=\"idp_error\""));
    let back = between(&html, "id=\"back\" href=\"", "\"")
        .replace("&amp;", "&")
        .replace("&#38;", "&");
    assert!(back.starts_with(&f.sb.redirect_uri), "{back}");
    assert_eq!(
        query_param(&back, "error").as_deref(),
        Some("access_denied")
    );
    assert_eq!(query_param(&back, "state").as_deref(), Some("st4te"));
}

#[tokio::test]
async fn a_password_alone_is_refused_by_psc() {
    let f = federation(&["openid", "profile", "email"]).await;
    let (mut idp, _) = signed_in(&f.app, "dave", Method::Password).await;
    let b = browser();
    let (_, challenge) = pkce();
    let resp = through_trousseau(&f, &b, &mut idp, &challenge).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let html = resp.text().await.unwrap();
    assert!(
        html.contains("data-reason=\"weak_authentication\""),
        "{html}"
    );
    assert!(html.contains("hameçonnage"));
    assert!(f.sb.pending(PROFESSIONAL).await.is_empty());
}

#[tokio::test]
async fn the_answer_belongs_to_the_browser_that_started_and_forms_need_csrf() {
    let f = federation(&["openid", "profile", "email"]).await;
    let (mut idp, _) = signed_in(&f.app, "erin", Method::SecurityKey).await;
    let b = browser();
    let (_, challenge) = pkce();
    let start = b
        .get(f.sb.authorize_url(&challenge, &format!("&kc_idp_hint={ALIAS}")))
        .send()
        .await
        .unwrap();
    let resp = idp.get(&location(&start)).await;
    let (_, back) = idp.follow(resp).await;
    // Another browser cannot take the code.
    let stolen = browser().get(&back).send().await.unwrap();
    assert_eq!(stolen.status(), StatusCode::FORBIDDEN);
    // The right one can, once.
    let resp = b.get(&back).send().await.unwrap();
    let html = page(&f.sb, &b, resp).await;
    assert_eq!(
        b.get(&back).send().await.unwrap().status(),
        StatusCode::BAD_REQUEST
    );
    // The pairing form without its CSRF token.
    let login = between(&html, "name=\"login\" value=\"", "\"");
    let forged = b
        .post(format!("{}/wallet/broker/pair", f.sb.base))
        .form(&[
            ("csrf", "forged"),
            ("login", login.as_str()),
            ("idnat", PROFESSIONAL),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert!(f.sb.pending(PROFESSIONAL).await.is_empty());
}

#[tokio::test]
async fn logout_at_trousseau_ends_the_sandbox_session_and_tells_its_clients() {
    let f = federation(&["openid", "profile", "email"]).await;
    let (mut idp, idp_session) = signed_in(&f.app, "frank", Method::SecurityKey).await;
    let b = browser();
    let (verifier, challenge) = pkce();
    let back = through_trousseau(&f, &b, &mut idp, &challenge).await;
    let html = page(&f.sb, &b, back).await;
    let back = pair(&f.sb, &b, &html, PROFESSIONAL).await;
    let tokens = tokens_of(&f.sb, &back, &verifier).await;
    let sid = verify(&f.sb, tokens["id_token"].as_str().unwrap()).await["sid"].clone();
    // The service `dmp` (with a back-channel logout URI) gets in through the same session.
    let (dmp_verifier, dmp_challenge) = pkce();
    let dmp_url =
        f.sb.authorize_url(&dmp_challenge, "")
            .replace("client_id=trousseau", "client_id=dmp")
            .replace("127.0.0.1%3A9%2Fcallback", "127.0.0.1%3A9%2Fdmp");
    let to = location(&b.get(&dmp_url).send().await.unwrap());
    let code = query_param(&to, "code").unwrap();
    let dmp_tokens =
        f.sb.http
            .post(f.sb.realm(TOKEN))
            .basic_auth("dmp", Some("dmp-secret"))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", "http://127.0.0.1:9/dmp"),
                ("code_verifier", dmp_verifier.as_str()),
            ])
            .send()
            .await
            .unwrap();
    assert_eq!(dmp_tokens.status(), 200);

    // A forged logout token is refused and ends nothing.
    let forged =
        f.sb.http
            .post(format!("{}/broker/{ALIAS}/backchannel-logout", f.sb.issuer))
            .form(&[("logout_token", tokens["id_token"].as_str().unwrap())])
            .send()
            .await
            .unwrap();
    assert_eq!(forged.status(), 400);

    // Logout at Trousseau: its logout token reaches the sandbox's broker.
    trousseau::session::end(
        &f.app.state.sessions(),
        &idp_session,
        "logout",
        &RequestContext::default(),
    )
    .await
    .unwrap();
    let posts = f.receiver.wait_for(1).await;
    assert_eq!(posts[0].path, "/bc");
    let token = url::form_urlencoded::parse(&posts[0].body)
        .find(|(k, _)| k == "logout_token")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    let claims = verify(&f.sb, &token).await;
    assert_eq!(claims["aud"], "dmp");
    assert_eq!(claims["sid"], sid);
    assert!(claims["events"]["http://schemas.openid.net/event/backchannel-logout"].is_object());
    // The token Trousseau sent the broker, posted again: its jti was seen, it is refused.
    let sent: String = sqlx::query_scalar(
        "SELECT logout_token FROM logout_deliveries WHERE client_id = 'psc-broker'",
    )
    .fetch_one(f.app.state.db.pool())
    .await
    .unwrap();
    let replayed =
        f.sb.http
            .post(format!("{}/broker/{ALIAS}/backchannel-logout", f.sb.issuer))
            .form(&[("logout_token", sent.as_str())])
            .send()
            .await
            .unwrap();
    assert_eq!(replayed.status(), 400);
    let body: Value = replayed.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");
    assert!(
        body["error_description"].as_str().unwrap().contains("jti"),
        "{body}"
    );
    // And through Keycloak's path, where the broker is found by the issuer.
    let replayed =
        f.sb.http
            .post(format!(
                "{}/protocol/openid-connect/logout/backchannel-logout",
                f.sb.issuer
            ))
            .form(&[("logout_token", sent.as_str())])
            .send()
            .await
            .unwrap();
    assert_eq!(replayed.status(), 400);
    // The session is over: its refresh token is refused, and the next request goes to
    // Trousseau again.
    let refresh = post(
        &f.sb,
        TOKEN,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(error_of(refresh).await, (400, "invalid_grant".into()));
    let (_, challenge2) = pkce();
    let again = b
        .get(f.sb.authorize_url(&challenge2, &format!("&kc_idp_hint={ALIAS}")))
        .send()
        .await
        .unwrap();
    assert!(location(&again).starts_with(&f.app.url("/authorize")));
}

/// The confirmation screen of a second browser, for an account already paired in a first.
/// Returns the second browser, the page and the PKCE verifier of its service request.
async fn confirmation_screen(f: &Federation, name: &str) -> (reqwest::Client, String, String) {
    let (mut idp, _) = signed_in(&f.app, name, Method::SecurityKey).await;
    let b = browser();
    let (_, challenge) = pkce();
    let back = through_trousseau(f, &b, &mut idp, &challenge).await;
    let html = page(&f.sb, &b, back).await;
    pair(&f.sb, &b, &html, PROFESSIONAL).await;
    let b2 = browser();
    let (verifier, challenge) = pkce();
    let back = through_trousseau(f, &b2, &mut idp, &challenge).await;
    let html = page(&f.sb, &b2, back).await;
    assert!(html.contains("confirmez-vous"), "{html}");
    (b2, html, verifier)
}

#[tokio::test]
async fn a_confirmation_posted_twice_at_once_gives_one_code_and_one_session() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("sandbox.db");
    // A database file: the sandbox then serves requests on several connections at once.
    let f = federation_with(
        &["openid", "profile", "email"],
        &format!("database = \"{}\"\n", db.display()),
    )
    .await;
    let (b2, html, verifier) = confirmation_screen(&f, "grace").await;
    let csrf = between(&html, "name=\"csrf\" value=\"", "\"");
    let login = between(&html, "name=\"login\" value=\"", "\"");
    let sessions = || async {
        let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
            .await
            .unwrap();
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sessions")
            .fetch_one(&pool)
            .await
            .unwrap();
        pool.close().await;
        n
    };
    let before = sessions().await;
    let confirm = || {
        let (b2, base) = (b2.clone(), f.sb.base.clone());
        let (csrf, login) = (csrf.clone(), login.clone());
        async move {
            b2.post(format!("{base}/wallet/broker/confirm"))
                .form(&[
                    ("csrf", csrf.as_str()),
                    ("login", login.as_str()),
                    ("decision", "confirm"),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    let answers = futures_util::future::join_all((0..4).map(|_| confirm())).await;
    let mut codes = Vec::new();
    for a in &answers {
        match a.status() {
            StatusCode::SEE_OTHER => codes.push(location(a)),
            s => assert_eq!(s, StatusCode::BAD_REQUEST),
        }
    }
    assert_eq!(
        codes.len(),
        1,
        "exactly one answer carries a code: {codes:?}"
    );
    assert_eq!(
        sessions().await,
        before + 1,
        "exactly one new sandbox session"
    );
    let tokens = tokens_of(&f.sb, &codes[0], &verifier).await;
    let claims = verify(&f.sb, tokens["id_token"].as_str().unwrap()).await;
    assert_eq!(claims["SubjectNameID"], PROFESSIONAL);
}

#[tokio::test]
async fn the_pairing_lasts_the_configured_time() {
    let f = federation_with(&["openid", "profile", "email"], "broker_pairing_secs = 2\n").await;
    let (mut idp, _) = signed_in(&f.app, "heidi", Method::SecurityKey).await;
    let (_, challenge) = pkce();
    let b = browser();
    let back = through_trousseau(&f, &b, &mut idp, &challenge).await;
    let html = page(&f.sb, &b, back).await;
    pair(&f.sb, &b, &html, PROFESSIONAL).await;
    // While it lives, a new browser is only asked to confirm...
    let b2 = browser();
    let back = through_trousseau(&f, &b2, &mut idp, &challenge).await;
    let html = page(&f.sb, &b2, back).await;
    assert!(html.contains("confirmez-vous"), "{html}");
    // ...once it has expired, the pairing screen comes back.
    tokio::time::sleep(std::time::Duration::from_millis(3100)).await;
    let b3 = browser();
    let back = through_trousseau(&f, &b3, &mut idp, &challenge).await;
    let html = page(&f.sb, &b3, back).await;
    assert!(!html.contains("confirmez-vous"), "{html}");
    assert!(
        html.contains("name=\"idnat\""),
        "the pairing screen: {html}"
    );
}
