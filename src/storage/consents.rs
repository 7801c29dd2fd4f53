//! The scopes a person granted to a client (the consent page).

use sqlx::AnyPool;

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
