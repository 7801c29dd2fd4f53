//! Login decisions, apart from the pages that show them: each takes typed values (never an
//! HTTP request), audits its outcome and answers who signed in, or why not with a stable reason.

pub mod directory;
pub mod outcome;
pub mod password;
pub mod password_change;

pub use outcome::{Class, LoginOutcome, Proof, Refused, Say, with_card, with_key, with_password};
pub use password::{Checked, Failure, check_login};
