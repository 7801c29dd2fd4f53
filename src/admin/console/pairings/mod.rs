//! The pairings page: list and filter by status and expiry, revoke, CSV export.

mod export;
mod list;
mod revoke;

use actix_web::web;

/// Registers the page's routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/pairings", web::get().to(list::pairings))
        .route("/admin/pairings.csv", web::get().to(export::pairings_csv))
        .route(
            "/admin/pairings/{id}/revoke",
            web::post().to(revoke::revoke),
        );
}
