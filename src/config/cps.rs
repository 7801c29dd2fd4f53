//! CPS smartcard login (`[cps]`, docs/cps.md).

use serde::Deserialize;
use std::path::{Path, PathBuf};
use url::Url;

use super::ConfigError;

/// CPS smartcard login (`[cps]`, docs/cps.md).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CpsSettings {
    pub enabled: bool,
    /// PEM files of the trusted root CAs.
    pub anchors: Vec<PathBuf>,
    /// PEM files of the intermediate CAs (the `AC IGC-SANTE … PERSONNES` family).
    pub intermediates: Vec<PathBuf>,
    /// Accept CAs of the IGC-Santé test PKI (`TEST AC …`). Never in production.
    pub allow_test_anchors: bool,
    pub crl_files: Vec<PathBuf>,
    pub crl_urls: Vec<Url>,
    pub crl_refresh_secs: u64,
    pub crl_stale: CrlStalePolicy,
    pub structure_cards: StructureCardPolicy,
    /// Create the identity of an unknown card holder when the RPPS index shows an activity at
    /// one of `establishment.finess`.
    pub create_identities: bool,
    /// OCSP responder: "" (off), "aia" (the one the card names) or a URL.
    pub ocsp: String,
    pub ocsp_timeout_ms: u64,
    pub proxy: CpsProxySettings,
    pub tls: CpsTlsSettings,
}

/// What a card login does when its CA's revocation list is missing or past its nextUpdate.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum CrlStalePolicy {
    Refuse,
    /// Accept, and audit the login with `crl_stale` / `crl_missing`.
    Accept,
}

/// Structure cards (CPE/CPA): refused, or accepted when an administrator bound the card.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum StructureCardPolicy {
    Refuse,
    Bound,
}

/// How the proxy encodes the certificate in its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CertEncoding {
    /// URL-escaped PEM (nginx `$ssl_client_escaped_cert`).
    UrlPem,
    /// PEM, line breaks kept or folded into spaces or tabs (Apache `SSL_CLIENT_CERT`).
    Pem,
    /// The DER certificate in base64.
    Base64Der,
}

/// A reverse proxy that terminates TLS and forwards the card certificate in a header.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CpsProxySettings {
    /// Header name; "" turns the proxy path off.
    pub header: String,
    pub encoding: CertEncoding,
    /// Addresses or networks (`10.0.0.0/8`) of the proxies whose header is believed.
    pub trusted: Vec<String>,
}

/// Trousseau's own TLS listener that requests a client certificate.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CpsTlsSettings {
    /// `address:port`; "" turns the listener off.
    pub listen: String,
    pub cert_file: String,
    pub key_file: String,
    /// Base URL of this listener for the login page's card link (e.g.
    /// `https://carte.chu.example:8443`); "" when it serves the public URL itself.
    pub public_url: String,
}

impl CpsSettings {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let c = self;
        if c.crl_refresh_secs == 0 {
            return Err(ConfigError::key(
                "cps.crl_refresh_secs",
                "must be a positive number",
            ));
        }
        for t in &c.proxy.trusted {
            super::Network::parse(t).map_err(|m| ConfigError::key("cps.proxy.trusted", m))?;
        }
        if !c.enabled {
            return Ok(());
        }
        if c.anchors.is_empty() {
            return Err(ConfigError::key(
                "cps.anchors",
                "name the PEM file(s) of the card CAs' roots",
            ));
        }
        for (name, files) in [
            ("cps.anchors", &c.anchors),
            ("cps.intermediates", &c.intermediates),
            ("cps.crl_files", &c.crl_files),
        ] {
            if let Some(missing) = files.iter().find(|f| !f.is_file()) {
                return Err(ConfigError::key(
                    name,
                    format!("the file {} does not exist", missing.display()),
                ));
            }
        }
        if !c.proxy.header.is_empty() && c.proxy.trusted.is_empty() {
            return Err(ConfigError::key(
                "cps.proxy.trusted",
                "a certificate header is believed only from listed proxies: name them",
            ));
        }
        if !c.tls.listen.is_empty() {
            if c.tls.listen.parse::<std::net::SocketAddr>().is_err() {
                return Err(ConfigError::key(
                    "cps.tls.listen",
                    "must be an address:port such as 0.0.0.0:8443",
                ));
            }
            for (name, f) in [
                ("cps.tls.cert_file", &c.tls.cert_file),
                ("cps.tls.key_file", &c.tls.key_file),
            ] {
                if !Path::new(f).is_file() {
                    return Err(ConfigError::key(
                        name,
                        format!("the file {f:?} does not exist"),
                    ));
                }
            }
        }
        Ok(())
    }
}
