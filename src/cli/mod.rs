//! The command line: `serve`, `migrate`, `demo`, and the administration commands. Errors go to
//! standard error in one sentence that says what to do; the exit status is then non-zero.

mod admin;
mod backup;
mod cps;
mod demo;
mod demo_psc;
mod hr;
mod ldap;
mod output;
mod psc;
mod reconcile;
mod rpps;
mod security_key;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use crate::app::{Application, open, open_existing};
use crate::audit::AuditWriter;
use crate::clock::SystemClock;
use crate::config::Settings;
use crate::state::AppState;

/// Trousseau, the hospital's OpenID Connect provider.
#[derive(Debug, Parser)]
#[command(name = "trousseau", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// Configuration file (TOML) layered over the built-in defaults; environment variables
    /// TROUSSEAU__SECTION__KEY override both.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server.
    Serve,
    /// Apply database migrations and prepare signing keys, then exit.
    Migrate,
    /// Start a throw-away demo: temporary SQLite database, a demo user and a demo application.
    Demo {
        /// Port to listen on (on 127.0.0.1).
        #[arg(long, default_value_t = 8080)]
        port: u16,
    },
    /// Manage OpenID Connect clients (relying parties).
    #[command(subcommand)]
    Client(admin::ClientCommand),
    /// Manage identities.
    #[command(subcommand)]
    User(admin::UserCommand),
    /// Manage signing keys.
    #[command(subcommand)]
    Keys(admin::KeysCommand),
    /// People's FIDO2 security keys: list, revoke, review flagged keys.
    #[command(subcommand)]
    SecurityKey(security_key::SecurityKeyCommand),
    /// e-CPS pairings with national identities: list, show, revoke.
    #[command(subcommand)]
    Pairing(admin::PairingCommand),
    /// Read the audit trail.
    #[command(subcommand)]
    Audit(admin::AuditCommand),
    /// Import the HR export; list HR runs.
    #[command(subcommand)]
    Hr(hr::HrCommand),
    /// The national RPPS index: import the extraction, search it, list import runs.
    #[command(subcommand)]
    Rpps(rpps::RppsCommand),
    /// The hospital's directory (AD/LDAP): check the configuration, synchronise, list runs.
    #[command(subcommand)]
    Ldap(ldap::LdapCommand),
    /// CPS smartcards: check a certificate, list, block and unblock cards, bind structure
    /// cards, pre-register an expected IdNat.
    #[command(subcommand)]
    Cps(cps::CpsCommand),
    /// Pro Santé Connect: check the configuration against PSC.
    #[command(subcommand)]
    Psc(psc::PscCommand),
    /// Copy the whole database into one file, while the nodes run (SQLite: VACUUM INTO;
    /// PostgreSQL: pg_dump). The master key is not in it: keep it apart.
    Backup {
        /// The backup file to write (never overwritten).
        #[arg(long, value_name = "FILE")]
        output: PathBuf,
    },
    /// Put a backup back, every node stopped; checks that the configured master key opens
    /// the restored signing keys.
    Restore {
        /// A file written by `trousseau backup`.
        #[arg(long, value_name = "FILE")]
        input: PathBuf,
        /// Replace a database that holds data.
        #[arg(long)]
        force: bool,
    },
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    // `cps check` answers 0 (accepted), 1 (refused) or 2 (the check itself failed).
    let check = matches!(cli.command, Command::Cps(cps::CpsCommand::Check { .. }));
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", sentence(&e));
            if check {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// The error and its causes as one sentence.
fn sentence(e: &anyhow::Error) -> String {
    let parts: Vec<String> = e.chain().map(|c| c.to_string()).collect();
    parts.join(": ")
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    if let Command::Demo { port } = cli.command {
        demo::run(port).await?;
        return Ok(ExitCode::SUCCESS);
    }
    let settings = Settings::load(cli.config.as_deref())?;
    if let Command::Cps(cps::CpsCommand::Check { file, at }) = &cli.command {
        return cps::check(&settings, file, *at).await;
    }
    if let Command::Psc(c) = cli.command {
        return psc::run(&settings, c).await;
    }
    command(cli.command, settings).await?;
    Ok(ExitCode::SUCCESS)
}

async fn command(command: Command, settings: Settings) -> anyhow::Result<()> {
    match command {
        Command::Serve => serve(settings).await,
        Command::Migrate => {
            // `migrate` migrates whatever `database.migrate` says (that setting is for `serve`).
            let mut settings = settings;
            settings.database.migrate = true;
            let (db, master) = open(&settings).await?;
            let (state, writer) =
                AppState::new(settings, db, master, Arc::new(SystemClock)).await?;
            println!(
                "database migrated; signing keys ready ({:?})",
                state.db.backend()
            );
            writer.shutdown().await;
            Ok(())
        }
        Command::Client(c) => {
            with_state(settings, |s| {
                Box::pin(async move { admin::client(&s, c).await })
            })
            .await
        }
        Command::User(c) => {
            with_state(settings, |s| {
                Box::pin(async move { admin::user(&s, c).await })
            })
            .await
        }
        Command::Keys(c) => {
            with_state(settings, |s| {
                Box::pin(async move { admin::keys(&s, c).await })
            })
            .await
        }
        Command::SecurityKey(c) => {
            with_state(settings, |s| {
                Box::pin(async move { security_key::run(&s, c).await })
            })
            .await
        }
        Command::Pairing(c) => {
            with_state(settings, |s| {
                Box::pin(async move { admin::pairing(&s, c).await })
            })
            .await
        }
        Command::Audit(c) => {
            with_state(settings, |s| {
                Box::pin(async move { admin::audit(&s, c).await })
            })
            .await
        }
        Command::Hr(c) => {
            with_state(settings, |s| Box::pin(async move { hr::run(&s, c).await })).await
        }
        Command::Rpps(c) => {
            with_state(settings, |s| {
                Box::pin(async move { rpps::run(&s, c).await })
            })
            .await
        }
        Command::Ldap(c) => {
            with_state(settings, |s| {
                Box::pin(async move { ldap::run(&s, c).await })
            })
            .await
        }
        Command::Cps(c) => {
            with_state(settings, |s| Box::pin(async move { cps::run(&s, c).await })).await
        }
        Command::Backup { output } => backup::backup(settings, &output).await,
        Command::Restore { input, force } => backup::restore(settings, &input, force).await,
        Command::Demo { .. } | Command::Psc(_) => Ok(()),
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    crate::telemetry::init(&settings.logging);
    let started = std::time::Instant::now();
    let bind = settings.http.bind.clone();
    let issuer = settings.issuer();
    let app = Application::build(settings, Arc::new(SystemClock), None).await?;
    tracing::info!(%bind, %issuer, ready_ms = started.elapsed().as_millis() as u64, "Trousseau is ready");
    app.run_until_stopped().await
}

/// The state of an administration command: an existing database and master key, never new
/// ones.
async fn admin_state(settings: Settings) -> anyhow::Result<(Arc<AppState>, AuditWriter)> {
    let (db, master) = open_existing(&settings).await?;
    let (state, writer) = AppState::new(settings, db, master, Arc::new(SystemClock)).await?;
    Ok((Arc::new(state), writer))
}

type BoxFut = std::pin::Pin<Box<dyn std::future::Future<Output = anyhow::Result<()>>>>;

async fn with_state(
    settings: Settings,
    f: impl FnOnce(Arc<AppState>) -> BoxFut,
) -> anyhow::Result<()> {
    let (state, writer) = admin_state(settings).await?;
    let result = f(state).await;
    writer.shutdown().await;
    result
}
