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

/// Rows per multi-row insert of a batch, largest first: a batch of 200 events is three
/// statements of 64 and two of 4, from a handful of distinct (prepared, cached) statement texts.
/// 64 rows bind 704 parameters, well under the limits of SQLite (32,766) and PostgreSQL (65,535).
const CHUNKS: [usize; 4] = [64, 16, 4, 1];

/// `INSERT … VALUES (…), (…)` for `rows` rows, placeholders numbered as `bind_audit!` binds.
fn insert_rows(rows: usize) -> String {
    let mut sql = String::from(
        "INSERT INTO audit_events (id, at, kind, outcome, reason, actor, subject, client_id, \
         source_ip, request_id, details) VALUES ",
    );
    for row in 0..rows {
        if row > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for column in 0..11 {
            if column > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!("${}", row * 11 + column + 1));
        }
        sql.push(')');
    }
    sql
}

/// Writes a batch in one transaction (the batched writer of the hot path), many rows per
/// statement: each statement is a round trip to the database (for SQLite, to its worker thread).
pub async fn insert_batch(pool: &AnyPool, records: &[AuditRecord]) -> Result<(), sqlx::Error> {
    static SQL: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    let sql = SQL.get_or_init(|| CHUNKS.iter().map(|&n| insert_rows(n)).collect());
    let mut tx = pool.begin().await?;
    let mut rest = records;
    while !rest.is_empty() {
        let (i, n) = CHUNKS
            .iter()
            .copied()
            .enumerate()
            .find(|&(_, n)| n <= rest.len())
            .unwrap_or((CHUNKS.len() - 1, 1));
        let (chunk, tail) = rest.split_at(n);
        let mut q = sqlx::query(sql[i].as_str());
        for r in chunk {
            q = bind_audit!(q, r);
        }
        q.execute(&mut *tx).await?;
        rest = tail;
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

/// The last `limit` events about one person, newest first (read through the subject index).
pub async fn of_subject(
    pool: &AnyPool,
    subject: &str,
    limit: i64,
) -> Result<Vec<AuditRecord>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, at, kind, outcome, reason, actor, subject, client_id, source_ip, request_id, details \
         FROM audit_events WHERE subject = $1 ORDER BY at DESC, id DESC LIMIT $2",
    )
    .bind(subject)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Filters of an audit page: every field optional; `before` is the (at, id) of the last event
/// of the previous page (newest first).
#[derive(Debug, Default, Clone)]
pub struct AuditPage {
    pub kind: Option<String>,
    pub outcome: Option<String>,
    pub subject: Option<String>,
    pub client_id: Option<String>,
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub before: Option<(i64, String)>,
    pub limit: i64,
}

/// One page of events, newest first, by keyset (no OFFSET: every page costs the same).
pub async fn page(pool: &AnyPool, f: &AuditPage) -> Result<Vec<AuditRecord>, sqlx::Error> {
    let (before_at, before_id) = match &f.before {
        Some((at, id)) => (Some(*at), Some(id.clone())),
        None => (None, None),
    };
    sqlx::query_as(
        "SELECT id, at, kind, outcome, reason, actor, subject, client_id, source_ip, request_id, details \
         FROM audit_events WHERE ($1 IS NULL OR kind = $1) AND ($2 IS NULL OR outcome = $2) \
         AND ($3 IS NULL OR subject = $3) AND ($4 IS NULL OR client_id = $4) \
         AND at >= $5 AND at <= $6 \
         AND ($7 IS NULL OR at < $7 OR (at = $7 AND id < $8)) \
         ORDER BY at DESC, id DESC LIMIT $9",
    )
    .bind(&f.kind)
    .bind(&f.outcome)
    .bind(&f.subject)
    .bind(&f.client_id)
    .bind(f.since.unwrap_or(0))
    .bind(f.until.unwrap_or(i64::MAX))
    .bind(before_at)
    .bind(before_id.unwrap_or_default())
    .bind(f.limit)
    .fetch_all(pool)
    .await
}
