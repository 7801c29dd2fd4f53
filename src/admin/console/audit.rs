//! The audit page: filters and the streamed CSV export.

use actix_web::web;

/// Registers the page's routes.
pub fn configure(_cfg: &mut web::ServiceConfig) {}
