//! The signing key ring.

use sqlx::{AnyPool, FromRow};

use super::Tx;

#[derive(Debug, Clone, FromRow)]
pub struct KeyRecord {
    pub kid: String,
    pub alg: String,
    pub state: String,
    pub public_jwk: String,
    pub private_enc: String,
    pub created_at: i64,
    pub activated_at: Option<i64>,
    pub retired_at: Option<i64>,
    pub publish_until: Option<i64>,
}

pub async fn list(pool: &AnyPool) -> Result<Vec<KeyRecord>, sqlx::Error> {
    sqlx::query_as(
        "SELECT kid, alg, state, public_jwk, private_enc, created_at, activated_at, retired_at, \
         publish_until FROM signing_keys ORDER BY created_at, kid",
    )
    .fetch_all(pool)
    .await
}

/// How many signing keys the database holds (each sealed with the master key).
pub async fn count(pool: &AnyPool) -> Result<i64, sqlx::Error> {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM signing_keys")
        .fetch_one(pool)
        .await?;
    Ok(n)
}

pub async fn insert(tx: &mut Tx, r: &KeyRecord) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO signing_keys (kid, alg, state, public_jwk, private_enc, created_at, \
         activated_at, retired_at, publish_until) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&r.kid)
    .bind(&r.alg)
    .bind(&r.state)
    .bind(&r.public_jwk)
    .bind(&r.private_enc)
    .bind(r.created_at)
    .bind(r.activated_at)
    .bind(r.retired_at)
    .bind(r.publish_until)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

/// Moves the current key of `alg` to retired and the next one to current.
pub async fn promote(
    tx: &mut Tx,
    alg: &str,
    now: i64,
    publish_until: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE signing_keys SET state = 'retired', retired_at = $1, publish_until = $2 \
         WHERE alg = $3 AND state = 'current'",
    )
    .bind(now)
    .bind(publish_until)
    .bind(alg)
    .execute(&mut **tx)
    .await?;
    sqlx::query("UPDATE signing_keys SET state = 'current', activated_at = $1 WHERE alg = $2 AND state = 'next'")
        .bind(now)
        .bind(alg)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Removes retired keys that no longer need publishing.
pub async fn purge(pool: &AnyPool, now: i64) -> Result<u64, sqlx::Error> {
    let done =
        sqlx::query("DELETE FROM signing_keys WHERE state = 'retired' AND publish_until < $1")
            .bind(now)
            .execute(pool)
            .await?;
    Ok(done.rows_affected())
}
