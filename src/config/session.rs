//! The SSO session's lifetimes and level names (`[session]`).

use serde::Deserialize;

use crate::protocol::AcrLadder;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionSettings {
    pub absolute_secs: i64,
    pub idle_secs: i64,
    /// The `acr` values of the three levels, lowest first.
    pub levels: AcrLadder,
}
