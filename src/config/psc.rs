//! Trousseau as a client of Pro Santé Connect (`[psc]`, docs/psc.md): which PSC, the client's
//! credentials, bounded timeouts, and the pairing rules (`[psc.pairing]`); and Trousseau as a
//! third-party identity provider of PSC (`[psc.federation]`, psc.md "Trousseau as third-party
//! IdP of PSC").

use secrecy::SecretString;
use serde::Deserialize;
use std::path::Path;
use url::Url;

use super::ConfigError;

/// Which Pro Santé Connect Trousseau talks to.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum PscEnvironment {
    /// The PSC sandbox of this project (or any PSC-like server): `issuer` is required.
    Local,
    /// PSC's integration platform ("bac à sable", BAS).
    Bas,
    /// PSC in production.
    Production,
}

/// Pro Santé Connect as an identity provider of Trousseau (`[psc]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PscSettings {
    pub enabled: bool,
    pub environment: PscEnvironment,
    /// "" = the environment's issuer (required for `local`).
    pub issuer: String,
    /// Endpoint overrides; "" = from the discovery document (or the environment's default).
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub userinfo_endpoint: String,
    pub jwks_uri: String,
    pub ciba_endpoint: String,
    pub end_session_endpoint: String,
    pub introspection_endpoint: String,
    pub client_id: String,
    /// A file holding the client secret (first line); "" = none.
    pub client_secret_file: String,
    /// Only from the environment (`TROUSSEAU__PSC__CLIENT_SECRET`): a secret written in a
    /// configuration file is refused at start-up.
    #[serde(default)]
    pub client_secret: Option<SecretString>,
    /// The organisation certificate (PEM, chain allowed) and its key, for mTLS client
    /// authentication (`tls_client_auth`); "" = none.
    pub tls_cert_file: String,
    pub tls_key_file: String,
    /// Extra roots (PEM) trusted for PSC's TLS server certificate, beside the system's; "" = none.
    pub ca_file: String,
    pub connect_timeout_ms: u64,
    pub timeout_ms: u64,
    /// Tolerated difference between PSC's clock and ours when checking `exp` and `iat`.
    pub clock_skew_secs: i64,
    /// How long a person has to come back from PSC's login page.
    pub pending_ttl_secs: i64,
    /// `acr` values accepted in PSC's ID tokens; empty = any.
    pub accepted_acr: Vec<String>,
    pub pairing: PairingSettings,
    pub federation: FederationSettings,
}

/// The longest authentication age PSC accepts from a third-party identity provider (4 hours).
pub const FEDERATION_MAX_AUTH_AGE: i64 = 14_400;

/// What Trousseau demands before answering Pro Santé Connect's broker, and the tenant it
/// announces (`[psc.federation]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FederationSettings {
    /// The oldest authentication presented to PSC, in seconds (at most 14400).
    pub max_auth_age_secs: i64,
    /// Only accounts with a valid (active, unexpired) pairing are federated.
    pub require_pairing: bool,
    /// The `tid` of a single establishment, as agreed with the ANS; "" when `establishments`
    /// is used instead.
    pub tid: String,
    /// One `tid` per establishment of a shared deployment (GHT): chosen by the identity's
    /// establishment FINESS.
    #[serde(default)]
    pub establishments: Vec<FederatedEstablishment>,
}

/// One establishment of a shared deployment and its `tid` (`[[psc.federation.establishments]]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FederatedEstablishment {
    pub finess: crate::identity::Finess,
    pub tid: String,
}

impl FederationSettings {
    /// The `tid` announced for an identity: the single establishment's, or in a shared
    /// deployment the one of the identity's establishment (`own`, from HR or the directory),
    /// falling back to `[establishment] finess` when it names exactly one. `None`: unknown.
    pub fn tid_for<'a>(
        &'a self,
        own: Option<&str>,
        establishment: &[crate::identity::Finess],
    ) -> Option<&'a str> {
        if self.establishments.is_empty() {
            return (!self.tid.is_empty()).then_some(self.tid.as_str());
        }
        let finess = match (own, establishment) {
            (Some(f), _) => f,
            (None, [only]) => only.as_str(),
            (None, _) => return None,
        };
        self.establishments
            .iter()
            .find(|e| e.finess.as_str() == finess)
            .map(|e| e.tid.as_str())
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if !(1..=FEDERATION_MAX_AUTH_AGE).contains(&self.max_auth_age_secs) {
            return Err(ConfigError::key(
                "psc.federation.max_auth_age_secs",
                "must be between 1 and 14400 (PSC asks for a new login at least every 4 hours)",
            ));
        }
        let tids = std::iter::once(self.tid.as_str())
            .chain(self.establishments.iter().map(|e| e.tid.as_str()));
        for tid in tids {
            if tid.len() > 128 || tid.chars().any(|c| c.is_control() || c.is_whitespace()) {
                return Err(ConfigError::key(
                    "psc.federation.tid",
                    format!("{tid:?} is not a tenant id (up to 128 characters, no space)"),
                ));
            }
        }
        if !self.tid.is_empty() && !self.establishments.is_empty() {
            return Err(ConfigError::key(
                "psc.federation.tid",
                "give either one tid or [[psc.federation.establishments]], not both",
            ));
        }
        if self.establishments.iter().any(|e| e.tid.is_empty()) {
            return Err(ConfigError::key(
                "psc.federation.establishments",
                "every establishment needs its tid",
            ));
        }
        let mut seen = std::collections::HashSet::new();
        if let Some(dup) = self
            .establishments
            .iter()
            .find(|e| !seen.insert(e.finess.as_str().to_owned()))
        {
            return Err(ConfigError::key(
                "psc.federation.establishments",
                format!("the FINESS {} is listed twice", dup.finess.as_str()),
            ));
        }
        Ok(())
    }
}

/// Pairing of a local account with the IdNat proven through PSC (`[psc.pairing]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PairingSettings {
    /// Days a pairing stays valid after its e-CPS validation.
    pub validity_days: u32,
    /// Days before expiry from which the person is warned.
    pub warn_days: u32,
    /// Whether a proven IdNat may be recorded for an identity with no RPPS link yet.
    pub link_unlinked: bool,
}

/// Public PSC endpoints of one environment (psc.md, "PSC endpoints").
pub struct KnownEndpoints {
    pub issuer: &'static str,
    pub authorization: &'static str,
}

impl PscEnvironment {
    pub fn known(self) -> Option<KnownEndpoints> {
        match self {
            PscEnvironment::Local => None,
            PscEnvironment::Bas => Some(KnownEndpoints {
                issuer: "https://auth.bas.psc.esante.gouv.fr/auth/realms/esante-wallet",
                authorization: "https://wallet.bas.psc.esante.gouv.fr/auth",
            }),
            PscEnvironment::Production => Some(KnownEndpoints {
                issuer: "https://auth.esw.esante.gouv.fr/auth/realms/esante-wallet",
                authorization: "https://wallet.esw.esante.gouv.fr/auth",
            }),
        }
    }
}

impl PscSettings {
    /// The issuer in use: the configured one, or the environment's.
    pub fn issuer(&self) -> String {
        if !self.issuer.is_empty() {
            return self.issuer.trim_end_matches('/').to_owned();
        }
        self.environment
            .known()
            .map(|k| k.issuer.to_owned())
            .unwrap_or_default()
    }

    /// The endpoint overrides, by configuration key.
    pub fn overrides(&self) -> [(&'static str, &str); 7] {
        [
            ("psc.authorization_endpoint", &self.authorization_endpoint),
            ("psc.token_endpoint", &self.token_endpoint),
            ("psc.userinfo_endpoint", &self.userinfo_endpoint),
            ("psc.jwks_uri", &self.jwks_uri),
            ("psc.ciba_endpoint", &self.ciba_endpoint),
            ("psc.end_session_endpoint", &self.end_session_endpoint),
            ("psc.introspection_endpoint", &self.introspection_endpoint),
        ]
    }

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        self.federation.validate()?;
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
        for (key, value) in [
            ("psc.connect_timeout_ms", self.connect_timeout_ms as i64),
            ("psc.timeout_ms", self.timeout_ms as i64),
            ("psc.pending_ttl_secs", self.pending_ttl_secs),
        ] {
            if value <= 0 {
                return Err(ConfigError::key(key, "must be a positive number"));
            }
        }
        if self.timeout_ms > 120_000 {
            return Err(ConfigError::key(
                "psc.timeout_ms",
                "at most 120000: a person is waiting",
            ));
        }
        if !(0..=300).contains(&self.clock_skew_secs) {
            return Err(ConfigError::key(
                "psc.clock_skew_secs",
                "must be between 0 and 300",
            ));
        }
        if !self.enabled {
            return Ok(());
        }
        if self.environment == PscEnvironment::Local && self.issuer.is_empty() {
            return Err(ConfigError::key(
                "psc.issuer",
                "the local environment (the sandbox) needs the issuer URL",
            ));
        }
        if !self.issuer.is_empty() {
            http_url("psc.issuer", &self.issuer)?;
        }
        for (key, value) in self.overrides() {
            if !value.is_empty() {
                http_url(key, value)?;
            }
        }
        if self.client_id.trim().is_empty() {
            return Err(ConfigError::key(
                "psc.client_id",
                "name the client id that PSC registered",
            ));
        }
        let has_secret = self.client_secret.is_some() || !self.client_secret_file.is_empty();
        if self.client_secret.is_some() && !self.client_secret_file.is_empty() {
            return Err(ConfigError::key(
                "psc.client_secret_file",
                "give the secret either in this file or in TROUSSEAU__PSC__CLIENT_SECRET, not both",
            ));
        }
        let has_tls = !self.tls_cert_file.is_empty() || !self.tls_key_file.is_empty();
        if !has_secret && !has_tls {
            return Err(ConfigError::key(
                "psc.client_secret_file",
                "PSC needs client authentication: a secret (this file or \
                 TROUSSEAU__PSC__CLIENT_SECRET) or an organisation certificate \
                 (psc.tls_cert_file, psc.tls_key_file)",
            ));
        }
        let mut files = vec![
            ("psc.client_secret_file", &self.client_secret_file),
            ("psc.ca_file", &self.ca_file),
        ];
        if has_tls {
            files.push(("psc.tls_cert_file", &self.tls_cert_file));
            files.push(("psc.tls_key_file", &self.tls_key_file));
        }
        for (key, f) in files {
            if (has_tls && key.starts_with("psc.tls") || !f.is_empty()) && !Path::new(f).is_file() {
                return Err(ConfigError::key(
                    key,
                    format!("the file {f:?} does not exist"),
                ));
            }
        }
        Ok(())
    }
}

fn http_url(key: &str, value: &str) -> Result<(), ConfigError> {
    match Url::parse(value) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(()),
        _ => Err(ConfigError::key(key, "must be an http(s) URL with a host")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Finess;

    fn federation(tid: &str, establishments: &[(&str, &str)]) -> FederationSettings {
        FederationSettings {
            max_auth_age_secs: FEDERATION_MAX_AUTH_AGE,
            require_pairing: true,
            tid: tid.into(),
            establishments: establishments
                .iter()
                .map(|(f, t)| FederatedEstablishment {
                    finess: Finess::parse(f).unwrap(),
                    tid: (*t).into(),
                })
                .collect(),
        }
    }

    #[test]
    fn the_tid_follows_the_establishment() {
        let one = federation("chu-a", &[]);
        assert_eq!(one.tid_for(None, &[]), Some("chu-a"));
        assert_eq!(one.tid_for(Some("750712184"), &[]), Some("chu-a"));
        assert_eq!(federation("", &[]).tid_for(None, &[]), None);

        let ght = federation("", &[("750712184", "chu-a"), ("750712200", "ch-b")]);
        assert_eq!(ght.tid_for(Some("750712200"), &[]), Some("ch-b"));
        assert_eq!(ght.tid_for(Some("130000000"), &[]), None);
        assert_eq!(ght.tid_for(None, &[]), None);
        let single = [Finess::parse("750712184").unwrap()];
        assert_eq!(ght.tid_for(None, &single), Some("chu-a"));
        let two = [single[0].clone(), Finess::parse("750712200").unwrap()];
        assert_eq!(ght.tid_for(None, &two), None);
    }

    #[test]
    fn the_federation_settings_are_checked() {
        let mut f = federation("chu-a", &[]);
        assert!(f.validate().is_ok());
        f.max_auth_age_secs = FEDERATION_MAX_AUTH_AGE + 1;
        let e = f.validate().unwrap_err().to_string();
        assert!(e.contains("psc.federation.max_auth_age_secs"), "{e}");
        f.max_auth_age_secs = 0;
        assert!(f.validate().is_err());
        let both = federation("chu-a", &[("750712184", "chu-a")]);
        assert!(both.validate().is_err());
        let dup = federation("", &[("750712184", "a"), ("750712184", "b")]);
        assert!(dup.validate().is_err());
        let spaced = federation("chu a", &[]);
        assert!(spaced.validate().is_err());
    }
}
