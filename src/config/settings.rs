//! Every setting of Trousseau in one value, its cross-area checks and what is derived from it.

use serde::Deserialize;
use std::path::{Path, PathBuf};

use super::{
    AdminSettings, AuditSettings, ConfigError, CpsSettings, DatabaseSettings, EnrolmentSettings,
    EstablishmentSettings, HrSettings, HttpSettings, LdapSettings, LoggingSettings, LogoutSettings,
    MetricsSettings, PasswordSettings, PscSettings, ReconcileSettings, SecretsSettings,
    SessionSettings, SyncSettings, ThrottleSettings, TokenSettings, WebauthnSettings, sqlite_path,
};

/// Every setting of Trousseau.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub http: HttpSettings,
    pub database: DatabaseSettings,
    pub secrets: SecretsSettings,
    pub tokens: TokenSettings,
    pub session: SessionSettings,
    pub password: PasswordSettings,
    pub throttle: ThrottleSettings,
    pub logging: LoggingSettings,
    pub logout: LogoutSettings,
    pub establishment: EstablishmentSettings,
    pub hr: HrSettings,
    pub reconcile: ReconcileSettings,
    pub sync: SyncSettings,
    pub ldap: LdapSettings,
    pub webauthn: WebauthnSettings,
    pub cps: CpsSettings,
    pub psc: PscSettings,
    pub metrics: MetricsSettings,
    pub admin: AdminSettings,
    pub audit: AuditSettings,
    pub enrolment: EnrolmentSettings,
    /// Where relative paths were resolved, when they were (`--config`): the file's folder.
    #[serde(skip)]
    pub paths: PathResolution,
}

/// How the relative paths of a configuration file were resolved: against the file's folder.
/// Keeps, for the files Trousseau would create (database, master key), where the same text
/// pointed before (the working directory), so that an upgraded installation is told instead of
/// starting over beside its data.
#[derive(Debug, Clone, Default)]
pub struct PathResolution {
    /// The configuration file's folder.
    pub base: Option<PathBuf>,
    /// (configuration key, path as resolved now, path relative to the working directory).
    pub moved: Vec<(&'static str, PathBuf, PathBuf)>,
}

impl Settings {
    /// Checks every area, in a fixed order: the first key at fault is the one named.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        self.http.validate()?;
        self.database.validate()?;
        for (name, value) in [
            ("tokens.code_ttl_secs", self.tokens.code_ttl_secs),
            (
                "tokens.access_token_ttl_secs",
                self.tokens.access_token_ttl_secs,
            ),
            ("tokens.id_token_ttl_secs", self.tokens.id_token_ttl_secs),
            ("tokens.offline_max_secs", self.tokens.offline_max_secs),
            ("tokens.par_ttl_secs", self.tokens.par_ttl_secs),
            ("session.absolute_secs", self.session.absolute_secs),
            ("session.idle_secs", self.session.idle_secs),
            (
                "throttle.account_max_failures",
                self.throttle.account_max_failures,
            ),
            (
                "throttle.account_lock_secs",
                self.throttle.account_lock_secs,
            ),
            (
                "throttle.address_max_failures",
                self.throttle.address_max_failures,
            ),
            (
                "throttle.address_window_secs",
                self.throttle.address_window_secs,
            ),
            (
                "throttle.pending_flows_per_address",
                self.throttle.pending_flows_per_address,
            ),
        ] {
            if value <= 0 {
                return Err(ConfigError::key(name, "must be a positive number"));
            }
        }
        if self.session.levels.len() != 3 {
            return Err(ConfigError::key(
                "session.levels",
                "must name exactly three levels, lowest first",
            ));
        }
        self.hr.validate()?;
        self.sync.validate()?;
        self.ldap.validate()?;
        self.webauthn.validate()?;
        self.cps.validate()?;
        self.psc.validate()?;
        self.metrics.validate(&self.http.bind)?;
        self.admin.validate()?;
        self.audit.validate()?;
        self.password.validate()
    }

    /// The SQLite database file named by `database.url`, absolute (`None` for PostgreSQL).
    pub fn sqlite_file(&self) -> Option<PathBuf> {
        let (path, _) = sqlite_path(&self.database.url)?;
        Some(absolute(Path::new(path)))
    }

    /// The master key file, absolute.
    pub fn master_key_file(&self) -> PathBuf {
        absolute(&self.secrets.master_key_file)
    }

    /// The issuer identifier: the public URL without a trailing slash.
    pub fn issuer(&self) -> String {
        self.http
            .public_url
            .as_str()
            .trim_end_matches('/')
            .to_owned()
    }

    /// Whether the public URL is served over HTTPS (HSTS is sent then).
    pub fn is_https(&self) -> bool {
        self.http.public_url.scheme() == "https"
    }
}

/// `path` made absolute against the working directory, for messages that name files.
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}
