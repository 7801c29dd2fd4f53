//! Identities and their local password credentials.

use sqlx::{AnyPool, FromRow};

use super::Tx;
use crate::identity::Status;

#[derive(Debug, Clone, FromRow, serde::Serialize)]
pub struct IdentityRecord {
    pub id: String,
    pub username: String,
    pub given_name: String,
    pub family_name: String,
    pub email: Option<String>,
    #[sqlx(try_from = "String")]
    pub status: Status,
    pub status_reason: Option<String>,
    pub status_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    pub employee_number: Option<String>,
    pub department: Option<String>,
    /// HR dates as ISO `YYYY-MM-DD`.
    pub hr_arrival: Option<String>,
    pub hr_departure: Option<String>,
    pub birth_date: Option<String>,
}

pub(super) const COLUMNS: &str = "SELECT id, username, given_name, family_name, email, status, status_reason, \
     status_at, created_at, updated_at, employee_number, department, hr_arrival, hr_departure, \
     birth_date FROM identities";

pub async fn insert(tx: &mut Tx, r: &IdentityRecord) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO identities (id, username, given_name, family_name, email, status, \
         status_reason, status_at, created_at, updated_at, employee_number, department, \
         hr_arrival, hr_departure, birth_date) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
    )
    .bind(&r.id)
    .bind(&r.username)
    .bind(&r.given_name)
    .bind(&r.family_name)
    .bind(&r.email)
    .bind(r.status.as_str())
    .bind(&r.status_reason)
    .bind(r.status_at)
    .bind(r.created_at)
    .bind(r.updated_at)
    .bind(&r.employee_number)
    .bind(&r.department)
    .bind(&r.hr_arrival)
    .bind(&r.hr_departure)
    .bind(&r.birth_date)
    .execute(&mut **tx)
    .await?;
    super::search::index(tx, r).await
}

pub async fn by_username(
    pool: &AnyPool,
    username: &str,
) -> Result<Option<IdentityRecord>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{COLUMNS} WHERE username = $1"
    )))
    .bind(username)
    .fetch_optional(pool)
    .await
}

/// An identity with its active local password hash, in one query (the login's lookup).
pub async fn with_password(
    pool: &AnyPool,
    username: &str,
) -> Result<Option<(IdentityRecord, Option<String>)>, sqlx::Error> {
    #[derive(FromRow)]
    struct Row {
        #[sqlx(flatten)]
        identity: IdentityRecord,
        secret: Option<String>,
    }
    let row: Option<Row> = sqlx::query_as(
        "SELECT i.id, i.username, i.given_name, i.family_name, i.email, i.status, \
         i.status_reason, i.status_at, i.created_at, i.updated_at, i.employee_number, \
         i.department, i.hr_arrival, i.hr_departure, i.birth_date, c.secret FROM identities i \
         LEFT JOIN credentials c ON c.identity_id = i.id AND c.kind = 'password' \
         AND c.disabled = 0 WHERE i.username = $1",
    )
    .bind(username)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| (r.identity, r.secret)))
}

pub async fn by_id(pool: &AnyPool, id: &str) -> Result<Option<IdentityRecord>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("{COLUMNS} WHERE id = $1")))
        .bind(id)
        .fetch_optional(pool)
        .await
}

pub async fn by_employee_number(
    pool: &AnyPool,
    number: &str,
) -> Result<Option<IdentityRecord>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{COLUMNS} WHERE employee_number = $1"
    )))
    .bind(number)
    .fetch_optional(pool)
    .await
}

/// Usernames starting with `prefix` (to derive a free one).
pub async fn usernames_like(pool: &AnyPool, prefix: &str) -> Result<Vec<String>, sqlx::Error> {
    let rows: Vec<(String,)> =
        sqlx::query_as("SELECT username FROM identities WHERE username LIKE $1")
            .bind(format!("{prefix}%"))
            .fetch_all(pool)
            .await?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

/// Replaces the names, email and HR data of an identity.
pub async fn update_hr(tx: &mut Tx, r: &IdentityRecord) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE identities SET given_name = $1, family_name = $2, email = $3, \
         employee_number = $4, department = $5, hr_arrival = $6, hr_departure = $7, \
         birth_date = $8, updated_at = $9 WHERE id = $10",
    )
    .bind(&r.given_name)
    .bind(&r.family_name)
    .bind(&r.email)
    .bind(&r.employee_number)
    .bind(&r.department)
    .bind(&r.hr_arrival)
    .bind(&r.hr_departure)
    .bind(&r.birth_date)
    .bind(r.updated_at)
    .bind(&r.id)
    .execute(&mut **tx)
    .await?;
    super::search::index(tx, r).await
}

pub async fn list(pool: &AnyPool) -> Result<Vec<IdentityRecord>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("{COLUMNS} ORDER BY username")))
        .fetch_all(pool)
        .await
}

pub async fn set_status(
    tx: &mut Tx,
    id: &str,
    status: Status,
    reason: Option<&str>,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE identities SET status = $1, status_reason = $2, status_at = $3, updated_at = $3 \
         WHERE id = $4",
    )
    .bind(status.as_str())
    .bind(reason)
    .bind(now)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Replaces the local password of an identity.
pub async fn set_password(
    tx: &mut Tx,
    identity_id: &str,
    hash: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM credentials WHERE identity_id = $1 AND kind = 'password'")
        .bind(identity_id)
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "INSERT INTO credentials (id, identity_id, kind, secret, created_at) \
         VALUES ($1, $2, 'password', $3, $4)",
    )
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(identity_id)
    .bind(hash)
    .bind(now)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

/// Records the use of the local password inside the login's transaction.
pub async fn touch_password_in(
    tx: &mut Tx,
    identity_id: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE credentials SET last_used_at = $1 WHERE identity_id = $2 AND kind = 'password'",
    )
    .bind(now)
    .bind(identity_id)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

/// The FINESS of the establishment an identity works for (HR import or directory), if known.
pub async fn establishment_of(pool: &AnyPool, id: &str) -> Result<Option<String>, sqlx::Error> {
    let row: Option<(Option<String>,)> =
        sqlx::query_as("SELECT establishment_finess FROM identities WHERE id = $1")
            .bind(id)
            .fetch_optional(pool)
            .await?;
    Ok(row.and_then(|(f,)| f))
}

/// Records the establishment an identity works for; `None` forgets it.
pub async fn set_establishment(
    tx: &mut Tx,
    id: &str,
    finess: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE identities SET establishment_finess = $2 WHERE id = $1")
        .bind(id)
        .bind(finess)
        .execute(&mut **tx)
        .await
        .map(|_| ())
}
