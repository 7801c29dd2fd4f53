//! Authorization codes: single use, short-lived, stored hashed.

use sqlx::{AnyPool, FromRow};

#[derive(Debug, Clone, FromRow)]
pub struct CodeRecord {
    pub code_hash: String,
    pub client_id: String,
    pub identity_id: String,
    pub session_id: String,
    pub redirect_uri: String,
    pub scope: String,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    pub family_id: Option<String>,
}

pub async fn insert<'e, E>(pool: E, r: &CodeRecord) -> Result<(), sqlx::Error>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    sqlx::query(
        "INSERT INTO auth_codes (code_hash, client_id, identity_id, session_id, redirect_uri, scope, \
         nonce, code_challenge, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&r.code_hash)
    .bind(&r.client_id)
    .bind(&r.identity_id)
    .bind(&r.session_id)
    .bind(&r.redirect_uri)
    .bind(&r.scope)
    .bind(&r.nonce)
    .bind(&r.code_challenge)
    .bind(r.created_at)
    .bind(r.expires_at)
    .execute(pool)
    .await
    .map(|_| ())
}

/// Marks the code used and returns it; `None` when it was unknown or already used.
pub async fn consume(
    pool: &AnyPool,
    code_hash: &str,
    now: i64,
) -> Result<Option<CodeRecord>, sqlx::Error> {
    sqlx::query_as(
        "UPDATE auth_codes SET used_at = $1 WHERE code_hash = $2 AND used_at IS NULL \
         RETURNING code_hash, client_id, identity_id, session_id, redirect_uri, scope, nonce, \
         code_challenge, created_at, expires_at, used_at, family_id",
    )
    .bind(now)
    .bind(code_hash)
    .fetch_optional(pool)
    .await
}

/// What was issued from a code, kept so that a replay can revoke it.
#[derive(Debug, Clone, FromRow)]
pub struct Issued {
    pub client_id: String,
    pub family_id: Option<String>,
    pub access_jti: Option<String>,
    pub access_expires_at: Option<i64>,
}

/// Marks an already used code as replayed and returns what was issued from it so far (nothing
/// yet when the first exchange is still minting: it sees the mark in [`set_issued`]).
/// `None` when the code is unknown or unused.
pub async fn mark_replayed(
    pool: &AnyPool,
    code_hash: &str,
    now: i64,
) -> Result<Option<Issued>, sqlx::Error> {
    sqlx::query_as(
        "UPDATE auth_codes SET replayed_at = COALESCE(replayed_at, $1) \
         WHERE code_hash = $2 AND used_at IS NOT NULL \
         RETURNING client_id, family_id, access_jti, access_expires_at",
    )
    .bind(now)
    .bind(code_hash)
    .fetch_optional(pool)
    .await
}

/// Records the refresh family and access token issued from a code; true when the code was
/// replayed in the meantime, and what it issued must be withdrawn. One statement on the code's
/// row, like [`mark_replayed`]: whichever comes second sees what the first wrote.
pub async fn set_issued(
    pool: &AnyPool,
    code_hash: &str,
    family_id: Option<&str>,
    access_jti: &str,
    access_expires_at: i64,
) -> Result<bool, sqlx::Error> {
    let row: Option<(Option<i64>,)> = sqlx::query_as(
        "UPDATE auth_codes SET family_id = $1, access_jti = $2, access_expires_at = $3 \
         WHERE code_hash = $4 RETURNING replayed_at",
    )
    .bind(family_id)
    .bind(access_jti)
    .bind(access_expires_at)
    .bind(code_hash)
    .fetch_optional(pool)
    .await?;
    Ok(row.is_some_and(|(replayed,)| replayed.is_some()))
}
