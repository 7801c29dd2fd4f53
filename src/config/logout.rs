//! Back-channel logout delivery (`[logout]`).

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogoutSettings {
    pub retries: i64,
    pub backoff_secs: i64,
    pub timeout_secs: u64,
}
