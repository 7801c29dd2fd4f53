//! The admin API under `/admin/api/v1`: JSON for the administration operations, authenticated
//! by OAuth client credentials whose scopes mirror the roles (`trousseau:admin`,
//! `trousseau:helpdesk`, `trousseau:audit`), errors as problem details (RFC 9457), lists
//! paginated by cursor. Its OpenAPI 3.1 document is generated from these handlers and served at
//! `/admin/api/v1/openapi.json`. Every operation calls the same function as the CLI.

mod audit;
mod caller;
mod clients;
mod identities;
mod problem;

use actix_web::{HttpResponse, web};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::server::Server;
use utoipa::{Modify, OpenApi};

use crate::state::AppState;
pub use problem::Problem;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Trousseau admin API",
        version = "1",
        description = "Administration of people, roles, enrolment codes, sessions, clients and the audit trail. \
                       Authenticate with an access token from the client credentials grant carrying \
                       trousseau:admin, trousseau:helpdesk or trousseau:audit."
    ),
    paths(
        identities::get_identity,
        identities::suspend,
        identities::reactivate,
        identities::end_sessions,
        identities::enrolment_code,
        identities::put_role,
        identities::delete_role,
        audit::list,
        clients::list,
        clients::get,
    ),
    modifiers(&BearerAuth)
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        if let Some(components) = api.components.as_mut() {
            components.add_security_scheme(
                "bearer",
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .bearer_format("JWT")
                        .build(),
                ),
            );
        }
    }
}

/// The OpenAPI document, its server being this issuer.
pub fn document(issuer: &str) -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.servers = Some(vec![Server::new(issuer.trim_end_matches('/'))]);
    doc
}

async fn openapi(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .json(document(&state.settings.issuer()))
}

/// Any other path under the API: a problem, not the HTML not-found page.
async fn unknown() -> Result<HttpResponse, Problem> {
    Err(Problem::not_found(
        "no such operation: see /admin/api/v1/openapi.json",
    ))
}

/// Registers the admin API.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/admin/api/v1")
            .app_data(
                web::JsonConfig::default()
                    .limit(16 * 1024)
                    .error_handler(problem::json_error),
            )
            .app_data(web::QueryConfig::default().error_handler(problem::query_error))
            .app_data(web::PathConfig::default().error_handler(problem::path_error))
            .route("/openapi.json", web::get().to(openapi))
            .route("/identities/{id}", web::get().to(identities::get_identity))
            .route(
                "/identities/{id}/suspend",
                web::post().to(identities::suspend),
            )
            .route(
                "/identities/{id}/reactivate",
                web::post().to(identities::reactivate),
            )
            .route(
                "/identities/{id}/end-sessions",
                web::post().to(identities::end_sessions),
            )
            .route(
                "/identities/{id}/enrolment-codes",
                web::post().to(identities::enrolment_code),
            )
            .route(
                "/identities/{id}/roles/{role}",
                web::put().to(identities::put_role),
            )
            .route(
                "/identities/{id}/roles/{role}",
                web::delete().to(identities::delete_role),
            )
            .route("/audit", web::get().to(audit::list))
            .route("/clients", web::get().to(clients::list))
            .route("/clients/{id}", web::get().to(clients::get))
            .default_service(web::to(unknown)),
    );
}
