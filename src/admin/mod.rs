//! Administration of identities and clients, shared by the CLI (and later the console).

pub mod api;
pub mod audit;
pub mod cards;
pub mod clients;
pub mod console;
pub mod cursor;
pub mod keys;
pub mod pairings;
pub mod roles;
pub mod sync;
pub mod users;

/// A refused administrative action, worded for the person who asked: the same refusals as a
/// change of the identity repository.
pub use crate::directory::users::UserError as AdminError;
