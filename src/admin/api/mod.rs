//! The admin API under `/admin/api/v1`: JSON for the administration operations, authenticated
//! by OAuth client credentials whose scopes mirror the roles (`trousseau:admin`,
//! `trousseau:helpdesk`, `trousseau:audit`), errors as problem details (RFC 9457), lists
//! paginated by cursor. Its OpenAPI 3.1 document is generated from these handlers and served at
//! `/admin/api/v1/openapi.json`. Every operation calls the same function as the CLI.

mod audit;
mod caller;
mod clients;
mod identities;
mod pairings;
mod problem;
mod sync;

use actix_web::{HttpResponse, web};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::server::Server;
use utoipa::{Modify, OpenApi};

use crate::state::AppState;
pub use audit::csv_response;
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
        identities::search,
        identities::get_identity,
        identities::suspend,
        identities::reactivate,
        identities::end_sessions,
        identities::enrolment_code,
        identities::put_role,
        identities::delete_role,
        audit::list,
        audit::export,
        clients::list,
        clients::get,
        pairings::list,
        pairings::revoke,
        clients::create,
        clients::put,
        clients::patch,
        clients::rotate_secret,
        clients::disable,
        clients::enable,
        sync::runs,
        sync::run,
        sync::list_findings,
    ),
    components(schemas(crate::identity::AdminRole, problem::FieldProblem)),
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

/// A method the path does not offer: 405 with the methods it does (`allow`, RFC 9110).
fn not_allowed(allow: &'static str) -> HttpResponse {
    let mut r = actix_web::ResponseError::error_response(&Problem::new(
        actix_web::http::StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "Method not allowed",
        format!("this path offers {allow} only: see /admin/api/v1/openapi.json"),
    ));
    r.headers_mut().insert(
        actix_web::http::header::ALLOW,
        actix_web::http::header::HeaderValue::from_static(allow),
    );
    r
}

/// One path and the methods it offers (`allow`); any other method is a 405 problem.
fn resource(path: &str, allow: &'static str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(move || async move { not_allowed(allow) }))
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
            .service(resource("/openapi.json", "GET").route(web::get().to(openapi)))
            .service(resource("/identities", "GET").route(web::get().to(identities::search)))
            .service(
                resource("/identities/{id}", "GET").route(web::get().to(identities::get_identity)),
            )
            .service(
                resource("/identities/{id}/suspend", "POST")
                    .route(web::post().to(identities::suspend)),
            )
            .service(
                resource("/identities/{id}/reactivate", "POST")
                    .route(web::post().to(identities::reactivate)),
            )
            .service(
                resource("/identities/{id}/end-sessions", "POST")
                    .route(web::post().to(identities::end_sessions)),
            )
            .service(
                resource("/identities/{id}/enrolment-codes", "POST")
                    .route(web::post().to(identities::enrolment_code)),
            )
            .service(
                resource("/identities/{id}/roles/{role}", "PUT, DELETE")
                    .route(web::put().to(identities::put_role))
                    .route(web::delete().to(identities::delete_role)),
            )
            .service(resource("/audit", "GET").route(web::get().to(audit::list)))
            .service(resource("/audit/export", "GET").route(web::get().to(audit::export)))
            .service(resource("/pairings", "GET").route(web::get().to(pairings::list)))
            .service(
                resource("/pairings/{id}/revoke", "POST").route(web::post().to(pairings::revoke)),
            )
            .service(
                resource("/clients", "GET, POST")
                    .route(web::get().to(clients::list))
                    .route(web::post().to(clients::create)),
            )
            .service(
                resource("/clients/{id}", "GET, PUT, PATCH")
                    .route(web::get().to(clients::get))
                    .route(web::put().to(clients::put))
                    .route(web::patch().to(clients::patch)),
            )
            .service(
                resource("/clients/{id}/rotate-secret", "POST")
                    .route(web::post().to(clients::rotate_secret)),
            )
            .service(
                resource("/clients/{id}/disable", "POST").route(web::post().to(clients::disable)),
            )
            .service(
                resource("/clients/{id}/enable", "POST").route(web::post().to(clients::enable)),
            )
            .service(resource("/sync/runs", "GET").route(web::get().to(sync::runs)))
            .service(resource("/sync/{kind}/run", "POST").route(web::post().to(sync::run)))
            .service(resource("/findings", "GET").route(web::get().to(sync::list_findings)))
            .default_service(web::to(unknown)),
    );
}
