//! The public listener and URL (`[http]`).

use serde::Deserialize;
use url::Url;

use super::{ConfigError, Network};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSettings {
    pub bind: String,
    pub public_url: Url,
    pub workers: usize,
    /// Addresses or networks (`10.42.0.0/16`) of the proxies whose `X-Forwarded-For` is
    /// believed.
    pub trusted_proxies: Vec<String>,
}

impl HttpSettings {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let url = &self.public_url;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err(ConfigError::key(
                "http.public_url",
                "must be an http(s) URL with a host",
            ));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(ConfigError::key(
                "http.public_url",
                "must not carry a query or a fragment",
            ));
        }
        for p in &self.trusted_proxies {
            Network::parse(p).map_err(|m| ConfigError::key("http.trusted_proxies", m))?;
        }
        if self.bind.parse::<std::net::SocketAddr>().is_err() {
            return Err(ConfigError::key(
                "http.bind",
                "must be an address:port such as 127.0.0.1:8080",
            ));
        }
        Ok(())
    }
}

impl HttpSettings {
    /// The trusted proxies, parsed (checked at start-up by `validate`).
    pub fn trusted_networks(&self) -> Vec<Network> {
        self.trusted_proxies
            .iter()
            .filter_map(|p| Network::parse(p).ok())
            .collect()
    }
}
