//! Registered clients (admins only): read them as the CLI describes them, register, change,
//! rotate a secret, disable and enable them through the CLI's functions.

use actix_web::http::StatusCode;
use actix_web::http::header::CACHE_CONTROL;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::caller::authenticate;
use super::problem::{FieldProblem, Problem};
use crate::admin::clients::{self, ClientSpec, SpecError};
use crate::oidc::client::GrantType;
use crate::oidc::keys::SigningAlg;
use crate::state::AppState;
use crate::storage::clients::ClientRecord;

/// Every registered client (secrets are never shown).
#[utoipa::path(
    get, path = "/admin/api/v1/clients", tag = "clients",
    responses(
        (status = 200, description = "the clients", body = Vec<Object>),
        (status = 401, description = "no valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "scope missing", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn list(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, Problem> {
    authenticate(&state, &req).await?.require(&[])?;
    let all: Vec<serde_json::Value> = clients::list(&state)
        .await?
        .iter()
        .map(clients::describe)
        .collect();
    Ok(HttpResponse::Ok().json(all))
}

/// One client.
#[utoipa::path(
    get, path = "/admin/api/v1/clients/{id}", tag = "clients",
    params(("id" = String, Path, description = "client id")),
    responses(
        (status = 200, description = "the client", body = Object),
        (status = 401, description = "no valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "scope missing", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such client", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn get(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, Problem> {
    authenticate(&state, &req).await?.require(&[])?;
    let c = clients::get(&state, &id).await?;
    Ok(HttpResponse::Ok().json(clients::describe(&c)))
}

/// A client's description as the API takes it, with the keys of its answers. In a POST or a
/// PUT the keys left out take the CLI's defaults; in a PATCH they keep the stored values, and
/// an empty `backchannel_logout_uri` or `min_acr`, or a `max_auth_age` of 0, removes them.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientBody {
    /// Letters, digits and `- . _ :`, 1 to 128 (POST only; the path names it otherwise).
    pub client_id: Option<String>,
    /// Shown to users on the consent screen.
    pub name: Option<String>,
    /// A public client has no secret and must use PKCE.
    pub public: Option<bool>,
    /// Matched exactly: https (http on localhost only), no fragment, no wildcard.
    pub redirect_uris: Option<Vec<String>>,
    pub post_logout_redirect_uris: Option<Vec<String>>,
    /// authorization_code, refresh_token, client_credentials.
    pub grant_types: Option<Vec<String>>,
    pub scopes: Option<Vec<String>>,
    /// RS256, ES256 or PS256.
    pub signing_alg: Option<String>,
    pub backchannel_logout_uri: Option<String>,
    /// An in-house application: no consent screen.
    pub first_party: Option<bool>,
    pub require_pkce: Option<bool>,
    /// The minimum authentication level (loa1, loa2, loa3).
    pub min_acr: Option<String>,
    /// The maximum age in seconds of the authentication this client accepts.
    pub max_auth_age: Option<i64>,
    /// A resource server, which may introspect every client's access tokens.
    pub introspect: Option<bool>,
    /// Pro Santé Connect's broker: the federation profile applies.
    pub psc_broker: Option<bool>,
    /// The client's public keys: it authenticates with private_key_jwt.
    #[schema(value_type = Option<Object>)]
    pub jwks: Option<Value>,
}

fn field(e: SpecError) -> FieldProblem {
    FieldProblem {
        field: e.field.to_owned(),
        code: e.code.to_owned(),
        detail: e.message,
    }
}

impl ClientBody {
    /// The spec the body describes over `spec`, checked as the CLI checks it.
    fn apply(self, state: &AppState, mut spec: ClientSpec) -> Result<ClientSpec, Problem> {
        let mut errors = Vec::new();
        let set = |to: &mut Option<String>, v: Option<String>| {
            if let Some(v) = v {
                *to = (!v.is_empty()).then_some(v);
            }
        };
        set(
            &mut spec.backchannel_logout_uri,
            self.backchannel_logout_uri,
        );
        set(&mut spec.min_acr, self.min_acr);
        if let Some(a) = self.max_auth_age {
            spec.max_auth_age = (a != 0).then_some(a);
        }
        if let Some(grants) = self.grant_types {
            spec.grants = grants
                .iter()
                .filter_map(|g| {
                    g.parse::<GrantType>()
                        .map_err(|m| errors.push(SpecError::new("grant_types", "grant_unknown", m)))
                        .ok()
                })
                .collect();
        }
        if let Some(alg) = self.signing_alg {
            match alg.parse::<SigningAlg>() {
                Ok(a) => spec.signing_alg = a,
                Err(m) => errors.push(SpecError::new("signing_alg", "alg_unknown", m)),
            }
        }
        spec.name = self.name.unwrap_or(spec.name);
        spec.public = self.public.unwrap_or(spec.public);
        spec.redirect_uris = self.redirect_uris.unwrap_or(spec.redirect_uris);
        spec.post_logout_redirect_uris = self
            .post_logout_redirect_uris
            .unwrap_or(spec.post_logout_redirect_uris);
        spec.scopes = self.scopes.unwrap_or(spec.scopes);
        spec.first_party = self.first_party.unwrap_or(spec.first_party);
        spec.require_pkce = self.require_pkce.unwrap_or(spec.require_pkce);
        spec.introspect = self.introspect.unwrap_or(spec.introspect);
        spec.psc_broker = self.psc_broker.unwrap_or(spec.psc_broker);
        spec.jwks = self.jwks.or(spec.jwks);
        if let Err(e) = clients::check(state, &spec) {
            errors.extend(e);
        }
        if errors.is_empty() {
            Ok(spec)
        } else {
            Err(Problem::fields(errors.into_iter().map(field).collect()))
        }
    }
}

/// A client as the API answers after a change; `client_secret` only when one was just issued.
fn answer(rec: &ClientRecord, secret: Option<String>, status: StatusCode) -> HttpResponse {
    let mut body = clients::describe(rec);
    if let Some(s) = secret {
        body["client_secret"] = Value::String(s);
    }
    HttpResponse::build(status)
        .insert_header((CACHE_CONTROL, "no-store"))
        .json(body)
}

/// Registers a client; a confidential one without keys gets a secret, in this answer only.
#[utoipa::path(
    post, path = "/admin/api/v1/clients", tag = "clients",
    request_body = ClientBody,
    responses(
        (status = 201, description = "registered: the client, with client_secret if one was issued (shown once)", body = Object),
        (status = 400, description = "invalid request", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "no valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "scope missing", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "the client id is taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "fields refused, each named", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn create(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<ClientBody>,
) -> Result<HttpResponse, Problem> {
    let caller = authenticate(&state, &req).await?;
    caller.require(&[])?;
    let mut body = body.into_inner();
    let id = body.client_id.take().unwrap_or_default();
    let spec = body.apply(&state, clients::default_spec(&id))?;
    let secret = clients::create(&state, &spec, &caller.actor()).await?;
    let rec = clients::get(&state, &id).await?;
    Ok(answer(&rec, secret, StatusCode::CREATED))
}

/// Changes a client: PUT describes it whole (keys left out take the defaults), PATCH only the
/// keys given. Its secret and whether it is disabled do not change.
async fn change(
    state: &web::Data<AppState>,
    req: &HttpRequest,
    id: &str,
    body: ClientBody,
    whole: bool,
) -> Result<HttpResponse, Problem> {
    let caller = authenticate(state, req).await?;
    caller.require(&[])?;
    if body.client_id.as_deref().is_some_and(|c| c != id) {
        let e = SpecError::new("client_id", "id_immutable", "a client's id cannot change");
        return Err(Problem::fields(vec![field(e)]));
    }
    let current = clients::get(state, id).await?;
    let base = if whole {
        ClientSpec {
            jwks: None,
            ..clients::default_spec(id)
        }
    } else {
        clients::spec_of(&current)
    };
    let spec = body.apply(state, base)?;
    let rec = clients::update(state, &spec, &caller.actor()).await?;
    Ok(answer(&rec, None, StatusCode::OK))
}

/// Replaces a client's description (keys left out take the defaults).
#[utoipa::path(
    put, path = "/admin/api/v1/clients/{id}", tag = "clients",
    params(("id" = String, Path, description = "client id")),
    request_body = ClientBody,
    responses(
        (status = 200, description = "the client as stored", body = Object),
        (status = 400, description = "invalid request", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "no valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "scope missing", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such client", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "fields refused, each named", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn put(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
    body: web::Json<ClientBody>,
) -> Result<HttpResponse, Problem> {
    change(&state, &req, &id, body.into_inner(), true).await
}

/// Changes the keys given of a client's description.
#[utoipa::path(
    patch, path = "/admin/api/v1/clients/{id}", tag = "clients",
    params(("id" = String, Path, description = "client id")),
    request_body = ClientBody,
    responses(
        (status = 200, description = "the client as stored", body = Object),
        (status = 400, description = "invalid request", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "no valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "scope missing", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such client", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "fields refused, each named", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn patch(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
    body: web::Json<ClientBody>,
) -> Result<HttpResponse, Problem> {
    change(&state, &req, &id, body.into_inner(), false).await
}

/// Replaces a confidential client's secret: the old one stops working at once, the new one is
/// in this answer only.
#[utoipa::path(
    post, path = "/admin/api/v1/clients/{id}/rotate-secret", tag = "clients",
    params(("id" = String, Path, description = "client id")),
    responses(
        (status = 200, description = "the client, with its new client_secret (shown once)", body = Object),
        (status = 400, description = "the client has no secret (public, or private_key_jwt)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "no valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "scope missing", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such client", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn rotate_secret(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, Problem> {
    let caller = authenticate(&state, &req).await?;
    caller.require(&[])?;
    let secret = clients::rotate_secret(&state, &id, &caller.actor()).await?;
    let rec = clients::get(&state, &id).await?;
    Ok(answer(&rec, Some(secret), StatusCode::OK))
}

async fn set_disabled(
    state: &web::Data<AppState>,
    req: &HttpRequest,
    id: &str,
    disabled: bool,
) -> Result<HttpResponse, Problem> {
    let caller = authenticate(state, req).await?;
    caller.require(&[])?;
    let (_, after) = clients::set_disabled(state, id, disabled, &caller.actor()).await?;
    Ok(answer(&after, None, StatusCode::OK))
}

/// Disables a client: no login starts for it (`unauthorized_client`), no token is issued to it
/// (`invalid_client`); its registration is kept. Disabling a disabled client changes nothing.
#[utoipa::path(
    post, path = "/admin/api/v1/clients/{id}/disable", tag = "clients",
    params(("id" = String, Path, description = "client id")),
    responses(
        (status = 200, description = "the client, disabled", body = Object),
        (status = 401, description = "no valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "scope missing", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such client", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn disable(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, Problem> {
    set_disabled(&state, &req, &id, true).await
}

/// Enables a disabled client again.
#[utoipa::path(
    post, path = "/admin/api/v1/clients/{id}/enable", tag = "clients",
    params(("id" = String, Path, description = "client id")),
    responses(
        (status = 200, description = "the client, enabled", body = Object),
        (status = 401, description = "no valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "scope missing", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such client", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn enable(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, Problem> {
    set_disabled(&state, &req, &id, false).await
}
