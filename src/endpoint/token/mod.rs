//! The token endpoint (RFC 6749 §3.2): the request is parsed once into one variant per grant,
//! the client authenticated, then the grant's own module answers.

mod authorization_code;
mod client_credentials;
mod refresh_token;

use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE, PRAGMA};
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use serde::Serialize;
use serde_json::json;

use super::claims;
use super::client_auth::{Refusal, authenticate, basic_credentials};
use crate::audit::{AuditEvent, RequestContext};
use crate::oidc::client::{Client, GrantType};
use crate::oidc::error::{ErrorCode, OAuthError};
use crate::oidc::mint::{self, AccessToken};
use crate::oidc::params::Params;
use crate::oidc::refusal::GrantRefusal as Why;
use crate::protocol::ScopeSet;
use crate::session::SessionClaims;
use crate::state::AppState;
use crate::storage::identities::{self, IdentityRecord};
use crate::ui::context::context_of;

/// A token request, one variant per grant type.
#[derive(Debug)]
pub enum TokenRequest {
    AuthorizationCode {
        code: String,
        redirect_uri: Option<String>,
        code_verifier: Option<String>,
    },
    RefreshToken {
        refresh_token: String,
        scope: Option<String>,
    },
    ClientCredentials {
        scope: Option<String>,
    },
}

impl TokenRequest {
    pub fn parse(p: &Params) -> Result<TokenRequest, OAuthError> {
        let grant = p.require("grant_type")?;
        let owned = |k: &str| p.get(k).map(str::to_owned);
        Ok(match grant {
            "authorization_code" => TokenRequest::AuthorizationCode {
                code: p.require("code")?.to_owned(),
                redirect_uri: owned("redirect_uri"),
                code_verifier: owned("code_verifier"),
            },
            "refresh_token" => TokenRequest::RefreshToken {
                refresh_token: p.require("refresh_token")?.to_owned(),
                scope: owned("scope"),
            },
            "client_credentials" => TokenRequest::ClientCredentials {
                scope: owned("scope"),
            },
            other => {
                return Err(OAuthError::new(
                    ErrorCode::UnsupportedGrantType,
                    format!("the grant type {other} is not supported"),
                ));
            }
        })
    }

    pub fn grant(&self) -> GrantType {
        match self {
            TokenRequest::AuthorizationCode { .. } => GrantType::AuthorizationCode,
            TokenRequest::RefreshToken { .. } => GrantType::RefreshToken,
            TokenRequest::ClientCredentials { .. } => GrantType::ClientCredentials,
        }
    }
}

/// A successful token response (RFC 6749 §5.1).
#[derive(Debug, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    pub scope: String,
}

/// `POST /token`.
pub async fn token(req: HttpRequest, state: web::Data<AppState>, body: web::Bytes) -> HttpResponse {
    let ctx = context_of(&req);
    let result = answer(&req, &state, &body, &ctx).await;
    match result {
        Ok((grant, resp)) => {
            state.metrics.token(grant, "success");
            HttpResponse::Ok()
                .insert_header((CACHE_CONTROL, "no-store"))
                .insert_header((PRAGMA, "no-cache"))
                .json(resp)
        }
        Err((grant, refusal)) => {
            state.metrics.token(grant, "failure");
            let mut event = AuditEvent::failure("token_refused", refusal.reason.as_str())
                .context(&ctx)
                .details(json!({ "grant": grant, "error": refusal.error.code.as_str() }));
            if let Some(c) = &refusal.client_id {
                event = event.client(c);
            }
            state.audit.record(event).await;
            refusal.error.error_response()
        }
    }
}

type Answer = Result<(&'static str, TokenResponse), (&'static str, Refusal)>;

async fn answer(req: &HttpRequest, state: &AppState, body: &[u8], ctx: &RequestContext) -> Answer {
    let (params, basic, request) = parse(req, body).map_err(|r| ("unknown", r))?;
    let grant = request.grant().as_str();
    let client = authenticate(state, basic, &params)
        .await
        .map_err(|r| (grant, r))?;
    if !client.allows(request.grant()) {
        let msg = format!("this client may not use the {grant} grant");
        let r = Refusal::new(Why::GrantNotAllowed, msg, Some(client.id.as_str()));
        return Err((grant, r));
    }
    let result = match request {
        TokenRequest::AuthorizationCode {
            code,
            redirect_uri,
            code_verifier,
        } => {
            authorization_code::grant(
                state,
                &client,
                &code,
                redirect_uri.as_deref(),
                code_verifier.as_deref(),
                ctx,
            )
            .await
        }
        TokenRequest::RefreshToken {
            refresh_token,
            scope,
        } => refresh_token::grant(state, &client, &refresh_token, scope.as_deref(), ctx).await,
        TokenRequest::ClientCredentials { scope } => {
            client_credentials::grant(state, &client, scope.as_deref(), ctx).await
        }
    };
    result.map(|r| (grant, r)).map_err(|mut r| {
        r.client_id.get_or_insert_with(|| client.id.to_string());
        (grant, r)
    })
}

/// Reads a token request: a form body, the `Authorization` header, one grant's parameters.
fn parse(req: &HttpRequest, body: &[u8]) -> Result<(Params, Basic, TokenRequest), Refusal> {
    let form = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !form.starts_with("application/x-www-form-urlencoded") {
        let msg = "the body must be application/x-www-form-urlencoded";
        return Err(Refusal::new(Why::BadContentType, msg, None));
    }
    let params = Params::parse(body)
        .map_err(|e| Refusal::new(Why::RepeatedParameter, e.description, None))?;
    let basic = basic_credentials(req)?;
    let request = TokenRequest::parse(&params).map_err(|e| {
        let reason = if e.code == ErrorCode::UnsupportedGrantType {
            Why::UnsupportedGrantType
        } else {
            Why::MalformedTokenRequest
        };
        Refusal::new(reason, e.description, params.get("client_id"))
    })?;
    Ok((params, basic, request))
}

/// HTTP Basic client credentials: the client id and its secret.
type Basic = Option<(String, String)>;

/// Scopes granted on a refresh: all of the original ones, or the subset asked for.
fn narrow_scope(granted: &str, asked: Option<&str>) -> Result<String, Refusal> {
    let Some(asked) = asked else {
        return Ok(granted.to_owned());
    };
    let not_granted = |extra: &str| {
        let msg = format!("the scope {extra} was not granted originally");
        Refusal::new(Why::ScopeWidening, msg, None)
    };
    let have = ScopeSet::parse(granted)
        .map_err(|e| anyhow::anyhow!("a stored grant holds a malformed scope: {e}"))?;
    let want = ScopeSet::parse(asked).map_err(|e| not_granted(&e.0))?;
    if let Some(extra) = want.first_missing_from(&have) {
        return Err(not_granted(extra.as_str()));
    }
    Ok(want.to_string())
}

/// The audit event every successful grant records (batched: never blocks the response).
async fn audit_issued(
    state: &AppState,
    client: &Client,
    sub: &str,
    grant: &str,
    ctx: &RequestContext,
    jti: &str,
) {
    state
        .audit
        .record(
            AuditEvent::success("token_issued")
                .subject(sub)
                .client(&client.id)
                .context(ctx)
                .details(json!({ "grant": grant, "jti": jti })),
        )
        .await;
}

/// The active identity `id`, or `None` when it is gone or may not sign in.
async fn active_identity(
    state: &AppState,
    id: &str,
) -> Result<Option<IdentityRecord>, sqlx::Error> {
    let identity = identities::by_id(state.db.pool(), id).await?;
    Ok(identity.filter(|i| i.status.is_active()))
}

/// What a person's grant (an authorization code, a refresh) signs for the client.
struct PersonGrant<'a> {
    identity: &'a IdentityRecord,
    scope: &'a str,
    claims: &'a SessionClaims,
    /// The refresh family the access token names.
    family: Option<&'a str>,
    nonce: Option<&'a str>,
    with_id_token: bool,
}

/// Signs the access token, and the ID token when asked, of a person's grant.
async fn sign_for_person(
    state: &AppState,
    client: &Client,
    grant: &PersonGrant<'_>,
    now: i64,
) -> Result<(AccessToken, Option<String>), Refusal> {
    let keys = state.keys.get().await?;
    let issuer = state.settings.issuer();
    let ttl = &state.settings.tokens;
    let sub = &grant.identity.id;
    let at = mint::access_token(
        &keys,
        &issuer,
        client,
        sub,
        grant.scope,
        Some(grant.claims),
        grant.family,
        ttl.access_token_ttl_secs,
        now,
    )?;
    let scopes = ScopeSet::parse(grant.scope).map_err(anyhow::Error::from)?;
    if !grant.with_id_token {
        return Ok((at, None));
    }
    let extra = claims::for_id_token(state, client, sub, &scopes.as_strs()).await?;
    let id_token = mint::id_token(
        &keys,
        &issuer,
        client,
        grant.identity,
        grant.scope,
        grant.claims,
        grant.nonce,
        Some(&at.token),
        extra,
        ttl.id_token_ttl_secs,
        now,
    )?;
    Ok((at, Some(id_token)))
}
