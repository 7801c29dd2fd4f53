//! Client assertion ids already used (RFC 7523 §3): a `jti` is accepted once.

use sqlx::AnyPool;

use super::is_unique_violation;

/// Records a client assertion id; false when it was seen before (replay).
pub async fn use_assertion(
    pool: &AnyPool,
    jti: &str,
    expires_at: i64,
) -> Result<bool, sqlx::Error> {
    match sqlx::query("INSERT INTO used_assertions (jti, expires_at) VALUES ($1, $2)")
        .bind(jti)
        .bind(expires_at)
        .execute(pool)
        .await
    {
        Ok(_) => Ok(true),
        Err(e) if is_unique_violation(&e) => Ok(false),
        Err(e) => Err(e),
    }
}
