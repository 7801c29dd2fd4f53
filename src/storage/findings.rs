//! Reconciliation findings, replaced by each run; `first_seen` survives across runs. Findings
//! that a run does not compute (a pairing that proved another IdNat than the link) stay until
//! an administrator acts on them.

use sqlx::{AnyPool, FromRow};

use super::Tx;

#[derive(Debug, Clone, FromRow, serde::Serialize)]
pub struct FindingRecord {
    pub id: String,
    pub category: String,
    pub identity_id: Option<String>,
    pub idnat: Option<String>,
    /// JSON text.
    pub detail: String,
    pub first_seen: i64,
    pub seen_at: i64,
}

const COLUMNS: &str =
    "SELECT id, category, identity_id, idnat, detail, first_seen, seen_at FROM reconcile_findings";

pub async fn all(pool: &AnyPool) -> Result<Vec<FindingRecord>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{COLUMNS} ORDER BY category, idnat, identity_id"
    )))
    .fetch_all(pool)
    .await
}

/// Category of the finding a pairing records when e-CPS proved another IdNat than the link.
pub const PAIRING_MISMATCH: &str = "pairing_mismatch";

/// Replaces every finding a run computes with `new` in one transaction (pairing findings stay).
pub async fn replace(tx: &mut Tx, new: &[FindingRecord]) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM reconcile_findings WHERE category <> $1")
        .bind(PAIRING_MISMATCH)
        .execute(&mut **tx)
        .await?;
    for f in new {
        insert(tx, f).await?;
    }
    Ok(())
}

/// Adds one finding.
pub async fn insert(tx: &mut Tx, f: &FindingRecord) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO reconcile_findings (id, category, identity_id, idnat, detail, \
         first_seen, seen_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&f.id)
    .bind(&f.category)
    .bind(&f.identity_id)
    .bind(&f.idnat)
    .bind(&f.detail)
    .bind(f.first_seen)
    .bind(f.seen_at)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}
