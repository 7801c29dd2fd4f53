//! Trousseau as a client of Pro Santé Connect (psc.md): the client (discovery, keys, code flow,
//! CIBA, token checks), its errors, the authorizations waiting for the browser's return, and
//! the e-CPS login.

pub mod client;
pub mod error;
pub mod login;
pub mod pending;

pub use client::{Channel, CibaPoll, CibaStarted, PendingAuthorization, ProvenIdentity, PscClient};
pub use error::PscError;
