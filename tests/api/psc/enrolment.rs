//! Security keys enrolled on the authority of e-CPS, over real HTTP with software
//! authenticators: a valid pairing with a password session, a fresh e-CPS validation asked from
//! this browser (single use, even for enrolments racing on it), and every refusal with its
//! reason, its audit event and nothing enrolled. Pro Santé Connect is enabled but unreachable
//! here (validations are settled the way the polling worker settles them); the real worker and
//! the PSC sandbox run in `e2e.rs`.

use reqwest::StatusCode;
use serde_json::Value;
use url::Url;
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::softtoken::SoftToken;
use webauthn_rs::prelude::CreationChallengeResponse;

use super::pairing::{link, prove, session_id, signed_in, user};
use crate::helpers::{Browser, TestApp, spawn_app_with};
use trousseau::audit::RequestContext;
use trousseau::authn::level::Method;
use trousseau::identity::{IdNat, LinkMethod};
use trousseau::psc::pairing;
use trousseau::storage::{findings, pairings};

const ORIGIN: &str = "http://localhost:8443";
const IDNAT: &str = "810001045367";
const OTHER_IDNAT: &str = "810002345671";
const DAY: i64 = 86_400;

/// The PSC client secret file of these tests (one for the whole run).
fn secret_file() -> &'static str {
    static FILE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    FILE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("psc.secret");
        std::fs::write(&path, "not-used-here").unwrap();
        // Kept for the whole run: every test's server reads it at start-up.
        std::mem::forget(dir);
        path.display().to_string()
    })
}

/// A Trousseau with security keys and `[psc]` enabled (PSC itself unreachable), plus `extra`.
async fn ecps_app(extra: &str) -> TestApp {
    let secret = secret_file();
    spawn_app_with(&format!(
        "[webauthn]\nrp_id = \"localhost\"\norigins = [\"{ORIGIN}\"]\nallow_unattested = true\n\
         {extra}\n\
         [psc]\nenabled = true\nenvironment = \"local\"\n\
         issuer = \"http://127.0.0.1:9/auth/realms/esante-wallet\"\n\
         client_id = \"trousseau\"\nclient_secret_file = \"{secret}\"\n\
         connect_timeout_ms = 500\ntimeout_ms = 1000\n"
    ))
    .await
}

/// A user whose account an administrator linked to `IDNAT`.
async fn linked(app: &TestApp, name: &str) -> String {
    let id = user(app, name).await;
    link(app, name, IDNAT, LinkMethod::Admin).await;
    id
}

fn csrf(b: &Browser) -> String {
    b.cookies["__Host-trousseau_csrf"].clone()
}

fn token() -> SoftToken {
    SoftToken::new(false).expect("soft token").0
}

/// A validation asked from `b`'s session for an enrolment, approved in the e-CPS app with
/// `proven` and settled as the polling worker settles it: the request.
async fn validation(app: &TestApp, b: &Browser, id: &str, proven: &str) -> String {
    let now = app.state.clock.now();
    let r = pairings::RequestRecord {
        id: uuid::Uuid::new_v4().to_string(),
        identity_id: id.into(),
        session_id: session_id(app, b).await,
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
        purpose: pairings::PURPOSE_ENROLMENT.into(),
        acr: None,
        used_at: None,
    };
    let mut tx = app.state.db.begin().await.unwrap();
    pairings::insert_request(&mut tx, &r).await.unwrap();
    tx.commit().await.unwrap();
    let idnat = IdNat::parse(proven).unwrap();
    assert!(
        pairing::complete_proven(&app.state.ecps(), &r, idnat, Some("eidas2"))
            .await
            .unwrap()
    );
    r.id
}

/// Asks for enrolment options without a code: the status and the JSON answer.
async fn options(b: &mut Browser) -> (StatusCode, Value) {
    b.get("/keys/enrol").await;
    let c = csrf(b);
    let resp = b.post("/webauthn/enrol/options", &[("csrf", &c)]).await;
    let status = resp.status();
    (status, resp.json().await.unwrap_or_default())
}

/// Runs the key's side of granted options and posts the answer: the final status.
async fn finish(b: &mut Browser, o: &Value, name: &str) -> StatusCode {
    let ccr: CreationChallengeResponse = serde_json::from_value(o["options"].clone()).unwrap();
    let rsp = token()
        .do_registration(Url::parse(ORIGIN).unwrap(), ccr)
        .expect("key registers");
    let c = csrf(b);
    b.post(
        "/keys/enrol",
        &[
            ("csrf", &c),
            ("ceremony", o["ceremony"].as_str().unwrap()),
            ("credential", &serde_json::to_string(&rsp).unwrap()),
            ("name", name),
        ],
    )
    .await
    .status()
}

async fn keys_of(app: &TestApp, name: &str) -> Vec<trousseau::storage::security_keys::KeyRecord> {
    trousseau::admin::keys::list(&app.state, Some(name), false)
        .await
        .unwrap()
}

fn details(e: &trousseau::storage::audit::AuditRecord) -> Value {
    serde_json::from_str(e.details.as_deref().unwrap_or("{}")).unwrap()
}

#[tokio::test]
async fn a_valid_pairing_and_a_password_session_enrol_a_key_audited_as_authorised_by_ecps() {
    let app = ecps_app("").await;
    let id = linked(&app, "alice").await;
    let p = prove(&app, &id, IDNAT).await.unwrap();

    // Without a session, the pairing is worth nothing: a code is asked.
    let mut anonymous = app.browser();
    let html = anonymous.get("/keys/enrol").await.text().await.unwrap();
    assert!(html.contains("name=\"code\""), "{html}");
    assert!(!html.contains("/keys/enrol/ecps"), "{html}");
    let (status, o) = options(&mut anonymous).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{o}");

    let mut b = signed_in(&app, &id, Method::Password).await;
    let html = b.get("/keys/enrol").await.text().await.unwrap();
    assert!(!html.contains("name=\"code\""), "{html}");
    assert!(
        html.contains("Votre appairage e-CPS en cours de validité"),
        "{html}"
    );
    let list = b.get("/keys").await.text().await.unwrap();
    assert!(list.contains("href=\"/keys/enrol\""), "{list}");

    let (status, o) = options(&mut b).await;
    assert_eq!(status, StatusCode::OK, "{o}");
    assert_eq!(finish(&mut b, &o, "Clé du bloc").await, StatusCode::OK);
    let keys = keys_of(&app, "alice").await;
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].created_via, "ecps_pairing");

    let ev = app.audit("security_key_enrolment_authorised").await;
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].outcome, "success");
    assert_eq!(ev[0].reason.as_deref(), Some("ecps_pairing"));
    assert_eq!(ev[0].subject.as_deref(), Some(id.as_str()));
    let d = details(&ev[0]);
    assert_eq!(d["pairing"], p.id.as_str());
    assert_eq!(d["idnat"], IDNAT);
    assert_eq!(d["acr"], "eidas1");
    assert_eq!(d["key"], keys[0].id.as_str());
    let enrolled = app.audit("security_key_enrolled").await;
    assert_eq!(details(&enrolled[0])["via"], "ecps_pairing");
}

#[tokio::test]
async fn a_fresh_validation_enrols_one_key_even_for_racing_enrolments() {
    let app = ecps_app("").await;
    let id = linked(&app, "bruno").await;
    let mut b = signed_in(&app, &id, Method::Password).await;

    // No pairing, no validation: the page offers the e-CPS app, and asks a code meanwhile.
    let html = b.get("/keys/enrol").await.text().await.unwrap();
    assert!(
        html.contains("Activer une clé avec l&#39;application e-CPS")
            || html.contains("Activer une clé avec l'application e-CPS"),
        "{html}"
    );
    assert!(html.contains("action=\"/keys/enrol/ecps\""), "{html}");
    assert!(html.contains("name=\"code\""));
    let en = b.get("/keys/enrol?lang=en").await.text().await.unwrap();
    assert!(en.contains("Activate a key with the e-CPS app"), "{en}");

    let request = validation(&app, &b, &id, IDNAT).await;
    let html = b
        .get("/keys/enrol?done=request")
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("Votre validation e-CPS autorise"), "{html}");
    assert!(!html.contains("name=\"code\""), "{html}");
    let status: Value = b
        .get(&format!("/keys/enrol/ecps/status?request={request}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(status["state"], "proven");

    // Two enrolments started on the one validation, finished at once: one key.
    let (s1, o1) = options(&mut b).await;
    let (s2, o2) = options(&mut b).await;
    assert_eq!((s1, s2), (StatusCode::OK, StatusCode::OK), "{o1} {o2}");
    let mut b2 = app.browser();
    b2.cookies = b.cookies.clone();
    let (r1, r2) = tokio::join!(finish(&mut b, &o1, "Clé 1"), finish(&mut b2, &o2, "Clé 2"));
    let mut outcomes = [r1, r2];
    outcomes.sort();
    assert_eq!(outcomes, [StatusCode::OK, StatusCode::FORBIDDEN]);
    let keys = keys_of(&app, "bruno").await;
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].created_via, "ecps_ciba");

    let ev = app.audit("security_key_enrolment_authorised").await;
    let ok: Vec<_> = ev.iter().filter(|e| e.outcome == "success").collect();
    assert_eq!(ok.len(), 1);
    assert_eq!(ok[0].reason.as_deref(), Some("ecps_ciba"));
    let d = details(ok[0]);
    assert_eq!(d["request"], request.as_str());
    assert_eq!(d["idnat"], IDNAT);
    assert_eq!(d["acr"], "eidas2");
    let refused = app.audit("security_key_enrolled").await;
    assert!(
        refused
            .iter()
            .any(|e| e.outcome == "failure" && e.reason.as_deref() == Some("ecps_proof_used"))
    );

    // The validation is spent: a third enrolment is refused, and the page says why.
    let (status, o) = options(&mut b).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(o["error"], "ecps_proof_used");
    assert!(o["message"].as_str().unwrap().contains("déjà servi"), "{o}");
    assert_eq!(keys_of(&app, "bruno").await.len(), 1);
    let proven = app.audit("ecps_enrolment_proven").await;
    assert_eq!(proven.len(), 1);
    assert_eq!(proven[0].outcome, "success");
}

/// What a refusal case sets up before asking for options without a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Case {
    NoProof,
    StaleProof,
    AnotherBrowsersProof,
    Mismatch,
    RefusedOnThePhone,
    ExpiredPairing,
    CancelledPairing,
    PairingOfAnotherIdnat,
    EcpsOnlySession,
    NoLink,
    SuspendedAfterOptions,
    SettingOff,
}

#[tokio::test]
async fn refusals_enrol_nothing_and_are_audited_with_their_reason() {
    use Case::*;
    let cases: &[(Case, StatusCode, &str)] = &[
        (NoProof, StatusCode::FORBIDDEN, "ecps_proof_missing"),
        (StaleProof, StatusCode::FORBIDDEN, "ecps_proof_stale"),
        (
            AnotherBrowsersProof,
            StatusCode::FORBIDDEN,
            "ecps_proof_missing",
        ),
        (Mismatch, StatusCode::FORBIDDEN, "idnat_mismatch"),
        (
            RefusedOnThePhone,
            StatusCode::FORBIDDEN,
            "psc_access_denied",
        ),
        (ExpiredPairing, StatusCode::FORBIDDEN, "pairing_inactive"),
        (CancelledPairing, StatusCode::FORBIDDEN, "pairing_inactive"),
        (
            PairingOfAnotherIdnat,
            StatusCode::FORBIDDEN,
            "idnat_mismatch",
        ),
        (
            EcpsOnlySession,
            StatusCode::FORBIDDEN,
            "first_factor_missing",
        ),
        (NoLink, StatusCode::FORBIDDEN, "no_rpps_link"),
        (
            SuspendedAfterOptions,
            StatusCode::FORBIDDEN,
            "account_disabled",
        ),
        // Off: the session counts for nothing, a code is asked.
        (
            SettingOff,
            StatusCode::UNAUTHORIZED,
            "enrolment_code_invalid",
        ),
    ];
    for &(case, status, reason) in cases {
        let extra = match case {
            SettingOff => "enrol_with_ecps = false",
            _ => "",
        };
        let app = ecps_app(extra).await;
        let name = "carole";
        let id = match case {
            NoLink => user(&app, name).await,
            _ => linked(&app, name).await,
        };
        let method = match case {
            EcpsOnlySession => Method::Ecps,
            _ => Method::Password,
        };
        let mut b = signed_in(&app, &id, method).await;
        match case {
            NoProof | NoLink => {}
            StaleProof => {
                validation(&app, &b, &id, IDNAT).await;
                app.clock.advance(601);
            }
            AnotherBrowsersProof => {
                let other = signed_in(&app, &id, Method::Password).await;
                validation(&app, &other, &id, IDNAT).await;
            }
            Mismatch => {
                validation(&app, &b, &id, OTHER_IDNAT).await;
            }
            RefusedOnThePhone => {
                let r = validation(&app, &b, &id, IDNAT).await;
                // Settled `refused` instead: as the worker records an access_denied.
                sqlx::query(
                    "UPDATE pairing_requests SET state = 'refused', reason = 'psc_access_denied' \
                     WHERE id = $1",
                )
                .bind(&r)
                .execute(app.state.db.pool())
                .await
                .unwrap();
            }
            ExpiredPairing => {
                prove(&app, &id, IDNAT).await.unwrap();
                app.clock.advance(366 * DAY);
                b = signed_in(&app, &id, Method::Password).await;
            }
            CancelledPairing => {
                prove(&app, &id, IDNAT).await.unwrap();
                pairing::cancel(&app.state.ecps(), &id, &RequestContext::default())
                    .await
                    .unwrap();
            }
            PairingOfAnotherIdnat => {
                prove(&app, &id, IDNAT).await.unwrap();
                // Staff relink the account afterwards: the pairing proved someone else.
                trousseau::admin::users::unlink_rpps(&app.state, name, "test")
                    .await
                    .unwrap();
                link(&app, name, OTHER_IDNAT, LinkMethod::Admin).await;
            }
            EcpsOnlySession | SettingOff => {
                prove(&app, &id, IDNAT).await.unwrap();
            }
            SuspendedAfterOptions => {
                prove(&app, &id, IDNAT).await.unwrap();
            }
        }
        let (got, o) = options(&mut b).await;
        if let SuspendedAfterOptions = case {
            assert_eq!(got, StatusCode::OK, "{case:?}: {o}");
            trousseau::admin::users::disable(&app.state, name, "test", "admin")
                .await
                .unwrap();
            let got = finish(&mut b, &o, "Clé").await;
            assert!(got.is_client_error(), "{case:?}: {got}");
            let refused = app.audit("security_key_enrolled").await;
            assert!(
                refused.iter().any(|e| e.outcome == "failure"
                    && matches!(
                        e.reason.as_deref(),
                        Some("account_disabled" | "pairing_inactive" | "ceremony_unknown")
                    )),
                "{case:?}: {refused:?}"
            );
            assert!(keys_of(&app, name).await.is_empty(), "{case:?}");
            continue;
        }
        assert_eq!(got, status, "{case:?}: {o}");
        assert_eq!(o["error"], reason, "{case:?}: {o}");
        assert!(
            !o["message"].as_str().unwrap_or_default().is_empty(),
            "{case:?}"
        );
        assert!(keys_of(&app, name).await.is_empty(), "{case:?}");
        if case != SettingOff {
            let ev = app.audit("security_key_enrolment_authorised").await;
            assert_eq!(ev.len(), 1, "{case:?}");
            assert_eq!(ev[0].outcome, "failure");
            assert_eq!(ev[0].reason.as_deref(), Some(reason), "{case:?}");
            assert_eq!(ev[0].subject.as_deref(), Some(id.as_str()));
        } else {
            assert!(
                app.audit("security_key_enrolment_authorised")
                    .await
                    .is_empty()
            );
        }
        if let Mismatch = case {
            let found = findings::all(app.state.db.pool()).await.unwrap();
            let f = found
                .iter()
                .find(|f| f.category == findings::PAIRING_MISMATCH)
                .expect("a finding");
            assert!(f.detail.contains(OTHER_IDNAT) && f.detail.contains("enrolment"));
            let proven = app.audit("ecps_enrolment_proven").await;
            assert_eq!(proven[0].reason.as_deref(), Some("idnat_mismatch"));
        }
    }
}

#[tokio::test]
async fn asking_the_e_cps_app_is_refused_precisely_and_audited() {
    let app = ecps_app("").await;
    let id = linked(&app, "denis").await;
    let mut b = signed_in(&app, &id, Method::Password).await;
    b.get("/keys/enrol").await;
    let c = csrf(&b);

    // Without the CSRF token nothing is sent.
    let resp = b.post("/keys/enrol/ecps", &[("csrf", "forged")]).await;
    assert!(resp.status().is_client_error());

    // Pro Santé Connect does not answer.
    let resp = b.post("/keys/enrol/ecps", &[("csrf", &c)]).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let to = resp.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(to, "/keys/enrol?error=psc_unreachable");
    let html = b.get(&to).await.text().await.unwrap();
    assert!(html.contains("Pro Santé Connect ne répond pas"), "{html}");
    let ev = app.audit("ecps_enrolment_started").await;
    assert_eq!(ev[0].outcome, "failure");
    assert_eq!(ev[0].reason.as_deref(), Some("psc_unreachable"));

    // A link read from a card is not one staff checked: a password session may not ask.
    let other = user(&app, "denise").await;
    link(&app, "denise", OTHER_IDNAT, LinkMethod::CpsCard).await;
    let mut weak = signed_in(&app, &other, Method::Password).await;
    weak.get("/keys/enrol").await;
    let c = csrf(&weak);
    let resp = weak.post("/keys/enrol/ecps", &[("csrf", &c)]).await;
    assert_eq!(
        resp.headers()["location"].to_str().unwrap(),
        "/keys/enrol?error=session_too_weak"
    );
    // Without a session: off to the login.
    let mut anonymous = app.browser();
    anonymous.get("/keys/enrol").await;
    let c = csrf(&anonymous);
    let resp = anonymous.post("/keys/enrol/ecps", &[("csrf", &c)]).await;
    assert!(resp.status().is_redirection() || resp.status().is_client_error());
    assert!(
        pairings::pending(app.state.db.pool())
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_validation_belongs_to_the_browser_and_person_that_asked_it() {
    let app = ecps_app("").await;
    let id = linked(&app, "emma").await;
    let b = signed_in(&app, &id, Method::Password).await;
    let request = validation(&app, &b, &id, IDNAT).await;
    let status = format!("/keys/enrol/ecps/status?request={request}");
    let mut mine = b;
    assert_eq!(mine.get(&status).await.status(), StatusCode::OK);
    let mut second = signed_in(&app, &id, Method::Password).await;
    assert_eq!(second.get(&status).await.status(), StatusCode::NOT_FOUND);
    let html = second.get("/keys/enrol").await.text().await.unwrap();
    assert!(html.contains("name=\"code\""), "{html}");
    let mut anonymous = app.browser();
    assert_eq!(
        anonymous.get(&status).await.status(),
        StatusCode::UNAUTHORIZED
    );
    // The pairing page knows nothing of it either.
    let html = mine.get("/pairing").await.text().await.unwrap();
    assert!(!html.contains(&request), "{html}");
}

#[tokio::test]
async fn the_authority_is_checked_again_when_the_key_is_stored() {
    let app = ecps_app("").await;
    let id = linked(&app, "fanny").await;
    prove(&app, &id, IDNAT).await.unwrap();
    let mut b = signed_in(&app, &id, Method::Password).await;

    // Staff relink the account to someone else between the options and the key's answer.
    let (status, o) = options(&mut b).await;
    assert_eq!(status, StatusCode::OK, "{o}");
    trousseau::admin::users::unlink_rpps(&app.state, "fanny", "test")
        .await
        .unwrap();
    link(&app, "fanny", OTHER_IDNAT, LinkMethod::Admin).await;
    assert_eq!(finish(&mut b, &o, "Clé").await, StatusCode::FORBIDDEN);

    // The pairing is cancelled between the options and the key's answer.
    trousseau::admin::users::unlink_rpps(&app.state, "fanny", "test")
        .await
        .unwrap();
    link(&app, "fanny", IDNAT, LinkMethod::Admin).await;
    let (status, o) = options(&mut b).await;
    assert_eq!(status, StatusCode::OK, "{o}");
    pairing::cancel(&app.state.ecps(), &id, &RequestContext::default())
        .await
        .unwrap();
    assert_eq!(finish(&mut b, &o, "Clé").await, StatusCode::FORBIDDEN);

    assert!(keys_of(&app, "fanny").await.is_empty());
    let reasons: Vec<_> = app
        .audit("security_key_enrolled")
        .await
        .into_iter()
        .filter(|e| e.outcome == "failure")
        .filter_map(|e| e.reason)
        .collect();
    assert!(
        reasons.contains(&"idnat_mismatch".to_owned()),
        "{reasons:?}"
    );
    assert!(
        reasons.contains(&"pairing_inactive".to_owned()),
        "{reasons:?}"
    );
    assert!(
        app.audit("security_key_enrolment_authorised")
            .await
            .iter()
            .all(|e| e.outcome == "failure")
    );
}
