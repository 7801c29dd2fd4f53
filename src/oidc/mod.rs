//! The OpenID Connect protocol core: registered clients, signing keys, parameters and parsed
//! authorization requests, scopes, token minting, OAuth errors and back-channel logout tokens.
//! No endpoint here: those are in `crate::endpoint`.

pub mod backchannel;
pub mod client;
pub mod error;
pub mod keys;
pub mod mint;
pub mod params;
pub mod refusal;
pub mod request;
pub mod scope;
