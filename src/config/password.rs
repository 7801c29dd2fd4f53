//! Argon2 cost of local passwords (`[password]`).

use serde::Deserialize;

use super::ConfigError;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordSettings {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl PasswordSettings {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.memory_kib < 8 * 1024 || self.iterations == 0 {
            return Err(ConfigError::key(
                "password.memory_kib",
                "argon2 needs at least 8192 KiB and one iteration",
            ));
        }
        Ok(())
    }
}
