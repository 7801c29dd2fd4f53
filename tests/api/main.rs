//! Black-box tests of Trousseau: one binary, one module per feature.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod helpers;
mod peers;

mod ad;
mod cli;
mod client_auth;
mod cluster;
mod code_flow;
mod cps;
mod cps_pki;
mod cps_revocation;
mod cps_transport;
mod demo;
mod discovery;
mod error_formats;
mod flow_binding;
mod flow_limits;
mod hr;
mod identity;
mod ldap;
mod logout;
mod metrics;
mod negative;
mod par;
mod rpps;
mod scopes;
mod security_keys;
mod sessions;
mod throttle;
mod tokens;
