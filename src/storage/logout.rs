//! The back-channel logout delivery queue, claimed row by row so any node can deliver.

use sqlx::{AnyPool, FromRow};

use super::Tx;

#[derive(Debug, Clone, FromRow)]
pub struct DeliveryRecord {
    pub id: String,
    pub client_id: String,
    pub uri: String,
    pub logout_token: String,
    pub attempts: i64,
}

pub async fn enqueue(
    tx: &mut Tx,
    id: &str,
    client_id: &str,
    uri: &str,
    token: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO logout_deliveries (id, client_id, uri, logout_token, attempts, next_attempt_at, \
         created_at) VALUES ($1, $2, $3, $4, 0, $5, $5)",
    )
    .bind(id)
    .bind(client_id)
    .bind(uri)
    .bind(token)
    .bind(now)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

/// Claims up to `limit` due deliveries for `lease_secs`.
pub async fn claim_due(
    pool: &AnyPool,
    now: i64,
    lease_secs: i64,
    limit: i64,
) -> Result<Vec<DeliveryRecord>, sqlx::Error> {
    let due: Vec<(String,)> = sqlx::query_as(
        "SELECT id FROM logout_deliveries WHERE done_at IS NULL AND failed_at IS NULL \
         AND next_attempt_at <= $1 AND (locked_until IS NULL OR locked_until < $1) \
         ORDER BY next_attempt_at LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    let mut claimed = Vec::new();
    for (id,) in due {
        let row: Option<DeliveryRecord> = sqlx::query_as(
            "UPDATE logout_deliveries SET locked_until = $1 WHERE id = $2 \
             AND (locked_until IS NULL OR locked_until < $3) AND done_at IS NULL \
             RETURNING id, client_id, uri, logout_token, attempts",
        )
        .bind(now + lease_secs)
        .bind(&id)
        .bind(now)
        .fetch_optional(pool)
        .await?;
        claimed.extend(row);
    }
    Ok(claimed)
}

pub async fn mark_done(pool: &AnyPool, id: &str, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE logout_deliveries SET done_at = $1, attempts = attempts + 1, locked_until = NULL WHERE id = $2")
        .bind(now)
        .bind(id)
        .execute(pool)
        .await
        .map(|_| ())
}

pub async fn mark_retry(
    pool: &AnyPool,
    id: &str,
    next_at: i64,
    error: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE logout_deliveries SET attempts = attempts + 1, next_attempt_at = $1, last_error = $2, \
         locked_until = NULL WHERE id = $3",
    )
    .bind(next_at)
    .bind(error)
    .bind(id)
    .execute(pool)
    .await
    .map(|_| ())
}

pub async fn mark_failed(
    pool: &AnyPool,
    id: &str,
    now: i64,
    error: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE logout_deliveries SET attempts = attempts + 1, failed_at = $1, last_error = $2, \
         locked_until = NULL WHERE id = $3",
    )
    .bind(now)
    .bind(error)
    .bind(id)
    .execute(pool)
    .await
    .map(|_| ())
}

/// (pending, done, failed) counts, for tests and the admin view.
pub async fn counts(pool: &AnyPool) -> Result<(i64, i64, i64), sqlx::Error> {
    sqlx::query_as(
        "SELECT COALESCE(SUM(CASE WHEN done_at IS NULL AND failed_at IS NULL THEN 1 ELSE 0 END), 0), \
         COALESCE(SUM(CASE WHEN done_at IS NOT NULL THEN 1 ELSE 0 END), 0), \
         COALESCE(SUM(CASE WHEN failed_at IS NOT NULL THEN 1 ELSE 0 END), 0) FROM logout_deliveries",
    )
    .fetch_one(pool)
    .await
}
