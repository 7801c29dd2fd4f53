//! Registered clients (admins only): read them as the CLI describes them.

use actix_web::{HttpRequest, HttpResponse, web};

use super::caller::authenticate;
use super::problem::Problem;
use crate::admin::clients;
use crate::state::AppState;

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
