//! The audit trail's sealing, checkpoints and retention (`[audit]`).

use serde::Deserialize;
use std::path::PathBuf;

use super::ConfigError;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditSettings {
    /// How often unsealed events are sealed into the hash chain (one node at a time).
    pub seal_interval_secs: u64,
    /// The file the chain's head is appended to as a JSON line (`""`: only the log event).
    pub checkpoint_file: PathBuf,
    /// How often a checkpoint is written while events are sealed.
    pub checkpoint_interval_secs: u64,
    /// Events older than this many days are purged (an anchor keeps the rest verifiable);
    /// 0 keeps every event.
    pub retention_days: i64,
}

impl AuditSettings {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.seal_interval_secs == 0 || self.seal_interval_secs > 3600 {
            return Err(ConfigError::key(
                "audit.seal_interval_secs",
                "must be between 1 and 3600",
            ));
        }
        if self.checkpoint_interval_secs == 0 {
            return Err(ConfigError::key(
                "audit.checkpoint_interval_secs",
                "must be at least 1",
            ));
        }
        if self.retention_days < 0 {
            return Err(ConfigError::key(
                "audit.retention_days",
                "must be 0 (keep everything) or a number of days",
            ));
        }
        Ok(())
    }

    /// The checkpoint file, when one is configured.
    pub fn checkpoint_path(&self) -> Option<&std::path::Path> {
        (!self.checkpoint_file.as_os_str().is_empty()).then_some(self.checkpoint_file.as_path())
    }
}
