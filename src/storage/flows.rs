//! Pending authorization requests waiting for the user (login, consent), each bound to the
//! browser that started it.

use sqlx::{AnyPool, FromRow};

#[derive(Debug, Clone, FromRow)]
pub struct FlowRecord {
    pub id: String,
    pub client_id: String,
    pub params: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub touched_at: i64,
    /// SHA-256 of the browser binding cookie that created the flow.
    pub binding_hash: String,
    /// SHA-256 of the card-login host's binding cookie, once a card ticket was used there.
    pub card_binding_hash: Option<String>,
    /// The client address that opened the flow.
    pub source_ip: Option<String>,
    /// 1 when only a login made within this flow satisfies it (a flow restarted elsewhere).
    pub fresh_login: i64,
    /// The session that logged in (or stepped up) within this flow.
    pub login_session: Option<String>,
    /// The session that consented within this flow.
    pub consent_session: Option<String>,
}

pub async fn insert(pool: &AnyPool, r: &FlowRecord) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO auth_flows (id, client_id, params, created_at, expires_at, touched_at, \
         binding_hash, source_ip, fresh_login) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&r.id)
    .bind(&r.client_id)
    .bind(&r.params)
    .bind(r.created_at)
    .bind(r.expires_at)
    .bind(r.touched_at)
    .bind(&r.binding_hash)
    .bind(&r.source_ip)
    .bind(r.fresh_login)
    .execute(pool)
    .await
    .map(|_| ())
}

/// A flow that has not expired and was touched since `idle_since`.
pub async fn get_live(
    pool: &AnyPool,
    id: &str,
    now: i64,
    idle_since: i64,
) -> Result<Option<FlowRecord>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, client_id, params, created_at, expires_at, touched_at, binding_hash, \
         card_binding_hash, source_ip, fresh_login, login_session, consent_session \
         FROM auth_flows WHERE id = $1 AND expires_at > $2 AND touched_at > $3",
    )
    .bind(id)
    .bind(now)
    .bind(idle_since)
    .fetch_optional(pool)
    .await
}

/// Records that a page of the flow was opened.
pub async fn touch(pool: &AnyPool, id: &str, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE auth_flows SET touched_at = $2 WHERE id = $1")
        .bind(id)
        .bind(now)
        .execute(pool)
        .await
        .map(|_| ())
}

/// How many live flows an address holds.
pub async fn count_from(
    pool: &AnyPool,
    source_ip: &str,
    now: i64,
    idle_since: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM auth_flows WHERE source_ip = $1 AND touched_at > $3 \
         AND expires_at > $2",
    )
    .bind(source_ip)
    .bind(now)
    .bind(idle_since)
    .fetch_one(pool)
    .await
}

pub async fn delete<'e, E>(pool: E, id: &str) -> Result<(), sqlx::Error>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    sqlx::query("DELETE FROM auth_flows WHERE id = $1")
        .bind(id)
        .execute(pool)
        .await
        .map(|_| ())
}

/// Records the session that consented within the flow.
pub async fn mark_consent(pool: &AnyPool, id: &str, session_id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE auth_flows SET consent_session = $2 WHERE id = $1")
        .bind(id)
        .bind(session_id)
        .execute(pool)
        .await
        .map(|_| ())
}

/// Records the session that logged in within the flow, inside the login's transaction.
pub async fn mark_login_in(
    tx: &mut super::Tx,
    id: &str,
    session_id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE auth_flows SET login_session = $2 WHERE id = $1")
        .bind(id)
        .bind(session_id)
        .execute(&mut **tx)
        .await
        .map(|_| ())
}

/// Arms the flow's one card ticket (a new one replaces the previous).
pub async fn set_card_nonce(pool: &AnyPool, id: &str, nonce_hash: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE auth_flows SET card_nonce_hash = $2 WHERE id = $1")
        .bind(id)
        .bind(nonce_hash)
        .execute(pool)
        .await
        .map(|_| ())
}

/// Uses the card ticket once: binds the card host's browser cookie to the flow. False when
/// the ticket was already used or replaced (one statement: two requests cannot both win).
pub async fn take_card_nonce(
    pool: &AnyPool,
    id: &str,
    nonce_hash: &str,
    binding_hash: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE auth_flows SET card_nonce_hash = NULL, card_binding_hash = $3 \
         WHERE id = $1 AND card_nonce_hash = $2",
    )
    .bind(id)
    .bind(nonce_hash)
    .bind(binding_hash)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}
