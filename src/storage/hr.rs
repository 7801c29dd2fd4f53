//! HR import runs.

use sqlx::{AnyPool, FromRow};

use super::Tx;

#[derive(Debug, Clone, Default, FromRow, serde::Serialize)]
pub struct HrRunRecord {
    pub id: String,
    pub source: String,
    pub started_at: i64,
    /// 0 while the run goes on.
    pub finished_at: i64,
    pub lines: i64,
    pub created: i64,
    pub updated: i64,
    pub unchanged: i64,
    pub departed: i64,
    pub rejected: i64,
    /// `running`, `succeeded` or `failed`.
    pub status: String,
    pub error: Option<String>,
}

const COLUMNS: &str = "id, source, started_at, finished_at, lines, created, updated, unchanged, \
     departed, rejected, status, error";

/// Records a run as it starts, so that its progress can be followed.
pub async fn insert_run(pool: &AnyPool, r: &HrRunRecord) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO hr_runs (id, source, started_at, finished_at, lines, created, updated, \
         unchanged, departed, rejected, status, error) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
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
    .bind(&r.status)
    .bind(&r.error)
    .execute(pool)
    .await
    .map(|_| ())
}

/// Writes a run's counters, its status and its end (the progress of a running run, or its
/// outcome inside the transaction that audits it).
pub async fn update_run<'e, E>(executor: E, r: &HrRunRecord) -> Result<(), sqlx::Error>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    sqlx::query(
        "UPDATE hr_runs SET finished_at = $1, lines = $2, created = $3, updated = $4, \
         unchanged = $5, departed = $6, rejected = $7, status = $8, error = $9 WHERE id = $10",
    )
    .bind(r.finished_at)
    .bind(r.lines)
    .bind(r.created)
    .bind(r.updated)
    .bind(r.unchanged)
    .bind(r.departed)
    .bind(r.rejected)
    .bind(&r.status)
    .bind(&r.error)
    .bind(&r.id)
    .execute(executor)
    .await
    .map(|_| ())
}

/// Closes the runs left `running` by a process that stopped mid-run.
pub async fn abandon_running(pool: &AnyPool, now: i64) -> Result<u64, sqlx::Error> {
    sqlx::query(
        "UPDATE hr_runs SET status = 'abandoned', finished_at = $1 WHERE status = 'running'",
    )
    .bind(now)
    .execute(pool)
    .await
    .map(|d| d.rows_affected())
}

pub async fn runs(pool: &AnyPool, limit: i64) -> Result<Vec<HrRunRecord>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM hr_runs ORDER BY started_at DESC, id DESC LIMIT $1"
    )))
    .bind(limit)
    .fetch_all(pool)
    .await
}

pub async fn run(pool: &AnyPool, id: &str) -> Result<Option<HrRunRecord>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM hr_runs WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(pool)
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
