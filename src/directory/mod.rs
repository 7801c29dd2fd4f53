//! The local identity repository kept in step with the nation and with HR: RPPS import, HR
//! import, reconciliation and scheduled sync jobs (rpps.md).

pub mod hr;
pub mod reconcile;
pub mod rpps;
pub mod sync;
