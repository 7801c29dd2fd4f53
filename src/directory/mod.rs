//! The local identity repository kept in step with the nation and with HR: RPPS import, HR
//! import, directory (AD/LDAP) sync, reconciliation and scheduled sync jobs (rpps.md).

pub mod hr;
pub mod ldap;
pub mod reconcile;
pub mod report;
pub mod rpps;
pub mod sync;
pub mod users;

use futures_util::future::BoxFuture;
use std::sync::Arc;

use crate::audit::Audit;
use crate::clock::SharedClock;
use crate::config::Settings;
use crate::instruments::Metrics;
use crate::ldap::LdapClient;
use crate::storage::Db;

/// What the repository functions use, lent by the application state (`AppState::repository`).
pub struct Repository<'a> {
    pub settings: &'a Settings,
    pub db: &'a Db,
    pub clock: &'a SharedClock,
    pub audit: &'a Audit,
    /// The hospital's directory, when `[ldap]` names servers.
    pub directory: &'a Option<Arc<LdapClient>>,
    /// Ends the sessions of a withdrawn identity (the session layer, above).
    pub sessions: &'a dyn EndSessions,
    /// Counts the runs of the sync jobs.
    pub metrics: &'a Metrics,
}

/// Ends every open session of an identity, each ending audited and notified to its clients;
/// answers how many were ended.
pub trait EndSessions: Send + Sync {
    fn end_all<'a>(
        &'a self,
        identity_id: &'a str,
        reason: &'a str,
    ) -> BoxFuture<'a, anyhow::Result<usize>>;
}
