//! Job leases: one node at a time runs a sync job, whatever the number of nodes.

use sqlx::AnyPool;

/// Takes or renews the lease `name` for `holder` until `now + ttl`. True when this holder has
/// it: the row is free, expired, or already ours. One statement, so two nodes cannot both win.
pub async fn acquire(
    pool: &AnyPool,
    name: &str,
    holder: &str,
    now: i64,
    ttl: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO job_leases (name, holder, expires_at) VALUES ($1, $2, $3) \
         ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
         WHERE job_leases.expires_at <= $4 OR job_leases.holder = excluded.holder",
    )
    .bind(name)
    .bind(holder)
    .bind(now + ttl)
    .bind(now)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Gives the lease back (only when held by `holder`).
pub async fn release(pool: &AnyPool, name: &str, holder: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM job_leases WHERE name = $1 AND holder = $2")
        .bind(name)
        .bind(holder)
        .execute(pool)
        .await
        .map(|_| ())
}

/// What a job saw last time (a file fingerprint), to skip unchanged sources.
pub async fn fingerprint(pool: &AnyPool, name: &str) -> Result<Option<String>, sqlx::Error> {
    let row: Option<(Option<String>,)> =
        sqlx::query_as("SELECT fingerprint FROM job_state WHERE name = $1")
            .bind(name)
            .fetch_optional(pool)
            .await?;
    Ok(row.and_then(|r| r.0))
}

pub async fn set_fingerprint(
    pool: &AnyPool,
    name: &str,
    fingerprint: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO job_state (name, fingerprint, last_run_at) VALUES ($1, $2, $3) \
         ON CONFLICT (name) DO UPDATE SET fingerprint = excluded.fingerprint, \
         last_run_at = excluded.last_run_at",
    )
    .bind(name)
    .bind(fingerprint)
    .bind(now)
    .execute(pool)
    .await
    .map(|_| ())
}

/// Who holds the lease `name` at `now`, if anyone.
pub async fn holder(pool: &AnyPool, name: &str, now: i64) -> Result<Option<String>, sqlx::Error> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT holder FROM job_leases WHERE name = $1 AND expires_at > $2")
            .bind(name)
            .bind(now)
            .fetch_optional(pool)
            .await?;
    Ok(row.map(|r| r.0))
}
