//! The Pro Santé Connect sandbox (docs/psc-sandbox.md): an OpenID Connect provider that
//! behaves like PSC's public sandbox, for tests and demonstrations.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use trousseau::sandbox::psc::{SandboxSettings, run};

#[derive(Debug, Parser)]
#[command(
    name = "trousseau-psc-sandbox",
    about = "A Pro Santé Connect sandbox: CIBA, e-CPS phone page, PSC-style tokens"
)]
struct Args {
    /// The sandbox's TOML configuration.
    #[arg(long)]
    config: PathBuf,
    /// The plain HTTP listener (port 0 picks a free port; the address is printed).
    #[arg(long, default_value = "127.0.0.1:8090")]
    bind: String,
    /// Allow listening on an address other than loopback.
    #[arg(long)]
    public: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let settings = match SandboxSettings::load(&args.config) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("trousseau-psc-sandbox: {e:#}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("trousseau-psc-sandbox: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(settings, &args.bind, args.public));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("trousseau-psc-sandbox: {e:#}");
            ExitCode::FAILURE
        }
    }
}
