//! The LDAP client: one value per configured directory, shared by login, sync and
//! `trousseau ldap test`.
//!
//! Named `LdapClient`, not `Directory`: in Trousseau "directory" already names the local
//! identity repository (`crate::directory`) and its synchronisation with AD/OpenLDAP
//! (`crate::directory::ldap`); this type only speaks LDAP to the servers. The module sits below
//! both the directory login (`crate::authn::login`) and the synchronisation, which share it.

use ldap3::{Ldap, SearchEntry};
use secrecy::{ExposeSecret, SecretString};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::DirError;
use crate::config::LdapSettings;
use crate::instruments::{LdapOperation, Metrics};

/// The LDAP client of the hospital's directory, shared by login, sync and `ldap test`.
pub struct LdapClient {
    pub(super) settings: LdapSettings,
    pub(super) tls: Arc<rustls::ClientConfig>,
    pub(super) service_password: Option<SecretString>,
    /// Idle connections bound as the service account.
    pub(super) service_pool: Mutex<Vec<Ldap>>,
    /// Idle connections used for user binds (never for searches).
    pub(super) bind_pool: Mutex<Vec<Ldap>>,
    /// Per server: skipped until this instant after a failure.
    pub(super) down_until: Mutex<Vec<Option<Instant>>>,
    /// Where operation times and faults are counted (none for a client of the command line).
    metrics: Option<Arc<Metrics>>,
}

impl std::fmt::Debug for LdapClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LdapClient")
            .field("servers", &self.settings.servers)
            .field("kind", &self.settings.kind)
            .finish_non_exhaustive()
    }
}

/// A page of the sync's user or group search.
pub type Entries = Vec<SearchEntry>;

impl LdapClient {
    /// Builds the client; `None` when no directory is configured. Its operations are counted
    /// in `metrics` when given.
    pub fn new(
        settings: &LdapSettings,
        metrics: Option<Arc<Metrics>>,
    ) -> anyhow::Result<Option<Arc<LdapClient>>> {
        if !settings.enabled() {
            return Ok(None);
        }
        let tls = tls_config(&settings.ca_file)?;
        let service_password = match (&settings.service_password, &settings.service_password_file) {
            (_, file) if !file.is_empty() => {
                let text = std::fs::read_to_string(file).map_err(|e| {
                    anyhow::anyhow!("ldap.service_password_file: cannot read {file}: {e}")
                })?;
                Some(SecretString::from(
                    text.trim_end_matches(['\n', '\r']).to_owned(),
                ))
            }
            (Some(p), _) if !p.expose_secret().is_empty() => Some(p.clone()),
            _ => None,
        };
        Ok(Some(Arc::new(LdapClient {
            down_until: Mutex::new(vec![None; settings.servers.len()]),
            settings: settings.clone(),
            tls,
            service_password,
            service_pool: Mutex::new(Vec::new()),
            bind_pool: Mutex::new(Vec::new()),
            metrics,
        })))
    }

    pub fn settings(&self) -> &LdapSettings {
        &self.settings
    }

    pub(super) fn op_timeout(&self) -> Duration {
        Duration::from_millis(self.settings.timeout_ms)
    }

    /// Counts an operation begun at `started`, and its fault when it failed (a refusal about
    /// the person, such as a wrong password, is no fault of the directory).
    pub(super) fn observe<T>(
        &self,
        operation: LdapOperation,
        started: Instant,
        result: &Result<T, DirError>,
    ) {
        let fault = result.as_ref().err().and_then(DirError::fault);
        self.observe_fault(operation, started, fault);
    }

    /// [`LdapClient::observe`] with the fault already named.
    pub(super) fn observe_fault(
        &self,
        operation: LdapOperation,
        started: Instant,
        fault: Option<&'static str>,
    ) {
        if let Some(m) = &self.metrics {
            m.ldap_operation(operation, started.elapsed(), fault);
        }
    }
}

/// The TLS configuration: the CA file when given, else the system's roots.
fn tls_config(ca_file: &str) -> anyhow::Result<Arc<rustls::ClientConfig>> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    if ca_file.is_empty() {
        for path in [
            "/etc/ssl/certs/ca-certificates.crt",
            "/etc/pki/tls/certs/ca-bundle.crt",
        ] {
            if let Ok(iter) = CertificateDer::pem_file_iter(path) {
                for c in iter.flatten() {
                    let _ = roots.add(c);
                }
                break;
            }
        }
    } else {
        let certs = CertificateDer::pem_file_iter(ca_file)
            .map_err(|e| anyhow::anyhow!("ldap.ca_file: cannot read {ca_file}: {e}"))?;
        for c in certs {
            let c = c.map_err(|e| anyhow::anyhow!("ldap.ca_file: {ca_file}: {e}"))?;
            roots
                .add(c)
                .map_err(|e| anyhow::anyhow!("ldap.ca_file: {ca_file}: {e}"))?;
        }
        if roots.is_empty() {
            anyhow::bail!("ldap.ca_file: {ca_file} holds no PEM certificate");
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| anyhow::anyhow!("TLS: {e}"))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(Arc::new(config))
}
