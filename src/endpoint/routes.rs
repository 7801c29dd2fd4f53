//! The OpenID Connect endpoints (OpenID Connect Core 1.0, Discovery 1.0, RFC 7009, RFC 7662,
//! RFC 9126, RP-Initiated Logout 1.0), mounted by the server through [`configure`].

use actix_web::web;

use super::{authorize, discovery, end_session, introspect, par, revoke, token, userinfo};

/// Registers every OpenID Connect endpoint.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/.well-known/openid-configuration",
        web::get().to(discovery::openid_configuration),
    )
    .route("/jwks", web::get().to(discovery::jwks))
    .route("/authorize", web::get().to(authorize::authorize_get))
    .route("/authorize", web::post().to(authorize::authorize_post))
    .route("/authorize/resume", web::get().to(authorize::resume))
    .route("/par", web::post().to(par::par))
    .route("/token", web::post().to(token::token))
    .route("/userinfo", web::get().to(userinfo::userinfo))
    .route("/userinfo", web::post().to(userinfo::userinfo))
    .route("/introspect", web::post().to(introspect::introspect))
    .route("/revoke", web::post().to(revoke::revoke))
    .route("/logout", web::get().to(end_session::end_session_get))
    .route("/logout", web::post().to(end_session::end_session_post));
}
