//! The SSO session's lifetimes and level names (`[session]`).

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionSettings {
    pub absolute_secs: i64,
    pub idle_secs: i64,
    pub levels: Vec<String>,
}
