//! Pro Santé Connect as a client of Trousseau (`--psc-broker`): the federation profile
//! (phishing-resistant multi-factor, authentication age, valid pairing, never an e-CPS
//! session), asking for exactly what is missing, the `prompt=none` answers, the `oid` and `tid`
//! claims for one establishment and for a shared deployment, and the end of a person's
//! sessions reaching PSC's back-channel logout receiver.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{
    Browser, HttpPeer, Reply, Rp, TestApp, authorize_url, claims, exchange, query_param,
    spawn_app_with,
};
use trousseau::audit::RequestContext;
use trousseau::authn::level::{AuthFactor, Method};
use trousseau::identity::{IdNat, LinkMethod};
use trousseau::psc::pairing::{self, Means, Proof};
use trousseau::storage::identities;

const PW: &str = "correct horse battery staple";
const IDNAT: &str = "810001045367";
const SESSION_COOKIE: &str = "__Host-trousseau_session";
const HOUR: i64 = 3600;
const DAY: i64 = 86_400;
/// One establishment, sessions long enough to age past PSC's 4 hours.
const ONE_TID: &str = "[psc.federation]\ntid = \"chu-test\"\n\
                       [session]\nabsolute_secs = 86400\nidle_secs = 86400\n";

/// One establishment with more `[psc.federation]` keys.
fn one_tid_with(federation: &str) -> String {
    format!(
        "[psc.federation]\ntid = \"chu-test\"\n{federation}\n\
         [session]\nabsolute_secs = 86400\nidle_secs = 86400\n"
    )
}

/// A browser holding a session of `identity_id` proven by `factors`, in order (each recorded
/// the way a login records it; the ceremonies themselves are tested elsewhere).
async fn signed_in(app: &TestApp, identity_id: &str, factors: &[(Method, bool)]) -> Browser {
    let ctx = RequestContext::default();
    let mut current = None;
    let mut token = None;
    for (method, user_verified) in factors {
        let factor = AuthFactor {
            method: *method,
            user_verified: *user_verified,
        };
        let logged = trousseau::session::record_login(
            &app.state.sessions(),
            current.take(),
            identity_id,
            factor,
            None,
            &ctx,
        )
        .await
        .unwrap();
        token = logged.new_token.or(token);
        current = Some(logged.session);
    }
    let mut b = app.browser();
    b.cookies.insert(SESSION_COOKIE.into(), token.unwrap());
    b
}

/// A person with an RPPS link, and optionally a pairing proven by e-CPS.
async fn professional(app: &TestApp, name: &str, paired: bool) -> String {
    let id = app.create_user(name, PW).await;
    let idnat = IdNat::parse(IDNAT).unwrap();
    trousseau::admin::users::link_rpps(&app.state, name, &idnat, LinkMethod::Admin, "test")
        .await
        .unwrap();
    if paired {
        pair(app, &id).await;
    }
    id
}

async fn pair(app: &TestApp, id: &str) -> trousseau::storage::pairings::PairingRecord {
    let proof = Proof {
        identity_id: id.into(),
        idnat: IdNat::parse(IDNAT).unwrap(),
        means: Means::Ciba,
        acr: Some("eidas1".into()),
    };
    pairing::record(&app.state.ecps(), &proof, &RequestContext::default())
        .await
        .unwrap()
}

/// PSC registered as a client with the federation profile.
async fn psc(app: &TestApp, backchannel: Option<String>) -> Rp {
    let mut spec = app.spec("psc");
    spec.psc_broker = true;
    spec.backchannel_logout_uri = backchannel;
    app.register(spec).await
}

/// Where `/authorize` sends the browser (one hop: the login, pairing or client URL).
async fn first_hop(b: &mut Browser, url: &str) -> String {
    let resp = b.get(url).await;
    assert!(
        resp.status().is_redirection(),
        "a redirect, got {}: {}",
        resp.status(),
        resp.text().await.unwrap_or_default()
    );
    resp.headers()["location"].to_str().unwrap().to_owned()
}

/// What the session yields for PSC: `code`, an OAuth `error` at PSC, or the page it leads to.
fn outcome(rp: &Rp, location: &str) -> String {
    if location.starts_with(&rp.redirect_uri) {
        if query_param(location, "code").is_some() {
            return "code".into();
        }
        return format!(
            "error={}",
            query_param(location, "error").unwrap_or_default()
        );
    }
    let path = location.split('?').next().unwrap_or("").to_owned();
    match query_param(&format!("http://x{location}"), "reason") {
        Some(r) => format!("{path}:{r}"),
        None => path,
    }
}

#[derive(Clone, Copy)]
enum Pairing {
    None,
    Active,
    Expired,
    Revoked,
}

struct Case {
    name: &'static str,
    factors: &'static [(Method, bool)],
    pairing: Pairing,
    /// Seconds between the login and the request.
    age: i64,
    prompt_none: bool,
    expected: &'static str,
    /// The reason audited (`federation_shortfall` or `authorization_refused`), if any.
    audited: Option<&'static str>,
}

const KEY_UV: &[(Method, bool)] = &[(Method::SecurityKey, true)];

fn cases() -> Vec<Case> {
    let case = |name, factors, pairing, expected, audited| Case {
        name,
        factors,
        pairing,
        age: 0,
        prompt_none: false,
        expected,
        audited,
    };
    vec![
        case("key with UV", KEY_UV, Pairing::Active, "code", None),
        case(
            "CPS card",
            &[(Method::Card, true)],
            Pairing::Active,
            "code",
            None,
        ),
        case(
            "password + key without UV",
            &[(Method::Password, false), (Method::SecurityKey, false)],
            Pairing::Active,
            "code",
            None,
        ),
        case(
            "password alone",
            &[(Method::Password, false)],
            Pairing::Active,
            "/login:stepup",
            Some("level_too_low"),
        ),
        case(
            "directory password alone",
            &[(Method::DirectoryPassword, false)],
            Pairing::Active,
            "/login:stepup",
            Some("level_too_low"),
        ),
        case(
            "key without UV alone",
            &[(Method::SecurityKey, false)],
            Pairing::Active,
            "/login:stepup",
            Some("level_too_low"),
        ),
        case(
            "e-CPS session",
            &[(Method::Ecps, true)],
            Pairing::Active,
            "error=login_required",
            Some("psc_origin_session"),
        ),
        case(
            "e-CPS then a key",
            &[(Method::Ecps, true), (Method::SecurityKey, true)],
            Pairing::Active,
            "error=login_required",
            Some("psc_origin_session"),
        ),
        case(
            "no pairing",
            KEY_UV,
            Pairing::None,
            "/pairing",
            Some("pairing_required"),
        ),
        case(
            "expired pairing",
            KEY_UV,
            Pairing::Expired,
            "/pairing",
            Some("pairing_required"),
        ),
        case(
            "revoked pairing",
            KEY_UV,
            Pairing::Revoked,
            "/pairing",
            Some("pairing_required"),
        ),
        Case {
            age: 4 * HOUR + 1,
            ..case(
                "older than 4 hours",
                KEY_UV,
                Pairing::Active,
                "/login:reauth",
                Some("reauthentication_required"),
            )
        },
        Case {
            age: 4 * HOUR - 60,
            ..case("just under 4 hours", KEY_UV, Pairing::Active, "code", None)
        },
        Case {
            prompt_none: true,
            ..case(
                "prompt=none, password alone",
                &[(Method::Password, false)],
                Pairing::Active,
                "error=interaction_required",
                Some("level_too_low"),
            )
        },
        Case {
            prompt_none: true,
            ..case(
                "prompt=none, no pairing",
                KEY_UV,
                Pairing::None,
                "error=interaction_required",
                Some("pairing_required"),
            )
        },
        Case {
            prompt_none: true,
            age: 4 * HOUR + 1,
            ..case(
                "prompt=none, too old",
                KEY_UV,
                Pairing::Active,
                "error=login_required",
                Some("reauthentication_required"),
            )
        },
        Case {
            prompt_none: true,
            ..case(
                "prompt=none, e-CPS session",
                &[(Method::Ecps, true)],
                Pairing::Active,
                "error=login_required",
                Some("psc_origin_session"),
            )
        },
    ]
}

async fn run(case: &Case) -> (String, Vec<String>) {
    let app = spawn_app_with(ONE_TID).await;
    let rp = psc(&app, None).await;
    let id = professional(&app, "alice", false).await;
    match case.pairing {
        Pairing::None => {}
        Pairing::Active => {
            pair(&app, &id).await;
        }
        Pairing::Expired => {
            pair(&app, &id).await;
            app.clock.advance(366 * DAY);
        }
        Pairing::Revoked => {
            let p = pair(&app, &id).await;
            pairing::revoke(&app.state.ecps(), &p.id, "admin", "test")
                .await
                .unwrap();
        }
    }
    let mut b = signed_in(&app, &id, case.factors).await;
    app.clock.advance(case.age);
    let extra: &[(&str, &str)] = if case.prompt_none {
        &[("prompt", "none")]
    } else {
        &[]
    };
    let (url, _) = authorize_url(&app, &rp, extra);
    let got = outcome(&rp, &first_hop(&mut b, &url).await);
    let mut reasons = Vec::new();
    for kind in ["federation_shortfall", "authorization_refused"] {
        for e in app.audit(kind).await {
            assert_eq!(e.client_id.as_deref(), Some("psc"), "{kind}: {e:?}");
            reasons.extend(e.reason);
        }
    }
    (got, reasons)
}

#[tokio::test]
async fn the_profile_asks_for_exactly_what_is_missing() {
    for case in cases() {
        let (got, reasons) = run(&case).await;
        assert_eq!(got, case.expected, "{}", case.name);
        let expected: Vec<String> = case.audited.iter().map(|r| r.to_string()).collect();
        assert_eq!(reasons, expected, "audit of {}", case.name);
    }
}

#[tokio::test]
async fn an_ordinary_client_takes_a_password_session_and_psc_with_no_pairing_rule_does_not_ask() {
    let app = spawn_app_with(&one_tid_with("require_pairing = false")).await;
    let dpi = app.rp("dpi").await;
    let rp = psc(&app, None).await;
    let id = professional(&app, "alice", false).await;
    let mut b = signed_in(&app, &id, &[(Method::Password, false)]).await;
    let (url, _) = authorize_url(&app, &dpi, &[]);
    assert_eq!(outcome(&dpi, &first_hop(&mut b, &url).await), "code");
    let mut b = signed_in(&app, &id, KEY_UV).await;
    let (url, _) = authorize_url(&app, &rp, &[]);
    assert_eq!(outcome(&rp, &first_hop(&mut b, &url).await), "code");
}

#[tokio::test]
async fn a_stricter_federation_age_and_the_client_age_combine_to_the_smallest() {
    let app = spawn_app_with(&one_tid_with("max_auth_age_secs = 3600")).await;
    let rp = psc(&app, None).await;
    let id = professional(&app, "alice", true).await;
    let mut b = signed_in(&app, &id, KEY_UV).await;
    app.clock.advance(HOUR + 1);
    let (url, _) = authorize_url(&app, &rp, &[]);
    assert_eq!(
        outcome(&rp, &first_hop(&mut b, &url).await),
        "/login:reauth"
    );

    // The client's own max auth age wins when smaller.
    let mut spec = trousseau::admin::clients::spec_of(
        &trousseau::admin::clients::get(&app.state, "psc")
            .await
            .unwrap(),
    );
    spec.max_auth_age = Some(600);
    trousseau::admin::clients::update(&app.state, &spec, "test")
        .await
        .unwrap();
    let mut b = signed_in(&app, &id, KEY_UV).await;
    app.clock.advance(601);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await; // the client cache
    let (url, _) = authorize_url(&app, &rp, &[]);
    assert_eq!(
        outcome(&rp, &first_hop(&mut b, &url).await),
        "/login:reauth"
    );
}

#[tokio::test]
async fn the_pairing_page_resumes_the_authorization_once_paired() {
    let app = spawn_app_with(ONE_TID).await;
    let rp = psc(&app, None).await;
    let id = professional(&app, "alice", false).await;
    let mut b = signed_in(&app, &id, KEY_UV).await;
    let (url, _) = authorize_url(&app, &rp, &[]);
    let to_pairing = first_hop(&mut b, &url).await;
    assert!(to_pairing.starts_with("/pairing?flow="), "{to_pairing}");
    let resp = b.get(&to_pairing).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let html = resp.text().await.unwrap();
    assert!(html.contains("attend votre appairage"), "{html}");
    assert!(
        !html.contains("pairing-continue"),
        "no Continuer before pairing"
    );

    // The pairing completes (the CIBA worker records it); the page, reloaded without the
    // flow in its address, offers to go on.
    pair(&app, &id).await;
    let resp = b.get("/pairing?done=paired").await;
    let html = resp.text().await.unwrap();
    let flow = query_param(&format!("http://x{to_pairing}"), "flow").unwrap();
    assert!(html.contains("pairing-continue"), "{html}");
    assert!(html.contains(&format!("flow={flow}")), "{html}");
    let resume = format!("/authorize/resume?flow={flow}");
    let back = first_hop(&mut b, &resume).await;
    assert_eq!(outcome(&rp, &back), "code");
    assert!(
        !b.cookies.contains_key("__Host-trousseau_resume"),
        "the page forgets the flow once resumed"
    );
}

/// Signs in for PSC through the code flow and answers the ID token's claims.
async fn psc_id_token(app: &TestApp, rp: &Rp, id: &str, scope: &str) -> Value {
    let mut b = signed_in(app, id, KEY_UV).await;
    let (url, verifier) = authorize_url(app, rp, &[("scope", scope)]);
    let url = url.replace("scope=openid+profile+email&", "");
    let back = first_hop(&mut b, &url).await;
    let code = query_param(&back, "code").unwrap_or_else(|| panic!("a code: {back}"));
    let resp = exchange(app, rp, &code, &verifier).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let tokens: Value = resp.json().await.unwrap();
    claims(tokens["id_token"].as_str().unwrap())
}

#[tokio::test]
async fn the_id_token_carries_oid_tid_and_the_psc_claims() {
    let app = spawn_app_with(ONE_TID).await;
    let rp = psc(&app, None).await;
    let id = professional(&app, "alice", true).await;
    let c = psc_id_token(&app, &rp, &id, "openid").await;
    assert_eq!(c["sub"], id.as_str());
    assert_eq!(c["oid"], id.as_str(), "oid is the immutable identity id");
    assert_eq!(c["tid"], "chu-test");
    assert_eq!(c["aud"], "psc");
    assert_eq!(c["nonce"], "n0nce");
    assert!(c["auth_time"].is_i64());
    assert!(c["acr"].is_string());
    assert_eq!(c["amr"], serde_json::json!(["hwk", "user", "mfa"]));
    assert_eq!(c["preferred_username"], "alice");
    assert!(c["given_name"].is_string() && c["family_name"].is_string());
    assert!(c.get("idp").is_none());
}

/// `claims_supported` of the discovery document.
async fn claims_supported(app: &TestApp) -> Vec<String> {
    let meta: Value = app
        .http
        .get(app.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    meta["claims_supported"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c.as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn discovery_lists_every_claim_of_the_brokers_id_token() {
    let app = spawn_app_with(ONE_TID).await;
    let mut spec = app.spec("psc");
    spec.psc_broker = true;
    spec.scopes.push("rpps".into());
    let rp = app.register(spec).await;
    let id = professional(&app, "alice", true).await;
    let listed = claims_supported(&app).await;
    for c in ["oid", "tid", "idp"] {
        assert!(listed.iter().any(|l| l == c), "{c} missing from {listed:?}");
    }
    let c = psc_id_token(&app, &rp, &id, "openid profile email rpps").await;
    assert_eq!(c["idnat"], IDNAT, "the rpps scope was granted");
    for key in c.as_object().unwrap().keys() {
        assert!(
            listed.contains(key),
            "the broker's ID token carries {key}, not in claims_supported {listed:?}"
        );
    }
}

const GHT: &str = "[psc.federation]\n\
                   [[psc.federation.establishments]]\nfiness = \"750712184\"\ntid = \"chu-a\"\n\
                   [[psc.federation.establishments]]\nfiness = \"750712200\"\ntid = \"ch-b\"\n";

async fn set_establishment(app: &TestApp, id: &str, finess: &str) {
    let mut tx = app.state.db.begin().await.unwrap();
    identities::set_establishment(&mut tx, id, Some(finess))
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn a_shared_deployment_announces_each_identitys_establishment() {
    let app = spawn_app_with(GHT).await;
    let rp = psc(&app, None).await;
    let alice = professional(&app, "alice", true).await;
    set_establishment(&app, &alice, "750712200").await;
    let c = psc_id_token(&app, &rp, &alice, "openid").await;
    assert_eq!(c["tid"], "ch-b");
    set_establishment(&app, &alice, "750712184").await;
    let c = psc_id_token(&app, &rp, &alice, "openid profile").await;
    assert_eq!(c["tid"], "chu-a");
}

#[tokio::test]
async fn the_single_configured_finess_stands_in_for_an_unknown_one() {
    let app = spawn_app_with(&format!(
        "{GHT}\n[establishment]\nfiness = [\"750712184\"]\n"
    ))
    .await;
    let rp = psc(&app, None).await;
    let alice = professional(&app, "alice", true).await;
    let c = psc_id_token(&app, &rp, &alice, "openid").await;
    assert_eq!(c["tid"], "chu-a");
}

#[tokio::test]
async fn an_identity_of_an_unknown_establishment_is_refused_with_a_page() {
    let app = spawn_app_with(GHT).await;
    let rp = psc(&app, None).await;
    let alice = professional(&app, "alice", true).await;
    set_establishment(&app, &alice, "130000000").await;
    let mut b = signed_in(&app, &alice, KEY_UV).await;
    let (url, _) = authorize_url(&app, &rp, &[]);
    let resp = b.get(&url).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let html = resp.text().await.unwrap();
    assert!(html.contains("aucun établissement connu"), "{html}");
    assert!(html.contains("assistance informatique"), "{html}");
    let audit = app.audit("authorization_refused").await;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].reason.as_deref(), Some("establishment_unknown"));
    assert_eq!(audit[0].subject.as_deref(), Some(alice.as_str()));
    // In English on request.
    let resp = b.get(&format!("{url}&lang=en")).await;
    let html = resp.text().await.unwrap();
    assert!(html.contains("not attached to any establishment"), "{html}");
}

#[tokio::test]
async fn the_hr_import_records_the_establishment() {
    let app = spawn_app_with(GHT).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hr.csv");
    std::fs::write(
        &file,
        "matricule;prenom;nom;finess_etablissement\nE1;Alice;Martin;750712200\n\
         E2;Bruno;Petit;12345\n",
    )
    .unwrap();
    let report = trousseau::directory::hr::import_file(&app.state.repository(), &file, "test")
        .await
        .unwrap();
    assert_eq!(report.issues.len(), 1, "{report:?}");
    assert!(report.issues[0].reason.contains("FINESS"), "{report:?}");
    let alice = identities::by_employee_number(app.state.db.pool(), "E1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        identities::establishment_of(app.state.db.pool(), &alice.id)
            .await
            .unwrap()
            .as_deref(),
        Some("750712200")
    );
}

/// PSC and a DPI, both with a back-channel receiver on the peer, used by one session.
async fn federated_session(app: &TestApp, receiver: &HttpPeer) -> (String, Browser) {
    psc(app, Some(receiver.url("/bc/psc"))).await;
    let mut dpi = app.spec("dpi");
    dpi.backchannel_logout_uri = Some(receiver.url("/bc/dpi"));
    app.register(dpi).await;
    let id = professional(app, "alice", true).await;
    let mut b = signed_in(app, &id, KEY_UV).await;
    for client in ["psc", "dpi"] {
        let rp = Rp {
            id: client.into(),
            secret: None,
            redirect_uri: format!("https://{client}.example/cb"),
        };
        let (url, _) = authorize_url(app, &rp, &[]);
        assert_eq!(outcome(&rp, &first_hop(&mut b, &url).await), "code");
    }
    (id, b)
}

/// The clients a logout token was posted to, sorted.
async fn notified(receiver: &HttpPeer, n: usize) -> Vec<String> {
    let mut clients: Vec<String> = receiver
        .wait_for(n)
        .await
        .iter()
        .map(|r| r.path.trim_start_matches("/bc/").to_owned())
        .collect();
    clients.sort();
    clients
}

#[tokio::test]
async fn ending_a_persons_sessions_reaches_psc_and_every_client() {
    let app = spawn_app_with(ONE_TID).await;
    let receiver = HttpPeer::start(|_| Reply::status(200)).await;
    let (_, _b) = federated_session(&app, &receiver).await;
    let ended = trousseau::admin::users::end_sessions(&app.state, "alice", "admin")
        .await
        .unwrap();
    assert_eq!(ended, 1);
    assert_eq!(notified(&receiver, 2).await, ["dpi", "psc"]);
    assert_eq!(app.audit("sessions_ended").await.len(), 1);
}

#[tokio::test]
async fn suspension_reaches_psc_and_every_client() {
    let app = spawn_app_with(ONE_TID).await;
    let receiver = HttpPeer::start(|_| Reply::status(200)).await;
    federated_session(&app, &receiver).await;
    trousseau::admin::users::disable(&app.state, "alice", "test", "admin")
        .await
        .unwrap();
    assert_eq!(notified(&receiver, 2).await, ["dpi", "psc"]);
}

#[tokio::test]
async fn revoking_the_pairing_ends_the_sessions_psc_holds() {
    let app = spawn_app_with(ONE_TID).await;
    let receiver = HttpPeer::start(|_| Reply::status(200)).await;
    let (id, _b) = federated_session(&app, &receiver).await;
    let ended = trousseau::session::end_federated(
        &app.state.sessions(),
        &id,
        "pairing_revoked",
        &RequestContext::default(),
    )
    .await
    .unwrap();
    assert_eq!(ended, 1);
    assert_eq!(notified(&receiver, 2).await, ["dpi", "psc"]);
}

#[tokio::test]
async fn cancelling_the_pairing_on_the_page_ends_the_sessions_psc_holds() {
    let app = spawn_app_with(ONE_TID).await;
    let receiver = HttpPeer::start(|_| Reply::status(200)).await;
    let (_, mut b) = federated_session(&app, &receiver).await;
    b.get("/pairing").await;
    let csrf = b.cookies["__Host-trousseau_csrf"].clone();
    let resp = b.post("/pairing/cancel", &[("csrf", &csrf)]).await;
    assert!(resp.status().is_redirection());
    assert_eq!(notified(&receiver, 2).await, ["dpi", "psc"]);
}

#[tokio::test]
async fn logging_out_reaches_psc_and_every_client() {
    let app = spawn_app_with(ONE_TID).await;
    let receiver = HttpPeer::start(|_| Reply::status(200)).await;
    let (_, mut b) = federated_session(&app, &receiver).await;
    let resp = b.get("/logout").await;
    assert_eq!(resp.status(), StatusCode::OK, "the confirmation page");
    let csrf = b.cookies["__Host-trousseau_csrf"].clone();
    let resp = b.post("/logout", &[("csrf", &csrf)]).await;
    assert!(resp.status().is_success() || resp.status().is_redirection());
    assert_eq!(notified(&receiver, 2).await, ["dpi", "psc"]);
}

#[tokio::test]
async fn not_me_reaches_psc_and_every_client() {
    let app = spawn_app_with(ONE_TID).await;
    let receiver = HttpPeer::start(|_| Reply::status(200)).await;
    let (_, mut b) = federated_session(&app, &receiver).await;
    b.get("/pairing").await;
    let csrf = b.cookies["__Host-trousseau_csrf"].clone();
    let resp = b.post("/switch-user", &[("csrf", &csrf)]).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(notified(&receiver, 2).await, ["dpi", "psc"]);
}

// Session activity: PSC keeps its own 4-hour / 30-minute-idle session; Trousseau's idle
// timeout counts client traffic on the session's tokens (refresh, userinfo, introspection).

/// A person signed in with a password for an ordinary client: its tokens and session id.
async fn dpi_session(app: &TestApp) -> (Rp, Value, String) {
    let dpi = app.rp("dpi").await;
    app.create_user("alice", PW).await;
    let mut b = app.browser();
    let tokens = crate::helpers::login_tokens(app, &mut b, &dpi, "alice", PW).await;
    let sid = claims(tokens["id_token"].as_str().unwrap())["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    (dpi, tokens, sid)
}

async fn live(app: &TestApp, sid: &str) -> bool {
    trousseau::session::by_id(&app.state.sessions(), sid)
        .await
        .unwrap()
        .is_some()
}

async fn last_active(app: &TestApp, sid: &str) -> i64 {
    trousseau::storage::sessions::by_id(app.state.db.pool(), sid)
        .await
        .unwrap()
        .unwrap()
        .last_active_at
}

#[tokio::test]
async fn two_hours_of_refreshes_keep_the_session() {
    let app = spawn_app_with("").await;
    let (dpi, tokens, sid) = dpi_session(&app).await;
    let mut refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    for _ in 0..12 {
        app.clock.advance(600);
        let resp = app
            .post_form(
                "/token",
                Some(&dpi),
                &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
            )
            .await;
        assert_eq!(resp.status(), StatusCode::OK);
        let next: Value = resp.json().await.unwrap();
        refresh = next["refresh_token"].as_str().unwrap().to_owned();
    }
    assert!(live(&app, &sid).await, "2 hours of refreshes");
}

#[tokio::test]
async fn without_client_traffic_the_idle_timeout_decides() {
    let app = spawn_app_with("").await;
    let (_, _, sid) = dpi_session(&app).await;
    app.clock.advance(45 * 60);
    assert!(
        !live(&app, &sid).await,
        "45 minutes idle end a 30-minute session"
    );

    let app = spawn_app_with("[session]\nidle_secs = 14400\n").await;
    let (_, _, sid) = dpi_session(&app).await;
    app.clock.advance(45 * 60);
    assert!(live(&app, &sid).await, "a 4-hour idle keeps it");
}

#[tokio::test]
async fn userinfo_and_introspection_are_activity_written_once_a_minute() {
    let app = spawn_app_with("[tokens]\naccess_token_ttl_secs = 3600\n").await;
    let (dpi, tokens, sid) = dpi_session(&app).await;
    let at = tokens["access_token"].as_str().unwrap().to_owned();
    let userinfo = |app: &TestApp| app.http.get(app.url("/userinfo")).bearer_auth(&at).send();
    let start = last_active(&app, &sid).await;
    app.clock.advance(20 * 60);
    assert_eq!(userinfo(&app).await.unwrap().status(), StatusCode::OK);
    assert_eq!(last_active(&app, &sid).await, start + 20 * 60);
    // Within the minute: no second write.
    app.clock.advance(30);
    assert_eq!(userinfo(&app).await.unwrap().status(), StatusCode::OK);
    assert_eq!(last_active(&app, &sid).await, start + 20 * 60);
    // 40 minutes after the login, 20 after the last call: still live.
    app.clock.advance(20 * 60 - 30);
    assert!(live(&app, &sid).await);
    let resp = app
        .post_form("/introspect", Some(&dpi), &[("token", &at)])
        .await;
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["active"], true);
    assert_eq!(last_active(&app, &sid).await, start + 40 * 60);
    app.clock.advance(25 * 60);
    assert!(live(&app, &sid).await, "the introspection counted");
}
