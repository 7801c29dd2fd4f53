//! Liveness and readiness probes.

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::state::AppState;

/// The process is up.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// The process can serve: the database answers and signing keys are loaded.
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let db = state.db.ping().await.is_ok();
    let keys = state.keys.get().await.is_ok_and(|k| !k.jwks().is_empty());
    let body = json!({ "database": db, "signing_keys": keys });
    if db && keys {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}
