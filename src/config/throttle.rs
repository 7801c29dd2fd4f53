//! Failed-login throttling by account and by address (`[throttle]`).

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThrottleSettings {
    pub account_max_failures: i64,
    pub account_lock_secs: i64,
    pub account_max_lock_secs: i64,
    pub address_max_failures: i64,
    pub address_window_secs: i64,
    /// Authorization flows one client address may hold pending at once.
    pub pending_flows_per_address: i64,
}
