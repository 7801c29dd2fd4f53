//! CPS card credentials (issuer + serial, first and last use, blocks), structure-card
//! bindings and expected IdNats.

use sqlx::{AnyPool, AssertSqlSafe, FromRow};

use super::Tx;

/// One card certificate seen or blocked.
#[derive(Debug, Clone, FromRow, serde::Serialize)]
pub struct CardRecord {
    pub id: String,
    pub issuer: String,
    pub serial: String,
    pub identity_id: Option<String>,
    pub idnat: Option<String>,
    pub holder: Option<String>,
    pub not_after: Option<i64>,
    pub first_seen_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub blocked_at: Option<i64>,
    pub blocked_by: Option<String>,
    pub block_reason: Option<String>,
}

const COLUMNS: &str = "id, issuer, serial, identity_id, idnat, holder, not_after, first_seen_at, \
     last_used_at, blocked_at, blocked_by, block_reason";

pub async fn find(
    pool: &AnyPool,
    issuer: &str,
    serial: &str,
) -> Result<Option<CardRecord>, sqlx::Error> {
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM card_credentials WHERE issuer = $1 AND serial = $2"
    )))
    .bind(issuer)
    .bind(serial)
    .fetch_optional(pool)
    .await
}

/// What a card login learnt about a card.
#[derive(Debug, Clone)]
pub struct Seen<'a> {
    pub issuer: &'a str,
    pub serial: &'a str,
    pub idnat: &'a str,
    pub holder: String,
    pub not_after: i64,
    /// The identity it reached (None: refused, e.g. not linked).
    pub identity_id: Option<&'a str>,
    pub now: i64,
}

/// Records a card seen: created at its first sight, then its last use and identity.
pub async fn record_seen(tx: &mut Tx, s: &Seen<'_>) -> Result<(), sqlx::Error> {
    let used = s.identity_id.map(|_| s.now);
    sqlx::query(
        "INSERT INTO card_credentials (id, issuer, serial, identity_id, idnat, holder, not_after, \
         first_seen_at, last_used_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         ON CONFLICT (issuer, serial) DO UPDATE SET \
         identity_id = COALESCE(excluded.identity_id, card_credentials.identity_id), \
         idnat = excluded.idnat, holder = excluded.holder, not_after = excluded.not_after, \
         first_seen_at = COALESCE(card_credentials.first_seen_at, excluded.first_seen_at), \
         last_used_at = COALESCE(excluded.last_used_at, card_credentials.last_used_at)",
    )
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(s.issuer)
    .bind(s.serial)
    .bind(s.identity_id)
    .bind(s.idnat)
    .bind(&s.holder)
    .bind(s.not_after)
    .bind(s.now)
    .bind(used)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

/// Blocks a card (creating its row when it was never seen); false when already blocked.
pub async fn block(
    tx: &mut Tx,
    issuer: &str,
    serial: &str,
    by: &str,
    reason: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    sqlx::query(
        "INSERT INTO card_credentials (id, issuer, serial) VALUES ($1, $2, $3) \
         ON CONFLICT (issuer, serial) DO NOTHING",
    )
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(issuer)
    .bind(serial)
    .execute(&mut **tx)
    .await?;
    let done = sqlx::query(
        "UPDATE card_credentials SET blocked_at = $1, blocked_by = $2, block_reason = $3 \
         WHERE issuer = $4 AND serial = $5 AND blocked_at IS NULL",
    )
    .bind(now)
    .bind(by)
    .bind(reason)
    .bind(issuer)
    .bind(serial)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Lifts a block; false when the card was not blocked.
pub async fn unblock(tx: &mut Tx, issuer: &str, serial: &str) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE card_credentials SET blocked_at = NULL, blocked_by = NULL, block_reason = NULL \
         WHERE issuer = $1 AND serial = $2 AND blocked_at IS NOT NULL",
    )
    .bind(issuer)
    .bind(serial)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn list(pool: &AnyPool, limit: i64) -> Result<Vec<CardRecord>, sqlx::Error> {
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM card_credentials ORDER BY last_used_at DESC, serial LIMIT $1"
    )))
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// The cards seen for one identity, the last used first (at most 50).
pub async fn of_identity(
    pool: &AnyPool,
    identity_id: &str,
) -> Result<Vec<CardRecord>, sqlx::Error> {
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM card_credentials WHERE identity_id = $1 \
         ORDER BY last_used_at DESC, serial LIMIT 50"
    )))
    .bind(identity_id)
    .fetch_all(pool)
    .await
}

/// The identity an administrator bound a structure card (its IdNat) to.
pub async fn binding(pool: &AnyPool, idnat: &str) -> Result<Option<String>, sqlx::Error> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT identity_id FROM card_bindings WHERE idnat = $1")
            .bind(idnat)
            .fetch_optional(pool)
            .await?;
    Ok(row.map(|r| r.0))
}

pub async fn bind(
    tx: &mut Tx,
    idnat: &str,
    identity_id: &str,
    by: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO card_bindings (idnat, identity_id, bound_at, bound_by) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (idnat) DO UPDATE SET \
         identity_id = excluded.identity_id, bound_at = excluded.bound_at, \
         bound_by = excluded.bound_by",
    )
    .bind(idnat)
    .bind(identity_id)
    .bind(now)
    .bind(by)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

/// The identity whose first card login may link this IdNat.
pub async fn expectation(pool: &AnyPool, idnat: &str) -> Result<Option<String>, sqlx::Error> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT identity_id FROM card_expectations WHERE idnat = $1")
            .bind(idnat)
            .fetch_optional(pool)
            .await?;
    Ok(row.map(|r| r.0))
}

pub async fn expect(
    tx: &mut Tx,
    idnat: &str,
    identity_id: &str,
    by: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM card_expectations WHERE identity_id = $1 OR idnat = $2")
        .bind(identity_id)
        .bind(idnat)
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "INSERT INTO card_expectations (idnat, identity_id, created_at, created_by) \
         VALUES ($1, $2, $3, $4)",
    )
    .bind(idnat)
    .bind(identity_id)
    .bind(now)
    .bind(by)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

pub async fn fulfil_expectation(tx: &mut Tx, idnat: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM card_expectations WHERE idnat = $1")
        .bind(idnat)
        .execute(&mut **tx)
        .await
        .map(|_| ())
}
