//! Builds the server: opens the database, builds the state, mounts the routes and middleware,
//! starts the background workers, binds and runs.

use actix_web::dev::Server;
use actix_web::middleware::Compress;
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use std::net::TcpListener;
use std::sync::Arc;
use tracing_actix_web::TracingLogger;

use crate::audit::AuditWriter;
use crate::clock::SharedClock;
use crate::config::Settings;
use crate::crypto::master_key::MasterKey;
use crate::storage::Db;

use crate::state::AppState;
use crate::{endpoint, ui, web as pages};

/// Opens the database (migrating it when configured) and loads the master key: `serve`,
/// `migrate` and `demo`, which may create both. A master key is generated only when the
/// database holds nothing sealed with one.
pub async fn open(settings: &Settings) -> anyhow::Result<(Db, Arc<MasterKey>)> {
    refuse_moved_files(settings)?;
    let db = Db::connect(&settings.database).await?;
    if settings.database.migrate {
        db.migrate().await?;
    }
    if let Some((master, _)) = MasterKey::configured(&settings.secrets)? {
        return Ok((db, Arc::new(master)));
    }
    let sealed = if db.is_initialised().await? {
        crate::storage::keys::count(db.pool()).await?
    } else {
        0
    };
    let file = settings.master_key_file();
    if sealed > 0 {
        anyhow::bail!(
            "the master key file {} does not exist, but the database {} holds {sealed} signing \
             keys sealed with a master key: restore that file (or set \
             TROUSSEAU__SECRETS__MASTER_KEY); a new key could not open them, so none is generated",
            file.display(),
            database_name(settings)
        );
    }
    let master = MasterKey::generate_file(&settings.secrets.master_key_file)?;
    tracing::warn!(
        file = %file.display(),
        "no master key was configured: a new one was generated; keep this file safe and private"
    );
    eprintln!(
        "Trousseau: generated a new master key in {} (mode 0600). Back it up: it decrypts the signing keys.",
        file.display()
    );
    Ok((db, Arc::new(master)))
}

/// Opens an existing, initialised database and its master key for an administration command,
/// which never creates either; when one is missing, the error names both as resolved.
pub async fn open_existing(settings: &Settings) -> anyhow::Result<(Db, Arc<MasterKey>)> {
    refuse_moved_files(settings)?;
    let resolved = resolved_files(settings);
    let db = match Db::open_existing(&settings.database).await {
        Ok(db) => db,
        Err(e) if e.downcast_ref::<crate::storage::Missing>().is_some() => anyhow::bail!(
            "{e} ({resolved}); administration commands never create a database: name the \
             installation's configuration with --config, or create the database with \
             `trousseau migrate`"
        ),
        Err(e) => return Err(e),
    };
    if !db
        .is_initialised()
        .await
        .context("cannot read the database")?
    {
        anyhow::bail!(
            "the database holds no Trousseau tables ({resolved}); administration commands never \
             create them: run `trousseau migrate` with this configuration first"
        );
    }
    if settings.database.migrate {
        db.migrate().await?;
    }
    let Some((master, _)) = MasterKey::configured(&settings.secrets)? else {
        anyhow::bail!(
            "there is no master key file {} ({resolved}); administration commands never create \
             one: name the installation's configuration with --config, or set \
             TROUSSEAU__SECRETS__MASTER_KEY",
            settings.master_key_file().display()
        );
    };
    Ok((db, Arc::new(master)))
}

/// "database …, master key …" as resolved, for messages.
pub fn resolved_files(settings: &Settings) -> String {
    let key = if settings.secrets.master_key.is_some() {
        "the master key of TROUSSEAU__SECRETS__MASTER_KEY".to_owned()
    } else {
        format!("master key file {}", settings.master_key_file().display())
    };
    format!("database {}, {key}", database_name(settings))
}

fn database_name(settings: &Settings) -> String {
    match settings.sqlite_file() {
        Some(file) => file.display().to_string(),
        None => crate::storage::redact(&settings.database.url),
    }
}

/// Refuses to go on when a relative path of the configuration file now names a missing file
/// while the same text, read against the working directory as before, names an existing one:
/// an installation upgraded without making its paths absolute would otherwise start a new,
/// empty database or master key beside its data.
fn refuse_moved_files(settings: &Settings) -> anyhow::Result<()> {
    for (key, resolved, legacy) in &settings.paths.moved {
        let legacy = std::path::absolute(legacy).unwrap_or_else(|_| legacy.clone());
        if !resolved.exists() && legacy.exists() && &legacy != resolved {
            anyhow::bail!(
                "`{key}` names {}, which does not exist, but {} does: relative paths in a \
                 configuration file resolve against the file's folder, not the working \
                 directory; write the absolute path in the configuration (docs/configuration.md, \
                 \"Upgrading\")",
                resolved.display(),
                legacy.display()
            );
        }
    }
    Ok(())
}

/// A running server with its background work.
pub struct Application {
    pub port: u16,
    pub state: web::Data<AppState>,
    /// The port of the card-login TLS listener (`[cps.tls]`), when there is one.
    pub card_port: Option<u16>,
    /// The port of the metrics listener (`metrics.bind`), when there is one.
    pub metrics_port: Option<u16>,
    server: Server,
    audit_writer: AuditWriter,
}

impl Application {
    /// Builds the state and binds the listener (port 0 picks a free port). `demo` are the demo
    /// relying parties to mount under `/demo` (`trousseau demo` only; `None` everywhere else).
    pub async fn build(
        settings: Settings,
        clock: SharedClock,
        demo: Option<crate::demo::DemoApps>,
    ) -> anyhow::Result<Application> {
        let listener = TcpListener::bind(&settings.http.bind)
            .with_context(|| format!("cannot listen on {} (http.bind)", settings.http.bind))?;
        Self::build_with_listener(settings, listener, clock, demo).await
    }

    /// Builds on a listener bound by the caller (tests bind port 0 to learn the issuer first).
    pub async fn build_with_listener(
        settings: Settings,
        listener: TcpListener,
        clock: SharedClock,
        demo: Option<crate::demo::DemoApps>,
    ) -> anyhow::Result<Application> {
        let (db, master) = open(&settings).await?;
        let port = listener.local_addr()?.port();
        let (state, audit_writer) = AppState::new(settings, db, master, clock).await?;
        let state = web::Data::new(state);
        crate::workers::start(state.clone().into_inner());
        let card_tls = card_listener(&state)?;
        let card_port = match &card_tls {
            Some((l, _)) => Some(l.local_addr()?.port()),
            None => None,
        };
        let workers = match state.settings.http.workers {
            0 => std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
            n => n,
        };
        let metrics_listener = match state.settings.metrics.bind.as_str() {
            "" => None,
            bind => Some(
                TcpListener::bind(bind)
                    .with_context(|| format!("cannot listen on {bind} (metrics.bind)"))?,
            ),
        };
        let metrics_addr = match &metrics_listener {
            Some(l) => Some(l.local_addr()?),
            None => None,
        };
        let exposure = web::Data::new(crate::metrics::Exposure::new(
            &state.settings.metrics,
            metrics_addr,
        )?);
        let toolkit = web::Data::new(ui::WebSettings::new(&state.settings.http));
        let sessions = web::Data::new(crate::session::SessionReader::of(&state.sessions()));
        let data = state.clone();
        let metrics = web::Data::from(state.metrics.clone());
        let gauges = web::Data::new(crate::metrics::Gauges::new(
            state.db.clone(),
            state.clock.clone(),
            state.cps.clone(),
            state.settings.session.idle_secs,
        ));
        let audit = web::Data::new(state.audit.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .app_data(toolkit.clone())
                .app_data(metrics.clone())
                .app_data(sessions.clone())
                .app_data(audit.clone())
                .app_data(web::FormConfig::default().limit(64 * 1024))
                .app_data(web::PayloadConfig::default().limit(64 * 1024))
                .app_data(web::QueryConfig::default().error_handler(pages::rejected::query))
                .wrap(actix_web::middleware::from_fn(ui::error::render_errors))
                .wrap(actix_web::middleware::from_fn(pages::rejected::body))
                .wrap(actix_web::middleware::from_fn(
                    crate::metrics::listener_paths,
                ))
                .wrap(ui::security::headers(data.settings.is_https()))
                .wrap(Compress::default())
                .wrap(actix_web::middleware::from_fn(crate::metrics::track))
                .wrap(TracingLogger::default())
                .configure(endpoint::configure)
                .configure(pages::configure)
                .configure(crate::admin::api::configure)
                .configure(crate::admin::console::configure)
                .configure(|cfg| crate::metrics::configure(cfg, exposure.clone(), gauges.clone()))
                .configure(|cfg| {
                    if let Some(apps) = &demo {
                        crate::demo::configure(cfg, apps);
                    }
                })
                .default_service(web::to(ui::error::not_found))
        })
        .on_connect(crate::authn::cps::tls::on_connect)
        .workers(workers)
        .shutdown_timeout(10)
        .listen(listener)?;
        let server = match card_tls {
            Some((l, config)) => server.listen_rustls_0_23(l, config)?,
            None => server,
        };
        let server = match metrics_listener {
            Some(l) => {
                tracing::info!(listen = %l.local_addr()?, "metrics listener");
                server.listen(l)?
            }
            None => server,
        }
        .run();
        Ok(Application {
            port,
            card_port,
            metrics_port: metrics_addr.map(|a| a.port()),
            state,
            server,
            audit_writer,
        })
    }

    /// A handle to stop the server gracefully (what SIGTERM does).
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Runs until the server stops, then drains the audit queue.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.server.await?;
        self.audit_writer.shutdown().await;
        if let Err(e) = crate::workers::Sealer::last_round(&self.state).await {
            tracing::warn!(error = %format!("{e:#}"), "audit events not sealed at shutdown");
        }
        Ok(())
    }
}

/// The card-login TLS listener of `[cps.tls]`, bound, with its configuration.
fn card_listener(
    state: &AppState,
) -> anyhow::Result<
    Option<(
        TcpListener,
        actix_tls::accept::rustls_0_23::reexports::ServerConfig,
    )>,
> {
    let tls = &state.settings.cps.tls;
    let (Some(cps), false) = (&state.cps, tls.listen.is_empty()) else {
        return Ok(None);
    };
    let config = crate::authn::cps::tls::server_config(tls, &cps.verifier)?;
    let listener = TcpListener::bind(&tls.listen)
        .with_context(|| format!("cannot listen on {} (cps.tls.listen)", tls.listen))?;
    tracing::info!(listen = %tls.listen, "card login TLS listener (client certificates requested)");
    Ok(Some((listener, config)))
}
