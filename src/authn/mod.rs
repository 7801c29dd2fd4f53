//! Authentication methods and the one level function (design.md, "How strongly").

pub mod cps;
pub mod level;
pub mod login;
pub mod password;
pub mod throttle;
pub mod webauthn;

pub use level::{AuthFactor, Level, Method, evaluate};

use std::sync::Arc;

use crate::audit::Audit;
use crate::clock::SharedClock;
use crate::config::Settings;
use crate::directory::Repository;
use crate::ldap::LdapClient;
use crate::storage::Db;

/// What the authentication methods use, lent by the application state (`AppState::authn`).
pub struct Authn<'a> {
    pub settings: &'a Settings,
    pub db: &'a Db,
    pub clock: &'a SharedClock,
    pub audit: &'a Audit,
    pub hasher: &'a password::PasswordHasher,
    /// The hospital's directory, when `[ldap]` names servers.
    pub directory: &'a Option<Arc<LdapClient>>,
    /// The WebAuthn relying party, when an RP ID is known (`[webauthn]`).
    pub security_keys: &'a Option<Arc<webauthn::Verifier>>,
    /// CPS card login, when `[cps]` is enabled.
    pub cps: &'a Option<Arc<cps::Cps>>,
    pub http: &'a reqwest::Client,
    /// The repository a directory login provisions its identity in.
    pub repository: Repository<'a>,
}
