//! Trousseau as a client of Pro Santé Connect (psc.md): the client (discovery, keys, code flow,
//! CIBA, token checks), its errors, and the e-CPS login.

pub mod client;
pub mod error;

pub use client::{Channel, CibaPoll, CibaStarted, PendingAuthorization, ProvenIdentity, PscClient};
pub use error::PscError;
