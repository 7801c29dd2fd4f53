//! Pending authorization requests waiting for the user (login, consent).

use sqlx::{AnyPool, FromRow};

#[derive(Debug, Clone, FromRow)]
pub struct FlowRecord {
    pub id: String,
    pub client_id: String,
    pub params: String,
    pub created_at: i64,
    pub expires_at: i64,
    /// A login (or step-up) succeeded within this flow.
    pub login_done: i64,
    /// The user consented within this flow.
    pub consent_done: i64,
}

pub async fn insert(pool: &AnyPool, r: &FlowRecord) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO auth_flows (id, client_id, params, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(&r.id)
        .bind(&r.client_id)
        .bind(&r.params)
        .bind(r.created_at)
        .bind(r.expires_at)
        .execute(pool)
        .await
        .map(|_| ())
}

pub async fn get(pool: &AnyPool, id: &str) -> Result<Option<FlowRecord>, sqlx::Error> {
    sqlx::query_as("SELECT id, client_id, params, created_at, expires_at, login_done, consent_done FROM auth_flows WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
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

/// Marks that the user logged in (`login`) or consented (`consent`) within the flow.
pub async fn mark(pool: &AnyPool, id: &str, what: FlowStep) -> Result<(), sqlx::Error> {
    let sql = match what {
        FlowStep::Login => "UPDATE auth_flows SET login_done = 1 WHERE id = $1",
        FlowStep::Consent => "UPDATE auth_flows SET consent_done = 1 WHERE id = $1",
    };
    sqlx::query(sql).bind(id).execute(pool).await.map(|_| ())
}

/// Marks the login of a flow done inside a transaction (the login's own).
pub async fn mark_login_in(tx: &mut super::Tx, id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE auth_flows SET login_done = 1 WHERE id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await
        .map(|_| ())
}

/// Steps a user completes inside a flow.
#[derive(Debug, Clone, Copy)]
pub enum FlowStep {
    Login,
    Consent,
}
