//! Layered configuration: built-in defaults, an optional file, then `TROUSSEAU__SECTION__KEY`
//! environment variables. Validated once at start-up with messages that name the key. One file
//! per area (`[http]`, `[ldap]`, `[cps]`…); every type is re-exported here.

mod admin;
mod audit;
mod cps;
mod database;
mod error;
mod establishment;
mod hr;
mod http;
mod ldap;
mod load;
mod logging;
mod logout;
mod metrics;
mod network;
mod password;
mod psc;
mod reconcile;
mod secrets;
mod session;
mod settings;
mod sync;
mod throttle;
mod tokens;
mod webauthn;

pub use admin::{AdminSettings, EnrolmentSettings};
pub use audit::AuditSettings;
pub use cps::{
    CertEncoding, CpsProxySettings, CpsSettings, CpsTlsSettings, CrlStalePolicy,
    StructureCardPolicy,
};
pub use database::{DatabaseSettings, sqlite_path};
pub use error::ConfigError;
pub use establishment::EstablishmentSettings;
pub use hr::{HrColumns, HrSettings};
pub use http::HttpSettings;
pub use ldap::{BindMode, DirectoryKind, LdapAttributes, LdapSettings, LinkBy};
pub use load::DEFAULTS;
pub use logging::{LogFormat, LoggingSettings};
pub use logout::LogoutSettings;
pub use metrics::MetricsSettings;
pub use network::Network;
pub use password::PasswordSettings;
pub use psc::{
    FEDERATION_MAX_AUTH_AGE, FederatedEstablishment, FederationSettings, KnownEndpoints,
    PairingSettings, PscEnvironment, PscSettings,
};
pub use reconcile::ReconcileSettings;
pub use secrets::SecretsSettings;
pub use session::SessionSettings;
pub use settings::{PathResolution, Settings};
pub use sync::{
    HrDatesSyncSettings, HrSyncSettings, LdapSyncSettings, RppsSyncSettings, SyncSettings,
};
pub use throttle::ThrottleSettings;
pub use tokens::TokenSettings;
pub use webauthn::{KeyModelSettings, WebauthnSettings};
