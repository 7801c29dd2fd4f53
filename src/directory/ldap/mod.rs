//! Directory (AD/LDAP) synchronisation into the identity repository: paged reads of users and
//! groups, nested groups resolved in memory, accounts linked to identities without
//! duplicates, disabled or deleted accounts withdrawn, incremental runs after the first full
//! one (uSNChanged on AD, modifyTimestamp on OpenLDAP). Also the provisioning of one account
//! at its first login.

mod apply;
mod plan;
mod provision;
mod read;
mod run;

pub use provision::provision;
pub use run::{ACTOR, Busy, JOB, SyncOptions, sync, sync_as};
