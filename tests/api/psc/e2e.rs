//! Trousseau and the real PSC sandbox process, over real HTTP (and real TLS for mTLS): the
//! e-CPS login, pairing by CIBA (the real `pairing_ciba` worker polling the sandbox) and by
//! redirect, and `tls_client_auth` with an organisation certificate of the tests' PKI. Each
//! test checks the outcome, the audit event with its reason, and what is stored.

use reqwest::StatusCode;
use serde_json::Value;

use crate::cps_pki::{Card, Pki, Shape, name};
use crate::helpers::sandbox::{
    self, PROFESSIONAL, Sandbox, SandboxOptions, reserve_port, server_certificate, spawn_sandbox,
};
use crate::helpers::{
    Browser, TestApp, authorize_url, claims, exchange, query_param, spawn_app_with, wait,
};
use trousseau::audit::RequestContext;
use trousseau::authn::level::{AuthFactor, Level, Method};
use trousseau::identity::{IdNat, LinkMethod};
use trousseau::storage::{findings, pairings};

const PW: &str = "correct horse battery staple";
/// Another valid IdNat, absent from the sandbox's file.
const OTHER_IDNAT: &str = "810002345671";
const SESSION_COOKIE: &str = "__Host-trousseau_session";
const SECRET: &str = sandbox::CLIENT_SECRET;

/// A Trousseau whose `[psc]` is the sandbox, and that sandbox.
struct Federation {
    app: TestApp,
    sb: Sandbox,
    _dir: tempfile::TempDir,
}

/// How Trousseau authenticates to the sandbox.
enum Auth {
    /// `client_secret_basic` as the sandbox's default client.
    Secret,
    /// `tls_client_auth` as client `hopital` with this certificate, trusting the sandbox's
    /// TLS certificate.
    Tls {
        card: Card,
        subject: String,
        ca_pem: String,
    },
}

/// Starts both: the sandbox's port is chosen first (Trousseau's `psc.issuer` names it), then
/// Trousseau, then the sandbox with Trousseau's callback registered.
async fn federation(o: SandboxOptions, auth: Auth, app_extra: &str) -> Federation {
    let dir = tempfile::tempdir().unwrap();
    let port = reserve_port();
    let issuer = format!("http://127.0.0.1:{port}/auth/realms/esante-wallet");
    let path = |name: &str| dir.path().join(name).display().to_string();
    let (client, credentials, tls, extra_clients, server_cert) = match &auth {
        Auth::Secret => {
            std::fs::write(path("psc.secret"), SECRET).unwrap();
            (
                sandbox::CLIENT_ID,
                format!("client_secret_file = \"{}\"\n", path("psc.secret")),
                None,
                String::new(),
                None,
            )
        }
        Auth::Tls {
            card,
            subject,
            ca_pem,
        } => {
            let (cert, key) = server_certificate();
            std::fs::write(path("org.pem"), &card.pem).unwrap();
            std::fs::write(path("org.key"), &card.key_pem).unwrap();
            std::fs::write(path("psc-server.pem"), &cert).unwrap();
            (
                "hopital",
                format!(
                    "tls_cert_file = \"{}\"\ntls_key_file = \"{}\"\nca_file = \"{}\"\n",
                    path("org.pem"),
                    path("org.key"),
                    path("psc-server.pem")
                ),
                Some(ca_pem.clone()),
                format!(
                    "[[clients]]\nclient_id = \"hopital\"\ntls_client_auth_subject = {subject:?}\n"
                ),
                Some((cert, key)),
            )
        }
    };
    let app = spawn_app_with(&format!(
        "[psc]\nenabled = true\nenvironment = \"local\"\nissuer = \"{issuer}\"\n\
         client_id = \"{client}\"\n{credentials}{app_extra}"
    ))
    .await;
    let callback = format!("{}/psc/callback", app.issuer);
    let extra_clients = if extra_clients.is_empty() {
        o.extra_clients.clone()
    } else {
        format!("{extra_clients}redirect_uris = [{callback:?}]\n")
    };
    let sb = spawn_sandbox(SandboxOptions {
        port: Some(port),
        redirect_uris: vec![callback],
        extra_clients,
        tls: tls.or(o.tls.clone()),
        server_cert,
        ..o
    })
    .await;
    Federation { app, sb, _dir: dir }
}

/// A CIBA sandbox that expires requests after `expires_in` seconds.
fn short(expires_in: u64) -> SandboxOptions {
    SandboxOptions {
        ciba_expires_in: expires_in,
        ciba_interval: 1,
        ..SandboxOptions::default()
    }
}

/// An active account linked (by staff) to `idnat`; its identity id.
async fn linked_user(app: &TestApp, name: &str, idnat: &str) -> String {
    let id = app.create_user(name, PW).await;
    trousseau::admin::users::link_rpps(
        &app.state,
        name,
        &IdNat::parse(idnat).unwrap(),
        LinkMethod::Admin,
        "test",
    )
    .await
    .unwrap();
    id
}

/// A browser holding a password session of `identity_id` (the password login itself is tested
/// elsewhere; a staff-made link lets such a session pair).
async fn signed_in(app: &TestApp, identity_id: &str) -> Browser {
    let logged = trousseau::session::record_login(
        &app.state.sessions(),
        None,
        identity_id,
        AuthFactor {
            method: Method::Password,
            user_verified: false,
        },
        None,
        &RequestContext::default(),
    )
    .await
    .unwrap();
    let mut b = app.browser();
    b.cookies
        .insert(SESSION_COOKIE.into(), logged.new_token.unwrap());
    b
}

fn location(resp: &reqwest::Response) -> String {
    resp.headers()["location"].to_str().unwrap().to_owned()
}

/// Starts a pairing from the page (`means` = `ciba` or `redirect`); the redirect it answers.
async fn start_pairing(b: &mut Browser, means: &str) -> String {
    assert_eq!(b.get("/pairing").await.status(), StatusCode::OK);
    let csrf = b.cookies["__Host-trousseau_csrf"].clone();
    let resp = b
        .post("/pairing/start", &[("csrf", &csrf), ("means", means)])
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    location(&resp)
}

/// The latest pairing request of this browser's session once it is no longer pending (the
/// worker settled it).
async fn settled(app: &TestApp, b: &Browser) -> pairings::RequestRecord {
    settled_for(app, b, pairings::PURPOSE_PAIRING).await
}

/// The latest request of `b`'s session made for `purpose`, once settled.
async fn settled_for(app: &TestApp, b: &Browser, purpose: &str) -> pairings::RequestRecord {
    let session = trousseau::session::from_cookie(
        &app.state.sessions(),
        b.cookies.get(SESSION_COOKIE).map(String::as_str),
    )
    .await
    .unwrap()
    .expect("a session");
    wait::value("the CIBA worker settles the request", || async {
        pairings::latest_request_of_session(app.state.db.pool(), &session.id, purpose)
            .await
            .unwrap()
            .filter(|r| r.state != "pending" && r.state != "approved")
    })
    .await
}

/// The one event of `kind` about `subject`, once the audit writer stored it.
async fn event(
    app: &TestApp,
    kind: &str,
    reason: Option<&str>,
) -> trousseau::storage::audit::AuditRecord {
    wait::value(&format!("audit event {kind} {reason:?}"), || async {
        app.audit(kind)
            .await
            .into_iter()
            .find(|e| e.reason.as_deref() == reason)
    })
    .await
}

/// A client's authorization request through the login page; the flow id.
async fn login_page(app: &TestApp, b: &mut Browser) -> (crate::helpers::Rp, String, String) {
    let rp = app.rp("dpi").await;
    let (url, verifier) = authorize_url(app, &rp, &[]);
    let resp = b.get(&url).await;
    let (page, at) = b.follow(resp).await;
    assert_eq!(page.status(), StatusCode::OK, "the login page at {at}");
    let flow = query_param(&at, "flow").expect("a flow");
    (rp, flow, verifier)
}

#[tokio::test]
async fn an_ecps_login_through_the_sandbox_opens_a_loa2_session_marked_psc() {
    let f = federation(short(30), Auth::Secret, "").await;
    let (app, sb) = (&f.app, &f.sb);
    let id = linked_user(app, "claire", PROFESSIONAL).await;
    let mut b = app.browser();
    let (rp, flow, verifier) = login_page(app, &mut b).await;

    let resp = b.get(&format!("/login/psc?flow={flow}")).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let to_psc = location(&resp);
    assert!(
        to_psc.starts_with(&format!("{}/wallet/auth?", sb.base)),
        "{to_psc}"
    );
    let back = sb
        .sign_in(&sandbox::browser(), &to_psc, PROFESSIONAL, true)
        .await;
    assert!(
        back.starts_with(&format!("{}/psc/callback?", app.issuer)),
        "{back}"
    );

    let resp = b.get(&back).await;
    let (_, to_client) = b.follow(resp).await;
    assert!(to_client.starts_with(&rp.redirect_uri), "{to_client}");
    let code = query_param(&to_client, "code").unwrap();
    let resp = exchange(app, &rp, &code, &verifier).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let tokens: Value = resp.json().await.unwrap();
    let c = claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(c["sub"], id.as_str());
    assert_eq!(c["idp"], "psc");
    assert_eq!(c["acr"], "loa2");
    assert_eq!(c["amr"], serde_json::json!(["swk", "pin", "mfa"]));

    // Stored: a session of that person at loa2, proven by e-CPS.
    let session = trousseau::session::from_cookie(
        &app.state.sessions(),
        b.cookies.get(SESSION_COOKIE).map(String::as_str),
    )
    .await
    .unwrap()
    .expect("a session");
    assert_eq!(session.identity_id, id);
    assert_eq!(session.level, Level::Loa2);
    assert!(session.factors.iter().any(|f| f.method == Method::Ecps));
    let login = event(app, "login", None).await;
    assert_eq!(login.outcome, "success");
    assert_eq!(login.subject.as_deref(), Some(id.as_str()));
}

#[tokio::test]
async fn a_refusal_on_the_phone_is_explained_audited_and_opens_no_session() {
    let f = federation(short(30), Auth::Secret, "").await;
    let (app, sb) = (&f.app, &f.sb);
    linked_user(app, "claire", PROFESSIONAL).await;
    let mut b = app.browser();
    let (_, flow, _) = login_page(app, &mut b).await;
    let to_psc = location(&b.get(&format!("/login/psc?flow={flow}")).await);
    let back = sb
        .sign_in(&sandbox::browser(), &to_psc, PROFESSIONAL, false)
        .await;
    assert_eq!(
        query_param(&back, "error").as_deref(),
        Some("access_denied")
    );

    let resp = b.get(&back).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let html = resp.text().await.unwrap();
    assert!(
        html.contains("La demande a été refusée dans l&#39;application e-CPS."),
        "{html}"
    );
    assert!(!b.cookies.contains_key(SESSION_COOKIE), "no session");
    let refused = event(app, "login", Some("psc_access_denied")).await;
    assert_eq!(refused.outcome, "failure");
}

#[tokio::test]
async fn a_callback_with_a_wrong_state_another_browser_or_a_replay_is_refused() {
    let f = federation(short(30), Auth::Secret, "").await;
    let (app, sb) = (&f.app, &f.sb);
    linked_user(app, "claire", PROFESSIONAL).await;
    let mut b = app.browser();
    let (_, flow, _) = login_page(app, &mut b).await;
    let to_psc = location(&b.get(&format!("/login/psc?flow={flow}")).await);
    let back = sb
        .sign_in(&sandbox::browser(), &to_psc, PROFESSIONAL, true)
        .await;

    // A state Trousseau never issued.
    let state = query_param(&back, "state").unwrap();
    let forged = back.replace(&state, "forged-state");
    let resp = b.get(&forged).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("aucune demande en cours")
    );
    event(app, "login", Some("psc_state_unknown")).await;

    // The real answer, presented by another browser first: refused, and used up.
    let mut other = app.browser();
    let resp = other.get(&back).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    event(app, "login", Some("psc_not_bound")).await;
    assert!(!other.cookies.contains_key(SESSION_COOKIE));
    let resp = b.get(&back).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "single use");
    assert!(!b.cookies.contains_key(SESSION_COOKIE));
}

#[tokio::test]
async fn a_ciba_pairing_approved_on_the_phone_becomes_an_active_pairing() {
    let f = federation(short(30), Auth::Secret, "").await;
    let (app, sb) = (&f.app, &f.sb);
    let id = linked_user(app, "claire", PROFESSIONAL).await;
    let mut b = signed_in(app, &id).await;
    assert_eq!(start_pairing(&mut b, "ciba").await, "/pairing?waiting=1");

    let html = b.get("/pairing").await.text().await.unwrap();
    let shown = sb.approve_all(PROFESSIONAL).await;
    assert_eq!(shown.len(), 1);
    assert_eq!(shown[0].client, "trousseau");
    assert!(
        html.contains(&format!(">{}<", shown[0].binding_message)),
        "the page shows the code the phone shows"
    );
    let r = settled(app, &b).await;
    assert_eq!((r.state.as_str(), r.reason.as_deref()), ("paired", None));
    let p = pairings::latest_of(app.state.db.pool(), &id)
        .await
        .unwrap()
        .expect("a pairing");
    assert_eq!(Some(&p.id), r.pairing_id.as_ref());
    assert_eq!((p.idnat.as_str(), p.means.as_str()), (PROFESSIONAL, "ciba"));
    assert_eq!(p.status, "active");
    assert_eq!(
        p.acr.as_deref(),
        Some("eidas1"),
        "the validation's acr is kept"
    );
    let done = event(app, "pairing_completed", Some("paired")).await;
    assert_eq!(done.outcome, "success");
    let status: Value = b
        .get(&format!("/pairing/status?request={}", r.id))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(status["state"], "paired");
}

#[tokio::test]
async fn a_ciba_pairing_refused_on_the_phone_records_psc_access_denied() {
    let f = federation(short(30), Auth::Secret, "").await;
    let (app, sb) = (&f.app, &f.sb);
    let id = linked_user(app, "claire", PROFESSIONAL).await;
    let mut b = signed_in(app, &id).await;
    start_pairing(&mut b, "ciba").await;
    sb.refuse_all(PROFESSIONAL).await;
    let r = settled(app, &b).await;
    assert_eq!(
        (r.state.as_str(), r.reason.as_deref()),
        ("refused", Some("psc_access_denied"))
    );
    assert!(
        pairings::latest_of(app.state.db.pool(), &id)
            .await
            .unwrap()
            .is_none()
    );
    let e = event(app, "pairing_completed", Some("psc_access_denied")).await;
    assert_eq!(e.outcome, "failure");
    assert_eq!(e.subject.as_deref(), Some(id.as_str()));
}

#[tokio::test]
async fn a_ciba_pairing_nobody_answers_expires_with_psc_expired_request() {
    let f = federation(short(2), Auth::Secret, "").await;
    let app = &f.app;
    let id = linked_user(app, "claire", PROFESSIONAL).await;
    let mut b = signed_in(app, &id).await;
    start_pairing(&mut b, "ciba").await;
    assert_eq!(f.sb.pending(PROFESSIONAL).await.len(), 1);
    // Trousseau's clock stands still: the sandbox's `expired_token` settles the request.
    let r = settled(app, &b).await;
    assert_eq!(
        (r.state.as_str(), r.reason.as_deref()),
        ("expired", Some("psc_expired_request"))
    );
    event(app, "pairing_completed", Some("psc_expired_request")).await;
    assert!(f.sb.pending(PROFESSIONAL).await.is_empty());
}

#[tokio::test]
async fn a_ciba_approval_of_another_idnat_than_the_link_is_a_mismatch_with_a_finding() {
    let f = federation(short(30), Auth::Secret, "").await;
    let (app, sb) = (&f.app, &f.sb);
    let id = linked_user(app, "claire", PROFESSIONAL).await;
    let mut b = signed_in(app, &id).await;
    start_pairing(&mut b, "ciba").await;
    // While the phone waits, staff link the account to another professional.
    trousseau::admin::users::unlink_rpps(&app.state, "claire", "test")
        .await
        .unwrap();
    trousseau::admin::users::link_rpps(
        &app.state,
        "claire",
        &IdNat::parse(OTHER_IDNAT).unwrap(),
        LinkMethod::Admin,
        "test",
    )
    .await
    .unwrap();
    sb.approve_all(PROFESSIONAL).await;
    let r = settled(app, &b).await;
    assert_eq!(
        (r.state.as_str(), r.reason.as_deref()),
        ("mismatch", Some("idnat_mismatch"))
    );
    assert!(
        pairings::latest_of(app.state.db.pool(), &id)
            .await
            .unwrap()
            .is_none()
    );
    let found = findings::all(app.state.db.pool()).await.unwrap();
    let finding = found
        .iter()
        .find(|f| f.category == findings::PAIRING_MISMATCH)
        .expect("a finding");
    assert!(finding.detail.contains(PROFESSIONAL), "{}", finding.detail);
    let e = event(app, "pairing_completed", Some("idnat_mismatch")).await;
    assert_eq!(e.outcome, "failure");
}

#[tokio::test]
async fn a_redirect_pairing_goes_through_the_sandbox_once() {
    let f = federation(short(30), Auth::Secret, "").await;
    let (app, sb) = (&f.app, &f.sb);
    let id = linked_user(app, "claire", PROFESSIONAL).await;
    let mut b = signed_in(app, &id).await;
    let to_psc = start_pairing(&mut b, "redirect").await;
    for (key, value) in [
        ("response_type", "code"),
        ("client_id", "trousseau"),
        ("code_challenge_method", "S256"),
        ("acr_values", "eidas1"),
    ] {
        assert_eq!(query_param(&to_psc, key).as_deref(), Some(value), "{key}");
    }
    for key in ["state", "nonce", "code_challenge"] {
        assert!(
            query_param(&to_psc, key).is_some_and(|v| v.len() >= 16),
            "{key}"
        );
    }
    let back = sb
        .sign_in(&sandbox::browser(), &to_psc, PROFESSIONAL, true)
        .await;
    let resp = b.get(&back).await;
    assert_eq!(location(&resp), "/pairing?done=paired");
    let p = pairings::latest_of(app.state.db.pool(), &id)
        .await
        .unwrap()
        .expect("a pairing");
    assert_eq!(
        (p.idnat.as_str(), p.means.as_str()),
        (PROFESSIONAL, "redirect")
    );
    let done = event(app, "pairing_completed", Some("paired")).await;
    assert_eq!(done.outcome, "success");

    // A second browser replaying the callback gets nothing.
    let mut second = signed_in(app, &id).await;
    let resp = second.get(&back).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    event(app, "login", Some("psc_state_unknown")).await;
    assert_eq!(
        pairings::of_identity(app.state.db.pool(), &id)
            .await
            .unwrap()
            .len(),
        1
    );
}

/// The subject of a certificate as the sandbox's configuration names it.
fn subject_of(card: &Card) -> String {
    use x509_parser::prelude::{FromDer, X509Certificate};
    let (_, cert) = X509Certificate::from_der(&card.der).unwrap();
    cert.subject().to_string()
}

fn tls_auth(pki: &Pki, card: Card, subject: String) -> Auth {
    Auth::Tls {
        card,
        subject,
        ca_pem: format!("{}{}", pki.organisations.pem, pki.root.pem),
    }
}

#[tokio::test]
async fn an_organisation_certificate_pairs_by_ciba_over_mtls() {
    let pki = Pki::shared();
    let org = pki.structure("750712184", "TRSMTLS1");
    let subject = subject_of(&org);
    let f = federation(short(30), tls_auth(pki, org, subject), "").await;
    let (app, sb) = (&f.app, &f.sb);
    let id = linked_user(app, "claire", PROFESSIONAL).await;
    let mut b = signed_in(app, &id).await;
    assert_eq!(start_pairing(&mut b, "ciba").await, "/pairing?waiting=1");
    let shown = sb.approve_all(PROFESSIONAL).await;
    assert_eq!(
        shown[0].client, "hopital",
        "authenticated by its certificate"
    );
    let r = settled(app, &b).await;
    assert_eq!((r.state.as_str(), r.reason.as_deref()), ("paired", None));
    let endpoints = app
        .state
        .psc
        .as_ref()
        .unwrap()
        .endpoint_list()
        .await
        .unwrap();
    let mtls = sb.mtls.clone().unwrap();
    for name in ["token", "ciba"] {
        let (_, url) = endpoints.iter().find(|(n, _)| *n == name).unwrap();
        assert!(url.starts_with(&mtls), "{name} on the mTLS listener: {url}");
    }
}

#[tokio::test]
async fn a_certificate_of_another_subject_is_an_invalid_client() {
    let pki = Pki::shared();
    let registered = pki.structure("750712184", "TRSMTLS2");
    let presented = pki.structure("750712184", "TRSMTLS3");
    let f = federation(
        short(30),
        tls_auth(pki, presented, subject_of(&registered)),
        "",
    )
    .await;
    let app = &f.app;
    let id = linked_user(app, "claire", PROFESSIONAL).await;
    let mut b = signed_in(app, &id).await;
    assert_eq!(
        start_pairing(&mut b, "ciba").await,
        "/pairing?error=psc_invalid_client"
    );
    let e = event(app, "pairing_started", Some("psc_invalid_client")).await;
    assert_eq!(e.outcome, "failure");
    assert!(f.sb.pending(PROFESSIONAL).await.is_empty());
}

#[tokio::test]
async fn a_certificate_of_another_ca_is_refused_at_the_handshake() {
    let pki = Pki::shared();
    let registered = pki.structure("750712184", "TRSMTLS4");
    let subject = name(&[
        &[("C", "FR")],
        &[("O", "CH DE TEST")],
        &[("OU", "1750712184")],
        &[("CN", "3750712184/TRSMTLS4")],
    ]);
    let foreign = pki.issue(
        &subject,
        Shape {
            foreign: true,
            ..Shape::default()
        },
    );
    let f = federation(
        short(30),
        tls_auth(pki, foreign, subject_of(&registered)),
        "",
    )
    .await;
    let app = &f.app;
    let id = linked_user(app, "claire", PROFESSIONAL).await;
    let mut b = signed_in(app, &id).await;
    let to = start_pairing(&mut b, "ciba").await;
    assert!(to.starts_with("/pairing?error=psc_"), "{to}");
    let e = wait::value("a refused pairing start", || async {
        app.audit("pairing_started")
            .await
            .into_iter()
            .find(|e| e.outcome == "failure")
    })
    .await;
    assert!(
        matches!(e.reason.as_deref(), Some("psc_tls" | "psc_unreachable")),
        "{:?}",
        e.reason
    );
    assert!(f.sb.pending(PROFESSIONAL).await.is_empty());
}

#[tokio::test]
async fn an_e_cps_validation_approved_on_the_phone_enrols_one_security_key() {
    use webauthn_authenticator_rs::WebauthnAuthenticator;
    use webauthn_authenticator_rs::softtoken::SoftToken;
    use webauthn_rs::prelude::CreationChallengeResponse;
    let keys = "[webauthn]\nrp_id = \"localhost\"\norigins = [\"http://localhost:8443\"]\n\
                allow_unattested = true\n";
    let f = federation(short(30), Auth::Secret, keys).await;
    let (app, sb) = (&f.app, &f.sb);
    let id = linked_user(app, "claire", PROFESSIONAL).await;
    let mut b = signed_in(app, &id).await;
    let page = b.get("/keys/enrol").await.text().await.unwrap();
    assert!(page.contains("action=\"/keys/enrol/ecps\""), "{page}");
    let csrf = b.cookies["__Host-trousseau_csrf"].clone();
    let resp = b.post("/keys/enrol/ecps", &[("csrf", &csrf)]).await;
    assert_eq!(location(&resp), "/keys/enrol?waiting=1");
    let waiting = b.get("/keys/enrol?waiting=1").await.text().await.unwrap();
    assert!(
        waiting.contains("data-status=\"/keys/enrol/ecps/status\""),
        "{waiting}"
    );

    let shown = sb.approve_all(PROFESSIONAL).await;
    assert_eq!(shown.len(), 1);
    assert!(waiting.contains(&format!(">{}<", shown[0].binding_message)));
    let r = settled_for(app, &b, pairings::PURPOSE_ENROLMENT).await;
    assert_eq!((r.state.as_str(), r.reason.as_deref()), ("proven", None));
    assert!(r.acr.is_some());
    // No pairing is recorded by a validation made for an enrolment.
    assert!(
        pairings::latest_of(app.state.db.pool(), &id)
            .await
            .unwrap()
            .is_none()
    );

    let page = b
        .get("/keys/enrol?done=request")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Validation e-CPS reçue"), "{page}");
    let resp = b.post("/webauthn/enrol/options", &[("csrf", &csrf)]).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let o: Value = resp.json().await.unwrap();
    let ccr: CreationChallengeResponse = serde_json::from_value(o["options"].clone()).unwrap();
    let origin = url::Url::parse("http://localhost:8443").unwrap();
    let rsp = SoftToken::new(false)
        .unwrap()
        .0
        .do_registration(origin, ccr)
        .unwrap();
    let credential = serde_json::to_string(&rsp).unwrap();
    let resp = b
        .post(
            "/keys/enrol",
            &[
                ("csrf", csrf.as_str()),
                ("ceremony", o["ceremony"].as_str().unwrap()),
                ("credential", credential.as_str()),
                ("name", "Clé du bloc"),
            ],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let enrolled = trousseau::admin::keys::list(&app.state, Some("claire"), false)
        .await
        .unwrap();
    assert_eq!(enrolled.len(), 1);
    assert_eq!(enrolled[0].created_via, "ecps_ciba");
    let e = event(app, "security_key_enrolment_authorised", Some("ecps_ciba")).await;
    let d: Value = serde_json::from_str(e.details.as_deref().unwrap()).unwrap();
    assert_eq!(d["request"], r.id.as_str());
    assert_eq!(d["idnat"], PROFESSIONAL);
    assert_eq!(d["acr"].as_str(), r.acr.as_deref());
    event(app, "ecps_enrolment_proven", None).await;
}
