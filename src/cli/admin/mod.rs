//! Subcommands that administer clients, users, keys, pairings and the audit trail: one file per command
//! group.

mod audit;
mod client;
mod common;
mod keys;
mod pairing;
mod user;

pub use audit::{AuditCommand, audit};
pub use client::{ClientCommand, client};
pub use keys::{KeysCommand, keys};
pub use pairing::{PairingCommand, pairing};
pub use user::{UserCommand, user};
