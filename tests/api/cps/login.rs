//! CPS smartcard login (issue 6): full OIDC logins with a card certificate forwarded by a
//! trusted proxy; every refusal with its reason and French message; blocks, structure cards,
//! pre-registered IdNats, identities created from the RPPS index; the `cps` commands. The
//! transports are in `cps_transport`, revocation sources in `cps_revocation`.

use reqwest::StatusCode;
use reqwest::header::LOCATION;
use std::path::Path;
use trousseau::admin::{cards as admin_cards, users};
use trousseau::identity::{IdNat, LinkMethod};
use trousseau::storage::{cards, links};

use crate::cps_pki::{Card, Pki, Shape, now};
use crate::helpers::{
    Browser, Rp, TestApp, authorize_url, claims, exchange, query_param, spawn_app_with,
};

pub const HEADER: &str = "ssl-client-cert";

/// What varies between the card-login servers of these tests.
pub struct Options {
    pub structure_cards: &'static str,
    pub create_identities: bool,
    pub crl_stale: &'static str,
    pub trusted: &'static str,
    pub tls: bool,
    pub extra: &'static str,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            structure_cards: "refuse",
            create_identities: false,
            crl_stale: "refuse",
            trusted: "127.0.0.1",
            tls: false,
            extra: "",
        }
    }
}

/// A Trousseau with card login: the test PKI's anchors, a CRL revoking `revoked`.
pub struct CardServer {
    pub app: TestApp,
    pub dir: tempfile::TempDir,
    /// The card listener's port and the PEM of its server certificate.
    pub tls: Option<(u16, String)>,
}

pub fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// The `[cps]` section for files in `dir`.
pub fn cps_toml(pki: &Pki, dir: &Path, revoked: &[&Card], o: &Options) -> String {
    let anchors = write(dir, "anchors.pem", &pki.anchors_pem());
    let inter = write(dir, "intermediates.pem", &pki.intermediates_pem());
    let crl = dir.join("personnes.crl");
    std::fs::write(&crl, pki.crl(revoked)).unwrap();
    let org_crl = dir.join("organisations.crl");
    std::fs::write(
        &org_crl,
        pki.crl_of(&pki.organisations, &[], now() - 3600, now() + 7 * 86_400),
    )
    .unwrap();
    let mut toml = format!(
        "[cps]\nenabled = true\nanchors = [\"{anchors}\"]\nintermediates = [\"{inter}\"]\n\
         allow_test_anchors = true\ncrl_files = [\"{}\", \"{}\"]\ncrl_stale = \"{}\"\n\
         structure_cards = \"{}\"\ncreate_identities = {}\n\
         [cps.proxy]\nheader = \"{HEADER}\"\nencoding = \"url_pem\"\ntrusted = [\"{}\"]\n",
        crl.display(),
        org_crl.display(),
        o.crl_stale,
        o.structure_cards,
        o.create_identities,
        o.trusted,
    );
    if o.tls {
        let server =
            rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()])
                .unwrap();
        let cert = write(dir, "server.pem", &server.cert.pem());
        let key = write(dir, "server.key", &server.signing_key.serialize_pem());
        toml.push_str(&format!(
            "[cps.tls]\nlisten = \"127.0.0.1:0\"\ncert_file = \"{cert}\"\nkey_file = \"{key}\"\n"
        ));
    }
    toml
}

pub async fn card_server(pki: &Pki, revoked: &[&Card], o: Options) -> CardServer {
    let dir = tempfile::tempdir().unwrap();
    let toml = cps_toml(pki, dir.path(), revoked, &o);
    let app = spawn_app_with(&format!("{toml}\n{}", o.extra)).await;
    let tls = app.card_port.map(|port| {
        let pem = std::fs::read_to_string(dir.path().join("server.pem")).unwrap();
        (port, pem)
    });
    CardServer { app, dir, tls }
}

/// nginx's `$ssl_client_escaped_cert`: the PEM with every reserved byte as %XX.
pub fn escaped(pem: &str) -> String {
    pem.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

pub async fn linked_user(app: &TestApp, username: &str, idnat: &str) -> String {
    let id = app.create_user(username, "correct horse battery").await;
    users::link_rpps(
        &app.state,
        username,
        &IdNat::parse(idnat).unwrap(),
        LinkMethod::Admin,
        "test",
    )
    .await
    .unwrap();
    id
}

/// Starts an authorization request; the flow id of the login page it leads to.
pub async fn start(app: &TestApp, b: &mut Browser, rp: &Rp) -> (String, String) {
    let (url, verifier) = authorize_url(app, rp, &[]);
    let resp = b.get(&url).await;
    let (page, login) = b.follow(resp).await;
    assert!(login.contains("/login?"), "{login}");
    let html = page.text().await.unwrap();
    assert!(html.contains("Se connecter avec la carte CPS"), "{html}");
    (query_param(&login, "flow").unwrap(), verifier)
}

/// The card login of a flow through the proxy header (None: no header).
pub async fn via_header(
    app: &TestApp,
    b: &mut Browser,
    flow: &str,
    card: Option<&Card>,
) -> reqwest::Response {
    let mut req = app.http.get(app.url(&format!("/login/card?flow={flow}")));
    if let Some(c) = card {
        req = req.header(HEADER, escaped(&c.pem));
    }
    b.send(req).await
}

/// Ends the flow at the client and returns the ID token's claims.
pub async fn finish(
    app: &TestApp,
    b: &mut Browser,
    rp: &Rp,
    resp: reqwest::Response,
    verifier: &str,
) -> serde_json::Value {
    assert_eq!(
        resp.status(),
        StatusCode::SEE_OTHER,
        "{:?}",
        resp.headers().get(LOCATION)
    );
    let (_, back) = b.follow(resp).await;
    let code = query_param(&back, "code").unwrap_or_else(|| panic!("no code in {back}"));
    let resp = exchange(app, rp, &code, verifier).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let tokens: serde_json::Value = resp.json().await.unwrap();
    claims(tokens["id_token"].as_str().unwrap())
}

pub fn assert_card_claims(c: &serde_json::Value, identity_id: &str) {
    assert_eq!(c["sub"], identity_id);
    assert_eq!(c["acr"], "loa3");
    assert_eq!(c["amr"], serde_json::json!(["sc", "pin", "hwk", "mfa"]));
}

pub async fn refused(app: &TestApp, card: Option<&Card>) -> (StatusCode, String) {
    let rp = app
        .rp(&format!("rp{}", uuid::Uuid::new_v4().simple()))
        .await;
    let mut b = app.browser();
    let (flow, _) = start(app, &mut b, &rp).await;
    let resp = via_header(app, &mut b, &flow, card).await;
    let status = resp.status();
    let html = resp.text().await.unwrap();
    assert!(html.contains("Connexion par carte CPS refusée"), "{html}");
    assert!(
        html.contains(&format!("/login?flow={flow}")),
        "a way back: {html}"
    );
    (status, html)
}

pub async fn reasons(app: &TestApp) -> Vec<String> {
    app.audit("card_login")
        .await
        .into_iter()
        .filter(|e| e.outcome == "failure")
        .filter_map(|e| e.reason)
        .collect()
}

#[tokio::test]
async fn a_card_forwarded_by_a_trusted_proxy_signs_in_with_phishing_resistant_mfa() {
    let pki = Pki::shared();
    let card = pki.personal("810002813839", "DUPONT", "ISABELLE", "Médecin");
    let s = card_server(pki, &[], Options::default()).await;
    let app = &s.app;
    let id = linked_user(app, "idupont", "810002813839").await;
    let rp = app.rp("dpi").await;
    let mut b = app.browser();
    let (flow, verifier) = start(app, &mut b, &rp).await;
    let resp = via_header(app, &mut b, &flow, Some(&card)).await;
    let c = finish(app, &mut b, &rp, resp, &verifier).await;
    assert_card_claims(&c, &id);
    // The card credential is recorded with its first and last use.
    let rec = cards::find(
        app.state.db.pool(),
        &cards_issuer(app).await,
        &card.serial_hex(),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(rec.identity_id.as_deref(), Some(id.as_str()));
    assert_eq!(rec.idnat.as_deref(), Some("810002813839"));
    assert_eq!(rec.holder.as_deref(), Some("ISABELLE DUPONT"));
    assert_eq!(rec.first_seen_at, Some(app.clock_now()));
    assert_eq!(rec.last_used_at, Some(app.clock_now()));
    let logins = app.audit("login").await;
    assert!(logins.iter().any(|e| e.outcome == "success"
        && e.subject.as_deref() == Some(id.as_str())
        && e.details.as_deref().unwrap_or("").contains("\"card\"")));
    // A second login, later, keeps the first sight and moves the last use.
    app.clock.advance(600);
    let mut b = app.browser();
    let (flow, verifier) = start(app, &mut b, &rp).await;
    let resp = via_header(app, &mut b, &flow, Some(&card)).await;
    finish(app, &mut b, &rp, resp, &verifier).await;
    let again = cards::find(app.state.db.pool(), &rec.issuer, &rec.serial)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.first_seen_at, rec.first_seen_at);
    assert_eq!(again.last_used_at, Some(app.clock_now()));
}

impl TestApp {
    fn clock_now(&self) -> i64 {
        use trousseau::clock::Clock;
        self.clock.now()
    }
}

/// The issuer text of the test PKI's personal CA, as recorded.
pub async fn cards_issuer(app: &TestApp) -> String {
    cards::list(app.state.db.pool(), 10)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.issuer)
        .next()
        .expect("a card was recorded")
}

#[tokio::test]
async fn every_refusal_has_its_reason_and_a_french_message() {
    let pki = Pki::shared();
    let revoked = pki.personal("810002813847", "DURAND", "PAUL", "Infirmier");
    let s = card_server(pki, &[&revoked], Options::default()).await;
    let app = &s.app;
    linked_user(app, "pdurand", "810002813847").await;
    let expired = pki.personal_with(
        "810002813854",
        "MARTIN",
        "JEAN",
        "Médecin",
        Shape {
            not_before: Some(now() - 900 * 86_400),
            not_after: Some(now() - 86_400),
            ..Shape::default()
        },
    );
    let foreign = pki.personal_with(
        "810002813854",
        "MARTIN",
        "JEAN",
        "Médecin",
        Shape {
            foreign: true,
            ..Shape::default()
        },
    );
    let server_eku = pki.personal_with(
        "810002813854",
        "MARTIN",
        "JEAN",
        "Médecin",
        Shape {
            server_eku: true,
            ..Shape::default()
        },
    );
    let unknown = pki.personal("810002813862", "PETIT", "LUCIE", "Sage-femme");
    let suspended = pki.personal("810002813870", "ROUX", "MARC", "Médecin");
    linked_user(app, "mroux", "810002813870").await;
    users::disable(&app.state, "mroux", "test", "test")
        .await
        .unwrap();

    let cases: [(Option<&Card>, StatusCode, &str, &str); 7] = [
        (
            None,
            StatusCode::UNAUTHORIZED,
            "no_card",
            "Aucune carte CPS n'a été présentée",
        ),
        (
            Some(&expired),
            StatusCode::FORBIDDEN,
            "card_expired",
            "Votre carte CPS a expiré",
        ),
        (
            Some(&revoked),
            StatusCode::FORBIDDEN,
            "card_revoked",
            "a été révoquée",
        ),
        (
            Some(&foreign),
            StatusCode::FORBIDDEN,
            "card_untrusted",
            "autorité de confiance",
        ),
        (
            Some(&server_eku),
            StatusCode::FORBIDDEN,
            "card_wrong_usage",
            "ne permet pas de s'authentifier",
        ),
        (
            Some(&unknown),
            StatusCode::FORBIDDEN,
            "card_not_linked",
            "rattachée à aucun compte",
        ),
        (
            Some(&suspended),
            StatusCode::FORBIDDEN,
            "account_suspended",
            "est suspendu",
        ),
    ];
    for (card, status, reason, message) in cases {
        let (got, html) = refused(app, card).await;
        assert_eq!(got, status, "{reason}");
        let html = html.replace("&#39;", "'").replace("&#x27;", "'");
        assert!(html.contains(message), "{reason}: {html}");
        assert!(
            reasons(app).await.contains(&reason.to_owned()),
            "{reason} audited"
        );
    }
    // The English page says it in English.
    let rp = app.rp("en").await;
    let mut b = app.browser();
    let (flow, _) = start(app, &mut b, &rp).await;
    let resp = b
        .send(
            app.http
                .get(app.url(&format!("/login/card?flow={flow}&lang=en")))
                .header(HEADER, escaped(&expired.pem)),
        )
        .await;
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("Your CPS card has expired")
    );
    // A card seen but refused is listed (so that it can be blocked).
    let seen = cards::list(app.state.db.pool(), 100).await.unwrap();
    assert!(
        seen.iter()
            .any(|c| c.idnat.as_deref() == Some("810002813862") && c.identity_id.is_none())
    );
}

#[tokio::test]
async fn the_header_from_an_untrusted_address_is_ignored_and_audited() {
    let pki = Pki::shared();
    let card = pki.personal("810002813839", "DUPONT", "ISABELLE", "Médecin");
    let s = card_server(
        pki,
        &[],
        Options {
            trusted: "10.20.30.0/24",
            ..Options::default()
        },
    )
    .await;
    let app = &s.app;
    linked_user(app, "idupont", "810002813839").await;
    let (status, html) = refused(app, Some(&card)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(html.contains("Aucune carte CPS"), "{html}");
    let events = app.audit("card_login").await;
    let untrusted = events
        .iter()
        .find(|e| e.reason.as_deref() == Some("card_header_untrusted"))
        .expect("audited");
    assert!(untrusted.details.as_deref().unwrap().contains("127.0.0.1"));
    assert_eq!(
        app.audit("login")
            .await
            .iter()
            .filter(|e| e.outcome == "success")
            .count(),
        0
    );
}

#[tokio::test]
async fn an_administrator_blocks_one_card_at_once() {
    let pki = Pki::shared();
    let card = pki.personal("810002813839", "DUPONT", "ISABELLE", "Médecin");
    let other = pki.personal("810002813839", "DUPONT", "ISABELLE", "Médecin");
    let s = card_server(pki, &[], Options::default()).await;
    let app = &s.app;
    let id = linked_user(app, "idupont", "810002813839").await;
    let rp = app.rp("dpi").await;
    let mut b = app.browser();
    let (flow, verifier) = start(app, &mut b, &rp).await;
    let resp = via_header(app, &mut b, &flow, Some(&card)).await;
    finish(app, &mut b, &rp, resp, &verifier).await;
    let issuer = cards_issuer(app).await;
    // Blocked with the serial as an administrator types it (lower case, colons).
    let typed = card
        .serial
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":");
    assert!(
        admin_cards::block(&app.state, &issuer, &typed, "lost", "admin")
            .await
            .unwrap()
    );
    // The holder's session ended with the block.
    let home = b.get("/").await.text().await.unwrap();
    assert!(home.contains("pas connecté"), "{home}");
    let (status, html) = refused(app, Some(&card)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        html.contains("bloquée par l'établissement")
            || html.contains("bloquée par l&#39;établissement"),
        "{html}"
    );
    assert!(reasons(app).await.contains(&"card_blocked".to_owned()));
    // Another card of the same professional still works.
    let mut b = app.browser();
    let (flow, verifier) = start(app, &mut b, &rp).await;
    let resp = via_header(app, &mut b, &flow, Some(&other)).await;
    assert_card_claims(&finish(app, &mut b, &rp, resp, &verifier).await, &id);
    // Unblocked, the first card works again.
    admin_cards::unblock(&app.state, &issuer, &card.serial_hex(), "admin")
        .await
        .unwrap();
    let mut b = app.browser();
    let (flow, verifier) = start(app, &mut b, &rp).await;
    let resp = via_header(app, &mut b, &flow, Some(&card)).await;
    finish(app, &mut b, &rp, resp, &verifier).await;
    for kind in ["card_blocked", "card_unblocked"] {
        assert_eq!(app.audit(kind).await.len(), 1, "{kind}");
    }
}

#[tokio::test]
async fn structure_cards_are_refused_by_default_and_accepted_once_bound() {
    let pki = Pki::shared();
    let cpe = pki.structure("750712184", "E123");
    let s = card_server(pki, &[], Options::default()).await;
    let (status, html) = refused(&s.app, Some(&cpe)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        html.contains("cartes d'établissement") || html.contains("cartes d&#39;établissement"),
        "{html}"
    );
    assert!(
        reasons(&s.app)
            .await
            .contains(&"structure_card_refused".to_owned())
    );

    let s = card_server(
        pki,
        &[],
        Options {
            structure_cards: "bound",
            ..Options::default()
        },
    )
    .await;
    let app = &s.app;
    let (status, _) = refused(app, Some(&cpe)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "not bound yet");
    assert!(reasons(app).await.contains(&"card_not_linked".to_owned()));
    let id = app.create_user("accueil1", "correct horse battery").await;
    admin_cards::bind(&app.state, "3750712184/E123", "accueil1", "admin")
        .await
        .unwrap();
    assert!(
        admin_cards::bind(&app.state, "810002813839", "accueil1", "admin")
            .await
            .is_err()
    );
    let rp = app.rp("dpi").await;
    let mut b = app.browser();
    let (flow, verifier) = start(app, &mut b, &rp).await;
    let resp = via_header(app, &mut b, &flow, Some(&cpe)).await;
    assert_card_claims(&finish(app, &mut b, &rp, resp, &verifier).await, &id);
}

#[tokio::test]
async fn a_first_card_login_links_a_pre_registered_idnat() {
    let pki = Pki::shared();
    let card = pki.personal("810002813839", "DUPONT", "ISABELLE", "Médecin");
    let s = card_server(pki, &[], Options::default()).await;
    let app = &s.app;
    let id = app.create_user("idupont", "correct horse battery").await;
    admin_cards::expect(&app.state, "idupont", "810002813839", "admin")
        .await
        .unwrap();
    let rp = app.rp("dpi").await;
    let mut b = app.browser();
    let (flow, verifier) = start(app, &mut b, &rp).await;
    let resp = via_header(app, &mut b, &flow, Some(&card)).await;
    assert_card_claims(&finish(app, &mut b, &rp, resp, &verifier).await, &id);
    let link = links::by_idnat(app.state.db.pool(), "810002813839")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(link.identity_id, id);
    assert_eq!(link.method, "cps_card");
    assert_eq!(app.audit("rpps_linked").await.len(), 1);
    // Another identity cannot expect a linked IdNat.
    app.create_user("other", "correct horse battery").await;
    assert!(
        admin_cards::expect(&app.state, "other", "810002813839", "admin")
            .await
            .is_err()
    );
}

#[tokio::test]
async fn an_unknown_card_holder_working_here_gets_an_identity_when_the_policy_says_so() {
    let pki = Pki::shared();
    let card = pki.personal("810002813839", "DUPONT", "ISABELLE", "Médecin");
    let elsewhere = pki.personal("810002813847", "DURAND", "PAUL", "Médecin");
    let s = card_server(
        pki,
        &[],
        Options {
            create_identities: true,
            extra: "[establishment]\nfiness = [\"750712184\"]\n",
            ..Options::default()
        },
    )
    .await;
    let app = &s.app;
    let file = crate::directory::rpps::write(
        s.dir.path(),
        "rpps.txt",
        &[
            crate::directory::rpps::line("810002813839", "DUPONT", "ISABELLE", "10", "750712184"),
            crate::directory::rpps::line("810002813847", "DURAND", "PAUL", "10", "130785652"),
        ],
    );
    crate::directory::rpps::import(app, &file).await.unwrap();
    let rp = app.rp("dpi").await;
    let mut b = app.browser();
    let (flow, verifier) = start(app, &mut b, &rp).await;
    let resp = via_header(app, &mut b, &flow, Some(&card)).await;
    let c = finish(app, &mut b, &rp, resp, &verifier).await;
    let link = links::by_idnat(app.state.db.pool(), "810002813839")
        .await
        .unwrap()
        .unwrap();
    assert_card_claims(&c, &link.identity_id);
    assert_eq!(link.method, "cps_card");
    let who = trousseau::storage::identities::by_id(app.state.db.pool(), &link.identity_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (who.given_name.as_str(), who.family_name.as_str()),
        ("ISABELLE", "DUPONT")
    );
    // Someone who works elsewhere is not created.
    let (status, _) = refused(app, Some(&elsewhere)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        links::by_idnat(app.state.db.pool(), "810002813847")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn cps_check_prints_the_verdict() {
    let pki = Pki::shared();
    let good = pki.personal("810002813839", "DUPONT", "ISABELLE", "Médecin");
    let revoked = pki.personal("810002813847", "DURAND", "PAUL", "Infirmier");
    // The login decision is read from the database: the good card's holder is linked there.
    let s = card_server(pki, &[&revoked], Options::default()).await;
    linked_user(&s.app, "idupont", "810002813839").await;
    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        "{}\n[database]\nurl = \"{}\"\n",
        cps_toml(pki, dir.path(), &[&revoked], &Options::default()),
        s.app.database_url
    );
    let config = write(dir.path(), "trousseau.toml", &toml);
    let good_file = write(dir.path(), "good.pem", &good.pem);
    let revoked_file = write(dir.path(), "revoked.pem", &revoked.pem);
    let run = |file: String| {
        std::process::Command::new(env!("CARGO_BIN_EXE_trousseau"))
            .args(["--config", &config, "cps", "check", &file])
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    let out = run(good_file);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("accepted") && text.contains("810002813839"),
        "{text}"
    );
    assert!(
        text.contains("ISABELLE DUPONT") && text.contains("Médecin"),
        "{text}"
    );
    assert!(text.contains(&good.serial_hex()), "{text}");
    assert!(text.contains("idupont (active)"), "{text}");
    let out = run(revoked_file);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success());
    assert!(
        text.contains("card_revoked") && text.contains("révoquée"),
        "{text}"
    );
}

/// The issuer text recorded for `card` (seen by a login).
async fn cards_issuer_of(app: &TestApp, card: &Card) -> String {
    cards::list(app.state.db.pool(), 10)
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.serial == card.serial_hex())
        .map(|c| c.issuer)
        .expect("the card was recorded")
}

/// `trousseau cps check CARD` with `toml` as configuration: (exit status, stdout, stderr).
fn check_cli(dir: &Path, toml: &str, card: &Card) -> (i32, String, String) {
    let config = write(dir, "check.toml", toml);
    let file = write(dir, "card.pem", &card.pem);
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_trousseau"));
    cmd.args(["--config", &config, "cps", "check", &file])
        .current_dir(dir);
    for (k, _) in std::env::vars() {
        if k.starts_with("TROUSSEAU__") {
            cmd.env_remove(k);
        }
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn cps_check_reports_the_login_decision_and_the_policy_that_made_it() {
    let pki = Pki::shared();
    let cpe = pki.structure("750712184", "E123");
    let card = pki.personal("810002813839", "DUPONT", "ISABELLE", "Médecin");

    // Default policy: a structure card passes the certificate checks, and login refuses it.
    let s = card_server(pki, &[], Options::default()).await;
    let (status, _) = refused(&s.app, Some(&cpe)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let dir = tempfile::tempdir().unwrap();
    let toml = |o: &Options, database_url: &str| {
        format!(
            "{}\n[database]\nurl = \"{database_url}\"\n",
            cps_toml(pki, dir.path(), &[], o)
        )
    };
    let with_db = toml(&Options::default(), &s.app.database_url);
    let (code, out, err) = check_cli(dir.path(), &with_db, &cpe);
    assert_eq!(code, 1, "refused: {out} {err}");
    assert!(
        out.contains("certificate") && out.contains("accepted"),
        "{out}"
    );
    assert!(
        out.contains("refused")
            && out.contains("structure_card_refused")
            && out.contains("cps.structure_cards = \"refuse\""),
        "{out}"
    );

    // The same decision without a database: the policy alone refuses; nothing is created.
    let missing = dir.path().join("nowhere/trousseau.db");
    let no_db = toml(
        &Options::default(),
        &format!("sqlite://{}", missing.display()),
    );
    let (code, out, err) = check_cli(dir.path(), &no_db, &cpe);
    assert_eq!(code, 1, "{out} {err}");
    assert!(out.contains("cps.structure_cards = \"refuse\""), "{out}");
    // A personal card needs the database to be decided: an error (2) naming it.
    let (code, out, err) = check_cli(dir.path(), &no_db, &card);
    assert_eq!(code, 2, "{out} {err}");
    assert!(err.contains(&missing.display().to_string()), "{err}");
    assert!(!dir.path().join("nowhere").exists(), "no database created");

    // A personal card: not linked, then linked, then blocked, then its holder suspended.
    let (code, out, _) = check_cli(dir.path(), &with_db, &card);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("card_not_linked"), "{out}");
    let (status, _) = refused(&s.app, Some(&card)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "login agrees");
    linked_user(&s.app, "idupont", "810002813839").await;
    let (code, out, _) = check_cli(dir.path(), &with_db, &card);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("idupont (active)") && out.contains("RPPS link"),
        "{out}"
    );
    admin_cards::block(
        &s.app.state,
        &cards_issuer_of(&s.app, &card).await,
        &card.serial_hex(),
        "perdue",
        "admin",
    )
    .await
    .unwrap();
    let (code, out, _) = check_cli(dir.path(), &with_db, &card);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("card_blocked"), "{out}");
    let (status, _) = refused(&s.app, Some(&card)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "and login agrees");

    // Policy "bound": refused until an administrator binds the card, then accepted.
    let b = card_server(
        pki,
        &[],
        Options {
            structure_cards: "bound",
            ..Options::default()
        },
    )
    .await;
    let bound = toml(
        &Options {
            structure_cards: "bound",
            ..Options::default()
        },
        &b.app.database_url,
    );
    let (code, out, _) = check_cli(dir.path(), &bound, &cpe);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("card_not_linked") && out.contains("not bound"),
        "{out}"
    );
    b.app.create_user("accueil1", "correct horse battery").await;
    admin_cards::bind(&b.app.state, "3750712184/E123", "accueil1", "admin")
        .await
        .unwrap();
    let (code, out, _) = check_cli(dir.path(), &bound, &cpe);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("accueil1 (active)"), "{out}");
    users::disable(&b.app.state, "accueil1", "test", "admin")
        .await
        .unwrap();
    let (code, out, _) = check_cli(dir.path(), &bound, &cpe);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("account_suspended") && out.contains("accueil1 is suspended"),
        "{out}"
    );
}

#[tokio::test]
async fn the_cps_commands_list_block_and_unblock_a_card_and_pre_register_an_idnat() {
    let pki = Pki::shared();
    let card = pki.personal("810002813839", "DUPONT", "ISABELLE", "Médecin");
    let newcomer = pki.personal("810002813847", "DURAND", "PAUL", "Médecin");
    let s = card_server(pki, &[], Options::default()).await;
    let app = &s.app;
    let id = linked_user(app, "idupont", "810002813839").await;
    app.create_user("pdurand", "correct horse battery").await;
    let rp = app.rp("dpi").await;
    let mut b = app.browser();
    let (flow, verifier) = start(app, &mut b, &rp).await;
    let resp = via_header(app, &mut b, &flow, Some(&card)).await;
    assert_card_claims(&finish(app, &mut b, &rp, resp, &verifier).await, &id);

    let config = write(
        s.dir.path(),
        "cli.toml",
        &format!(
            "[database]\nurl = \"{}\"\n[secrets]\nmaster_key_file = \"{}\"\n\
             [password]\nmemory_kib = 8192\niterations = 1\nparallelism = 1\n",
            app.database_url,
            app.state.settings.secrets.master_key_file.display()
        ),
    );
    // Awaited, not waited for: this runtime also drives the server's background tasks (the
    // audit writer among them), and a writer stopped between its INSERT and its COMMIT while
    // the thread sits in a blocking wait keeps the write lock the command needs.
    let cli = async |args: &[&str]| {
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_trousseau"))
            .args(["--config", &config, "cps"])
            .args(args)
            .current_dir(s.dir.path())
            .output()
            .await
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "cps {args:?}: {text} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        text
    };
    let list = cli(&["list"]).await;
    assert!(
        list.contains(&card.serial_hex()) && list.contains("ISABELLE DUPONT"),
        "{list}"
    );
    let issuer = cards_issuer(app).await;
    assert!(list.contains(&issuer), "{list}");
    let out = cli(&[
        "block",
        &issuer,
        &card.serial_hex(),
        "--reason",
        "carte perdue",
    ])
    .await;
    assert!(out.contains("blocked"), "{out}");
    assert!(cli(&["list"]).await.contains("blocked"));
    let (status, _) = refused(app, Some(&card)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(reasons(app).await.contains(&"card_blocked".to_owned()));
    cli(&["unblock", &issuer, &card.serial_hex()]).await;
    let mut b = app.browser();
    let (flow, verifier) = start(app, &mut b, &rp).await;
    let resp = via_header(app, &mut b, &flow, Some(&card)).await;
    finish(app, &mut b, &rp, resp, &verifier).await;
    // Pre-registration from the command line, then the first card login links.
    cli(&["expect", "pdurand", "810002813847"]).await;
    let mut b = app.browser();
    let (flow, verifier) = start(app, &mut b, &rp).await;
    let resp = via_header(app, &mut b, &flow, Some(&newcomer)).await;
    let c = finish(app, &mut b, &rp, resp, &verifier).await;
    let link = links::by_idnat(app.state.db.pool(), "810002813847")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c["sub"], link.identity_id.as_str());
}
