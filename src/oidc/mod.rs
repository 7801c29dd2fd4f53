//! The OpenID Connect provider: discovery, keys, authorization, tokens, userinfo,
//! introspection, revocation and logout.

pub mod access;
pub mod authorize;
pub mod backchannel;
pub mod claims;
pub mod client;
pub mod client_auth;
pub mod discovery;
pub mod end_session;
pub mod error;
pub mod flow;
pub mod introspect;
pub mod keys;
pub mod mint;
pub mod par;
pub mod params;
pub mod refusal;
pub mod request;
pub mod revoke;
pub mod routes;
pub mod scope;
pub mod token;
pub mod userinfo;

pub use routes::configure;
