//! Revoked access tokens, by `jti` (RFC 7009): kept until the token would have expired.

use sqlx::AnyPool;

pub async fn revoke_jti(pool: &AnyPool, jti: &str, expires_at: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO revoked_tokens (jti, expires_at) VALUES ($1, $2) ON CONFLICT (jti) DO NOTHING",
    )
    .bind(jti)
    .bind(expires_at)
    .execute(pool)
    .await
    .map(|_| ())
}

pub async fn is_jti_revoked(pool: &AnyPool, jti: &str) -> Result<bool, sqlx::Error> {
    let row: Option<(String,)> = sqlx::query_as("SELECT jti FROM revoked_tokens WHERE jti = $1")
        .bind(jti)
        .fetch_optional(pool)
        .await?;
    Ok(row.is_some())
}
