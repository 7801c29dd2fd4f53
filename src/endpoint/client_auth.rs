//! Client authentication at the token, introspection, revocation and PAR endpoints:
//! `client_secret_basic`, `client_secret_post`, `private_key_jwt` (RFC 7523) and `none`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use josekit::jwk::Jwk;
use josekit::jwt::{self, JwtPayload};
use std::str::FromStr;
use std::sync::Arc;
use std::time::UNIX_EPOCH;

use crate::crypto::verify_secret;
use crate::oidc::client::{Client, ClientAuthMethod};
use crate::oidc::error::OAuthError;
use crate::oidc::keys::SigningAlg;
use crate::oidc::params::Params;
use crate::state::AppState;
use crate::storage::assertions;

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A refused request with its stable audit reason and the client it named, if any.
#[derive(Debug)]
pub struct Refusal {
    pub error: OAuthError,
    pub reason: &'static str,
    pub client_id: Option<String>,
}

impl Refusal {
    pub fn new(error: OAuthError, reason: &'static str, client_id: Option<&str>) -> Refusal {
        Refusal {
            error,
            reason,
            client_id: client_id.map(str::to_owned),
        }
    }
}

impl From<OAuthError> for Refusal {
    fn from(error: OAuthError) -> Self {
        let reason = match error.code {
            crate::oidc::error::ErrorCode::TemporarilyUnavailable => "storage_unavailable",
            crate::oidc::error::ErrorCode::ServerError => "internal_error",
            _ => "invalid_request",
        };
        Refusal {
            error,
            reason,
            client_id: None,
        }
    }
}

impl From<sqlx::Error> for Refusal {
    fn from(e: sqlx::Error) -> Self {
        OAuthError::from(e).into()
    }
}

impl From<anyhow::Error> for Refusal {
    fn from(e: anyhow::Error) -> Self {
        OAuthError::from(e).into()
    }
}

/// Decodes an `Authorization: Basic` value into (client_id, secret), form-decoding both
/// parts as RFC 6749 §2.3.1 requires.
pub fn parse_basic(header: &str) -> Option<(String, String)> {
    let b64 = header
        .strip_prefix("Basic ")
        .or_else(|| header.strip_prefix("basic "))?;
    let decoded = STANDARD.decode(b64.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    let dec = |s: &str| {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
    };
    Some((dec(id)?, dec(secret)?))
}

/// The credentials of the `Authorization` header, the same rule at every endpoint that
/// authenticates clients (token, introspection, revocation, PAR): no header, or HTTP Basic
/// with client credentials; anything else is refused, never ignored.
pub fn basic_credentials(
    req: &actix_web::HttpRequest,
) -> Result<Option<(String, String)>, Refusal> {
    let Some(value) = req.headers().get(actix_web::http::header::AUTHORIZATION) else {
        return Ok(None);
    };
    match value.to_str().ok().and_then(parse_basic) {
        Some(b) => Ok(Some(b)),
        None => {
            let e = OAuthError::invalid_client(
                "the Authorization header must be HTTP Basic with client credentials",
            )
            .with_challenge("Basic");
            Err(Refusal::new(e, "malformed_basic_auth", None))
        }
    }
}

/// An authenticated request to one of the client endpoints (introspection, revocation, PAR).
#[derive(Debug)]
pub struct ClientRequest {
    pub params: Params,
    pub client: Arc<Client>,
    pub ctx: crate::audit::RequestContext,
}

/// Parses the form body and authenticates the client; a refusal is audited under
/// `refused_kind` and returned as the response to send.
pub async fn client_request(
    req: &actix_web::HttpRequest,
    state: &AppState,
    body: &[u8],
    refused_kind: &'static str,
) -> Result<ClientRequest, actix_web::HttpResponse> {
    use actix_web::ResponseError;
    let ctx = crate::ui::context::context_of(req);
    let params = Params::parse(body).map_err(|e| e.error_response())?;
    let authenticated = match basic_credentials(req) {
        Ok(basic) => authenticate(state, basic, &params).await,
        Err(r) => Err(r),
    };
    match authenticated {
        Ok(client) => Ok(ClientRequest {
            params,
            client,
            ctx,
        }),
        Err(r) => {
            let mut ev = crate::audit::AuditEvent::failure(refused_kind, r.reason).context(&ctx);
            if let Some(c) = &r.client_id {
                ev = ev.client(c);
            }
            state.audit.record(ev).await;
            Err(r.error.error_response())
        }
    }
}

/// Authenticates the calling client.
pub async fn authenticate(
    state: &AppState,
    basic: Option<(String, String)>,
    params: &Params,
) -> Result<Arc<Client>, Refusal> {
    let param_id = params.get("client_id");
    if let Some(assertion) = params.get("client_assertion") {
        if params.get("client_assertion_type") != Some(JWT_BEARER) {
            let e =
                OAuthError::invalid_client(format!("client_assertion_type must be {JWT_BEARER}"));
            return Err(Refusal::new(e, "bad_assertion_type", param_id));
        }
        if basic.is_some() || params.contains("client_secret") {
            let e = OAuthError::invalid_request("use one client authentication method only");
            return Err(Refusal::new(e, "several_client_auth_methods", param_id));
        }
        return authenticate_assertion(state, assertion, param_id).await;
    }
    let (id, secret, by_basic) = match (&basic, params.get("client_secret")) {
        (Some(_), Some(_)) => {
            let e = OAuthError::invalid_request("use one client authentication method only");
            return Err(Refusal::new(e, "several_client_auth_methods", param_id));
        }
        (Some((id, secret)), None) => (id.as_str(), Some(secret.as_str()), true),
        (None, secret) => match param_id {
            Some(id) => (id, secret, false),
            None => {
                let e = OAuthError::invalid_client("client authentication is required");
                return Err(Refusal::new(e, "no_client_auth", None));
            }
        },
    };
    if let Some(pid) = param_id.filter(|p| *p != id) {
        let e = OAuthError::invalid_request("client_id does not match the authenticated client");
        return Err(Refusal::new(e, "client_id_mismatch", Some(pid)));
    }
    let challenge = |e: OAuthError| {
        if by_basic {
            e.with_challenge("Basic")
        } else {
            e
        }
    };
    let Some(client) = state.clients.get(id).await? else {
        let e = challenge(OAuthError::invalid_client(
            "unknown client or wrong credentials",
        ));
        return Err(Refusal::new(e, "unknown_client", Some(id)));
    };
    match (client.auth_method, secret) {
        (ClientAuthMethod::None, None) => Ok(client),
        (ClientAuthMethod::ClientSecret, Some(secret)) => {
            let ok = client
                .secret_hash
                .as_deref()
                .is_some_and(|h| verify_secret(secret, h));
            if ok {
                Ok(client)
            } else {
                let e = challenge(OAuthError::invalid_client(
                    "unknown client or wrong credentials",
                ));
                Err(Refusal::new(e, "wrong_client_secret", Some(id)))
            }
        }
        (method, _) => {
            let e = challenge(OAuthError::invalid_client(format!(
                "this client must authenticate with {}",
                method.as_str()
            )));
            Err(Refusal::new(e, "wrong_client_auth_method", Some(id)))
        }
    }
}

async fn authenticate_assertion(
    state: &AppState,
    assertion: &str,
    param_id: Option<&str>,
) -> Result<Arc<Client>, Refusal> {
    let bad = |reason: &'static str, msg: &str, id: Option<&str>| {
        Refusal::new(
            OAuthError::invalid_client(format!("invalid client_assertion: {msg}")),
            reason,
            id,
        )
    };
    let header = jwt::decode_header(assertion)
        .map_err(|_| bad("malformed_assertion", "not a JWT", param_id))?;
    let alg = header
        .claim("alg")
        .and_then(|v| v.as_str())
        .and_then(|a| SigningAlg::from_str(a).ok())
        .ok_or_else(|| {
            bad(
                "assertion_alg_refused",
                "alg must be RS256, ES256 or PS256",
                param_id,
            )
        })?;
    let kid = header
        .claim("kid")
        .and_then(|v| v.as_str())
        .map(str::to_owned);
    let unverified = unverified_payload(assertion)
        .ok_or_else(|| bad("malformed_assertion", "unreadable claims", param_id))?;
    let Some(iss) = unverified.issuer().map(str::to_owned) else {
        return Err(bad("malformed_assertion", "iss is missing", param_id));
    };
    if param_id.is_some_and(|p| p != iss) {
        return Err(bad(
            "client_id_mismatch",
            "iss differs from client_id",
            param_id,
        ));
    }
    let Some(client) = state.clients.get(&iss).await? else {
        return Err(bad("unknown_client", "unknown client", Some(&iss)));
    };
    if client.auth_method != ClientAuthMethod::PrivateKeyJwt {
        return Err(bad(
            "wrong_client_auth_method",
            "this client has no registered keys",
            Some(&iss),
        ));
    }
    let keys: Vec<Jwk> = client
        .jwks
        .as_ref()
        .and_then(|j| j.get("keys"))
        .and_then(|k| k.as_array())
        .map(|arr| {
            arr.iter()
                .filter_map(|k| k.as_object().and_then(|o| Jwk::from_map(o.clone()).ok()))
                .collect()
        })
        .unwrap_or_default();
    let candidates: Vec<&Jwk> = keys
        .iter()
        .filter(|k| kid.is_none() || k.key_id() == kid.as_deref())
        .filter(|k| k.algorithm().is_none_or(|a| a == alg.as_str()))
        .collect();
    if candidates.is_empty() {
        return Err(bad(
            "unknown_kid",
            "no registered key matches its kid and alg",
            Some(&iss),
        ));
    }
    let mut verified = None;
    for key in candidates {
        let Ok(verifier) = alg.verifier(key) else {
            continue;
        };
        if let Ok((payload, _)) = jwt::decode_with_verifier(assertion, &*verifier) {
            verified = Some(payload);
            break;
        }
    }
    let payload = verified.ok_or_else(|| {
        bad(
            "bad_assertion_signature",
            "signature does not verify",
            Some(&iss),
        )
    })?;
    let now = state.clock.now();
    if payload.subject() != Some(iss.as_str()) {
        return Err(bad("malformed_assertion", "sub must equal iss", Some(&iss)));
    }
    let issuer = state.settings.issuer();
    let token_endpoint = format!("{issuer}/token");
    let aud_ok = payload.audience().is_some_and(|auds| {
        auds.iter()
            .any(|a| *a == issuer || *a == token_endpoint || a.starts_with(&format!("{issuer}/")))
    });
    if !aud_ok {
        return Err(bad(
            "assertion_wrong_audience",
            "aud must be the issuer or the endpoint",
            Some(&iss),
        ));
    }
    let exp = payload
        .expires_at()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_secs() as i64)
        .ok_or_else(|| bad("malformed_assertion", "exp is missing", Some(&iss)))?;
    if exp + 30 < now {
        return Err(bad("assertion_expired", "it has expired", Some(&iss)));
    }
    if exp > now + 600 {
        return Err(bad(
            "assertion_too_long",
            "exp is more than 10 minutes ahead",
            Some(&iss),
        ));
    }
    let Some(jti) = payload.jwt_id() else {
        return Err(bad("malformed_assertion", "jti is missing", Some(&iss)));
    };
    if !assertions::use_assertion(state.db.pool(), &format!("{iss}:{jti}"), exp + 60).await? {
        return Err(bad("assertion_replay", "it was already used", Some(&iss)));
    }
    Ok(client)
}

fn unverified_payload(token: &str) -> Option<JwtPayload> {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let part = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(part).ok()?;
    let map: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&bytes).ok()?;
    JwtPayload::from_map(map).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_form_decoded() {
        let h = format!("Basic {}", STANDARD.encode("my%20client:s%3Acret"));
        assert_eq!(
            parse_basic(&h),
            Some(("my client".to_owned(), "s:cret".to_owned()))
        );
        assert_eq!(parse_basic("Bearer x"), None);
        assert_eq!(parse_basic("Basic !!!"), None);
    }
}
