//! e-CPS pairing over real HTTP: the page and its rules (session level, link match, mismatch
//! finding, link creation when allowed), expiry and the warning banner by moving the clock,
//! revocation on suspension that `user enable` does not undo, pending requests bound to the
//! session that started them, the key-enrolment rule for links made by a pairing, and the
//! `trousseau pairing` commands.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{Browser, TestApp, spawn_app, spawn_app_with};
use trousseau::audit::RequestContext;
use trousseau::authn::level::{AuthFactor, Method};
use trousseau::identity::{IdNat, LinkMethod};
use trousseau::psc::pairing::{self, Means, PairingError, Proof};
use trousseau::storage::{findings, links, pairings};

const PW: &str = "correct horse battery staple";
const IDNAT: &str = "810001045367";
const OTHER_IDNAT: &str = "810002345671";
const DAY: i64 = 86_400;
const SESSION_COOKIE: &str = "__Host-trousseau_session";

/// A browser holding a session of `user` proven with `method` (the factor is recorded the way
/// a login records it; the login ceremonies themselves are tested elsewhere).
pub(super) async fn signed_in(app: &TestApp, identity_id: &str, method: Method) -> Browser {
    let factor = AuthFactor {
        method,
        user_verified: true,
    };
    let ctx = RequestContext::default();
    let logged = trousseau::session::record_login(
        &app.state.sessions(),
        None,
        identity_id,
        factor,
        None,
        &ctx,
    )
    .await
    .unwrap();
    let mut b = app.browser();
    b.cookies
        .insert(SESSION_COOKIE.into(), logged.new_token.unwrap());
    b
}

pub(super) async fn user(app: &TestApp, name: &str) -> String {
    app.create_user(name, PW).await
}

pub(super) async fn link(app: &TestApp, name: &str, idnat: &str, method: LinkMethod) {
    trousseau::admin::users::link_rpps(
        &app.state,
        name,
        &IdNat::parse(idnat).unwrap(),
        method,
        "test",
    )
    .await
    .unwrap();
}

/// What e-CPS would have proven, recorded as the CIBA worker or the callback records it.
pub(super) async fn prove(
    app: &TestApp,
    id: &str,
    idnat: &str,
) -> Result<pairings::PairingRecord, PairingError> {
    let proof = Proof {
        identity_id: id.into(),
        idnat: IdNat::parse(idnat).unwrap(),
        means: Means::Ciba,
        acr: Some("eidas1".into()),
    };
    pairing::record(&app.state.ecps(), &proof, &RequestContext::default()).await
}

fn csrf(b: &Browser) -> String {
    b.cookies["__Host-trousseau_csrf"].clone()
}

async fn page(b: &mut Browser, path: &str) -> (StatusCode, String) {
    let resp = b.get(path).await;
    (resp.status(), resp.text().await.unwrap())
}

fn location(resp: &reqwest::Response) -> String {
    resp.headers()["location"].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_matching_proof_pairs_and_the_page_shows_it() {
    let app = spawn_app().await;
    let id = user(&app, "alice").await;
    link(&app, "alice", IDNAT, LinkMethod::Admin).await;
    let p = prove(&app, &id, IDNAT).await.unwrap();
    assert_eq!(p.means, "ciba");
    assert_eq!(p.expires_at - p.validated_at, 365 * DAY);

    let mut b = signed_in(&app, &id, Method::Password).await;
    let (status, html) = page(&mut b, "/pairing").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Mon appairage Pro Santé Connect"), "{html}");
    assert!(html.contains(IDNAT));
    assert!(html.contains("actif"));
    assert!(html.contains("Renouveler"));
    assert!(html.contains("action=\"/pairing/cancel\""), "{html}");
    assert!(!html.contains("pairing-warning"));
    let (_, en) = page(&mut b, "/pairing?lang=en").await;
    assert!(en.contains("My Pro Santé Connect pairing"));

    let audit = app.audit("pairing_completed").await;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].outcome, "success");
    // A second proof renews: one active pairing, the previous one revoked as renewed.
    prove(&app, &id, IDNAT).await.unwrap();
    let all = pairings::of_identity(app.state.db.pool(), &id)
        .await
        .unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all.iter().filter(|p| p.status == "active").count(), 1);
    assert!(
        all.iter()
            .any(|p| p.revoked_reason.as_deref() == Some("renewed"))
    );
}

#[tokio::test]
async fn the_page_needs_a_session() {
    let app = spawn_app().await;
    let mut b = app.browser();
    let resp = b.get("/pairing").await;
    assert!(resp.status().is_redirection());
    assert!(location(&resp).contains("/login"), "{}", location(&resp));
    let resp = b.get("/pairing/status?request=x").await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_mismatch_records_a_finding_and_an_audit_event_and_changes_nothing() {
    let app = spawn_app().await;
    let id = user(&app, "bruno").await;
    link(&app, "bruno", IDNAT, LinkMethod::Admin).await;
    let before = links::of_identity(app.state.db.pool(), &id)
        .await
        .unwrap()
        .unwrap();

    let err = prove(&app, &id, OTHER_IDNAT).await.unwrap_err();
    assert!(matches!(err, PairingError::Mismatch));
    assert_eq!(err.reason(), "idnat_mismatch");

    let after = links::of_identity(app.state.db.pool(), &id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((after.idnat, after.method), (before.idnat, before.method));
    assert!(
        pairings::of_identity(app.state.db.pool(), &id)
            .await
            .unwrap()
            .is_empty()
    );
    let found = findings::all(app.state.db.pool()).await.unwrap();
    let f = found
        .iter()
        .find(|f| f.category == findings::PAIRING_MISMATCH)
        .expect("a finding");
    assert_eq!(f.identity_id.as_deref(), Some(id.as_str()));
    assert!(f.detail.contains(OTHER_IDNAT));
    let refused = app.audit("pairing_completed").await;
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].outcome, "failure");
    assert_eq!(refused[0].reason.as_deref(), Some("idnat_mismatch"));
    assert!(
        app.audit("rpps_finding")
            .await
            .iter()
            .any(|e| e.reason.as_deref() == Some("pairing_mismatch"))
    );
    // A reconciliation run does not wipe it.
    trousseau::directory::reconcile::reconcile(&app.state.repository())
        .await
        .unwrap();
    let found = findings::all(app.state.db.pool()).await.unwrap();
    assert!(
        found
            .iter()
            .any(|f| f.category == findings::PAIRING_MISMATCH)
    );
}

#[tokio::test]
async fn without_a_link_a_proof_is_refused_by_default() {
    let app = spawn_app().await;
    let id = user(&app, "chloe").await;
    let err = prove(&app, &id, IDNAT).await.unwrap_err();
    assert_eq!(err.reason(), "no_rpps_link");
    assert!(
        links::of_identity(app.state.db.pool(), &id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        pairings::of_identity(app.state.db.pool(), &id)
            .await
            .unwrap()
            .is_empty()
    );
    let audit = app.audit("pairing_completed").await;
    assert_eq!(audit[0].reason.as_deref(), Some("no_rpps_link"));
}

#[tokio::test]
async fn link_unlinked_creates_an_ecps_link_that_never_replaces_a_helpdesk_code() {
    let app = spawn_app_with(
        "[psc.pairing]\nlink_unlinked = true\n\
         [webauthn]\nrp_id = \"localhost\"\norigins = [\"http://localhost:8443\"]\nallow_unattested = true\n",
    )
    .await;
    let id = user(&app, "denis").await;
    let p = prove(&app, &id, IDNAT).await.unwrap();
    assert_eq!(p.created_link, 1);
    let l = links::of_identity(app.state.db.pool(), &id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((l.idnat.as_str(), l.method.as_str()), (IDNAT, "ecps"));
    // The same IdNat cannot be taken by another account through a pairing.
    let other = user(&app, "denise").await;
    assert_eq!(
        prove(&app, &other, IDNAT).await.unwrap_err().reason(),
        "idnat_linked_elsewhere"
    );

    // A card session reaches the identity through that link: it may not enrol a key on its
    // own (no code) ...
    let mut b = signed_in(&app, &id, Method::Card).await;
    b.get("/keys/enrol").await;
    let c = csrf(&b);
    let resp = b.post("/webauthn/enrol/options", &[("csrf", &c)]).await;
    assert!(resp.status().is_client_error(), "{}", resp.status());
    let (_, keys) = page(&mut b, "/keys").await;
    assert!(!keys.contains("href=\"/keys/enrol\""), "{keys}");

    // ... while the same session with a link an administrator made may.
    links_reset(&app, "denis", LinkMethod::Admin).await;
    let mut b = signed_in(&app, &id, Method::Card).await;
    b.get("/keys/enrol").await;
    let c = csrf(&b);
    let resp = b.post("/webauthn/enrol/options", &[("csrf", &c)]).await;
    assert_eq!(resp.status(), StatusCode::OK);
}

async fn links_reset(app: &TestApp, name: &str, method: LinkMethod) {
    let old = trousseau::admin::users::unlink_rpps(&app.state, name, "test")
        .await
        .unwrap();
    link(app, name, &old.idnat, method).await;
}

#[tokio::test]
async fn a_loa1_session_may_pair_only_with_a_link_made_by_staff() {
    let app = spawn_app().await;
    let id = user(&app, "emma").await;
    let mut b = signed_in(&app, &id, Method::Password).await;
    b.get("/pairing").await;
    let c = csrf(&b);
    let resp = b
        .post("/pairing/start", &[("csrf", &c), ("means", "ciba")])
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp), "/pairing?error=session_too_weak");
    let (_, html) = page(&mut b, "/pairing?error=session_too_weak").await;
    assert!(html.contains("pas assez forte"), "{html}");
    let audit = app.audit("pairing_started").await;
    assert_eq!(audit[0].reason.as_deref(), Some("session_too_weak"));

    // A link from a card login is not one staff checked.
    link(&app, "emma", IDNAT, LinkMethod::CpsCard).await;
    let resp = b
        .post("/pairing/start", &[("csrf", &c), ("means", "redirect")])
        .await;
    assert_eq!(location(&resp), "/pairing?error=session_too_weak");

    // With an administrator's link the session rule passes (and the next step needs PSC).
    links_reset(&app, "emma", LinkMethod::Admin).await;
    let resp = b
        .post("/pairing/start", &[("csrf", &c), ("means", "ciba")])
        .await;
    assert_ne!(location(&resp), "/pairing?error=session_too_weak");

    // Without the CSRF token nothing starts.
    let resp = b.post("/pairing/start", &[("means", "ciba")]).await;
    assert!(resp.status().is_client_error());
}

#[tokio::test]
async fn expiry_and_the_warning_follow_the_clock() {
    let app = spawn_app().await;
    let id = user(&app, "fanny").await;
    link(&app, "fanny", IDNAT, LinkMethod::Admin).await;
    prove(&app, &id, IDNAT).await.unwrap();
    let mut b = signed_in(&app, &id, Method::Password).await;
    let (_, home) = page(&mut b, "/").await;
    assert!(!home.contains("pairing-warning"));

    app.clock.advance(336 * DAY);
    let mut b = signed_in(&app, &id, Method::Password).await;
    let (_, home) = page(&mut b, "/").await;
    assert!(home.contains("pairing-warning"), "{home}");
    assert!(home.contains("expire dans 29"), "{home}");
    let (_, html) = page(&mut b, "/pairing").await;
    assert!(html.contains("pairing-warning"));

    app.clock.advance(30 * DAY);
    let mut b = signed_in(&app, &id, Method::Password).await;
    let (_, html) = page(&mut b, "/pairing").await;
    assert!(html.contains("expiré"), "{html}");
    assert!(!html.contains("pairing-warning"));
    let (_, home) = page(&mut b, "/").await;
    assert!(!home.contains("pairing-warning"));
    let expired = pairings::list(
        app.state.db.pool(),
        pairings::Filter::Expired,
        app.state.clock.now(),
        None,
    )
    .await
    .unwrap();
    assert_eq!(expired.len(), 1);
}

#[tokio::test]
async fn suspension_revokes_the_pairing_and_enable_does_not_restore_it() {
    let app = spawn_app().await;
    let id = user(&app, "gaston").await;
    link(&app, "gaston", IDNAT, LinkMethod::Admin).await;
    let p = prove(&app, &id, IDNAT).await.unwrap();
    trousseau::admin::users::disable(&app.state, "gaston", "test", "admin")
        .await
        .unwrap();
    let after = pairings::by_id(app.state.db.pool(), &p.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.status, "revoked");
    assert_eq!(after.revoked_reason.as_deref(), Some("identity_suspended"));
    assert_eq!(after.revoked_by.as_deref(), Some("admin"));
    let revoked = app.audit("pairing_revoked").await;
    assert_eq!(revoked.len(), 1);

    trousseau::admin::users::enable(&app.state, "gaston", "admin")
        .await
        .unwrap();
    let again = pairings::by_id(app.state.db.pool(), &p.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.status, "revoked");
    let mut b = signed_in(&app, &id, Method::Password).await;
    let (_, html) = page(&mut b, "/pairing").await;
    assert!(html.contains("révoqué"), "{html}");

    // Departure too.
    prove(&app, &id, IDNAT).await.unwrap();
    trousseau::admin::users::mark_left(&app.state, "gaston", "left", "hr")
        .await
        .unwrap();
    let latest = pairings::latest_of(app.state.db.pool(), &id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(latest.status, "revoked");
    assert_eq!(latest.revoked_reason.as_deref(), Some("identity_left"));
}

#[tokio::test]
async fn the_person_cancels_their_pairing_with_a_csrf_protected_form() {
    let app = spawn_app().await;
    let id = user(&app, "hugo").await;
    link(&app, "hugo", IDNAT, LinkMethod::Admin).await;
    let p = prove(&app, &id, IDNAT).await.unwrap();
    let mut b = signed_in(&app, &id, Method::Password).await;
    b.get("/pairing").await;
    let resp = b.post("/pairing/cancel", &[("csrf", "forged")]).await;
    assert!(resp.status().is_client_error());
    assert_eq!(
        pairings::by_id(app.state.db.pool(), &p.id)
            .await
            .unwrap()
            .unwrap()
            .status,
        "active"
    );
    let c = csrf(&b);
    let resp = b.post("/pairing/cancel", &[("csrf", &c)]).await;
    assert_eq!(location(&resp), "/pairing?done=cancelled");
    let after = pairings::by_id(app.state.db.pool(), &p.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.status, "revoked");
    assert_eq!(after.revoked_reason.as_deref(), Some("cancelled"));
    let resp = b.post("/pairing/cancel", &[("csrf", &c)]).await;
    assert_eq!(location(&resp), "/pairing?error=pairing_unknown");
}

/// A pending request as the CIBA start stores it.
async fn pending_request(app: &TestApp, identity_id: &str, session_id: &str) -> String {
    let now = app.state.clock.now();
    let r = pairings::RequestRecord {
        id: uuid::Uuid::new_v4().to_string(),
        identity_id: identity_id.into(),
        session_id: session_id.into(),
        idnat: IDNAT.into(),
        binding_message: "42".into(),
        auth_req_id: "auth-req".into(),
        interval_secs: 1,
        created_at: now,
        expires_at: now + 120,
        state: "pending".into(),
        reason: None,
        pairing_id: None,
        settled_at: None,
        purpose: pairings::PURPOSE_PAIRING.into(),
        acr: None,
        used_at: None,
    };
    let mut tx = app.state.db.begin().await.unwrap();
    pairings::insert_request(&mut tx, &r).await.unwrap();
    tx.commit().await.unwrap();
    r.id
}

pub(super) async fn session_id(app: &TestApp, b: &Browser) -> String {
    trousseau::session::from_cookie(
        &app.state.sessions(),
        b.cookies.get(SESSION_COOKIE).map(String::as_str),
    )
    .await
    .unwrap()
    .unwrap()
    .id
}

#[tokio::test]
async fn a_pending_request_belongs_to_its_browser_and_person() {
    let app = spawn_app().await;
    let id = user(&app, "ines").await;
    let other = user(&app, "jules").await;
    let mut mine = signed_in(&app, &id, Method::Card).await;
    let sid = session_id(&app, &mine).await;
    let request = pending_request(&app, &id, &sid).await;
    let status = format!("/pairing/status?request={request}");

    let resp = mine.get(&status).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["state"], "pending");
    // The wait survives a reload: the page shows the binding message again.
    let (_, html) = page(&mut mine, "/pairing").await;
    assert!(
        html.contains("data-request=\"") && html.contains(">42<"),
        "{html}"
    );
    assert!(html.contains("aria-live=\"polite\""));

    // Same person, another browser: nothing.
    let mut second = signed_in(&app, &id, Method::Card).await;
    assert_eq!(second.get(&status).await.status(), StatusCode::NOT_FOUND);
    let (_, html) = page(&mut second, "/pairing").await;
    assert!(!html.contains(">42<"));
    // Another person: nothing.
    let mut theirs = signed_in(&app, &other, Method::Card).await;
    assert_eq!(theirs.get(&status).await.status(), StatusCode::NOT_FOUND);

    // Past its expiry it reads as expired.
    app.clock.advance(121);
    let body: Value = mine.get(&status).await.json().await.unwrap();
    assert_eq!(body["state"], "expired");
    assert!(body["message"].as_str().unwrap().contains("expiré"));
}

#[tokio::test]
async fn suspension_cancels_pending_requests() {
    let app = spawn_app().await;
    let id = user(&app, "karim").await;
    let b = signed_in(&app, &id, Method::Card).await;
    let sid = session_id(&app, &b).await;
    let request = pending_request(&app, &id, &sid).await;
    trousseau::admin::users::disable(&app.state, "karim", "test", "admin")
        .await
        .unwrap();
    let r = pairings::request(app.state.db.pool(), &request)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.state, "cancelled");
}

/// Runs `trousseau` against the database of a running test server.
async fn cli(app: &TestApp, args: &[&str]) -> (bool, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("trousseau.toml");
    std::fs::write(
        &config,
        format!(
            "[database]\nurl = \"{}\"\n\n[secrets]\nmaster_key_file = \"{}\"\n",
            app.database_url,
            app.state.settings.secrets.master_key_file.display()
        ),
    )
    .unwrap();
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_trousseau"));
    cmd.arg("--config")
        .arg(&config)
        .args(args)
        .current_dir(dir.path());
    for (k, _) in std::env::vars() {
        if k.starts_with("TROUSSEAU__") {
            cmd.env_remove(k);
        }
    }
    let out = cmd
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn the_pairing_commands_list_show_and_revoke() {
    let app = spawn_app().await;
    let a = user(&app, "lea").await;
    let b = user(&app, "marc").await;
    link(&app, "lea", IDNAT, LinkMethod::Admin).await;
    link(&app, "marc", OTHER_IDNAT, LinkMethod::Admin).await;
    let pa = prove(&app, &a, IDNAT).await.unwrap();
    // Marc's pairing is older: it expires within 10 days of the commands' clock (the system
    // clock, the test server's clock being fixed at the current time too).
    app.clock.advance(-360 * DAY);
    let pb = prove(&app, &b, OTHER_IDNAT).await.unwrap();
    app.clock.advance(360 * DAY);

    let (ok, out, err) = cli(&app, &["pairing", "list", "--json"]).await;
    assert!(ok, "{err}");
    let all: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(all.as_array().unwrap().len(), 2);
    let (ok, out, _) = cli(
        &app,
        &["pairing", "list", "--expiring-within", "10", "--json"],
    )
    .await;
    assert!(ok);
    let soon: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(soon.as_array().unwrap().len(), 1);
    assert_eq!(soon[0]["username"], "marc");
    let (ok, out, _) = cli(&app, &["pairing", "list"]).await;
    assert!(ok);
    assert!(out.contains("USERNAME") && out.contains("lea") && out.contains(IDNAT));

    let (ok, out, _) = cli(&app, &["pairing", "show", "lea", "--json"]).await;
    assert!(ok);
    let shown: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(shown["pairings"][0]["id"], pa.id.as_str());
    assert_eq!(shown["pairings"][0]["status"], "active");

    let (ok, _, err) = cli(
        &app,
        &["pairing", "revoke", &pb.id, "--reason", "wrong person"],
    )
    .await;
    assert!(ok, "{err}");
    let after = pairings::by_id(app.state.db.pool(), &pb.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.status, "revoked");
    assert_eq!(after.revoked_by.as_deref(), Some("cli"));
    assert_eq!(after.revoked_reason.as_deref(), Some("wrong person"));
    let (ok, out, _) = cli(&app, &["pairing", "list", "--status", "revoked", "--json"]).await;
    assert!(ok);
    let revoked: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(revoked.as_array().unwrap().len(), 1);
    // Errors are one sentence.
    let (ok, _, err) = cli(&app, &["pairing", "revoke", &pb.id, "--reason", "again"]).await;
    assert!(!ok);
    assert!(err.contains("no active pairing"), "{err}");
    let (ok, _, err) = cli(&app, &["pairing", "list", "--status", "bogus"]).await;
    assert!(!ok);
    assert!(err.contains("unknown status"), "{err}");
    assert_eq!(app.audit("pairing_revoked").await.len(), 1);
}

#[tokio::test]
async fn concurrent_completions_of_one_request_are_single_use() {
    let app = spawn_app().await;
    let id = user(&app, "nora").await;
    link(&app, "nora", IDNAT, LinkMethod::Admin).await;
    let b = signed_in(&app, &id, Method::Card).await;
    let sid = session_id(&app, &b).await;
    let request = pending_request(&app, &id, &sid).await;
    let r = pairings::request(app.state.db.pool(), &request)
        .await
        .unwrap()
        .unwrap();
    let idnat = IdNat::parse(IDNAT).unwrap();
    let ecps = app.state.ecps();
    let runs = (0..8).map(|_| pairing::complete(&ecps, &r, idnat.clone()));
    let won: Vec<bool> = futures_util::future::join_all(runs)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(won.iter().filter(|w| **w).count(), 1, "{won:?}");
    let all = pairings::of_identity(app.state.db.pool(), &id)
        .await
        .unwrap();
    assert_eq!(all.len(), 1);
    let r = pairings::request(app.state.db.pool(), &request)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.state, "paired");
    assert_eq!(r.pairing_id.as_deref(), Some(all[0].id.as_str()));
    assert_eq!(app.audit("pairing_completed").await.len(), 1);
}

#[tokio::test]
async fn an_approval_that_proves_another_idnat_settles_as_a_mismatch() {
    let app = spawn_app().await;
    let id = user(&app, "olga").await;
    link(&app, "olga", IDNAT, LinkMethod::Admin).await;
    let b = signed_in(&app, &id, Method::Card).await;
    let sid = session_id(&app, &b).await;
    let request = pending_request(&app, &id, &sid).await;
    let r = pairings::request(app.state.db.pool(), &request)
        .await
        .unwrap()
        .unwrap();
    assert!(
        pairing::complete(&app.state.ecps(), &r, IdNat::parse(OTHER_IDNAT).unwrap())
            .await
            .unwrap()
    );
    let r = pairings::request(app.state.db.pool(), &request)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.state, "mismatch");
    assert!(
        pairings::of_identity(app.state.db.pool(), &id)
            .await
            .unwrap()
            .is_empty()
    );
}
