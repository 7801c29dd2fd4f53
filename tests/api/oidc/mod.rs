//! OpenID Connect and OAuth 2.0: discovery, the authorization code flow and its bindings and
//! limits, pushed requests, client authentication, tokens, scopes, logout and every refusal.

mod client_auth;
mod code_flow;
mod discovery;
mod error_formats;
mod flow_binding;
mod flow_limits;
mod logout;
mod negative;
mod par;
mod scopes;
mod tokens;
