//! Client authentication at the token endpoint: `private_key_jwt` (RFC 7523 §2.2, OIDC Core
//! §9), `client_secret_basic`, `client_secret_post` and public clients (`none`, with PKCE).

// Helpers of a test module fail loudly like the tests themselves (clippy.toml's
// allow-*-in-tests covers only #[test] functions).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use josekit::jwk::Jwk;
use josekit::jws::{ES256, JwsHeader, RS256};
use josekit::jwt::{self, JwtPayload};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use trousseau::clock::Clock;
use trousseau::oidc::client::GrantType;

use crate::helpers::{TestApp, authorize, authorize_url, error_code, query_param, spawn_app};

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
const USER: &str = "alice";
const PASSWORD: &str = "correct horse battery";

/// A client key pair: the private JWK signs, the public one is registered.
struct Key {
    alg: &'static str,
    private: Jwk,
    public: Value,
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

fn rs256(kid: &str) -> Key {
    let pair = RS256.generate_key_pair(2048).unwrap();
    key(
        "RS256",
        pair.to_jwk_key_pair(),
        pair.to_jwk_public_key(),
        kid,
    )
}

fn key(alg: &'static str, mut private: Jwk, mut public: Jwk, kid: &str) -> Key {
    private.set_key_id(kid);
    private.set_algorithm(alg);
    public.set_key_id(kid);
    public.set_algorithm(alg);
    public.set_key_use("sig");
    Key {
        alg,
        private,
        public: Value::Object(public.as_ref().clone()),
    }
}

/// The claims of a good assertion for `client_id`, expiring a minute from the server's now.
fn good_claims(app: &TestApp, client_id: &str) -> Value {
    let now = app.clock.now();
    json!({
        "iss": client_id,
        "sub": client_id,
        "aud": app.url("/token"),
        "iat": now,
        "exp": now + 60,
        "jti": uuid::Uuid::new_v4().to_string(),
    })
}

/// Signs `claims` with `key`, announcing `kid` in the header.
fn sign(key: &Key, kid: &str, claims: &Value) -> String {
    let mut jwk = key.private.clone();
    jwk.set_key_id(kid);
    let mut header = JwsHeader::new();
    header.set_token_type("JWT");
    header.set_key_id(kid);
    let payload = JwtPayload::from_map(claims.as_object().unwrap().clone()).unwrap();
    match key.alg {
        "ES256" => {
            jwt::encode_with_signer(&payload, &header, &ES256.signer_from_jwk(&jwk).unwrap())
        }
        _ => jwt::encode_with_signer(&payload, &header, &RS256.signer_from_jwk(&jwk).unwrap()),
    }
    .unwrap()
}

/// A confidential client that authenticates with its keys, and may use every grant.
async fn keyed_client(app: &TestApp, id: &str, keys: &[&Key]) {
    let mut spec = app.spec(id);
    spec.grants = vec![
        GrantType::AuthorizationCode,
        GrantType::RefreshToken,
        GrantType::ClientCredentials,
    ];
    spec.scopes.push("api.read".into());
    spec.jwks = Some(json!({ "keys": keys.iter().map(|k| k.public.clone()).collect::<Vec<_>>() }));
    let rp = app.register(spec).await;
    assert!(rp.secret.is_none(), "a client with keys gets no secret");
}

/// A client_credentials request authenticated by `assertion` (and any extra parameters).
async fn with_assertion(app: &TestApp, assertion: &str, extra: &[(&str, &str)]) -> Response {
    let mut form = vec![
        ("grant_type", "client_credentials"),
        ("client_assertion_type", JWT_BEARER),
        ("client_assertion", assertion),
    ];
    form.extend_from_slice(extra);
    app.post_form("/token", None, &form).await
}

async fn refusal_reasons(app: &TestApp) -> Vec<String> {
    app.audit("token_refused")
        .await
        .into_iter()
        .filter_map(|e| e.reason)
        .collect()
}

async fn assert_refused(app: &TestApp, resp: Response, reason: &str) {
    assert_eq!(
        error_code(resp).await,
        (StatusCode::UNAUTHORIZED, "invalid_client".into()),
        "{reason}"
    );
    let reasons = refusal_reasons(app).await;
    assert!(
        reasons.iter().any(|r| r == reason),
        "{reason} in {reasons:?}"
    );
}

/// One way to spoil the claims of a good assertion of `pacs` (the app gives the clock and issuer).
type Spoil = fn(&mut Value, &TestApp);

/// Each assertion of `pacs` spoiled one way and signed with its own key `ec-1` is refused with
/// its reason audited.
async fn assert_spoiled_refused(app: &TestApp, key: &Key, rows: &[(Spoil, &str)]) {
    for (spoil, reason) in rows {
        let mut claims = good_claims(app, "pacs");
        spoil(&mut claims, app);
        let resp = with_assertion(app, &sign(key, "ec-1", &claims), &[]).await;
        assert_refused(app, resp, reason).await;
    }
}

#[tokio::test]
async fn private_key_jwt_authenticates_with_es256_and_rs256_keys() {
    let app = spawn_app().await;
    let (ec, rsa) = (es256("ec-1"), rs256("rsa-1"));
    keyed_client(&app, "pacs", &[&ec, &rsa]).await;

    for (key, kid) in [(&ec, "ec-1"), (&rsa, "rsa-1")] {
        let assertion = sign(key, kid, &good_claims(&app, "pacs"));
        let resp = with_assertion(&app, &assertion, &[]).await;
        assert_eq!(
            resp.status(),
            StatusCode::OK,
            "{kid}: {:?}",
            resp.text().await
        );
        let body: Value = resp.json().await.unwrap();
        assert_eq!(
            crate::helpers::claims(body["access_token"].as_str().unwrap())["client_id"],
            "pacs"
        );
    }
    // client_id may accompany the assertion when it names the same client.
    let assertion = sign(&ec, "ec-1", &good_claims(&app, "pacs"));
    assert_eq!(
        with_assertion(&app, &assertion, &[("client_id", "pacs")])
            .await
            .status(),
        StatusCode::OK
    );
    // The audience may also be the issuer itself (RFC 7523 §3).
    let mut claims = good_claims(&app, "pacs");
    claims["aud"] = json!([app.issuer]);
    assert_eq!(
        with_assertion(&app, &sign(&ec, "ec-1", &claims), &[])
            .await
            .status(),
        StatusCode::OK
    );

    let issued = app.audit("token_issued").await;
    assert_eq!(
        issued
            .iter()
            .filter(|e| e.client_id.as_deref() == Some("pacs"))
            .count(),
        4
    );
}

#[tokio::test]
async fn private_key_jwt_works_for_the_code_flow() {
    let app = spawn_app().await;
    let ec = es256("ec-1");
    keyed_client(&app, "pacs", &[&ec]).await;
    app.create_user(USER, PASSWORD).await;
    let rp = crate::helpers::Rp {
        id: "pacs".into(),
        secret: None,
        redirect_uri: "https://pacs.example/cb".into(),
    };
    let (url, verifier) = authorize_url(&app, &rp, &[]);
    let mut browser = app.browser();
    let back = authorize(&mut browser, &url, Some((USER, PASSWORD))).await;
    let code = query_param(&back, "code").expect("a code");
    let assertion = sign(&ec, "ec-1", &good_claims(&app, "pacs"));
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", rp.redirect_uri.as_str()),
        ("code_verifier", verifier.as_str()),
        ("client_assertion_type", JWT_BEARER),
        ("client_assertion", assertion.as_str()),
    ];
    let resp = app.post_form("/token", None, &form).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let tokens: Value = resp.json().await.unwrap();
    assert_eq!(
        crate::helpers::claims(tokens["id_token"].as_str().unwrap())["aud"],
        "pacs"
    );

    // Refreshing needs a fresh assertion too.
    let assertion = sign(&ec, "ec-1", &good_claims(&app, "pacs"));
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ("client_assertion_type", JWT_BEARER),
        ("client_assertion", assertion.as_str()),
    ];
    assert_eq!(
        app.post_form("/token", None, &form).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_replayed_assertion_is_refused() {
    let app = spawn_app().await;
    let ec = es256("ec-1");
    keyed_client(&app, "pacs", &[&ec]).await;
    let assertion = sign(&ec, "ec-1", &good_claims(&app, "pacs"));
    assert_eq!(
        with_assertion(&app, &assertion, &[]).await.status(),
        StatusCode::OK
    );
    let resp = with_assertion(&app, &assertion, &[]).await;
    assert_refused(&app, resp, "assertion_replay").await;
    let events = app.audit("token_refused").await;
    assert_eq!(events[0].client_id.as_deref(), Some("pacs"));
}

#[tokio::test]
async fn an_assertion_signed_by_another_key_is_refused() {
    let app = spawn_app().await;
    let registered = es256("ec-1");
    keyed_client(&app, "pacs", &[&registered]).await;
    let impostor = es256("ec-1");
    let resp = with_assertion(
        &app,
        &sign(&impostor, "ec-1", &good_claims(&app, "pacs")),
        &[],
    )
    .await;
    assert_refused(&app, resp, "bad_assertion_signature").await;

    // Tampering with a genuine assertion breaks its signature too.
    let genuine = sign(&registered, "ec-1", &good_claims(&app, "pacs"));
    let mut parts: Vec<&str> = genuine.split('.').collect();
    let other = sign(&registered, "ec-1", &good_claims(&app, "pacs"));
    parts[1] = other.split('.').nth(1).unwrap();
    let resp = with_assertion(&app, &parts.join("."), &[]).await;
    assert_refused(&app, resp, "bad_assertion_signature").await;
}

#[tokio::test]
async fn an_assertion_with_an_unknown_kid_or_alg_is_refused() {
    let app = spawn_app().await;
    let registered = es256("ec-1");
    keyed_client(&app, "pacs", &[&registered]).await;
    let resp = with_assertion(
        &app,
        &sign(&registered, "ec-2", &good_claims(&app, "pacs")),
        &[],
    )
    .await;
    assert_refused(&app, resp, "unknown_kid").await;

    // An RSA key under the registered kid: no registered key has that kid and alg.
    let rsa = rs256("ec-1");
    let resp = with_assertion(&app, &sign(&rsa, "ec-1", &good_claims(&app, "pacs")), &[]).await;
    assert_refused(&app, resp, "unknown_kid").await;

    // An unsigned JWT is never accepted.
    let unsigned = format!(
        "{}.{}.",
        base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            r#"{"alg":"none","kid":"ec-1"}"#
        ),
        base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            good_claims(&app, "pacs").to_string()
        )
    );
    let resp = with_assertion(&app, &unsigned, &[]).await;
    assert_refused(&app, resp, "assertion_alg_refused").await;
}

#[tokio::test]
async fn an_expired_assertion_is_refused() {
    let app = spawn_app().await;
    let ec = es256("ec-1");
    keyed_client(&app, "pacs", &[&ec]).await;
    assert_spoiled_refused(
        &app,
        &ec,
        &[(
            |c, app| {
                c["iat"] = json!(app.clock.now() - 600);
                c["exp"] = json!(app.clock.now() - 60);
            },
            "assertion_expired",
        )],
    )
    .await;

    // Expiry follows the server's clock: a good assertion held too long expires as well.
    let late = sign(&ec, "ec-1", &good_claims(&app, "pacs"));
    app.clock.advance(120);
    let resp = with_assertion(&app, &late, &[]).await;
    assert_refused(&app, resp, "assertion_expired").await;

    // An assertion valid for hours is refused: it could be replayed for too long.
    assert_spoiled_refused(
        &app,
        &ec,
        &[(
            |c, app| c["exp"] = json!(app.clock.now() + 7200),
            "assertion_too_long",
        )],
    )
    .await;
}

#[tokio::test]
async fn an_assertion_for_another_audience_is_refused() {
    let app = spawn_app().await;
    let ec = es256("ec-1");
    keyed_client(&app, "pacs", &[&ec]).await;
    assert_spoiled_refused(
        &app,
        &ec,
        &[
            (
                |c, _| c["aud"] = json!("https://other-idp.example/token"),
                "assertion_wrong_audience",
            ),
            (
                |c, _| c["aud"] = json!(["https://other-idp.example"]),
                "assertion_wrong_audience",
            ),
            (
                |c, app| c["aud"] = json!(app.issuer.replace("127.0.0.1", "localhost")),
                "assertion_wrong_audience",
            ),
            (
                |c, _| {
                    c.as_object_mut().unwrap().remove("aud");
                },
                "assertion_wrong_audience",
            ),
        ],
    )
    .await;
}

#[tokio::test]
async fn a_malformed_assertion_is_refused() {
    let app = spawn_app().await;
    let ec = es256("ec-1");
    keyed_client(&app, "pacs", &[&ec]).await;
    keyed_client(&app, "other", &[&es256("ec-9")]).await;

    assert_spoiled_refused(
        &app,
        &ec,
        &[
            (|c, _| c["sub"] = json!("someone"), "malformed_assertion"),
            (
                |c, _| {
                    c.as_object_mut().unwrap().remove("jti");
                },
                "malformed_assertion",
            ),
        ],
    )
    .await;

    let resp = with_assertion(&app, "not-a-jwt", &[]).await;
    assert_refused(&app, resp, "malformed_assertion").await;

    // client_id naming another client than the assertion's issuer.
    let resp = with_assertion(
        &app,
        &sign(&ec, "ec-1", &good_claims(&app, "pacs")),
        &[("client_id", "other")],
    )
    .await;
    assert_refused(&app, resp, "client_id_mismatch").await;

    let form = [
        ("grant_type", "client_credentials"),
        ("client_assertion_type", "urn:example:other"),
        ("client_assertion", "x.y.z"),
    ];
    let resp = app.post_form("/token", None, &form).await;
    assert_refused(&app, resp, "bad_assertion_type").await;
}

#[tokio::test]
async fn an_assertion_with_a_secret_is_invalid_request() {
    let app = spawn_app().await;
    let ec = es256("ec-1");
    keyed_client(&app, "pacs", &[&ec]).await;
    let resp = with_assertion(
        &app,
        &sign(&ec, "ec-1", &good_claims(&app, "pacs")),
        &[("client_secret", "s3cret")],
    )
    .await;
    assert_eq!(
        error_code(resp).await,
        (StatusCode::BAD_REQUEST, "invalid_request".into())
    );

    let form = [
        ("grant_type", "client_credentials"),
        ("client_assertion_type", JWT_BEARER),
        (
            "client_assertion",
            &sign(&ec, "ec-1", &good_claims(&app, "pacs")),
        ),
    ];
    let resp = app
        .http
        .post(app.url("/token"))
        .basic_auth("pacs", Some("s3cret"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(resp).await,
        (StatusCode::BAD_REQUEST, "invalid_request".into())
    );

    let reasons = refusal_reasons(&app).await;
    assert_eq!(
        reasons
            .iter()
            .filter(|r| *r == "several_client_auth_methods")
            .count(),
        2,
        "{reasons:?}"
    );
}

#[tokio::test]
async fn each_client_uses_its_own_method_only() {
    let app = spawn_app().await;
    let ec = es256("ec-1");
    keyed_client(&app, "pacs", &[&ec]).await;
    let mut spec = app.spec("dpi");
    spec.grants.push(GrantType::ClientCredentials);
    let secret_client = app.register(spec).await;

    // A client with keys cannot fall back to a secret (it has none).
    let resp = app
        .http
        .post(app.url("/token"))
        .basic_auth("pacs", Some(""))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_refused(&app, resp, "wrong_client_auth_method").await;
    let resp = app
        .post_form(
            "/token",
            None,
            &[("grant_type", "client_credentials"), ("client_id", "pacs")],
        )
        .await;
    assert_refused(&app, resp, "wrong_client_auth_method").await;

    // A client with a secret cannot present an assertion, nor go without authentication.
    let assertion = sign(&ec, "ec-1", &good_claims(&app, "dpi"));
    let resp = with_assertion(&app, &assertion, &[]).await;
    assert_refused(&app, resp, "wrong_client_auth_method").await;
    let resp = app
        .post_form(
            "/token",
            None,
            &[("grant_type", "client_credentials"), ("client_id", "dpi")],
        )
        .await;
    assert_refused(&app, resp, "wrong_client_auth_method").await;
    assert_eq!(
        app.post_form(
            "/token",
            Some(&secret_client),
            &[("grant_type", "client_credentials")]
        )
        .await
        .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn client_secret_post_works_like_basic() {
    let app = spawn_app().await;
    let mut spec = app.spec("dpi");
    spec.grants.push(GrantType::ClientCredentials);
    spec.scopes.push("api.read".into());
    let rp = app.register(spec).await;
    let secret = rp.secret.clone().unwrap();

    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", "dpi"),
        ("client_secret", secret.as_str()),
    ];
    let resp = app.post_form("/token", None, &form).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["scope"], "api.read");

    // The code flow too.
    app.create_user(USER, PASSWORD).await;
    let (url, verifier) = authorize_url(&app, &rp, &[]);
    let mut browser = app.browser();
    let back = authorize(&mut browser, &url, Some((USER, PASSWORD))).await;
    let code = query_param(&back, "code").unwrap();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", rp.redirect_uri.as_str()),
        ("code_verifier", verifier.as_str()),
        ("client_id", "dpi"),
        ("client_secret", secret.as_str()),
    ];
    assert_eq!(
        app.post_form("/token", None, &form).await.status(),
        StatusCode::OK
    );

    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", "dpi"),
        ("client_secret", "wrong"),
    ];
    let resp = app.post_form("/token", None, &form).await;
    assert_refused(&app, resp, "wrong_client_secret").await;

    // Both at once is ambiguous.
    let form = [
        ("grant_type", "client_credentials"),
        ("client_secret", secret.as_str()),
    ];
    let resp = app.post_form("/token", Some(&rp), &form).await;
    assert_eq!(
        error_code(resp).await,
        (StatusCode::BAD_REQUEST, "invalid_request".into())
    );
    // Basic for one client, client_id for another.
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", "someone-else"),
    ];
    let resp = app.post_form("/token", Some(&rp), &form).await;
    assert_eq!(
        error_code(resp).await,
        (StatusCode::BAD_REQUEST, "invalid_request".into())
    );
    let reasons = refusal_reasons(&app).await;
    assert!(
        reasons.iter().any(|r| r == "several_client_auth_methods"),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r == "client_id_mismatch"),
        "{reasons:?}"
    );
}

#[tokio::test]
async fn a_public_client_uses_pkce_and_no_secret() {
    let app = spawn_app().await;
    let mut spec = app.spec("mobile");
    spec.public = true;
    let rp = app.register(spec).await;
    assert!(rp.secret.is_none());
    app.create_user(USER, PASSWORD).await;
    let mut browser = app.browser();

    let (url, verifier) = authorize_url(&app, &rp, &[]);
    let back = authorize(&mut browser, &url, Some((USER, PASSWORD))).await;
    let code = query_param(&back, "code").unwrap();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", rp.redirect_uri.as_str()),
        ("code_verifier", verifier.as_str()),
        ("client_id", "mobile"),
    ];
    let resp = app.post_form("/token", None, &form).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let tokens: Value = resp.json().await.unwrap();
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ("client_id", "mobile"),
    ];
    assert_eq!(
        app.post_form("/token", None, &form).await.status(),
        StatusCode::OK
    );

    // Without the verifier the code is useless to whoever intercepts it.
    let (url, _) = authorize_url(&app, &rp, &[]);
    let back = authorize(&mut browser, &url, Some((USER, PASSWORD))).await;
    let code = query_param(&back, "code").unwrap();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", rp.redirect_uri.as_str()),
        ("client_id", "mobile"),
    ];
    let resp = app.post_form("/token", None, &form).await;
    assert_eq!(
        error_code(resp).await,
        (StatusCode::BAD_REQUEST, "invalid_grant".into())
    );

    // No client_credentials for a client that cannot keep a secret.
    let resp = app
        .post_form(
            "/token",
            None,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", "mobile"),
            ],
        )
        .await;
    assert_eq!(
        error_code(resp).await,
        (StatusCode::BAD_REQUEST, "unauthorized_client".into())
    );

    // A public client presenting a secret is not what it was registered as.
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", "mobile"),
        ("client_secret", "guess"),
    ];
    let resp = app.post_form("/token", None, &form).await;
    assert_refused(&app, resp, "wrong_client_auth_method").await;

    // Nor may it introspect.
    let resp = app
        .post_form(
            "/introspect",
            None,
            &[
                ("token", tokens["access_token"].as_str().unwrap()),
                ("client_id", "mobile"),
            ],
        )
        .await;
    assert_eq!(
        error_code(resp).await,
        (StatusCode::UNAUTHORIZED, "invalid_client".into())
    );

    let reasons = refusal_reasons(&app).await;
    for r in [
        "pkce_missing",
        "grant_not_allowed",
        "wrong_client_auth_method",
    ] {
        assert!(reasons.iter().any(|x| x == r), "{r} in {reasons:?}");
    }
}

#[tokio::test]
async fn a_public_client_must_send_a_pkce_challenge() {
    let app = spawn_app().await;
    let mut spec = app.spec("mobile");
    spec.public = true;
    let rp = app.register(spec).await;
    let mut url = url::Url::parse(&app.url("/authorize")).unwrap();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &rp.id)
        .append_pair("redirect_uri", &rp.redirect_uri)
        .append_pair("scope", "openid")
        .append_pair("state", "s");
    let resp = app.http.get(url.as_str()).send().await.unwrap();
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(
        query_param(&location, "error").as_deref(),
        Some("invalid_request")
    );
    let events = app.audit("authorization_refused").await;
    assert!(
        events
            .iter()
            .any(|e| e.reason.as_deref() == Some("pkce_required"))
    );
}
