//! The browser pages (login, consent, security keys, card login, password change, pairing,
//! home), the probes and the static files, mounted by the server through [`configure`].

use actix_web::web;

use super::{
    assets, card_login, consent, directory_login, home, key_login, keys, login, ops, pairing,
    psc_login,
};

/// Registers every page. `/keys/enrol` comes before `/keys/{action}`, which would match it.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/login", web::get().to(login::login_get))
        .route("/login", web::post().to(login::login_post))
        .route("/consent", web::get().to(consent::consent_get))
        .route("/consent", web::post().to(consent::consent_post))
        .route("/switch-user", web::post().to(login::switch_user))
        .route("/login/key", web::post().to(key_login::login_key))
        .route(
            "/webauthn/login/options",
            web::post().to(key_login::login_options),
        )
        .route(
            "/webauthn/enrol/options",
            web::post().to(keys::enrol_options),
        )
        .route("/keys/enrol", web::get().to(keys::enrol_get))
        .route("/keys/enrol", web::post().to(keys::enrol_post))
        .route("/keys/enrol/ecps", web::post().to(keys::ecps_start))
        .route("/keys/enrol/ecps/status", web::get().to(keys::ecps_status))
        .route("/keys", web::get().to(keys::keys_get))
        .route("/keys/{action}", web::post().to(keys::keys_post))
        .route("/pairing", web::get().to(pairing::pairing_get))
        .route("/pairing/status", web::get().to(pairing::pairing_status))
        .route("/pairing/{action}", web::post().to(pairing::pairing_post))
        .route("/login/card", web::get().to(card_login::card_login))
        .route("/login/psc", web::get().to(psc_login::psc_login))
        .route("/psc/callback", web::get().to(psc_login::psc_callback))
        .route(
            "/password/change",
            web::get().to(directory_login::change_get),
        )
        .route(
            "/password/change",
            web::post().to(directory_login::change_post),
        )
        .route("/", web::get().to(home::home))
        .route("/healthz", web::get().to(ops::healthz))
        .route("/readyz", web::get().to(ops::readyz))
        .route("/static/{file}", web::get().to(assets::asset));
}
