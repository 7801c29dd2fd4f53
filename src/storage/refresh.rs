//! Refresh tokens (hashed) grouped in families for rotation and reuse detection.

use sqlx::{AnyPool, FromRow};

use super::Tx;

#[derive(Debug, Clone, FromRow)]
pub struct FamilyRecord {
    pub id: String,
    pub client_id: String,
    pub identity_id: String,
    pub session_id: Option<String>,
    pub scope: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
    pub revoked_reason: Option<String>,
    /// JSON snapshot of sid, auth_time, acr and amr at issuance.
    pub session_claims: String,
}

/// What was found behind a presented refresh token.
#[derive(Debug, Clone)]
pub enum Presented {
    Unknown,
    /// Already used once: the family must be revoked.
    Reused(FamilyRecord),
    /// Fresh, and now marked used by this call.
    Fresh(FamilyRecord),
}

const FAMILY: &str = "SELECT id, client_id, identity_id, session_id, scope, created_at, expires_at, \
    revoked_at, revoked_reason, session_claims FROM refresh_families";

pub async fn insert_family(pool: &AnyPool, f: &FamilyRecord) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO refresh_families (id, client_id, identity_id, session_id, scope, created_at, \
         expires_at, session_claims) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&f.id)
    .bind(&f.client_id)
    .bind(&f.identity_id)
    .bind(&f.session_id)
    .bind(&f.scope)
    .bind(f.created_at)
    .bind(f.expires_at)
    .bind(&f.session_claims)
    .execute(pool)
    .await
    .map(|_| ())
}

pub async fn insert_token(
    pool: &AnyPool,
    hash: &str,
    family_id: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO refresh_tokens (token_hash, family_id, created_at) VALUES ($1, $2, $3)",
    )
    .bind(hash)
    .bind(family_id)
    .bind(now)
    .execute(pool)
    .await
    .map(|_| ())
}

pub async fn family(pool: &AnyPool, id: &str) -> Result<Option<FamilyRecord>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("{FAMILY} WHERE id = $1")))
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// Looks a token up without using it (introspection, revocation).
pub async fn peek(
    pool: &AnyPool,
    hash: &str,
) -> Result<Option<(FamilyRecord, Option<i64>)>, sqlx::Error> {
    let row: Option<(String, Option<i64>)> =
        sqlx::query_as("SELECT family_id, used_at FROM refresh_tokens WHERE token_hash = $1")
            .bind(hash)
            .fetch_optional(pool)
            .await?;
    let Some((family_id, used_at)) = row else {
        return Ok(None);
    };
    Ok(family(pool, &family_id).await?.map(|f| (f, used_at)))
}

/// Marks a presented token used, atomically, and says what it was.
pub async fn present(pool: &AnyPool, hash: &str, now: i64) -> Result<Presented, sqlx::Error> {
    let Some((family, _)) = peek(pool, hash).await? else {
        return Ok(Presented::Unknown);
    };
    let done = sqlx::query(
        "UPDATE refresh_tokens SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL",
    )
    .bind(now)
    .bind(hash)
    .execute(pool)
    .await?;
    Ok(if done.rows_affected() == 1 {
        Presented::Fresh(family)
    } else {
        Presented::Reused(family)
    })
}

pub async fn revoke_family(
    pool: &AnyPool,
    id: &str,
    reason: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE refresh_families SET revoked_at = $1, revoked_reason = $2 WHERE id = $3 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(reason)
    .bind(id)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Revokes the families bound to a session (not the offline ones).
pub async fn revoke_session_families(
    tx: &mut Tx,
    session_id: &str,
    reason: &str,
    now: i64,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE refresh_families SET revoked_at = $1, revoked_reason = $2 \
         WHERE session_id = $3 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(reason)
    .bind(session_id)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected())
}

/// Revokes every family of an identity (suspension, departure).
pub async fn revoke_identity_families(
    tx: &mut Tx,
    identity_id: &str,
    reason: &str,
    now: i64,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE refresh_families SET revoked_at = $1, revoked_reason = $2 \
         WHERE identity_id = $3 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(reason)
    .bind(identity_id)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected())
}
