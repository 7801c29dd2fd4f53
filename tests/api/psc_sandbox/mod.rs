//! The PSC sandbox binary (docs/psc-sandbox.md), started as a real process: discovery and
//! keys, CIBA, the code flow through its login and phone pages, tokens, mTLS, start-up checks,
//! storage bounds, and the broker to a Trousseau (kc_idp_hint, pairing, confirmation,
//! back-channel logout).

mod bounds;
mod broker;
mod ciba;
mod code_flow;
mod mtls;
mod start;
mod tokens;

use josekit::jwk::Jwk;
use josekit::jws::{ES256, RS256};
use serde_json::{Map, Value};

use crate::helpers::sandbox::Sandbox;

/// Verifies a JWT against the sandbox's JWKS; its claims.
pub async fn verify(sb: &Sandbox, token: &str) -> Map<String, Value> {
    let jwks: Value = sb
        .http
        .get(sb.realm("/protocol/openid-connect/certs"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = &jwks["keys"][0];
    let jwk = Jwk::from_map(key.as_object().unwrap().clone()).unwrap();
    let (payload, _) = match key["alg"].as_str().unwrap() {
        "RS256" => {
            josekit::jwt::decode_with_verifier(token, &RS256.verifier_from_jwk(&jwk).unwrap())
        }
        "ES256" => {
            josekit::jwt::decode_with_verifier(token, &ES256.verifier_from_jwk(&jwk).unwrap())
        }
        other => panic!("unexpected alg {other}"),
    }
    .expect("signed by the sandbox's key");
    payload.claims_set().clone()
}

/// Posts a form to a realm path with the default client's secret (basic).
pub async fn post(sb: &Sandbox, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
    sb.http
        .post(sb.realm(path))
        .basic_auth(&sb.client_id, Some(&sb.client_secret))
        .form(form)
        .send()
        .await
        .unwrap()
}

/// The `error` of an OAuth error answer, with its status.
pub async fn error_of(resp: reqwest::Response) -> (u16, String) {
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap();
    (status, body["error"].as_str().unwrap_or("").to_owned())
}

pub const TOKEN: &str = "/protocol/openid-connect/token";
pub const CIBA: &str = "/protocol/openid-connect/ext/ciba/auth";
pub const USERINFO: &str = "/protocol/openid-connect/userinfo";
pub const INTROSPECT: &str = "/protocol/openid-connect/token/introspect";
pub const LOGOUT: &str = "/protocol/openid-connect/logout";
pub const CIBA_GRANT: &str = "urn:openid:params:grant-type:ciba";
