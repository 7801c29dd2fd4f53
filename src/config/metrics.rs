//! Who may read `/metrics`, and where it is served (`[metrics]`, operations.md).

use serde::Deserialize;

use super::ConfigError;

/// Who may read `/metrics`, and on which listener (`[metrics]`, operations.md).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSettings {
    /// Addresses or networks of the direct peers allowed to read `/metrics`
    /// (`X-Forwarded-For` is never consulted).
    pub allow: Vec<String>,
    /// `address:port` of a listener of its own for `/metrics` and the health probes;
    /// "" serves `/metrics` on `http.bind`.
    pub bind: String,
}

impl MetricsSettings {
    pub(super) fn validate(&self, http_bind: &str) -> Result<(), ConfigError> {
        for a in &self.allow {
            super::Network::parse(a).map_err(|m| ConfigError::key("metrics.allow", m))?;
        }
        let bind = &self.bind;
        if !bind.is_empty() {
            if bind.parse::<std::net::SocketAddr>().is_err() {
                return Err(ConfigError::key(
                    "metrics.bind",
                    "must be an address:port such as 10.0.0.12:9100, or \"\"",
                ));
            }
            if *bind == http_bind {
                return Err(ConfigError::key(
                    "metrics.bind",
                    "must differ from http.bind (leave it \"\" to serve /metrics there)",
                ));
            }
        }
        Ok(())
    }
}
