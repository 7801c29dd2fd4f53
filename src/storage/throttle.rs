//! Failure counters behind login throttling, shared by every node.

use sqlx::{AnyPool, FromRow};

#[derive(Debug, Clone, FromRow)]
pub struct ThrottleRecord {
    pub key: String,
    pub failures: i64,
    pub window_start: i64,
    pub locks: i64,
    pub locked_until: Option<i64>,
}

pub async fn get(pool: &AnyPool, key: &str) -> Result<Option<ThrottleRecord>, sqlx::Error> {
    sqlx::query_as("SELECT key, failures, window_start, locks, locked_until FROM login_throttle WHERE key = $1")
        .bind(key)
        .fetch_optional(pool)
        .await
}

/// The records of two keys in one query (an address and an account at each login).
pub async fn get_pair(
    pool: &AnyPool,
    a: &str,
    b: &str,
) -> Result<Vec<ThrottleRecord>, sqlx::Error> {
    sqlx::query_as(
        "SELECT key, failures, window_start, locks, locked_until FROM login_throttle \
         WHERE key IN ($1, $2)",
    )
    .bind(a)
    .bind(b)
    .fetch_all(pool)
    .await
}

/// Clears the consecutive failures of a key, when it has any (one statement).
pub async fn reset_failures(pool: &AnyPool, key: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE login_throttle SET failures = 0 WHERE key = $1 AND failures > 0")
        .bind(key)
        .execute(pool)
        .await
        .map(|_| ())
}

/// [`reset_failures`] inside a transaction.
/// Takes the account's current run of failures off the address's count: they were typos of a
/// person who then proved who they are, not guesses.
pub async fn forgive<'e, E>(
    pool: E,
    address_key: &str,
    account_key: &str,
) -> Result<(), sqlx::Error>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    sqlx::query(
        "UPDATE login_throttle SET failures = CASE \
         WHEN failures > (SELECT a.failures FROM login_throttle a WHERE a.key = $2) \
         THEN failures - (SELECT a.failures FROM login_throttle a WHERE a.key = $2) ELSE 0 END \
         WHERE key = $1 AND failures > 0 \
         AND EXISTS (SELECT 1 FROM login_throttle a WHERE a.key = $2 AND a.failures > 0)",
    )
    .bind(address_key)
    .bind(account_key)
    .execute(pool)
    .await
    .map(|_| ())
}

pub async fn reset_failures_in(tx: &mut super::Tx, key: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE login_throttle SET failures = 0 WHERE key = $1 AND failures > 0")
        .bind(key)
        .execute(&mut **tx)
        .await
        .map(|_| ())
}

pub async fn put(pool: &AnyPool, r: &ThrottleRecord) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO login_throttle (key, failures, window_start, locks, locked_until) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (key) DO UPDATE SET failures = $2, \
         window_start = $3, locks = $4, locked_until = $5",
    )
    .bind(&r.key)
    .bind(r.failures)
    .bind(r.window_start)
    .bind(r.locks)
    .bind(r.locked_until)
    .execute(pool)
    .await
    .map(|_| ())
}

pub async fn clear(pool: &AnyPool, key: &str) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM login_throttle WHERE key = $1")
        .bind(key)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() > 0)
}
