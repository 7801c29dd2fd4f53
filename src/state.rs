//! The application state: everything a request handler or a background job may need, built
//! once at start-up and shared (`web::Data<AppState>`). It imports only the types it holds.

use anyhow::Context;
use std::sync::Arc;
use tokio::sync::Notify;

use crate::audit::{Audit, AuditWriter};
use crate::authn::cps::Cps;
use crate::authn::ldap::Directory;
use crate::authn::password::PasswordHasher;
use crate::authn::webauthn::Verifier;
use crate::clock::SharedClock;
use crate::config::Settings;
use crate::crypto::master_key::MasterKey;
use crate::metrics::Metrics;
use crate::oidc::client::ClientCache;
use crate::oidc::keys::KeyRing;
use crate::psc::PscClient;
use crate::storage::Db;

/// Everything a request handler may need, built once.
#[derive(Debug)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub db: Db,
    /// The master key: seals signing keys and short-lived tickets (card-login flow binding).
    pub master: Arc<MasterKey>,
    pub clock: SharedClock,
    pub keys: Arc<KeyRing>,
    pub clients: ClientCache,
    pub audit: Audit,
    pub hasher: PasswordHasher,
    /// The hospital's directory, when `[ldap]` names servers.
    pub directory: Option<Arc<Directory>>,
    /// The WebAuthn relying party, when an RP ID is known (`[webauthn]`).
    pub security_keys: Option<Arc<Verifier>>,
    pub metrics: Metrics,
    pub logout_wakeup: Arc<Notify>,
    pub http: reqwest::Client,
    /// CPS card login, when `[cps]` is enabled.
    pub cps: Option<Arc<Cps>>,
    /// The Pro Santé Connect client, when `[psc]` is enabled.
    pub psc: Option<Arc<PscClient>>,
}

impl AppState {
    /// Builds the state from an open database; starts the audit writer.
    pub async fn new(
        settings: Settings,
        db: Db,
        master: Arc<MasterKey>,
        clock: SharedClock,
    ) -> anyhow::Result<(AppState, AuditWriter)> {
        let keys = Arc::new(KeyRing::new(db.clone(), master.clone(), clock.clone()));
        keys.ensure()
            .await
            .context("cannot prepare the signing keys")?;
        let (audit, audit_writer) = Audit::start(db.clone(), clock.clone());
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(settings.logout.timeout_secs))
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let cps = Cps::new(&settings.cps)?;
        let psc = PscClient::new(&settings.psc, clock.clone(), db.clone())?;
        let state = AppState {
            clients: ClientCache::new(db.clone(), settings.session.levels.clone()),
            hasher: PasswordHasher::new(&settings.password)?,
            directory: Directory::new(&settings.ldap)?,
            security_keys: Verifier::new(&settings)?.map(Arc::new),
            settings: Arc::new(settings),
            db,
            master,
            clock,
            keys,
            audit,
            metrics: Metrics::new(),
            logout_wakeup: Arc::new(Notify::new()),
            http,
            cps,
            psc,
        };
        Ok((state, audit_writer))
    }
}
