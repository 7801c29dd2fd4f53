//! RPPS links: at most one IdNat per identity and one identity per IdNat.

use sqlx::{AnyPool, FromRow};

use super::Tx;

#[derive(Debug, Clone, FromRow, serde::Serialize)]
pub struct LinkRecord {
    pub identity_id: String,
    pub idnat: String,
    pub method: String,
    pub linked_at: i64,
    pub linked_by: String,
}

const COLUMNS: &str = "SELECT identity_id, idnat, method, linked_at, linked_by FROM rpps_links";

pub async fn insert(tx: &mut Tx, r: &LinkRecord) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO rpps_links (identity_id, idnat, method, linked_at, linked_by) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&r.identity_id)
    .bind(&r.idnat)
    .bind(&r.method)
    .bind(r.linked_at)
    .bind(&r.linked_by)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

/// Removes the link of an identity; the removed link, if there was one.
pub async fn delete(tx: &mut Tx, identity_id: &str) -> Result<Option<LinkRecord>, sqlx::Error> {
    let old: Option<LinkRecord> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{COLUMNS} WHERE identity_id = $1"
    )))
    .bind(identity_id)
    .fetch_optional(&mut **tx)
    .await?;
    sqlx::query("DELETE FROM rpps_links WHERE identity_id = $1")
        .bind(identity_id)
        .execute(&mut **tx)
        .await?;
    Ok(old)
}

pub async fn of_identity(
    pool: &AnyPool,
    identity_id: &str,
) -> Result<Option<LinkRecord>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{COLUMNS} WHERE identity_id = $1"
    )))
    .bind(identity_id)
    .fetch_optional(pool)
    .await
}

pub async fn by_idnat(pool: &AnyPool, idnat: &str) -> Result<Option<LinkRecord>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("{COLUMNS} WHERE idnat = $1")))
        .bind(idnat)
        .fetch_optional(pool)
        .await
}

pub async fn all(pool: &AnyPool) -> Result<Vec<LinkRecord>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("{COLUMNS} ORDER BY idnat")))
        .fetch_all(pool)
        .await
}
