//! Pro Santé Connect (psc.md): the values of its protocol (shared by Trousseau's PSC client and
//! the PSC sandbox so that both agree by construction), Trousseau as a client of PSC (discovery,
//! keys, code flow, CIBA, token checks, the authorizations waiting for the browser's return, the
//! e-CPS login) and the e-CPS pairing of hospital accounts.

pub mod client;
pub mod enrolment;
pub mod error;
pub mod login;
pub mod pairing;
pub mod pending;
pub mod protocol;

pub use client::{Channel, CibaPoll, CibaStarted, PendingAuthorization, ProvenIdentity, PscClient};
pub use error::PscError;

use std::sync::Arc;

use crate::audit::Audit;
use crate::clock::SharedClock;
use crate::config::Settings;
use crate::crypto::master_key::MasterKey;
use crate::storage::Db;

/// What the e-CPS login and the pairing use, lent by `AppState::ecps()`.
#[derive(Debug, Clone, Copy)]
pub struct Ecps<'a> {
    pub settings: &'a Settings,
    pub db: &'a Db,
    pub clock: &'a SharedClock,
    pub audit: &'a Audit,
    pub master: &'a MasterKey,
    /// The Pro Santé Connect client, when `[psc]` is enabled.
    pub psc: &'a Option<Arc<PscClient>>,
}
