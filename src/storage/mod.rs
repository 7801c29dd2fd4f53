//! The only place with SQL: one query set for SQLite and PostgreSQL through sqlx `Any`
//! (portable schema: TEXT ids, BIGINT unix seconds, 0/1 integers, JSON as TEXT).

pub mod assertions;
pub mod audit;
pub mod audit_chain;
pub mod cards;
pub mod clients;
pub mod codes;
pub mod consents;
pub mod console;
pub mod directory;
pub mod findings;
pub mod flows;
pub mod hr;
pub mod identities;
pub mod keys;
pub mod leases;
pub mod links;
pub mod logout;
pub mod metrics;
pub mod pairings;
pub mod par;
pub mod psc;
pub mod purge;
pub mod refresh;
pub mod revoked_tokens;
pub mod roles;
pub mod rpps;
mod rpps_row;
pub mod rpps_scope;
pub mod search;
pub mod security_keys;
pub mod sessions;
pub mod throttle;

use anyhow::Context;
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{Any, AnyPool, Executor};
use std::sync::Arc;
use std::time::Duration;

use crate::config::DatabaseSettings;

/// A transaction on the shared pool.
pub type Tx = sqlx::Transaction<'static, Any>;

/// Runs a revocation `UPDATE` binding `$1` the time, `$2` who revoked, `$3` why and `$4` the
/// row's id, its `WHERE` matching only a row not revoked yet; whether it revoked the row.
pub(crate) async fn revoke_once(
    tx: &mut Tx,
    update: &'static str,
    id: &str,
    by: &str,
    reason: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(update)
        .bind(now)
        .bind(by)
        .bind(reason)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Which engine the pool talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The database handle shared by every part of Trousseau.
#[derive(Clone, Debug)]
pub struct Db {
    pool: AnyPool,
    /// The connection URL of a SQLite database (bulk writers open their own connection).
    sqlite_url: Option<Arc<str>>,
    backend: Backend,
}

impl Db {
    /// Connects (creating the SQLite file and its folders when needed): `serve`, `migrate`,
    /// `demo`.
    pub async fn connect(settings: &DatabaseSettings) -> anyhow::Result<Db> {
        Self::connect_with(settings, true).await
    }

    /// Connects to an existing database only (administration commands): a SQLite file that
    /// does not exist is an error ([`Missing`]), never created.
    pub async fn open_existing(settings: &DatabaseSettings) -> anyhow::Result<Db> {
        Self::connect_with(settings, false).await
    }

    async fn connect_with(settings: &DatabaseSettings, create: bool) -> anyhow::Result<Db> {
        install_default_drivers();
        let (url, backend) = if let Some(rest) = settings.url.strip_prefix("sqlite:") {
            let path = rest.trim_start_matches("//");
            let (path, query) = path.split_once('?').unwrap_or((path, ""));
            if path.is_empty() || path == ":memory:" {
                anyhow::bail!(
                    "database.url: an in-memory SQLite database cannot be shared; give a file path"
                );
            }
            if !create && !std::path::Path::new(path).is_file() {
                return Err(Missing(std::path::PathBuf::from(path)).into());
            }
            if let Some(parent) = std::path::Path::new(path).parent()
                && create
                && !parent.as_os_str().is_empty()
            {
                std::fs::create_dir_all(parent).with_context(|| {
                    format!("cannot create the database folder {}", parent.display())
                })?;
            }
            let query = if query.is_empty() {
                if create { "mode=rwc" } else { "mode=rw" }.to_owned()
            } else {
                query.to_owned()
            };
            (format!("sqlite://{path}?{query}"), Backend::Sqlite)
        } else {
            (settings.url.clone(), Backend::Postgres)
        };
        let mut options = AnyPoolOptions::new()
            .max_connections(settings.max_connections)
            .acquire_timeout(Duration::from_secs(10));
        if backend == Backend::Sqlite {
            options = options.after_connect(|conn, _meta| {
                Box::pin(async move {
                    // 8 KiB pages (for a new database; an existing one keeps its size): a
                    // national RPPS import writes 11 % faster than with 4 KiB.
                    conn.execute(
                        "PRAGMA page_size=8192; PRAGMA journal_mode=WAL; PRAGMA busy_timeout=10000; \
                         PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
                    )
                    .await?;
                    Ok(())
                })
            });
        }
        let pool = options
            .connect(&url)
            .await
            .with_context(|| format!("cannot connect to the database ({})", redact(&url)))?;
        let sqlite_url = (backend == Backend::Sqlite).then(|| Arc::from(url.as_str()));
        Ok(Db {
            pool,
            backend,
            sqlite_url,
        })
    }

    /// Applies the migrations of this backend.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        match self.backend {
            Backend::Sqlite => sqlx::migrate!("./migrations/sqlite").run(&self.pool).await,
            Backend::Postgres => {
                sqlx::migrate!("./migrations/postgres")
                    .run(&self.pool)
                    .await
            }
        }
        .context("cannot apply the database migrations")?;
        // Identities written before the console's search existed get their search terms.
        search::backfill(&self.pool)
            .await
            .context("cannot index the identities for the search")?;
        Ok(())
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A SQLite connection of its own, through the typed driver rather than `Any` (which
    /// converts every bound value once more), with the pool's settings. `None` on PostgreSQL.
    pub async fn sqlite_connection(&self) -> Option<Result<sqlx::SqliteConnection, sqlx::Error>> {
        use sqlx::ConnectOptions;
        use std::str::FromStr;
        let url = self.sqlite_url.as_deref()?;
        let connect = async {
            sqlx::sqlite::SqliteConnectOptions::from_str(url)?
                .busy_timeout(Duration::from_secs(10))
                .synchronous(sqlx::sqlite::SqliteSynchronous::Normal)
                .foreign_keys(true)
                .connect()
                .await
        };
        Some(connect.await)
    }

    /// A transaction. On SQLite it takes the write lock at once (`BEGIN IMMEDIATE`, waiting up
    /// to the busy timeout): a deferred transaction that read first and writes second fails at
    /// once with "database is locked" when another process (the CLI, another node's writer)
    /// committed in between.
    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.pool.begin().await,
        }
    }

    /// Whether the database holds Trousseau's tables (it was migrated at least once).
    pub async fn is_initialised(&self) -> Result<bool, sqlx::Error> {
        let sql = match self.backend {
            Backend::Sqlite => {
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'signing_keys'"
            }
            Backend::Postgres => {
                "SELECT COUNT(*) FROM information_schema.tables \
                 WHERE table_schema = current_schema() AND table_name = 'signing_keys'"
            }
        };
        let (n,): (i64,) = sqlx::query_as(sql).fetch_one(&self.pool).await?;
        Ok(n > 0)
    }

    /// Cheap liveness probe for `/readyz`.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
    }
}

/// The SQLite file an administration command was given does not exist.
#[derive(Debug, thiserror::Error)]
#[error("there is no database file {}", .0.display())]
pub struct Missing(pub std::path::PathBuf);

/// Hides the password of a database URL.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}

/// `count` placeholders numbered from `from`. SQLite gets anonymous `?`: it looks numbered
/// parameters up by a linear scan, which makes a statement with thousands of `$n`
/// quadratic (measured: 80 % of an import spent in `sqlite3_bind_parameter_name`).
pub(crate) fn placeholders(backend: Backend, from: usize, count: usize) -> String {
    (from..from + count)
        .map(|i| match backend {
            Backend::Sqlite => "?".to_owned(),
            Backend::Postgres => format!("${i}"),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Builds `INSERT INTO table (cols) VALUES (..),(..)` for `rows` rows.
pub(crate) fn insert_sql(
    backend: Backend,
    table: &str,
    columns: &str,
    width: usize,
    rows: usize,
) -> Arc<str> {
    let values: Vec<String> = (0..rows)
        .map(|r| format!("({})", placeholders(backend, 1 + r * width, width)))
        .collect();
    format!(
        "INSERT INTO {table} ({columns}) VALUES {}",
        values.join(",")
    )
    .into()
}

/// Whether an error is a unique-constraint violation.
pub fn is_unique_violation(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .is_some_and(|d| d.is_unique_violation())
}

/// JSON list column helpers.
pub fn to_json_list(items: &[String]) -> String {
    let mut out = String::with_capacity(2 + items.iter().map(|s| s.len() + 3).sum::<usize>());
    out.push('[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        if item.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) {
            out.push_str(&serde_json::to_string(item).unwrap_or_else(|_| "\"\"".to_owned()));
        } else {
            out.push('"');
            out.push_str(item);
            out.push('"');
        }
    }
    out.push(']');
    out
}

pub fn from_json_list(text: &str) -> Vec<String> {
    serde_json::from_str(text).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn json_lists_match_serde(items in proptest::collection::vec("\\PC{0,12}|[\"\\\\\u{1}a]{0,4}", 0..5)) {
            let ours = to_json_list(&items);
            prop_assert_eq!(&ours, &serde_json::to_string(&items).unwrap());
            prop_assert_eq!(from_json_list(&ours), items);
        }
    }
}
