//! HR import runs.

use sqlx::{AnyPool, FromRow};

use super::Tx;

#[derive(Debug, Clone, Default, FromRow, serde::Serialize)]
pub struct HrRunRecord {
    pub id: String,
    pub source: String,
    pub started_at: i64,
    pub finished_at: i64,
    pub lines: i64,
    pub created: i64,
    pub updated: i64,
    pub unchanged: i64,
    pub departed: i64,
    pub rejected: i64,
}

pub async fn insert_run(tx: &mut Tx, r: &HrRunRecord) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO hr_runs (id, source, started_at, finished_at, lines, created, updated, \
         unchanged, departed, rejected) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&r.id)
    .bind(&r.source)
    .bind(r.started_at)
    .bind(r.finished_at)
    .bind(r.lines)
    .bind(r.created)
    .bind(r.updated)
    .bind(r.unchanged)
    .bind(r.departed)
    .bind(r.rejected)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

pub async fn runs(pool: &AnyPool, limit: i64) -> Result<Vec<HrRunRecord>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, source, started_at, finished_at, lines, created, updated, unchanged, \
         departed, rejected FROM hr_runs ORDER BY started_at DESC, id DESC LIMIT $1",
    )
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Active identities whose departure date (ISO) is on or before `today`.
pub async fn departed_but_active(
    pool: &AnyPool,
    today: &str,
) -> Result<Vec<(String, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, hr_departure FROM identities WHERE status <> 'left' \
         AND hr_departure IS NOT NULL AND hr_departure <= $1",
    )
    .bind(today)
    .fetch_all(pool)
    .await
}

/// Pending identities whose arrival date (ISO) is on or before `today`, or no longer set.
pub async fn arrived_but_pending(
    pool: &AnyPool,
    today: &str,
) -> Result<Vec<(String, Option<String>)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, hr_arrival FROM identities WHERE status = 'pending' \
         AND (hr_arrival IS NULL OR hr_arrival <= $1)",
    )
    .bind(today)
    .fetch_all(pool)
    .await
}

/// Makes a pending identity active; false when it is no longer pending (an administrator
/// changed it meanwhile).
pub async fn activate_pending(tx: &mut Tx, id: &str, now: i64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE identities SET status = 'active', status_reason = NULL, status_at = $1, \
         updated_at = $1 WHERE id = $2 AND status = 'pending'",
    )
    .bind(now)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}
