//! The application state: everything a request handler or a background job may need, built
//! once at start-up and shared (`web::Data<AppState>`). It imports only the types it holds and
//! those it lends to the layers below (`Authn`, `Repository`, `Sessions`, `Backchannel`).

use anyhow::Context;
use futures_util::future::BoxFuture;
use std::sync::Arc;
use tokio::sync::Notify;

use crate::audit::{Audit, AuditWriter, RequestContext};
use crate::authn::Authn;
use crate::authn::cps::Cps;
use crate::authn::password::PasswordHasher;
use crate::authn::webauthn::Verifier;
use crate::clock::SharedClock;
use crate::config::Settings;
use crate::crypto::master_key::MasterKey;
use crate::directory::{EndSessions, Repository};
use crate::instruments::Metrics;
use crate::ldap::LdapClient;
use crate::oidc::backchannel::{self, Backchannel};
use crate::oidc::client::ClientCache;
use crate::oidc::keys::KeyRing;
use crate::psc::{Ecps, PscClient};
use crate::session::{self, LogoutQueue, Sessions};
use crate::storage::sessions::SessionRecord;
use crate::storage::{Db, Tx};

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
    pub directory: Option<Arc<LdapClient>>,
    /// The WebAuthn relying party, when an RP ID is known (`[webauthn]`).
    pub security_keys: Option<Arc<Verifier>>,
    pub metrics: Arc<Metrics>,
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
        let metrics = Arc::new(Metrics::new());
        let psc = PscClient::new(
            &settings.psc,
            clock.clone(),
            db.clone(),
            Some(metrics.clone()),
        )?;
        let state = AppState {
            clients: ClientCache::new(db.clone(), settings.session.levels.clone()),
            hasher: PasswordHasher::new(&settings.password)?,
            directory: LdapClient::new(&settings.ldap, Some(metrics.clone()))?,
            security_keys: Verifier::new(&settings)?.map(Arc::new),
            settings: Arc::new(settings),
            db,
            master,
            clock,
            keys,
            audit,
            metrics,
            logout_wakeup: Arc::new(Notify::new()),
            http,
            cps,
            psc,
        };
        Ok((state, audit_writer))
    }
}

/// What each layer below is lent of the state: its functions take these, never `AppState`.
impl AppState {
    pub fn repository(&self) -> Repository<'_> {
        Repository {
            settings: &self.settings,
            db: &self.db,
            clock: &self.clock,
            audit: &self.audit,
            directory: &self.directory,
            sessions: self,
            metrics: &self.metrics,
        }
    }

    pub fn ecps(&self) -> Ecps<'_> {
        Ecps {
            settings: &self.settings,
            db: &self.db,
            clock: &self.clock,
            audit: &self.audit,
            master: &self.master,
            psc: &self.psc,
        }
    }

    pub fn authn(&self) -> Authn<'_> {
        Authn {
            settings: &self.settings,
            db: &self.db,
            clock: &self.clock,
            audit: &self.audit,
            hasher: &self.hasher,
            directory: &self.directory,
            security_keys: &self.security_keys,
            cps: &self.cps,
            http: &self.http,
            repository: self.repository(),
        }
    }

    pub fn sessions(&self) -> Sessions<'_> {
        Sessions {
            settings: &self.settings,
            db: &self.db,
            clock: &self.clock,
            audit: &self.audit,
            logout: self,
            logout_wakeup: &self.logout_wakeup,
        }
    }

    pub fn backchannel(&self) -> Backchannel<'_> {
        Backchannel {
            settings: &self.settings,
            db: &self.db,
            clock: &self.clock,
            keys: &self.keys,
            clients: &self.clients,
            audit: &self.audit,
            http: &self.http,
        }
    }
}

impl LogoutQueue for AppState {
    fn enqueue<'a>(
        &'a self,
        tx: &'a mut Tx,
        session: &'a SessionRecord,
    ) -> BoxFuture<'a, anyhow::Result<usize>> {
        Box::pin(async move { backchannel::enqueue(&self.backchannel(), tx, session).await })
    }
}

impl EndSessions for AppState {
    fn end_all<'a>(
        &'a self,
        identity_id: &'a str,
        reason: &'a str,
    ) -> BoxFuture<'a, anyhow::Result<usize>> {
        Box::pin(async move {
            let ctx = RequestContext::default();
            session::end_all(&self.sessions(), identity_id, reason, &ctx).await
        })
    }
}
