//! The OpenID Connect provider's endpoints: discovery, keys, authorization, tokens, userinfo,
//! introspection, revocation and logout, over the protocol core in `crate::oidc`.

pub mod access;
pub mod authorize;
pub mod claims;
pub mod client_auth;
pub mod discovery;
pub mod end_session;
pub mod flow;
pub mod introspect;
pub mod par;
pub mod revoke;
pub mod routes;
pub mod token;
pub mod userinfo;

pub use routes::configure;
