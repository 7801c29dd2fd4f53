//! The sandbox as a client of a Trousseau (OIDC Core §3.1, RFC 7636, OIDC Back-Channel Logout
//! 1.0 §2.6): discovery, the authorization URL, the code exchange with `client_secret_basic`,
//! and the checks of Trousseau's ID tokens and logout tokens against its JWKS.

use std::time::Duration;

use anyhow::Context;
use josekit::jwk::Jwk;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::broker_store::Verified;
use super::config::BrokerSettings;
use crate::oidc::keys::SigningAlg;

/// Seconds of clock difference accepted on `iat` and `exp`.
pub const SKEW: i64 = 60;
/// The longest logout token `jti` accepted (they are remembered until the token expires).
const MAX_JTI_LEN: usize = 255;
/// The back-channel logout event (OIDC Back-Channel Logout 1.0 §2.4).
pub const LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// The part of Trousseau's discovery document the broker uses.
#[derive(Debug, Clone, Deserialize)]
pub struct IdpDiscovery {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
}

/// Why Trousseau's answer was not accepted; each has a stable code for the logs and pages.
#[derive(Debug, thiserror::Error)]
pub enum IdpError {
    #[error("the identity provider cannot be reached")]
    Unreachable(#[source] anyhow::Error),
    #[error("the identity provider refused the code: {0}")]
    TokenRefused(String),
    #[error("the ID token is not valid: {0}")]
    BadToken(&'static str),
}

impl IdpError {
    /// A stable snake_case reason.
    pub fn reason(&self) -> &'static str {
        match self {
            IdpError::Unreachable(_) => "idp_unreachable",
            IdpError::TokenRefused(_) => "idp_token_refused",
            IdpError::BadToken(_) => "idp_bad_token",
        }
    }
}

/// The HTTP client the broker talks to Trousseau with (bounded waits).
pub fn http_client() -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .context("broker HTTP client")
}

/// Reads Trousseau's discovery document, whose issuer must be the configured one.
pub async fn discover(
    http: &reqwest::Client,
    broker: &BrokerSettings,
) -> Result<IdpDiscovery, IdpError> {
    let issuer = broker.trousseau_issuer.trim_end_matches('/');
    let answer: Result<IdpDiscovery, reqwest::Error> = async {
        http.get(format!("{issuer}/.well-known/openid-configuration"))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await
    }
    .await;
    let doc = answer.map_err(|e| IdpError::Unreachable(e.into()))?;
    if doc.issuer.trim_end_matches('/') != issuer {
        return Err(IdpError::Unreachable(anyhow::anyhow!(
            "discovery names issuer {}",
            doc.issuer
        )));
    }
    Ok(doc)
}

/// Exchanges a code (client_secret_basic, PKCE); the raw ID token.
pub async fn exchange(
    http: &reqwest::Client,
    doc: &IdpDiscovery,
    broker: &BrokerSettings,
    code: &str,
    redirect_uri: &str,
    verifier: &str,
) -> Result<String, IdpError> {
    // RFC 6749 §2.3.1: the id and secret are form-encoded before going into Basic.
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let resp = http
        .post(&doc.token_endpoint)
        .basic_auth(enc(&broker.client_id), Some(enc(&broker.client_secret)))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("code_verifier", verifier),
        ])
        .send()
        .await
        .map_err(|e| IdpError::Unreachable(e.into()))?;
    let ok = resp.status().is_success();
    let body: Value = resp
        .json()
        .await
        .map_err(|e| IdpError::Unreachable(e.into()))?;
    if !ok {
        let error = body["error"].as_str().unwrap_or("unknown").to_owned();
        return Err(IdpError::TokenRefused(error));
    }
    body["id_token"]
        .as_str()
        .map(str::to_owned)
        .ok_or(IdpError::BadToken("no id_token in the answer"))
}

/// The claims of a JWT signed by one of the keys of `jwks_uri` (RS256, ES256 or PS256).
async fn signed_claims(
    http: &reqwest::Client,
    doc: &IdpDiscovery,
    token: &str,
) -> Result<Map<String, Value>, IdpError> {
    let header = josekit::jwt::decode_header(token).map_err(|_| IdpError::BadToken("not a JWT"))?;
    let alg: SigningAlg = header
        .claim("alg")
        .and_then(Value::as_str)
        .and_then(|a| a.parse().ok())
        .ok_or(IdpError::BadToken("unexpected signature algorithm"))?;
    let kid = header.claim("kid").and_then(Value::as_str);
    let answer: Result<Value, reqwest::Error> =
        async { http.get(&doc.jwks_uri).send().await?.json().await }.await;
    let jwks = answer.map_err(|e| IdpError::Unreachable(e.into()))?;
    let keys = jwks["keys"].as_array().cloned().unwrap_or_default();
    let key = keys
        .iter()
        .filter(|k| kid.is_none() || k["kid"].as_str() == kid)
        .find(|k| k["alg"].as_str().is_none_or(|a| a == alg.as_str()))
        .and_then(Value::as_object)
        .ok_or(IdpError::BadToken("signed with an unknown key"))?;
    let jwk = Jwk::from_map(key.clone()).map_err(|_| IdpError::BadToken("unusable key"))?;
    let verifier = alg
        .verifier(&jwk)
        .map_err(|_| IdpError::BadToken("unusable key"))?;
    let (payload, _) = josekit::jwt::decode_with_verifier(token, &*verifier)
        .map_err(|_| IdpError::BadToken("bad signature"))?;
    Ok(payload.claims_set().clone())
}

fn text<'c>(claims: &'c Map<String, Value>, key: &str) -> Option<&'c str> {
    claims
        .get(key)
        .and_then(Value::as_str)
        .filter(|v| !v.is_empty())
}

/// Checks `iss`, `aud` (and `azp` with several audiences), `iat` and `exp`.
fn check_common(
    claims: &Map<String, Value>,
    doc: &IdpDiscovery,
    client_id: &str,
    now: i64,
) -> Result<(), IdpError> {
    if text(claims, "iss") != Some(doc.issuer.as_str()) {
        return Err(IdpError::BadToken("wrong issuer"));
    }
    let audiences: Vec<&str> = match claims.get("aud") {
        Some(Value::String(a)) => vec![a.as_str()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !audiences.contains(&client_id) {
        return Err(IdpError::BadToken("wrong audience"));
    }
    if audiences.len() > 1 && text(claims, "azp") != Some(client_id) {
        return Err(IdpError::BadToken("wrong authorized party"));
    }
    let iat = claims.get("iat").and_then(Value::as_i64);
    if iat.is_none_or(|t| t > now + SKEW) {
        return Err(IdpError::BadToken("issued in the future"));
    }
    if let Some(exp) = claims.get("exp")
        && exp.as_i64().is_none_or(|t| t + SKEW <= now)
    {
        return Err(IdpError::BadToken("expired"));
    }
    Ok(())
}

/// Verifies an ID token of Trousseau for this broker (OIDC Core §3.1.3.7) and reads who it
/// names. Without `tid`, the issuer stands for the establishment; without `oid`, `sub`.
pub async fn verify_id_token(
    http: &reqwest::Client,
    doc: &IdpDiscovery,
    broker: &BrokerSettings,
    token: &str,
    nonce: &str,
    now: i64,
) -> Result<Verified, IdpError> {
    let claims = signed_claims(http, doc, token).await?;
    check_common(&claims, doc, &broker.client_id, now)?;
    if claims.get("exp").is_none() {
        return Err(IdpError::BadToken("no expiry"));
    }
    let sent = text(&claims, "nonce").unwrap_or("");
    if !crate::crypto::ct_eq(sent, nonce) {
        return Err(IdpError::BadToken("nonce does not match"));
    }
    let sub = text(&claims, "sub").ok_or(IdpError::BadToken("no sub"))?;
    let auth_time = claims
        .get("auth_time")
        .and_then(Value::as_i64)
        .ok_or(IdpError::BadToken("no auth_time"))?;
    let amr = claims
        .get("amr")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let account = text(&claims, "preferred_username")
        .or(text(&claims, "email"))
        .unwrap_or(sub);
    Ok(Verified {
        tid: text(&claims, "tid").unwrap_or(&doc.issuer).to_owned(),
        oid: text(&claims, "oid").unwrap_or(sub).to_owned(),
        sub: sub.to_owned(),
        sid: text(&claims, "sid").map(str::to_owned),
        amr,
        auth_time,
        account: account.to_owned(),
    })
}

/// Who a verified logout token names: its `sid` and/or `sub`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutSubject {
    pub sid: Option<String>,
    pub sub: Option<String>,
    /// The token's id, refused a second time while the token lives.
    pub jti: String,
    pub exp: i64,
}

/// Verifies a logout token of Trousseau (Back-Channel Logout 1.0 §2.6).
pub async fn verify_logout_token(
    http: &reqwest::Client,
    doc: &IdpDiscovery,
    broker: &BrokerSettings,
    token: &str,
    now: i64,
) -> Result<LogoutSubject, IdpError> {
    let claims = signed_claims(http, doc, token).await?;
    check_common(&claims, doc, &broker.client_id, now)?;
    if !claims
        .get("events")
        .and_then(|e| e.get(LOGOUT_EVENT))
        .is_some_and(Value::is_object)
    {
        return Err(IdpError::BadToken("no back-channel logout event"));
    }
    if claims.contains_key("nonce") {
        return Err(IdpError::BadToken("a logout token carries no nonce"));
    }
    let sid = text(&claims, "sid").map(str::to_owned);
    let sub = text(&claims, "sub").map(str::to_owned);
    if sid.is_none() && sub.is_none() {
        return Err(IdpError::BadToken("neither sid nor sub"));
    }
    // A replay is told by the jti, remembered until the token expires (§2.4: both required).
    let jti = text(&claims, "jti")
        .filter(|j| !j.is_empty() && j.len() <= MAX_JTI_LEN)
        .ok_or(IdpError::BadToken(
            "no jti, or one longer than 255 characters",
        ))?
        .to_owned();
    let exp = claims
        .get("exp")
        .and_then(Value::as_i64)
        .ok_or(IdpError::BadToken("no exp"))?;
    Ok(LogoutSubject { sid, sub, jti, exp })
}

/// Whether Trousseau's `amr` shows a phishing-resistant multi-factor authentication (psc.md:
/// a FIDO2 key with user verification, a CPS card with its PIN, or a password plus a FIDO2
/// key): a hardware-held key and more than one factor. A password alone is refused.
pub fn phishing_resistant(amr: &[String]) -> bool {
    let has = |v: &str| amr.iter().any(|a| a == v);
    has("hwk") && has("mfa")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn amr(values: &[&str]) -> Vec<String> {
        values.iter().map(|v| (*v).to_owned()).collect()
    }

    #[test]
    fn only_phishing_resistant_mfa_passes() {
        assert!(phishing_resistant(&amr(&["hwk", "user", "mfa"])));
        assert!(phishing_resistant(&amr(&["sc", "pin", "hwk", "mfa"])));
        assert!(phishing_resistant(&amr(&["pwd", "hwk", "mfa"])));
        assert!(!phishing_resistant(&amr(&["pwd"])));
        assert!(!phishing_resistant(&amr(&["hwk"])));
        assert!(!phishing_resistant(&amr(&["swk", "pin", "mfa"])));
        assert!(!phishing_resistant(&[]));
    }

    fn doc() -> IdpDiscovery {
        IdpDiscovery {
            issuer: "http://idp".into(),
            authorization_endpoint: String::new(),
            token_endpoint: String::new(),
            jwks_uri: String::new(),
        }
    }

    #[test]
    fn issuer_audience_and_times_are_checked() {
        let claims = |v: Value| v.as_object().unwrap().clone();
        let ok =
            claims(serde_json::json!({"iss": "http://idp", "aud": "psc", "iat": 100, "exp": 200}));
        assert!(check_common(&ok, &doc(), "psc", 150).is_ok());
        assert!(check_common(&ok, &doc(), "other", 150).is_err());
        assert!(check_common(&ok, &doc(), "psc", 300).is_err());
        assert!(check_common(&ok, &doc(), "psc", 0).is_err());
        let other = claims(serde_json::json!({"iss": "http://evil", "aud": "psc", "iat": 100}));
        assert!(check_common(&other, &doc(), "psc", 150).is_err());
        let many =
            claims(serde_json::json!({"iss": "http://idp", "aud": ["psc", "x"], "iat": 100}));
        assert!(check_common(&many, &doc(), "psc", 150).is_err());
    }
}
