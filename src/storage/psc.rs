//! Pro Santé Connect client state: authorizations waiting for the browser's return, and the
//! nonces already accepted.

use sqlx::{AnyPool, FromRow};

use super::is_unique_violation;

#[derive(Debug, Clone, FromRow)]
pub struct PendingRecord {
    pub state_hash: String,
    pub purpose: String,
    pub nonce: String,
    /// Sealed with the master key.
    pub pkce_verifier: String,
    pub redirect_uri: String,
    pub binding_hash: String,
    pub flow_id: Option<String>,
    pub identity_id: Option<String>,
    pub source_ip: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
}

pub async fn insert_pending(pool: &AnyPool, r: &PendingRecord) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO psc_pending (state_hash, purpose, nonce, pkce_verifier, redirect_uri, \
         binding_hash, flow_id, identity_id, source_ip, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(&r.state_hash)
    .bind(&r.purpose)
    .bind(&r.nonce)
    .bind(&r.pkce_verifier)
    .bind(&r.redirect_uri)
    .bind(&r.binding_hash)
    .bind(&r.flow_id)
    .bind(&r.identity_id)
    .bind(&r.source_ip)
    .bind(r.created_at)
    .bind(r.expires_at)
    .execute(pool)
    .await
    .map(|_| ())
}

/// Takes (reads and deletes) the pending authorization of a state: a state is used once, by
/// whichever request deletes it. Expired records are not returned.
pub async fn take_pending(
    pool: &AnyPool,
    state_hash: &str,
    now: i64,
) -> Result<Option<PendingRecord>, sqlx::Error> {
    let found: Option<PendingRecord> = sqlx::query_as(
        "SELECT state_hash, purpose, nonce, pkce_verifier, redirect_uri, binding_hash, flow_id, \
         identity_id, source_ip, created_at, expires_at FROM psc_pending WHERE state_hash = $1",
    )
    .bind(state_hash)
    .fetch_optional(pool)
    .await?;
    let Some(found) = found else { return Ok(None) };
    let deleted = sqlx::query("DELETE FROM psc_pending WHERE state_hash = $1")
        .bind(state_hash)
        .execute(pool)
        .await?
        .rows_affected();
    Ok((deleted == 1 && found.expires_at > now).then_some(found))
}

pub async fn nonce_used(pool: &AnyPool, nonce_hash: &str) -> Result<bool, sqlx::Error> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT nonce_hash FROM psc_used_nonces WHERE nonce_hash = $1")
            .bind(nonce_hash)
            .fetch_optional(pool)
            .await?;
    Ok(row.is_some())
}

/// Records a nonce as accepted; false when it already was.
pub async fn use_nonce(
    pool: &AnyPool,
    nonce_hash: &str,
    now: i64,
    expires_at: i64,
) -> Result<bool, sqlx::Error> {
    match sqlx::query(
        "INSERT INTO psc_used_nonces (nonce_hash, used_at, expires_at) VALUES ($1, $2, $3)",
    )
    .bind(nonce_hash)
    .bind(now)
    .bind(expires_at)
    .execute(pool)
    .await
    {
        Ok(_) => Ok(true),
        Err(e) if is_unique_violation(&e) => Ok(false),
        Err(e) => Err(e),
    }
}
