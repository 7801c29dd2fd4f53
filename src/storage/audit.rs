//! The append-only audit table.

use sqlx::{AnyPool, FromRow};

use super::Tx;

#[derive(Debug, Clone, FromRow, serde::Serialize)]
pub struct AuditRecord {
    pub id: String,
    pub at: i64,
    pub kind: String,
    pub outcome: String,
    pub reason: Option<String>,
    pub actor: Option<String>,
    pub subject: Option<String>,
    pub client_id: Option<String>,
    pub source_ip: Option<String>,
    pub request_id: Option<String>,
    pub details: Option<String>,
}

const INSERT: &str = "INSERT INTO audit_events (id, at, kind, outcome, reason, actor, subject, \
    client_id, source_ip, request_id, details) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";

macro_rules! bind_audit {
    ($q:expr, $r:expr) => {
        $q.bind(&$r.id)
            .bind($r.at)
            .bind(&$r.kind)
            .bind(&$r.outcome)
            .bind(&$r.reason)
            .bind(&$r.actor)
            .bind(&$r.subject)
            .bind(&$r.client_id)
            .bind(&$r.source_ip)
            .bind(&$r.request_id)
            .bind(&$r.details)
    };
}

/// Writes one event inside the transaction of the change it records.
pub async fn insert(tx: &mut Tx, r: &AuditRecord) -> Result<(), sqlx::Error> {
    bind_audit!(sqlx::query(INSERT), r)
        .execute(&mut **tx)
        .await
        .map(|_| ())
}

/// Writes a batch in one transaction (the batched writer of the hot path).
pub async fn insert_batch(pool: &AnyPool, records: &[AuditRecord]) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    for r in records {
        bind_audit!(sqlx::query(INSERT), r)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await
}

/// Filters of `audit list`.
#[derive(Debug, Default, Clone)]
pub struct AuditFilter {
    pub kind: Option<String>,
    pub subject: Option<String>,
    pub client_id: Option<String>,
    pub since: Option<i64>,
    pub limit: i64,
}

pub async fn list(pool: &AnyPool, f: &AuditFilter) -> Result<Vec<AuditRecord>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, at, kind, outcome, reason, actor, subject, client_id, source_ip, request_id, details \
         FROM audit_events WHERE ($1 IS NULL OR kind = $1) AND ($2 IS NULL OR subject = $2) \
         AND ($3 IS NULL OR client_id = $3) AND at >= $4 ORDER BY at DESC, id DESC LIMIT $5",
    )
    .bind(&f.kind)
    .bind(&f.subject)
    .bind(&f.client_id)
    .bind(f.since.unwrap_or(0))
    .bind(f.limit)
    .fetch_all(pool)
    .await
}
