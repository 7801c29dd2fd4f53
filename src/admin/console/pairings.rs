//! The pairings page: list and filter by status and expiry, revoke, CSV export.

use actix_web::web;

/// Registers the page's routes.
pub fn configure(_cfg: &mut web::ServiceConfig) {}
