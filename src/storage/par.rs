//! Pushed authorization requests (RFC 9126), stored by the hash of their `request_uri`.

use sqlx::AnyPool;

pub async fn insert_par(
    pool: &AnyPool,
    uri_hash: &str,
    client_id: &str,
    params: &str,
    expires_at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO par_requests (uri_hash, client_id, params, expires_at) VALUES ($1, $2, $3, $4)")
        .bind(uri_hash)
        .bind(client_id)
        .bind(params)
        .bind(expires_at)
        .execute(pool)
        .await
        .map(|_| ())
}

/// Takes a pushed request once: (client_id, params, expires_at).
pub async fn take_par(
    pool: &AnyPool,
    uri_hash: &str,
    now: i64,
) -> Result<Option<(String, String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "UPDATE par_requests SET used_at = $1 WHERE uri_hash = $2 AND used_at IS NULL \
         RETURNING client_id, params, expires_at",
    )
    .bind(now)
    .bind(uri_hash)
    .fetch_optional(pool)
    .await
}
