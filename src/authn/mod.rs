//! Authentication methods and the one level function (design.md, "How strongly").

pub mod cps;
pub mod level;
pub mod login;
pub mod password;
pub mod throttle;
pub mod webauthn;

pub use level::{AuthFactor, Level, Method, evaluate};
