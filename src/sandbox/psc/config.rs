//! The sandbox's own TOML configuration (docs/psc-sandbox.md): its public URL, its clients,
//! the RPPS extraction its professionals come from, the brokers of the federation, lifetimes,
//! the signing algorithm and an optional mTLS listener.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Deserialize;

use super::store::{Caps, Retention};
use crate::oidc::keys::SigningAlg;
use crate::psc::protocol::REALM_PATH;

/// The whole file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SandboxSettings {
    /// The public base URL (`http://127.0.0.1:8090`); the issuer is this plus
    /// `/auth/realms/esante-wallet`. Absent: the plain listener's own address.
    #[serde(default)]
    pub issuer: Option<String>,
    /// A SQLite file for the sandbox's state, or `:memory:`.
    #[serde(default = "default_database")]
    pub database: String,
    /// An RPPS extraction file (the format Trousseau imports); relative to the configuration
    /// file.
    pub professionals_file: PathBuf,
    #[serde(default)]
    pub clients: Vec<ClientSettings>,
    /// Trousseau instances PSC's broker sends professionals to (third-party identity
    /// providers, `kc_idp_hint=<alias>`).
    #[serde(default)]
    pub brokers: Vec<BrokerSettings>,
    #[serde(default = "default_access")]
    pub access_token_secs: u64,
    #[serde(default = "default_refresh")]
    pub refresh_token_secs: u64,
    #[serde(default = "default_ciba_expires")]
    pub ciba_expires_in: u64,
    #[serde(default = "default_ciba_interval")]
    pub ciba_interval: u64,
    #[serde(default = "default_absolute")]
    pub session_absolute_secs: u64,
    #[serde(default = "default_idle")]
    pub session_idle_secs: u64,
    #[serde(default = "default_code")]
    pub code_secs: u64,
    /// How long a broker pairing (`tid`, `oid`) → IdNat lasts before the pairing screen
    /// comes back.
    #[serde(default = "default_broker_pairing")]
    pub broker_pairing_secs: u64,
    #[serde(default = "default_alg")]
    pub signing_alg: String,
    /// The most requests one client address may have open at once (waiting for an IdNat or
    /// for the phone); beyond it the sandbox answers 429.
    #[serde(default = "default_per_address")]
    pub max_open_requests_per_address: u64,
    /// The most requests open at once in the whole sandbox.
    #[serde(default = "default_open_total")]
    pub max_open_requests: u64,
    /// How often expired and settled state is purged.
    #[serde(default = "default_purge_every")]
    pub purge_interval_secs: u64,
    /// How long a request is kept past its expiry, so that a late poll still answers
    /// `expired_token` before the request becomes unknown (`invalid_grant`).
    #[serde(default = "default_expired_keep")]
    pub expired_request_keep_secs: u64,
    #[serde(default)]
    pub tls: Option<TlsSettings>,
}

fn default_database() -> String {
    ":memory:".into()
}
fn default_access() -> u64 {
    120
}
fn default_refresh() -> u64 {
    1800
}
fn default_ciba_expires() -> u64 {
    120
}
fn default_ciba_interval() -> u64 {
    1
}
fn default_absolute() -> u64 {
    14_400
}
fn default_idle() -> u64 {
    1800
}
fn default_code() -> u64 {
    60
}
/// One year: PSC says a pairing's validity is limited without publishing the figure; the
/// sandbox keeps the year of Trousseau's own pairings (`psc.pairing.validity_days`).
pub const DEFAULT_BROKER_PAIRING_SECS: u64 = 365 * 86_400;
/// The longest pairing the sandbox accepts: ten years.
pub const MAX_BROKER_PAIRING_SECS: u64 = 10 * 365 * 86_400;

fn default_broker_pairing() -> u64 {
    DEFAULT_BROKER_PAIRING_SECS
}
fn default_alg() -> String {
    "RS256".into()
}
fn default_per_address() -> u64 {
    20
}
fn default_open_total() -> u64 {
    1000
}
fn default_purge_every() -> u64 {
    60
}
fn default_expired_keep() -> u64 {
    600
}

/// A relying party of the sandbox.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientSettings {
    pub client_id: String,
    /// For `client_secret_basic` and `client_secret_post`.
    #[serde(default)]
    pub secret: Option<String>,
    /// For `tls_client_auth` (RFC 8705): the certificate subject, as `CN=…, O=…, C=FR`
    /// (attribute order does not matter).
    #[serde(default)]
    pub tls_client_auth_subject: Option<String>,
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    /// Userinfo answers as a signed JWT (`application/jwt`) instead of JSON.
    #[serde(default)]
    pub userinfo_signed: bool,
    /// Where the sandbox posts a logout token when a session of this client ends through
    /// the broker (OIDC Back-Channel Logout 1.0).
    #[serde(default)]
    pub backchannel_logout_uri: Option<String>,
}

/// A Trousseau that PSC's broker sends professionals to (`kc_idp_hint=<alias>`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrokerSettings {
    pub alias: String,
    pub trousseau_issuer: String,
    pub client_id: String,
    pub client_secret: String,
}

/// The HTTPS listener that asks for client certificates.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSettings {
    #[serde(default = "default_tls_bind")]
    pub bind: String,
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    /// The CAs client certificates must chain to (PEM).
    pub client_ca_file: PathBuf,
    /// The listener's public URL, when it differs from `https://<bind>`.
    #[serde(default)]
    pub public_url: Option<String>,
}

fn default_tls_bind() -> String {
    "127.0.0.1:8443".into()
}

impl SandboxSettings {
    /// Reads and checks a configuration file; relative paths are taken from its folder.
    pub fn load(path: &Path) -> anyhow::Result<SandboxSettings> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let mut settings =
            SandboxSettings::parse(&text).with_context(|| format!("in {}", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        let resolve = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        resolve(&mut settings.professionals_file);
        if let Some(tls) = settings.tls.as_mut() {
            resolve(&mut tls.cert_file);
            resolve(&mut tls.key_file);
            resolve(&mut tls.client_ca_file);
        }
        if settings.database != ":memory:" {
            let mut db = PathBuf::from(&settings.database);
            resolve(&mut db);
            settings.database = db.display().to_string();
        }
        Ok(settings)
    }

    /// Parses and checks the TOML text.
    pub fn parse(text: &str) -> anyhow::Result<SandboxSettings> {
        let mut settings: SandboxSettings = toml_from_str(text)?;
        settings.validate()?;
        if let Some(issuer) = settings.issuer.take() {
            settings.issuer = Some(base_url(&issuer));
        }
        Ok(settings)
    }

    fn validate(&self) -> anyhow::Result<()> {
        if let Some(issuer) = &self.issuer {
            let url = url::Url::parse(issuer).context("issuer: not an absolute URL")?;
            if !matches!(url.scheme(), "http" | "https") {
                bail!("issuer: http or https only");
            }
        }
        self.alg()
            .map_err(|e| anyhow::anyhow!("signing_alg: {e}"))?;
        for (key, value) in [
            ("access_token_secs", self.access_token_secs),
            ("refresh_token_secs", self.refresh_token_secs),
            ("ciba_expires_in", self.ciba_expires_in),
            ("session_absolute_secs", self.session_absolute_secs),
            ("session_idle_secs", self.session_idle_secs),
            ("code_secs", self.code_secs),
            (
                "max_open_requests_per_address",
                self.max_open_requests_per_address,
            ),
            ("max_open_requests", self.max_open_requests),
            ("purge_interval_secs", self.purge_interval_secs),
        ] {
            if value == 0 {
                bail!("{key}: must be at least 1");
            }
        }
        if !(1..=MAX_BROKER_PAIRING_SECS).contains(&self.broker_pairing_secs) {
            bail!(
                "broker_pairing_secs: from 1 to {MAX_BROKER_PAIRING_SECS} (ten years); the \
                 default is {DEFAULT_BROKER_PAIRING_SECS} (one year)"
            );
        }
        let mut seen = std::collections::HashSet::new();
        for (i, c) in self.clients.iter().enumerate() {
            if c.client_id.trim().is_empty() {
                bail!("clients[{i}].client_id: empty");
            }
            if !seen.insert(c.client_id.as_str()) {
                bail!("clients[{i}].client_id: {:?} appears twice", c.client_id);
            }
            if c.secret.as_deref().is_some_and(str::is_empty) {
                bail!("clients[{i}].secret: empty");
            }
            if c.secret.is_none() && c.tls_client_auth_subject.is_none() {
                bail!("clients[{i}]: give secret or tls_client_auth_subject");
            }
            if let Some(subject) = &c.tls_client_auth_subject
                && subject_parts(subject).is_empty()
            {
                bail!("clients[{i}].tls_client_auth_subject: not a subject such as \"CN=…, O=…\"");
            }
            for uri in c
                .redirect_uris
                .iter()
                .chain(&c.post_logout_redirect_uris)
                .chain(&c.backchannel_logout_uri)
            {
                let url = url::Url::parse(uri).with_context(|| {
                    format!("clients[{i}]: redirect URI {uri:?} is not absolute")
                })?;
                if url.fragment().is_some() {
                    bail!("clients[{i}]: redirect URI {uri:?} has a fragment");
                }
            }
        }
        for (i, b) in self.brokers.iter().enumerate() {
            if b.alias.is_empty()
                || !b
                    .alias
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
            {
                bail!("brokers[{i}].alias: letters, digits, '-' and '_' only");
            }
            if self.brokers[..i].iter().any(|o| o.alias == b.alias) {
                bail!("brokers[{i}].alias: {:?} appears twice", b.alias);
            }
            url::Url::parse(&b.trousseau_issuer)
                .with_context(|| format!("brokers[{i}].trousseau_issuer: not an absolute URL"))?;
            if b.client_id.is_empty() {
                bail!("brokers[{i}].client_id: empty");
            }
            if b.client_secret.is_empty() {
                bail!("brokers[{i}].client_secret: empty");
            }
        }
        Ok(())
    }

    pub fn alg(&self) -> Result<SigningAlg, String> {
        match self.signing_alg.parse::<SigningAlg>()? {
            SigningAlg::Ps256 => Err("RS256 or ES256 (what PSC signs with)".into()),
            alg => Ok(alg),
        }
    }

    /// The caps on open requests.
    pub fn caps(&self) -> Caps {
        let cap = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        Caps {
            per_address: cap(self.max_open_requests_per_address),
            total: cap(self.max_open_requests),
        }
    }

    /// How long the purge keeps what it could still need.
    pub fn retention(&self) -> Retention {
        let secs = |v: u64| i64::try_from(v).unwrap_or(i64::MAX / 2);
        Retention {
            request_secs: secs(self.expired_request_keep_secs),
            session_absolute_secs: secs(self.session_absolute_secs),
        }
    }

    /// How long a broker pairing lasts, in seconds (validated: at most ten years).
    pub fn pairing_secs(&self) -> i64 {
        i64::try_from(self.broker_pairing_secs).unwrap_or(i64::MAX / 2)
    }

    pub fn client(&self, client_id: &str) -> Option<&ClientSettings> {
        self.clients.iter().find(|c| c.client_id == client_id)
    }
}

fn toml_from_str(text: &str) -> anyhow::Result<SandboxSettings> {
    use figment::Figment;
    use figment::providers::{Format, Toml};
    Figment::from(Toml::string(text))
        .extract()
        .map_err(|e| anyhow::anyhow!("{e}"))
}

/// The base URL of an issuer given either way (with or without the realm path).
fn base_url(issuer: &str) -> String {
    let trimmed = issuer.trim_end_matches('/');
    trimmed
        .strip_suffix(REALM_PATH)
        .unwrap_or(trimmed)
        .to_owned()
}

/// A certificate subject as a sorted list of `(TYPE, value)`: `CN=a, O=b` and `O=b,CN=a`
/// compare equal.
pub fn subject_parts(subject: &str) -> Vec<(String, String)> {
    let mut parts: Vec<(String, String)> = subject
        .split([',', '+'])
        .filter_map(|part| {
            let (k, v) = part.split_once('=')?;
            let (k, v) = (k.trim(), v.trim());
            (!k.is_empty()).then(|| (k.to_ascii_uppercase(), v.to_owned()))
        })
        .collect();
    parts.sort();
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = "professionals_file = \"rpps.txt\"\n";

    #[test]
    fn defaults_follow_psc() {
        let s = SandboxSettings::parse(MINIMAL).unwrap();
        assert_eq!(s.access_token_secs, 120);
        assert_eq!(s.refresh_token_secs, 1800);
        assert_eq!(s.ciba_expires_in, 120);
        assert_eq!(s.ciba_interval, 1);
        assert_eq!(s.session_absolute_secs, 14_400);
        assert_eq!(s.session_idle_secs, 1800);
        assert_eq!(s.alg(), Ok(SigningAlg::Rs256));
        assert_eq!(s.max_open_requests_per_address, 20);
        assert_eq!(s.max_open_requests, 1000);
        assert_eq!(s.expired_request_keep_secs, 600);
        assert_eq!(s.broker_pairing_secs, 365 * 86_400);
    }

    #[test]
    fn refusals_name_the_key() {
        let err = |extra: &str| {
            format!(
                "{:#}",
                SandboxSettings::parse(&format!("{MINIMAL}{extra}")).unwrap_err()
            )
        };
        assert!(err("surprise = 1\n").contains("surprise"));
        assert!(err("signing_alg = \"PS256\"\n").contains("signing_alg"));
        assert!(err("ciba_expires_in = 0\n").contains("ciba_expires_in"));
        assert!(err("max_open_requests = 0\n").contains("max_open_requests"));
        assert!(err("broker_pairing_secs = 0\n").contains("broker_pairing_secs"));
        assert!(err("broker_pairing_secs = 315360001\n").contains("broker_pairing_secs"));
        assert!(err("broker_pairing_secs = -1\n").contains("broker_pairing_secs"));
        assert!(
            SandboxSettings::parse(&format!("{MINIMAL}broker_pairing_secs = 315360000\n")).is_ok()
        );
        assert!(
            err("[[clients]]\nclient_id = \"a\"\nredirect_uris = []\n")
                .contains("tls_client_auth_subject")
        );
        assert!(
            err("[[clients]]\nclient_id = \"a\"\nsecret = \"s\"\nredirect_uris = [\"/cb\"]\n")
                .contains("not absolute")
        );
        assert!(
            err("[[brokers]]\nalias = \"a b\"\ntrousseau_issuer = \"http://x\"\nclient_id = \"c\"\nclient_secret = \"s\"\n")
                .contains("brokers[0].alias")
        );
    }

    #[test]
    fn the_issuer_may_be_given_with_its_realm() {
        let s = SandboxSettings::parse(&format!(
            "{MINIMAL}issuer = \"http://127.0.0.1:8090/auth/realms/esante-wallet\"\n"
        ))
        .unwrap();
        assert_eq!(s.issuer.as_deref(), Some("http://127.0.0.1:8090"));
    }

    #[test]
    fn subjects_compare_whatever_the_order() {
        assert_eq!(
            subject_parts("CN=3123/45, O=CH TEST,C=FR"),
            subject_parts("c=FR, o=CH TEST, cn=3123/45")
        );
    }
}
