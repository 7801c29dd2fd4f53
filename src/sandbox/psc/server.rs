//! Builds and runs the sandbox: its state, the plain listener, the optional HTTPS listener
//! that asks for client certificates (mTLS, RFC 8705), and the routes.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

use actix_web::dev::Extensions;
use actix_web::{App, HttpServer, web};
use anyhow::{Context, bail};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;

use super::broker::Broker;
use super::config::{SandboxSettings, TlsSettings};
use super::directory::Directory;
use super::store::Store;
use super::tokens::Keys;
use super::{broker, oauth, pages};
use crate::psc::protocol::Endpoints;

/// Everything a request of the sandbox may use.
pub struct Sandbox {
    pub settings: SandboxSettings,
    pub endpoints: Endpoints,
    /// The endpoints on the mTLS listener, when there is one.
    pub mtls: Option<Endpoints>,
    pub store: Store,
    pub directory: Directory,
    pub keys: Keys,
    /// The broker towards Trousseau (third-party identity providers).
    pub broker: Broker,
}

/// The DER certificate a TLS client presented on this connection (absent: none, or plain
/// HTTP).
#[derive(Debug, Clone)]
pub struct PeerCertificate(pub Vec<u8>);

fn on_connect(conn: &dyn std::any::Any, ext: &mut Extensions) {
    type Tls = actix_tls::accept::rustls_0_23::TlsStream<actix_web::rt::net::TcpStream>;
    if let Some(tls) = conn.downcast_ref::<Tls>()
        && let Some(cert) = tls.get_ref().1.peer_certificates().and_then(|c| c.first())
    {
        ext.insert(PeerCertificate(cert.as_ref().to_vec()));
    }
}

/// Refuses an address others could reach, unless the operator said `--public`.
pub fn check_bind(addr: &SocketAddr, public: bool, what: &str) -> anyhow::Result<()> {
    if !addr.ip().is_loopback() && !public {
        bail!(
            "{what} {addr} is not a loopback address: the sandbox accepts any professional \
             without a real proof; pass --public to listen there anyway"
        );
    }
    Ok(())
}

fn tls_config(tls: &TlsSettings) -> anyhow::Result<rustls::ServerConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let certs = CertificateDer::pem_file_iter(&tls.cert_file)
        .and_then(|i| i.collect::<Result<Vec<_>, _>>())
        .with_context(|| format!("tls.cert_file {}", tls.cert_file.display()))?;
    let key = PrivateKeyDer::from_pem_file(&tls.key_file)
        .with_context(|| format!("tls.key_file {}", tls.key_file.display()))?;
    let mut roots = rustls::RootCertStore::empty();
    for ca in CertificateDer::pem_file_iter(&tls.client_ca_file)
        .with_context(|| format!("tls.client_ca_file {}", tls.client_ca_file.display()))?
    {
        roots
            .add(ca.context("tls.client_ca_file")?)
            .context("tls.client_ca_file: not a CA certificate")?;
    }
    // A certificate is asked for, checked against the client CAs when given, never required:
    // secret-authenticated clients use the same listener.
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .allow_unauthenticated()
        .build()
        .context("tls.client_ca_file")?;
    rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS versions")?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)
        .context("tls: the certificate and key do not match")
}

/// Purges expired and settled state every `purge_interval_secs` (docs/psc-sandbox.md,
/// "Bounds"), so that requests nobody finishes cannot fill the store.
fn purge_periodically(sandbox: web::Data<Sandbox>) {
    let every = std::time::Duration::from_secs(sandbox.settings.purge_interval_secs);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match sandbox
                .store
                .purge(oauth::now(), sandbox.settings.retention())
                .await
            {
                Ok(p) if p.total() > 0 => tracing::info!(
                    requests = p.requests,
                    sessions = p.sessions,
                    codes = p.codes,
                    refresh_tokens = p.refresh_tokens,
                    "sandbox purge"
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = ?e, "sandbox purge failed"),
            }
        }
    });
}

/// Mounts the sandbox's routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    oauth::configure(cfg);
    pages::configure(cfg);
    broker::configure(cfg);
}

/// Starts the sandbox and serves until stopped. Prints one line per listener on standard
/// output (`listening on <url>`, `mtls on <url>`), which the tests read.
pub async fn run(settings: SandboxSettings, bind: &str, public: bool) -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let plain = TcpListener::bind(bind).with_context(|| format!("cannot listen on {bind}"))?;
    let plain_addr = plain.local_addr()?;
    check_bind(&plain_addr, public, "--bind")?;
    let base = settings
        .issuer
        .clone()
        .unwrap_or_else(|| format!("http://{plain_addr}"));
    let tls = match &settings.tls {
        Some(t) => {
            let listener = TcpListener::bind(&t.bind)
                .with_context(|| format!("cannot listen on {} (tls.bind)", t.bind))?;
            let addr = listener.local_addr()?;
            check_bind(&addr, public, "tls.bind")?;
            let url = t
                .public_url
                .clone()
                .unwrap_or_else(|| format!("https://{addr}"));
            Some((listener, tls_config(t)?, url))
        }
        None => None,
    };
    let directory = Directory::load(&settings.professionals_file)?;
    let alg = settings
        .alg()
        .map_err(|e| anyhow::anyhow!("signing_alg: {e}"))?;
    let keys = tokio::task::spawn_blocking(move || Keys::generate(alg)).await??;
    let store = Store::open(&settings.database).await?;
    let broker = Broker::open(store.pool().clone()).await?;
    let sandbox = web::Data::new(Sandbox {
        endpoints: Endpoints::sandbox(&base),
        mtls: tls.as_ref().map(|(_, _, url)| Endpoints::sandbox(url)),
        settings,
        store,
        directory,
        keys,
        broker,
    });
    tracing::info!(
        professionals = sandbox.directory.len(),
        skipped_lines = sandbox.directory.skipped,
        "PSC sandbox ready"
    );
    println!("listening on {base}");
    if let Some((_, _, url)) = &tls {
        println!("mtls on {url}");
    }
    purge_periodically(sandbox.clone());
    let data = sandbox.clone();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(web::FormConfig::default().limit(64 * 1024))
            .wrap(tracing_actix_web::TracingLogger::default())
            .configure(configure)
    })
    .workers(2)
    .on_connect(on_connect)
    .listen(plain)?;
    let server = match tls {
        Some((listener, config, _)) => server.listen_rustls_0_23(listener, config)?,
        None => server,
    };
    use std::io::Write;
    let _ = std::io::stdout().flush();
    server.run().await.context("server")
}
