//! Layered configuration: built-in defaults, an optional file, then `TROUSSEAU__SECTION__KEY`
//! environment variables. Validated once at start-up with messages that name the key.

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use secrecy::SecretString;
use serde::Deserialize;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use url::Url;

/// The defaults compiled into the binary; `config/default.toml` is this very file.
pub const DEFAULTS: &str = include_str!("../config/default.toml");

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
    pub metrics: MetricsSettings,
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

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSettings {
    pub bind: String,
    pub public_url: Url,
    pub workers: usize,
    pub trusted_proxies: Vec<IpAddr>,
}

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

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    pub url: String,
    pub migrate: bool,
    pub max_connections: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretsSettings {
    pub master_key_file: PathBuf,
    #[serde(default)]
    pub master_key: Option<SecretString>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenSettings {
    pub code_ttl_secs: i64,
    pub access_token_ttl_secs: i64,
    pub id_token_ttl_secs: i64,
    pub offline_max_secs: i64,
    pub par_ttl_secs: i64,
    pub key_publish_after_retire_secs: i64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionSettings {
    pub absolute_secs: i64,
    pub idle_secs: i64,
    pub levels: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordSettings {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThrottleSettings {
    pub account_max_failures: i64,
    pub account_lock_secs: i64,
    pub account_max_lock_secs: i64,
    pub address_max_failures: i64,
    pub address_window_secs: i64,
    /// Authorization flows one client address may hold pending at once.
    pub pending_flows_per_address: i64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoggingSettings {
    pub format: LogFormat,
    pub filter: String,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogoutSettings {
    pub retries: i64,
    pub backoff_secs: i64,
    pub timeout_secs: u64,
}

/// The establishment's FINESS numbers: legal entities (EJ) and geographic sites (EG). "Our
/// professionals" are the RPPS activities at any of them.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EstablishmentSettings {
    pub finess: Vec<crate::identity::Finess>,
    /// The establishment's time zone (IANA name): HR arrival and departure dates are whole
    /// days there.
    pub time_zone: crate::clock::LocalZone,
}

/// The HR export read by `trousseau hr import` and the HR drop folder.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HrSettings {
    /// One character.
    pub delimiter: String,
    pub columns: HrColumns,
}

/// Header names of the HR export; an empty name means the export has no such column.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HrColumns {
    pub employee_number: String,
    pub given_name: String,
    pub family_name: String,
    pub birth_date: String,
    pub email: String,
    pub department: String,
    pub arrival: String,
    pub departure: String,
    pub idnat: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReconcileSettings {
    /// Suspend an identity whose RPPS link broke (IdNat gone, or no activity here) once the
    /// finding is this many days old. Absent: flag only.
    #[serde(default)]
    pub suspend_broken_links_after_days: Option<u32>,
}

/// Jobs that `serve` runs on a schedule; with several nodes, a database lease lets one node
/// run each job at a time.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncSettings {
    pub lease_secs: i64,
    pub rpps: RppsSyncSettings,
    pub hr: HrSyncSettings,
    pub ldap: LdapSyncSettings,
    pub hr_dates: HrDatesSyncSettings,
}

/// The job that applies HR arrival and departure dates as the days come, whether or not the
/// HR drop folder is watched.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HrDatesSyncSettings {
    pub interval_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LdapSyncSettings {
    /// Run the scheduled sync (`trousseau ldap sync` works either way).
    pub enabled: bool,
    pub interval_secs: u64,
    /// Every n-th scheduled run is a full one.
    pub full_every: u32,
}

/// FIDO2 security keys (`[webauthn]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebauthnSettings {
    /// The domain keys are bound to; "" means the host of `http.public_url`.
    pub rp_id: String,
    pub rp_name: String,
    /// Origins allowed in ceremonies; empty means the origin of `http.public_url`.
    pub origins: Vec<Url>,
    pub timeout_secs: u64,
    /// How long an enrolment code issued by an admin stays valid.
    pub enrolment_code_ttl_secs: i64,
    /// Accept keys whose model is not proven by attestation (any model).
    pub allow_unattested: bool,
    /// The authenticator models the establishment accepts, proven by attestation.
    #[serde(default)]
    pub models: Vec<KeyModelSettings>,
}

/// One accepted authenticator model: its AAGUID and its maker's attestation root.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyModelSettings {
    pub name: String,
    pub aaguid: String,
    /// PEM file of the maker's attestation root certificate.
    pub root: PathBuf,
}

/// The hospital's directory: password login and synchronisation (`[ldap]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LdapSettings {
    /// Replicas of one directory, tried in order; empty: directory features off.
    pub servers: Vec<Url>,
    pub kind: DirectoryKind,
    pub starttls: bool,
    pub ca_file: String,
    pub connect_timeout_ms: u64,
    pub timeout_ms: u64,
    pub pool_size: usize,
    pub bind: BindMode,
    pub bind_template: String,
    pub service_dn: String,
    #[serde(default)]
    pub service_password: Option<SecretString>,
    pub service_password_file: String,
    pub user_base: String,
    pub user_filter: String,
    pub group_base: String,
    pub group_filter: String,
    pub page_size: i32,
    pub max_failures: i64,
    pub directory_lockout_threshold: i64,
    pub lockout_window_secs: i64,
    pub link_by: LinkBy,
    pub create_identities: bool,
    pub attributes: LdapAttributes,
    /// Group CN or DN (lower-cased when read) to role name.
    #[serde(default)]
    pub roles: std::collections::BTreeMap<String, String>,
}

impl LdapSettings {
    /// Whether a directory is configured.
    pub fn enabled(&self) -> bool {
        !self.servers.is_empty()
    }
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum DirectoryKind {
    Ad,
    Openldap,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum BindMode {
    Search,
    Direct,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum LinkBy {
    EmployeeNumber,
    Username,
    Idnat,
}

/// Directory attribute names; an empty name means the directory has none.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LdapAttributes {
    pub username: String,
    pub upn: String,
    pub email: String,
    pub given_name: String,
    pub family_name: String,
    pub employee_number: String,
    pub member_of: String,
    pub account_control: String,
    pub idnat: String,
    pub unique_id: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RppsSyncSettings {
    /// A file path or an http(s) URL of the extraction (zip or txt); empty: job off.
    pub source: String,
    pub interval_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HrSyncSettings {
    /// Folder where HR exports (*.csv) are dropped; empty: job off. Imported files move to
    /// `done/` (or `failed/`) inside it.
    pub folder: String,
    pub interval_secs: u64,
}

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

/// A reverse proxy that terminates TLS and forwards the card certificate in a header.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CpsProxySettings {
    /// Header name; "" turns the proxy path off.
    pub header: String,
    pub encoding: crate::authn::cps::header::CertEncoding,
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

/// A configuration that cannot be used, with the key at fault when known.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Invalid(String),
    #[error("configuration key `{key}`: {message}")]
    Key { key: String, message: String },
}

impl Settings {
    /// Loads defaults, then `file` if given, then the environment. With a file, relative paths
    /// (whichever layer gave them) resolve against the file's folder, not the working directory.
    pub fn load(file: Option<&Path>) -> Result<Settings, ConfigError> {
        let mut figment = Figment::from(Toml::string(DEFAULTS));
        let mut base = None;
        if let Some(path) = file {
            if !path.exists() {
                return Err(ConfigError::Invalid(format!(
                    "the file {} does not exist; give an existing file to --config",
                    path.display()
                )));
            }
            base = std::path::absolute(path)
                .ok()
                .and_then(|p| p.parent().map(Path::to_path_buf));
            if base.is_none() {
                return Err(ConfigError::Invalid(format!(
                    "cannot tell the folder of the configuration file {}",
                    path.display()
                )));
            }
            figment = figment.merge(Toml::file(path));
        }
        figment = figment.merge(Env::prefixed("TROUSSEAU__").split("__"));
        Self::from_figment(figment, base.as_deref())
    }

    /// Loads defaults with the given TOML overrides on top (tests and the demo).
    pub fn from_overrides(toml: &str) -> Result<Settings, ConfigError> {
        let figment = Figment::from(Toml::string(DEFAULTS)).merge(Toml::string(toml));
        Self::from_figment(figment, None)
    }

    fn from_figment(figment: Figment, base: Option<&Path>) -> Result<Settings, ConfigError> {
        let mut settings: Settings = figment.extract().map_err(|e| {
            let key = e.path.join(".");
            let message = e.kind.to_string();
            if key.is_empty() {
                ConfigError::Invalid(message)
            } else {
                ConfigError::Key { key, message }
            }
        })?;
        if let Some(base) = base {
            settings.resolve_paths(base);
        }
        settings.validate()?;
        Ok(settings)
    }

    /// Makes every relative file path absolute against `base` (the configuration's folder).
    fn resolve_paths(&mut self, base: &Path) {
        let join = |p: &Path| -> PathBuf {
            if p.as_os_str().is_empty() || p.is_absolute() {
                p.to_path_buf()
            } else {
                base.join(p)
            }
        };
        let join_text = |s: &str| -> String {
            if s.trim().is_empty() {
                s.to_owned()
            } else {
                join(Path::new(s)).to_string_lossy().into_owned()
            }
        };
        let mut moved = Vec::new();
        if let Some((path, query)) = sqlite_path(&self.database.url)
            && Path::new(path).is_relative()
            && path != ":memory:"
        {
            let resolved = base.join(path);
            moved.push(("database.url", resolved.clone(), PathBuf::from(path)));
            self.database.url = match query {
                Some(q) => format!("sqlite://{}?{q}", resolved.to_string_lossy()),
                None => format!("sqlite://{}", resolved.to_string_lossy()),
            };
        }
        let key = &self.secrets.master_key_file;
        if key.is_relative() && !key.as_os_str().is_empty() {
            moved.push(("secrets.master_key_file", base.join(key), key.clone()));
        }
        self.secrets.master_key_file = join(&self.secrets.master_key_file);
        for m in &mut self.webauthn.models {
            m.root = join(&m.root);
        }
        self.ldap.ca_file = join_text(&self.ldap.ca_file);
        self.ldap.service_password_file = join_text(&self.ldap.service_password_file);
        self.sync.hr.folder = join_text(&self.sync.hr.folder);
        let source = self.sync.rpps.source.trim();
        if !(source.starts_with("http://") || source.starts_with("https://")) {
            self.sync.rpps.source = join_text(source);
        }
        let c = &mut self.cps;
        for list in [&mut c.anchors, &mut c.intermediates, &mut c.crl_files] {
            for p in list.iter_mut() {
                *p = join(p);
            }
        }
        c.tls.cert_file = join_text(&c.tls.cert_file);
        c.tls.key_file = join_text(&c.tls.key_file);
        self.paths = PathResolution {
            base: Some(base.to_path_buf()),
            moved,
        };
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let key = |key: &str, message: &str| ConfigError::Key {
            key: key.to_owned(),
            message: message.to_owned(),
        };
        let url = &self.http.public_url;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err(key("http.public_url", "must be an http(s) URL with a host"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(key(
                "http.public_url",
                "must not carry a query or a fragment",
            ));
        }
        if self.http.bind.parse::<std::net::SocketAddr>().is_err() {
            return Err(key(
                "http.bind",
                "must be an address:port such as 127.0.0.1:8080",
            ));
        }
        if !(self.database.url.starts_with("sqlite:")
            || self.database.url.starts_with("postgres://")
            || self.database.url.starts_with("postgresql://"))
        {
            return Err(key(
                "database.url",
                "must start with sqlite:// or postgres://",
            ));
        }
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
                return Err(key(name, "must be a positive number"));
            }
        }
        if self.session.levels.len() != 3 {
            return Err(key(
                "session.levels",
                "must name exactly three levels, lowest first",
            ));
        }
        if self.hr.delimiter.chars().count() != 1 || !self.hr.delimiter.is_ascii() {
            return Err(key("hr.delimiter", "must be one ASCII character"));
        }
        for (name, value) in [
            (
                "hr.columns.employee_number",
                &self.hr.columns.employee_number,
            ),
            ("hr.columns.given_name", &self.hr.columns.given_name),
            ("hr.columns.family_name", &self.hr.columns.family_name),
        ] {
            if value.trim().is_empty() {
                return Err(key(name, "must name a column of the HR export"));
            }
        }
        if self.sync.lease_secs <= 0 {
            return Err(key("sync.lease_secs", "must be a positive number"));
        }
        if self.sync.rpps.interval_secs == 0 {
            return Err(key("sync.rpps.interval_secs", "must be a positive number"));
        }
        if self.sync.hr.interval_secs == 0 {
            return Err(key("sync.hr.interval_secs", "must be a positive number"));
        }
        if self.sync.hr_dates.interval_secs == 0 {
            return Err(key(
                "sync.hr_dates.interval_secs",
                "must be a positive number",
            ));
        }
        self.validate_ldap()?;
        self.validate_webauthn()?;
        self.validate_cps()?;
        self.validate_metrics()?;
        if self.password.memory_kib < 8 * 1024 || self.password.iterations == 0 {
            return Err(key(
                "password.memory_kib",
                "argon2 needs at least 8192 KiB and one iteration",
            ));
        }
        Ok(())
    }

    fn validate_webauthn(&self) -> Result<(), ConfigError> {
        let key = |key: &str, message: String| ConfigError::Key {
            key: key.to_owned(),
            message,
        };
        let w = &self.webauthn;
        if w.timeout_secs == 0 || w.timeout_secs > 600 {
            return Err(key(
                "webauthn.timeout_secs",
                "must be between 1 and 600".into(),
            ));
        }
        if w.enrolment_code_ttl_secs <= 0 {
            return Err(key(
                "webauthn.enrolment_code_ttl_secs",
                "must be a positive number".into(),
            ));
        }
        for (i, m) in w.models.iter().enumerate() {
            if uuid::Uuid::parse_str(&m.aaguid).is_err() {
                return Err(key(
                    &format!("webauthn.models[{i}].aaguid"),
                    format!("{:?} is not an AAGUID (a UUID)", m.aaguid),
                ));
            }
            if !m.root.is_file() {
                return Err(key(
                    &format!("webauthn.models[{i}].root"),
                    format!("the file {} does not exist", m.root.display()),
                ));
            }
        }
        Ok(())
    }

    fn validate_ldap(&self) -> Result<(), ConfigError> {
        let key = |key: &str, message: String| ConfigError::Key {
            key: key.to_owned(),
            message,
        };
        let l = &self.ldap;
        if self.sync.ldap.interval_secs == 0 || self.sync.ldap.full_every == 0 {
            return Err(key(
                "sync.ldap.interval_secs",
                "interval_secs and full_every must be positive".into(),
            ));
        }
        if !l.enabled() {
            return Ok(());
        }
        for url in &l.servers {
            if !matches!(url.scheme(), "ldap" | "ldaps") || url.host().is_none() {
                return Err(key(
                    "ldap.servers",
                    format!("`{url}` must be an ldap:// or ldaps:// URL with a host"),
                ));
            }
            if url.scheme() == "ldaps" && l.starttls {
                return Err(key(
                    "ldap.starttls",
                    format!("`{url}` is already ldaps://; StartTLS applies to ldap:// URLs"),
                ));
            }
        }
        if !l.ca_file.is_empty() && !Path::new(&l.ca_file).is_file() {
            return Err(key(
                "ldap.ca_file",
                format!("the file {} does not exist", l.ca_file),
            ));
        }
        if l.pool_size == 0 || l.page_size <= 0 || l.timeout_ms == 0 || l.connect_timeout_ms == 0 {
            return Err(key(
                "ldap.pool_size",
                "pool_size, page_size, timeout_ms and connect_timeout_ms must be positive".into(),
            ));
        }
        if l.user_base.trim().is_empty() {
            return Err(key(
                "ldap.user_base",
                "must name the base of the user entries".into(),
            ));
        }
        if l.attributes.username.trim().is_empty() || l.attributes.unique_id.trim().is_empty() {
            return Err(key(
                "ldap.attributes.username",
                "username and unique_id must name directory attributes".into(),
            ));
        }
        match l.bind {
            BindMode::Direct if !l.bind_template.contains("{username}") => {
                return Err(key(
                    "ldap.bind_template",
                    "direct bind needs a template with {username}, e.g. \"{username}@chu.local\""
                        .into(),
                ));
            }
            BindMode::Search if l.service_dn.trim().is_empty() => {
                return Err(key(
                    "ldap.service_dn",
                    "search-then-bind needs the service account's DN".into(),
                ));
            }
            _ => {}
        }
        if !l.service_password_file.is_empty() && !Path::new(&l.service_password_file).is_file() {
            return Err(key(
                "ldap.service_password_file",
                format!("the file {} does not exist", l.service_password_file),
            ));
        }
        if l.max_failures <= 0 {
            return Err(key("ldap.max_failures", "must be a positive number".into()));
        }
        if l.directory_lockout_threshold > 0 && l.max_failures >= l.directory_lockout_threshold {
            return Err(key(
                "ldap.max_failures",
                format!(
                    "must stay below the directory's lockout threshold ({}), or anyone could lock \
                     a colleague out of the directory through Trousseau",
                    l.directory_lockout_threshold
                ),
            ));
        }
        Ok(())
    }

    fn validate_metrics(&self) -> Result<(), ConfigError> {
        let key = |key: &str, message: String| ConfigError::Key {
            key: key.to_owned(),
            message,
        };
        for a in &self.metrics.allow {
            crate::authn::cps::header::Network::parse(a).map_err(|m| key("metrics.allow", m))?;
        }
        let bind = &self.metrics.bind;
        if !bind.is_empty() {
            if bind.parse::<std::net::SocketAddr>().is_err() {
                return Err(key(
                    "metrics.bind",
                    "must be an address:port such as 10.0.0.12:9100, or \"\"".into(),
                ));
            }
            if *bind == self.http.bind {
                return Err(key(
                    "metrics.bind",
                    "must differ from http.bind (leave it \"\" to serve /metrics there)".into(),
                ));
            }
        }
        Ok(())
    }

    fn validate_cps(&self) -> Result<(), ConfigError> {
        let key = |key: &str, message: String| ConfigError::Key {
            key: key.to_owned(),
            message,
        };
        let c = &self.cps;
        if c.crl_refresh_secs == 0 {
            return Err(key(
                "cps.crl_refresh_secs",
                "must be a positive number".into(),
            ));
        }
        for t in &c.proxy.trusted {
            crate::authn::cps::header::Network::parse(t)
                .map_err(|m| key("cps.proxy.trusted", m))?;
        }
        if !c.enabled {
            return Ok(());
        }
        if c.anchors.is_empty() {
            return Err(key(
                "cps.anchors",
                "name the PEM file(s) of the card CAs' roots".into(),
            ));
        }
        for (name, files) in [
            ("cps.anchors", &c.anchors),
            ("cps.intermediates", &c.intermediates),
            ("cps.crl_files", &c.crl_files),
        ] {
            if let Some(missing) = files.iter().find(|f| !f.is_file()) {
                return Err(key(
                    name,
                    format!("the file {} does not exist", missing.display()),
                ));
            }
        }
        if !c.proxy.header.is_empty() && c.proxy.trusted.is_empty() {
            return Err(key(
                "cps.proxy.trusted",
                "a certificate header is believed only from listed proxies: name them".into(),
            ));
        }
        if !c.tls.listen.is_empty() {
            if c.tls.listen.parse::<std::net::SocketAddr>().is_err() {
                return Err(key(
                    "cps.tls.listen",
                    "must be an address:port such as 0.0.0.0:8443".into(),
                ));
            }
            for (name, f) in [
                ("cps.tls.cert_file", &c.tls.cert_file),
                ("cps.tls.key_file", &c.tls.key_file),
            ] {
                if !Path::new(f).is_file() {
                    return Err(key(name, format!("the file {f:?} does not exist")));
                }
            }
        }
        Ok(())
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

/// The file path and query of a `sqlite:` URL; `None` for another database.
pub fn sqlite_path(url: &str) -> Option<(&str, Option<&str>)> {
    let rest = url.strip_prefix("sqlite:")?.trim_start_matches("//");
    Some(match rest.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (rest, None),
    })
}

/// `path` made absolute against the working directory, for messages that name files.
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_load() {
        let s = Settings::from_overrides("").expect("defaults are valid");
        assert_eq!(s.http.bind, "127.0.0.1:8080");
        assert_eq!(s.issuer(), "http://localhost:8080");
        assert_eq!(s.session.absolute_secs, 4 * 3600);
    }

    #[test]
    fn unknown_key_is_named() {
        let err = Settings::from_overrides("[http]\nbindd = \"x\"").unwrap_err();
        assert!(err.to_string().contains("bindd"), "{err}");
    }

    #[test]
    fn bad_finess_is_named() {
        let err = Settings::from_overrides("[establishment]\nfiness = [\"750712184\", \"12\"]")
            .unwrap_err();
        assert!(err.to_string().contains("establishment.finess"), "{err}");
        let ok = Settings::from_overrides("[establishment]\nfiness = [\"750712184\"]").unwrap();
        assert_eq!(ok.establishment.finess[0].as_str(), "750712184");
    }

    #[test]
    fn cps_settings_are_checked() {
        let err = Settings::from_overrides("[cps.proxy]\ntrusted = [\"10.0.0.0/40\"]").unwrap_err();
        assert!(err.to_string().contains("cps.proxy.trusted"), "{err}");
        let err = Settings::from_overrides("[cps]\nenabled = true").unwrap_err();
        assert!(err.to_string().contains("cps.anchors"), "{err}");
        let err = Settings::from_overrides("[cps]\ncrl_stale = \"maybe\"").unwrap_err();
        assert!(err.to_string().contains("cps.crl_stale"), "{err}");
        let ok = Settings::from_overrides("").unwrap();
        assert!(!ok.cps.enabled);
    }

    #[test]
    fn metrics_settings_are_checked() {
        let ok = Settings::from_overrides("").unwrap();
        assert_eq!(ok.metrics.allow, ["127.0.0.1", "::1"]);
        assert!(ok.metrics.bind.is_empty());
        let err = Settings::from_overrides("[metrics]\nallow = [\"10.0.0.0/33\"]").unwrap_err();
        assert!(err.to_string().contains("metrics.allow"), "{err}");
        let err = Settings::from_overrides("[metrics]\nbind = \"9100\"").unwrap_err();
        assert!(err.to_string().contains("metrics.bind"), "{err}");
        let err = Settings::from_overrides("[metrics]\nbind = \"127.0.0.1:8080\"").unwrap_err();
        assert!(err.to_string().contains("metrics.bind"), "{err}");
    }

    #[test]
    fn relative_paths_follow_the_configuration_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("trousseau.toml");
        std::fs::write(
            &file,
            "[database]\nurl = \"sqlite://data/t.db?mode=rwc\"\n[sync.hr]\nfolder = \"rh\"\n",
        )
        .unwrap();
        let s = Settings::load(Some(&file)).unwrap();
        let base = dir.path().display();
        assert_eq!(
            s.database.url,
            format!("sqlite://{base}/data/t.db?mode=rwc")
        );
        assert_eq!(
            s.secrets.master_key_file,
            dir.path().join("data/master.key")
        );
        assert_eq!(s.sync.hr.folder, format!("{base}/rh"));
        assert_eq!(s.paths.moved.len(), 2);
        let defaults = Settings::from_overrides("").unwrap();
        assert_eq!(defaults.database.url, "sqlite://data/trousseau.db");
        assert!(defaults.paths.base.is_none());
    }

    #[test]
    fn bad_value_is_named() {
        let err = Settings::from_overrides("[session]\nidle_secs = -1").unwrap_err();
        assert!(err.to_string().contains("session.idle_secs"), "{err}");
        let err = Settings::from_overrides("[database]\nmigrate = \"perhaps\"").unwrap_err();
        assert!(err.to_string().contains("database.migrate"), "{err}");
    }
}
