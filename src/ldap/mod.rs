//! The hospital's directory (Active Directory or OpenLDAP): password binds with failover across
//! replicas, TLS (LDAPS or StartTLS) with a configurable CA, a pool of service-account
//! connections for searches, password changes, and the paged searches the sync reads. The
//! client is [`LdapClient`] (see `client.rs` for the name).

mod bind;
pub mod check;
mod client;
mod entry;
mod error;
mod password;
mod pool;
mod search;

pub use client::{Entries, LdapClient};
pub use entry::{DirEntry, guid_text, requested};
pub use error::{DirError, Refusal, ad_subcode, ppolicy_error};
pub use search::normalize_login;
