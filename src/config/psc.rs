//! Pro Santé Connect as a provider to Trousseau (`[psc]`): the pairing rules (`[psc.pairing]`).

use serde::Deserialize;

use super::ConfigError;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PscSettings {
    #[serde(default)]
    pub pairing: PairingSettings,
}

/// `[psc.pairing]`: how long an e-CPS pairing lasts and what it may do.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PairingSettings {
    /// Days a pairing stays valid after its e-CPS validation.
    #[serde(default = "default_validity_days")]
    pub validity_days: u32,
    /// Days before expiry from which the person is warned (pairing page and home page).
    #[serde(default = "default_warn_days")]
    pub warn_days: u32,
    /// Whether a pairing may create the RPPS link of an identity that has none. Such a link
    /// never lets the person enrol a security key without a helpdesk code.
    #[serde(default)]
    pub link_unlinked: bool,
}

fn default_validity_days() -> u32 {
    365
}

fn default_warn_days() -> u32 {
    30
}

impl Default for PairingSettings {
    fn default() -> Self {
        PairingSettings {
            validity_days: default_validity_days(),
            warn_days: default_warn_days(),
            link_unlinked: false,
        }
    }
}

impl PscSettings {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let p = &self.pairing;
        if p.validity_days == 0 || p.validity_days > 3650 {
            return Err(ConfigError::key(
                "psc.pairing.validity_days",
                "must be between 1 and 3650 days",
            ));
        }
        if p.warn_days >= p.validity_days {
            return Err(ConfigError::key(
                "psc.pairing.warn_days",
                "must be shorter than psc.pairing.validity_days",
            ));
        }
        Ok(())
    }
}
