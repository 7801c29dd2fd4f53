//! The public listener and URL (`[http]`).

use serde::Deserialize;
use std::net::IpAddr;
use url::Url;

use super::ConfigError;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSettings {
    pub bind: String,
    pub public_url: Url,
    pub workers: usize,
    pub trusted_proxies: Vec<IpAddr>,
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
        if self.bind.parse::<std::net::SocketAddr>().is_err() {
            return Err(ConfigError::key(
                "http.bind",
                "must be an address:port such as 127.0.0.1:8080",
            ));
        }
        Ok(())
    }
}
