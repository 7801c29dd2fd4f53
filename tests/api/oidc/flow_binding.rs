//! An authorization flow belongs to the browser that started it and to the person who logged
//! in or consented within it: its id opened anywhere else restarts at a fresh login, and
//! nothing done in it counts for someone else (docs/security.md, finding 1).

use reqwest::StatusCode;
use reqwest::header::LOCATION;

use crate::helpers::{
    Browser, Rp, TestApp, authorize, authorize_url, exchange, query_param, spawn_app,
};

const PW: &str = "correct horse battery";

async fn third_party(app: &TestApp) -> Rp {
    let mut spec = app.spec("portail");
    spec.first_party = false;
    app.register(spec).await
}

fn location(resp: &reqwest::Response) -> String {
    resp.headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// Starts `url` in `b` and logs `user` in; returns the page the login leads to (its URL).
async fn start_and_login(b: &mut Browser, url: &str, user: &str) -> String {
    let resp = b.get(url).await;
    let (_, login) = b.follow(resp).await;
    assert!(login.contains("/login?flow="), "{login}");
    let resp = b.submit_login(&login, user, PW).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    location(&resp)
}

/// The consent form posted by `b`, without following where it leads.
async fn consent_allow(b: &mut Browser, flow: &str) -> reqwest::Response {
    let csrf = b.cookies["__Host-trousseau_csrf"].clone();
    b.post(
        "/consent",
        &[("flow", flow), ("csrf", &csrf), ("decision", "allow")],
    )
    .await
}

/// The victim, signed in to the hospital's own portal in their browser.
async fn signed_in_victim(app: &TestApp) -> Browser {
    let dpi = app.rp("dpi").await;
    let mut victim = app.browser();
    let (url, _) = authorize_url(app, &dpi, &[]);
    let back = authorize(&mut victim, &url, Some(("alice", PW))).await;
    assert!(query_param(&back, "code").is_some(), "{back}");
    victim
}

async fn refusals(app: &TestApp, reason: &str) -> usize {
    app.audit("authorization_refused")
        .await
        .iter()
        .filter(|e| e.reason.as_deref() == Some(reason))
        .count()
}

#[tokio::test]
async fn a_consented_flow_opened_in_another_browser_restarts_at_a_fresh_login() {
    let app = spawn_app().await;
    let portail = third_party(&app).await;
    app.create_user("alice", PW).await;
    app.create_user("mallory", PW).await;
    let mut victim = signed_in_victim(&app).await;

    // The operator of the third-party application logs in and consents as themself, and keeps
    // the resume link instead of following it.
    let mut attacker = app.browser();
    let (url, _) = authorize_url(&app, &portail, &[]);
    let consent_page = start_and_login(&mut attacker, &url, "mallory").await;
    assert!(consent_page.starts_with("/consent?flow="), "{consent_page}");
    let flow = query_param(&app.url(&consent_page), "flow").unwrap();
    let resp = consent_allow(&mut attacker, &flow).await;
    let resume = location(&resp);
    assert!(resume.starts_with("/authorize/resume?flow="), "{resume}");

    // The victim opens it: no code for the client, a fresh login of the victim's own flow.
    let resp = victim.get(&resume).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let to = location(&resp);
    assert!(
        to.starts_with("/login?flow=") && to.contains("reason=reauth"),
        "the victim must sign in again, not be sent to the client: {to}"
    );
    assert!(!to.contains(&flow), "a new flow of the victim's browser");
    assert_eq!(refusals(&app, "flow_not_bound").await, 1);

    // Signing in there asks for the victim's own consent: nothing carried over.
    let resp = victim.submit_login(&app.url(&to), "alice", PW).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert!(
        location(&resp).starts_with("/consent?flow="),
        "{}",
        location(&resp)
    );

    // The consent page and the login page of the foreign flow restart the same way.
    for page in [
        format!("/consent?flow={flow}"),
        format!("/login?flow={flow}"),
    ] {
        let resp = victim.get(&page).await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER, "{page}");
        assert!(location(&resp).contains("reason=reauth"), "{page}");
    }
    // Posting the consent of the foreign flow records nothing for the victim.
    let resp = consent_allow(&mut victim, &flow).await;
    assert!(
        location(&resp).starts_with("/login?flow="),
        "{}",
        location(&resp)
    );
    let alice = trousseau::storage::identities::by_username(app.state.db.pool(), "alice")
        .await
        .unwrap()
        .unwrap();
    assert!(
        trousseau::storage::consents::consent(app.state.db.pool(), &alice.id, &portail.id)
            .await
            .unwrap()
            .is_none(),
        "no consent stored for the victim"
    );
    // The attacker's own browser still finishes its own flow, for the attacker.
    let resp = attacker.get(&resume).await;
    let back = location(&resp);
    assert!(back.starts_with(&portail.redirect_uri), "{back}");
}

#[tokio::test]
async fn prompt_login_and_max_age_0_are_not_satisfied_by_someone_elses_login() {
    let app = spawn_app().await;
    let portail = third_party(&app).await;
    app.create_user("alice", PW).await;
    app.create_user("mallory", PW).await;
    let mut victim = signed_in_victim(&app).await;
    // The victim has used the third-party application before: consent is stored.
    let (url, verifier) = authorize_url(&app, &portail, &[]);
    let resp = victim.get(&url).await;
    let (_, consent_page) = victim.follow(resp).await;
    let flow = query_param(&consent_page, "flow").unwrap();
    let resp = consent_allow(&mut victim, &flow).await;
    let (_, back) = victim.follow(resp).await;
    let code = query_param(&back, "code").unwrap();
    assert_eq!(
        exchange(&app, &portail, &code, &verifier).await.status(),
        StatusCode::OK
    );
    app.clock.advance(600);

    for extra in [[("prompt", "login")], [("max_age", "0")]] {
        // The attacker logs in within a flow that demands a fresh login, and stops there (the
        // consent page: mallory never consented).
        let mut attacker = app.browser();
        let (url, _) = authorize_url(&app, &portail, &extra);
        let consent_page = start_and_login(&mut attacker, &url, "mallory").await;
        assert!(consent_page.starts_with("/consent?flow="), "{consent_page}");
        let flow = query_param(&app.url(&consent_page), "flow").unwrap();

        // The victim opens the flow's resume link: their old login must not pass as fresh.
        let resp = victim.get(&format!("/authorize/resume?flow={flow}")).await;
        let to = location(&resp);
        assert!(
            to.starts_with("/login?flow=") && to.contains("reason=reauth"),
            "{extra:?}: {to}"
        );
    }
    assert_eq!(refusals(&app, "flow_not_bound").await, 2);
}

#[tokio::test]
async fn in_one_browser_a_login_or_consent_counts_only_for_the_session_that_made_it() {
    let app = spawn_app().await;
    let portail = third_party(&app).await;
    app.create_user("alice", PW).await;
    app.create_user("mallory", PW).await;
    // On a shared workstation, mallory consents within a flow, then leaves the resume link
    // unused and signs out; alice signs in on the same browser for another application.
    let mut shared = app.browser();
    let (url, _) = authorize_url(&app, &portail, &[("prompt", "login")]);
    let consent_page = start_and_login(&mut shared, &url, "mallory").await;
    let flow = query_param(&app.url(&consent_page), "flow").unwrap();
    let resp = consent_allow(&mut shared, &flow).await;
    let resume = location(&resp);
    shared.cookies.remove("__Host-trousseau_session");
    let dpi = app.rp("dpi").await;
    let (url, _) = authorize_url(&app, &dpi, &[]);
    authorize(&mut shared, &url, Some(("alice", PW))).await;

    // The flow is this browser's, but its login and consent were mallory's session: alice is
    // asked to sign in again (prompt=login), then for her own consent.
    let resp = shared.get(&resume).await;
    let to = location(&resp);
    assert!(
        to.starts_with("/login?flow=") && to.contains("reason=reauth"),
        "{to}"
    );
    let resp = shared.submit_login(&app.url(&to), "alice", PW).await;
    assert!(
        location(&resp).starts_with("/consent?flow="),
        "{}",
        location(&resp)
    );
}

#[tokio::test]
async fn a_flow_id_out_of_the_servers_alphabet_is_an_unknown_flow() {
    let app = spawn_app().await;
    let mut b = app.browser();
    for flow in [
        "x",
        "abc%0d%0aSet-Cookie:%20a=b%20abcdefghijklmnop",
        &"a".repeat(300),
    ] {
        for path in ["/login", "/consent", "/authorize/resume"] {
            let resp = b.get(&format!("{path}?flow={flow}")).await;
            assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{path}?flow={flow}");
            assert!(
                resp.headers()
                    .get("set-cookie")
                    .is_none_or(|c| !c.to_str().unwrap().starts_with("a="))
            );
        }
    }
}

/// The card listener on a host of its own: the binding cookie is not sent there, the login
/// page's link carries a sealed ticket that works once, for that flow only.
#[tokio::test]
async fn a_card_listener_on_another_host_continues_the_flow_with_a_single_use_ticket() {
    use crate::cps::{Options, cps_toml, finish, linked_user};
    use crate::cps_pki::{Card, Pki};
    let pki = Pki::shared();
    let card = pki.personal("810002813839", "DUPONT", "ISABELLE", "Médecin");
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let toml = cps_toml(
        pki,
        dir.path(),
        &[],
        &Options {
            tls: true,
            ..Options::default()
        },
    )
    .replace(
        "listen = \"127.0.0.1:0\"",
        &format!("listen = \"127.0.0.1:{port}\"\npublic_url = \"https://localhost:{port}\""),
    );
    let app = crate::helpers::spawn_app_with(&toml).await;
    let server_pem = std::fs::read_to_string(dir.path().join("server.pem")).unwrap();
    let id = linked_user(&app, "idupont", "810002813839").await;
    let client = |card: Option<&Card>| {
        let mut c = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .resolve("localhost", ([127, 0, 0, 1], port).into())
            .add_root_certificate(reqwest::Certificate::from_pem(server_pem.as_bytes()).unwrap());
        if let Some(card) = card {
            c = c.identity(reqwest::Identity::from_pem(card.identity_pem().as_bytes()).unwrap());
        }
        c.build().unwrap()
    };
    let rp = app.rp("dpi").await;
    // The login page on the main host links to the card host with a ticket.
    let mut b = app.browser();
    let (url, verifier) = authorize_url(&app, &rp, &[]);
    let resp = b.get(&url).await;
    let (page, login) = b.follow(resp).await;
    let flow = query_param(&login, "flow").unwrap();
    let html = page.text().await.unwrap();
    let start = html
        .find(&format!("https://localhost:{port}/login/card?flow="))
        .expect("the card link names the card host");
    let link = html[start..html[start..].find('"').unwrap() + start]
        .replace("&#38;", "&")
        .replace("&amp;", "&");
    assert!(query_param(&link, "ticket").is_some(), "{link}");
    assert_eq!(query_param(&link, "flow").as_deref(), Some(flow.as_str()));

    // Without the ticket, the card host's browser has nothing binding it to the flow.
    let mut card_host = app.browser();
    let bare = format!("https://localhost:{port}/login/card?flow={flow}");
    let resp = card_host.send(client(Some(&card)).get(&bare)).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert!(
        location(&resp).starts_with("/login?flow="),
        "{}",
        location(&resp)
    );
    // A forged or altered ticket is refused the same way.
    let forged = format!(
        "{bare}&ticket=AAAA{}",
        query_param(&link, "ticket").unwrap()
    );
    let mut other = app.browser();
    let resp = other.send(client(Some(&card)).get(&forged)).await;
    assert!(
        location(&resp).starts_with("/login?flow="),
        "{}",
        location(&resp)
    );

    // The ticket binds the card host's browser once (here, first without a card: refused,
    // but bound); a second browser with the same ticket gets nothing.
    let mut card_host = app.browser();
    let resp = card_host.send(client(None).get(&link)).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let mut thief = app.browser();
    let resp = thief.send(client(Some(&card)).get(&link)).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert!(
        location(&resp).starts_with("/login?flow="),
        "{}",
        location(&resp)
    );
    let ticket_refusals = app
        .audit("card_login")
        .await
        .iter()
        .filter(|e| e.reason.as_deref() == Some("card_ticket_refused"))
        .count();
    assert_eq!(ticket_refusals, 2, "the forged and the replayed ticket");

    // The bound card-host browser finishes the login with its card.
    let resp = card_host.send(client(Some(&card)).get(&bare)).await;
    let claims = finish(&app, &mut card_host, &rp, resp, &verifier).await;
    assert_eq!(claims["sub"], id);
}
