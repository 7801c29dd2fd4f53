//! The synchronisation page: start a run, follow its progress, the reconciliation report.

use actix_web::web;

/// Registers the page's routes.
pub fn configure(_cfg: &mut web::ServiceConfig) {}
