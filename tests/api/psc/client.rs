//! Trousseau's PSC client against a scripted PSC (the tests' `HttpPeer` answering discovery,
//! JWKS, token, CIBA and userinfo as each test says, ID tokens signed here with keys made
//! here): the faults the real sandbox cannot produce. Each refusal is checked by its
//! `PscError` variant and stable reason; through the e-CPS login pages, by the person's
//! message, the audit reason and the absence of any session or pairing.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure is a panic

use josekit::jwk::Jwk;
use josekit::jws::{ES256, HS256, JwsHeader, RS256};
use josekit::jwt::{self, JwtPayload};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use trousseau::clock::Clock;
use trousseau::identity::{IdNat, LinkMethod};
use trousseau::psc::protocol::{self, Channel};
use trousseau::psc::{CibaPoll, PscClient, PscError};

use crate::helpers::http_peer::Request;
use crate::helpers::{HttpPeer, Reply, Rp, TestApp, authorize_url, query_param, spawn_app_with};

pub const CLIENT_ID: &str = "trousseau";
pub const SECRET: &str = "scripted-psc-client-secret-of-32-bytes-or-more";
const IDNAT: &str = "810001045367";
const SKEW: i64 = 60;

/// A signing key of the scripted PSC: the private JWK signs, the public one is published.
#[derive(Clone)]
pub struct Key {
    alg: &'static str,
    kid: String,
    private: Jwk,
    pub public: Value,
}

fn key(alg: &'static str, mut private: Jwk, mut public: Jwk, kid: &str) -> Key {
    for k in [&mut private, &mut public] {
        k.set_key_id(kid);
        k.set_algorithm(alg);
    }
    public.set_key_use("sig");
    Key {
        alg,
        kid: kid.to_owned(),
        private,
        public: Value::Object(public.as_ref().clone()),
    }
}

pub fn rs256(kid: &str) -> Key {
    let pair = RS256.generate_key_pair(2048).unwrap();
    key(
        "RS256",
        pair.to_jwk_key_pair(),
        pair.to_jwk_public_key(),
        kid,
    )
}

fn es256(kid: &str) -> Key {
    let pair = ES256.generate_key_pair().unwrap();
    key(
        "ES256",
        pair.to_jwk_key_pair(),
        pair.to_jwk_public_key(),
        kid,
    )
}

/// `claims` as a JWS signed by `key`, announcing `key.kid`.
fn sign(key: &Key, claims: &Value) -> String {
    let mut header = JwsHeader::new();
    header.set_token_type("JWT");
    header.set_key_id(&key.kid);
    let payload = JwtPayload::from_map(claims.as_object().unwrap().clone()).unwrap();
    match key.alg {
        "RS256" => jwt::encode_with_signer(
            &payload,
            &header,
            &RS256.signer_from_jwk(&key.private).unwrap(),
        ),
        _ => jwt::encode_with_signer(
            &payload,
            &header,
            &ES256.signer_from_jwk(&key.private).unwrap(),
        ),
    }
    .unwrap()
}

fn b64(v: &Value) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
}

pub fn json_reply(status: u16, body: &Value) -> Reply {
    Reply {
        status,
        content_type: "application/json".into(),
        body: body.to_string().into_bytes(),
    }
}

fn oauth_error(status: u16, code: &str) -> Reply {
    json_reply(
        status,
        &json!({"error": code, "error_description": "scripted"}),
    )
}

fn tokens(id_token: &str) -> Reply {
    json_reply(
        200,
        &json!({"access_token": "scripted-access-token", "token_type": "Bearer",
                "expires_in": 120, "id_token": id_token}),
    )
}

/// What the scripted PSC answers, endpoint by endpoint.
#[derive(Clone)]
pub struct Answers {
    pub discovery: Reply,
    pub jwks: Reply,
    pub token: Reply,
    pub ciba: Reply,
    pub userinfo: Reply,
}

/// A scripted PSC on a loopback `HttpPeer`, laid out like PSC's realm.
pub struct FakePsc {
    pub peer: HttpPeer,
    pub issuer: String,
    pub key: Key,
    pub answers: Arc<Mutex<Answers>>,
    pub dir: tempfile::TempDir,
}

/// A discovery document as PSC publishes it, for `issuer` served from `base`.
pub fn discovery(base: &str, issuer: &str) -> Value {
    let e = protocol::Endpoints::of_issuer(issuer, &format!("{base}/wallet/auth"));
    json!({
        "issuer": e.issuer,
        "authorization_endpoint": e.authorization,
        "token_endpoint": e.token,
        "userinfo_endpoint": e.userinfo,
        "jwks_uri": e.jwks,
        "introspection_endpoint": e.introspection,
        "end_session_endpoint": e.end_session,
        "backchannel_authentication_endpoint": e.ciba,
        "backchannel_token_delivery_modes_supported": ["poll"],
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
    })
}

impl FakePsc {
    pub async fn start() -> FakePsc {
        let peer = HttpPeer::start(|_| Reply::status(503)).await;
        let base = peer.url("");
        let issuer = format!("{base}{}", protocol::REALM_PATH);
        let key = rs256("psc-1");
        let answers = Arc::new(Mutex::new(Answers {
            discovery: json_reply(200, &discovery(&base, &issuer)),
            jwks: json_reply(200, &json!({"keys": [key.public]})),
            token: oauth_error(400, "invalid_grant"),
            ciba: oauth_error(400, "unknown_user_id"),
            userinfo: Reply::status(404),
        }));
        let script = answers.clone();
        peer.answer(move |r: &Request| {
            let a = script.lock().unwrap();
            let Some(path) = r.path.strip_prefix(protocol::REALM_PATH) else {
                return Reply::status(404);
            };
            match path {
                protocol::DISCOVERY_PATH => a.discovery.clone(),
                protocol::JWKS_PATH => a.jwks.clone(),
                protocol::TOKEN_PATH => a.token.clone(),
                protocol::CIBA_PATH => a.ciba.clone(),
                protocol::USERINFO_PATH => a.userinfo.clone(),
                _ => Reply::status(404),
            }
        });
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("psc.secret"), format!("{SECRET}\n")).unwrap();
        FakePsc {
            peer,
            issuer,
            key,
            answers,
            dir,
        }
    }

    /// The `[psc]` table pointing at this PSC.
    pub fn config(&self, issuer: &str, timeout_ms: u64) -> String {
        format!(
            "[psc]\nenabled = true\nenvironment = \"local\"\nissuer = \"{issuer}\"\n\
             client_id = \"{CLIENT_ID}\"\nclient_secret_file = \"{}\"\n\
             connect_timeout_ms = 1000\ntimeout_ms = {timeout_ms}\nclock_skew_secs = {SKEW}\n",
            self.dir.path().join("psc.secret").display()
        )
    }

    pub fn set(&self, f: impl FnOnce(&mut Answers)) {
        f(&mut self.answers.lock().unwrap());
    }

    /// How many requests reached `path` (relative to the realm).
    pub fn hits(&self, path: &str) -> usize {
        let full = format!("{}{path}", protocol::REALM_PATH);
        self.peer
            .requests()
            .iter()
            .filter(|r| r.path == full)
            .count()
    }

    /// Good ID-token claims for the professional, as PSC issues them now.
    fn claims(&self, app: &TestApp) -> Value {
        let now = app.clock.now();
        json!({
            "iss": self.issuer, "aud": CLIENT_ID,
            "sub": protocol::subject("550dc1c8-d97b-4b1e-ac8c-8eb4471cf9dd",
                                     &IdNat::parse(IDNAT).unwrap()),
            "iat": now, "exp": now + 120, "auth_time": now, "acr": protocol::ACR_EIDAS1,
            "SubjectNameID": IDNAT, "preferred_username": IDNAT,
            "given_name": "CLAIRE", "family_name": "MARTIN",
        })
    }
}

/// Trousseau with `[psc]` on the scripted PSC.
async fn app_on(psc: &FakePsc) -> TestApp {
    spawn_app_with(&psc.config(&psc.issuer, 3000)).await
}

/// A fresh client (nothing cached) with the app's settings, database and clock.
fn fresh_client(app: &TestApp) -> Arc<PscClient> {
    PscClient::new(
        &app.state.settings.psc,
        app.clock.clone(),
        app.state.db.clone(),
        None,
    )
    .unwrap()
    .expect("[psc] is enabled")
}

/// The outcome of a CIBA poll whose token answer carries `id_token`.
async fn poll_with(psc: &FakePsc, app: &TestApp, id_token: &str) -> Result<IdNat, PscError> {
    psc.set(|a| a.token = tokens(id_token));
    match fresh_client(app).ciba_poll("req-1").await? {
        CibaPoll::Approved(p) => Ok(p.idnat),
        other => panic!("not approved: {other:?}"),
    }
}

async fn count(app: &TestApp, table: &str) -> i64 {
    sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
        .fetch_one(app.state.db.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn id_tokens_that_break_a_rule_are_refused_with_a_precise_reason() {
    let psc = FakePsc::start().await;
    let app = app_on(&psc).await;
    let now = app.clock.now();
    type Edit = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, Edit, &str)> = vec![
        (
            "another issuer",
            Box::new(|c| c["iss"] = json!("https://auth.example/auth/realms/esante-wallet")),
            "psc_wrong_issuer",
        ),
        (
            "another audience",
            Box::new(|c| c["aud"] = json!("another-client")),
            "psc_wrong_audience",
        ),
        (
            "expired beyond the skew",
            Box::new(move |c| c["exp"] = json!(now - SKEW - 5)),
            "psc_token_expired",
        ),
        (
            "acr not accepted",
            Box::new(|c| c["acr"] = json!("eidas0")),
            "psc_insufficient_acr",
        ),
        (
            "no acr",
            Box::new(|c| {
                c.as_object_mut().unwrap().remove("acr");
            }),
            "psc_insufficient_acr",
        ),
        (
            "an IdNat that does not parse",
            Box::new(|c| {
                c["SubjectNameID"] = json!("81000104536");
                c["preferred_username"] = json!("81000104536");
            }),
            "psc_invalid_idnat",
        ),
        (
            "a structure IdNat, not a person's",
            Box::new(|c| {
                c["SubjectNameID"] = json!("3750712184/E123");
                c["preferred_username"] = json!("3750712184/E123");
            }),
            "psc_invalid_idnat",
        ),
    ];
    for (what, edit, reason) in cases {
        let mut claims = psc.claims(&app);
        edit(&mut claims);
        let err = poll_with(&psc, &app, &sign(&psc.key, &claims))
            .await
            .expect_err(what);
        assert_eq!(err.reason(), reason, "{what}: {err:?}");
    }
    // Expired, but within the tolerated skew: accepted.
    let mut claims = psc.claims(&app);
    claims["exp"] = json!(now - SKEW + 10);
    let idnat = poll_with(&psc, &app, &sign(&psc.key, &claims))
        .await
        .unwrap();
    assert_eq!(idnat.as_str(), IDNAT);
    // Nothing was written by the refusals: no session, no pairing.
    assert_eq!(count(&app, "sso_sessions").await, 0);
    assert_eq!(count(&app, "pairings").await, 0);
}

#[tokio::test]
async fn only_rs256_and_es256_signatures_by_published_keys_are_accepted() {
    let psc = FakePsc::start().await;
    let app = app_on(&psc).await;
    let claims = psc.claims(&app);

    // Signed by another key under the published kid.
    let mut forged = rs256(&psc.key.kid);
    forged.kid = psc.key.kid.clone();
    let err = poll_with(&psc, &app, &sign(&forged, &claims))
        .await
        .unwrap_err();
    assert!(matches!(err, PscError::BadSignature), "{err:?}");

    // alg "none", and HS256 keyed with the client secret: refused before any key is tried.
    let none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT"})),
        b64(&claims)
    );
    let err = poll_with(&psc, &app, &none).await.unwrap_err();
    assert_eq!(err.reason(), "psc_alg_refused", "none: {err:?}");
    let mut header = JwsHeader::new();
    header.set_token_type("JWT");
    header.set_key_id(&psc.key.kid);
    let hs = jwt::encode_with_signer(
        &JwtPayload::from_map(claims.as_object().unwrap().clone()).unwrap(),
        &header,
        &HS256.signer_from_bytes(SECRET.as_bytes()).unwrap(),
    )
    .unwrap();
    let err = poll_with(&psc, &app, &hs).await.unwrap_err();
    assert_eq!(err.reason(), "psc_alg_refused", "HS256: {err:?}");

    // ES256 from a published key: accepted.
    let ec = es256("psc-ec");
    psc.set(|a| a.jwks = json_reply(200, &json!({"keys": [psc.key.public, ec.public]})));
    let idnat = poll_with(&psc, &app, &sign(&ec, &claims)).await.unwrap();
    assert_eq!(idnat.as_str(), IDNAT);
}

#[tokio::test]
async fn an_unknown_kid_reads_the_keys_again_once() {
    let psc = FakePsc::start().await;
    let app = app_on(&psc).await;
    // Keys are made before any request: generating one blocks this test's only thread
    // long enough for the peer to close an idle connection under load.
    let stranger = rs256("psc-unknown");
    let rotated = rs256("psc-2");
    let client = fresh_client(&app);
    let claims = psc.claims(&app);
    // The keys are read once and cached.
    psc.set(|a| a.token = tokens(&sign(&psc.key, &claims)));
    assert!(matches!(
        client.ciba_poll("a").await.unwrap(),
        CibaPoll::Approved(_)
    ));
    assert!(matches!(
        client.ciba_poll("b").await.unwrap(),
        CibaPoll::Approved(_)
    ));
    assert_eq!(psc.hits(protocol::JWKS_PATH), 1);

    // A kid PSC does not publish: the keys are read once more, then the token is refused.
    psc.set(|a| a.token = tokens(&sign(&stranger, &claims)));
    let err = client.ciba_poll("c").await.unwrap_err();
    assert_eq!(err.reason(), "psc_unknown_kid", "{err:?}");
    assert_eq!(psc.hits(protocol::JWKS_PATH), 2);

    // PSC rotated its keys: the new kid is found on the re-read.
    psc.set(|a| {
        a.jwks = json_reply(200, &json!({"keys": [rotated.public]}));
        a.token = tokens(&sign(&rotated, &claims));
    });
    assert!(matches!(
        client.ciba_poll("d").await.unwrap(),
        CibaPoll::Approved(_)
    ));
    assert_eq!(psc.hits(protocol::JWKS_PATH), 3);
}

#[tokio::test]
async fn the_code_flow_nonce_must_answer_this_request_and_be_used_once() {
    let psc = FakePsc::start().await;
    let app = app_on(&psc).await;
    let client = fresh_client(&app);
    let redirect = app.url("/psc/callback");
    let (url, pending) = client.authorization_request(&redirect).await.unwrap();
    // The request carries PSC's values and PKCE S256.
    for (k, v) in [
        ("scope", protocol::SCOPE),
        ("acr_values", protocol::ACR_EIDAS1),
        ("code_challenge_method", "S256"),
        ("client_id", CLIENT_ID),
    ] {
        assert_eq!(query_param(url.as_str(), k).as_deref(), Some(v), "{k}");
    }
    assert_eq!(
        query_param(url.as_str(), "nonce").as_deref(),
        Some(pending.nonce.as_str())
    );

    // Another request's nonce, then none at all.
    let mut claims = psc.claims(&app);
    claims["nonce"] = json!("the-nonce-of-another-request");
    psc.set(|a| a.token = tokens(&sign(&psc.key, &claims)));
    let err = client
        .finish_authorization(&pending, "code-1", &redirect)
        .await
        .unwrap_err();
    assert!(matches!(err, PscError::NonceMismatch), "{err:?}");
    claims.as_object_mut().unwrap().remove("nonce");
    psc.set(|a| a.token = tokens(&sign(&psc.key, &claims)));
    let err = client
        .finish_authorization(&pending, "code-1", &redirect)
        .await
        .unwrap_err();
    assert!(matches!(err, PscError::NonceMismatch), "{err:?}");

    // The right nonce: accepted once, and the same token replayed is refused.
    claims["nonce"] = json!(pending.nonce);
    psc.set(|a| a.token = tokens(&sign(&psc.key, &claims)));
    let proven = client
        .finish_authorization(&pending, "code-2", &redirect)
        .await
        .unwrap();
    assert_eq!(proven.idnat.as_str(), IDNAT);
    let err = client
        .finish_authorization(&pending, "code-2", &redirect)
        .await
        .unwrap_err();
    assert_eq!(err.reason(), "psc_nonce_replayed", "{err:?}");

    // The code exchange sent the code, the verifier and the secret in HTTP Basic.
    let exchange = psc
        .peer
        .requests()
        .into_iter()
        .rfind(|r| r.path.ends_with(protocol::TOKEN_PATH))
        .unwrap();
    let form: Vec<(String, String)> = serde_urlencoded::from_str(&exchange.text()).unwrap();
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(get("grant_type"), Some("authorization_code"));
    assert_eq!(get("code_verifier"), Some(pending.pkce_verifier.as_str()));
    assert!(
        exchange
            .header("authorization")
            .unwrap()
            .starts_with("Basic ")
    );
}

#[tokio::test]
async fn every_ciba_answer_is_told_apart() {
    let psc = FakePsc::start().await;
    let app = app_on(&psc).await;
    let client = fresh_client(&app);
    let html = Reply {
        status: 200,
        content_type: "text/html".into(),
        body: b"<html>maintenance</html>".to_vec(),
    };
    let cases: Vec<(&str, Reply, Result<&str, &str>)> = vec![
        (
            "pending",
            oauth_error(400, "authorization_pending"),
            Ok("pending"),
        ),
        ("slow down", oauth_error(400, "slow_down"), Ok("slow_down")),
        (
            "expired",
            oauth_error(400, "expired_token"),
            Err("psc_expired_request"),
        ),
        (
            "refused",
            oauth_error(403, "access_denied"),
            Err("psc_access_denied"),
        ),
        (
            "bad client",
            oauth_error(401, "invalid_client"),
            Err("psc_invalid_client"),
        ),
        (
            "401 without a body",
            Reply::status(401),
            Err("psc_invalid_client"),
        ),
        ("a 500", Reply::status(500), Err("psc_server_error")),
        ("not JSON", html, Err("psc_malformed_answer")),
    ];
    for (what, reply, expected) in cases {
        psc.set(|a| a.token = reply);
        let got = match client.ciba_poll("req-1").await {
            Ok(CibaPoll::Pending) => Ok("pending"),
            Ok(CibaPoll::SlowDown) => Ok("slow_down"),
            Ok(CibaPoll::Approved(_)) => Ok("approved"),
            Err(e) => Err(e.reason()),
        };
        assert_eq!(got, expected, "{what}");
    }
    // A 500 is worth retrying; a refusal is not.
    assert!(PscError::ServerError(500).transient());
    assert!(!PscError::AccessDenied.transient());
    // The poll is a CIBA grant with the request id.
    let last = psc.peer.requests().pop().unwrap();
    assert!(last.text().contains("auth_req_id=req-1"), "{}", last.text());
    assert!(
        last.text()
            .contains("grant_type=urn%3Aopenid%3Aparams%3Agrant-type%3Aciba")
    );

    // The backchannel request: PSC's form, and each refusal by name.
    let idnat = IdNat::parse(IDNAT).unwrap();
    psc.set(|a| {
        a.ciba = json_reply(
            200,
            &json!({"auth_req_id": "abc", "expires_in": 120, "interval": 2}),
        )
    });
    let started = client
        .ciba_start(&idnat, "42", Channel::Card)
        .await
        .unwrap();
    assert_eq!((started.auth_req_id.as_str(), started.interval), ("abc", 2));
    let sent = psc.peer.requests().pop().unwrap();
    assert_eq!(
        sent.text(),
        "scope=openid+scope_all&acr_values=eidas1&login_hint=810001045367&binding_message=42&channel=CARD"
    );
    for (reply, reason) in [
        (oauth_error(400, "unknown_user_id"), "psc_unknown_user"),
        (oauth_error(401, "invalid_client"), "psc_invalid_client"),
        (Reply::status(502), "psc_server_error"),
        (
            json_reply(200, &json!({"nothing": 1})),
            "psc_malformed_answer",
        ),
    ] {
        psc.set(|a| a.ciba = reply);
        let err = client
            .ciba_start(&idnat, "42", Channel::Mobile)
            .await
            .unwrap_err();
        assert_eq!(err.reason(), reason);
    }
}

#[tokio::test]
async fn an_unreachable_or_silent_psc_fails_fast_with_its_own_error() {
    let psc = FakePsc::start().await;
    let app = app_on(&psc).await;
    let mut settings = app.state.settings.psc.clone();

    // A closed port.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    settings.issuer = format!("http://127.0.0.1:{port}{}", protocol::REALM_PATH);
    let client = PscClient::probe(&settings, app.clock.clone()).unwrap();
    let err = client.ciba_poll("x").await.unwrap_err();
    assert!(matches!(err, PscError::Unreachable), "{err:?}");
    assert!(err.transient());

    // A server that accepts the connection and never answers: bounded by timeout_ms.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = silent.local_addr().unwrap().port();
    let held = tokio::spawn(async move {
        let mut kept = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            kept.push(socket);
        }
    });
    settings.issuer = format!("http://127.0.0.1:{port}{}", protocol::REALM_PATH);
    settings.timeout_ms = 400;
    let client = PscClient::probe(&settings, app.clock.clone()).unwrap();
    let started = Instant::now();
    let err = client.ciba_poll("x").await.unwrap_err();
    let took = started.elapsed();
    assert!(matches!(err, PscError::Timeout), "{err:?}");
    assert!(
        took >= Duration::from_millis(350) && took < Duration::from_secs(3),
        "{took:?}"
    );
    held.abort();
}

#[tokio::test]
async fn a_malformed_discovery_or_an_empty_jwks_is_named() {
    let psc = FakePsc::start().await;
    let app = app_on(&psc).await;
    let base = psc.peer.url("");
    let good = discovery(&base, &psc.issuer);
    let mut no_jwks = good.clone();
    no_jwks.as_object_mut().unwrap().remove("jwks_uri");
    let mut no_token = good.clone();
    no_token.as_object_mut().unwrap().remove("token_endpoint");
    let another_issuer = discovery(&base, "https://auth.example/auth/realms/esante-wallet");
    let cases = [
        ("no jwks_uri", json_reply(200, &no_jwks)),
        ("no token endpoint", json_reply(200, &no_token)),
        ("another issuer", json_reply(200, &another_issuer)),
        (
            "not JSON",
            Reply::ok("text/html", "<html>proxy error</html>"),
        ),
        ("a 404", Reply::status(404)),
    ];
    for (what, reply) in cases {
        psc.set(|a| a.discovery = reply);
        let err = fresh_client(&app).check_discovery().await.unwrap_err();
        assert_eq!(err.reason(), "psc_discovery_malformed", "{what}: {err:?}");
    }
    psc.set(|a| a.discovery = json_reply(200, &good));
    for (what, jwks) in [
        ("no keys", json_reply(200, &json!({"keys": []}))),
        ("not a key set", json_reply(200, &json!({"keys": "none"}))),
        ("a 500", Reply::status(500)),
    ] {
        psc.set(|a| a.jwks = jwks);
        let err = fresh_client(&app).check_keys().await.unwrap_err();
        assert_eq!(err.reason(), "psc_jwks_empty", "{what}: {err:?}");
    }
}

#[tokio::test]
async fn userinfo_is_read_as_json_or_as_a_signed_jwt() {
    let psc = FakePsc::start().await;
    let app = app_on(&psc).await;
    // An ID token that does not name the IdNat: userinfo completes it.
    let mut claims = psc.claims(&app);
    for k in ["SubjectNameID", "preferred_username"] {
        claims.as_object_mut().unwrap().remove(k);
    }
    let sub = claims["sub"].clone();
    let id_token = sign(&psc.key, &claims);
    let info = json!({"sub": sub, "SubjectNameID": IDNAT, "codeCivilite": "MME",
                      "iss": psc.issuer, "aud": CLIENT_ID});
    let jwt_reply = |token: String| Reply {
        status: 200,
        content_type: "application/jwt".into(),
        body: token.into_bytes(),
    };

    psc.set(|a| a.userinfo = json_reply(200, &info));
    assert_eq!(
        poll_with(&psc, &app, &id_token).await.unwrap().as_str(),
        IDNAT
    );
    let read = psc
        .peer
        .requests()
        .into_iter()
        .rfind(|r| r.path.ends_with(protocol::USERINFO_PATH))
        .unwrap();
    assert_eq!(
        read.header("authorization"),
        Some("Bearer scripted-access-token")
    );

    psc.set(|a| a.userinfo = jwt_reply(sign(&psc.key, &info)));
    assert_eq!(
        poll_with(&psc, &app, &id_token).await.unwrap().as_str(),
        IDNAT
    );
    let ec = es256("psc-ec");
    psc.set(|a| {
        a.jwks = json_reply(200, &json!({"keys": [psc.key.public, ec.public]}));
        a.userinfo = jwt_reply(sign(&ec, &info));
    });
    assert_eq!(
        poll_with(&psc, &app, &id_token).await.unwrap().as_str(),
        IDNAT
    );

    // Refused: a forged signature, another audience, another subject, not JSON.
    let forged = rs256(&psc.key.kid);
    let mut for_another = info.clone();
    for_another["aud"] = json!("another-client");
    let mut other_sub = info.clone();
    other_sub["sub"] = json!("f:0000:810002345671");
    for (what, reply, reason) in [
        (
            "forged",
            jwt_reply(sign(&forged, &info)),
            "psc_bad_signature",
        ),
        (
            "another audience",
            jwt_reply(sign(&psc.key, &for_another)),
            "psc_wrong_audience",
        ),
        (
            "another subject",
            json_reply(200, &other_sub),
            "psc_protocol",
        ),
        (
            "not JSON",
            Reply::ok("application/json", "{"),
            "psc_malformed_answer",
        ),
    ] {
        psc.set(|a| a.userinfo = reply);
        let err = poll_with(&psc, &app, &id_token).await.unwrap_err();
        assert_eq!(err.reason(), reason, "{what}: {err:?}");
    }
}

/// The e-CPS login of `app` up to PSC's login page: the browser and PSC's authorization URL.
async fn to_psc(app: &TestApp, rp: &Rp) -> (crate::helpers::Browser, reqwest::Response) {
    let (url, _) = authorize_url(app, rp, &[]);
    let mut b = app.browser();
    let resp = b.get(&url).await;
    let login = resp.headers()["location"].to_str().unwrap().to_owned();
    let flow = query_param(&app.url(&login), "flow").unwrap();
    let resp = b.get(&format!("/login/psc?flow={flow}")).await;
    (b, resp)
}

#[tokio::test]
async fn a_refused_id_token_at_the_callback_opens_no_session_and_is_audited() {
    let psc = FakePsc::start().await;
    let app = app_on(&psc).await;
    let id = app.create_user("claire", "correct horse battery").await;
    trousseau::admin::users::link_rpps(
        &app.state,
        "claire",
        &IdNat::parse(IDNAT).unwrap(),
        LinkMethod::Admin,
        "test",
    )
    .await
    .unwrap();

    let rp = app.rp("portail").await;
    let (mut b, resp) = to_psc(&app, &rp).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let to = resp.headers()["location"].to_str().unwrap().to_owned();
    assert!(to.starts_with(&psc.peer.url("/wallet/auth")), "{to}");
    let state = query_param(&to, "state").unwrap();
    let nonce = query_param(&to, "nonce").unwrap();
    let mut claims = psc.claims(&app);
    claims["nonce"] = json!(nonce);
    claims["iss"] = json!("https://auth.example/auth/realms/esante-wallet");
    psc.set(|a| a.token = tokens(&sign(&psc.key, &claims)));

    let resp = b
        .get(&format!("/psc/callback?state={state}&code=abc"))
        .await;
    assert_eq!(resp.status(), StatusCode::BAD_GATEWAY);
    let html = resp.text().await.unwrap();
    assert!(
        html.contains("ne vient pas du Pro Santé Connect attendu"),
        "{html}"
    );
    assert!(!b.cookies.contains_key("__Host-trousseau_session"));
    assert_eq!(count(&app, "sso_sessions").await, 0);
    assert_eq!(count(&app, "pairings").await, 0);
    let audit = app.audit("login").await;
    let refused: Vec<_> = audit.iter().filter(|e| e.outcome == "failure").collect();
    assert_eq!(refused.len(), 1, "{audit:?}");
    assert_eq!(refused[0].reason.as_deref(), Some("psc_wrong_issuer"));
    assert!(audit.iter().all(|e| e.outcome != "success"));
    // The same login with a good token opens the session of the linked identity.
    let (mut b, resp) = to_psc(&app, &rp).await;
    let to = resp.headers()["location"].to_str().unwrap().to_owned();
    let mut claims = psc.claims(&app);
    claims["nonce"] = json!(query_param(&to, "nonce").unwrap());
    psc.set(|a| a.token = tokens(&sign(&psc.key, &claims)));
    let state = query_param(&to, "state").unwrap();
    let resp = b
        .get(&format!("/psc/callback?state={state}&code=def"))
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER, "{:?}", resp.headers());
    assert!(b.cookies.contains_key("__Host-trousseau_session"));
    let ok = app.audit("login").await;
    assert!(
        ok.iter()
            .any(|e| e.outcome == "success" && e.subject.as_deref() == Some(id.as_str())),
        "{ok:?}"
    );
}

#[tokio::test]
async fn an_unreachable_psc_tells_the_person_to_try_again() {
    let psc = FakePsc::start().await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let issuer = format!("http://127.0.0.1:{port}{}", protocol::REALM_PATH);
    let app = spawn_app_with(&psc.config(&issuer, 2000)).await;
    let rp = app.rp("portail").await;
    let (_, resp) = to_psc(&app, &rp).await;
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    let html = resp.text().await.unwrap();
    assert!(
        html.contains("Pro Santé Connect est injoignable, réessayez"),
        "{html}"
    );
    let audit = app.audit("login").await;
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(audit[0].reason.as_deref(), Some("psc_unreachable"));
    assert_eq!(count(&app, "psc_pending").await, 0);
    assert_eq!(count(&app, "sso_sessions").await, 0);
}

/// The pairing worker honours `slow_down` (CIBA Core §11): the next poll of that request waits
/// its interval plus five seconds, however often the worker's loop turns.
#[tokio::test]
async fn the_pairing_worker_waits_five_seconds_more_after_slow_down() {
    let psc = FakePsc::start().await;
    let app = app_on(&psc).await;
    psc.set(|a| {
        a.ciba = json_reply(
            200,
            &json!({"auth_req_id": "slow-1", "expires_in": 120, "interval": 1}),
        );
        a.token = oauth_error(400, "slow_down");
    });
    let id = app
        .create_user("lent", "correct horse battery staple")
        .await;
    trousseau::admin::users::link_rpps(
        &app.state,
        "lent",
        &IdNat::parse(IDNAT).unwrap(),
        LinkMethod::Admin,
        "test",
    )
    .await
    .unwrap();
    let who = trousseau::psc::pairing::Starter {
        identity_id: &id,
        session_id: "no-session",
        level: trousseau::authn::level::Level::Loa3,
        typed_idnat: None,
    };
    trousseau::psc::pairing::start_ciba(
        &app.state.ecps(),
        &who,
        &trousseau::audit::RequestContext::default(),
    )
    .await
    .unwrap();
    let polls = || {
        psc.peer
            .requests()
            .iter()
            .filter(|r| r.text().contains("auth_req_id=slow-1"))
            .count()
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while polls() == 0 {
        assert!(Instant::now() < deadline, "the worker never polled");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Without slow_down honoured, the 1-second interval would give three more polls here.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(polls(), 1, "the next poll waits interval + 5 s");
}
