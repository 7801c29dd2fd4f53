//! The administration console and API (`[admin]`) and the identity check that comes before an
//! enrolment code (`[enrolment]`).

use serde::Deserialize;
use std::collections::BTreeMap;

use super::ConfigError;
use crate::identity::AdminRole;

/// `[admin]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminSettings {
    /// A destructive action (suspend, revoke, end sessions, rotate a secret) asks for a new
    /// authentication when the last one is older than this, in seconds.
    pub reauth_idle_secs: i64,
    /// Directory group (its CN or full DN, case-insensitive; nested groups count) =
    /// administration role. Separate from `[ldap.roles]`, whose roles go to relying parties.
    #[serde(default)]
    pub roles: BTreeMap<String, String>,
}

impl AdminSettings {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.reauth_idle_secs <= 0 {
            return Err(ConfigError::key(
                "admin.reauth_idle_secs",
                "must be a positive number",
            ));
        }
        for (group, role) in &self.roles {
            if group.trim().is_empty() {
                return Err(ConfigError::key("admin.roles", "a group name is empty"));
            }
            role.parse::<AdminRole>()
                .map_err(|e| ConfigError::key(&format!("admin.roles.{group:?}"), e.to_string()))?;
        }
        Ok(())
    }

    /// The group map with lower-cased keys, as the directory sync reads it.
    pub fn role_map(&self) -> std::collections::HashMap<String, String> {
        self.roles
            .iter()
            .map(|(k, v)| (k.to_lowercase(), v.trim().to_ascii_lowercase()))
            .collect()
    }
}

/// `[enrolment]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrolmentSettings {
    /// An enrolment code is issued only with a recorded identity check (who checked, which
    /// document, in person or remote): the evidence an eIDAS "substantial" level needs.
    pub require_proofing: bool,
}
