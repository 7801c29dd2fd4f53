//! CPS smartcard login: through a trusted proxy, over real transports, and the revocation
//! sources.

mod login;
mod revocation;
mod transport;

pub use login::*;
