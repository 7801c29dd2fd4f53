//! `trousseau backup` and `trousseau restore`: the whole database in one file, taken while the
//! nodes run, and put back with every node stopped.
//!
//! SQLite: `VACUUM INTO` (a consistent copy made by SQLite itself, online), restored by replacing
//! the database file. PostgreSQL: `pg_dump --format=custom`, restored by `pg_restore --clean
//! --single-transaction` (the client tools of the server's major version must be installed).
//! The master key is never in the backup: it is kept apart, and a restore checks that the
//! configured one opens the restored signing keys.

use anyhow::{Context, bail};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::audit::AuditEvent;
use crate::cli::admin_state;
use crate::config::{Settings, sqlite_path};
use crate::storage::Db;

/// The database of `settings`: a SQLite file, or a PostgreSQL URL.
enum Target {
    Sqlite(PathBuf),
    Postgres(String),
}

fn target(settings: &Settings) -> Target {
    match sqlite_path(&settings.database.url) {
        Some(_) => Target::Sqlite(settings.sqlite_file().unwrap_or_default()),
        None => Target::Postgres(settings.database.url.clone()),
    }
}

/// A file written beside `path` then renamed onto it: a reader never sees half a file.
fn partial(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    path.with_file_name(name)
}

#[cfg(unix)]
fn owner_only(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("cannot restrict {}", path.display()))
}

#[cfg(not(unix))]
fn owner_only(_: &Path) -> anyhow::Result<()> {
    Ok(())
}

/// `trousseau backup --output FILE`.
pub async fn backup(settings: Settings, output: &Path) -> anyhow::Result<()> {
    if output.exists() {
        bail!(
            "{} exists: a backup never overwrites a file; name a new one",
            output.display()
        );
    }
    let tmp = partial(output);
    let _ = std::fs::remove_file(&tmp);
    let (state, writer) = admin_state(settings).await?;
    let made = match target(&state.settings) {
        Target::Sqlite(_) => vacuum_into(&state.db, &tmp).await,
        Target::Postgres(url) => pg_tool("pg_dump", &url, |c| {
            c.args(["--format=custom", "--no-owner", "--no-privileges", "--file"])
                .arg(&tmp);
        }),
    };
    let result = made
        .and_then(|()| owner_only(&tmp))
        .and_then(|()| {
            std::fs::rename(&tmp, output)
                .with_context(|| format!("cannot write {}", output.display()))
        })
        .map(|()| std::fs::metadata(output).map(|m| m.len()).unwrap_or(0));
    let event = match &result {
        Ok(bytes) => AuditEvent::success("backup_made")
            .details(json!({ "file": output.display().to_string(), "bytes": bytes })),
        Err(_) => AuditEvent::failure("backup_made", "backup_failed"),
    };
    state.audit.record(event.actor("cli")).await;
    writer.shutdown().await;
    let bytes = result.inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })?;
    println!(
        "{}",
        json!({
            "backup": output.display().to_string(),
            "backend": format!("{:?}", state.db.backend()).to_lowercase(),
            "bytes": bytes,
            "master_key": "not included: keep the master key with this backup, apart from it",
        })
    );
    Ok(())
}

async fn vacuum_into(db: &Db, file: &Path) -> anyhow::Result<()> {
    let path = file.to_str().context("the backup path is not UTF-8")?;
    sqlx::query("VACUUM INTO $1")
        .bind(path)
        .execute(db.pool())
        .await
        .context("SQLite could not write the backup")?;
    Ok(())
}

/// Runs a PostgreSQL client tool against `url`: the password goes through the environment,
/// never the command line (where other local users could read it).
fn pg_tool(tool: &str, url: &str, args: impl FnOnce(&mut Command)) -> anyhow::Result<()> {
    let mut parsed = url::Url::parse(url).context("database.url is not a URL")?;
    let password = parsed.password().map(|p| {
        percent_encoding::percent_decode_str(p)
            .decode_utf8_lossy()
            .into_owned()
    });
    let _ = parsed.set_password(None);
    let mut cmd = Command::new(tool);
    cmd.arg(format!("--dbname={parsed}"));
    if let Some(p) = password {
        cmd.env("PGPASSWORD", p);
    }
    args(&mut cmd);
    let out = match cmd.output() {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
            "{tool} is missing: install the PostgreSQL client tools of the server's major \
             version (Debian: postgresql-client)"
        ),
        Err(e) => return Err(e).with_context(|| format!("cannot run {tool}")),
    };
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let first = stderr.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        bail!("{tool} failed: {first}");
    }
    Ok(())
}

/// `trousseau restore --input FILE [--force]`: every node stopped first.
pub async fn restore(settings: Settings, input: &Path, force: bool) -> anyhow::Result<()> {
    if !input.is_file() {
        bail!("{} is not a backup file", input.display());
    }
    match target(&settings) {
        Target::Sqlite(file) => restore_sqlite(input, &file, force).await?,
        Target::Postgres(url) => {
            if !force && holds_tables(&settings).await? {
                bail!(
                    "the database {} is not empty: stop every node, then restore with --force \
                     to replace it",
                    crate::storage::redact(&url)
                );
            }
            pg_tool("pg_restore", &url, |c| {
                c.args([
                    "--clean",
                    "--if-exists",
                    "--no-owner",
                    "--no-privileges",
                    "--single-transaction",
                    "--exit-on-error",
                ])
                .arg(input);
            })?;
        }
    }
    // The restored database opened as a server would, with the configured master key: a key
    // that cannot open the signing keys is said now, not at the next start.
    let (state, writer) = admin_state(settings)
        .await
        .context("the backup was restored, but cannot be used with this configuration")?;
    state
        .audit
        .record(
            AuditEvent::success("backup_restored")
                .actor("cli")
                .details(json!({ "file": input.display().to_string() })),
        )
        .await;
    writer.shutdown().await;
    println!(
        "{}",
        json!({
            "restored": input.display().to_string(),
            "backend": format!("{:?}", state.db.backend()).to_lowercase(),
            "signing_keys": "opened with the configured master key",
        })
    );
    Ok(())
}

/// Whether the configured database exists and holds Trousseau's tables.
async fn holds_tables(settings: &Settings) -> anyhow::Result<bool> {
    match Db::open_existing(&settings.database).await {
        Ok(db) => Ok(db.is_initialised().await?),
        Err(e) if e.downcast_ref::<crate::storage::Missing>().is_some() => Ok(false),
        Err(e) => Err(e),
    }
}

async fn restore_sqlite(input: &Path, file: &Path, force: bool) -> anyhow::Result<()> {
    // The backup must be a Trousseau database SQLite finds whole (read as it is: no pragma
    // written to it).
    use sqlx::Connection;
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(input)
        .read_only(true);
    let not_sqlite = || format!("{} is not a SQLite database", input.display());
    let mut copy = sqlx::SqliteConnection::connect_with(&options)
        .await
        .with_context(not_sqlite)?;
    let check: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut copy)
        .await
        .with_context(not_sqlite)?;
    let tables: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'signing_keys'",
    )
    .fetch_one(&mut copy)
    .await
    .with_context(not_sqlite)?;
    let initialised = tables == 1;
    let _ = copy.close().await;
    if check != "ok" || !initialised {
        bail!(
            "{} is not a whole Trousseau backup (integrity check: {check})",
            input.display()
        );
    }
    if file.exists() && !force {
        bail!(
            "the database {} exists: stop every node, then restore with --force to replace it",
            file.display()
        );
    }
    if let Some(parent) = file.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let tmp = partial(file);
    std::fs::copy(input, &tmp).with_context(|| format!("cannot write {}", tmp.display()))?;
    owner_only(&tmp)?;
    // The old database's write-ahead log must not be replayed onto the restored file.
    for suffix in ["-wal", "-shm"] {
        let mut name = file.as_os_str().to_os_string();
        name.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(name));
    }
    std::fs::rename(&tmp, file).with_context(|| format!("cannot replace {}", file.display()))?;
    Ok(())
}
