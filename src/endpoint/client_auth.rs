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
use crate::oidc::error::{ErrorCode, OAuthError};
use crate::oidc::keys::SigningAlg;
use crate::oidc::params::Params;
use crate::oidc::refusal::{ClientAuthRefusal as Why, GrantRefusal, TokenRefusal};
use crate::state::AppState;
use crate::storage::assertions;

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
const ONE_METHOD: &str = "use one client authentication method only";
const WRONG_CREDENTIALS: &str = "unknown client or wrong credentials";

/// A refused request with its stable audit reason and the client it named, if any.
#[derive(Debug)]
pub struct Refusal {
    pub error: OAuthError,
    pub reason: TokenRefusal,
    pub client_id: Option<String>,
}

impl Refusal {
    /// A refusal answered with its reason's OAuth error and this description.
    pub fn new(
        reason: impl Into<TokenRefusal>,
        description: impl Into<String>,
        client_id: Option<&str>,
    ) -> Refusal {
        let reason = reason.into();
        Refusal {
            error: reason.error(description),
            reason,
            client_id: client_id.map(str::to_owned),
        }
    }

    /// Names the client the refusal concerns.
    pub fn of(mut self, client_id: &str) -> Refusal {
        self.client_id = Some(client_id.to_owned());
        self
    }

    /// Adds the `WWW-Authenticate: Basic` challenge when the client used HTTP Basic
    /// (RFC 6749 §5.2).
    fn challenged(mut self, by_basic: bool) -> Refusal {
        if by_basic {
            self.error = self.error.with_challenge("Basic");
        }
        self
    }
}

impl From<OAuthError> for Refusal {
    fn from(error: OAuthError) -> Self {
        let reason = match error.code {
            ErrorCode::TemporarilyUnavailable => GrantRefusal::StorageUnavailable,
            ErrorCode::ServerError => GrantRefusal::InternalError,
            _ => GrantRefusal::InvalidRequest,
        };
        Refusal {
            error,
            reason: reason.into(),
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
        None => Err(Refusal::new(
            Why::MalformedBasicAuth,
            "the Authorization header must be HTTP Basic with client credentials",
            None,
        )
        .challenged(true)),
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
        Err(r) => Err(refused(state, refused_kind, r, &ctx).await),
    }
}

/// A request about one token (RFC 7662 §2.1, RFC 7009 §2.1): the client authenticated, the
/// `token` parameter present. A refusal is audited under `refused_kind`; a public client is
/// refused unless `public_allowed`.
#[derive(Debug)]
pub struct TokenQuery {
    pub token: String,
    pub client: Arc<Client>,
    pub ctx: crate::audit::RequestContext,
}

pub async fn token_query(
    req: &actix_web::HttpRequest,
    state: &AppState,
    body: &[u8],
    refused_kind: &'static str,
    public_allowed: bool,
) -> Result<TokenQuery, actix_web::HttpResponse> {
    use actix_web::ResponseError;
    let ClientRequest {
        params,
        client,
        ctx,
    } = client_request(req, state, body, refused_kind).await?;
    if client.is_public() && !public_allowed {
        let msg = "public clients cannot introspect tokens";
        let r = Refusal::new(Why::PublicClient, msg, Some(client.id.as_str()));
        return Err(refused(state, refused_kind, r, &ctx).await);
    }
    let Some(token) = params.get("token") else {
        let e = OAuthError::invalid_request("the parameter token is missing");
        return Err(e.error_response());
    };
    Ok(TokenQuery {
        token: token.to_owned(),
        client,
        ctx,
    })
}

/// Audits a refusal under `kind` and gives the answer to send.
async fn refused(
    state: &AppState,
    kind: &'static str,
    r: Refusal,
    ctx: &crate::audit::RequestContext,
) -> actix_web::HttpResponse {
    use actix_web::ResponseError;
    let mut ev = crate::audit::AuditEvent::failure(kind, r.reason.as_str()).context(ctx);
    if let Some(c) = &r.client_id {
        ev = ev.client(c);
    }
    state.audit.record(ev).await;
    r.error.error_response()
}

/// Authenticates the calling client; a disabled one is refused once its credentials hold
/// (so that its state is told to it alone).
pub async fn authenticate(
    state: &AppState,
    basic: Option<(String, String)>,
    params: &Params,
) -> Result<Arc<Client>, Refusal> {
    let client = credentials(state, basic, params).await?;
    if client.disabled {
        let msg = "this client is disabled";
        return Err(Refusal::new(
            Why::ClientDisabled,
            msg,
            Some(client.id.as_str()),
        ));
    }
    Ok(client)
}

/// Checks the credentials the client presents.
async fn credentials(
    state: &AppState,
    basic: Option<(String, String)>,
    params: &Params,
) -> Result<Arc<Client>, Refusal> {
    let param_id = params.get("client_id");
    if let Some(assertion) = params.get("client_assertion") {
        if params.get("client_assertion_type") != Some(JWT_BEARER) {
            let msg = format!("client_assertion_type must be {JWT_BEARER}");
            return Err(Refusal::new(Why::BadAssertionType, msg, param_id));
        }
        if basic.is_some() || params.contains("client_secret") {
            return Err(Refusal::new(Why::SeveralMethods, ONE_METHOD, param_id));
        }
        return authenticate_assertion(state, assertion, param_id).await;
    }
    let (id, secret, by_basic) = presented(&basic, params)?;
    if let Some(pid) = param_id.filter(|p| *p != id) {
        let msg = "client_id does not match the authenticated client";
        return Err(Refusal::new(Why::ClientIdMismatch, msg, Some(pid)));
    }
    let refuse = |why: Why, msg: String| Refusal::new(why, msg, Some(id)).challenged(by_basic);
    let Some(client) = state.clients.get(id).await? else {
        return Err(refuse(Why::UnknownClient, WRONG_CREDENTIALS.into()));
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
                Err(refuse(Why::WrongClientSecret, WRONG_CREDENTIALS.into()))
            }
        }
        (method, _) => {
            let msg = format!("this client must authenticate with {}", method.as_str());
            Err(refuse(Why::WrongClientAuthMethod, msg))
        }
    }
}

/// The client id and secret presented without an assertion: by HTTP Basic (`true`) or in the
/// form, never both; a public client presents its id alone.
fn presented<'p>(
    basic: &'p Option<(String, String)>,
    params: &'p Params,
) -> Result<(&'p str, Option<&'p str>, bool), Refusal> {
    let param_id = params.get("client_id");
    match (basic, params.get("client_secret")) {
        (Some(_), Some(_)) => Err(Refusal::new(Why::SeveralMethods, ONE_METHOD, param_id)),
        (Some((id, secret)), None) => Ok((id.as_str(), Some(secret.as_str()), true)),
        (None, secret) => match param_id {
            Some(id) => Ok((id, secret, false)),
            None => {
                let msg = "client authentication is required";
                Err(Refusal::new(Why::NoClientAuth, msg, None))
            }
        },
    }
}

/// `private_key_jwt` (RFC 7523 §3): the assertion names a client with registered keys, one of
/// them signs it, its claims hold, and it is used once.
async fn authenticate_assertion(
    state: &AppState,
    assertion: &str,
    param_id: Option<&str>,
) -> Result<Arc<Client>, Refusal> {
    let claimed = claimed(assertion, param_id).map_err(|(why, msg)| bad(why, msg, param_id))?;
    let iss = claimed.iss.as_str();
    let Some(client) = state.clients.get(iss).await? else {
        return Err(bad(Why::UnknownClient, "unknown client", Some(iss)));
    };
    if client.auth_method != ClientAuthMethod::PrivateKeyJwt {
        let msg = "this client has no registered keys";
        return Err(bad(Why::WrongClientAuthMethod, msg, Some(iss)));
    }
    let payload =
        verified(&client, &claimed, assertion).map_err(|(why, msg)| bad(why, msg, Some(iss)))?;
    let issuer = state.settings.issuer();
    let (exp, jti) = assertion_claims(&payload, iss, &issuer, state.clock.now())
        .map_err(|(why, msg)| bad(why, msg, Some(iss)))?;
    if !assertions::use_assertion(state.db.pool(), &format!("{iss}:{jti}"), exp + 60).await? {
        return Err(bad(Why::AssertionReplay, "it was already used", Some(iss)));
    }
    Ok(client)
}

/// A refused client assertion.
fn bad(why: Why, msg: &str, id: Option<&str>) -> Refusal {
    Refusal::new(why, format!("invalid client_assertion: {msg}"), id)
}

/// Why an assertion is refused, and what the refusal says.
type AssertionRefusal = (Why, &'static str);

/// What an assertion claims before its signature is checked.
struct Claimed {
    alg: SigningAlg,
    kid: Option<String>,
    iss: String,
}

/// Reads the assertion's header and issuer, unverified; the issuer must be the `client_id`
/// sent, if any.
fn claimed(assertion: &str, param_id: Option<&str>) -> Result<Claimed, AssertionRefusal> {
    let header =
        jwt::decode_header(assertion).map_err(|_| (Why::MalformedAssertion, "not a JWT"))?;
    let alg = header
        .claim("alg")
        .and_then(|v| v.as_str())
        .and_then(|a| SigningAlg::from_str(a).ok())
        .ok_or((
            Why::AssertionAlgRefused,
            "alg must be RS256, ES256 or PS256",
        ))?;
    let kid = header
        .claim("kid")
        .and_then(|v| v.as_str())
        .map(str::to_owned);
    let unverified =
        unverified_payload(assertion).ok_or((Why::MalformedAssertion, "unreadable claims"))?;
    let Some(iss) = unverified.issuer().map(str::to_owned) else {
        return Err((Why::MalformedAssertion, "iss is missing"));
    };
    if param_id.is_some_and(|p| p != iss) {
        return Err((Why::AssertionIssuerMismatch, "iss differs from client_id"));
    }
    Ok(Claimed { alg, kid, iss })
}

/// The assertion's claims, verified with one of the client's registered keys that matches its
/// `kid` and `alg`.
fn verified(
    client: &Client,
    claimed: &Claimed,
    assertion: &str,
) -> Result<JwtPayload, AssertionRefusal> {
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
    let (alg, kid) = (claimed.alg, claimed.kid.as_deref());
    let candidates: Vec<&Jwk> = keys
        .iter()
        .filter(|k| kid.is_none() || k.key_id() == kid)
        .filter(|k| k.algorithm().is_none_or(|a| a == alg.as_str()))
        .collect();
    if candidates.is_empty() {
        return Err((Why::UnknownKid, "no registered key matches its kid and alg"));
    }
    candidates
        .into_iter()
        .filter_map(|key| alg.verifier(key).ok())
        .find_map(|verifier| jwt::decode_with_verifier(assertion, &*verifier).ok())
        .map(|(payload, _)| payload)
        .ok_or((Why::BadAssertionSignature, "signature does not verify"))
}

/// Checks the verified claims (`sub`, `aud`, `exp` at most 10 minutes ahead, 30 s of leeway);
/// gives `exp` and `jti`.
fn assertion_claims<'p>(
    payload: &'p JwtPayload,
    iss: &str,
    issuer: &str,
    now: i64,
) -> Result<(i64, &'p str), AssertionRefusal> {
    if payload.subject() != Some(iss) {
        return Err((Why::MalformedAssertion, "sub must equal iss"));
    }
    let token_endpoint = format!("{issuer}/token");
    let aud_ok = payload.audience().is_some_and(|auds| {
        auds.iter()
            .any(|a| *a == issuer || *a == token_endpoint || a.starts_with(&format!("{issuer}/")))
    });
    if !aud_ok {
        return Err((
            Why::AssertionWrongAudience,
            "aud must be the issuer or the endpoint",
        ));
    }
    let exp = payload
        .expires_at()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_secs() as i64)
        .ok_or((Why::MalformedAssertion, "exp is missing"))?;
    if exp + 30 < now {
        return Err((Why::AssertionExpired, "it has expired"));
    }
    if exp > now + 600 {
        return Err((Why::AssertionTooLong, "exp is more than 10 minutes ahead"));
    }
    let jti = payload
        .jwt_id()
        .ok_or((Why::MalformedAssertion, "jti is missing"))?;
    Ok((exp, jti))
}

/// Reads and checks a `private_key_jwt` assertion against `client`'s registered keys, as the
/// token endpoint does short of the replay check (nothing is stored): its `exp` and `jti`, or
/// why it is refused. Only for the fuzz targets.
#[doc(hidden)]
pub fn check_assertion(
    client: &Client,
    assertion: &str,
    param_id: Option<&str>,
    issuer: &str,
    now: i64,
) -> Result<(i64, String), &'static str> {
    let claimed = claimed(assertion, param_id).map_err(|(_, msg)| msg)?;
    let payload = verified(client, &claimed, assertion).map_err(|(_, msg)| msg)?;
    let (exp, jti) =
        assertion_claims(&payload, &claimed.iss, issuer, now).map_err(|(_, msg)| msg)?;
    Ok((exp, jti.to_owned()))
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
