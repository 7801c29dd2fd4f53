//! The administration console under `/admin`: server-rendered pages for the IT and identity
//! teams (dashboard, search, a person's page and its actions). Every page demands a
//! phishing-resistant session (loa3) of a person holding an administration role
//! ([`guard::AdminSession`]); every action is a POST form with its CSRF token, checked against
//! the role, asks for a recent authentication, and calls the same functions as the CLI.

mod actions;
mod audit;
mod clients;
mod dashboard;
pub mod guard;
mod pages;
mod pairings;
mod sync;
mod texts;

use actix_web::web;

pub use guard::AdminSession;

/// Registers the console's pages.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin", web::get().to(dashboard::dashboard))
        .route("/admin/identities", web::get().to(pages::identities))
        .route("/admin/identities/{id}", web::get().to(pages::person))
        .route(
            "/admin/identities/{id}/{action}",
            web::post().to(actions::act),
        );
    pairings::configure(cfg);
    clients::configure(cfg);
    sync::configure(cfg);
    audit::configure(cfg);
}

/// A date for the console's tables.
fn date(ts: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(ts)
        .ok()
        .and_then(|d| {
            d.format(time::macros::format_description!(
                "[day]/[month]/[year] [hour]:[minute] UTC"
            ))
            .ok()
        })
        .unwrap_or_default()
}
