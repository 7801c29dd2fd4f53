//! The Pro Santé Connect client (psc.md): discovery at PSC's non-standard path, the signing
//! keys (cached, refreshed on an unknown `kid`), the authorization-code flow with PKCE, CIBA
//! (poll mode) and the checks of every ID token. Built on the `openidconnect` crate's types
//! (PSC's discovery and claims as its extensions, behind the aliases of `types.rs`).

mod ciba;
mod code;
mod probe;
mod transport;
mod types;
mod userinfo;
mod verify;

use secrecy::SecretString;
use std::sync::Arc;
use tokio::sync::RwLock;

pub use ciba::{Channel, CibaPoll, CibaStarted};
pub use code::PendingAuthorization;
pub use probe::{CREDENTIALS_PROBE_IDNAT, CredentialsAccepted};
pub use types::{PscClaims, PscIdToken, PscProviderMetadata};
pub use verify::ProvenIdentity;

use super::PscError;
use crate::clock::SharedClock;
use crate::config::PscSettings;
use crate::instruments::Metrics;
use crate::storage::Db;
use types::Endpoints;

/// How the client proves itself to PSC.
#[derive(Debug)]
enum ClientAuth {
    /// `client_secret_basic`.
    Secret(SecretString),
    /// `tls_client_auth`: the organisation certificate on the TLS connection.
    Tls,
}

/// Trousseau as a relying party of Pro Santé Connect. One per node; discovery and keys are
/// fetched on first use (PSC may be down when Trousseau starts) and kept.
#[derive(Debug)]
pub struct PscClient {
    settings: PscSettings,
    issuer: String,
    issuer_url: openidconnect::IssuerUrl,
    http: reqwest::Client,
    auth: ClientAuth,
    clock: SharedClock,
    /// Where used nonces are remembered; `None` for a client that only checks the
    /// configuration (`trousseau psc test`) and never verifies an ID token.
    db: Option<Db>,
    endpoints: RwLock<Option<Arc<Endpoints>>>,
    keys: RwLock<Option<Arc<openidconnect::core::CoreJsonWebKeySet>>>,
    /// Where each call to PSC is counted and timed, when given.
    metrics: Option<Arc<Metrics>>,
}

impl PscClient {
    /// The client of `[psc]`, or `None` when PSC is not enabled; its calls are counted in
    /// `metrics` when given.
    pub fn new(
        settings: &PscSettings,
        clock: SharedClock,
        db: Db,
        metrics: Option<Arc<Metrics>>,
    ) -> anyhow::Result<Option<Arc<PscClient>>> {
        if !settings.enabled {
            return Ok(None);
        }
        Ok(Some(Arc::new(Self::build(
            settings,
            clock,
            Some(db),
            metrics,
        )?)))
    }

    /// A client of `[psc]` (enabled or not) that checks the configuration against PSC:
    /// discovery, keys and client credentials, without a database.
    pub fn probe(settings: &PscSettings, clock: SharedClock) -> anyhow::Result<PscClient> {
        Self::build(settings, clock, None, None)
    }

    fn build(
        settings: &PscSettings,
        clock: SharedClock,
        db: Option<Db>,
        metrics: Option<Arc<Metrics>>,
    ) -> anyhow::Result<PscClient> {
        let auth = match (
            &settings.client_secret,
            settings.client_secret_file.as_str(),
        ) {
            (Some(secret), _) => ClientAuth::Secret(secret.clone()),
            (None, file) if !file.is_empty() => ClientAuth::Secret(transport::read_secret(file)?),
            _ => ClientAuth::Tls,
        };
        let http = transport::http_client(settings)?;
        let issuer = settings.issuer();
        let issuer_url = openidconnect::IssuerUrl::new(issuer.clone())
            .map_err(|_| anyhow::anyhow!("psc.issuer {issuer:?} is not a URL"))?;
        Ok(PscClient {
            issuer,
            issuer_url,
            settings: settings.clone(),
            http,
            auth,
            clock,
            db,
            endpoints: RwLock::new(None),
            keys: RwLock::new(None),
            metrics,
        })
    }

    /// The issuer this client trusts.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The client id PSC registered.
    pub fn client_id(&self) -> &str {
        &self.settings.client_id
    }

    /// The endpoints, from discovery (once) and the configured overrides.
    async fn endpoints(&self) -> Result<Arc<Endpoints>, PscError> {
        if let Some(e) = self.endpoints.read().await.as_ref() {
            return Ok(e.clone());
        }
        let discovered = Arc::new(self.discover().await?);
        *self.endpoints.write().await = Some(discovered.clone());
        Ok(discovered)
    }

    /// Reads the discovery document again and checks it (`trousseau psc test`).
    pub async fn check_discovery(&self) -> Result<(), PscError> {
        let discovered = Arc::new(self.discover().await?);
        *self.endpoints.write().await = Some(discovered);
        Ok(())
    }

    /// The endpoints in use, by name (`trousseau psc test`).
    pub async fn endpoint_list(&self) -> Result<Vec<(&'static str, String)>, PscError> {
        let e = self.endpoints().await?;
        let opt = |u: &Option<url::Url>| u.as_ref().map(url::Url::to_string).unwrap_or_default();
        Ok(vec![
            ("authorization", e.authorization.to_string()),
            ("token", e.token.to_string()),
            ("userinfo", opt(&e.userinfo)),
            ("jwks", e.jwks.to_string()),
            ("ciba", opt(&e.ciba)),
            ("end_session", opt(&e.end_session)),
            ("introspection", opt(&e.introspection)),
        ])
    }

    /// Reads the signing keys again and checks that one is usable (`trousseau psc test`).
    pub async fn check_keys(&self) -> Result<usize, PscError> {
        Ok(self.signing_keys(true).await?.keys().len())
    }
}
