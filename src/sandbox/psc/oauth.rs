//! The sandbox's OAuth endpoints under PSC's realm (psc.md): discovery, JWKS, CIBA
//! backchannel authentication (poll mode), token (authorization code with PKCE, refresh token,
//! CIBA grant), userinfo (JSON or JWT), introspection (RFC 7662).

use actix_web::http::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, WWW_AUTHENTICATE};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::client_auth::{Authenticated, Method, Presented, authenticate};
use super::config::SandboxSettings;
use super::server::{PeerCertificate, Sandbox};
use super::store::{self, Admitted, Refresh, Request, Session, status};
use crate::crypto::{hash_secret, random_token, s256};
use crate::identity::IdNat;
use crate::psc::protocol::{
    ACR_EIDAS1, CIBA_GRANT_TYPE, CIBA_PATH, Channel, CibaStartResponse, DISCOVERY_PATH, Discovery,
    ErrorCode, ErrorResponse, INTROSPECTION_PATH, JWKS_PATH, MtlsEndpointAliases, REALM_PATH,
    SCOPE_ALL, TOKEN_PATH, TokenResponse, USERINFO_PATH, UserInfo,
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    let at = |path: &str| format!("{REALM_PATH}{path}");
    cfg.route(&at(DISCOVERY_PATH), web::get().to(discovery))
        .route(
            &format!("{REALM_PATH}/.well-known/openid-configuration"),
            web::get().to(discovery),
        )
        .route(&at(JWKS_PATH), web::get().to(jwks))
        .route(&at(CIBA_PATH), web::post().to(ciba))
        .route(&at(TOKEN_PATH), web::post().to(token))
        .route(&at(USERINFO_PATH), web::get().to(userinfo))
        .route(&at(USERINFO_PATH), web::post().to(userinfo))
        .route(&at(INTROSPECTION_PATH), web::post().to(introspect));
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// An OAuth error answer (RFC 6749 §5.2).
pub fn oauth_error(code: ErrorCode, description: &str) -> HttpResponse {
    let status = actix_web::http::StatusCode::from_u16(code.status())
        .unwrap_or(actix_web::http::StatusCode::BAD_REQUEST);
    let mut resp = HttpResponse::build(status);
    resp.insert_header((CACHE_CONTROL, "no-store"));
    if code == ErrorCode::InvalidClient {
        resp.insert_header((WWW_AUTHENTICATE, "Basic realm=\"esante-wallet\""));
    }
    if code == ErrorCode::InvalidToken {
        resp.insert_header((
            WWW_AUTHENTICATE,
            format!("Bearer error=\"invalid_token\", error_description=\"{description}\""),
        ));
    }
    resp.json(ErrorResponse::new(code, description))
}

/// The address a request came from, which the caps on open requests count by.
pub fn source_of(req: &HttpRequest) -> Option<String> {
    req.peer_addr().map(|a| a.ip().to_string())
}

/// 429 when a cap on open requests is reached (`temporarily_unavailable`: RFC 6749 §4.1.2.1
/// has no better code for a backchannel request).
fn too_many(settings: &SandboxSettings, full: Admitted) -> HttpResponse {
    let description = match full {
        Admitted::AddressFull => format!(
            "sandbox: {} requests from this address are already waiting for the phone \
             (max_open_requests_per_address); let them expire or settle them first",
            settings.max_open_requests_per_address
        ),
        _ => format!(
            "sandbox: {} requests are already waiting for the phone (max_open_requests); \
             try again later",
            settings.max_open_requests
        ),
    };
    HttpResponse::TooManyRequests()
        .insert_header((CACHE_CONTROL, "no-store"))
        .insert_header(("retry-after", settings.ciba_expires_in.to_string()))
        .json(ErrorResponse {
            error: "temporarily_unavailable".into(),
            error_description: Some(description),
        })
}

fn server_error(e: anyhow::Error) -> HttpResponse {
    tracing::error!(error = ?e, "sandbox failure");
    oauth_error(ErrorCode::ServerError, "internal error")
}

async fn discovery(s: web::Data<Sandbox>) -> HttpResponse {
    let e = &s.endpoints;
    let alg = s.keys.alg.as_str().to_owned();
    let doc = Discovery {
        issuer: e.issuer.clone(),
        authorization_endpoint: e.authorization.clone(),
        token_endpoint: e.token.clone(),
        userinfo_endpoint: Some(e.userinfo.clone()),
        jwks_uri: e.jwks.clone(),
        introspection_endpoint: Some(e.introspection.clone()),
        end_session_endpoint: Some(e.end_session.clone()),
        backchannel_authentication_endpoint: Some(e.ciba.clone()),
        backchannel_token_delivery_modes_supported: vec!["poll".into()],
        backchannel_user_code_parameter_supported: Some(false),
        grant_types_supported: vec![
            "authorization_code".into(),
            "refresh_token".into(),
            CIBA_GRANT_TYPE.into(),
        ],
        response_types_supported: vec!["code".into()],
        response_modes_supported: vec!["query".into()],
        subject_types_supported: vec!["public".into()],
        scopes_supported: vec!["openid".into(), SCOPE_ALL.into()],
        claims_supported: [
            "sub",
            "iss",
            "aud",
            "auth_time",
            "acr",
            "amr",
            "nonce",
            "preferred_username",
            "given_name",
            "family_name",
            "SubjectNameID",
            "codeCivilite",
            "SubjectOrganization",
            "SubjectOrganizationID",
            "SubjectRole",
            "Palier_Authentification",
            "otherIds",
            "SubjectRefPro",
        ]
        .map(String::from)
        .to_vec(),
        acr_values_supported: vec![ACR_EIDAS1.into()],
        code_challenge_methods_supported: vec!["S256".into()],
        id_token_signing_alg_values_supported: vec![alg.clone()],
        userinfo_signing_alg_values_supported: vec![alg],
        token_endpoint_auth_methods_supported: vec![
            "client_secret_basic".into(),
            "client_secret_post".into(),
            "tls_client_auth".into(),
        ],
        introspection_endpoint_auth_methods_supported: vec![
            "client_secret_basic".into(),
            "client_secret_post".into(),
            "tls_client_auth".into(),
        ],
        tls_client_certificate_bound_access_tokens: Some(s.mtls.is_some()),
        mtls_endpoint_aliases: s.mtls.as_ref().map(|m| MtlsEndpointAliases {
            token_endpoint: Some(m.token.clone()),
            userinfo_endpoint: Some(m.userinfo.clone()),
            introspection_endpoint: Some(m.introspection.clone()),
            backchannel_authentication_endpoint: Some(m.ciba.clone()),
        }),
    };
    HttpResponse::Ok().json(doc)
}

async fn jwks(s: web::Data<Sandbox>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((CACHE_CONTROL, "max-age=60"))
        .json(s.keys.jwks())
}

fn header(req: &HttpRequest, name: actix_web::http::header::HeaderName) -> Option<&str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

fn client<'s>(
    s: &'s Sandbox,
    req: &HttpRequest,
    form: &Map<String, Value>,
) -> Option<Authenticated<'s>> {
    let cert = req.conn_data::<PeerCertificate>();
    let presented = Presented {
        authorization: header(req, AUTHORIZATION),
        form_client_id: form.get("client_id").and_then(Value::as_str),
        form_client_secret: form.get("client_secret").and_then(Value::as_str),
        certificate: cert.map(|c| c.0.as_slice()),
    };
    authenticate(&s.settings, &presented)
}

/// A form as string values (a repeated parameter is refused by keeping none of it).
fn form_map(body: &[u8]) -> Result<Map<String, Value>, String> {
    let mut map = Map::new();
    for (k, v) in url::form_urlencoded::parse(body) {
        if map
            .insert(k.to_string(), Value::String(v.into_owned()))
            .is_some()
        {
            return Err(format!("{k} is repeated"));
        }
    }
    Ok(map)
}

fn param<'m>(form: &'m Map<String, Value>, key: &str) -> Option<&'m str> {
    form.get(key)
        .and_then(Value::as_str)
        .filter(|v| !v.is_empty())
}

async fn ciba(s: web::Data<Sandbox>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let form = match form_map(&body) {
        Ok(f) => f,
        Err(e) => return oauth_error(ErrorCode::InvalidRequest, &e),
    };
    let Some(auth) = client(&s, &req, &form) else {
        return oauth_error(ErrorCode::InvalidClient, "client authentication failed");
    };
    let scope = param(&form, "scope").unwrap_or("");
    if !scope.split(' ').any(|x| x == "openid") {
        return oauth_error(ErrorCode::InvalidScope, "scope must contain openid");
    }
    if let Some(acr) = param(&form, "acr_values")
        && !acr.split(' ').any(|a| a == ACR_EIDAS1)
    {
        return oauth_error(ErrorCode::InvalidRequest, "acr_values must be eidas1");
    }
    let Some(hint) = param(&form, "login_hint") else {
        return oauth_error(ErrorCode::InvalidRequest, "login_hint (IdNat) is required");
    };
    let Ok(idnat) = IdNat::parse(hint) else {
        return oauth_error(ErrorCode::UnknownUserId, "login_hint is not an IdNat");
    };
    if s.directory.get(&idnat).is_none() {
        return oauth_error(ErrorCode::UnknownUserId, "unknown professional");
    }
    let binding = param(&form, "binding_message").unwrap_or("");
    if binding.chars().count() > 32 || binding.chars().any(char::is_control) {
        return oauth_error(
            ErrorCode::InvalidBindingMessage,
            "binding_message: at most 32 printable characters",
        );
    }
    let channel = match param(&form, "channel").map(str::parse::<Channel>) {
        None => Channel::Mobile,
        Some(Ok(c)) => c,
        Some(Err(e)) => return oauth_error(ErrorCode::InvalidRequest, &e.to_string()),
    };
    let now = now();
    let settings = &s.settings;
    let request = Request {
        id: random_token(24),
        kind: store::KIND_CIBA.into(),
        client_id: auth.client.client_id.clone(),
        idnat: Some(idnat.to_string()),
        binding_message: binding.to_owned(),
        channel: channel.as_str().into(),
        scope: scope.to_owned(),
        status: status::PENDING.into(),
        created_at: now,
        expires_at: now + settings.ciba_expires_in as i64,
        interval_secs: settings.ciba_interval as i64,
        last_poll_at: None,
        browser: None,
        redirect_uri: None,
        state: None,
        nonce: None,
        code_challenge: None,
        session_id: None,
        source: source_of(&req),
    };
    match s
        .store
        .insert_request_capped(&request, settings.caps())
        .await
    {
        Ok(Admitted::Inserted) => {}
        Ok(full) => return too_many(settings, full),
        Err(e) => return server_error(e),
    }
    tracing::info!(client_id = %request.client_id, idnat = %idnat, channel = %channel, "CIBA request");
    HttpResponse::Ok()
        .insert_header((CACHE_CONTROL, "no-store"))
        .json(CibaStartResponse {
            auth_req_id: request.id,
            expires_in: settings.ciba_expires_in,
            interval: settings.ciba_interval,
        })
}

/// The `amr` values the sandbox states for a channel (inferred: PSC does not publish them).
fn amr(channel: &str) -> Vec<&'static str> {
    match channel {
        "CARD" => vec!["sc", "pin", "mfa"],
        _ => vec!["swk", "pin", "mfa"],
    }
}

/// Opens a session for a professional who approved on the phone.
pub async fn open_session(s: &Sandbox, idnat: &str, channel: &str) -> anyhow::Result<Session> {
    let now = now();
    let session = Session {
        id: uuid::Uuid::new_v4().to_string(),
        idnat: idnat.to_owned(),
        channel: channel.to_owned(),
        auth_time: now,
        created_at: now,
        last_seen_at: now,
        ended: 0,
    };
    s.store.insert_session(&session).await?;
    Ok(session)
}

/// Whether a session may still give tokens (absolute end; ended by logout).
pub fn session_alive(s: &Sandbox, session: &Session, now: i64) -> bool {
    session.ended == 0 && now < session.created_at + s.settings.session_absolute_secs as i64
}

/// Signs the tokens of a grant.
async fn issue(
    s: &Sandbox,
    auth: &Authenticated<'_>,
    session: &Session,
    scope: &str,
    nonce: Option<&str>,
) -> anyhow::Result<TokenResponse> {
    let now = now();
    let settings = &s.settings;
    let idnat = IdNat::parse(&session.idnat)?;
    let professional = s
        .directory
        .get(&idnat)
        .ok_or_else(|| anyhow::anyhow!("professional left the directory"))?;
    let client_id = &auth.client.client_id;
    let ttl = settings.access_token_secs as i64;
    let mut at = Map::new();
    at.insert("iss".into(), json!(s.endpoints.issuer));
    at.insert("sub".into(), json!(professional.sub));
    at.insert("aud".into(), json!(client_id));
    at.insert("azp".into(), json!(client_id));
    at.insert("typ".into(), json!("Bearer"));
    at.insert("scope".into(), json!(scope));
    at.insert("iat".into(), json!(now));
    at.insert("exp".into(), json!(now + ttl));
    at.insert("jti".into(), json!(uuid::Uuid::new_v4().to_string()));
    at.insert("sid".into(), json!(session.id));
    at.insert("auth_time".into(), json!(session.auth_time));
    at.insert("acr".into(), json!(ACR_EIDAS1));
    if let Some(t) = &auth.thumbprint {
        at.insert("cnf".into(), json!({ "x5t#S256": t }));
    }
    let access_token = s.keys.sign("at+jwt", at)?;
    let mut id = match serde_json::to_value(&professional.claims)? {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    id.insert("authMode".into(), json!(session.channel));
    id.insert("iss".into(), json!(s.endpoints.issuer));
    id.insert("sub".into(), json!(professional.sub));
    id.insert("aud".into(), json!(client_id));
    id.insert("azp".into(), json!(client_id));
    id.insert("iat".into(), json!(now));
    id.insert("exp".into(), json!(now + ttl));
    id.insert("auth_time".into(), json!(session.auth_time));
    id.insert("acr".into(), json!(ACR_EIDAS1));
    match super::broker::session_amr(s, session).await? {
        Some(values) => id.insert("amr".into(), json!(values)),
        None => id.insert("amr".into(), json!(amr(&session.channel))),
    };
    id.insert("sid".into(), json!(session.id));
    if let Some(n) = nonce {
        id.insert("nonce".into(), json!(n));
    }
    let id_token = s.keys.sign("JWT", id)?;
    let refresh = random_token(32);
    s.store
        .insert_refresh(
            &hash_secret(&refresh),
            &Refresh {
                client_id: client_id.clone(),
                session_id: session.id.clone(),
                scope: scope.to_owned(),
                expires_at: now + settings.refresh_token_secs as i64,
            },
        )
        .await?;
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer".into(),
        expires_in: settings.access_token_secs,
        refresh_token: Some(refresh),
        refresh_expires_in: Some(settings.refresh_token_secs),
        id_token: Some(id_token),
        scope: Some(scope.to_owned()),
        session_state: Some(session.id.clone()),
    })
}

fn tokens(t: TokenResponse) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((CACHE_CONTROL, "no-store"))
        .json(t)
}

/// The grants of the token endpoint, parsed once.
enum Grant<'f> {
    Code {
        code: &'f str,
        redirect_uri: &'f str,
        verifier: &'f str,
    },
    Refresh {
        token: &'f str,
    },
    Ciba {
        auth_req_id: &'f str,
    },
}

fn parse_grant(form: &Map<String, Value>) -> Result<Grant<'_>, (ErrorCode, String)> {
    let need = |k: &str| {
        param(form, k).ok_or_else(|| (ErrorCode::InvalidRequest, format!("{k} is required")))
    };
    match param(form, "grant_type") {
        Some("authorization_code") => Ok(Grant::Code {
            code: need("code")?,
            redirect_uri: need("redirect_uri")?,
            verifier: need("code_verifier")?,
        }),
        Some("refresh_token") => Ok(Grant::Refresh {
            token: need("refresh_token")?,
        }),
        Some(CIBA_GRANT_TYPE) => Ok(Grant::Ciba {
            auth_req_id: need("auth_req_id")?,
        }),
        Some(_) => Err((
            ErrorCode::UnsupportedGrantType,
            "unsupported grant_type".into(),
        )),
        None => Err((ErrorCode::InvalidRequest, "grant_type is required".into())),
    }
}

async fn token(s: web::Data<Sandbox>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let form = match form_map(&body) {
        Ok(f) => f,
        Err(e) => return oauth_error(ErrorCode::InvalidRequest, &e),
    };
    let Some(auth) = client(&s, &req, &form) else {
        return oauth_error(ErrorCode::InvalidClient, "client authentication failed");
    };
    let grant = match parse_grant(&form) {
        Ok(g) => g,
        Err((code, description)) => return oauth_error(code, &description),
    };
    let result = match grant {
        Grant::Code {
            code,
            redirect_uri,
            verifier,
        } => code_grant(&s, &auth, code, redirect_uri, verifier).await,
        Grant::Refresh { token } => refresh_grant(&s, &auth, token).await,
        Grant::Ciba { auth_req_id } => ciba_grant(&s, &auth, auth_req_id).await,
    };
    result.unwrap_or_else(server_error)
}

async fn code_grant(
    s: &Sandbox,
    auth: &Authenticated<'_>,
    code: &str,
    redirect_uri: &str,
    verifier: &str,
) -> anyhow::Result<HttpResponse> {
    let now = now();
    let Some(c) = s.store.take_code(&hash_secret(code)).await? else {
        return Ok(oauth_error(ErrorCode::InvalidGrant, "unknown or used code"));
    };
    if c.client_id != auth.client.client_id {
        return Ok(oauth_error(
            ErrorCode::InvalidGrant,
            "code issued to another client",
        ));
    }
    if c.redirect_uri != redirect_uri {
        return Ok(oauth_error(ErrorCode::InvalidGrant, "redirect_uri differs"));
    }
    if c.expires_at <= now {
        return Ok(oauth_error(ErrorCode::InvalidGrant, "code expired"));
    }
    if s256(verifier) != c.code_challenge {
        return Ok(oauth_error(
            ErrorCode::InvalidGrant,
            "PKCE verification failed",
        ));
    }
    let Some(session) = s.store.session(&c.session_id).await? else {
        return Ok(oauth_error(ErrorCode::InvalidGrant, "session gone"));
    };
    if !session_alive(s, &session, now) {
        return Ok(oauth_error(ErrorCode::InvalidGrant, "session ended"));
    }
    Ok(tokens(
        issue(s, auth, &session, &c.scope, c.nonce.as_deref()).await?,
    ))
}

async fn refresh_grant(
    s: &Sandbox,
    auth: &Authenticated<'_>,
    token: &str,
) -> anyhow::Result<HttpResponse> {
    let now = now();
    let Some(r) = s.store.take_refresh(&hash_secret(token)).await? else {
        return Ok(oauth_error(
            ErrorCode::InvalidGrant,
            "unknown or used refresh token",
        ));
    };
    if r.client_id != auth.client.client_id {
        return Ok(oauth_error(
            ErrorCode::InvalidGrant,
            "refresh token of another client",
        ));
    }
    if r.expires_at <= now {
        return Ok(oauth_error(
            ErrorCode::InvalidGrant,
            "refresh token expired",
        ));
    }
    let Some(session) = s.store.session(&r.session_id).await? else {
        return Ok(oauth_error(ErrorCode::InvalidGrant, "session gone"));
    };
    if !session_alive(s, &session, now) {
        return Ok(oauth_error(ErrorCode::InvalidGrant, "session ended"));
    }
    s.store.touch_session(&session.id, now).await?;
    Ok(tokens(issue(s, auth, &session, &r.scope, None).await?))
}

async fn ciba_grant(
    s: &Sandbox,
    auth: &Authenticated<'_>,
    auth_req_id: &str,
) -> anyhow::Result<HttpResponse> {
    let now = now();
    let Some(r) = s.store.request(auth_req_id).await? else {
        return Ok(oauth_error(ErrorCode::InvalidGrant, "unknown auth_req_id"));
    };
    if r.kind != store::KIND_CIBA || r.client_id != auth.client.client_id {
        return Ok(oauth_error(ErrorCode::InvalidGrant, "unknown auth_req_id"));
    }
    if r.status == status::DONE {
        return Ok(oauth_error(
            ErrorCode::InvalidGrant,
            "auth_req_id already used",
        ));
    }
    if r.expires_at <= now {
        return Ok(oauth_error(
            ErrorCode::ExpiredToken,
            "the request has expired",
        ));
    }
    match r.status.as_str() {
        status::DENIED => Ok(oauth_error(
            ErrorCode::AccessDenied,
            "refused by the professional",
        )),
        status::PENDING => {
            if s.store.record_poll(&r.id, now_ms(), 200).await? {
                Ok(oauth_error(
                    ErrorCode::AuthorizationPending,
                    "waiting for the professional",
                ))
            } else {
                Ok(oauth_error(
                    ErrorCode::SlowDown,
                    "polled faster than the interval",
                ))
            }
        }
        status::APPROVED => {
            if !s.store.consume(&r.id, now).await? {
                return Ok(oauth_error(
                    ErrorCode::InvalidGrant,
                    "auth_req_id already used",
                ));
            }
            let idnat = r.idnat.as_deref().unwrap_or("");
            let session = open_session(s, idnat, &r.channel).await?;
            Ok(tokens(issue(s, auth, &session, &r.scope, None).await?))
        }
        _ => Ok(oauth_error(ErrorCode::InvalidGrant, "unknown auth_req_id")),
    }
}

/// What a valid access token says, with its session still open.
async fn bearer(
    s: &Sandbox,
    token: &str,
    certificate: Option<&PeerCertificate>,
) -> anyhow::Result<Option<Map<String, Value>>> {
    let now = now();
    let Some(claims) = s.keys.verify(token, now) else {
        return Ok(None);
    };
    if claims.get("typ").and_then(Value::as_str) != Some("Bearer") {
        return Ok(None);
    }
    if let Some(bound) = claims
        .get("cnf")
        .and_then(|c| c.get("x5t#S256"))
        .and_then(Value::as_str)
    {
        let presented = certificate.map(|c| super::client_auth::thumbprint(&c.0));
        if presented.as_deref() != Some(bound) {
            return Ok(None);
        }
    }
    let sid = claims.get("sid").and_then(Value::as_str).unwrap_or("");
    match s.store.session(sid).await? {
        Some(session) if session_alive(s, &session, now) => Ok(Some(claims)),
        _ => Ok(None),
    }
}

#[derive(Deserialize)]
struct UserinfoForm {
    access_token: Option<String>,
}

async fn userinfo(s: web::Data<Sandbox>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let from_header = header(&req, AUTHORIZATION)
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::to_owned);
    let token = from_header.or_else(|| {
        serde_urlencoded::from_bytes::<UserinfoForm>(&body)
            .ok()
            .and_then(|f| f.access_token)
    });
    let Some(token) = token else {
        return oauth_error(ErrorCode::InvalidToken, "no access token");
    };
    let claims = match bearer(&s, &token, req.conn_data::<PeerCertificate>()).await {
        Ok(Some(c)) => c,
        Ok(None) => return oauth_error(ErrorCode::InvalidToken, "invalid or expired token"),
        Err(e) => return server_error(e),
    };
    let sub = claims.get("sub").and_then(Value::as_str).unwrap_or("");
    let client_id = claims.get("azp").and_then(Value::as_str).unwrap_or("");
    let professional = crate::psc::protocol::subject_idnat(sub)
        .ok()
        .and_then(|i| s.directory.get(&i));
    let Some(professional) = professional else {
        return oauth_error(ErrorCode::InvalidToken, "unknown subject");
    };
    let info = UserInfo {
        sub: professional.sub.clone(),
        claims: professional.claims.clone(),
    };
    let signed = s
        .settings
        .client(client_id)
        .is_some_and(|c| c.userinfo_signed);
    if !signed {
        return HttpResponse::Ok()
            .insert_header((CACHE_CONTROL, "no-store"))
            .json(info);
    }
    let mut map = match serde_json::to_value(&info) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    map.insert("iss".into(), json!(s.endpoints.issuer));
    map.insert("aud".into(), json!(client_id));
    map.insert("iat".into(), json!(now()));
    match s.keys.sign("JWT", map) {
        Ok(jwt) => HttpResponse::Ok()
            .insert_header((CACHE_CONTROL, "no-store"))
            .insert_header((CONTENT_TYPE, "application/jwt"))
            .body(jwt),
        Err(e) => server_error(e),
    }
}

async fn introspect(s: web::Data<Sandbox>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let form = match form_map(&body) {
        Ok(f) => f,
        Err(e) => return oauth_error(ErrorCode::InvalidRequest, &e),
    };
    if client(&s, &req, &form).is_none() {
        return oauth_error(ErrorCode::InvalidClient, "client authentication failed");
    }
    let Some(token) = param(&form, "token") else {
        return oauth_error(ErrorCode::InvalidRequest, "token is required");
    };
    let answer = async {
        let now = now();
        // The certificate binding is the resource server's check; introspection reports it.
        if let Some(claims) = s.keys.verify(token, now) {
            let sid = claims.get("sid").and_then(Value::as_str).unwrap_or("");
            let alive = s
                .store
                .session(sid)
                .await?
                .is_some_and(|session| session_alive(&s, &session, now));
            if alive && claims.get("typ").and_then(Value::as_str) == Some("Bearer") {
                let mut out = Map::new();
                out.insert("active".into(), json!(true));
                out.insert("token_type".into(), json!("Bearer"));
                out.insert(
                    "client_id".into(),
                    claims.get("azp").cloned().unwrap_or(Value::Null),
                );
                for k in [
                    "iss",
                    "sub",
                    "aud",
                    "scope",
                    "exp",
                    "iat",
                    "jti",
                    "acr",
                    "auth_time",
                    "sid",
                    "cnf",
                ] {
                    if let Some(v) = claims.get(k) {
                        out.insert(k.into(), v.clone());
                    }
                }
                if let Some(idnat) = claims
                    .get("sub")
                    .and_then(Value::as_str)
                    .and_then(|s| crate::psc::protocol::subject_idnat(s).ok())
                {
                    out.insert("preferred_username".into(), json!(idnat.as_str()));
                }
                return Ok::<Value, anyhow::Error>(Value::Object(out));
            }
            return Ok(json!({ "active": false }));
        }
        if let Some(r) = s.store.refresh(&hash_secret(token)).await?
            && r.expires_at > now
        {
            let alive = s
                .store
                .session(&r.session_id)
                .await?
                .is_some_and(|session| session_alive(&s, &session, now));
            if alive {
                return Ok(json!({
                    "active": true, "token_type": "Refresh", "client_id": r.client_id,
                    "scope": r.scope, "exp": r.expires_at, "sid": r.session_id,
                }));
            }
        }
        Ok(json!({ "active": false }))
    };
    match answer.await {
        Ok(v) => HttpResponse::Ok()
            .insert_header((CACHE_CONTROL, "no-store"))
            .json(v),
        Err(e) => server_error(e),
    }
}

/// Ends the session of a refresh token presented by its client (Keycloak's back-channel
/// logout form of the logout endpoint). `None`: not that kind of request.
pub async fn client_logout(s: &Sandbox, req: &HttpRequest, body: &[u8]) -> Option<HttpResponse> {
    let form = form_map(body).ok()?;
    let token = param(&form, "refresh_token")?;
    let Some(auth) = client(s, req, &form) else {
        return Some(oauth_error(
            ErrorCode::InvalidClient,
            "client authentication failed",
        ));
    };
    let answer = async {
        match s.store.refresh(&hash_secret(token)).await? {
            Some(r) if r.client_id == auth.client.client_id => {
                s.store.end_session(&r.session_id).await?;
                Ok::<_, anyhow::Error>(HttpResponse::NoContent().finish())
            }
            _ => Ok(oauth_error(
                ErrorCode::InvalidGrant,
                "unknown refresh token",
            )),
        }
    };
    Some(answer.await.unwrap_or_else(server_error))
}

/// The method a client used, for logs.
pub fn method_name(m: Method) -> &'static str {
    match m {
        Method::SecretBasic => "client_secret_basic",
        Method::SecretPost => "client_secret_post",
        Method::TlsClientAuth => "tls_client_auth",
    }
}
