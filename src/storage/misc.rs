//! Small single-purpose tables: revoked access tokens, used client assertions, consents and
//! pushed authorization requests.

use sqlx::AnyPool;

use super::is_unique_violation;

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

pub async fn consent(
    pool: &AnyPool,
    identity_id: &str,
    client_id: &str,
) -> Result<Option<String>, sqlx::Error> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT scopes FROM consents WHERE identity_id = $1 AND client_id = $2")
            .bind(identity_id)
            .bind(client_id)
            .fetch_optional(pool)
            .await?;
    Ok(row.map(|r| r.0))
}

pub async fn put_consent(
    pool: &AnyPool,
    identity_id: &str,
    client_id: &str,
    scopes: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO consents (identity_id, client_id, scopes, granted_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (identity_id, client_id) DO UPDATE SET scopes = $3, granted_at = $4",
    )
    .bind(identity_id)
    .bind(client_id)
    .bind(scopes)
    .bind(now)
    .execute(pool)
    .await
    .map(|_| ())
}

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

/// Deletes expired rows of the short-lived tables; returns how many went.
pub async fn purge_expired(pool: &AnyPool, now: i64) -> Result<u64, sqlx::Error> {
    let mut total = 0;
    for sql in [
        "DELETE FROM revoked_tokens WHERE expires_at < $1",
        "DELETE FROM used_assertions WHERE expires_at < $1",
        "DELETE FROM par_requests WHERE expires_at < $1",
        "DELETE FROM auth_flows WHERE expires_at < $1",
        // A flow nobody opened for 10 minutes (crate::oidc::flow::IDLE_SECS) is abandoned.
        "DELETE FROM auth_flows WHERE touched_at < $1 - 600",
        "DELETE FROM webauthn_ceremonies WHERE expires_at < $1",
        "DELETE FROM auth_codes WHERE expires_at < $1 - 86400",
    ] {
        total += sqlx::query(sql)
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected();
    }
    Ok(total)
}
