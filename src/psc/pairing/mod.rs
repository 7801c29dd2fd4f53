//! e-CPS pairing (psc.md, "Pairing"; design.md, "With the nation"): the national identity an
//! e-CPS validation proved for a hospital account, its rules, and how it ends.

mod error;
mod record;
mod revoke;
mod rules;

pub use error::PairingError;
pub use record::{Means, Proof, record};
pub use revoke::{cancel, revoke, revoke_on_withdrawal};
pub use rules::{PairingView, check_session, may_pair, view, warning_days};
