//! The clients pages: create, edit, rotate a secret (shown once), disable.

use actix_web::web;

/// Registers the page's routes.
pub fn configure(_cfg: &mut web::ServiceConfig) {}
