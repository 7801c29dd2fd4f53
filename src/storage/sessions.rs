//! SSO sessions, their authentication events and the clients they served.

use sqlx::{AnyPool, FromRow};

use super::Tx;

#[derive(Debug, Clone, FromRow)]
pub struct SessionRecord {
    pub id: String,
    pub token_hash: String,
    pub identity_id: String,
    pub created_at: i64,
    pub last_active_at: i64,
    pub expires_at: i64,
    pub auth_time: i64,
    pub ended_at: Option<i64>,
    pub end_reason: Option<String>,
}

#[derive(Debug, Clone, FromRow)]
pub struct EventRecord {
    pub id: String,
    pub session_id: String,
    pub identity_id: String,
    pub method: String,
    pub amr: String,
    pub user_verified: i64,
    pub phishing_resistant: i64,
    pub at: i64,
    pub source_ip: Option<String>,
    /// The credential used (a security key's id), when the method has several.
    pub credential_ref: Option<String>,
}

const SELECT: &str = "SELECT id, token_hash, identity_id, created_at, last_active_at, expires_at, \
    auth_time, ended_at, end_reason FROM sso_sessions";

pub async fn insert(tx: &mut Tx, r: &SessionRecord) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO sso_sessions (id, token_hash, identity_id, created_at, last_active_at, \
         expires_at, auth_time) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&r.id)
    .bind(&r.token_hash)
    .bind(&r.identity_id)
    .bind(r.created_at)
    .bind(r.last_active_at)
    .bind(r.expires_at)
    .bind(r.auth_time)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

pub async fn by_token_hash(
    pool: &AnyPool,
    hash: &str,
) -> Result<Option<SessionRecord>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE token_hash = $1"
    )))
    .bind(hash)
    .fetch_optional(pool)
    .await
}

pub async fn by_id(pool: &AnyPool, id: &str) -> Result<Option<SessionRecord>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT} WHERE id = $1")))
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// Open sessions of an identity (not ended; expiry is judged by the caller's clock).
pub async fn open_of_identity(
    pool: &AnyPool,
    identity_id: &str,
) -> Result<Vec<SessionRecord>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE identity_id = $1 AND ended_at IS NULL"
    )))
    .bind(identity_id)
    .fetch_all(pool)
    .await
}

/// The open sessions of an identity that signed in to Pro Santé Connect's broker.
pub async fn open_federated_of_identity(
    pool: &AnyPool,
    identity_id: &str,
) -> Result<Vec<String>, sqlx::Error> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT DISTINCT s.id FROM sso_sessions s \
         JOIN session_clients sc ON sc.session_id = s.id \
         JOIN clients c ON c.id = sc.client_id \
         WHERE s.identity_id = $1 AND s.ended_at IS NULL AND c.psc_broker = 1",
    )
    .bind(identity_id)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

pub async fn touch<'e, E>(pool: E, id: &str, now: i64) -> Result<(), sqlx::Error>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    sqlx::query("UPDATE sso_sessions SET last_active_at = $1 WHERE id = $2 AND last_active_at < $1")
        .bind(now)
        .bind(id)
        .execute(pool)
        .await
        .map(|_| ())
}

pub async fn add_event(tx: &mut Tx, e: &EventRecord) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO auth_events (id, session_id, identity_id, method, amr, user_verified, \
         phishing_resistant, at, source_ip, credential_ref) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&e.id)
    .bind(&e.session_id)
    .bind(&e.identity_id)
    .bind(&e.method)
    .bind(&e.amr)
    .bind(e.user_verified)
    .bind(e.phishing_resistant)
    .bind(e.at)
    .bind(&e.source_ip)
    .bind(&e.credential_ref)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

/// A new authentication event in an existing session: it is the session's latest
/// authentication and its latest activity.
pub async fn set_auth_time(tx: &mut Tx, session_id: &str, at: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE sso_sessions SET auth_time = $1, last_active_at = $1 WHERE id = $2")
        .bind(at)
        .bind(session_id)
        .execute(&mut **tx)
        .await
        .map(|_| ())
}

pub async fn events(pool: &AnyPool, session_id: &str) -> Result<Vec<EventRecord>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, session_id, identity_id, method, amr, user_verified, phishing_resistant, at, \
         source_ip, credential_ref FROM auth_events WHERE session_id = $1 ORDER BY at, id",
    )
    .bind(session_id)
    .fetch_all(pool)
    .await
}

/// Ends a session; true when this call ended it.
pub async fn end(tx: &mut Tx, id: &str, now: i64, reason: &str) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE sso_sessions SET ended_at = $1, end_reason = $2 WHERE id = $3 AND ended_at IS NULL",
    )
    .bind(now)
    .bind(reason)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn add_client<'e, E>(
    pool: E,
    session_id: &str,
    client_id: &str,
    now: i64,
) -> Result<(), sqlx::Error>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    sqlx::query(
        "INSERT INTO session_clients (session_id, client_id, first_at) VALUES ($1, $2, $3) \
         ON CONFLICT (session_id, client_id) DO NOTHING",
    )
    .bind(session_id)
    .bind(client_id)
    .bind(now)
    .execute(pool)
    .await
    .map(|_| ())
}

pub async fn clients(tx: &mut Tx, session_id: &str) -> Result<Vec<String>, sqlx::Error> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT client_id FROM session_clients WHERE session_id = $1 ORDER BY first_at",
    )
    .bind(session_id)
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

/// The clients a session reached, with when each was first reached.
pub async fn reached(pool: &AnyPool, session_id: &str) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT client_id, first_at FROM session_clients WHERE session_id = $1 ORDER BY first_at",
    )
    .bind(session_id)
    .fetch_all(pool)
    .await
}

/// Counts sessions that are open at `now`.
pub async fn count_open(pool: &AnyPool, now: i64) -> Result<i64, sqlx::Error> {
    let row: (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM sso_sessions WHERE ended_at IS NULL AND expires_at > $1",
    )
    .bind(now)
    .fetch_one(pool)
    .await?;
    Ok(row.0)
}
