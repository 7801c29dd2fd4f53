//! e-CPS pairing (psc.md, "Pairing"; design.md, "With the nation"): the national identity an
//! e-CPS validation proved for a hospital account, its rules, and how it ends.

mod error;
mod pending;
mod record;
mod revoke;
mod rules;
mod start;
mod worker;

pub use error::PairingError;
pub use pending::{Asker, latest_for, latest_of_purpose, request_for};
pub use record::{Means, Proof, record};
pub use revoke::{cancel, revoke, revoke_on_withdrawal};
pub use rules::{PairingView, check_session, may_pair, view, warning_days};
pub use start::{Starter, complete_redirect, send_request, start_ciba, start_redirect};
pub use worker::{PAIRING_JOB, Schedule, complete, complete_proven, poll_round};
