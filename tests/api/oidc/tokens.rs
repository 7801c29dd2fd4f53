//! The token endpoint's grants and what the tokens are good for: JWT access tokens (RFC 9068),
//! client_credentials (RFC 6749 §4.4), refresh rotation and reuse detection (RFC 9700 §4.14),
//! introspection (RFC 7662), revocation (RFC 7009), UserInfo (OIDC Core §5.3) and ID tokens.

// Helpers of a test module fail loudly like the tests themselves (clippy.toml's
// allow-*-in-tests covers only #[test] functions).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::header::{CACHE_CONTROL, WWW_AUTHENTICATE};
use reqwest::{Response, StatusCode};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use trousseau::clock::Clock;
use trousseau::oidc::client::GrantType;
use trousseau::oidc::keys::SigningAlg;

use crate::helpers::{Rp, TestApp, claims, error_code, login_tokens, spawn_app};

const USER: &str = "alice";
const PASSWORD: &str = "correct horse battery";

/// The protected header of a JWT.
fn header(jwt: &str) -> Value {
    let part = jwt.split('.').next().expect("a JWT");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("JSON header")
}

/// A machine client: client_credentials only, with two API scopes and the user scopes that
/// must never reach it.
async fn machine(app: &TestApp, id: &str, alg: SigningAlg) -> Rp {
    let mut spec = app.spec(id);
    spec.grants = vec![GrantType::ClientCredentials];
    spec.scopes = ["openid", "profile", "api.read", "api.write"]
        .map(str::to_owned)
        .to_vec();
    spec.signing_alg = alg;
    app.register(spec).await
}

async fn client_credentials(app: &TestApp, rp: &Rp, scope: Option<&str>) -> Response {
    let mut form = vec![("grant_type", "client_credentials")];
    if let Some(s) = scope {
        form.push(("scope", s));
    }
    app.post_form("/token", Some(rp), &form).await
}

async fn refresh(app: &TestApp, rp: &Rp, token: &str, scope: Option<&str>) -> Response {
    let mut form = vec![("grant_type", "refresh_token"), ("refresh_token", token)];
    if let Some(s) = scope {
        form.push(("scope", s));
    }
    app.post_form("/token", Some(rp), &form).await
}

async fn introspect(app: &TestApp, rp: &Rp, token: &str) -> Value {
    let resp = app
        .post_form("/introspect", Some(rp), &[("token", token)])
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()[CACHE_CONTROL], "no-store");
    resp.json().await.expect("introspection JSON")
}

async fn revoke(app: &TestApp, rp: &Rp, token: &str) {
    let resp = app
        .post_form("/revoke", Some(rp), &[("token", token)])
        .await;
    assert_eq!(
        resp.status(),
        StatusCode::OK,
        "revocation answers 200 whatever the token"
    );
}

async fn userinfo(app: &TestApp, token: &str) -> Response {
    app.http
        .get(app.url("/userinfo"))
        .bearer_auth(token)
        .send()
        .await
        .expect("userinfo")
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} is a string in {v}"))
}

/// Verifies a token against the key the JWKS publishes under its `kid`, and returns its claims.
async fn verify_published(app: &TestApp, token: &str, alg: SigningAlg) -> Map<String, Value> {
    let h = header(token);
    assert_eq!(h["alg"], alg.as_str());
    let kid = str_of(&h, "kid");
    let jwks: Value = app
        .http
        .get(app.url("/jwks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid)
        .unwrap_or_else(|| panic!("kid {kid} is published in {jwks}"));
    assert_eq!(key["alg"], alg.as_str());
    let jwk = josekit::jwk::Jwk::from_map(key.as_object().unwrap().clone()).unwrap();
    let (payload, _) = match alg {
        SigningAlg::Es256 => {
            let v = josekit::jws::ES256.verifier_from_jwk(&jwk).unwrap();
            josekit::jwt::decode_with_verifier(token, &v)
        }
        SigningAlg::Rs256 => {
            let v = josekit::jws::RS256.verifier_from_jwk(&jwk).unwrap();
            josekit::jwt::decode_with_verifier(token, &v)
        }
        SigningAlg::Ps256 => {
            let v = josekit::jws::PS256.verifier_from_jwk(&jwk).unwrap();
            josekit::jwt::decode_with_verifier(token, &v)
        }
    }
    .expect("the signature verifies with the published key");
    payload.claims_set().clone()
}

/// A first-party client and a signed-in user's first token response.
async fn signed_in(app: &TestApp) -> (Rp, String, Value) {
    let rp = app.rp("dpi").await;
    let user_id = app.create_user(USER, PASSWORD).await;
    let mut browser = app.browser();
    let tokens = login_tokens(app, &mut browser, &rp, USER, PASSWORD).await;
    (rp, user_id, tokens)
}

#[tokio::test]
async fn client_credentials_gives_an_es256_jwt_access_token() {
    let app = spawn_app().await;
    let rp = machine(&app, "labo", SigningAlg::Es256).await;
    let resp = client_credentials(&app, &rp, None).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()[CACHE_CONTROL], "no-store");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 300);
    assert!(
        body.get("refresh_token").is_none(),
        "no refresh token for a client acting for itself"
    );
    assert!(body.get("id_token").is_none(), "no ID token without a user");
    assert_eq!(body["scope"], "api.read api.write");

    let token = str_of(&body, "access_token");
    let h = header(token);
    assert_eq!(h["typ"], "at+jwt", "RFC 9068 §2.1");
    assert_eq!(h["alg"], "ES256");
    let c = verify_published(&app, token, SigningAlg::Es256).await;
    assert_eq!(c["iss"], app.issuer);
    assert_eq!(c["sub"], "labo");
    assert_eq!(c["client_id"], "labo");
    assert_eq!(c["scope"], "api.read api.write");
    assert_eq!(c["iat"], app.clock.now());
    assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), 300);
    assert!(c["jti"].as_str().is_some_and(|j| !j.is_empty()));
    assert!(
        c.get("sid").is_none() && c.get("auth_time").is_none(),
        "no login behind it"
    );
    let i = introspect(&app, &rp, token).await;
    assert_eq!(i["active"], true);
    assert_eq!(i["sub"], "labo");
    assert_eq!(i["scope"], "api.read api.write");

    let issued = app.audit("token_issued").await;
    let ev = issued
        .iter()
        .find(|e| e.client_id.as_deref() == Some("labo"))
        .expect("token_issued");
    assert_eq!(ev.outcome, "success");
    assert_eq!(ev.subject.as_deref(), Some("labo"));
    let details: Value = serde_json::from_str(ev.details.as_deref().unwrap()).unwrap();
    assert_eq!(details["grant"], "client_credentials");
    assert_eq!(details["jti"], c["jti"]);
}

#[tokio::test]
async fn client_credentials_signs_with_the_clients_algorithm() {
    let app = spawn_app().await;
    for alg in [SigningAlg::Rs256, SigningAlg::Ps256] {
        let id = format!("batch-{}", alg.as_str().to_lowercase());
        let rp = machine(&app, &id, alg).await;
        let resp = client_credentials(&app, &rp, Some("api.read")).await;
        assert_eq!(resp.status(), StatusCode::OK, "{}", alg.as_str());
        let body: Value = resp.json().await.unwrap();
        let token = str_of(&body, "access_token");
        assert_eq!(header(token)["typ"], "at+jwt");
        let c = verify_published(&app, token, alg).await;
        assert_eq!(c["client_id"], id);
        assert_eq!(c["sub"], id);
    }
}

#[tokio::test]
async fn client_credentials_narrows_scope_and_refuses_unknown_ones() {
    let app = spawn_app().await;
    let rp = machine(&app, "labo", SigningAlg::Rs256).await;

    let body: Value = client_credentials(&app, &rp, Some("api.read"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["scope"], "api.read");
    assert_eq!(claims(str_of(&body, "access_token"))["scope"], "api.read");

    let resp = client_credentials(&app, &rp, Some("api.read api.admin")).await;
    assert_eq!(
        resp.headers()[CACHE_CONTROL],
        "no-store",
        "errors are not cached either"
    );
    assert_eq!(
        error_code(resp).await,
        (StatusCode::BAD_REQUEST, "invalid_scope".into())
    );
    let refused = app.audit("token_refused").await;
    assert!(
        refused
            .iter()
            .any(|e| e.reason.as_deref() == Some("scope_not_allowed")
                && e.client_id.as_deref() == Some("labo")),
        "{refused:?}"
    );
}

#[tokio::test]
async fn client_credentials_never_grants_user_scopes() {
    let app = spawn_app().await;
    let rp = machine(&app, "labo", SigningAlg::Rs256).await;
    // The client is registered with openid and profile, yet a token for itself carries neither.
    let body: Value = client_credentials(&app, &rp, None)
        .await
        .json()
        .await
        .unwrap();
    let granted = str_of(&body, "scope");
    assert!(
        !granted.split(' ').any(|s| s == "openid" || s == "profile"),
        "{granted}"
    );
    for asked in ["openid", "profile", "openid api.read", "api.read profile"] {
        let resp = client_credentials(&app, &rp, Some(asked)).await;
        assert_eq!(
            error_code(resp).await,
            (StatusCode::BAD_REQUEST, "invalid_scope".into()),
            "{asked}"
        );
    }
    // Such a token therefore cannot read a person's claims.
    let resp = userinfo(&app, str_of(&body, "access_token")).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn refresh_rotates_and_a_reused_token_revokes_the_family() {
    let app = spawn_app().await;
    let (rp, user_id, first) = signed_in(&app).await;
    let rt1 = str_of(&first, "refresh_token");

    let resp = refresh(&app, &rp, rt1, None).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()[CACHE_CONTROL], "no-store");
    let second: Value = resp.json().await.unwrap();
    let rt2 = str_of(&second, "refresh_token");
    assert_ne!(rt1, rt2, "the refresh token rotates");
    assert_ne!(first["access_token"], second["access_token"]);
    assert_eq!(second["scope"], "openid profile email");
    assert!(
        second["id_token"].is_string(),
        "openid was granted: a new ID token comes too"
    );

    let resp = refresh(&app, &rp, rt2, None).await;
    assert_eq!(resp.status(), StatusCode::OK, "the newest token works once");
    let third: Value = resp.json().await.unwrap();
    let rt3 = str_of(&third, "refresh_token");

    // An attacker (or a confused client) presents an old token: the whole family goes.
    let resp = refresh(&app, &rp, rt1, None).await;
    assert_eq!(
        error_code(resp).await,
        (StatusCode::BAD_REQUEST, "invalid_grant".into())
    );
    let resp = refresh(&app, &rp, rt3, None).await;
    assert_eq!(
        error_code(resp).await,
        (StatusCode::BAD_REQUEST, "invalid_grant".into()),
        "the newest is revoked too"
    );
    assert_eq!(introspect(&app, &rp, rt3).await["active"], false);

    let reuse = app.audit("refresh_reuse_detected").await;
    assert_eq!(reuse.len(), 1, "{reuse:?}");
    assert_eq!(reuse[0].outcome, "failure");
    assert_eq!(reuse[0].client_id.as_deref(), Some("dpi"));
    assert_eq!(reuse[0].subject.as_deref(), Some(user_id.as_str()));
    let refused = app.audit("token_refused").await;
    let reasons: Vec<_> = refused.iter().filter_map(|e| e.reason.as_deref()).collect();
    assert!(
        reasons.contains(&"refresh_reuse") && reasons.contains(&"refresh_revoked"),
        "{reasons:?}"
    );
}

#[tokio::test]
async fn refresh_may_narrow_the_scope_but_not_widen_it() {
    let app = spawn_app().await;
    let (rp, _, first) = signed_in(&app).await;
    let rt = str_of(&first, "refresh_token");

    let resp = refresh(&app, &rp, rt, Some("openid profile")).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let narrowed: Value = resp.json().await.unwrap();
    assert_eq!(narrowed["scope"], "openid profile");
    assert_eq!(
        claims(str_of(&narrowed, "access_token"))["scope"],
        "openid profile"
    );
    let id = claims(str_of(&narrowed, "id_token"));
    assert!(
        id.get("given_name").is_some() && id.get("email").is_none(),
        "{id}"
    );

    // offline_access is allowed to the client but was not granted: asking for it widens.
    let rt = str_of(&narrowed, "refresh_token");
    let resp = refresh(&app, &rp, rt, Some("openid offline_access")).await;
    assert_eq!(
        error_code(resp).await,
        (StatusCode::BAD_REQUEST, "invalid_scope".into())
    );
    let refused = app.audit("token_refused").await;
    assert!(
        refused
            .iter()
            .any(|e| e.reason.as_deref() == Some("scope_widening")),
        "{refused:?}"
    );

    // A refused request does not burn the token: the client may correct itself and retry,
    // without setting off reuse detection.
    let resp = refresh(&app, &rp, rt, Some("openid")).await;
    assert_eq!(resp.status(), StatusCode::OK, "{:?}", resp.text().await);
    assert!(app.audit("refresh_reuse_detected").await.is_empty());
}

#[tokio::test]
async fn introspection_reports_access_and_refresh_tokens_until_revoked() {
    let app = spawn_app().await;
    let (rp, user_id, tokens) = signed_in(&app).await;
    let at = str_of(&tokens, "access_token");
    let rt = str_of(&tokens, "refresh_token");

    let a = introspect(&app, &rp, at).await;
    assert_eq!(a["active"], true);
    assert_eq!(a["token_type"], "Bearer");
    assert_eq!(a["sub"], user_id);
    assert_eq!(a["client_id"], "dpi");
    assert_eq!(a["scope"], "openid profile email");
    assert_eq!(a["iss"], app.issuer);
    assert_eq!(a["acr"], "loa1");
    assert!(a["exp"].as_i64().unwrap() > app.clock.now());

    let r = introspect(&app, &rp, rt).await;
    assert_eq!(r["active"], true);
    assert_eq!(r["token_type"], "refresh_token");
    assert_eq!(r["sub"], user_id);
    assert_eq!(r["client_id"], "dpi");
    assert_eq!(r["scope"], "openid profile email");

    assert_eq!(
        introspect(&app, &rp, "not-a-token").await,
        serde_json::json!({ "active": false })
    );

    revoke(&app, &rp, rt).await;
    assert_eq!(
        introspect(&app, &rp, rt).await,
        serde_json::json!({ "active": false })
    );
    let resp = refresh(&app, &rp, rt, None).await;
    assert_eq!(
        error_code(resp).await,
        (StatusCode::BAD_REQUEST, "invalid_grant".into())
    );

    revoke(&app, &rp, at).await;
    assert_eq!(
        introspect(&app, &rp, at).await,
        serde_json::json!({ "active": false })
    );

    let revoked = app.audit("token_revoked").await;
    let what: Vec<Value> = revoked
        .iter()
        .map(|e| {
            serde_json::from_str::<Value>(e.details.as_deref().unwrap()).unwrap()["token"].clone()
        })
        .collect();
    assert!(
        what.contains(&"refresh_token".into()) && what.contains(&"access_token".into()),
        "{what:?}"
    );
    assert!(!app.audit("token_introspected").await.is_empty());
}

#[tokio::test]
async fn introspection_searches_every_token_type_whatever_the_hint() {
    let app = spawn_app().await;
    let (rp, _, tokens) = signed_in(&app).await;
    let at = str_of(&tokens, "access_token");
    let rt = str_of(&tokens, "refresh_token");
    // RFC 7662 §2.1: a wrong hint must not hide a token.
    for (token, hint, kind) in [
        (at, "refresh_token", "Bearer"),
        (at, "access_token", "Bearer"),
        (rt, "access_token", "refresh_token"),
        (rt, "refresh_token", "refresh_token"),
    ] {
        let resp = app
            .post_form(
                "/introspect",
                Some(&rp),
                &[("token", token), ("token_type_hint", hint)],
            )
            .await;
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["active"], true, "{kind} with hint {hint}");
        assert_eq!(body["token_type"], kind);
    }
    // A rotated refresh token is no longer active; its successor is.
    let next: Value = refresh(&app, &rp, rt, None).await.json().await.unwrap();
    assert_eq!(introspect(&app, &rp, rt).await["active"], false);
    assert_eq!(
        introspect(&app, &rp, str_of(&next, "refresh_token")).await["active"],
        true
    );
    assert!(
        app.audit("refresh_reuse_detected").await.is_empty(),
        "introspection does not use the token"
    );
}

#[tokio::test]
async fn introspection_reports_an_expired_access_token_inactive() {
    let app = spawn_app().await;
    let (rp, _, tokens) = signed_in(&app).await;
    app.clock.advance(301);
    assert_eq!(
        introspect(&app, &rp, str_of(&tokens, "access_token")).await["active"],
        false
    );
    assert_eq!(
        introspect(&app, &rp, str_of(&tokens, "refresh_token")).await["active"],
        true
    );
}

#[tokio::test]
async fn introspection_requires_client_authentication() {
    let app = spawn_app().await;
    let (rp, _, tokens) = signed_in(&app).await;
    let resp = app
        .http
        .post(app.url("/introspect"))
        .form(&[("token", str_of(&tokens, "access_token"))])
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(resp).await,
        (StatusCode::UNAUTHORIZED, "invalid_client".into())
    );
    let wrong = Rp {
        secret: Some("wrong".into()),
        ..rp
    };
    let resp = app
        .post_form(
            "/introspect",
            Some(&wrong),
            &[("token", str_of(&tokens, "access_token"))],
        )
        .await;
    assert_eq!(
        error_code(resp).await,
        (StatusCode::UNAUTHORIZED, "invalid_client".into())
    );
    let refused = app.audit("introspection_refused").await;
    let reasons: Vec<_> = refused.iter().filter_map(|e| e.reason.as_deref()).collect();
    assert!(
        reasons.contains(&"no_client_auth") && reasons.contains(&"wrong_client_secret"),
        "{reasons:?}"
    );
}

#[tokio::test]
async fn a_revoked_access_token_is_refused_at_userinfo() {
    let app = spawn_app().await;
    let (rp, _, tokens) = signed_in(&app).await;
    let at = str_of(&tokens, "access_token");
    assert_eq!(userinfo(&app, at).await.status(), StatusCode::OK);

    revoke(&app, &rp, at).await;
    let resp = userinfo(&app, at).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let challenge = resp.headers()[WWW_AUTHENTICATE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        challenge.starts_with("Bearer ") && challenge.contains("error=\"invalid_token\""),
        "{challenge}"
    );
    assert_eq!(error_code(resp).await.1, "invalid_token");
    let refused = app.audit("userinfo_refused").await;
    assert!(
        refused
            .iter()
            .any(|e| e.reason.as_deref() == Some("token_revoked")),
        "{refused:?}"
    );

    // The refresh token was not touched by revoking the access token.
    assert_eq!(
        refresh(&app, &rp, str_of(&tokens, "refresh_token"), None)
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn revocation_requires_client_authentication_and_a_token() {
    let app = spawn_app().await;
    let (rp, _, tokens) = signed_in(&app).await;
    let at = str_of(&tokens, "access_token");
    let resp = app
        .http
        .post(app.url("/revoke"))
        .form(&[("token", at)])
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(resp).await,
        (StatusCode::UNAUTHORIZED, "invalid_client".into())
    );
    let resp = app
        .post_form("/revoke", Some(&rp), &[("token_type_hint", "access_token")])
        .await;
    assert_eq!(
        error_code(resp).await,
        (StatusCode::BAD_REQUEST, "invalid_request".into())
    );
    // An unknown token is answered 200, as if revoked (RFC 7009 §2.2).
    revoke(&app, &rp, "no-such-token").await;
    assert_eq!(
        userinfo(&app, at).await.status(),
        StatusCode::OK,
        "nothing was revoked"
    );
    let refused = app.audit("revocation_refused").await;
    assert!(
        refused
            .iter()
            .any(|e| e.reason.as_deref() == Some("no_client_auth"))
    );
}

#[tokio::test]
async fn revoking_another_clients_token_does_nothing() {
    let app = spawn_app().await;
    let (rp, _, tokens) = signed_in(&app).await;
    let other = app.rp("intruder").await;
    let at = str_of(&tokens, "access_token");
    let rt = str_of(&tokens, "refresh_token");

    revoke(&app, &other, at).await;
    revoke(&app, &other, rt).await;

    assert_eq!(
        userinfo(&app, at).await.status(),
        StatusCode::OK,
        "the access token still works"
    );
    assert_eq!(introspect(&app, &rp, at).await["active"], true);
    assert_eq!(introspect(&app, &rp, rt).await["active"], true);
    assert_eq!(
        refresh(&app, &rp, rt, None).await.status(),
        StatusCode::OK,
        "the refresh token still works"
    );

    let revoked = app.audit("token_revoked").await;
    assert_eq!(revoked.len(), 2);
    for e in &revoked {
        assert_eq!(e.client_id.as_deref(), Some("intruder"));
        let details: Value = serde_json::from_str(e.details.as_deref().unwrap()).unwrap();
        assert_eq!(details["token"], "token_of_other_client");
    }
}

#[tokio::test]
async fn userinfo_answers_get_and_post() {
    let app = spawn_app().await;
    let (_, user_id, tokens) = signed_in(&app).await;
    let at = str_of(&tokens, "access_token");

    let resp = userinfo(&app, at).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()[CACHE_CONTROL], "no-store");
    let by_get: Value = resp.json().await.unwrap();
    assert_eq!(by_get["sub"], user_id);
    assert_eq!(by_get["given_name"], "Alice");
    assert_eq!(by_get["family_name"], "Martin");
    assert_eq!(by_get["name"], "Alice Martin");
    assert_eq!(by_get["preferred_username"], USER);
    assert_eq!(by_get["email"], format!("{USER}@chu.example"));

    let resp = app
        .http
        .post(app.url("/userinfo"))
        .bearer_auth(at)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.json::<Value>().await.unwrap(), by_get);

    let resp = app
        .http
        .get(app.url("/userinfo"))
        .header("authorization", format!("bearer {at}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        StatusCode::OK,
        "the scheme is case-insensitive (RFC 7235 §2.1)"
    );

    let resp = app
        .http
        .post(app.url("/userinfo"))
        .form(&[("access_token", at)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK, "RFC 6750 §2.2 form body");
    assert_eq!(resp.json::<Value>().await.unwrap(), by_get);

    // The token may be sent one way only.
    let resp = app
        .http
        .post(app.url("/userinfo"))
        .bearer_auth(at)
        .form(&[("access_token", at)])
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(resp).await,
        (StatusCode::BAD_REQUEST, "invalid_request".into())
    );

    let resp = app.http.get(app.url("/userinfo")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(
        resp.headers()[WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
}

#[tokio::test]
async fn userinfo_without_the_openid_scope_is_forbidden() {
    let app = spawn_app().await;
    let (rp, _, tokens) = signed_in(&app).await;
    let resp = refresh(
        &app,
        &rp,
        str_of(&tokens, "refresh_token"),
        Some("profile email"),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let narrowed: Value = resp.json().await.unwrap();
    assert!(narrowed.get("id_token").is_none(), "no openid, no ID token");

    let resp = userinfo(&app, str_of(&narrowed, "access_token")).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let challenge = resp.headers()[WWW_AUTHENTICATE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        challenge.starts_with("Bearer ") && challenge.contains("error=\"insufficient_scope\""),
        "{challenge}"
    );
    assert_eq!(error_code(resp).await.1, "insufficient_scope");
}

#[tokio::test]
async fn id_token_describes_the_login() {
    let app = spawn_app().await;
    let login_time = app.clock.now();
    let (rp, user_id, tokens) = signed_in(&app).await;
    let id_token = str_of(&tokens, "id_token");
    let at = str_of(&tokens, "access_token");
    let c = verify_published(&app, id_token, SigningAlg::Rs256).await;
    assert_eq!(c["iss"], app.issuer);
    assert_eq!(c["sub"], user_id);
    assert_eq!(c["aud"], rp.id);
    assert_eq!(c["azp"], rp.id);
    assert_eq!(c["auth_time"], login_time);
    assert_eq!(c["acr"], "loa1");
    assert_eq!(c["amr"], serde_json::json!(["pwd"]));
    assert!(c["sid"].as_str().is_some_and(|s| !s.is_empty()));
    assert_eq!(c["nonce"], "n0nce");
    assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), 300);
    let digest = Sha256::digest(at.as_bytes());
    assert_eq!(
        c["at_hash"],
        URL_SAFE_NO_PAD.encode(&digest[..16]),
        "OIDC Core §3.1.3.6"
    );
    assert_eq!(c["given_name"], "Alice");
    assert_eq!(c["email"], format!("{USER}@chu.example"));

    // The access token describes the same login.
    let a = claims(at);
    assert_eq!(header(at)["typ"], "at+jwt");
    assert_eq!(a["sid"], c["sid"]);
    assert_eq!(a["acr"], "loa1");
    assert_eq!(a["amr"], c["amr"]);
    assert_eq!(a["auth_time"], login_time);
    assert_eq!(a["client_id"], rp.id);

    // A refreshed ID token keeps the login's facts, and has no nonce of its own.
    app.clock.advance(60);
    let resp = refresh(&app, &rp, str_of(&tokens, "refresh_token"), None).await;
    let again: Value = resp.json().await.unwrap();
    let c2 = claims(str_of(&again, "id_token"));
    assert_eq!(c2["auth_time"], login_time);
    assert_eq!(c2["sid"], c["sid"]);
    assert_eq!(c2["acr"], "loa1");
    assert_eq!(c2["iat"], login_time + 60);
    assert!(c2.get("nonce").is_none());
    let digest = Sha256::digest(str_of(&again, "access_token").as_bytes());
    assert_eq!(c2["at_hash"], URL_SAFE_NO_PAD.encode(&digest[..16]));
}

#[tokio::test]
async fn every_grant_is_audited_and_never_cached() {
    let app = spawn_app().await;
    let (rp, user_id, tokens) = signed_in(&app).await;
    let resp = refresh(&app, &rp, str_of(&tokens, "refresh_token"), None).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()[CACHE_CONTROL], "no-store");
    assert_eq!(resp.headers()["pragma"], "no-cache");
    let m = machine(&app, "labo", SigningAlg::Es256).await;
    let resp = client_credentials(&app, &m, None).await;
    assert_eq!(resp.headers()[CACHE_CONTROL], "no-store");

    let issued = app.audit("token_issued").await;
    let grant_of = |e: &trousseau::storage::audit::AuditRecord| {
        serde_json::from_str::<Value>(e.details.as_deref().unwrap()).unwrap()["grant"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    for (grant, client, sub) in [
        ("authorization_code", "dpi", user_id.as_str()),
        ("refresh_token", "dpi", user_id.as_str()),
        ("client_credentials", "labo", "labo"),
    ] {
        let ev = issued
            .iter()
            .find(|e| grant_of(e) == grant)
            .unwrap_or_else(|| panic!("{grant} audited: {issued:?}"));
        assert_eq!(ev.client_id.as_deref(), Some(client));
        assert_eq!(ev.subject.as_deref(), Some(sub));
        assert_eq!(ev.outcome, "success");
        assert!(ev.source_ip.is_some(), "the source address is recorded");
    }
}

// --- An access token lives no longer than what it was issued from ---

/// `url` with the parameter `name` set to `value` (replacing it).
fn set_param(url: &str, name: &str, value: &str) -> String {
    let mut parsed = url::Url::parse(url).expect("absolute URL");
    let pairs: Vec<(String, String)> = parsed
        .query_pairs()
        .filter(|(k, _)| k != name)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    parsed
        .query_pairs_mut()
        .clear()
        .extend_pairs(pairs)
        .append_pair(name, value);
    parsed.to_string()
}

/// Asserts an access token is refused at UserInfo (audited with `reason`) and reported inactive
/// to the client it was issued to.
async fn assert_dead(app: &TestApp, rp: &Rp, access: &str, reason: &str) {
    let resp = userinfo(app, access).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{reason}");
    assert_eq!(error_code(resp).await.1, "invalid_token");
    assert_eq!(
        introspect(app, rp, access).await,
        serde_json::json!({ "active": false }),
        "{reason}"
    );
    let refused = app.audit("userinfo_refused").await;
    assert!(
        refused.iter().any(|e| e.reason.as_deref() == Some(reason)),
        "userinfo_refused {reason} in {refused:?}"
    );
}

#[tokio::test]
async fn a_suspended_persons_access_token_is_inactive_at_introspection_and_userinfo() {
    let app = spawn_app().await;
    let (rp, _, tokens) = signed_in(&app).await;
    let at = str_of(&tokens, "access_token");
    assert_eq!(introspect(&app, &rp, at).await["active"], true);

    trousseau::admin::users::disable(&app.state, USER, "left the hospital", "test")
        .await
        .unwrap();
    assert_dead(&app, &rp, at, "identity_inactive").await;
}

#[tokio::test]
async fn a_reused_refresh_token_ends_its_familys_access_tokens() {
    let app = spawn_app().await;
    let (rp, _, first) = signed_in(&app).await;
    let rt1 = str_of(&first, "refresh_token");
    let second: Value = refresh(&app, &rp, rt1, None).await.json().await.unwrap();
    let latest = str_of(&second, "access_token");
    assert_eq!(
        claims(latest)["grant_id"],
        claims(str_of(&first, "access_token"))["grant_id"],
        "one family, one grant"
    );
    assert_eq!(userinfo(&app, latest).await.status(), StatusCode::OK);

    let resp = refresh(&app, &rp, rt1, None).await;
    assert_eq!(error_code(resp).await.1, "invalid_grant");
    assert_dead(&app, &rp, latest, "grant_revoked").await;
    assert_dead(&app, &rp, str_of(&first, "access_token"), "grant_revoked").await;
}

#[tokio::test]
async fn a_revoked_refresh_token_ends_its_familys_access_tokens() {
    let app = spawn_app().await;
    let (rp, _, tokens) = signed_in(&app).await;
    revoke(&app, &rp, str_of(&tokens, "refresh_token")).await;
    assert_dead(&app, &rp, str_of(&tokens, "access_token"), "grant_revoked").await;
}

#[tokio::test]
async fn logout_ends_the_sessions_access_tokens_but_not_offline_ones() {
    let app = spawn_app().await;
    let (rp, _, online) = signed_in(&app).await;
    let mobile = app.rp("mobile").await;
    let mut browser = app.browser();
    let online_other = login_tokens(&app, &mut browser, &rp, USER, PASSWORD).await;
    let (url, verifier) = crate::helpers::authorize_url(&app, &mobile, &[]);
    let url = set_param(&url, "scope", "openid offline_access");
    let back = crate::helpers::authorize(&mut browser, &url, None).await;
    let code = crate::helpers::query_param(&back, "code").unwrap();
    let offline: Value = crate::helpers::exchange(&app, &mobile, &code, &verifier)
        .await
        .json()
        .await
        .unwrap();
    let offline_at = str_of(&offline, "access_token");
    // A session-bound token of a client without refresh tokens is bound by its sid alone.
    let mut spec = app.spec("kiosk");
    spec.grants = vec![GrantType::AuthorizationCode];
    let kiosk = app.register(spec).await;
    let kiosk_tokens = login_tokens(&app, &mut browser, &kiosk, USER, PASSWORD).await;
    assert!(kiosk_tokens.get("refresh_token").is_none());
    let kiosk_at = str_of(&kiosk_tokens, "access_token");
    assert!(claims(kiosk_at).get("grant_id").is_none());
    for (client, at) in [
        (&rp, str_of(&online_other, "access_token")),
        (&mobile, offline_at),
        (&kiosk, kiosk_at),
    ] {
        assert_eq!(userinfo(&app, at).await.status(), StatusCode::OK);
        assert_eq!(introspect(&app, client, at).await["active"], true);
    }

    let hint = str_of(&online_other, "id_token");
    let resp = browser.get(&format!("/logout?id_token_hint={hint}")).await;
    assert_eq!(resp.status(), StatusCode::OK, "the session ends at once");
    assert_dead(
        &app,
        &rp,
        str_of(&online_other, "access_token"),
        "grant_revoked",
    )
    .await;
    assert_dead(&app, &kiosk, kiosk_at, "session_ended").await;
    // The other browser's session is untouched.
    assert_eq!(
        userinfo(&app, str_of(&online, "access_token"))
            .await
            .status(),
        StatusCode::OK
    );
    // offline_access: bound to its family, which outlives the session...
    assert_eq!(userinfo(&app, offline_at).await.status(), StatusCode::OK);
    assert_eq!(introspect(&app, &mobile, offline_at).await["active"], true);
    // ...until the family goes.
    revoke(&app, &mobile, str_of(&offline, "refresh_token")).await;
    assert_dead(&app, &mobile, offline_at, "grant_revoked").await;
}

#[tokio::test]
async fn a_client_credentials_token_ends_with_its_client() {
    let app = spawn_app().await;
    let rp = machine(&app, "labo", SigningAlg::Es256).await;
    let body: Value = client_credentials(&app, &rp, None)
        .await
        .json()
        .await
        .unwrap();
    let at = str_of(&body, "access_token");
    // Active, but without openid it reads no one's claims.
    assert_eq!(userinfo(&app, at).await.status(), StatusCode::FORBIDDEN);

    trousseau::admin::clients::delete(&app.state, "labo", "test")
        .await
        .unwrap();
    // Clients are cached for a second: wait until the cache lets it go.
    crate::helpers::wait::until("the deleted client out of the cache", || async {
        userinfo(&app, at).await.status() == StatusCode::UNAUTHORIZED
    })
    .await;
    assert_eq!(userinfo(&app, at).await.status(), StatusCode::UNAUTHORIZED);
    let refused = app.audit("userinfo_refused").await;
    assert!(
        refused
            .iter()
            .any(|e| e.reason.as_deref() == Some("client_unknown")),
        "{refused:?}"
    );
}

// --- Who may introspect what ---

#[tokio::test]
async fn introspection_answers_only_the_tokens_client_and_resource_servers() {
    let app = spawn_app().await;
    let (rp, user_id, tokens) = signed_in(&app).await;
    let at = str_of(&tokens, "access_token");
    let rt = str_of(&tokens, "refresh_token");
    let labo = machine(&app, "labo", SigningAlg::Es256).await;
    let labo_body: Value = client_credentials(&app, &labo, None)
        .await
        .json()
        .await
        .unwrap();
    let labo_at = str_of(&labo_body, "access_token");
    let intruder = app.rp("intruder").await;
    let mut spec = app.spec("api");
    spec.grants = vec![GrantType::ClientCredentials];
    spec.redirect_uris.clear();
    spec.introspect = true;
    let api = app.register(spec).await;

    // The client the token was issued to sees it.
    assert_eq!(introspect(&app, &rp, at).await["active"], true);
    assert_eq!(introspect(&app, &rp, rt).await["active"], true);
    assert_eq!(introspect(&app, &labo, labo_at).await["active"], true);

    // Other clients, even confidential ones, learn nothing.
    let inactive = serde_json::json!({ "active": false });
    for (who, token) in [
        (&labo, at),
        (&labo, rt),
        (&intruder, at),
        (&intruder, rt),
        (&intruder, labo_at),
        (&rp, labo_at),
    ] {
        assert_eq!(introspect(&app, who, token).await, inactive, "{}", who.id);
    }

    // A resource server sees every access token of this issuer, but no refresh token.
    let seen = introspect(&app, &api, at).await;
    assert_eq!(seen["active"], true);
    assert_eq!(seen["client_id"], "dpi");
    assert_eq!(seen["sub"], user_id);
    assert_eq!(seen["aud"], app.issuer);
    assert_eq!(introspect(&app, &api, labo_at).await["active"], true);
    assert_eq!(introspect(&app, &api, rt).await, inactive);

    let events = app.audit("token_introspected").await;
    let refusals = events
        .iter()
        .filter(|e| e.reason.as_deref() == Some("token_of_other_client"))
        .count();
    assert_eq!(refusals, 7, "{events:?}");
    assert!(events.iter().any(|e| e.client_id.as_deref() == Some("api")
        && e.reason.is_none()
        && e.details.as_deref().is_some_and(|d| d.contains("true"))));

    // Still one rule for liveness: a revoked token is inactive for the resource server too.
    revoke(&app, &rp, at).await;
    assert_eq!(introspect(&app, &api, at).await, inactive);
}
