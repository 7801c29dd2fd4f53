//! The figures of the administration console's dashboard.

use sqlx::AnyPool;

/// Identities by status (`active`, `suspended`...), most numerous first.
pub async fn identities_by_status(pool: &AnyPool) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT status, COUNT(*) AS n FROM identities GROUP BY status ORDER BY n DESC, status",
    )
    .fetch_all(pool)
    .await
}

/// Logins since `since`, counted by method (`password`, `directory_password`, `security_key`,
/// `card`, `ecps`, or `other`), outcome (`success`, `failure`) and reason, in one pass over
/// the day's login events (index `audit_events_kind_at`). The method is read from the event's
/// details, the same way on both databases.
pub async fn logins_since(
    pool: &AnyPool,
    since: i64,
) -> Result<Vec<(String, String, Option<String>, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT CASE \
           WHEN details LIKE '%\"method\":\"password\"%' THEN 'password' \
           WHEN details LIKE '%\"method\":\"directory_password\"%' THEN 'directory_password' \
           WHEN details LIKE '%\"method\":\"security_key\"%' THEN 'security_key' \
           WHEN details LIKE '%\"method\":\"card\"%' THEN 'card' \
           WHEN details LIKE '%\"method\":\"ecps\"%' THEN 'ecps' \
           ELSE 'other' END AS method, outcome, reason, COUNT(*) AS n \
         FROM audit_events WHERE kind = 'login' AND at >= $1 \
         GROUP BY 1, outcome, reason",
    )
    .bind(since)
    .fetch_all(pool)
    .await
}

/// Accounts or addresses locked by the login throttle at `now`.
pub async fn locked(pool: &AnyPool, now: i64) -> Result<i64, sqlx::Error> {
    let (n,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM login_throttle WHERE locked_until > $1")
            .bind(now)
            .fetch_one(pool)
            .await?;
    Ok(n)
}

/// Security keys flagged as possibly cloned and not revoked.
pub async fn flagged_keys(pool: &AnyPool) -> Result<i64, sqlx::Error> {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM security_keys WHERE flagged_at IS NOT NULL AND revoked_at IS NULL",
    )
    .fetch_one(pool)
    .await?;
    Ok(n)
}

/// Pairings active, expired (active past their expiry) and revoked at `now`.
pub async fn pairings_by_status(pool: &AnyPool, now: i64) -> Result<(i64, i64, i64), sqlx::Error> {
    sqlx::query_as(
        "SELECT COUNT(CASE WHEN status = 'active' AND expires_at > $1 THEN 1 END), \
         COUNT(CASE WHEN status = 'active' AND expires_at <= $2 THEN 1 END), \
         COUNT(CASE WHEN status = 'revoked' THEN 1 END) FROM pairings",
    )
    .bind(now)
    .bind(now)
    .fetch_one(pool)
    .await
}
