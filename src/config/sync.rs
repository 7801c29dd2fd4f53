//! Scheduled jobs and their lease (`[sync]`).

use serde::Deserialize;

use super::ConfigError;

/// Jobs that `serve` runs on a schedule; with several nodes, a database lease lets one node
/// run each job at a time.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncSettings {
    pub lease_secs: i64,
    pub rpps: RppsSyncSettings,
    pub hr: HrSyncSettings,
    pub ldap: LdapSyncSettings,
    pub hr_dates: HrDatesSyncSettings,
}

/// The job that applies HR arrival and departure dates as the days come, whether or not the
/// HR drop folder is watched.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HrDatesSyncSettings {
    pub interval_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LdapSyncSettings {
    /// Run the scheduled sync (`trousseau ldap sync` works either way).
    pub enabled: bool,
    pub interval_secs: u64,
    /// Every n-th scheduled run is a full one.
    pub full_every: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RppsSyncSettings {
    /// A file path or an http(s) URL of the extraction (zip or txt); empty: job off.
    pub source: String,
    pub interval_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HrSyncSettings {
    /// Folder where HR exports (*.csv) are dropped; empty: job off. Imported files move to
    /// `done/` (or `failed/`) inside it.
    pub folder: String,
    pub interval_secs: u64,
}

impl SyncSettings {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.lease_secs <= 0 {
            return Err(ConfigError::key(
                "sync.lease_secs",
                "must be a positive number",
            ));
        }
        if self.rpps.interval_secs == 0 {
            return Err(ConfigError::key(
                "sync.rpps.interval_secs",
                "must be a positive number",
            ));
        }
        if self.hr.interval_secs == 0 {
            return Err(ConfigError::key(
                "sync.hr.interval_secs",
                "must be a positive number",
            ));
        }
        if self.hr_dates.interval_secs == 0 {
            return Err(ConfigError::key(
                "sync.hr_dates.interval_secs",
                "must be a positive number",
            ));
        }
        if self.ldap.interval_secs == 0 || self.ldap.full_every == 0 {
            return Err(ConfigError::key(
                "sync.ldap.interval_secs",
                "interval_secs and full_every must be positive",
            ));
        }
        Ok(())
    }
}
