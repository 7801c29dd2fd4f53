//! FIDO2 security keys with in-process software authenticators: enrolment with a code,
//! passwordless and second-factor logins through the whole OIDC flow, and the edge cases a real
//! browser cannot produce on demand (counter regression from a cloned key, wrong origin, wrong
//! RP ID, replayed answer, attestation policy).

use reqwest::StatusCode;
use serde_json::Value;
use url::Url;
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::softtoken::SoftToken;
use webauthn_rs::prelude::{CreationChallengeResponse, RequestChallengeResponse};

use crate::helpers::{
    Browser, Rp, TestApp, authorize_url, claims, exchange, query_param, spawn_app_with,
};

const ORIGIN: &str = "http://localhost:8443";
const PW: &str = "correct horse battery staple";

async fn keys_app(extra: &str) -> TestApp {
    spawn_app_with(&format!(
        "[webauthn]\nrp_id = \"localhost\"\norigins = [\"{ORIGIN}\"]\n{extra}\n"
    ))
    .await
}

async fn open_app() -> TestApp {
    keys_app("allow_unattested = true").await
}

fn origin() -> Url {
    Url::parse(ORIGIN).unwrap()
}

fn token(falsify_uv: bool) -> SoftToken {
    SoftToken::new(falsify_uv).expect("soft token").0
}

fn csrf(b: &Browser) -> String {
    b.cookies["__Host-trousseau_csrf"].clone()
}

async fn code_for(app: &TestApp, user: &str) -> String {
    let check = trousseau::authn::webauthn::enrolment::IdentityCheckInput {
        checked_by: "Accueil".into(),
        document: trousseau::identity::IdentityDocument::IdCard,
        remote: false,
    };
    trousseau::admin::keys::enrolment_code(&app.state, user, None, "test", Some(&check))
        .await
        .expect("code issued")
        .code
}

/// Asks for enrolment options with a username and code; returns the JSON answer and status.
async fn enrol_options(b: &mut Browser, user: &str, code: &str) -> (StatusCode, Value) {
    b.get("/keys/enrol").await;
    let csrf = csrf(b);
    let resp = b
        .post(
            "/webauthn/enrol/options",
            &[("csrf", &csrf), ("username", user), ("code", code)],
        )
        .await;
    let status = resp.status();
    (status, resp.json().await.unwrap_or_default())
}

/// Enrols `tok` for `user` with `code`; returns the final page's status and body.
async fn enrol(
    b: &mut Browser,
    tok: &mut impl WebauthnAuthenticator,
    user: &str,
    code: &str,
    name: &str,
) -> (StatusCode, String) {
    let (status, o) = enrol_options(b, user, code).await;
    assert_eq!(status, StatusCode::OK, "{o}");
    let ccr: CreationChallengeResponse = serde_json::from_value(o["options"].clone()).unwrap();
    let rsp = tok.do_registration(origin(), ccr).expect("key registers");
    let csrf = csrf(b);
    let resp = b
        .post(
            "/keys/enrol",
            &[
                ("csrf", &csrf),
                ("ceremony", o["ceremony"].as_str().unwrap()),
                ("credential", &serde_json::to_string(&rsp).unwrap()),
                ("name", name),
            ],
        )
        .await;
    (resp.status(), resp.text().await.unwrap())
}

/// A user with an enrolled software key. (The software authenticators keep no discoverable
/// credential: passwordless logins are tested in Chromium, whose virtual authenticator does.)
async fn enrolled_user(app: &TestApp, user: &str) -> SoftToken {
    app.create_user(user, PW).await;
    let code = code_for(app, user).await;
    let mut tok = token(false);
    let (status, body) = enrol(&mut app.browser(), &mut tok, user, &code, "Clé bleue").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("Clé enregistrée"), "{body}");
    tok
}

/// A login page reached through an authorization request: (page URL, flow id).
async fn login_page(app: &TestApp, b: &mut Browser, rp: &Rp) -> (String, String, String) {
    let (url, verifier) = authorize_url(app, rp, &[]);
    let resp = b.get(&url).await;
    let (_, location) = b.follow(resp).await;
    assert!(location.contains("/login?"), "{location}");
    let flow = query_param(&location, "flow").unwrap();
    (location, flow, verifier)
}

/// Runs an assertion ceremony of `mode` in `flow` with `tok`; returns the key's answer (JSON)
/// and the ceremony id.
async fn assertion(
    b: &mut Browser,
    tok: &mut impl WebauthnAuthenticator,
    flow: &str,
    mode: &str,
    at: &str,
) -> (String, String) {
    let csrf = csrf(b);
    let resp = b
        .post(
            "/webauthn/login/options",
            &[("flow", flow), ("csrf", &csrf), ("mode", mode)],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let o: Value = resp.json().await.unwrap();
    let rcr: RequestChallengeResponse = serde_json::from_value(o["options"].clone()).unwrap();
    let rsp = tok
        .do_authentication(Url::parse(at).unwrap(), rcr)
        .unwrap_or_else(|e| panic!("key signs: {e:?}"));
    (
        serde_json::to_string(&rsp).unwrap(),
        o["ceremony"].as_str().unwrap().to_owned(),
    )
}

async fn submit_key(
    b: &mut Browser,
    flow: &str,
    mode: &str,
    ceremony: &str,
    credential: &str,
) -> reqwest::Response {
    let csrf = csrf(b);
    b.post(
        "/login/key",
        &[
            ("flow", flow),
            ("csrf", &csrf),
            ("mode", mode),
            ("ceremony", ceremony),
            ("credential", credential),
        ],
    )
    .await
}

/// Follows a successful login to the client and exchanges the code: the ID token's claims.
async fn finish(
    app: &TestApp,
    b: &mut Browser,
    rp: &Rp,
    resp: reqwest::Response,
    v: &str,
) -> Value {
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let (_, back) = b.follow(resp).await;
    let code = query_param(&back, "code").unwrap_or_else(|| panic!("no code in {back}"));
    let tokens: Value = exchange(app, rp, &code, v).await.json().await.unwrap();
    claims(tokens["id_token"].as_str().unwrap())
}

#[tokio::test]
async fn enrolment_with_a_code_then_password_and_key_give_loa3() {
    let app = open_app().await;
    let mut tok = enrolled_user(&app, "alice").await;
    let psc = loa3_client(&app).await;
    let mut b = app.browser();
    let (resp, v) = password_then_key(&app, &mut b, &psc, "alice", &mut tok).await;
    let id = finish(&app, &mut b, &psc, resp, &v).await;
    assert_eq!(id["acr"], "loa3");
    let amr: Vec<String> = serde_json::from_value(id["amr"].clone()).unwrap();
    for v in ["pwd", "hwk", "mfa"] {
        assert!(amr.iter().any(|a| a == v), "{v} in {amr:?}");
    }

    let enrolled = app.audit("security_key_enrolled").await;
    assert_eq!(enrolled.len(), 1);
    assert_eq!(enrolled[0].outcome, "success");
    let logins = app.audit("login").await;
    assert!(
        logins.iter().any(|e| e.outcome == "success"
            && e.details.as_deref().unwrap_or("").contains("security_key"))
    );
}

#[tokio::test]
async fn an_enrolment_code_is_single_use_and_wrong_codes_are_refused_and_audited() {
    let app = open_app().await;
    app.create_user("bob", PW).await;
    let code = code_for(&app, "bob").await;
    let mut b = app.browser();

    let (status, o) = enrol_options(&mut b, "bob", "AAAA-BBBB-CCCC").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(o["error"], "enrolment_code_invalid");
    assert!(o["message"].as_str().unwrap().contains("code d'enrôlement"));
    let (status, _) = enrol_options(&mut b, "alice-does-not-exist", &code).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Lower case and without dashes still reads as the same code.
    let typed = code.replace('-', "").to_lowercase();
    let (status, body) = enrol(&mut b, &mut token(false), "bob", &typed, "Clé 1").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, o) = enrol_options(&mut b, "bob", &code).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a spent code is refused: {o}"
    );

    let checks = app.audit("enrolment_code_checked").await;
    assert_eq!(checks.len(), 3);
    assert!(checks.iter().all(|e| e.outcome == "failure"));
}

#[tokio::test]
async fn password_then_key_as_second_factor_reaches_loa3_even_without_user_verification() {
    let app = open_app().await;
    let psc = loa3_client(&app).await;
    app.create_user("carol", PW).await;
    let code = code_for(&app, "carol").await;
    // A key without PIN: user verification is never done.
    let mut tok = token(true);
    let mut b = app.browser();
    let (status, body) = enrol(&mut b, &mut tok, "carol", &code, "Clé sans PIN").await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Password first: the client demands loa3, so the step-up page asks for the key.
    let (page, flow, verifier) = login_page(&app, &mut b, &psc).await;
    let resp = b.submit_login(&page, "carol", PW).await;
    let (step_up, at) = b.follow(resp).await;
    assert!(at.contains("reason=stepup"), "{at}");
    let html = step_up.text().await.unwrap();
    assert!(html.contains("data-mode=\"second_factor\""), "{html}");
    assert!(html.contains("Utiliser ma clé de sécurité"));

    let (cred, ceremony) = assertion(&mut b, &mut tok, &flow, "second_factor", ORIGIN).await;
    let resp = submit_key(&mut b, &flow, "second_factor", &ceremony, &cred).await;
    let id = finish(&app, &mut b, &psc, resp, &verifier).await;
    assert_eq!(id["acr"], "loa3");
    assert_eq!(id["amr"], serde_json::json!(["pwd", "hwk", "mfa"]));
}

/// Password, then the step-up page's key ceremony, for a client demanding loa3: the answer to
/// the key's form.
async fn password_then_key(
    app: &TestApp,
    b: &mut Browser,
    rp: &Rp,
    user: &str,
    tok: &mut impl WebauthnAuthenticator,
) -> (reqwest::Response, String) {
    let (page, flow, verifier) = login_page(app, b, rp).await;
    let resp = b.submit_login(&page, user, PW).await;
    let (_, at) = b.follow(resp).await;
    assert!(at.contains("reason=stepup"), "{at}");
    let (cred, ceremony) = assertion(b, tok, &flow, "second_factor", ORIGIN).await;
    (
        submit_key(b, &flow, "second_factor", &ceremony, &cred).await,
        verifier,
    )
}

async fn loa3_client(app: &TestApp) -> Rp {
    let mut spec = app.spec("psc");
    spec.min_acr = Some("loa3".into());
    app.register(spec).await
}

#[tokio::test]
async fn a_cloned_key_whose_counter_goes_backwards_is_refused_and_flagged() {
    let app = open_app().await;
    let psc = loa3_client(&app).await;
    app.create_user("erin", PW).await;
    let code = code_for(&app, "erin").await;
    let mut original = token(false);
    enrol(&mut app.browser(), &mut original, "erin", &code, "Clé").await;
    // The clone: the same key material, copied before the original signs again.
    let mut clone = SoftToken::from_cbor(&original.to_cbor().unwrap()).unwrap();
    for _ in 0..2 {
        let mut b = app.browser();
        let (resp, v) = password_then_key(&app, &mut b, &psc, "erin", &mut original).await;
        finish(&app, &mut b, &psc, resp, &v).await;
    }

    let (resp, _) = password_then_key(&app, &mut app.browser(), &psc, "erin", &mut clone).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert!(resp.text().await.unwrap().contains("suspendue"));
    assert_eq!(app.audit("security_key_flagged").await.len(), 1);

    // The key stays suspended, even for its original holder, until an admin lifts it.
    let mut b = app.browser();
    let (page, _, _) = login_page(&app, &mut b, &psc).await;
    let resp = b.submit_login(&page, "erin", PW).await;
    let (step_up, _) = b.follow(resp).await;
    let html = step_up.text().await.unwrap();
    assert!(
        !html.contains("data-mode=\"second_factor\""),
        "no usable key is offered"
    );
    let keys = trousseau::admin::keys::list(&app.state, Some("erin"), true)
        .await
        .unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].flag_reason.as_deref(), Some("counter_regression"));
    trousseau::admin::keys::unflag(&app.state, &keys[0].id, "test")
        .await
        .unwrap();
    let mut b = app.browser();
    let (resp, v) = password_then_key(&app, &mut b, &psc, "erin", &mut original).await;
    let id = finish(&app, &mut b, &psc, resp, &v).await;
    assert_eq!(id["acr"], "loa3");
}

/// A session with a password only, on the step-up page of a loa3 client: (flow, verifier).
async fn at_step_up(app: &TestApp, b: &mut Browser, rp: &Rp, user: &str) -> (String, String) {
    let (page, flow, verifier) = login_page(app, b, rp).await;
    let resp = b.submit_login(&page, user, PW).await;
    let (_, at) = b.follow(resp).await;
    assert!(at.contains("reason=stepup"), "{at}");
    (flow, verifier)
}

#[tokio::test]
async fn wrong_origin_wrong_rp_id_and_replayed_answers_are_refused() {
    let app = open_app().await;
    let mut tok = enrolled_user(&app, "fanny").await;
    let psc = loa3_client(&app).await;
    let mut b = app.browser();
    let (flow, _) = at_step_up(&app, &mut b, &psc, "fanny").await;
    let sf = "second_factor";

    // Another origin of the same domain (here another port) relaying the challenge: the
    // browser writes its own origin in the signed client data.
    let (cred, ceremony) = assertion(&mut b, &mut tok, &flow, sf, "http://localhost:9999").await;
    let resp = submit_key(&mut b, &flow, sf, &ceremony, &cred).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);

    // Signed for another relying party: the RP ID hash of the authenticator data differs.
    let (cred, ceremony) = assertion(&mut b, &mut tok, &flow, sf, ORIGIN).await;
    let mut v: Value = serde_json::from_str(&cred).unwrap();
    let data = v["response"]["authenticatorData"]
        .as_str()
        .unwrap()
        .to_owned();
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut bytes = b64.decode(&data).unwrap();
    bytes[0] ^= 0xff;
    v["response"]["authenticatorData"] = b64.encode(&bytes).into();
    let resp = submit_key(&mut b, &flow, sf, &ceremony, &v.to_string()).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);

    // A good answer works once; replayed (even in another flow), its ceremony is gone.
    let (cred, ceremony) = assertion(&mut b, &mut tok, &flow, sf, ORIGIN).await;
    let resp = submit_key(&mut b, &flow, sf, &ceremony, &cred).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let resp = submit_key(&mut b, &flow, sf, &ceremony, &cred).await;
    assert!(resp.status().is_client_error(), "{}", resp.status());
    let mut other = app.browser();
    let (flow2, _) = at_step_up(&app, &mut other, &psc, "fanny").await;
    let resp = submit_key(&mut other, &flow2, sf, &ceremony, &cred).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);

    let reasons: Vec<String> = app
        .audit("login")
        .await
        .into_iter()
        .filter_map(|e| e.reason)
        .collect();
    for expected in ["wrong_origin", "wrong_rp_id", "ceremony_unknown"] {
        assert!(
            reasons.iter().any(|r| r == expected),
            "{expected} in {reasons:?}"
        );
    }
}

#[tokio::test]
async fn a_revoked_key_is_refused_and_its_sessions_end() {
    let app = open_app().await;
    let mut tok = enrolled_user(&app, "gael").await;
    let psc = loa3_client(&app).await;
    let mut b = app.browser();
    let (resp, v) = password_then_key(&app, &mut b, &psc, "gael", &mut tok).await;
    finish(&app, &mut b, &psc, resp, &v).await;
    let session = b.cookies["__Host-trousseau_session"].clone();

    let key = trousseau::admin::keys::list(&app.state, Some("gael"), false)
        .await
        .unwrap()
        .remove(0);
    let ctx = trousseau::audit::RequestContext::default();
    assert!(
        trousseau::admin::keys::revoke(&app.state, &key.id, "test", "lost", &ctx)
            .await
            .unwrap()
    );
    // The session that used the key is over, and the key no longer signs in: with no other
    // key, the step-up page has nothing to offer.
    let token_hash = trousseau::crypto::hash_secret(&session);
    let record = trousseau::storage::sessions::by_token_hash(app.state.db.pool(), &token_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.end_reason.as_deref(), Some("credential_revoked"));
    let mut b = app.browser();
    let (flow, _) = at_step_up(&app, &mut b, &psc, "gael").await;
    let csrf = csrf(&b);
    let resp = b
        .post(
            "/webauthn/login/options",
            &[("flow", &flow), ("csrf", &csrf), ("mode", "second_factor")],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let o: Value = resp.json().await.unwrap();
    assert_eq!(o["error"], "no_key");
    let ended = app.audit("logout").await;
    assert!(
        ended
            .iter()
            .any(|e| e.reason.as_deref() == Some("credential_revoked"))
    );
}

#[tokio::test]
async fn the_owner_lists_renames_and_removes_keys_on_the_self_service_page() {
    let app = open_app().await;
    let mut tok = enrolled_user(&app, "hugo").await;
    let psc = loa3_client(&app).await;
    let mut b = app.browser();
    // Without a session, /keys asks for a login first and comes back.
    let resp = b.get("/keys").await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let login = resp.headers()["location"].to_str().unwrap().to_owned();
    assert!(login.starts_with("/login?flow="));

    let (resp, v) = password_then_key(&app, &mut b, &psc, "hugo", &mut tok).await;
    finish(&app, &mut b, &psc, resp, &v).await;
    let page = b.get("/keys").await.text().await.unwrap();
    assert!(page.contains("Clé bleue"), "{page}");
    // Not attested (any model accepted here): the model the key declares is shown.
    let declared = webauthn_authenticator_rs::softtoken::AAGUID.to_string();
    assert!(page.contains(&declared), "{page}");
    assert!(
        page.contains("Ajouter une clé"),
        "a key session may add another key"
    );
    let key = trousseau::admin::keys::list(&app.state, Some("hugo"), false)
        .await
        .unwrap()
        .remove(0);
    let csrf = csrf(&b);
    let resp = b
        .post(
            "/keys/rename",
            &[
                ("csrf", &csrf),
                ("key", &key.id),
                ("name", "Clé du service"),
            ],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert!(
        b.get("/keys")
            .await
            .text()
            .await
            .unwrap()
            .contains("Clé du service")
    );
    let resp = b
        .post("/keys/remove", &[("csrf", &csrf), ("key", &key.id)])
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let after = trousseau::admin::keys::list(&app.state, Some("hugo"), false)
        .await
        .unwrap();
    assert!(after[0].revoked_at.is_some());
}

#[tokio::test]
async fn the_attestation_policy_accepts_listed_models_only() {
    let dir = tempfile::tempdir().unwrap();
    let (mut tok, ca) = SoftToken::new(false).unwrap();
    let root = dir.path().join("maker-root.pem");
    std::fs::write(
        &root,
        der::EncodePem::to_pem(&ca, der::pem::LineEnding::LF).unwrap(),
    )
    .unwrap();
    let aaguid = webauthn_authenticator_rs::softtoken::AAGUID;

    // The soft token's model is listed: enrolled, attested, named.
    let app = keys_app(&format!(
        "allow_unattested = false\n[[webauthn.models]]\nname = \"Clé certifiée X\"\naaguid = \"{aaguid}\"\nroot = \"{}\"",
        root.display()
    ))
    .await;
    app.create_user("ines", PW).await;
    let code = code_for(&app, "ines").await;
    let (status, body) = enrol(&mut app.browser(), &mut tok, "ines", &code, "Clé").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("Clé certifiée X"), "{body}");
    let key = trousseau::admin::keys::list(&app.state, Some("ines"), false)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(key.attested, 1);
    assert_eq!(key.aaguid.as_deref(), Some(aaguid.to_string().as_str()));

    // Another model only: the same key is refused, with the reason audited.
    let other = keys_app(&format!(
        "allow_unattested = false\n[[webauthn.models]]\nname = \"Autre modèle\"\naaguid = \"00000000-0000-4000-8000-000000000001\"\nroot = \"{}\"",
        root.display()
    ))
    .await;
    other.create_user("ines", PW).await;
    let code = code_for(&other, "ines").await;
    let (status, body) = enrol(
        &mut other.browser(),
        &mut token(false),
        "ines",
        &code,
        "Clé",
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body.contains("pas autorisé par l"), "{body}");
    let refused = other.audit("security_key_enrolled").await;
    assert_eq!(refused[0].reason.as_deref(), Some("model_not_allowed"));

    // No model listed and unattested keys not allowed: enrolment is closed, and says so.
    let closed = keys_app("allow_unattested = false").await;
    closed.create_user("ines", PW).await;
    let code = code_for(&closed, "ines").await;
    let (status, o) = enrol_options(&mut closed.browser(), "ines", &code).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(o["error"], "model_not_allowed");
}

#[tokio::test]
async fn a_cps_card_session_authorises_enrolling_a_key_without_a_code() {
    use crate::cps::{Options, card_server, linked_user, start, via_header};
    let pki = crate::cps_pki::Pki::shared();
    let card = pki.personal("810002813839", "DUPONT", "ISABELLE", "Médecin");
    let s = card_server(
        pki,
        &[],
        Options {
            extra: "[webauthn]\nrp_id = \"localhost\"\norigins = [\"http://localhost:8443\"]\nallow_unattested = true\n",
            ..Options::default()
        },
    )
    .await;
    let app = &s.app;
    linked_user(app, "idupont", "810002813839").await;
    let rp = app.rp("dpi").await;

    // Without a strong session, enrolment needs a code.
    let mut b = app.browser();
    b.get("/keys/enrol").await;
    let c = csrf(&b);
    let resp = b.post("/webauthn/enrol/options", &[("csrf", &c)]).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);

    // After a card login (card + PIN), the page asks only for a name, and the key is enrolled.
    let (flow, _) = start(app, &mut b, &rp).await;
    let resp = via_header(app, &mut b, &flow, Some(&card)).await;
    b.follow(resp).await;
    let page = b.get("/keys/enrol").await.text().await.unwrap();
    assert!(!page.contains("name=\"code\""), "{page}");
    let c = csrf(&b);
    let resp = b.post("/webauthn/enrol/options", &[("csrf", &c)]).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let o: Value = resp.json().await.unwrap();
    let ccr: CreationChallengeResponse = serde_json::from_value(o["options"].clone()).unwrap();
    let rsp = token(false).do_registration(origin(), ccr).unwrap();
    let resp = b
        .post(
            "/keys/enrol",
            &[
                ("csrf", &c),
                ("ceremony", o["ceremony"].as_str().unwrap()),
                ("credential", &serde_json::to_string(&rsp).unwrap()),
                ("name", "Clé du bloc"),
            ],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let keys = trousseau::admin::keys::list(&app.state, Some("idupont"), false)
        .await
        .unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].created_via, "strong_session");
}
