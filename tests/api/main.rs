//! Black-box tests of Trousseau: one binary, one folder per feature.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod helpers;

// Shared with the unit tests of `src/authn/cps/` and with `benches/cps.rs` through `#[path]`,
// so it stays at this path.
mod cps_pki;

mod admin;
mod cps;
mod directory;
mod login;
mod oidc;
mod ops;
mod psc;
mod psc_sandbox;
