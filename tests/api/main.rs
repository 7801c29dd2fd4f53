//! Black-box tests of Trousseau: one binary, one module per feature.

mod helpers;

mod cli;
mod client_auth;
mod code_flow;
mod discovery;
mod logout;
mod negative;
mod par;
mod sessions;
mod throttle;
mod tokens;
