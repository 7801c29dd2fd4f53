//! The local identity repository kept in step with the nation and with HR: RPPS import, HR
//! import, directory (AD/LDAP) sync, reconciliation and scheduled sync jobs (rpps.md).

pub mod hr;
pub mod ldap;
pub mod reconcile;
pub mod rpps;
pub mod sync;
